#!/usr/bin/env bash
# Intake life cycle: sd_notify READY/RELOADING/STOPPING over $NOTIFY_SOCKET (a path
# and an abstract name), SIGHUP with a valid config (applied) and an invalid one
# (refused, the running one kept), SIGTERM exits 0, bad usage.
set -u
source "$TESTS_DIR/lib/agent.sh"
agent_init
S="intake-signals-secret-$$"
agent_repo web "$S"

# a datagram socket that records what the agent tells systemd
NOTIFY_LOG=$AGENT_DIR/notify.log
notify_listen() {	# address (path, or @name)
	# emptied here, not by the background job's redirection: else the wait below can
	# see the previous listener's "bound" before the new one has bound its socket
	: >"$NOTIFY_LOG"
	python3 -u -c '
import socket, sys
addr = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\0" + addr[1:] if addr.startswith("@") else addr)
print("bound", flush=True)
while True:
    m = s.recv(4096).decode()
    print(m.replace("\n", "|"), flush=True)' "$1" >>"$NOTIFY_LOG" &
	NOTIFY_PID=$!
	wait_grep bound "$NOTIFY_LOG" 5 || fail "notify listener did not start"
}
wait_notify() {	# pattern
	wait_grep "$1" "$NOTIFY_LOG" 10 || fail "no '$1' notification; got: $(cat "$NOTIFY_LOG")"
}
trap 'kill $NOTIFY_PID 2>/dev/null; agent_cleanup' EXIT

notify_listen "$AGENT_DIR/notify.sock"
NOTIFY_SOCKET=$AGENT_DIR/notify.sock start_agent || fail "agent did not start"
wait_notify '^READY=1$'

post_hook github api "$FIXTURES/github-push.json" "$S" d-1
expect 404

# SIGHUP with a valid config: a new repo appears
cp "$AGENT_DIR/agent.conf" "$AGENT_DIR/agent.conf.orig"
agent_repo api "$S"
agent_write_config
kill -HUP "$AGENT_PID"
wait_notify '^RELOADING=1|MONOTONIC_USEC=[0-9]*$'
wait_grep "reload: configuration" "$AGENT_LOG" 5
[ "$(grep -c '^READY=1$' "$NOTIFY_LOG")" = 2 ] || { sleep 0.5; [ "$(grep -c '^READY=1$' "$NOTIFY_LOG")" = 2 ]; } ||
	fail "no READY=1 after reload: $(cat "$NOTIFY_LOG")"
post_hook github api "$FIXTURES/github-push.json" "$S" d-2
expect 202

# SIGHUP with an invalid config: every error logged, the running config kept
printf '\nbogus_key = 1\n[repo "bad name!"]\n' >>"$AGENT_DIR/agent.conf"
kill -HUP "$AGENT_PID"
wait_grep "keeping the running configuration" "$AGENT_LOG" 5 || fail "invalid reload not reported"
grep -q "agent.conf:[0-9]*: .*bogus_key" "$AGENT_LOG" || fail "the unknown key is not reported with its line"
grep -q "agent.conf:[0-9]*: .*bad name" "$AGENT_LOG" || fail "the bad repo name is not reported with its line"
kill -0 "$AGENT_PID" || fail "agent died on an invalid reload"
post_hook github api "$(push_of "$FIXTURES/github-push.json" d-3)" "$S" d-3
expect 202
post_hook github web "$(push_of "$FIXTURES/github-push.json" d-4)" "$S" d-4
expect 202

# SIGTERM: STOPPING=1, exit 0, the builds are on disk
stop_agent || fail "agent exited $? on SIGTERM"
wait_notify '^STOPPING=1$'
[ "$(db_count builds)" = 3 ] || fail "expected 3 builds, found $(db_count builds)"
kill "$NOTIFY_PID"

# an abstract NOTIFY_SOCKET, and SIGINT
notify_listen "@s2i-agent-test-$$"
cp "$AGENT_DIR/agent.conf.orig" "$AGENT_DIR/agent.conf"
: >"$AGENT_DIR/repos.conf"
agent_repo web "$S"
NOTIFY_SOCKET=@s2i-agent-test-$$ KEEP_PORT=1 start_agent || fail "agent did not restart"
wait_notify '^READY=1$'
kill -INT "$AGENT_PID"
wait "$AGENT_PID" || fail "agent exited $? on SIGINT"
AGENT_PID=
wait_notify '^STOPPING=1$'

# usage errors and an invalid config at start
"$S2I_AGENT" serve -c "$AGENT_DIR/agent.conf" --bogus >/dev/null 2>&1
[ $? = 2 ] || fail "an unknown argument does not exit 2"
printf '[agent]\nlisten = nonsense\n' >"$AGENT_DIR/bad.conf"
"$S2I_AGENT" serve -c "$AGENT_DIR/bad.conf" 2>"$AGENT_DIR/bad.log"
[ $? = 1 ] || fail "an invalid config does not exit 1"
grep -q "bad.conf:2:" "$AGENT_DIR/bad.log" || fail "invalid config error without its line: $(cat "$AGENT_DIR/bad.log")"
exit 0
