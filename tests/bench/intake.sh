#!/usr/bin/env bash
# Bench piece: webhook intake. wrk POSTs signed GitHub push deliveries (unique
# delivery ids) to s2i-agent and, in the same run, to adnanh/webhook with a
# payload-hmac-sha256 trigger rule running /bin/true. Prints deliveries/s and
# p50/p99 for both, the ratio, the agent's RSS idle and after, and checks that
# every 202 is a row in the database. Targets: >= 3x webhook, p99 <= 10 ms,
# idle RSS <= 5 MB, RSS after <= 30 MB.
# Each level runs BENCH_REPEAT times, the agent and webhook alternating so drift of the
# machine hits both; every run is printed, then the median row of each (rate and p99
# medians taken separately), and the ratio of the median rates.
# Env: BENCH_SECONDS (10), BENCH_CONNECTIONS ("32 128": one level per value),
# BENCH_REPEAT (3), BENCH_THREADS (1), BENCH_WORKER (1: also the +worker agent).
set -u
cd "$(dirname "$0")/../.."
source tests/lib/agent.sh
SECS=${BENCH_SECONDS:-10}
REPEAT=${BENCH_REPEAT:-3}
CONNS=${BENCH_CONNECTIONS:-32 128}	# wrk connections, one run each
THREADS=${BENCH_THREADS:-1}
WORKER_RUN=${BENCH_WORKER:-1}
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
# webhook's config holds the secret in clear: outside AGENT_DIR, whose files the
# secret scan of agent.sh checks at exit
WH_DIR=$(mktemp -d "${TMPDIR:-/tmp}/s2i-bench-webhook.XXXXXX")
cat >"$WH_DIR/hooks.json" <<JSON
[{"id": "web", "execute-command": "/bin/true", "response-message": "ok",
  "trigger-rule": {"match": {"type": "payload-hmac-sha256", "secret": "$SECRET",
    "parameter": {"source": "header", "name": "X-Hub-Signature-256"}}}}]
JSON
webhook -hooks "$WH_DIR/hooks.json" -ip 127.0.0.1 -port "$WH_PORT" >"$WH_DIR/webhook.log" 2>&1 &
WH_PID=$!
W1_PID=
trap 'kill $WH_PID 2>/dev/null; wait $WH_PID 2>/dev/null; rm -rf "$WH_DIR";
	[ -n "$W1_PID" ] && kill $W1_PID 2>/dev/null && wait $W1_PID; agent_cleanup' EXIT
wait_port "$WH_PORT" 10 || fail "webhook did not start: $(cat "$WH_DIR/webhook.log")"

# the "+worker" agent: its own state directory and port, the same repository
W1_DIR=$AGENT_DIR/w1
if [ "$WORKER_RUN" = 1 ]; then
	mkdir -p "$W1_DIR"
	W1_PORT=$(free_port)
	sed -e "s|^listen = .*|listen = 127.0.0.1:$W1_PORT|" \
		-e "s|^public_url = .*|public_url = http://127.0.0.1:$W1_PORT|" \
		-e "s|^state_dir = .*|state_dir = $W1_DIR/state|" \
		-e "s|^workers = .*|workers = 1|" \
		-e "s|^cancel_superseded = .*|cancel_superseded = yes|" \
		"$AGENT_DIR/agent.conf" >"$W1_DIR/agent.conf"
	chmod 640 "$W1_DIR/agent.conf"
	"$S2I_AGENT" serve -c "$W1_DIR/agent.conf" >"$W1_DIR/agent.log" 2>&1 &
	W1_PID=$!
	wait_port "$W1_PORT" 15 || fail "the +worker agent did not start: $(tail -n 5 "$W1_DIR/agent.log")"
	code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Content-Type: application/json" \
		-H "X-GitHub-Event: push" -H "X-GitHub-Delivery: w1-warmup-$$" \
		-H "X-Hub-Signature-256: sha256=$SIG" --data-binary "@$BODY" "http://127.0.0.1:$W1_PORT/hooks/web")
	[ "$code" = 202 ] || fail "the +worker agent does not accept the signed delivery ($code)"
fi
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

# Every delivery a push of its own (the agent answers a signed body seen before as a
# replay): BENCH_POOL_RATE pushes a second per run, signed before the run starts
POOL_RATE=${BENCH_POOL_RATE:-20000}
run_wrk() {	# url run-id out connections
	python3 tests/bench/intake_pool.py "$SECRET" "$BODY" "$2" $((SECS * POOL_RATE)) >"$AGENT_DIR/pool" ||
		fail "cannot sign the pool of pushes"
	wrk -t "$THREADS" -c "$4" -d "${SECS}s" --latency -s tests/bench/intake.lua "$1" -- \
		/hooks/web "$AGENT_DIR/pool" "$BODY" "$2" "$THREADS" 2>&1 | sed -n '/^requests=/,$p' >"$3"
	rm -f "$AGENT_DIR/pool"
	# (adnanh/webhook answers 200 to all)
	case $2 in wh*) ;; *) [ "$(val n200 "$3")" = 0 ] || echo "note: $(val n200 "$3") answers 200 in run $2: more requests than the pool holds (raise BENCH_POOL_RATE)" >&2 ;; esac
}
val() { sed -n "s/^$1=//p" "$2"; }
mb() { echo "$(($1 / 1024)).$(( ($1 % 1024) * 10 / 1024 ))"; }
row() {	# name out conns
	printf '%-17s %6s %12s %9s %9s %9s %8s\n' "$1" "$3" "$(val rate "$2")" "$(val p50_ms "$2")" \
		"$(val p99_ms "$2")" "$(val max_ms "$2")" "$(val nother "$2")"
}
median() {	# key out-files...: the median of key over the runs (the lower middle one)
	local k=$1
	shift
	for f in "$@"; do val "$k" "$f"; done | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'
}
mrow() {	# name conns out-files...
	local n=$1 c=$2
	shift 2
	printf '%-17s %6s %12s %9s %9s %9s %8s\n' "$n" "$c" "$(median rate "$@")" "$(median p50_ms "$@")" \
		"$(median p99_ms "$@")" "$(median max_ms "$@")" "$(median nother "$@")"
}
wh_settle() {	# let webhook finish the /bin/true runs it still owes (its CPU time
	# stops growing; at most 60 s): they would load the machine during the next run
	local prev=-1 now i
	for i in $(seq 1 120); do
		now=$(awk '{print $14 + $15}' "/proc/$WH_PID/stat")
		[ "$now" = "$prev" ] && ! pgrep -P "$WH_PID" >/dev/null && break
		prev=$now
		sleep 0.5
	done
}

rss_max=0 ratios=() wh_rss=0 p99s=()
printf '%-17s %6s %12s %9s %9s %9s %8s\n' "" "conns" "deliveries/s" "p50 ms" "p99 ms" "max ms" "non-2xx"
for c in $CONNS; do
	ag=() wh=() w1=()
	for r in $(seq 1 "$REPEAT"); do
		# the agent first: webhook runs its commands asynchronously, and the
		# /bin/true processes it still owes after its run would load the machine
		run_wrk "$AGENT_URL" "ag$$c$c-$r" "$AGENT_DIR/ag$c-$r.out" "$c"
		x=$(rss "$AGENT_PID")
		[ "$x" -gt "$rss_max" ] && rss_max=$x
		run_wrk "http://127.0.0.1:$WH_PORT" "wh$$c$c-$r" "$AGENT_DIR/wh$c-$r.out" "$c"
		x=$(rss "$WH_PID")
		[ "$x" -gt "$wh_rss" ] && wh_rss=$x
		[ -s "$AGENT_DIR/ag$c-$r.out" ] && [ -s "$AGENT_DIR/wh$c-$r.out" ] || fail "wrk printed no figures"
		ag+=("$AGENT_DIR/ag$c-$r.out")
		wh+=("$AGENT_DIR/wh$c-$r.out")
		row "s2i-agent #$r" "$AGENT_DIR/ag$c-$r.out" "$c"
		row "adnanh/webhook #$r" "$AGENT_DIR/wh$c-$r.out" "$c"
		wh_settle
		if [ "$WORKER_RUN" = 1 ]; then
			run_wrk "http://127.0.0.1:$W1_PORT" "w1$$c$c-$r" "$AGENT_DIR/w1$c-$r.out" "$c"
			[ -s "$AGENT_DIR/w1$c-$r.out" ] || fail "wrk printed no figures (+worker)"
			w1+=("$AGENT_DIR/w1$c-$r.out")
			row "s2i-agent+wkr #$r" "$AGENT_DIR/w1$c-$r.out" "$c"
		fi
	done
	mrow "s2i-agent median" "$c" "${ag[@]}"
	[ "$WORKER_RUN" = 1 ] && mrow "+worker median" "$c" "${w1[@]}"
	mrow "webhook median" "$c" "${wh[@]}"
	ratios+=("$c: $(echo "scale=2; $(median rate "${ag[@]}") / $(median rate "${wh[@]}")" | bc)x")
	p99s+=("$c: $(median p99_ms "${ag[@]}") ms")
done
stop_agent || fail "agent exited $? on SIGTERM after the run"
if [ "$WORKER_RUN" = 1 ]; then
	kill -TERM "$W1_PID"
	wait "$W1_PID" || fail "the +worker agent exited $? on SIGTERM after the run"
	W1_PID=
fi

echo "ratio agent/webhook by connections (median rates of $REPEAT runs): ${ratios[*]} (target >= 3x)"
echo "agent p99 by connections (median of $REPEAT runs): ${p99s[*]} (target <= 10 ms at 32)"
echo "wrk: $THREADS thread(s), ${SECS}s per run; $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
[ "$WORKER_RUN" = 1 ] && echo "+worker: workers = 1, cancel_superseded = yes; builds by state afterwards: $(sqlite3 -readonly "$W1_DIR/state/agent.db" "SELECT group_concat(state || '=' || n, ' ') FROM (SELECT state, count(*) AS n FROM builds GROUP BY state)")"
echo "agent RSS: idle $(mb "$rss_idle") MB (target <= 5), after the runs $(mb "$rss_max") MB (target <= 30); webhook RSS after: $(mb "$wh_rss") MB"
for c in $CONNS; do
	for r in $(seq 1 "$REPEAT"); do
		rows=$(db_count builds "delivery LIKE 'ag$$c$c-$r-%'")
		n202=$(val n202 "$AGENT_DIR/ag$c-$r.out")
		echo "durability ($c connections, run $r): $n202 answers 202, $rows rows in the database ($((rows - n202)) committed while wrk hung up at the end)"
		[ "$rows" -ge "$n202" ] || fail "fewer rows ($rows) than 202 answers ($n202): deliveries lost"
		[ $((rows - n202)) -le "$c" ] || fail "more rows than 202 answers plus requests in flight"
		[ "$WORKER_RUN" = 1 ] || continue
		rows=$(sqlite3 -readonly "$W1_DIR/state/agent.db" "SELECT count(*) FROM builds WHERE delivery LIKE 'w1$$c$c-$r-%'")
		n202=$(val n202 "$AGENT_DIR/w1$c-$r.out")
		echo "durability ($c connections, +worker, run $r): $n202 answers 202, $rows rows in the database"
		[ "$rows" -ge "$n202" ] || fail "+worker: fewer rows ($rows) than 202 answers ($n202): deliveries lost"
		[ $((rows - n202)) -le "$c" ] || fail "+worker: more rows than 202 answers plus requests in flight"
	done
done
exit 0
