#!/usr/bin/env bash
# The outcome does not wait for the cleanup: a build's process reports it as soon as its
# image exists, and the build is `succeeded`, its success status posted and the push of a
# post-receive hook (notify --follow) back while the removal of its container still waits
# on the engine. The agent's engine is a unix-socket proxy this test owns
# (tests/lib/sockproxy.py) that freezes at the first container removal (DELETE
# /containers/ID); the build's process gives up on it after S2I_CLEANUP_TIMEOUT (8 s) and
# says so in the log, after the outcome. Once the proxy thaws, the container goes (the
# agent's cleanup process), and the next push builds again.
TEST=pl-outcome-first
source "$TESTS_DIR/lib/pipeline.sh"
source "$TESTS_DIR/lib/enginefault.sh"

PROXY_SOCK=$AGENT_DIR/engine.sock
PROXY_PID=
of_cleanup() {
	if [ -n "$PROXY_PID" ]; then
		kill -TERM "$PROXY_PID" 2>/dev/null
		wait "$PROXY_PID" 2>/dev/null
	fi
	ef_containers | xargs -r docker rm -f >/dev/null 2>&1
	pl_cleanup
}
trap of_cleanup EXIT

pl_builder
pl_repo web status_repo=acme/web
ef_proxy_start --freeze-on '^DELETE /v[0-9.]+/containers/' --frozen "$AGENT_DIR/proxy.frozen" ||
	fail "cannot start the engine proxy"
AGENT_ENGINE=unix://$PROXY_SOCK
start_agent || fail "agent did not start"
pl_hook web post-receive

sha=$(pl_commit web "the outcome first")
timeout 60 git -C "$AGENT_DIR/web.work" push "$AGENT_DIR/web.git" HEAD:refs/heads/main >"$AGENT_DIR/push.out" 2>&1 ||
	{ cat "$AGENT_DIR/push.out"; fail "the push did not return"; }
cat "$AGENT_DIR/push.out"
grep -q '^remote: s2i-agent: build 1 succeeded' "$AGENT_DIR/push.out" || fail "no success line in the push"
test -e "$AGENT_DIR/proxy.frozen" || fail "the build never reached its container removal"
# the removal was still waiting when the push returned: its give-up came later
grep -q 'did not answer' "$AGENT_DIR/push.out" && fail "the push waited for the cleanup to give up"
pl_expect_field 1 .state succeeded
pl_wait_statuses 3 30 || fail "statuses of build 1: $(forge_double_count)"
[ "$(pl_statuses "$sha" | cut -d'|' -f1 | tr '\n' ' ')" = "pending pending success " ] ||
	fail "statuses: $(pl_statuses "$sha")"
[ -n "$(ef_containers)" ] || fail "the container went although the engine was frozen"
# the process gives up on the frozen engine and says so, after the outcome line
wait_for 30 grep -q 'did not answer within' "$AGENT_DIR/state/logs/1.log" ||
	fail "no give-up line in the log: $(cat "$AGENT_DIR/state/logs/1.log")"
awk '/^==> build 1 succeeded/ {ok = 1} /did not answer within/ && !ok {bad = 1} END {exit bad}' \
	"$AGENT_DIR/state/logs/1.log" || fail "the give-up line comes before the outcome"

kill -USR1 "$PROXY_PID"	# thaw: what was held goes through
pl_no_containers 1
sha2=$(pl_commit web "after the thaw")
timeout 120 git -C "$AGENT_DIR/web.work" push "$AGENT_DIR/web.git" HEAD:refs/heads/main >"$AGENT_DIR/push.out" 2>&1 ||
	{ cat "$AGENT_DIR/push.out"; fail "the second push did not return"; }
grep -q '^remote: s2i-agent: build 2 succeeded' "$AGENT_DIR/push.out" || { cat "$AGENT_DIR/push.out"; fail "build 2"; }
pl_expect_field 2 .sha "$sha2"
pl_no_containers 2
echo "ok"
