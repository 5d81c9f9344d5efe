#!/usr/bin/env bash
# Bench piece: the daemon's whole job. `git push` of a one-file commit to a bare repository
# of realistic size (tests/lib/bigrepo.sh: 4,500 files, ~80 MB, a history, like curl's)
# whose post-receive hook is ours (hooks/post-receive: `s2i-agent notify --follow` to the
# real daemon, which builds the commit; the push returns once the build is final, so the
# image exists), against the same push to a bare repository whose post-receive hook runs
# the real `s2i build` synchronously (it checks the pushed commit out into a work tree it
# keeps, then builds that directory: s2i's quickest way to a local source). The same commit
# goes to both, the order alternating between runs; medians and the ratio (target <= 0.7).
# Each run checks that both images were made from the pushed commit.
# Env: RUNS (default 9: single pushes spread widely), BIG_FILES, BIG_COMMITS
# (bigrepo.sh); PUSH_BENCH_ENGINES: the engines, one after the other (default "docker
# docker28 docker28-containerd podman5", see tests/lib/s2i.sh); S2I_TEST_ENGINE set:
# that engine only. PUSH_BENCH_TRACE=1: then one push of each through
# tests/bench/apitrace.py, every Engine API call with its time.
set -u
if [ -z "${S2I_TEST_ENGINE:-}" ]; then
	source "$TESTS_DIR/lib/benchloop.sh"
	bench_each_engine push "${PUSH_BENCH_ENGINES-docker docker28 docker28-containerd podman5}" "$0"
	exit
fi
TEST=bench-push
source "$TESTS_DIR/lib/parity.sh"
source "$TESTS_DIR/lib/bigrepo.sh"
source "$TESTS_DIR/lib/agent.sh"
RUNS=${RUNS:-9}
export GIT_CONFIG_NOSYSTEM=1
export GIT_AUTHOR_NAME=Bench GIT_AUTHOR_EMAIL=bench@example.com
export GIT_COMMITTER_NAME=Bench GIT_COMMITTER_EMAIL=bench@example.com
command -v bc >/dev/null || skip "bc is needed"

agent_init
bench_exit() {
	if [ -n "${AGENT_PID:-}" ] && kill -0 "$AGENT_PID" 2>/dev/null; then
		kill -TERM "$AGENT_PID"
		wait "$AGENT_PID"
	fi
	[ -n "${TRACE_PID:-}" ] && kill -TERM "$TRACE_PID" 2>/dev/null
	s2i_cleanup
	agent_cleanup
}
trap bench_exit EXIT
now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

# ---- the repository, twice (hard links), and the pusher's clone ----
echo "push[$S2I_TEST_ENGINE]: git source: $(big_repo "$S2I_TMP/gen.git")"
ours=$S2I_TMP/big.git
theirs=$S2I_TMP/bigs.git
git clone -q --bare "$S2I_TMP/gen.git" "$ours" || fail "clone of the repository"
git clone -q --bare "$S2I_TMP/gen.git" "$theirs" || fail "clone of the repository"
work=$S2I_TMP/work
git clone -q "$S2I_TMP/gen.git" "$work" || fail "clone of the repository"
rm -rf "$S2I_TMP/gen.git"
bigb=$(s2i_name bigbuilder)
big_builder "$bigb"
bigb=$(s2i_ref "$bigb")
tag=$(s2i_ref "$(s2i_name push)")

# ---- the daemon, and our hook ----
printf 'push-bench-secret-%s-%s\n' "$$" "$RANDOM$RANDOM" >"$AGENT_DIR/big.secret"
chmod 600 "$AGENT_DIR/big.secret"
cat >>"$AGENT_DIR/repos.conf" <<EOF

[repo "big"]
url = $ours
secret_file = $AGENT_DIR/big.secret
builder = $bigb
tag = $tag-agent:latest
pull_policy = never
network = none
EOF
AGENT_ENGINE=${S2I_ENGINE_URL:-unix://${ENGINE_SOCK:-/var/run/docker.sock}}
ENGINE_UPSTREAM=$AGENT_ENGINE
# with PUSH_BENCH_TRACE=1 the daemon's engine is the tracer's socket, which forwards
# every call untouched until a trace is taken (the tracer restarts for each trace)
if [ "${PUSH_BENCH_TRACE:-0}" = 1 ]; then
	TRACE_SOCK=$S2I_TMP/trace.sock
	AGENT_ENGINE=unix://$TRACE_SOCK
	TRACE_PID=
	trace_start() {	# out
		rm -f "$TRACE_SOCK"
		python3 "$TESTS_DIR/bench/apitrace.py" "$TRACE_SOCK" "${ENGINE_UPSTREAM#unix://}" "$1" &
		TRACE_PID=$!
		wait_for 5 test -S "$TRACE_SOCK" || fail "apitrace did not start"
	}
	trace_stop() {
		kill -TERM "$TRACE_PID"
		wait "$TRACE_PID"
		TRACE_PID=
	}
	trace_start "$S2I_TMP/trace.idle"
fi
start_agent || fail "agent did not start"
cp "$TESTS_DIR/../hooks/post-receive" "$ours/hooks/post-receive"
git --git-dir="$ours" config s2i.url "$AGENT_URL"
git --git-dir="$ours" config s2i.secretFile "$AGENT_DIR/big.secret"
git --git-dir="$ours" config s2i.agent "$S2I_AGENT"

# ---- their hook: s2i build of the pushed commit, synchronously ----
tree=$S2I_TMP/s2i-tree
mkdir -p "$tree"
cat >"$theirs/hooks/post-receive" <<EOF
#!/bin/sh
# builds every push to main with s2i, before the push returns
while read -r old new ref; do
	[ "\$ref" = refs/heads/main ] || continue
	GIT_WORK_TREE='$tree' git checkout -qf "\$new" || exit 1
	DOCKER_HOST=\${S2I_HOOK_ENGINE:-'$DOCKER_HOST'} HOME='$PA_HOME' '$PA_S2I' build --pull-policy never \\
		'$tree' '$bigb' '$tag-s2i:latest'
	echo \$? >'$S2I_TMP/s2i-hook.rc'
done
EOF
chmod 755 "$theirs/hooks/post-receive"

# One timed push of the commit HEAD of the pusher's clone to a repository; output in
# $S2I_TMP/push.out. Checks that the image is made of that commit.
push_to() {	# ours|theirs -> seconds on stdout
	local who=$1 sha t0 t1 before
	sha=$(git -C "$work" rev-parse HEAD)
	if [ "$who" = theirs ]; then
		before=$(eng image inspect -f '{{.Id}}' "$tag-s2i:latest" 2>/dev/null)
		rm -f "$S2I_TMP/s2i-hook.rc"
		t0=$(now)
		git -C "$work" push "$theirs" HEAD:refs/heads/main >"$S2I_TMP/push.out" 2>&1 ||
			{ cat "$S2I_TMP/push.out" >&2; fail "push to the s2i hook's repository"; }
		t1=$(now)
		[ "$(cat "$S2I_TMP/s2i-hook.rc" 2>/dev/null)" = 0 ] ||
			{ cat "$S2I_TMP/push.out" >&2; fail "the s2i hook's build failed"; }
		[ "$(eng image inspect -f '{{.Id}}' "$tag-s2i:latest")" != "$before" ] ||
			fail "s2i's hook made no new image"
		cmp -s "$tree/src/m01/p1/f00001.c" "$work/src/m01/p1/f00001.c" ||
			fail "s2i's hook built another commit"
	else
		t0=$(now)
		git -C "$work" push "$ours" HEAD:refs/heads/main >"$S2I_TMP/push.out" 2>&1 ||
			{ cat "$S2I_TMP/push.out" >&2; fail "push to our hook's repository"; }
		t1=$(now)
		grep -q '^remote: s2i-agent: build [0-9]* succeeded' "$S2I_TMP/push.out" ||
			{ cat "$S2I_TMP/push.out" >&2; fail "our hook's build did not succeed"; }
		[ "$(eng image inspect -f '{{index .Config.Labels "io.openshift.s2i.build.commit.id"}}' \
			"$tag-agent:latest")" = "$sha" ] || fail "our image is not of $sha"
	fi
	echo "$t1 - $t0" | bc
}

# warm-up: the first build of each (images, the work tree, the page cache)
big_change "$work"
push_to ours >/dev/null
push_to theirs >/dev/null
: >"$S2I_TMP/t.ours"
: >"$S2I_TMP/t.theirs"
for i in $(seq 1 "$RUNS"); do
	big_change "$work"
	for who in $( ((i % 2)) && echo "theirs ours" || echo "ours theirs"); do
		push_to "$who" >>"$S2I_TMP/t.$who"
	done
done
a=$(median <"$S2I_TMP/t.ours")
s=$(median <"$S2I_TMP/t.theirs")
printf 'push[%s]: git push -> image, one changed file: our hook + daemon median %.3fs, s2i build hook median %.3fs over %d runs each: ratio %.2f (target <= 0.7), load %s\n' \
	"$S2I_TEST_ENGINE" "$a" "$s" "$RUNS" "$(echo "scale=3; $a / $s" | bc)" "$(cut -d' ' -f1-3 /proc/loadavg)"
echo "  our hook runs:      $(tr '\n' ' ' <"$S2I_TMP/t.ours")"
echo "  s2i hook runs:      $(tr '\n' ' ' <"$S2I_TMP/t.theirs")"

# ---- with PUSH_BENCH_TRACE=1: one push of each through the tracer, per API call ----
[ "${PUSH_BENCH_TRACE:-0}" = 1 ] || exit 0
for who in theirs ours; do
	big_change "$work"
	trace_stop
	trace_start "$S2I_TMP/trace.$who"
	S2I_HOOK_ENGINE=unix://$TRACE_SOCK push_to "$who" >"$S2I_TMP/t.trace"
	t=$(cat "$S2I_TMP/t.trace")
	trace_stop
	trace_start "$S2I_TMP/trace.idle"
	printf 'push[%s]: trace of the push to %s hook: %.3fs wall (start s, duration s, bytes up, bytes down, call)\n' \
		"$S2I_TEST_ENGINE" "$([ "$who" = ours ] && echo our || echo the s2i)" "$t"
	sed 's/^/    /' "$S2I_TMP/trace.$who"
done
