#!/usr/bin/env bash
# Log follow streams a client abandons must not hold up a stop: 40 streams of
# GET /builds/N/log?follow=1 closed by the client, 10 left open without reading
# until the agent's HTTP timeout cuts them, then SIGTERM. The agent must stop in
# well under its drain grace and must not log requests left unanswered (each
# abandoned stream used to stay counted in flight: "stopping with 50 requests
# unanswered" after a 10 s wait).
TEST=attack-follow
source "$TESTS_DIR/lib/agent.sh"
agent_init
S="follow-secret-$$"
AGENT_EXTRA="workers = 0"	# the build stays queued: its log never ends
agent_repo web "$S"
start_agent || fail "agent did not start"
post_hook github web "$FIXTURES/github-push.json" "$S" follow-1
expect 202
id=$(jq -r .build <<<"$HTTP_BODY")

python3 - "$AGENT_PORT" "$id" <<'PY' || fail "follow client failed"
import socket, sys, time
port, bid = int(sys.argv[1]), sys.argv[2]
req = ("GET /builds/%s/log?follow=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % bid).encode()
def open_stream():
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(req)
    head = s.recv(4096)
    assert head.startswith(b"HTTP/1.1 200"), head[:80]
    return s
for _ in range(40):		# closed by the client
    open_stream().close()
kept = [open_stream() for _ in range(10)]	# cut by the server's timeout
deadline = time.time() + 60
for s in kept:
    s.settimeout(max(1, deadline - time.time()))
    try:
        while s.recv(65536):
            pass
    except socket.timeout:
        sys.exit("a stream idle past the HTTP timeout was not cut")
    except OSError:
        pass
    s.close()
PY
sleep 0.5
start=$(date +%s.%N)
kill -TERM "$AGENT_PID"
wait "$AGENT_PID"
rc=$?
AGENT_PID=
secs=$(echo "$(date +%s.%N) - $start" | bc)
[ "$rc" = 0 ] || fail "agent exited $rc on SIGTERM"
grep -q 'requests unanswered' "$AGENT_LOG" && fail "abandoned follow streams counted as unanswered: $(grep 'unanswered' "$AGENT_LOG")"
[ "$(echo "$secs < 3" | bc)" = 1 ] || fail "stop took ${secs}s after 50 abandoned follow streams"
echo "stopped in ${secs}s after 50 abandoned follow streams"
