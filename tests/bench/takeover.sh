#!/usr/bin/env bash
# Bench piece: takeover on a fleet. Runs the SIGKILL part of tests/e2e/fleet-takeover.sh
# (two agents on a private PostgreSQL and the host's engine; the agent running a build
# is killed with its build process) BENCH_TAKEOVER_RUNS times with lease =
# BENCH_LEASE seconds, and prints the time from the SIGKILL to the build running
# again on the other agent, against the target.
# Target (issue 13): running again elsewhere within lease + 5 s.
# Env: BENCH_LEASE (10), BENCH_TAKEOVER_RUNS (3).
set -u
cd "$(dirname "$0")/../.."
LEASE=${BENCH_LEASE:-10}
RUNS=${BENCH_TAKEOVER_RUNS:-3}
[ -x "$S2I_AGENT" ] || { echo "takeover bench: no binary $S2I_AGENT (run make)"; exit 1; }
target=$(((LEASE + 5) * 1000))
figures=()
for i in $(seq 1 "$RUNS"); do
	out=$(TAKEOVER_LEASE=$LEASE TAKEOVER_KILL_ONLY=1 bash tests/e2e/fleet-takeover.sh 2>&1)
	rc=$?
	[ "$rc" = 77 ] && { echo "$out" | tail -n 1; exit 77; }
	ms=$(sed -n 's/^takeover: .* \([0-9][0-9]*\) ms after SIGKILL.*/\1/p' <<<"$out")
	if [ "$rc" != 0 ] || [ -z "$ms" ]; then
		echo "takeover run $i failed (exit $rc):"
		tail -n 20 <<<"$out"
		exit 1
	fi
	echo "run $i: running again elsewhere $ms ms after SIGKILL"
	figures+=("$ms")
done
max=$(printf '%s\n' "${figures[@]}" | sort -n | tail -n 1)
med=$(printf '%s\n' "${figures[@]}" | sort -n | sed -n "$(((RUNS + 1) / 2))p")
verdict="met"
[ "$max" -le "$target" ] || verdict="NOT met"
printf 'takeover: median %d ms, max %d ms from SIGKILL to running again elsewhere (lease %ds; target <= lease + 5 s = %d ms): %s\n' \
	"$med" "$max" "$LEASE" "$target" "$verdict"
[ "$verdict" = met ]
