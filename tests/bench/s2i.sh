#!/usr/bin/env bash
# Bench piece: `s2i-agent build` against the real `s2i build` on the same engine, same
# builder, same flags, runs alternating, medians and ratios: a small app (20 files) with
# one changed file per run, plain and --incremental (targets <= 1.0), and a generated git
# repository of realistic size (thousands of files, tens of MB, a history) given as a
# file:// URL with one new commit per run (target <= 0.7); then the agent's peak RSS while
# building that URL (target <= 30 MB). The s2i CLI: $S2I_BIN, build/s2i, or
# ../shared/peers/s2i.xz (unpacked into build/s2i); without it the piece exits 77.
# Env: RUNS (default 5), BIG_FILES (default 4500), BIG_COMMITS (default 40);
# S2I_BENCH_ENGINES: the engines to run it on, one after the other, each line of figures
# naming its engine (default "docker docker28 docker28-containerd": the host's Docker
# 20.10 and Docker 28.5 on both image stores, see tests/lib/s2i.sh); S2I_TEST_ENGINE
# set: that engine only.
set -u
if [ -z "${S2I_TEST_ENGINE:-}" ]; then
	rc=0 ran=0
	for engine in ${S2I_BENCH_ENGINES-docker docker28 docker28-containerd}; do
		S2I_TEST_ENGINE=$engine bash "$0"
		case $? in
		0) ran=1 ;;
		77) echo "s2i[$engine]: skipped" ;;
		*) rc=1 ;;
		esac
	done
	[ $rc = 0 ] && [ $ran = 0 ] && exit 77
	exit $rc
fi
TEST=bench-s2i
source "$TESTS_DIR/lib/parity.sh"
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
small=$S2I_TMP/small
s2i_git_source "$small" "bench"
mkdir -p "$small/lib"
for i in $(seq 1 19); do head -c 3000 /dev/urandom | base64 >"$small/lib/mod$i.txt"; done
s2i_commit_all "$small" "the app"
small_change() {
	echo "$RANDOM-$(now)" >"$small/version.txt"
	s2i_commit_all "$small" "one change"
}
tag=$(s2i_name small)
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
git init -q --bare -b main "$repo"
python3 - "$BIG_FILES" "$BIG_COMMITS" >"$S2I_TMP/stream" <<'EOF'
# a source tree: text files of 1-30 KiB of code-like words in nested directories, some
# binary assets of 50-500 KiB; then commits that each change a few files
import random, sys
n, commits = int(sys.argv[1]), int(sys.argv[2])
rnd = random.Random(7)
words = [bytes(rnd.choice(b"abcdefghijklmnopqrstuvwxyz_(){};=") for _ in range(rnd.randint(2, 12)))
         for _ in range(8000)]
out = sys.stdout.buffer
def text(size):
    parts, got = [], 0
    while got < size:
        line = b"    " * rnd.randint(0, 3) + b" ".join(rnd.choice(words) for _ in range(rnd.randint(2, 10))) + b"\n"
        parts.append(line)
        got += len(line)
    return b"".join(parts)
def commit(t, msg, files):
    out.write(b"commit refs/heads/main\nauthor Bench <bench@example.com> %d +0000\n" % t)
    out.write(b"committer Bench <bench@example.com> %d +0000\n" % t)
    out.write(b"data %d\n%s\n" % (len(msg), msg))
    for path, body in files:
        out.write(b"M 100644 inline %s\ndata %d\n%s\n" % (path, len(body), body))
paths = []
for i in range(n):
    d = b"src/m%02d/p%d" % (i % 60, i % 5)
    if i % 90 == 0:
        paths.append((b"assets/a%04d.bin" % i, bytes(rnd.getrandbits(8) for _ in range(rnd.randint(50, 500) * 1024))))
    else:
        paths.append((b"%s/f%05d.c" % (d, i), text(rnd.randint(1, 30) * 1024)))
commit(1795700000, b"import", paths)
for c in range(commits):
    changed = [(rnd.choice(paths)[0], text(rnd.randint(1, 20) * 1024)) for _ in range(rnd.randint(1, 8))]
    changed = [(p, b) for p, b in changed if not p.endswith(b".bin")]
    commit(1795700000 + 600 * (c + 1), b"change %d" % c, changed)
EOF
git -C "$repo" fast-import --quiet <"$S2I_TMP/stream" || fail "fast-import of the big repository"
git -C "$repo" repack -adq
rm -f "$S2I_TMP/stream"
nfiles=$(git -C "$repo" ls-tree -r main | wc -l)
mb=$(git -C "$repo" ls-tree -r -l main | awk '{s += $4} END {printf "%.1f", s / 1048576}')
packmb=$(du -sm "$repo/objects/pack" | cut -f1)
echo "s2i[$S2I_TEST_ENGINE]: git source: $nfiles files, $mb MB in the tree, $(git -C "$repo" rev-list --count main) commits, ${packmb} MB packed"
# the URL names a work tree: s2i clones a file:// work tree, but copies a bare repository's
# directory as if it were the source
big=$S2I_TMP/big
git clone -q "$repo" "$big" || fail "clone of the big repository"
rm -rf "$repo"
big_change() {	# one new commit with one changed file
	echo "$RANDOM-$(now)" >"$big/src/m01/p1/f00001.c"
	s2i_commit_all "$big" "one change"
}
bigb=$(s2i_name bigbuilder)
bscripts=$S2I_TMP/bscripts
mkdir -p "$bscripts"
printf '#!/bin/sh\nset -e\ncp -a /tmp/src/. ./\necho "files: $(find . -type f | wc -l)"\n' >"$bscripts/assemble"
printf '#!/bin/sh\nexec ls\n' >"$bscripts/run"
chmod 755 "$bscripts"/*
s2i_builder "$bigb" --scripts "$bscripts"
btag=$(s2i_name big)
bench_pair big big_change "file://$big" "$bigb" "$btag"
bench_report big "git source ($nfiles files, $mb MB, file://)" 0.7

big_change
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
			"$S2I_AGENT" build -q -U "unix://$sock" --pull-policy never "$@" "$source" "$builder" \
				"$tag-agent" >/dev/null 2>&1 || fail "traced agent build"
		fi
		t1=$(now)
		kill -TERM "$pid"
		wait "$pid"
		printf 's2i[%s]: trace of %s, %s: %.3fs wall (start s, duration s, bytes up, bytes down, call)\n' \
			"$S2I_TEST_ENGINE" "$label" "$who" "$(echo "$t1 - $t0" | bc)"
		sed 's/^/    /' "$S2I_TMP/trace.$who"
	done
}
trace "small app" small_change "$small" "$builder" "$tag"
trace "small app incremental" small_change "$small" "$builder" "$tag" --incremental
trace "git source" big_change "file://$big" "$bigb" "$btag"
