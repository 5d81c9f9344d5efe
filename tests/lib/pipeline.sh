# pipeline.sh: helpers of the pipeline end-to-end tests (tests/e2e/pipeline-*.sh): the
# real daemon (agent.sh) building with the real engine (engine.sh) from real bare
# repositories fed by `git push`, builder images made FROM the test base image, and the
# commit status API double (forge_double.sh). Source it after setting TEST.
#
#   pl_builder                     the test's builder image ($PL_BUILDER); its assemble copies
#                                  the source, prints "assemble: ...", sleeps $(cat SLEEP) if
#                                  the source has SLEEP, exits 3 if it has FAIL
#   pl_repo NAME [KEY=VALUE...]    bare repo $AGENT_DIR/NAME.git + work tree, and its
#                                  [repo] section (url = the bare repo path unless given)
#   pl_commit NAME MSG [FILE TEXT] commit in the work tree; prints the sha
#   pl_push NAME [REF]             git push to the bare repository
#   pl_hook NAME HOOK              hooks/HOOK (post-receive, pre-receive) installed in the
#                                  bare repository, set to notify this test's agent
#   pl_github_push NAME SHA [REF] [DELIVERY]   a signed GitHub push webhook (real payload)
#   pl_push_each NAME...           per repository, in turn: a commit of app.sh, git push and
#                                  its webhook, answered 202 with the next build id (from 1);
#                                  sets sha_NAME and id_NAME
#   pl_crash_restart ID            kill -9 while build ID runs (it must be recorded running),
#                                  then the agent again on the same port
#   pl_wait ID [SECONDS]           until build ID is final; prints its state
#   pl_wait_state ID STATE [S]     until build ID is in STATE
#   pl_statuses                    "state|description" of every recorded status post
set -u
source "$TESTS_DIR/lib/agent.sh"
source "$TESTS_DIR/lib/engine.sh"
source "$TESTS_DIR/lib/forge_double.sh"

PL_ID="${TEST:-pipeline}-$$"
PL_BUILDER="s2i-agent-test/${PL_ID}-builder:latest"
PL_TOKEN="ghp_pipeline_token_$$"
export GIT_AUTHOR_NAME="Test Author" GIT_AUTHOR_EMAIL=author@example.com
export GIT_COMMITTER_NAME="Test Author" GIT_COMMITTER_EMAIL=author@example.com
export GIT_CONFIG_NOSYSTEM=1

pl_cleanup() {
	local i ids
	for i in $(docker images --format '{{.Repository}}:{{.Tag}}' "s2i-agent-test/${PL_ID}-*" 2>/dev/null); do
		docker rmi -f "$i" >/dev/null 2>&1
	done
	# images of this test's builds that lost their tag (a build the agent could not
	# remove the replaced image of) carry the tag they had as io.k8s.display-name
	ids=$(docker images -aq --no-trunc --filter dangling=true 2>/dev/null)
	[ -n "$ids" ] && docker image inspect --format '{{.Id}} {{index .Config.Labels "io.k8s.display-name"}}' \
		$ids 2>/dev/null | while read -r i name; do
		case $name in "s2i-agent-test/${PL_ID}-"*) docker rmi -f "$i" >/dev/null 2>&1 ;; esac
	done
	agent_cleanup	# last: it exits 1 when a secret leaked
}

agent_init
trap pl_cleanup EXIT
export HOME=$AGENT_DIR

engine_ensure >/dev/null || skip "no container engine"
AGENT_ENGINE=unix://$ENGINE_SOCK
mkdir -p "$AGENT_DIR/probe"
"$S2I_AGENT" build -p never "$AGENT_DIR/probe" "$TEST_BASE_IMAGE" 2>&1 | grep -q "not implemented" &&
	skip "the engine or git module is not implemented yet"
STATUS_TOKEN=$PL_TOKEN
forge_double_status
PL_ADMIN="pipeline-admin-token-$RANDOM$RANDOM-$$"
printf '%s\n' "$PL_ADMIN" >"$AGENT_DIR/admin.token"
chmod 600 "$AGENT_DIR/admin.token"

pl_builder() {
	local ctx=$AGENT_DIR/builder-ctx
	mkdir -p "$ctx/s2i"
	cat >"$ctx/s2i/assemble" <<'EOF'
#!/bin/sh
echo "assemble: uid $(id -u) in $(pwd)"
cp -a /tmp/src/. ./
echo "assemble: app says $(sh ./app.sh)"
echo "assemble: to stderr" >&2
if [ -f ./SLEEP ]; then
	echo "assemble: sleeping $(cat ./SLEEP)s"
	sleep "$(cat ./SLEEP)"
fi
if [ -f ./FAIL ]; then
	echo "assemble: failing as asked"
	exit 3
fi
echo "assemble: done"
EOF
	engine_app_builder "$ctx" "$PL_BUILDER" "$PL_ID"
}

pl_repo() {	# name [key=value...]
	local name=$1 kv
	shift
	git init -q --bare "$AGENT_DIR/$name.git"
	git init -q -b main "$AGENT_DIR/$name.work"
	printf 'echo "hello from %s"\n' "$name" >"$AGENT_DIR/$name.work/app.sh"
	git -C "$AGENT_DIR/$name.work" add -A
	git -C "$AGENT_DIR/$name.work" commit -q -m "first commit"
	printf '%s\n' "pipeline-secret-$name-$$" >"$AGENT_DIR/$name.secret"
	chmod 600 "$AGENT_DIR/$name.secret"
	{
		printf '\n[repo "%s"]\n' "$name"
		printf 'secret_file = %s\n' "$AGENT_DIR/$name.secret"
		# defaults, unless given
		for kv in "url=$AGENT_DIR/$name.git" "builder=$PL_BUILDER" \
			"tag=s2i-agent-test/$PL_ID-{repo}:{branch}" pull_policy=never network=none \
			"${FORGE_STATUS_CONF[@]}"; do
			case " $* " in *" ${kv%%=*}="*) continue ;; esac
			printf '%s = %s\n' "${kv%%=*}" "${kv#*=}"
		done
		for kv in "$@"; do
			printf '%s = %s\n' "${kv%%=*}" "${kv#*=}"
		done
	} >>"$AGENT_DIR/repos.conf"
}

pl_commit() {	# name message [file text]
	local w=$AGENT_DIR/$1.work
	if [ $# -ge 4 ]; then printf '%s\n' "$4" >"$w/$3"; else printf '%s\n' "$2" >"$w/CHANGES"; fi
	git -C "$w" add -A
	git -C "$w" commit -q -m "$2"
	git -C "$w" rev-parse HEAD
}

pl_rm() {	# name file: removed in the next commit
	git -C "$AGENT_DIR/$1.work" rm -q "$2"
}

pl_push() {	# name [ref]
	git -C "$AGENT_DIR/$1.work" push -q "$AGENT_DIR/$1.git" "HEAD:${2:-refs/heads/main}" 2>&1
}

pl_hook() {	# name hook
	local g=$AGENT_DIR/$1.git
	cp "$TESTS_DIR/../hooks/$2" "$g/hooks/$2"
	git --git-dir="$g" config s2i.url "$AGENT_URL"
	git --git-dir="$g" config s2i.secretFile "$AGENT_DIR/$1.secret"
	git --git-dir="$g" config s2i.agent "$S2I_AGENT"
}

pl_github_push() {	# name sha [ref] [delivery]
	local name=$1 sha=$2 ref=${3:-refs/heads/main} body=$AGENT_DIR/push-$RANDOM.json
	# pushed_at, as GitHub sets it, makes each push's signed body its own (the agent
	# answers a body it has seen as a replay)
	jq --arg ref "$ref" --arg after "$sha" --arg msg "$(git -C "$AGENT_DIR/$name.work" log -1 --format=%s "$sha")" \
		--arg t "$(date +%s%N)" \
		'.ref = $ref | .after = $after | .head_commit.id = $after | .head_commit.message = $msg |
		 .repository.pushed_at = ($t | tonumber)' \
		"$FIXTURES/github-push.json" >"$body"
	post_hook github "$name" "$body" "pipeline-secret-$name-$$" "${4:-delivery-$RANDOM$RANDOM}"
}

pl_push_each() {	# name...
	local r sha n=0
	for r; do
		sha=$(pl_commit "$r" "change of $r" app.sh "echo \"hello over $r\"")
		pl_push "$r" >/dev/null || fail "git push $r"
		pl_github_push "$r" "$sha"
		n=$((n + 1))
		expect 202 .build $n
		eval "sha_$r=$sha id_$r=$n"
	done
}

pl_crash_restart() {	# id
	kill9_agent
	[ "$(sqlite3 -readonly "$AGENT_DIR/state/agent.db" "SELECT state FROM builds WHERE id = $1")" = running ] ||
		fail "build $1 should be recorded running after kill -9"
	KEEP_PORT=1 start_agent || fail "agent did not restart"
}

pl_build_json() {	# id
	curl -sf --max-time 10 "$AGENT_URL/builds/$1"
}

pl_state() {	# id: the build's state now (empty when the API does not answer)
	pl_build_json "$1" | jq -r .state
}

pl_wait() {	# id [seconds]: until final; prints the state
	local rc=0 state
	wait_for "${2:-120}" _pl_final "$1" || rc=1
	state=$(pl_state "$1")
	echo "${state:-unknown}"
	return $rc
}
_pl_final() { case $(pl_state "$1") in succeeded | failed | errored | canceled) return 0 ;; esac; return 1; }

pl_wait_state() {	# id state [seconds]
	wait_for "${3:-60}" _pl_is "$1" "$2"
}
_pl_is() { [ "$(pl_state "$1")" = "$2" ]; }

# pl_expect ID STATE [SECONDS]: waits until build ID is final (default 120 s); fails
# unless it ended in STATE.
pl_expect() {
	local state
	state=$(pl_wait "$1" "${3:-120}")
	[ "$state" = "$2" ] || fail "build $1 is $state, not $2: $(pl_build_json "$1")"
}

pl_expect_field() {	# id jq-filter value: the build's field has that value now
	local got
	got=$(pl_build_json "$1" | jq -r "$2")
	[ "$got" = "$3" ] || fail "build $1: $2 is '$got', not '$3': $(pl_build_json "$1")"
}

# Waits until the double recorded n status posts (the poster runs in the background).
pl_wait_statuses() {	# n [seconds]
	wait_for "${2:-60}" _pl_statuses_in "$1"
}
_pl_statuses_in() { [ -s "$FORGE_DOUBLE_LOG" ] && [ "$(forge_double_count)" -ge "$1" ]; }

# A /metrics value of the agent (NAME with its labels, as printed), "" when absent;
# pl_metric_set NAME: it is printed.
pl_metric() { curl -sf --max-time 10 "$AGENT_URL/metrics" | sed -n "s/^$1 //p"; }
pl_metric_set() { [ -n "$(pl_metric "$1")" ]; }

pl_statuses() {	# [sha]: "state|description" per recorded post, in order
	jq -r "select(${1:+.sha == \"$1\" and }true) | \"\(.body.state)|\(.body.description)\"" "$FORGE_DOUBLE_LOG"
}

# No container of build ID is left (other tests' agents have builds with the same
# ids: only containers of this test's builder count). The build's process removes them
# after it told its outcome: they may take a few seconds more to go.
pl_no_containers() {	# id
	wait_for 30 _pl_containers_gone "$1" ||
		fail "containers of build $1 left over: $(docker ps -aq --filter "label=io.s2i-agent.build=$1" --filter "ancestor=$PL_BUILDER")"
}
_pl_containers_gone() {
	[ -z "$(docker ps -aq --filter "label=io.s2i-agent.build=$1" --filter "ancestor=$PL_BUILDER")" ]
}
