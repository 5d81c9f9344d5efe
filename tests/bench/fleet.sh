#!/usr/bin/env bash
# Bench piece: intake on PostgreSQL against intake on SQLite. One agent on its own
# SQLite store, one (and then two more: three agents, the issue's fleet) on a private
# PostgreSQL (tests/lib/pg.sh); wrk POSTs signed GitHub pushes (a push of its own
# each, tests/bench/intake.lua) for BENCH_SECONDS at BENCH_CONNECTIONS connections,
# split evenly over the agents of a run. Prints deliveries/s and p50/p99 per run,
# and checks that every 202 is a row in the database.
# Targets (issue 13): three agents on one PostgreSQL >= the SQLite agent's rate, p99
# <= 20 ms at 32 connections.
# Env: BENCH_SECONDS (10), BENCH_CONNECTIONS (32), BENCH_POOL_RATE (20000).
set -u
cd "$(dirname "$0")/../.."
source tests/lib/agent.sh
source tests/lib/pg.sh
SECS=${BENCH_SECONDS:-10}
CONNS=${BENCH_CONNECTIONS:-32}
POOL_RATE=${BENCH_POOL_RATE:-20000}
command -v wrk >/dev/null || skip "fleet bench: wrk is not installed (Debian package wrk)"
[ -x "$S2I_AGENT" ] || { echo "fleet bench: no binary $S2I_AGENT (run make)"; exit 1; }

agent_init
pg_start || fail "PostgreSQL did not start"
PIDS=()
bench_stop() {
	local p
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
	pg_stop
}
agent_on_exit bench_stop
SECRET="bench-secret-$$-0123456789"
BODY=$FIXTURES/github-push.json
agent_repo web "$SECRET" "cancel_superseded=no"
AGENT_EXTRA="queue_max = 1000000000
workers = 0"
start_agent || fail "the SQLite agent did not start"
SQ_URL=$AGENT_URL

# PostgreSQL agents: the SQLite agent's configuration with their own port, state
# directory and the database
PG_URLS=()
for n in 1 2 3; do
	port=$(free_port)
	sed -e "s|127.0.0.1:$AGENT_PORT|127.0.0.1:$port|g" -e "s|^state_dir = .*|state_dir = $AGENT_DIR/pg$n\\
database = $PG_URL\\
database_password_file = $PG_PASSWORD_FILE|" "$AGENT_DIR/agent.conf" >"$AGENT_DIR/pg$n.conf"
	"$S2I_AGENT" serve -c "$AGENT_DIR/pg$n.conf" >"$AGENT_DIR/pg$n.log" 2>&1 &
	PIDS+=($!)
	wait_port "$port" 15 "$!" || fail "PostgreSQL agent $n did not start: $(tail -n 3 "$AGENT_DIR/pg$n.log")"
	PG_URLS+=("http://127.0.0.1:$port")
done

val() { sed -n "s/^$1=//p" "$2"; }
# run name conns urls...: wrk against each url at once (conns split over them)
run() {
	local name=$1 c=$2 i=0 u pids=() rate=0 n202=0 p99=0
	shift 2
	for u in "$@"; do
		i=$((i + 1))
		python3 tests/bench/intake_pool.py "$SECRET" "$BODY" "$name-$i" $((SECS * POOL_RATE)) \
			>"$AGENT_DIR/pool-$i" || fail "cannot sign the pool of pushes"
	done
	i=0
	for u in "$@"; do
		i=$((i + 1))
		wrk -t 1 -c $((c / $#)) -d "${SECS}s" --latency -s tests/bench/intake.lua "$u" -- \
			/hooks/web "$AGENT_DIR/pool-$i" "$BODY" "$name-$i" 1 2>&1 |
			sed -n '/^requests=/,$p' >"$AGENT_DIR/$name-$i.out" &
		pids+=($!)
	done
	wait "${pids[@]}"
	for i in $(seq 1 $#); do
		f=$AGENT_DIR/$name-$i.out
		[ -s "$f" ] || fail "wrk printed no figures ($name)"
		rate=$(echo "$rate + $(val rate "$f")" | bc)
		n202=$((n202 + $(val n202 "$f")))
		p99=$(echo "if ($(val p99_ms "$f") > $p99) $(val p99_ms "$f") else $p99" | bc)
		rm -f "$AGENT_DIR/pool-$i"
	done
	printf '%-26s %6s %12s %9s %8s\n' "$name" "$c" "$rate" "$p99" "$n202"
	RUN_202=$n202
}
printf '%-26s %6s %12s %9s %8s\n' "" "conns" "deliveries/s" "p99 ms" "202s"
run sqlite "$CONNS" "$SQ_URL"
sq_202=$RUN_202
rows=$(db_count builds "delivery LIKE 'sqlite-%'")
[ "$rows" -ge "$sq_202" ] || fail "SQLite: fewer rows ($rows) than 202 answers ($sq_202)"
run postgresql-1-agent "$CONNS" "${PG_URLS[0]}"
one=$RUN_202
run postgresql-3-agents "$CONNS" "${PG_URLS[@]}"
three=$RUN_202
rows=$(pg_sql "SELECT count(*) FROM builds WHERE delivery LIKE 'postgresql-%'")
[ "$rows" -ge $((one + three)) ] || fail "PostgreSQL: fewer rows ($rows) than 202 answers ($((one + three)))"
echo "durability: every 202 is a row (SQLite $sq_202 answers, PostgreSQL $((one + three)) answers, $rows rows)"
echo "wrk: ${SECS}s per run; $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
exit 0
