#!/usr/bin/env bash
# Attack: memory through request bodies. Unauthenticated clients declare 25 MiB bodies
# (the default max_body) and send them: the agent used to buffer every body before it
# looked at anything, so 20 such clients took it past 1 GiB. Wanted: a request with no
# signature header, or to an unknown route, is answered at once without its body being
# read; past HTTP_BODY_TOTAL_MAX of declared bodies the next gets 503 with Retry-After;
# RSS stays bounded while the attackers send; signed deliveries still get 202.
set -u
source "$TESTS_DIR/lib/agent.sh"
agent_init
S="attack-body-secret-$$"
agent_repo web "$S"
start_agent || fail "agent did not start"
rss() { awk '/^VmRSS:/ {print $2}' "/proc/$AGENT_PID/status"; }

cat >"$AGENT_DIR/flood.py" <<'PY'
import os, socket, sys, time, threading
port, mode, n, out = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
DECL = 25 * 1024 * 1024
def head(path, signed, length=DECL):
    h = "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" % path
    h += "X-GitHub-Event: push\r\n"
    if signed:
        h += "X-Hub-Signature-256: sha256=" + "0" * 64 + "\r\n"
    return (h + "Content-Length: %d\r\n\r\n" % length).encode()

def answer(s, wait):
    """the status of an answer that arrives within wait seconds, else None"""
    s.settimeout(wait)
    try:
        d = s.recv(4096)
    except (socket.timeout, BlockingIOError):
        return None, b""
    except OSError:
        return "reset", b""
    return (d.split(b" ", 2)[1].decode() if d.startswith(b"HTTP/1.") else "closed"), d

if mode == "early":
    # unknown route, a route that takes no body, no signature: answered before the body
    res = []
    for path, signed in (("/hooks/nosuch", 1), ("/healthz", 0), ("/hooks/web", 0), ("/nosuch", 0)):
        s = socket.create_connection(("127.0.0.1", port))
        t0 = time.time()
        s.sendall(head(path, signed, 20 * 1000 * 1000))
        st, _ = answer(s, 3)
        res.append("%s %s %.3f" % (path, st, time.time() - t0))
        s.close()
    open(out, "w").write("\n".join(res) + "\n")
    sys.exit(0)

# flood: n signed-looking clients (a wrong signature is only found once the body is
# whole) and n unsigned ones, each declaring 25 MiB and sending 1 MiB a second
socks, codes, lock = [], {}, threading.Lock()
def note(st):
    with lock:
        codes[st] = codes.get(st, 0) + 1
for i in range(2 * n):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(head("/hooks/web", i % 2 == 0))
    socks.append(s)
chunk = b"{" * (256 * 1024)
alive = list(socks)
t0 = time.time()
sent = 0
while time.time() - t0 < float(sys.argv[5]) and alive:
    for s in list(alive):
        try:
            s.setblocking(False)
            s.send(chunk)
            sent += len(chunk)
        except BlockingIOError:
            pass
        except OSError:
            alive.remove(s)
            continue
        try:
            d = s.recv(4096)
            st = d.split(b" ", 2)[1].decode() if d.startswith(b"HTTP/1.") else "closed"
            if st == "503" and b"Retry-After:" not in d:
                st = "503-without-Retry-After"
            note(st)
            alive.remove(s)
        except BlockingIOError:
            pass
        except OSError:
            note("reset")
            alive.remove(s)
    time.sleep(0.25)
    # whole lines only: the test kills this process at any moment and reads the file
    with open(out + ".new", "w") as f:
        f.write("sending %d answered %s sent %d MiB\n" % (len(alive), sorted(codes.items()), sent >> 20))
    os.replace(out + ".new", out)
PY

# 1. answered before the body
python3 "$AGENT_DIR/flood.py" "$AGENT_PORT" early 0 "$AGENT_DIR/early.out"
cat "$AGENT_DIR/early.out"
while read -r path st secs; do
	want=401
	case $path in /hooks/nosuch|/nosuch) want=404 ;; /healthz) want=405 ;; esac
	[ "$st" = "$want" ] || fail "POST $path with a 20 MB Content-Length: got '$st' within 3 s, wanted $want at once"
done <"$AGENT_DIR/early.out"

# 2. the flood
rss0=$(rss)
N=20
python3 "$AGENT_DIR/flood.py" "$AGENT_PORT" flood $N "$AGENT_DIR/flood.out" 20 &
FLOOD=$!
_stop_flood() { kill "$FLOOD" 2>/dev/null; }
agent_on_exit _stop_flood
sleep 3
peak=$(rss)
for n in 1 2 3 4 5 6; do
	post_hook github web "$(push_of "$FIXTURES/github-push.json" "$n")" "$S" "attack-body-$$-$n" --max-time 10
	expect 202
	r=$(rss); [ "$r" -gt "$peak" ] && peak=$r
	sleep 1
done
cat "$AGENT_DIR/flood.out"
r=$(rss); [ "$r" -gt "$peak" ] && peak=$r
kill "$FLOOD" 2>/dev/null
wait "$FLOOD" 2>/dev/null
answered=$(sed -n 's/.*answered \(.*\) sent.*/\1/p' "$AGENT_DIR/flood.out")
echo "VmRSS: before $rss0 KiB, peak during the flood $peak KiB; attackers answered: $answered"
count() { python3 -c "import sys; print(dict($answered).get(sys.argv[1], 0))" "$1"; }
# the unsigned ones at once, the one whose body was let in once it was whole (wrong signature)
[ "$(count 401)" -ge $N ] || fail "the $N unsigned attackers did not all get 401 before their body: $answered"
[ "$(count 503)" -ge 1 ] || fail "no attacker got 503 with Retry-After past the body cap: $answered"
grep -q "without-Retry-After" <<<"$answered" && fail "a 503 without Retry-After: $answered"
# bodies held are bounded by HTTP_BODY_TOTAL_MAX (48 MiB) whatever the attackers send
[ $((peak - rss0)) -lt $((96 * 1024)) ] || fail "VmRSS grew by $((peak - rss0)) KiB under the flood"
kill -0 "$AGENT_PID" || fail "the agent died"
http_req "$AGENT_URL/metrics"
expect 200
refused=$(sed -n 's/^s2i_agent_http_requests_refused_total //p' <<<"$HTTP_BODY")
[ "${refused:-0}" -ge $((N + 4)) ] || fail "metrics count $refused requests refused from their head"
post_hook github web "$(push_of "$FIXTURES/github-push.json" 99)" "$S" "attack-body-$$-after" --max-time 10
expect 202
stop_agent || fail "agent exited $? on SIGTERM"
echo "attack-body: early answers, $N unsigned refused, bodies capped, RSS +$((peak - rss0)) KiB"
