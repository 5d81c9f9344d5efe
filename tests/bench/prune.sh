#!/usr/bin/env bash
# Bench piece: a retention pass over 10,000 build rows and their logs (4 KiB each), one
# repository, keep_builds = 10: by hand (`s2i-agent prune`) and by the daemon's pass at
# start (slices in its group commit, each fsynced). Target: <= 2 s each. Prints both.
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
cat >"$AGENT_DIR/repos.conf" <<EOC

[repo "web"]
url = $AGENT_DIR/web.git
builder = none
secret_file = $AGENT_DIR/web.secret
keep_builds = 10
keep_days = 0
EOC
AGENT_EXTRA="workers = 0
min_free_space = 0"
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
printf 'prune: s2i-agent prune of %d rows and logs: %.2f s (target <= 2 s)\n' "$want" "$secs"

rm -rf "$AGENT_DIR/state"
mkdir -p "$AGENT_DIR/state/logs"
fill
start_agent || fail "agent did not start"
wait_grep "retention: deleted [0-9]* builds" "$AGENT_LOG" 60 || fail "no pass logged"
line=$(grep -m1 'retention: deleted [0-9]* builds' "$AGENT_LOG")
rows=$(sed -n 's/.*retention: deleted \([0-9]*\) builds.*/\1/p' <<<"$line")
ms=$(sed -n 's/.* in \([0-9]*\) ms.*/\1/p' <<<"$line")
stop_agent || fail "agent exited $? on SIGTERM"
echo "prune: the daemon's pass at start: $rows of $want rows and logs in $ms ms (target: all in <= 2000 ms)"
[ "$rows" = "$want" ] && [ "$ms" -le 2000 ] && awk -v s="$secs" 'BEGIN { exit !(s <= 2) }' ||
	{ echo "prune: over the target"; exit 1; }
