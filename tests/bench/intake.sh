#!/usr/bin/env bash
# Bench piece: webhook intake. wrk POSTs signed GitHub push deliveries (unique
# delivery ids) to s2i-agent and, in the same run, to adnanh/webhook with a
# payload-hmac-sha256 trigger rule running /bin/true. Prints deliveries/s and
# p50/p99 for both, the ratio, the agent's RSS idle and after, and checks that
# every 202 is a row in the database. Targets: >= 3x webhook, p99 <= 10 ms,
# idle RSS <= 5 MB, RSS after <= 30 MB.
# Env: BENCH_SECONDS (10), BENCH_CONNECTIONS (32), BENCH_THREADS (1).
set -u
cd "$(dirname "$0")/../.."
source tests/lib/agent.sh
SECS=${BENCH_SECONDS:-10}
CONNS=${BENCH_CONNECTIONS:-32}
THREADS=${BENCH_THREADS:-1}
command -v wrk >/dev/null || skip "intake bench: wrk is not installed (Debian package wrk)"
command -v webhook >/dev/null || skip "intake bench: webhook is not installed (Debian package webhook)"
[ -x "$S2I_AGENT" ] || { echo "intake bench: no binary $S2I_AGENT (run make)"; exit 1; }

agent_init
SECRET="bench-secret-$$"
BODY=$FIXTURES/github-push.json
SIG=$(sign "$SECRET" "$BODY")
AGENT_EXTRA="queue_max = 1000000000
workers = 0"
agent_repo web "$SECRET" "cancel_superseded=no"	# intake only: no build, no superseding
start_agent || fail "agent did not start"
rss() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }	# kB
sleep 0.5
rss_idle=$(rss "$AGENT_PID")

# adnanh/webhook, the same HMAC check, /bin/true per delivery
WH_PORT=$(free_port)
cat >"$AGENT_DIR/hooks.json" <<JSON
[{"id": "web", "execute-command": "/bin/true", "response-message": "ok",
  "trigger-rule": {"match": {"type": "payload-hmac-sha256", "secret": "$SECRET",
    "parameter": {"source": "header", "name": "X-Hub-Signature-256"}}}}]
JSON
webhook -hooks "$AGENT_DIR/hooks.json" -ip 127.0.0.1 -port "$WH_PORT" >"$AGENT_DIR/webhook.log" 2>&1 &
WH_PID=$!
trap 'kill $WH_PID 2>/dev/null; wait $WH_PID 2>/dev/null; agent_cleanup' EXIT
wait_port "$WH_PORT" 10 || fail "webhook did not start: $(cat "$AGENT_DIR/webhook.log")"
sleep 0.3

# sanity: both accept the signed delivery, both refuse a wrong signature
post_hook github web "$BODY" "$SECRET" warmup-1
expect 202
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Content-Type: application/json" \
	-H "X-Hub-Signature-256: sha256=$SIG" --data-binary "@$BODY" "http://127.0.0.1:$WH_PORT/hooks/web")
[ "$code" = 200 ] || fail "webhook does not accept the signed delivery ($code)"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Content-Type: application/json" \
	-H "X-Hub-Signature-256: sha256=$(sign wrong "$BODY")" --data-binary "@$BODY" "http://127.0.0.1:$WH_PORT/hooks/web")
[ "$code" != 200 ] || fail "webhook accepts a wrong signature: its trigger rule is not checked"

run_wrk() {	# url run-id out
	wrk -t "$THREADS" -c "$CONNS" -d "${SECS}s" --latency -s tests/bench/intake.lua "$1" -- \
		/hooks/web "$SIG" "$BODY" "$2" 2>&1 | sed -n '/^requests=/,$p' >"$3"
}
val() { sed -n "s/^$1=//p" "$2"; }

# the agent first: webhook runs its commands asynchronously, and the /bin/true
# processes it still owes after its run would load the machine during ours
run_wrk "$AGENT_URL" "ag$$" "$AGENT_DIR/ag.out"
rss_after=$(rss "$AGENT_PID")
run_wrk "http://127.0.0.1:$WH_PORT" "wh$$" "$AGENT_DIR/wh.out"
wh_rss=$(rss "$WH_PID")
[ -s "$AGENT_DIR/ag.out" ] && [ -s "$AGENT_DIR/wh.out" ] || fail "wrk printed no figures"

stop_agent || fail "agent exited $? on SIGTERM after the run"
rows=$(db_count builds "delivery LIKE 'ag$$-%'")
n202=$(val n202 "$AGENT_DIR/ag.out")

ag_rate=$(val rate "$AGENT_DIR/ag.out") wh_rate=$(val rate "$AGENT_DIR/wh.out")
printf '%-22s %12s %10s %10s %10s %8s\n' "" "deliveries/s" "p50 ms" "p99 ms" "max ms" "non-2xx"
printf '%-22s %12s %10s %10s %10s %8s\n' "s2i-agent" "$ag_rate" "$(val p50_ms "$AGENT_DIR/ag.out")" \
	"$(val p99_ms "$AGENT_DIR/ag.out")" "$(val max_ms "$AGENT_DIR/ag.out")" "$(val nother "$AGENT_DIR/ag.out")"
printf '%-22s %12s %10s %10s %10s %8s\n' "adnanh/webhook" "$wh_rate" "$(val p50_ms "$AGENT_DIR/wh.out")" \
	"$(val p99_ms "$AGENT_DIR/wh.out")" "$(val max_ms "$AGENT_DIR/wh.out")" "$(val nother "$AGENT_DIR/wh.out")"
echo "ratio agent/webhook: $(echo "scale=2; $ag_rate / $wh_rate" | bc)x (target >= 3x)"
echo "wrk: $THREADS thread(s), $CONNS connections, ${SECS}s each; $(nproc) CPUs"
echo "agent RSS: idle $((rss_idle / 1024)).$(( (rss_idle % 1024) * 10 / 1024 )) MB (target <= 5), after $((rss_after / 1024)).$(( (rss_after % 1024) * 10 / 1024 )) MB (target <= 30); webhook RSS after: $((wh_rss / 1024)) MB"
echo "durability: $n202 answers 202, $rows rows in the database ($((rows - n202)) committed while wrk hung up at the end)"
[ "$rows" -ge "$n202" ] || fail "fewer rows ($rows) than 202 answers ($n202): deliveries lost"
[ $((rows - n202)) -le "$CONNS" ] || fail "more rows than 202 answers plus requests in flight"
exit 0
