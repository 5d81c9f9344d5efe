#!/usr/bin/env bash
# Pipeline, cancel_superseded: a newer push to the same ref cancels the running build
# (its containers removed, reason "superseded by build N", status `error`), and the newer
# one builds; a push to another branch of the same repository waits its turn (one build
# per repository at a time) and is not canceled.
TEST=pl-supersede
source "$TESTS_DIR/lib/pipeline.sh"

pl_builder
pl_repo web
AGENT_EXTRA="workers = 2"
start_agent || fail "agent did not start"

sha0=$(git -C "$AGENT_DIR/web.work" rev-parse HEAD)
sha1=$(pl_commit web "slow one" SLEEP 60)
pl_push web >/dev/null || fail "git push"
pl_github_push web "$sha1"
expect 202 .build 1
pl_wait_state 1 running 60 || fail "build 1 never ran"
wait_grep 'assemble: sleeping' "$AGENT_DIR/state/logs/1.log" 30 || fail "assemble of build 1 did not start"
[ -n "$(docker ps -q --filter label=io.s2i-agent.build=1 --filter "ancestor=$PL_BUILDER")" ] || fail "no running container for build 1"

# another branch: queued behind build 1 (same repository), not superseded
git -C "$AGENT_DIR/web.work" push -q "$AGENT_DIR/web.git" "$sha0:refs/heads/dev" || fail "git push dev"
pl_github_push web "$sha0" refs/heads/dev
expect 202 .build 2
sleep 1
pl_expect_field 2 .state queued

pl_rm web SLEEP
sha3=$(pl_commit web "fast one")
pl_push web >/dev/null || fail "git push"
pl_github_push web "$sha3"
expect 202 .build 3

pl_expect 1 canceled 60
pl_expect_field 1 .reason "superseded by build 3"
pl_no_containers 1
# build 2 (dev) is untouched by build 3 (main); both build
state=$(pl_wait 2 120)
[ "$state" = canceled ] && fail "build 2 of another branch was canceled"
pl_expect 3 succeeded 120
pl_no_containers 3
tail -n 1 "$AGENT_DIR/state/logs/1.log" | grep -qx '==> build 1 canceled: superseded by build 3' ||
	fail "log of build 1 ends with '$(tail -n 1 "$AGENT_DIR/state/logs/1.log")'"

pl_wait_statuses 9 30 || fail "expected 9 status posts, got $(forge_double_count)"
want="pending|Build 1 queued
pending|Build 1 running
error|Build 1 canceled: superseded by build 3"
[ "$(jq -r 'select(.body.description | test("Build 1 ")) | "\(.body.state)|\(.body.description)"' "$FORGE_DOUBLE_LOG")" = "$want" ] ||
	fail "statuses of build 1: $(pl_statuses)"
stop_agent || fail "agent exited $? on SIGTERM"
exit 0
