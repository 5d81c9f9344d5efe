#!/usr/bin/env bash
# Fault: slow and idle clients. 3000 idle connections and 20 clients trickling their
# headers and bodies a byte at a time are held open while normal deliveries are sent:
# each still gets its 202, the agent's memory stays bounded (VmRSS), idle connections
# are closed by the server after its HTTP timeout, trickling clients (half of them
# trickle their headers, half send the headers at once and trickle the body) are cut
# at the request deadline, and afterwards it serves normally.
set -u
source "$TESTS_DIR/lib/agent.sh"
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -ge 4000 ] || skip "cannot raise the open files limit to 4000 (ulimit -Hn $(ulimit -Hn))"
agent_init
S="fault-slow-secret-$$"
agent_repo web "$S"
start_agent || fail "agent did not start"
rss() { awk '/^VmRSS:/ {print $2}' "/proc/$AGENT_PID/status"; }
rss0=$(rss)

IDLE=3000 SLOW=20
cat >"$AGENT_DIR/hold.py" <<'PY'
import socket, sys, time
port, idle, slow, out = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
socks = []
for i in range(idle):
    s = socket.create_connection(("127.0.0.1", port))
    socks.append(s)
# a signature header (a wrong one) takes them past the gate to the body (http_gate.c)
head = (b"POST /hooks/web HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"X-GitHub-Event: push\r\nX-Hub-Signature-256: sha256=00\r\n"
        b"Content-Length: 100000\r\n\r\n")
req = head + b"{" * 100000
slows = [socket.create_connection(("127.0.0.1", port)) for _ in range(slow)]
# the second half trickles only the body: the headers go at once
for s in slows[slow // 2:]:
    s.sendall(head)
with open(out, "w") as f:
    f.write("open %d %d\n" % (len(socks), len(slows)))
    f.flush()
    t0 = time.time()
    pos = 0
    closed_idle = closed_slow = 0
    while time.time() - t0 < float(sys.argv[5]):
        for i, s in enumerate(list(slows)):
            try:
                s.send(req[pos:pos + 1] if i < slow // 2 else b"{")
            except OSError:
                slows.remove(s); closed_slow += 1
        pos += 1
        time.sleep(0.5)
    # which idle connections did the server close?
    for s in socks:
        s.setblocking(False)
        try:
            d = s.recv(1)
            if d == b"":
                closed_idle += 1
        except BlockingIOError:
            pass
        except OSError:
            closed_idle += 1
    f.write("closed idle %d slow %d after %.0fs, %d bytes trickled\n" % (closed_idle, closed_slow, time.time() - t0, pos))
PY
python3 "$AGENT_DIR/hold.py" "$AGENT_PORT" $IDLE $SLOW "$AGENT_DIR/hold.out" 75 &
HOLD_PID=$!
trap 'kill $HOLD_PID 2>/dev/null; agent_cleanup' EXIT
wait_grep '^open' "$AGENT_DIR/hold.out" 30
grep -q "^open $IDLE $SLOW" "$AGENT_DIR/hold.out" || fail "could not open the connections: $(cat "$AGENT_DIR/hold.out" 2>/dev/null)"
conns=$(ls "/proc/$AGENT_PID/fd" | wc -l)
[ "$conns" -ge $IDLE ] || fail "the agent holds only $conns fds"

# other clients are served while they are open
for n in 1 2 3 4 5; do
	jq --arg after "$(printf '%040x' "$n")" '.after = $after | .head_commit.id = $after' \
		"$FIXTURES/github-push.json" >"$AGENT_DIR/body.json"
	post_hook github web "$AGENT_DIR/body.json" "$S" "fault-slow-$$-$n" --max-time 10
	expect 202
done
http_req --max-time 10 "$AGENT_URL/builds?limit=5"
expect 200
rss1=$(rss)
echo "VmRSS: idle $rss0 KiB, with $IDLE idle + $SLOW slow connections $rss1 KiB"
# bounded: well under 64 KiB per connection (a buffer per connection would be far more)
[ $((rss1 - rss0)) -lt $(((IDLE + SLOW) * 64)) ] || fail "VmRSS grew by $((rss1 - rss0)) KiB for $((IDLE + SLOW)) connections"

wait "$HOLD_PID"
cat "$AGENT_DIR/hold.out"
read -r _ _ cidle _ cslow _ <<<"$(sed -n 2p "$AGENT_DIR/hold.out")"
# the server's HTTP timeout (30 s) closed the idle ones within the 75 s we held them
[ "$cidle" = $IDLE ] || fail "only $cidle of $IDLE idle connections were closed by the server"
# evhttp's own timeouts restart at every read; the request deadline (30 s for a
# whole request) cuts a client sending a byte every 0.5 s
echo "trickling clients cut by the server: $cslow of $SLOW"
[ "$cslow" = $SLOW ] || fail "only $cslow of $SLOW trickling clients were cut at the request deadline"
http_req --max-time 10 "$AGENT_URL/metrics"
expect 200
cut=$(sed -n 's/^s2i_agent_http_connections_cut_total //p' <<<"$HTTP_BODY")
[ "${cut:-0}" -ge $SLOW ] || fail "metrics count $cut connections cut, expected at least $SLOW"
kill -0 "$AGENT_PID" || fail "the agent died"
post_hook github web "$FIXTURES/github-push.json" "$S" "fault-slow-$$-after" --max-time 10
expect 202
echo "fault-slow: $IDLE idle + $SLOW trickling connections ($cslow cut), 6 deliveries served meanwhile, VmRSS +$((rss1 - rss0)) KiB"
stop_agent || fail "agent exited $? on SIGTERM"
exit 0
