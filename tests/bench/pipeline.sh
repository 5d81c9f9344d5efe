#!/usr/bin/env bash
# Bench piece (run by tests/bench/run): push -> success commit status through the real
# daemon (signed GitHub webhook, build in a child process, statuses posted to the forge
# double) against `s2i-agent build` alone of the same commit of the same bare repository
# with the same builder; runs alternate, medians and the ratio (target: <= 1.2).
# Env: S2I_AGENT, BENCH_RUNS (5).
set -u
cd "$(dirname "$0")/../.."
export TESTS_DIR=$PWD/tests
export S2I_AGENT=${S2I_AGENT:-$PWD/build/rel/s2i-agent}
RUNS=${BENCH_RUNS:-5}
TEST=bench-pipeline
source "$TESTS_DIR/lib/pipeline.sh"

pl_builder
pl_repo web "status_repo=acme/web"
start_agent || fail "agent did not start"
now() { date +%s.%N; }

# one warm-up of each, so images and the mirror exist
sha=$(pl_commit web "warm up")
pl_push web >/dev/null
pl_github_push web "$sha"
[ "$(pl_wait 1 120)" = succeeded ] || fail "warm-up build failed"
"$S2I_AGENT" build -p never --network none -r "$sha" "$AGENT_DIR/web.git" "$PL_BUILDER" \
	"s2i-agent-test/$PL_ID-cli:latest" >/dev/null 2>&1 || fail "warm-up CLI build failed"

# Waits for the success post of sha in the double's log with bash builtins only, so the
# waiting costs the machine nothing while the agent is timed.
exec 4<> <(:)
wait_success() {	# sha
	local line part= n=0
	exec 3<"$FORGE_DOUBLE_LOG"
	while [ $n -lt 12000 ]; do
		if IFS= read -r part <&3; then
			line+=$part
			[[ $line == *"$1"* && $line == *'"state": "success"'* ]] && { exec 3<&-; return 0; }
			line=
		else
			line+=$part
			read -t 0.01 -u 4 || true
			n=$((n + 1))
		fi
	done
	exec 3<&-
	return 1
}

agent_times=() cli_times=()
for i in $(seq 1 "$RUNS"); do
	sha=$(pl_commit web "change $i" app.sh "echo \"run $i\"")
	pl_push web >/dev/null
	# the signed delivery is made before the clock starts: only its POST is timed
	jq --arg after "$sha" '.ref = "refs/heads/main" | .after = $after | .head_commit.id = $after' \
		"$FIXTURES/github-push.json" >"$AGENT_DIR/push.json"
	sig=$(sign "pipeline-secret-web-$$" "$AGENT_DIR/push.json")
	t0=$(now)
	code=$(curl -s -o /dev/null -w '%{http_code}' -H "X-GitHub-Event: push" -H "X-GitHub-Delivery: bench-$i" \
		-H "Content-Type: application/json" -H "X-Hub-Signature-256: sha256=$sig" \
		--data-binary "@$AGENT_DIR/push.json" "$AGENT_URL/hooks/web")
	[ "$code" = 202 ] || fail "webhook: $code"
	wait_success "$sha" || fail "no success status for run $i"
	t1=$(now)
	agent_times+=("$(echo "$t1 - $t0" | bc)")

	t0=$(now)
	"$S2I_AGENT" build -p never --network none -r "$sha" "$AGENT_DIR/web.git" "$PL_BUILDER" \
		"s2i-agent-test/$PL_ID-cli:latest" >/dev/null 2>&1 || fail "CLI build $i failed"
	t1=$(now)
	cli_times+=("$(echo "$t1 - $t0" | bc)")
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
ma=$(median "${agent_times[@]}") mc=$(median "${cli_times[@]}")
rss=$(awk '/^VmRSS/ {print $2}' "/proc/$AGENT_PID/status")
printf 'push -> success status (agent): median %.3fs  runs: %s\n' "$ma" "${agent_times[*]}"
printf 's2i-agent build alone:          median %.3fs  runs: %s\n' "$mc" "${cli_times[*]}"
printf 'ratio agent / build: %.2f (target <= 1.2)\n' "$(echo "$ma / $mc" | bc -l)"
printf 'daemon RSS after %d builds: %d KiB\n' "$((RUNS + 1))" "$rss"
stop_agent || fail "agent exited $? on SIGTERM"
exit 0
