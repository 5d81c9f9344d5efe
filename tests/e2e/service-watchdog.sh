#!/usr/bin/env bash
# The unit's WatchdogSec=: with $WATCHDOG_USEC set (and $WATCHDOG_PID naming the agent,
# or absent) `serve` sends WATCHDOG=1 to $NOTIFY_SOCKET again and again from its event
# loop; with $WATCHDOG_PID naming another process it sends none.
set -u
source "$TESTS_DIR/lib/agent.sh"
agent_init
agent_repo web "watchdog-secret-$$"

NOTIFY_LOG=$AGENT_DIR/notify.log
python3 -u -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("bound", flush=True)
while True:
    print(s.recv(4096).decode().replace("\n", "|"), flush=True)' "$AGENT_DIR/notify.sock" >"$NOTIFY_LOG" &
NOTIFY_PID=$!
trap 'kill $NOTIFY_PID 2>/dev/null; agent_cleanup' EXIT
wait_grep bound "$NOTIFY_LOG" 5 || fail "notify listener did not start"
count() { grep -c "^$1\$" "$NOTIFY_LOG"; }
at_least() { [ "$(count "$1")" -ge "$2" ]; }	# message n
wait_count() {	# message n: until n of them arrived (a deadline against hangs only)
	wait_for 20 at_least "$1" "$2" || fail "fewer than $2 '$1' notifications: $(tr '\n' ' ' <"$NOTIFY_LOG")"
}

# 1. WATCHDOG_USEC without WATCHDOG_PID (systemd may leave it out): pings, repeatedly.
NOTIFY_SOCKET=$AGENT_DIR/notify.sock WATCHDOG_USEC=200000 start_agent || fail "agent did not start"
wait_count READY=1 1
wait_count WATCHDOG=1 5
grep -q "watchdog: pinging systemd every 100 ms" "$AGENT_LOG" || fail "the interval is not half of WATCHDOG_USEC"
# still answering while it pings
http_req "$AGENT_URL/healthz"
[ "$HTTP_CODE" = 200 ] || [ "$HTTP_CODE" = 503 ] || fail "no answer from /healthz: $HTTP_CODE"
stop_agent || fail "agent did not exit 0 on SIGTERM"

# 2. WATCHDOG_PID naming another process: the interval is not ours, no pings.
: >"$NOTIFY_LOG"
: >"$AGENT_LOG"
NOTIFY_SOCKET=$AGENT_DIR/notify.sock WATCHDOG_USEC=20000 WATCHDOG_PID=1 start_agent || fail "agent did not start"
wait_count READY=1 1
# a reload round trip through the event loop, long after a 10 ms ping would have been due
kill -HUP "$AGENT_PID"
wait_count READY=1 2
[ "$(count WATCHDOG=1)" = 0 ] || fail "pinged for another process's watchdog"
grep -q "watchdog:" "$AGENT_LOG" && fail "watchdog started for WATCHDOG_PID=1"

# 3. without WatchdogSec= nothing changes
stop_agent || fail "agent did not exit 0"
: >"$NOTIFY_LOG"
NOTIFY_SOCKET=$AGENT_DIR/notify.sock start_agent || fail "agent did not start"
wait_count READY=1 1
kill -HUP "$AGENT_PID"
wait_count READY=1 2
[ "$(count WATCHDOG=1)" = 0 ] || fail "pinged without WATCHDOG_USEC"
echo "watchdog: ok"
