#!/usr/bin/env bash
# Pipeline, build_timeout: a build whose assemble outlives build_timeout ends `failed`
# with "the build timed out after Ns", its containers removed and a `failure` status;
# the next build of the repository runs.
TEST=pl-timeout
source "$TESTS_DIR/lib/pipeline.sh"

pl_builder
pl_repo web "status_repo=acme/web"
AGENT_EXTRA="build_timeout = 5s"
start_agent || fail "agent did not start"

sha=$(pl_commit web "too slow" SLEEP 120)
pl_push web >/dev/null || fail "git push"
pl_github_push web "$sha"
expect 202 .build 1
pl_expect 1 failed 60
pl_expect_field 1 .reason "the build timed out after 5s"
pl_no_containers 1
pl_wait_statuses 3 30 || fail "statuses: $(pl_statuses)"
[ "$(pl_statuses "$sha" | tail -n 1)" = "failure|Build 1 failed: the build timed out after 5s" ] ||
	fail "final status: $(pl_statuses)"

pl_rm web SLEEP
sha2=$(pl_commit web "fast again")
pl_push web >/dev/null || fail "git push"
pl_github_push web "$sha2"
expect 202 .build 2
state=$(pl_wait 2 120)
[ "$state" = succeeded ] || [ "$(pl_build_json 2 | jq -r .reason)" = "the build timed out after 5s" ] ||
	fail "build 2 is $state: $(pl_build_json 2)"
stop_agent || fail "agent exited $? on SIGTERM"
exit 0
