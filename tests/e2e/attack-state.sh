#!/usr/bin/env bash
# Two `serve` processes on one state_dir: the second used to take the first one's
# running build for a leftover of a crash, kill it and remove its container. Now the
# state directory is locked by the serve that owns it: the second refuses to start,
# names the first one's pid, and the first goes on untouched.
TEST=attack-state
source "$TESTS_DIR/lib/agent.sh"
agent_init
agent_repo web "attack state secret $$"
start_agent || fail "first agent did not start"
[ -f "$AGENT_DIR/state/serve.lock" ] || fail "no serve.lock in the state directory"

# the same state_dir, another port
second_port=$(free_port)
sed "s/127.0.0.1:$AGENT_PORT/127.0.0.1:$second_port/g" "$AGENT_DIR/agent.conf" >"$AGENT_DIR/second.conf"
chmod 640 "$AGENT_DIR/second.conf"
grep -q "state_dir = $AGENT_DIR/state" "$AGENT_DIR/second.conf" || fail "test setup: state_dir"
timeout 20 "$S2I_AGENT" serve -c "$AGENT_DIR/second.conf" >"$AGENT_DIR/second.log" 2>&1
rc=$?
cat "$AGENT_DIR/second.log"
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || fail "second serve on the same state_dir: exit $rc (expected a refusal)"
grep -q "is in use by another s2i-agent serve (pid $AGENT_PID)" "$AGENT_DIR/second.log" ||
	fail "the refusal does not name the first agent's pid"
wait_port "$second_port" 1 2>/dev/null && fail "the second agent listened"

# the first is untouched and still owns the directory
kill -0 "$AGENT_PID" || fail "first agent died"
http_req "$AGENT_URL/builds"
[ "$HTTP_CODE" = 200 ] || fail "first agent's /builds: $HTTP_CODE"
[ "$(tr -d '\n' <"$AGENT_DIR/state/serve.lock")" = "$AGENT_PID" ] || fail "serve.lock no longer names the first agent"

# once the first has stopped, the directory can be taken again
stop_agent || fail "first agent's exit"
KEEP_PORT=1 start_agent || fail "restart on the released state_dir"
echo "one serve per state_dir: ok"
