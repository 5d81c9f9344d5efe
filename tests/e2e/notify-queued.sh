#!/usr/bin/env bash
# A push through hooks/pre-receive whose build waits in the queue: the agent ends a
# follow stream that stays idle for its HTTP timeout (30 s), and `notify --follow`
# took each cut for "lost the agent", so after ~90 s in the queue a good push was
# rejected. An answer that came is the agent reached: the push must go in.
TEST=notify-queued
source "$TESTS_DIR/lib/pipeline.sh"

AGENT_EXTRA="workers = 1"
pl_builder
pl_repo slow
pl_repo gate
start_agent || fail "agent did not start"

# build 1 holds the only worker for longer than the follow can be cut three times
pl_commit slow "hold the worker" SLEEP 110 >/dev/null
pl_push slow >/dev/null || fail "git push slow"
pl_github_push slow "$(git -C "$AGENT_DIR/slow.work" rev-parse HEAD)"
expect 202 .build 1
pl_wait_state 1 running 60 || fail "build 1 did not start: $(pl_build_json 1)"

g=$AGENT_DIR/gate.git
pl_hook gate pre-receive
good=$(pl_commit gate "queued behind build 1")
start=$(date +%s)
git -C "$AGENT_DIR/gate.work" push "$g" HEAD:refs/heads/main >"$AGENT_DIR/push.out" 2>&1 ||
	{ cat "$AGENT_DIR/push.out"; fail "pre-receive rejected a good push whose build waited in the queue"; }
waited=$(($(date +%s) - start))
cat "$AGENT_DIR/push.out"
grep -q 'lost the agent' "$AGENT_DIR/push.out" && fail "the idle stream's cut was taken for a lost agent"
grep -q '^remote: s2i-agent: build 2 succeeded' "$AGENT_DIR/push.out" || fail "no success line for build 2"
[ "$(git --git-dir="$g" rev-parse refs/heads/main)" = "$good" ] || fail "the accepted ref did not move"
[ "$waited" -ge 95 ] || fail "the push took ${waited}s: build 2 did not wait in the queue long enough to test"
echo "a build queued for ${waited}s: the push went in"
