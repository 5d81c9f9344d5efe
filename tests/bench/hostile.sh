#!/usr/bin/env bash
# Bench piece: intake under hostile load. 200 unauthenticated connections each declare
# a 25 MiB body and trickle it (half with no signature header, half with a wrong one;
# each starts again when answered or cut), while another client sends signed
# deliveries one after another. Measured in the same run: the deliveries' p50/p99
# with no attackers (baseline) and under attack; the agent's RSS idle, peak under
# attack and after. Targets: peak RSS <= 64 MiB, p99 under attack <= 50 ms, RSS after
# <= 2x idle.
# Env: BENCH_SECONDS (15: each phase), BENCH_ATTACKERS (200).
set -u
cd "$(dirname "$0")/../.."
source tests/lib/agent.sh
SECS=${BENCH_SECONDS:-15}
ATT=${BENCH_ATTACKERS:-200}
[ -x "$S2I_AGENT" ] || { echo "hostile bench: no binary $S2I_AGENT (run make)"; exit 1; }
ulimit -n 4096 2>/dev/null
agent_init
SECRET="bench-hostile-secret-$$"
AGENT_EXTRA="queue_max = 1000000000
workers = 0"
agent_repo web "$SECRET" "cancel_superseded=no"
start_agent || fail "agent did not start"
rss() { awk '/^VmRSS/ {print $2}' "/proc/$AGENT_PID/status"; }	# KiB
sleep 0.5
rss_idle=$(rss)

cat >"$AGENT_DIR/hostile.py" <<'PY'
import hashlib, hmac, http.client, json, socket, sys, time
port, mode, secs, out = int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), sys.argv[4]
if mode == "deliver":
    secret, body0 = sys.argv[5].encode(), json.load(open(sys.argv[6]))
    lat, codes, n = [], {}, 0
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    t_end = time.time() + secs
    while time.time() < t_end:
        n += 1
        body0["after"] = hashlib.sha1(("%s-%d-%f" % (out, n, time.time())).encode()).hexdigest()
        body = json.dumps(body0).encode()
        sig = hmac.new(secret, body, hashlib.sha256).hexdigest()
        h = {"X-GitHub-Event": "push", "X-GitHub-Delivery": "hostile-%s-%d" % (out[-12:], n),
             "Content-Type": "application/json", "X-Hub-Signature-256": "sha256=" + sig}
        t0 = time.perf_counter()
        c.request("POST", "/hooks/web", body, h)
        r = c.getresponse()
        r.read()
        lat.append((time.perf_counter() - t0) * 1000)
        codes[r.status] = codes.get(r.status, 0) + 1
        time.sleep(0.01)
    lat.sort()
    q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))]
    open(out, "w").write("%d %.2f %.2f %s\n" % (len(lat), q(0.50), q(0.99),
                         ",".join("%s:%d" % kv for kv in sorted(codes.items()))))
    sys.exit(0)
# attack: ATT connections, each declaring 25 MiB and trickling 1 KiB every 100 ms
att = int(sys.argv[5])
def head(i):
    h = "POST /hooks/web HTTP/1.1\r\nHost: 127.0.0.1\r\nX-GitHub-Event: push\r\n"
    if i % 2:
        h += "X-Hub-Signature-256: sha256=" + "0" * 64 + "\r\n"
    return (h + "Content-Length: %d\r\n\r\n" % (25 * 1024 * 1024)).encode()
def conn(i):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(head(i))
    s.setblocking(False)
    return s
socks = [conn(i) for i in range(att)]
restarts, t_end, chunk = 0, time.time() + secs, b"{" * 1024
while time.time() < t_end:
    for i, s in enumerate(socks):
        dead = False
        try:
            if s.recv(4096) == b"":
                dead = True
            else:
                dead = True	# answered: start again
        except BlockingIOError:
            pass
        except OSError:
            dead = True
        if not dead:
            try:
                s.send(chunk)
            except BlockingIOError:
                pass
            except OSError:
                dead = True
        if dead:
            s.close()
            socks[i] = conn(i)
            restarts += 1
    time.sleep(0.1)
open(out, "w").write("%d connections, %d restarted after an answer\n" % (att, restarts))
PY
HP="python3 $AGENT_DIR/hostile.py $AGENT_PORT"
BODY=$FIXTURES/github-push.json
$HP deliver "$SECS" "$AGENT_DIR/base.out" "$SECRET" "$BODY" || fail "baseline client failed"
rss_base=$(rss)
$HP attack "$((SECS + 2))" "$AGENT_DIR/attack.out" "$ATT" &
APID=$!
sleep 1
$HP deliver "$SECS" "$AGENT_DIR/hostile.out" "$SECRET" "$BODY" &
DPID=$!
peak=$(rss)
while kill -0 "$DPID" 2>/dev/null; do
	r=$(rss); [ "$r" -gt "$peak" ] && peak=$r
	sleep 0.2
done
wait "$DPID" || fail "delivery client failed under attack"
wait "$APID"
sleep 3	# early answers linger HTTP_LINGER_SECONDS (2 s)
rss_after=$(rss)
read -r bn bp50 bp99 bcodes <"$AGENT_DIR/base.out"
read -r hn hp50 hp99 hcodes <"$AGENT_DIR/hostile.out"
printf '%-22s %8s %8s %8s  %s\n' "deliveries" "count" "p50 ms" "p99 ms" "answers"
printf '%-22s %8s %8s %8s  %s\n' "baseline (no attack)" "$bn" "$bp50" "$bp99" "$bcodes"
printf '%-22s %8s %8s %8s  %s\n' "under attack" "$hn" "$hp50" "$hp99" "$hcodes"
echo "attackers: $(cat "$AGENT_DIR/attack.out")"
echo "RSS: idle $((rss_idle / 1024)) MiB, after the baseline deliveries $((rss_base / 1024)) MiB, peak under attack $((peak / 1024)) MiB (target <= 64), after $((rss_after / 1024)) MiB (target <= 2x idle)"
ok=1
[[ $hcodes == 202:* && $hcodes != *,* ]] || { echo "MISSED: not every delivery under attack got 202 ($hcodes)"; ok=0; }
awk -v p="$hp99" 'BEGIN { exit !(p <= 50) }' || { echo "MISSED: p99 under attack $hp99 ms > 50 ms"; ok=0; }
[ "$peak" -le $((64 * 1024)) ] || { echo "MISSED: peak RSS $peak KiB > 64 MiB"; ok=0; }
[ "$rss_after" -le $((2 * rss_idle)) ] || { echo "MISSED: RSS after $rss_after KiB > 2x idle $rss_idle KiB"; ok=0; }
stop_agent
[ "$ok" = 1 ] && echo "hostile: all targets met"
[ "$ok" = 1 ]
