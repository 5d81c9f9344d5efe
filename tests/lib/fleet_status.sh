# fleet_status.sh: what the fleet's commit status tests (e2e/fleet-status*.sh) share.
# Agents on one private PostgreSQL post the statuses of builds that error at once
# (their repository does not exist: no engine is needed) to the recording forge
# double (forge_double.py). Source it (it sources agent.sh, pg.sh, forge_double.sh
# and fleet.sh); then:
#   fs_start KIND        PostgreSQL, the double, and repository web posting to it as
#                        KIND (github, gitlab or gitea; status_api where each forge has
#                        its API) for acme/web, every branch built
#   fs_agent NAME        agent NAME on that store (a: agent.sh's own); sets pid_of[NAME]
#                        and url_of[NAME]
#   fs_push N NAME       a delivery for commit N (fs_sha N) on branch cN to agent NAME,
#                        answered 202; sets FS_BUILD
#   fs_accepted N        the transitions the forge answered 201 for, commit N, in
#                        order ("Build ID queued" lines)
#   fs_expect_once N ID  build ID's queued, running and errored statuses each
#                        accepted exactly once, in that order
#   fs_outbox_empty      no status waits in the store
#   fs_holder            the agent whose `__status` child runs: sets HOLDER, POSTER
#   fs_lists N           the lists of commit N's statuses the forge was asked for: a
#                        JSON array a line, [path, answer code, the token sent as KIND
#                        documents it]
#   fs_list_path N       the path KIND documents for that list
set -u
source "$TESTS_DIR/lib/agent.sh"
source "$TESTS_DIR/lib/pg.sh"
source "$TESTS_DIR/lib/forge_double.sh"
source "$TESTS_DIR/lib/fleet.sh"
declare -A pid_of url_of

fs_start() {	# kind
	local api
	FS_KIND=$1
	agent_init
	fleet_pg_start || fail "PostgreSQL did not start"
	forge_double_status
	case $FS_KIND in
	github) api=$FORGE_DOUBLE_URL ;;
	gitlab) api=$FORGE_DOUBLE_URL/api/v4 ;;
	gitea) api=$FORGE_DOUBLE_URL/api/v1 ;;
	*) fail "fs_start: no forge '$FS_KIND'" ;;
	esac
	FS_SECRET="fleet-status-secret-$$-0123456789"
	agent_repo web "$FS_SECRET" "status=$FS_KIND" "status_api=$api" \
		"status_token_file=$STATUS_TOKEN_FILE" status_repo=acme/web "branches=*"
	AGENT_EXTRA="database = $PG_URL
database_password_file = $PG_PASSWORD_FILE"
}

fs_agent() {	# name
	if [ "$1" = a ]; then
		start_agent || fail "agent a did not start"
		pid_of[a]=$AGENT_PID url_of[a]=$AGENT_URL
		FS_A_URL=$AGENT_URL
	else
		fleet_serve "$1" || fail "agent $1 did not start"
		pid_of[$1]=$FLEET_PID url_of[$1]=http://127.0.0.1:$FLEET_PORT
	fi
}

fs_sha() { printf '%040x' "$1"; }

fs_push() {	# n name
	jq --arg after "$(fs_sha "$1")" --arg ref "refs/heads/c$1" \
		'.after = $after | .head_commit.id = $after | .ref = $ref' \
		"$FIXTURES/github-push.json" >"$AGENT_DIR/body.json"
	AGENT_URL=${url_of[$2]}
	post_hook github web "$AGENT_DIR/body.json" "$FS_SECRET" "fleet-status-$$-$1"
	AGENT_URL=$FS_A_URL
	expect 202
	FS_BUILD=$(jq -r .build <<<"$HTTP_BODY")
}

fs_accepted() {	# n
	jq -r --arg sha "$(fs_sha "$1")" \
		'select(.method == "POST" and .sha == $sha and .answer.code == 201) | .body.description' \
		"$FORGE_DOUBLE_LOG" | sed 's/: .*//'
}

fs_expect_once() {	# n id
	local got
	got=$(fs_accepted "$1")
	[ "$got" = "Build $2 queued
Build $2 running
Build $2 errored" ] || fail "commit $1 (build $2): the forge accepted: $(tr '\n' '|' <<<"$got")"
}

fs_outbox_empty() { [ "$(pg_sql "SELECT count(*) FROM statuses")" = 0 ]; }

fs_holder() {
	local name kid
	for name in "${!pid_of[@]}"; do
		[ -n "${pid_of[$name]}" ] || continue
		for kid in $(pgrep -P "${pid_of[$name]}"); do
			if tr '\0' ' ' <"/proc/$kid/cmdline" 2>/dev/null | grep -q "__status"; then
				HOLDER=$name POSTER=$kid
				return 0
			fi
		done
	done
	return 1
}

# GitHub: "List commit statuses for a reference"; GitLab: "List the statuses of a
# commit" (all=true: every status, not only the latest per name); Gitea/Forgejo:
# repoListStatusesByRef
fs_list_path() {	# n
	case $FS_KIND in
	github) echo "/repos/acme/web/commits/$(fs_sha "$1")/statuses?per_page=100" ;;
	gitlab) echo "/api/v4/projects/acme%2Fweb/repository/commits/$(fs_sha "$1")/statuses?all=true&per_page=100" ;;
	gitea) echo "/api/v1/repos/acme/web/commits/$(fs_sha "$1")/statuses?limit=50" ;;
	esac
}

fs_lists() {	# n
	local auth
	case $FS_KIND in
	github) auth='.headers.authorization == "Bearer " + $tok' ;;
	gitlab) auth='.headers["private-token"] == $tok' ;;
	gitea) auth='.headers.authorization == "token " + $tok' ;;
	esac
	jq -c --arg sha "$(fs_sha "$1")" --arg tok "$STATUS_TOKEN" \
		"select(.method == \"GET\" and .sha == \$sha) | [.path, .answer.code, ($auth)]" \
		"$FORGE_DOUBLE_LOG"
}
