#!/usr/bin/env bash
# Bench piece: a retention pass over 10,000 build rows and their logs (4 KiB each), one
# repository, keep_builds = 10: by hand (`s2i-agent prune`, until it returns: the logs
# it moved into the trash are unlinked by a process it leaves in the background, whose
# time is printed too) and by the daemon's pass at start (slices in its group commit,
# each fsynced; the logs go into the trash, unlinked by a child process afterwards).
# Then intake's latency (tests/bench/prune_intake.py: 4 clients posting signed pushes
# of another repository, whose builds retention leaves alone)
# while the daemon's pass runs, against a baseline of the same daemon on the same
# state with retention off, in the same run. Targets: each pass <= 2 s; p99 during the
# pass <= the baseline's p99 + 5 ms. Prints the figures.
# Env: BENCH_PRUNE_ROWS (10000), S2I_AGENT.
set -u
cd "$(dirname "$0")/../.."
source tests/lib/agent.sh
ROWS=${BENCH_PRUNE_ROWS:-10000}
command -v sqlite3 >/dev/null || skip "prune bench: sqlite3 is not installed"
[ -x "$S2I_AGENT" ] || { echo "prune bench: no binary $S2I_AGENT (run make)"; exit 1; }
agent_init
printf '%s\n' "prune-bench-secret-$$-0123456789" >"$AGENT_DIR/web.secret"
chmod 600 "$AGENT_DIR/web.secret"
repos_conf() {	# keep_builds
	cat >"$AGENT_DIR/repos.conf" <<EOC

[repo "web"]
url = $AGENT_DIR/web.git
builder = none
secret_file = $AGENT_DIR/web.secret
keep_builds = $1
keep_days = 0

[repo "api"]
url = $AGENT_DIR/api.git
builder = none
secret_file = $AGENT_DIR/web.secret
keep_builds = 0
keep_days = 0
cancel_superseded = no
EOC
}
repos_conf 10
AGENT_EXTRA="workers = 0
min_free_space = 0
queue_max = 100000"
AGENT_PORT=$(free_port) || fail "no free port"
agent_write_config

# ROWS finished builds of two refs with a log each, written straight into the database
fill() {
	"$S2I_AGENT" prune -c "$AGENT_DIR/agent.conf" >/dev/null || fail "prune on an empty state"
	sqlite3 "$AGENT_DIR/state/agent.db" "
		WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < $ROWS)
		INSERT INTO builds (repo, ref, sha, state, created, started, finished, provider, delivery)
		SELECT 'web', CASE x % 2 WHEN 0 THEN 'refs/heads/main' ELSE 'refs/heads/dev' END,
		       printf('%040d', x), 'succeeded', 1000 * x, 1000 * x, 1000 * x + 500, 'github', 'd-' || x
		FROM n;
		INSERT INTO deliveries (repo, provider, delivery, build_id)
		SELECT repo, provider, delivery, id FROM builds;" || fail "sqlite3 insert"
	python3 -c '
import sys
d, n = sys.argv[1], int(sys.argv[2])
line = (b"x" * 63 + b"\n") * 64
for i in range(1, n + 1):
    with open("%s/%d.log" % (d, i), "wb") as f:
        f.write(line)
' "$AGENT_DIR/state/logs" "$ROWS" || fail "logs"
	sync
}
mkdir -p "$AGENT_DIR/state/logs"
fill
t0=$(date +%s.%N)
out=$("$S2I_AGENT" prune -c "$AGENT_DIR/agent.conf") || fail "prune: $out"
secs=$(echo "$(date +%s.%N) - $t0" | bc)
want=$((ROWS - 10))
[ "$(head -n 1 <<<"$out")" = "deleted $want builds and $want logs ($((want * 4096)) bytes)" ] ||
	fail "prune said: $out"
[ "$(ls "$AGENT_DIR/state/logs" | wc -l)" = 10 ] || fail "logs left: $(ls "$AGENT_DIR/state/logs" | wc -l)"
trash_empty() { [ -z "$(ls -A "$AGENT_DIR/state/logs/.trash" 2>/dev/null)" ]; }
wait_for 120 trash_empty || fail "the trash was not emptied: $(ls "$AGENT_DIR/state/logs/.trash" | wc -l) files"
usecs=$(echo "$(date +%s.%N) - $t0 - $secs" | bc)
printf 'prune: s2i-agent prune of %d rows and logs: %.2f s (target <= 2 s); its files unlinked in the background %.2f s later\n' \
	"$want" "$secs" "$usecs"

# intake while the daemon's pass runs; the baseline first: the same daemon on the same
# state, retention off
KEEP_PORT=1
intake() {	# seconds [--pass]: "n p50 p99 max codes" of intake meanwhile
	python3 tests/bench/prune_intake.py "http://127.0.0.1:$AGENT_PORT" api \
		"$(cat "$AGENT_DIR/web.secret")" "$FIXTURES/github-push.json" "$AGENT_LOG" "$@" \
		>"$AGENT_DIR/intake.out" &
	INTAKE_PID=$!
}
rm -rf "$AGENT_DIR/state"
mkdir -p "$AGENT_DIR/state/logs"
fill
repos_conf 0
: >"$AGENT_LOG"
intake 2
start_agent || fail "agent did not start"
wait "$INTAKE_PID" || fail "baseline intake failed"
read -r bn bp50 bp99 bmax bcodes <"$AGENT_DIR/intake.out"
stop_agent || fail "agent exited $? on SIGTERM"

rm -rf "$AGENT_DIR/state"
mkdir -p "$AGENT_DIR/state/logs"
fill
repos_conf 10
: >"$AGENT_LOG"
intake 1 --pass
start_agent || fail "agent did not start"
wait "$INTAKE_PID" || fail "intake during the pass failed"
read -r pn pp50 pp99 pmax pcodes <"$AGENT_DIR/intake.out"
wait_grep "retention: deleted [0-9]* builds" "$AGENT_LOG" 60 || fail "no pass logged"
line=$(grep -m1 'retention: deleted [0-9]* builds' "$AGENT_LOG")
rows=$(sed -n 's/.*retention: deleted \([0-9]*\) builds.*/\1/p' <<<"$line")
ms=$(sed -n 's/.* in \([0-9]*\) ms.*/\1/p' <<<"$line")
wait_grep "retention: unlinked [0-9]* logs from the trash" "$AGENT_LOG" 120 || fail "the trash was not emptied"
sweep=$(grep -m1 'retention: unlinked' "$AGENT_LOG" | sed 's/.*retention: //')
left=$(find "$AGENT_DIR/state/logs" -type f | wc -l)
stop_agent || fail "agent exited $? on SIGTERM"
echo "prune: the daemon's pass at start: $rows of $want rows and logs in $ms ms (target: all in <= 2000 ms); then $sweep"
echo "prune: intake during the pass: p50 $pp50 ms, p99 $pp99 ms, max $pmax ms over $pn deliveries (other answers: $pcodes)"
echo "prune: intake baseline (retention off, same state): p50 $bp50 ms, p99 $bp99 ms, max $bmax ms over $bn deliveries (other answers: $bcodes)"
added=$(echo "$pp99 - $bp99" | bc)
echo "prune: the pass added $added ms to intake p99 (target <= 5 ms)"
[ "$left" = 10 ] || fail "$left log files left, not the 10 kept"
[ "$rows" = "$want" ] && [ "$ms" -le 2000 ] && awk -v s="$secs" -v a="$added" 'BEGIN { exit !(s <= 2 && a <= 5) }' ||
	{ echo "prune: over the target"; exit 1; }
