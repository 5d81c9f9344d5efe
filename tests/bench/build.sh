#!/usr/bin/env bash
# Build benchmark: `s2i-agent build` of a small source changed every run against
# `docker build` of the equivalent Dockerfile (FROM the builder, COPY the source,
# RUN assemble, CMD run) on the same builder, runs alternating; medians and ratio
# (target <= 0.8). Then the agent's peak RSS while building a 1 GB source tree
# (target <= 30 MB). Env: RUNS (default 7), BIG_MB (default 1024).
set -u
TEST=bench-build
source "$TESTS_DIR/lib/s2i.sh"
RUNS=${RUNS:-7}
BIG_MB=${BIG_MB:-1024}

scripts=$S2I_TMP/scripts
mkdir -p "$scripts"
printf '#!/bin/sh\nset -e\ncp -a /tmp/src/. ./\necho "built $(cat version.txt)"\n' >"$scripts/assemble"
printf '#!/bin/sh\nexec cat ./version.txt\n' >"$scripts/run"
chmod 755 "$scripts"/*
builder=$(s2i_name builder)
s2i_builder "$builder" --scripts "$scripts"
src=$S2I_TMP/src
mkdir -p "$src/lib"
for i in $(seq 1 20); do head -c 4096 /dev/urandom | base64 >"$src/lib/mod$i.txt"; done
ctx=$S2I_TMP/ctx
mkdir -p "$ctx"
printf 'FROM %s\nCOPY --chown=1001:0 src /tmp/src\nRUN /usr/libexec/s2i/assemble\nCMD ["/usr/libexec/s2i/run"]\n' \
	"$builder" >"$ctx/Dockerfile"
agent_tag=$(s2i_name agent):latest
docker_tag=$(s2i_name docker):latest

now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

# one warm-up each (page cache, image layers)
echo 0 >"$src/version.txt"
"$S2I_AGENT" build --network none -q "$src" "$builder" "$agent_tag" >/dev/null || fail "warm-up agent build"
rm -rf "$ctx/src" && cp -a "$src" "$ctx/src"
DOCKER_BUILDKIT=0 docker build -q --network none -t "$docker_tag" "$ctx" >/dev/null 2>&1 || fail "warm-up docker build"

: >"$S2I_TMP/agent.t"
: >"$S2I_TMP/docker.t"
for i in $(seq 1 "$RUNS"); do
	echo "$i-$RANDOM" >"$src/version.txt"
	t0=$(now)
	"$S2I_AGENT" build --network none -q "$src" "$builder" "$agent_tag" >/dev/null || fail "agent build $i"
	t1=$(now)
	echo "$t1 - $t0" | bc >>"$S2I_TMP/agent.t"
	[ "$(s2i_run "$agent_tag")" = "$(cat "$src/version.txt")" ] || fail "agent image $i is stale"

	echo "$i-$RANDOM-d" >"$src/version.txt"
	t0=$(now)
	# putting the source into the build context is part of a docker build's work
	rm -rf "$ctx/src" && cp -a "$src" "$ctx/src"
	DOCKER_BUILDKIT=0 docker build -q --network none -t "$docker_tag" "$ctx" >/dev/null 2>&1 || fail "docker build $i"
	t1=$(now)
	echo "$t1 - $t0" | bc >>"$S2I_TMP/docker.t"
	[ "$(s2i_run "$docker_tag")" = "$(cat "$src/version.txt")" ] || fail "docker image $i is stale"
done
a=$(median <"$S2I_TMP/agent.t")
d=$(median <"$S2I_TMP/docker.t")
ratio=$(echo "scale=3; $a / $d" | bc)
printf 'build: s2i-agent median %.3fs, docker build median %.3fs over %d runs each: ratio %.2f (target <= 0.80)\n' \
	"$a" "$d" "$RUNS" "$ratio"
echo "  agent runs:  $(tr '\n' ' ' <"$S2I_TMP/agent.t")"
echo "  docker runs: $(tr '\n' ' ' <"$S2I_TMP/docker.t")"

# peak RSS while streaming a 1 GB source (assemble drops it, so the image stays small)
big=$S2I_TMP/big
mkdir -p "$big/data"
n=$((BIG_MB / 16))
for i in $(seq 1 "$n"); do head -c 16M /dev/urandom >"$big/data/blob$i.bin"; done
printf 'echo big\n' >"$big/app.sh"
bscripts=$S2I_TMP/bscripts
mkdir -p "$bscripts"
printf '#!/bin/sh\ndu -sm /tmp/src | cut -f1 | sed "s/^/source MB: /"\nrm -rf /tmp/src\n' >"$bscripts/assemble"
printf '#!/bin/sh\nexec sh ./app.sh\n' >"$bscripts/run"
chmod 755 "$bscripts"/*
bbuilder=$(s2i_name bigbuilder)
s2i_builder "$bbuilder" --scripts "$bscripts"
big_tag=$(s2i_name big):latest
t0=$(now)
/usr/bin/time -v "$S2I_AGENT" build --network none "$big" "$bbuilder" "$big_tag" >"$S2I_TMP/big.out" 2>"$S2I_TMP/big.time" ||
	{ cat "$S2I_TMP/big.out" "$S2I_TMP/big.time"; fail "big build"; }
t1=$(now)
rss=$(awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); print $2}' "$S2I_TMP/big.time")
mb=$(grep -o 'source MB: [0-9]*' "$S2I_TMP/big.out" | grep -o '[0-9]*$')
printf 'build: peak RSS %.1f MB while building a %s MB source (%s MB arrived) in %.1fs (target <= 30 MB)\n' \
	"$(echo "scale=1; $rss / 1024" | bc)" "$BIG_MB" "${mb:-?}" "$(echo "$t1 - $t0" | bc)"
