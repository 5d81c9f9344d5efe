#!/usr/bin/env bash
# Pipeline, cancel_superseded: a newer push to the same ref cancels the running build
# (its containers removed, reason "superseded by build N", status `error`), and the newer
# one builds; a push to another branch of the same repository waits its turn (one build
# per repository at a time) and is not canceled, but a newer push to that branch
# supersedes it while it is still queued: canceled, and it never runs.
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

# a newer push to dev while build 2 waits: build 2 is superseded while queued
dev1=$(git -C "$AGENT_DIR/web.work" commit-tree "$sha0^{tree}" -p "$sha0" -m "dev again") || fail "commit-tree"
git -C "$AGENT_DIR/web.work" push -q "$AGENT_DIR/web.git" "$dev1:refs/heads/dev" || fail "git push dev"
pl_github_push web "$dev1" refs/heads/dev
expect 202 .build 3
pl_expect 2 canceled 30
pl_expect_field 2 .reason "superseded by build 3"
[ "$(pl_state 1)" = running ] || fail "build 1 of main is $(pl_state 1) after a push to dev"

pl_rm web SLEEP
sha4=$(pl_commit web "fast one")
pl_push web >/dev/null || fail "git push"
pl_github_push web "$sha4"
expect 202 .build 4

pl_expect 1 canceled 60
pl_expect_field 1 .reason "superseded by build 4"
pl_no_containers 1
# build 3 (dev) is untouched by build 4 (main); both build
state=$(pl_wait 3 120)
[ "$state" = canceled ] && fail "build 3 of another branch was canceled"
pl_expect 4 succeeded 120
pl_no_containers 4
tail -n 1 "$AGENT_DIR/state/logs/1.log" | grep -qx '==> build 1 canceled: superseded by build 4' ||
	fail "log of build 1 ends with '$(tail -n 1 "$AGENT_DIR/state/logs/1.log")'"
# the superseded queued build never ran: never started, no log, no container, no running status
pl_expect_field 2 .started null
[ -e "$AGENT_DIR/state/logs/2.log" ] && fail "build 2, superseded while queued, has a log: it ran"
[ -z "$(docker ps -aq --filter label=io.s2i-agent.build=2 --filter "ancestor=$PL_BUILDER")" ] ||
	fail "build 2, superseded while queued, had a container"

pl_wait_statuses 11 30 || fail "expected 11 status posts, got $(forge_double_count)"
pl_statuses | grep -q '^pending|Build 2 running' && fail "build 2, superseded while queued, was posted running"
want="pending|Build 1 queued
pending|Build 1 running
error|Build 1 canceled: superseded by build 4"
[ "$(jq -r 'select(.body.description | test("Build 1 ")) | "\(.body.state)|\(.body.description)"' "$FORGE_DOUBLE_LOG")" = "$want" ] ||
	fail "statuses of build 1: $(pl_statuses)"
stop_agent || fail "agent exited $? on SIGTERM"
exit 0
