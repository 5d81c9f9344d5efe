#!/usr/bin/env bash
# SIGTERM under load: 16 clients keep sending signed deliveries on keep-alive
# connections while the agent is told to stop. Every answer must be a 202 whose
# build is on disk, or a 503 with Retry-After (the agent is shutting down), or a
# closed connection; nothing else. The agent exits 0 and, restarted on the same
# state, lists exactly one build per delivery answered 202.
# The commit status API (the GitHub double) hangs, so a status post is pending
# when SIGTERM arrives and the agent drains for a while (up to its drain time):
# requests arriving on open connections meanwhile must get 503, never a 202.
set -u
source "$TESTS_DIR/lib/agent.sh"
source "$TESTS_DIR/lib/forge_double.sh"
agent_init
forge_double_status
forge_double_ctl '{"fail": ["hang", "hang", "hang", "hang"]}' >/dev/null
S="intake-shutdown-secret-$$"
AGENT_EXTRA="workers = 0"
agent_repo web "$S" "cancel_superseded=no" "${FORGE_STATUS_CONF[@]}" status_repo=acme/web
start_agent || fail "agent did not start"

cat >"$AGENT_DIR/load.py" <<'PY'
import hashlib, hmac, http.client, json, os, signal, sys, threading, time
port, secret, body_file, pid, out = int(sys.argv[1]), sys.argv[2].encode(), sys.argv[3], int(sys.argv[4]), sys.argv[5]
fixture = open(body_file, "rb").read()
after = json.loads(fixture)["after"].encode()
results, lock = [], threading.Lock()
stop_at = time.time() + 30

def client(n):
    conn, i = None, 0
    while time.time() < stop_at:
        i += 1
        did = "shutdown-%d-%d-%d" % (os.getpid(), n, i)
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
            # each delivery its own push (a commit of its own): the agent answers a
            # signed body seen before as a replay
            body = fixture.replace(after, hashlib.sha1(did.encode()).hexdigest().encode())
            sig = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
            conn.request("POST", "/hooks/web", body, {
                "Content-Type": "application/json", "X-GitHub-Event": "push",
                "X-GitHub-Delivery": did, "X-Hub-Signature-256": sig})
            r = conn.getresponse()
            r.read()
            rec = (did, r.status, r.getheader("Retry-After") or "-")
            if r.getheader("Connection", "").lower() == "close":
                conn.close(); conn = None
        except (ConnectionError, OSError, http.client.HTTPException) as e:
            rec = (did, 0, type(e).__name__)
            conn = None
            try:
                socket_ok = True
                http.client.HTTPConnection("127.0.0.1", port, timeout=2).connect()
            except OSError:
                socket_ok = False
            if not socket_ok:
                with lock:
                    results.append(rec)
                return
        with lock:
            results.append(rec)

threads = [threading.Thread(target=client, args=(n,)) for n in range(16)]
for t in threads:
    t.start()
time.sleep(1.0)
os.kill(pid, signal.SIGTERM)
for t in threads:
    t.join()
with open(out, "w") as f:
    for did, code, extra in results:
        f.write("%s %d %s\n" % (did, code, extra))
PY
python3 "$AGENT_DIR/load.py" "$AGENT_PORT" "$S" "$FIXTURES/github-push.json" "$AGENT_PID" "$AGENT_DIR/results" \
	|| fail "load client failed"
wait "$AGENT_PID"
rc=$?
AGENT_PID=
[ "$rc" = 0 ] || fail "agent exited $rc on SIGTERM under load"

n202=$(awk '$2 == 202' "$AGENT_DIR/results" | wc -l)
n503=$(awk '$2 == 503' "$AGENT_DIR/results" | wc -l)
nclosed=$(awk '$2 == 0' "$AGENT_DIR/results" | wc -l)
other=$(awk '$2 != 202 && $2 != 503 && $2 != 0' "$AGENT_DIR/results")
[ -z "$other" ] || fail "unexpected answers during shutdown: $(head -3 <<<"$other")"
bad503=$(awk '$2 == 503 && $3 == "-"' "$AGENT_DIR/results" | wc -l)
[ "$bad503" = 0 ] || fail "$bad503 answers 503 without Retry-After"
[ "$n202" -gt 0 ] || fail "no delivery was accepted before SIGTERM"
# the hanging status post held the drain open while the clients kept sending
[ "$n503" -gt 0 ] || fail "no request was answered 503 while the agent was draining"

# every 202 is a build on disk, exactly once; nothing else was queued
start_agent || fail "agent did not restart"
awk '$2 == 202 {print $1}' "$AGENT_DIR/results" | sort >"$AGENT_DIR/ok.ids"
sqlite3 -readonly "$AGENT_DIR/state/agent.db" "SELECT delivery FROM builds WHERE delivery LIKE 'shutdown-%'" \
	| sort >"$AGENT_DIR/db.ids"
missing=$(comm -23 "$AGENT_DIR/ok.ids" "$AGENT_DIR/db.ids" | wc -l)
[ "$missing" = 0 ] || fail "$missing deliveries answered 202 have no build after the restart"
dups=$(uniq -d "$AGENT_DIR/db.ids" | wc -l)
[ "$dups" = 0 ] || fail "$dups deliveries have two builds"
extra=$(comm -13 "$AGENT_DIR/ok.ids" "$AGENT_DIR/db.ids" | wc -l)
# a request committed while its client was being cut off can be on disk unanswered:
# at most one per client
[ "$extra" -le 16 ] || fail "$extra builds on disk for deliveries not answered 202"
http_req "$AGENT_URL/builds?limit=1"
expect 200
echo "intake-shutdown: $n202 answered 202 (all on disk), $n503 answered 503 with Retry-After, $nclosed cut when the agent exited, $extra committed but unanswered"
stop_agent || fail "agent exited $? on SIGTERM"
exit 0
