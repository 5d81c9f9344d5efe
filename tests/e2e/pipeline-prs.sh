#!/usr/bin/env bash
# Pipeline, pull and merge requests: the forges' real pull_request / Merge Request
# Hook payloads (tests/fixtures/webhooks, their ids and head commits made this test's)
# go through the daemon; the head commit exists only under the base repository's
# refs/pull/N/head or refs/merge-requests/N/head, as on the forges; each build ends
# with its commit statuses on the head commit, in each forge's API, and its image
# under pr_tag. A close or merge cancels the request's running build. pull_requests
# = no and same-repo ignore what they should; a fork's build under `all` gets no
# injection, no network and no push.
TEST=pl-prs
source "$TESTS_DIR/lib/pipeline.sh"

pl_builder
img="s2i-agent-test/$PL_ID-{repo}"
inj=$AGENT_DIR/inject
mkdir -p "$inj" && echo "injected-file" >"$inj/marker"
# what the request's own code reports: the injected file, and whether there is a
# network interface besides lo
probe='if [ -e /opt/inj/marker ]; then i=yes; else i=no; fi; n=$(grep -c -v -e "lo:" -e "|" /proc/net/dev); if [ -r /run/secrets/tok ]; then s=yes; else s=no; fi; echo "inject=$i ifaces=$n secret=$s env=${PR_ENV:-no} fenv=${FILE_ENV:+yes}"'
# build secrets and environment (the file's value is scanned for by secrets_scan)
printf 'build-secret-%s\n' "$RANDOM$RANDOM$$" >"$AGENT_DIR/tok.secret"
printf 'file-env-%s\n' "$RANDOM$RANDOM$$" >"$AGENT_DIR/fenv.secret"
printf 'FILE_ENV=%s\n' "$(cat "$AGENT_DIR/fenv.secret")" >"$AGENT_DIR/benv"
chmod 600 "$AGENT_DIR/tok.secret" "$AGENT_DIR/fenv.secret" "$AGENT_DIR/benv"
SECRETS_SKIP="forge-double.jsonl benv"	# it holds the value by design
pl_repo gh pull_requests=all "pr_tag=$img:pr-{pr}" "inject=$inj:/opt/inj" network=host \
	status_repo=acme/web build_env=PR_ENV=yes "build_env_file=$AGENT_DIR/benv" \
	"build_secret_file=tok:$AGENT_DIR/tok.secret"
pl_repo gl pull_requests=same-repo "pr_tag=$img:mr-{pr}" status=gitlab \
	"status_api=$FORGE_DOUBLE_URL/api/v4"
pl_repo gt pull_requests=all status=gitea "status_api=$FORGE_DOUBLE_URL/api/v1"
# push = yes to a registry that is not there: a build that pushes errors
pl_repo gp pull_requests=all push=yes "pr_tag=127.0.0.1:9/s2i-agent-test/$PL_ID-gp:pr-{pr}" \
	"inject=$inj:/opt/inj" network=host status=none
pl_repo off status=none	# pull_requests unset: no
# images named outside pl_cleanup's s2i-agent-test/$PL_ID-*: the default pr_tag's, and
# the two of repo gp (registry 127.0.0.1:9)
_prs_images() { docker rmi -f gt:pr-1 "127.0.0.1:9/s2i-agent-test/$PL_ID-gp:pr-3" "127.0.0.1:9/s2i-agent-test/$PL_ID-gp:pr-4" >/dev/null 2>&1; }
agent_on_exit _prs_images
start_agent || fail "agent did not start"

# pr_head NAME REF MSG [FILE TEXT]: a commit on a side branch of NAME's work tree,
# pushed only to REF of the bare repository (where the forge keeps the request's
# head); prints its sha
pr_head() {
	local name=$1 ref=$2 w=$AGENT_DIR/$1.work sha
	shift 2
	git -C "$w" checkout -q -B "side-$RANDOM" main
	sha=$(pl_commit "$name" "$@")
	git -C "$w" push -q -f "$AGENT_DIR/$name.git" "HEAD:$ref" 2>&1 >/dev/null || fail "push $ref"
	git -C "$w" checkout -q main
	printf '%s\n' "$sha"
}

# hook PROVIDER NAME FIXTURE JQ-FILTER [DELIVERY]: the fixture, edited by the filter,
# posted signed as the forge does
hook() {
	local body=$AGENT_DIR/hook-$RANDOM$RANDOM.json
	jq "$4" "$FIXTURES/$3" >"$body" || fail "jq $3"
	post_hook "$1" "$2" "$body" "pipeline-secret-$2-$$" "${5:-delivery-$RANDOM$RANDOM}"
}

# statuses on a sha in the double's log: "provider state|description", in order
statuses_of() {
	jq -r --arg s "$1" 'select(.sha == $s) | "\(.provider) \(.body.state)|\(.body.description)"' \
		"$FORGE_DOUBLE_LOG" | sed 's/ in [0-9]*s$//'
}
want_statuses() {	# sha n expected-lines
	wait_for 60 _statuses_n "$1" "$2" || fail "statuses of $1: $(statuses_of "$1")"
	sleep 0.5
	[ "$(statuses_of "$1" | tr '\n' ',')" = "$3" ] || fail "statuses of $1: $(statuses_of "$1" | tr '\n' ',') want $3"
}
_statuses_n() { [ -s "$FORGE_DOUBLE_LOG" ] && [ "$(statuses_of "$1" | wc -l)" -ge "$2" ]; }

n=0
next() { n=$((n + 1)); expect 202 .build $n; }

## GitHub: opened builds the head of refs/pull/2/head into pr_tag, status on the head
sha=$(pr_head gh refs/pull/2/head "gh request" app.sh "$probe")
EVENT=pull_request hook github gh github-pull-request-opened.json \
	".pull_request.head.sha = \"$sha\" | .pull_request.head.repo.full_name = \"acme/web\" |
	 .pull_request.base.repo.full_name = \"acme/web\""
next; gh1=$n
pl_expect $gh1 succeeded
pl_expect_field $gh1 .ref refs/pull/2/head
pl_expect_field $gh1 .sha "$sha"
pl_expect_field $gh1 .pr 2
pl_expect_field $gh1 .untrusted null
pl_expect_field $gh1 .image "s2i-agent-test/$PL_ID-gh:pr-2"
docker image inspect "s2i-agent-test/$PL_ID-gh:pr-2" >/dev/null 2>&1 || fail "no image gh:pr-2"
log=$(curl -sf "$AGENT_URL/builds/$gh1/log")
grep -q "app says inject=yes ifaces=[1-9][0-9]* secret=yes env=yes fenv=yes" <<<"$log" ||
	fail "a same-repo request lost its injection, network or build secrets: $log"
want_statuses "$sha" 3 "github pending|Build $gh1 queued,github pending|Build $gh1 running,github success|Build $gh1 succeeded,"
[ "$(jq -r --arg s "$sha" 'select(.sha == $s) | .repo' "$FORGE_DOUBLE_LOG" | sort -u)" = acme/web ] ||
	fail "statuses not on acme/web"

## synchronize: new commits build again; closed cancels the running build
sha2=$(pr_head gh refs/pull/2/head "gh request, more" SLEEP 60)
EVENT=pull_request hook github gh github-pull-request-synchronize.json \
	".pull_request.head.sha = \"$sha2\" | .pull_request.head.repo.full_name = \"acme/web\" |
	 .pull_request.base.repo.full_name = \"acme/web\""
next; gh2=$n
pl_wait_state $gh2 running 60 || fail "build $gh2 did not start"
wait_for 60 grep -q "sleeping 60" "$AGENT_DIR/state/logs/$gh2.log" || fail "build $gh2 did not reach assemble"
EVENT=pull_request hook github gh github-pull-request-closed.json ".pull_request.head.sha = \"$sha2\""
expect 200 .ignored "request 2 closed"
pl_expect $gh2 canceled 60
pl_expect_field $gh2 .reason "request 2 closed"
pl_no_containers $gh2
want_statuses "$sha2" 3 "github pending|Build $gh2 queued,github pending|Build $gh2 running,github error|Build $gh2 canceled: request 2 closed,"

## a fork's request under all: built, untrusted: no injection, no network
sha3=$(pr_head gh refs/pull/7/head "fork request" app.sh "$probe")
EVENT=pull_request hook github gh github-pull-request-opened.json \
	".number = 7 | .pull_request.number = 7 | .pull_request.head.sha = \"$sha3\" |
	 .pull_request.head.repo.full_name = \"forker/web\" | .pull_request.base.repo.full_name = \"acme/web\""
next; gh3=$n
pl_expect $gh3 succeeded
pl_expect_field $gh3 .untrusted true
log=$(curl -sf "$AGENT_URL/builds/$gh3/log")
grep -q "a request from a fork" <<<"$log" || fail "no fork line: $log"
grep -q "app says inject=no ifaces=0 secret=no env=no fenv=$" <<<"$log" ||
	fail "the fork's build had an injection, a network or build secrets: $log"

## a close cancels a queued build too, and only its own request's
gh_open() {	# number sha
	EVENT=pull_request hook github gh github-pull-request-opened.json \
		".number = $1 | .pull_request.number = $1 | .pull_request.head.sha = \"$2\" |
		 .pull_request.head.repo.full_name = \"acme/web\" | .pull_request.base.repo.full_name = \"acme/web\""
}
sha4=$(pr_head gh refs/pull/8/head "slow request" SLEEP 60)
gh_open 8 "$sha4"
next; gh4=$n
pl_wait_state $gh4 running 60 || fail "build $gh4 did not start"
sha5=$(pr_head gh refs/pull/9/head "queued request")
gh_open 9 "$sha5"
next; gh5=$n
sleep 1
[ "$(pl_state $gh5)" = queued ] || fail "build $gh5 should wait for $gh4: $(pl_state $gh5)"
EVENT=pull_request hook github gh github-pull-request-closed.json ".number = 9 | .pull_request.number = 9"
expect 200 .ignored "request 9 closed"
pl_expect $gh5 canceled 30
[ "$(pl_state $gh4)" = running ] || fail "closing request 9 touched build $gh4: $(pl_state $gh4)"
want_statuses "$sha5" 2 "github pending|Build $gh5 queued,github error|Build $gh5 canceled: request 9 closed,"
EVENT=pull_request hook github gh github-pull-request-closed.json ".number = 8 | .pull_request.number = 8"
pl_expect $gh4 canceled 60

## GitLab: open builds refs/merge-requests/1/head, statuses in GitLab's API
sha=$(pr_head gl refs/merge-requests/1/head "gl request")
EVENT="Merge Request Hook" hook gitlab gl gitlab-merge-request-open.json \
	".object_attributes.last_commit.id = \"$sha\""
next; gl1=$n
pl_expect $gl1 succeeded
pl_expect_field $gl1 .ref refs/merge-requests/1/head
docker image inspect "s2i-agent-test/$PL_ID-gl:mr-1" >/dev/null 2>&1 || fail "no image gl:mr-1"
want_statuses "$sha" 3 "gitlab pending|Build $gl1 queued,gitlab running|Build $gl1 running,gitlab success|Build $gl1 succeeded,"
[ "$(jq -r --arg s "$sha" 'select(.sha == $s) | .repo' "$FORGE_DOUBLE_LOG" | sort -u)" = 4861503 ] ||
	fail "GitLab statuses not on the payload's project"
# update without new commits: nothing; same-repo: a fork's request is not built
EVENT="Merge Request Hook" hook gitlab gl gitlab-merge-request-open.json \
	".object_attributes.action = \"update\" | .object_attributes.last_commit.id = \"$sha\""
expect 200 .ignored "merge request action 'update' without new commits"
EVENT="Merge Request Hook" hook gitlab gl gitlab-merge-request-open.json \
	".object_attributes.source_project_id = 99 | .object_attributes.last_commit.id = \"$sha\""
expect 200 .ignored "request from a fork (pull_requests = same-repo)"
# update with new commits builds; merge cancels it
sha2=$(pr_head gl refs/merge-requests/1/head "gl more" SLEEP 60)
EVENT="Merge Request Hook" hook gitlab gl gitlab-merge-request-open.json \
	".object_attributes.action = \"update\" | .object_attributes.oldrev = \"$sha\" |
	 .object_attributes.last_commit.id = \"$sha2\""
next; gl2=$n
pl_wait_state $gl2 running 60 || fail "build $gl2 did not start"
EVENT="Merge Request Hook" hook gitlab gl gitlab-merge-request-merge.json \
	".object_attributes.last_commit.id = \"$sha2\""
expect 200 .ignored "request 1 closed"
pl_expect $gl2 canceled 60
want_statuses "$sha2" 3 "gitlab pending|Build $gl2 queued,gitlab running|Build $gl2 running,gitlab canceled|Build $gl2 canceled: request 1 closed,"

## Gitea: opened builds refs/pull/1/head (default pr_tag), statuses in Gitea's API
sha=$(pr_head gt refs/pull/1/head "gt request")
EVENT=pull_request hook gitea gt gitea-pull-request-opened.json ".pull_request.head.sha = \"$sha\""
next; gt1=$n
pl_expect $gt1 succeeded
pl_expect_field $gt1 .image "gt:pr-1"
want_statuses "$sha" 3 "gitea pending|Build $gt1 queued,gitea pending|Build $gt1 running,gitea success|Build $gt1 succeeded,"
[ "$(jq -r --arg s "$sha" 'select(.sha == $s) | .repo' "$FORGE_DOUBLE_LOG" | sort -u)" = jcitizen/my-repo ] ||
	fail "Gitea statuses not on the payload's repository"
# synchronized builds; closed cancels it while queued or running
sha2=$(pr_head gt refs/pull/1/head "gt more" SLEEP 60)
EVENT=pull_request hook gitea gt gitea-pull-request-synchronized.json ".pull_request.head.sha = \"$sha2\""
next; gt2=$n
pl_wait_state $gt2 running 60 || fail "build $gt2 did not start"
EVENT=pull_request hook gitea gt gitea-pull-request-closed.json ".pull_request.head.sha = \"$sha2\""
expect 200 .ignored "request 1 closed"
pl_expect $gt2 canceled 60
want_statuses "$sha2" 3 "gitea pending|Build $gt2 queued,gitea pending|Build $gt2 running,gitea error|Build $gt2 canceled: request 1 closed,"

## push = yes: a same-repo request pushes (and fails on the missing registry), a fork's never does
sha=$(pr_head gp refs/pull/3/head "gp fork" app.sh "$probe")
EVENT=pull_request hook gitea gp gitea-pull-request-fork.json ".number = 3 | .pull_request.head.sha = \"$sha\""
next; gp1=$n
pl_expect $gp1 succeeded
pl_expect_field $gp1 .untrusted true
log=$(curl -sf "$AGENT_URL/builds/$gp1/log")
grep -q "app says inject=no ifaces=0" <<<"$log" || fail "the fork's build had an injection or a network: $log"
grep -qi "push" <<<"$(grep -v 'a request from a fork' <<<"$log")" &&
	fail "the fork's build mentions a push: $log"
sha=$(pr_head gp refs/pull/4/head "gp same")
EVENT=pull_request hook gitea gp gitea-pull-request-opened.json ".number = 4 | .pull_request.head.sha = \"$sha\""
next; gp2=$n
pl_expect $gp2 errored
pl_expect_field $gp2 .untrusted null
grep -qi "push" <<<"$(curl -sf "$AGENT_URL/builds/$gp2/log")" || fail "the same-repo build did not try to push"

## pull_requests unset: ignored, and so is its close
EVENT=pull_request hook github off github-pull-request-opened.json .
expect 200 .ignored "pull/merge requests are not built (pull_requests = no)"
EVENT=pull_request hook github off github-pull-request-closed.json .
expect 200 .ignored "pull/merge requests are not built (pull_requests = no)"
# other actions are ignored
EVENT=pull_request hook github gh github-pull-request-opened.json '.action = "labeled"'
expect 200 .ignored "pull request action 'labeled'"
[ "$(db_count builds)" = $n ] || fail "$(db_count builds) builds, want $n"
stop_agent || fail "agent exited $? on SIGTERM"
exit 0
