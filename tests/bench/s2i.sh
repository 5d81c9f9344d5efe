#!/usr/bin/env bash
# Bench piece: `s2i-agent build` against the real `s2i build` on the same engine, same
# builder, same flags, runs alternating, medians and ratios: a small app (20 files) with
# one changed file per run, plain and --incremental (targets <= 1.0), and a generated git
# repository of realistic size (thousands of files, tens of MB, a history) given as a
# file:// URL with one new commit per run (target <= 0.7); then the agent's peak RSS while
# building that URL (target <= 30 MB). The s2i CLI: $S2I_BIN, build/s2i, or
# ../shared/peers/s2i.xz (unpacked into build/s2i); without it the piece exits 77.
# Env: RUNS (default 5), BIG_FILES (default 4500), BIG_COMMITS (default 40): bigrepo.sh;
# S2I_BENCH_ENGINES: the engines to run it on, one after the other, each line of figures
# naming its engine (default "docker docker28 docker28-containerd podman5": the host's
# Docker 20.10, Docker 28.5 on both image stores and Podman 5.8, see tests/lib/s2i.sh);
# S2I_TEST_ENGINE set: that engine only.
set -u
if [ -z "${S2I_TEST_ENGINE:-}" ]; then
	source "$TESTS_DIR/lib/benchloop.sh"
	bench_each_engine s2i "${S2I_BENCH_ENGINES-docker docker28 docker28-containerd podman5}" "$0"
	exit
fi
TEST=bench-s2i
source "$TESTS_DIR/lib/parity.sh"
source "$TESTS_DIR/lib/bigrepo.sh"
RUNS=${RUNS:-5}
BIG_FILES=${BIG_FILES:-4500}
BIG_COMMITS=${BIG_COMMITS:-40}
export GIT_CONFIG_NOSYSTEM=1

now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

# One timed build of each tool per run, the order alternating between runs; prepare (a
# shell function) runs before every build, untimed. Appends seconds to $S2I_TMP/NAME.s2i
# and $S2I_TMP/NAME.agent.
bench_pair() {	# name prepare source builder tag [flags...]
	local name=$1 prepare=$2 source=$3 builder=$4 tag=$5 i t0 t1 who
	shift 5
	: >"$S2I_TMP/$name.s2i"
	: >"$S2I_TMP/$name.agent"
	for i in $(seq 1 "$RUNS"); do
		for who in $( ((i % 2)) && echo "s2i agent" || echo "agent s2i"); do
			"$prepare"
			t0=$(now)
			if [ "$who" = s2i ]; then
				HOME=$PA_HOME "$PA_S2I" build --pull-policy never "$@" "$source" "$builder" "$tag-s2i" \
					>"$S2I_TMP/run.out" 2>&1 || { cat "$S2I_TMP/run.out"; fail "$name: s2i build $i"; }
			else
				"$S2I_AGENT" build -q --pull-policy never "$@" "$source" "$builder" "$tag-agent" \
					>"$S2I_TMP/run.out" 2>&1 || { cat "$S2I_TMP/run.out"; fail "$name: agent build $i"; }
			fi
			t1=$(now)
			echo "$t1 - $t0" | bc >>"$S2I_TMP/$name.$who"
		done
	done
}

bench_report() {	# name what target
	local a s
	a=$(median <"$S2I_TMP/$1.agent")
	s=$(median <"$S2I_TMP/$1.s2i")
	printf 's2i[%s]: %s: s2i-agent median %.3fs, s2i median %.3fs over %d runs each: ratio %.2f (target <= %s)\n' \
		"$S2I_TEST_ENGINE" "$2" "$a" "$s" "$RUNS" "$(echo "scale=3; $a / $s" | bc)" "$3"
	echo "  s2i-agent runs: $(tr '\n' ' ' <"$S2I_TMP/$1.agent")"
	echo "  s2i runs:       $(tr '\n' ' ' <"$S2I_TMP/$1.s2i")"
}

# ---- a small app: 20 files, one changed (and committed) before every build ----
builder=$(s2i_name builder)
s2i_builder "$builder"
builder=$(s2i_ref "$builder")
small=$S2I_TMP/small
s2i_git_source "$small" "bench"
mkdir -p "$small/lib"
for i in $(seq 1 19); do head -c 3000 /dev/urandom | base64 >"$small/lib/mod$i.txt"; done
s2i_commit_all "$small" "the app"
small_change() {
	echo "$RANDOM-$(now)" >"$small/version.txt"
	s2i_commit_all "$small" "one change"
}
tag=$(s2i_ref "$(s2i_name small)")
# warm-up (page cache, layers) and the previous images of the incremental runs
small_change
"$S2I_AGENT" build -q --pull-policy never "$small" "$builder" "$tag-agent:latest" >/dev/null 2>&1 ||
	fail "warm-up agent build"
HOME=$PA_HOME "$PA_S2I" build --pull-policy never "$small" "$builder" "$tag-s2i:latest" >/dev/null 2>&1 ||
	fail "warm-up s2i build"
bench_pair small small_change "$small" "$builder" "$tag"
bench_report small "small app, one changed file" 1.0
bench_pair inc small_change "$small" "$builder" "$tag" --incremental
bench_report inc "small app, incremental" 1.0

# ---- a git repository of realistic size, with a history, as a file:// URL ----
repo=$S2I_TMP/big.git
echo "s2i[$S2I_TEST_ENGINE]: git source: $(big_repo "$repo")"
nfiles=$(git -C "$repo" ls-tree -r main | wc -l)
mb=$(git -C "$repo" ls-tree -r -l main | awk '{s += $4} END {printf "%.1f", s / 1048576}')
# the URL names a work tree: s2i clones a file:// work tree, but copies a bare repository's
# directory as if it were the source
big=$S2I_TMP/big
git clone -q "$repo" "$big" || fail "clone of the big repository"
rm -rf "$repo"
bigb=$(s2i_name bigbuilder)
big_builder "$bigb"
bigb=$(s2i_ref "$bigb")
btag=$(s2i_ref "$(s2i_name big)")
big_change_work() { big_change "$big"; }
bench_pair big big_change_work "file://$big" "$bigb" "$btag"
bench_report big "git source ($nfiles files, $mb MB, file://)" 0.7

big_change "$big"
/usr/bin/time -v "$S2I_AGENT" build -q --pull-policy never "file://$big" "$bigb" "$btag-agent" \
	>"$S2I_TMP/rss.out" 2>"$S2I_TMP/rss.time" || { cat "$S2I_TMP/rss.out" "$S2I_TMP/rss.time"; fail "RSS build"; }
rss=$(awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); print $2}' "$S2I_TMP/rss.time")
printf 's2i[%s]: peak RSS of s2i-agent build of the git source: %.1f MB (target <= 30 MB)\n' \
	"$S2I_TEST_ENGINE" "$(echo "scale=1; $rss / 1024" | bc)"

# ---- with S2I_BENCH_TRACE=1: one build of each tool through apitrace.py, per API call ----
[ "${S2I_BENCH_TRACE:-0}" = 1 ] || exit 0
trace() {	# label prepare source builder tag [flags...]
	local label=$1 prepare=$2 source=$3 builder=$4 tag=$5 who sock pid t0 t1
	shift 5
	for who in s2i agent; do
		sock=$S2I_TMP/trace.sock
		rm -f "$sock"
		python3 "$TESTS_DIR/bench/apitrace.py" "$sock" "${DOCKER_HOST#unix://}" \
			"$S2I_TMP/trace.$who" &
		pid=$!
		wait_for 5 test -S "$sock" || fail "apitrace did not start"
		"$prepare"
		t0=$(now)
		if [ "$who" = s2i ]; then
			DOCKER_HOST=unix://$sock HOME=$PA_HOME "$PA_S2I" build --pull-policy never "$@" "$source" \
				"$builder" "$tag-s2i" >/dev/null 2>&1 || fail "traced s2i build"
		else
			S2I_AGENT_BUILD_ID=bench-trace-$$ "$S2I_AGENT" build -q -U "unix://$sock" --pull-policy never \
				"$@" "$source" "$builder" "$tag-agent" >/dev/null 2>&1 || fail "traced agent build"
		fi
		t1=$(now)
		# the agent's containers go after it returned, through the tracer: let them go
		[ "$who" = agent ] && wait_for 60 eval \
			'[ -z "$(eng ps -aq --filter label=io.s2i-agent.build=bench-trace-$$)" ]' 
		kill -TERM "$pid"
		wait "$pid"
		printf 's2i[%s]: trace of %s, %s: %.3fs wall (start s, duration s, bytes up, bytes down, call)\n' \
			"$S2I_TEST_ENGINE" "$label" "$who" "$(echo "$t1 - $t0" | bc)"
		sed 's/^/    /' "$S2I_TMP/trace.$who"
	done
}
trace "small app" small_change "$small" "$builder" "$tag"
trace "small app incremental" small_change "$small" "$builder" "$tag" --incremental
trace "git source" big_change_work "file://$big" "$bigb" "$btag"
