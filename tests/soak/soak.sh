#!/usr/bin/env bash
# Soak: SOAK_BUILDS builds through the real daemon and engine with a tiny builder and
# retention set low (keep_builds = 8), over three repositories and two branches each:
# pushes over the real post-receive hook and over signed GitHub webhooks, one commit in
# seven failing, bursts on one repository superseding queued builds. Every SOAK_EVERY
# builds it samples the database, the log directory, the engine's images of the run,
# the mirrors and the daemon's RSS and open descriptors; at the end it asserts that the
# first four level off (each sample of the last half within SOAK_TOLERANCE % of that
# half's median, or within a floor of a few KiB / one image) and that RSS and descriptors
# are flat: the last RSS at most 2 MB above the one once SOAK_WARMUP % of the builds had
# ended, descriptors (once idle) no more than then. Prints the figures.
# Env: SOAK_BUILDS (300), SOAK_EVERY (SOAK_BUILDS / 20), SOAK_TOLERANCE (10),
# SOAK_WARMUP (10: the % of the builds after which the RSS the end is compared with is
# taken, the first sample with that many ended), SOAK_RSS (1; 0:
# RSS is printed, not checked: a sanitizer's quarantine grows it by design), S2I_AGENT.
set -u
cd "$(dirname "$0")/../.."
export TESTS_DIR=$PWD/tests
export S2I_AGENT=${S2I_AGENT:-$PWD/build/rel/s2i-agent}
N=${SOAK_BUILDS:-300}
EVERY=${SOAK_EVERY:-$(( N / 20 > 0 ? N / 20 : 1 ))}
TOL=${SOAK_TOLERANCE:-10}
TEST=soak
source "$TESTS_DIR/lib/pipeline.sh"

pl_builder
# file:// urls: builds fetch into mirrors under state_dir/git
for r in hk wa wb; do
	pl_repo "$r" "url=file://$AGENT_DIR/$r.git" keep_builds=8 keep_days=0 "status_repo=acme/$r"
	git -C "$AGENT_DIR/$r.work" tag base
done
AGENT_EXTRA="workers = 2
min_free_space = 0"
start_agent || fail "agent did not start"
pl_hook hk post-receive
git --git-dir="$AGENT_DIR/hk.git" config s2i.follow false

metric() { curl -sf --max-time 10 "$AGENT_URL/metrics" | sed -n "s/^$1 //p"; }
builds_done() {	# builds that ended (the database counts them: pruned ones included)
	local n=0 v
	for v in $(curl -sf --max-time 10 "$AGENT_URL/metrics" |
		sed -n 's/^s2i_agent_builds{state="\(succeeded\|failed\|errored\|canceled\)"} //p'); do
		n=$((n + v))
	done
	echo $((n + $(metric s2i_agent_pruned_builds_total)))
}
images_of_run() {
	local ids
	ids=$(docker images -aq --no-trunc)
	docker image inspect --format '{{index .Config.Labels "io.k8s.display-name"}}' $ids 2>/dev/null |
		grep -c "^s2i-agent-test/$PL_ID-"
}
sample() {	# prints: builds db logs images mirrors rss fds (db: agent.db and its WAL)
	local st=$AGENT_DIR/state
	echo "$(builds_done) $(( $(stat -c %s "$st/agent.db") + $(stat -c %s "$st/agent.db-wal" 2>/dev/null || echo 0) ))" \
		"$(du -sb "$st/logs" | cut -f1) $(images_of_run)" \
		"$(du -sb "$st/git" 2>/dev/null | cut -f1) $(metric process_resident_memory_bytes)" \
		"$(metric process_open_fds)"
}

# one push of repo r to branch b, failing or not, over the hook or a webhook: a commit
# on the first one, force-pushed (history does not grow, so the mirrors can level off
# once what no ref reaches is repacked away)
push_one() {	# n repo branch
	local n=$1 r=$2 b=$3 sha w=$AGENT_DIR/$2.work
	git -C "$w" checkout -q --detach base
	if [ $((n % 7)) = 3 ]; then echo fail >"$w/FAIL"; else rm -f "$w/FAIL"; fi
	sha=$(pl_commit "$r" "change $n" app.sh "echo \"build $n\"")
	git -C "$w" push -q -f "$AGENT_DIR/$r.git" "HEAD:refs/heads/$b" 2>/dev/null || fail "git push $r $b"
	if [ "$r" != hk ]; then
		pl_github_push "$r" "$sha" "refs/heads/$b"
		[ "$HTTP_CODE" = 202 ] || fail "push $n of $r: HTTP $HTTP_CODE $HTTP_BODY"
	fi
}

drained() {
	[ "$(metric s2i_agent_queue_depth)" = 0 ] &&
		[ "$(curl -sf "$AGENT_URL/metrics" | sed -n 's/^s2i_agent_builds{state="running"} //p')" = 0 ]
}
# what the agent holds open, by kind ("socket", "pipe", a path), to name a difference
fd_kinds() {
	ls -l "/proc/$AGENT_PID/fd" 2>/dev/null | sed -n 's/.* -> //p' | sed 's/:\[[0-9]*\]$//' |
		LC_ALL=C sort | uniq -c
}
# descriptors once idle: the fewest over three seconds after the queue drained (a status
# post's or a sweep's descriptor may linger a moment), and what they are
idle_fds() {
	local i n min=
	for i in 1 2 3 4 5 6; do
		n=$(metric process_open_fds)
		[ -z "$min" ] || [ "$n" -lt "$min" ] && min=$n
		sleep 0.5
	done
	echo "$min"
}

samples=()
# the baseline of RSS and descriptors: a sample as soon as SOAK_WARMUP % of the builds
# ended (looked at every 10 pushes until then), "RSS after the first 500 builds" of 5,000.
# Descriptors are compared idle with idle: at the baseline the pushes pause until the
# queue drained, and the figure is taken then, as it is at the end.
warm=$(( N * ${SOAK_WARMUP:-10} / 100 ))
warm_s= fd0= fd0_kinds=
pushed=0 t0=$(date +%s)
while [ "$pushed" -lt "$N" ]; do
	# the queue stays short: a soak of the pipeline, not of intake's queue
	while [ "$(metric s2i_agent_queue_depth)" -gt 4 ]; do sleep 0.2; done
	case $((pushed % 4)) in
	0) push_one "$pushed" hk main ;;
	1) push_one "$pushed" wa "$([ $((pushed % 3)) = 0 ] && echo dev || echo main)" ;;
	2) push_one "$pushed" wb main ;;
	3) push_one "$pushed" wb main	# right behind the one before: supersedes it while queued
	   pushed=$((pushed + 1)); push_one "$pushed" hk dev ;;
	esac
	pushed=$((pushed + 1))
	if [ -z "$warm_s" ] && [ $((pushed % 10)) -lt 2 ] && [ "$(builds_done)" -ge "$warm" ]; then
		warm_s=$(sample)
		echo "soak: baseline after $warm of the builds ended: builds db logs images mirrors rss fds = $warm_s"
		wait_for 300 drained || fail "the queue did not drain for the baseline"
		fd0=$(idle_fds) fd0_kinds=$(fd_kinds)
		echo "soak: idle descriptors at the baseline: $fd0"
	fi
	if [ $((pushed / EVERY)) -gt "${#samples[@]}" ]; then
		s=$(sample)
		samples+=("$s")
		echo "soak: pushed $pushed: builds db logs images mirrors rss fds = $s"
	fi
done
# the last builds end
wait_for 300 drained || fail "the queue did not drain"
secs=$(( $(date +%s) - t0 ))
s=$(sample)
samples+=("$s")
echo "soak: end: builds db logs images mirrors rss fds = $s"
read -r total _ <<<"$s"
[ "$total" -ge "$N" ] || fail "only $total builds ended of $N pushed"
[ "$(metric s2i_agent_pruned_builds_total)" -gt 0 ] || fail "retention deleted nothing"

# level: each of the last half within TOL % of its median (floor: 16 KiB, 1 image)
n=${#samples[@]}
half=$(( n / 2 ))
check_level() {	# column name floor
	local col=$1 name=$2 floor=$3 vals med v dev
	vals=$(for ((i = half; i < n; i++)); do echo "${samples[$i]}" | cut -d' ' -f"$col"; done | sort -n)
	med=$(sed -n "$(( ( $(wc -l <<<"$vals") + 1 ) / 2 ))p" <<<"$vals")
	dev=$(( med * TOL / 100 ))
	[ "$dev" -lt "$floor" ] && dev=$floor
	for v in $vals; do
		[ $(( v > med ? v - med : med - v )) -le "$dev" ] ||
			fail "$name does not level off: $v against a median of $med over the last half (samples: $(
				for ((i = 0; i < n; i++)); do echo -n "$(echo "${samples[$i]}" | cut -d' ' -f"$col") "; done))"
	done
	echo "soak: $name levels off at $med (last half within ${TOL}% or $floor)"
}
# the images of the run no tag names any more, for the record
ids=$(docker images -aq --no-trunc --filter dangling=true)
[ -n "$ids" ] && docker image inspect --format '{{.Id}} {{.Created}} {{index .Config.Labels "io.k8s.display-name"}} {{index .Config.Labels "io.openshift.s2i.build.commit.message"}}' \
	$ids 2>/dev/null | grep " s2i-agent-test/$PL_ID-" | sed 's/^/soak: untagged: /'
echo "soak: builds killed when they did not stop within the grace after a cancel:" \
	"$(grep -c 'did not stop within' "$AGENT_LOG")"
check_level 2 "database bytes" 16384
check_level 3 "log bytes" 16384
check_level 4 "images" 1
check_level 5 "mirror bytes" 65536
# flat: RSS and descriptors
# the baseline (warm_s): taken once SOAK_WARMUP % of the builds had ended, not the sample
# at that % of the samples; a run too short to take it uses the first sample past it
if [ -z "$warm_s" ]; then
	for ((early = 0; early < n - 1; early++)); do
		[ "$(echo "${samples[$early]}" | cut -d' ' -f1)" -ge "$warm" ] && break
	done
	warm_s=${samples[$early]}
fi
warm=$(echo "$warm_s" | cut -d' ' -f1)
rss0=$(echo "$warm_s" | cut -d' ' -f6)
rss1=$(echo "${samples[$((n - 1))]}" | cut -d' ' -f6)
[ -n "$fd0" ] || fd0=$(echo "$warm_s" | cut -d' ' -f7)
# the end's once idle: the last status posts, sweeps and keep-alive connections may
# still hold a descriptor for a moment after the queue drained
fds_settled() { [ "$(metric process_open_fds)" -le "$fd0" ]; }
wait_for 15 fds_settled
fd1=$(metric process_open_fds)
echo "soak: $total builds in ${secs}s; RSS $rss0 (after $warm builds) -> $rss1 bytes; fds $fd0 -> $fd1;" \
	"pruned $(metric s2i_agent_pruned_builds_total) builds, $(metric s2i_agent_pruned_logs_total) logs," \
	"$(metric s2i_agent_pruned_bytes_total) bytes in $(metric s2i_agent_retention_passes_total) passes"
[ "${SOAK_RSS:-1}" = 0 ] || [ "$rss1" -le $(( rss0 + 2 * 1024 * 1024 )) ] || fail "RSS grew: $rss0 -> $rss1"
[ "$fd1" -le "$fd0" ] || fail "open descriptors grew: $fd0 -> $fd1 (at the baseline:
${fd0_kinds:-not listed}
at the end:
$(fd_kinds))"
stop_agent || fail "agent exited $? on SIGTERM"
echo "soak: ok"
exit 0
