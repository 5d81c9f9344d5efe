#!/usr/bin/env bash
# Fault: the container engine stops during a build and while builds start, then comes
# back. The shared dockerd is never touched: the agent's `engine` is a unix-socket
# proxy this test owns (tests/lib/sockproxy.py) in front of it; stopping the proxy is
# the engine stopping as the agent sees it (round 1 SIGTERM: the socket file goes,
# ENOENT; round 2 SIGKILL: a stale socket file, ECONNREFUSED; live connections cut).
# Each round: a build whose assemble sleeps is running -> the engine stops -> that
# build ends `errored` within a bounded time with a reason naming the unreachable
# engine; a delivery sent while the engine is down is answered 202 and its build
# ends `errored` the same way at once (README "API and metrics": a 202 build reaches a final state with a
# status; an error status now says more than a `pending` one left for hours);
# /healthz says 503; -> the engine returns -> the next push builds `succeeded`, and
# the interrupted build's container (still running in dockerd) is removed by the
# agent without a restart (round 2: with a restart of the agent while the engine is
# down). Every build gets exactly one final status. Last, a frozen
# engine (the proxy SIGSTOPped: connects accepted, no answers): build_timeout ends the
# build (`failed`, timed out) instead of a hang, and its container goes after the thaw.
TEST=fault-engine
source "$TESTS_DIR/lib/pipeline.sh"
source "$TESTS_DIR/lib/enginefault.sh"
ROUNDS=${FAULT_ENGINE_ROUNDS:-2}

PROXY_SOCK=$AGENT_DIR/engine.sock
PROXY_PID=
proxy_stop() {	# signal
	kill "-$1" "$PROXY_PID" 2>/dev/null
	wait "$PROXY_PID" 2>/dev/null
	PROXY_PID=
}
trap ef_cleanup EXIT

# a reason that names the engine as unreachable, in words, with the socket: sets REASON
engine_reason() {	# id
	REASON=$(pl_build_json "$1" | jq -r .reason)
	[[ $REASON == *"container engine"* && $REASON == *"$PROXY_SOCK"* ]] ||
		fail "build $1: the reason does not name the unreachable engine: $REASON"
	[[ $REASON == *"Couldn't connect"* || $REASON == *"curl"* || $REASON == *"localhost port 80"* ]] &&
		fail "build $1: the reason is curl's, not the user's: $REASON"
	return 0
}

pl_builder
pl_repo web status_repo=acme/web
ef_proxy_start || fail "cannot start the engine proxy"
AGENT_ENGINE=unix://$PROXY_SOCK
start_agent || fail "agent did not start"

interrupted=0 errored=0 recovered=0 down_builds=0 restarted=0
builds=()	# "id sha final-state" of every build
for round in $(seq 1 "$ROUNDS"); do
	sig=TERM
	[ $((round % 2)) = 0 ] && sig=KILL

	# a build running in the engine: assemble sleeps
	sha=$(pl_commit web "round $round: slow" SLEEP 600)
	ef_push web "$sha"
	id=$EF_BUILD
	ef_wait_assemble "$id"
	[ -n "$(docker ps -q --filter "label=io.s2i-agent.build=$id" --filter "ancestor=$PL_BUILDER")" ] ||
		fail "build $id: no running container in the engine"

	# the engine stops (SIGTERM: socket removed; SIGKILL: stale socket left)
	proxy_stop "$sig"
	state=$(pl_wait "$id" 60)
	[ "$state" = errored ] || fail "build $id is $state after the engine stopped (SIG$sig): $(pl_build_json "$id")"
	engine_reason "$id"
	echo "round $round (SIG$sig): interrupted build $id errored: $REASON"
	tail=$(ef_log_ends_with "$id" "^==> build $id errored: .*container engine") ||
		fail "build $id: the log does not end with its outcome: $tail"
	interrupted=$((interrupted + 1)) errored=$((errored + 1))
	builds+=("$id $sha errored")

	# while it is down: the daemon answers, deliveries are queued (202) and their builds
	# end errored at once, saying why
	http_req "$AGENT_URL/healthz"
	[ "$HTTP_CODE" = 503 ] || fail "/healthz answered $HTTP_CODE with the engine down"
	for n in 1 2; do
		dsha=$(pl_commit web "round $round: pushed while the engine is down ($n)")
		ef_push web "$dsha" "refs/heads/down-$round-$n"
		did=$EF_BUILD
		state=$(pl_wait "$did" 60)
		[ "$state" = errored ] || fail "build $did (engine down) is $state: $(pl_build_json "$did")"
		engine_reason "$did"
		[ "$n" = 1 ] && echo "round $round: build $did started with the engine down errored: $REASON"
		errored=$((errored + 1)) down_builds=$((down_builds + 1))
		builds+=("$did $dsha errored")
	done
	http_req "$AGENT_URL/builds?limit=5"
	[ "$HTTP_CODE" = 200 ] || fail "GET /builds answered $HTTP_CODE with the engine down"

	if [ "$round" = 2 ]; then
		# the agent restarts while the engine is down: what it could not remove is
		# remembered (state_dir/cleanup.json) and removed once the engine is back
		stop_agent || fail "agent exited $? on SIGTERM"
		[ -s "$AGENT_DIR/state/cleanup.json" ] || fail "the containers still to remove are not recorded"
		KEEP_PORT=1 start_agent || fail "agent did not restart"
		ef_proxy_start || fail "cannot restart the engine proxy"
		wait_for 60 ef_no_containers || fail "containers left after an agent restart: $(ef_containers)"
		wait_for 10 eval '[ ! -e "$AGENT_DIR/state/cleanup.json" ]' || fail "cleanup.json stays"
		restarted=1
	fi
	# the engine returns: the next push builds, the interrupted build's container goes
	[ -n "$PROXY_PID" ] || ef_proxy_start || fail "cannot restart the engine proxy"
	pl_rm web SLEEP
	sha=$(pl_commit web "round $round: fast")
	ef_push web "$sha"
	id2=$EF_BUILD
	state=$(pl_wait "$id2" 120)
	[ "$state" = succeeded ] || fail "build $id2 after the engine returned is $state: $(pl_build_json "$id2")"
	recovered=$((recovered + 1))
	builds+=("$id2 $sha succeeded")
	wait_for 60 ef_no_containers || fail "containers left in the engine after it returned: $(ef_containers)"
done

# a frozen engine (the proxy SIGSTOPped: connects are accepted, nothing answers): the
# build cannot hang, build_timeout ends it; its container goes once the engine thaws
stop_agent || fail "agent exited $? on SIGTERM"
AGENT_EXTRA="build_timeout = 30s"
KEEP_PORT=1 start_agent || fail "agent did not restart"
sha=$(pl_commit web "frozen engine" SLEEP 600)
ef_push web "$sha"
id=$EF_BUILD
ef_wait_assemble "$id"
kill -STOP "$PROXY_PID"
state=$(pl_wait "$id" 120)
kill -CONT "$PROXY_PID"
[ "$state" = failed ] || fail "build $id is $state with the engine frozen: $(pl_build_json "$id")"
[ "$(pl_build_json "$id" | jq -r .reason)" = "the build timed out after 30s" ] || fail "build $id: $(pl_build_json "$id")"
echo "frozen engine: build $id failed: the build timed out after 30s"
builds+=("$id $sha failed")
wait_for 120 ef_no_containers || fail "containers left after the engine thawed: $(ef_containers)"

# every build: statuses pending (queued), pending (running), then exactly one final one
ef_expect_statuses "${builds[@]}"
ef_no_containers || fail "containers left: $(ef_containers)"
posts=$(forge_double_count)
echo "fault-engine: rounds=$ROUNDS engine_stops=$ROUNDS engine_freezes=1 agent_restarts_while_down=$restarted builds=${#builds[@]} interrupted=$interrupted started_while_down=$down_builds errored=$errored recovered=$recovered timed_out_frozen=1 statuses=$posts duplicates=0 leftover_containers=0"
stop_agent || fail "agent exited $? on SIGTERM"
exit 0
