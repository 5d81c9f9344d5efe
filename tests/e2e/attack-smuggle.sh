#!/usr/bin/env bash
# Attack: request smuggling. A request whose body length two parsers can read two ways
# (two Content-Length headers, Content-Length with Transfer-Encoding, a space before the
# colon, a folded line, a HEAD with a body) lets the rest of its bytes become a second
# request that a proxy in front never saw. Each is sent on one connection followed by a
# smuggled GET /builds: wanted exactly one answer, 400 (411 for a chunked body), and the
# connection closed; the smuggled request is never answered.
set -u
source "$TESTS_DIR/lib/agent.sh"
agent_init
agent_repo web "attack-smuggle-secret-$$"
start_agent || fail "agent did not start"

cat >"$AGENT_DIR/smuggle.py" <<'PY'
import socket, sys, time
port = int(sys.argv[1])
H = "Host: 127.0.0.1\r\n"
SMUGGLED = "GET /builds HTTP/1.1\r\n" + H + "X-Smuggled: 1\r\n\r\n"
cases = [
    ("two Content-Length", "POST /healthz HTTP/1.1\r\n" + H +
     "Content-Length: 0\r\nContent-Length: %d\r\n\r\n" % len(SMUGGLED) + SMUGGLED, "400"),
    ("two equal Content-Length", "POST /hooks/web HTTP/1.1\r\n" + H +
     "Content-Length: 4\r\nContent-Length: 4\r\n\r\nabcd" + SMUGGLED, "400"),
    ("Content-Length and chunked", "POST /hooks/web HTTP/1.1\r\n" + H +
     "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + SMUGGLED, "400"),
    ("chunked alone", "POST /hooks/web HTTP/1.1\r\n" + H +
     "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + SMUGGLED, "411"),
    ("space before the colon", "POST /healthz HTTP/1.1\r\n" + H +
     "Content-Length : %d\r\n\r\n" % len(SMUGGLED) + SMUGGLED, "400"),
    ("folded Content-Length", "POST /healthz HTTP/1.1\r\n" + H +
     "X-A: b\r\n Content-Length: %d\r\n\r\n" % len(SMUGGLED) + SMUGGLED, "400"),
    ("HEAD with a body", "HEAD /healthz HTTP/1.1\r\n" + H +
     "Content-Length: %d\r\n\r\n" % len(SMUGGLED) + SMUGGLED, "400"),
    ("signed length in hex", "POST /healthz HTTP/1.1\r\n" + H +
     "Content-Length: 0x10\r\n\r\n" + SMUGGLED, "400"),
    ("bare CR in a header", "POST /healthz HTTP/1.1\r\n" + H +
     "X-A: b\rContent-Length: %d\r\n\r\n" % len(SMUGGLED) + SMUGGLED, "400"),
]
bad = 0
for name, req, want in cases:
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(req.encode())
    data, t0 = b"", time.time()
    try:
        while time.time() - t0 < 5:
            d = s.recv(65536)
            if not d:
                break
            data += d
    except socket.timeout:
        print("%s: the connection was not closed" % name)
        bad += 1
    s.close()
    answers = data.count(b"HTTP/1.")
    first = data.split(b" ", 2)[1].decode() if answers else "none"
    if answers != 1 or first != want:
        print("%s: %d answers, first %s (wanted one %s): %r" % (name, answers, first, want, data[:300]))
        bad += 1
    else:
        print("%s: one %s answer, connection closed" % (name, want))
sys.exit(1 if bad else 0)
PY
python3 "$AGENT_DIR/smuggle.py" "$AGENT_PORT" || fail "a smuggled request got through"
grep -q "X-Smuggled" "$AGENT_DIR/agent.log" && fail "the agent logged a smuggled request"
kill -0 "$AGENT_PID" || fail "the agent died"
# a plain request still works
http_req "$AGENT_URL/builds"
expect 200
stop_agent || fail "agent exited $? on SIGTERM"
echo "attack-smuggle: every ambiguous length refused, nothing smuggled"
