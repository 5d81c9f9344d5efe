#!/usr/bin/env bash
# Builds superseded while they run leave no container behind: a build whose assemble
# sleeps, then pushes to the same ref timed around the moment each newer build creates
# its container (so a cancel lands between the create call and the build learning the
# container's id), then a build that finishes. No container with this agent's owner
# label may remain. Then a container left "Created" with this agent's owner label by a
# build that ended (or that the database does not know) is removed at the next start.
TEST=attack-leak
source "$TESTS_DIR/lib/pipeline.sh"

LEAK_NAMES=()
leak_cleanup() {
	local n
	for n in "${LEAK_NAMES[@]}"; do docker rm -f "$n" >/dev/null 2>&1; done
	pl_cleanup
}
trap leak_cleanup EXIT

pl_builder
pl_repo web
start_agent || fail "agent did not start"
owner=$(cat "$AGENT_DIR/state/instance-id") || fail "no instance id"
owned() { docker ps -aq --filter "label=io.s2i-agent.owner=$owner"; }
none_owned() { [ -z "$(owned)" ]; }

sha=$(pl_commit web "slow 0" SLEEP 60)
pl_push web >/dev/null || fail "git push"
pl_github_push web "$sha"
expect 202 .build 1
wait_grep 'assemble: sleeping' "$AGENT_DIR/state/logs/1.log" 60 || fail "assemble of build 1 did not start"
# each push supersedes the running build; the next one follows after a delay that
# walks across its start (fetch, create, start: a few hundred ms here)
n=1
for delay in 0 0.05 0.1 0.15 0.2 0.3 0.4 0.5 0.7 0.9 1.2 1.5; do
	n=$((n + 1))
	sha=$(pl_commit web "slow $n" NOTE "$n")
	pl_push web >/dev/null || fail "git push"
	pl_github_push web "$sha"
	expect 202 .build $n
	wait_for 30 _pl_is "$n" running || true	# superseded while queued is fine too
	sleep "$delay"
done
pl_rm web SLEEP
sha=$(pl_commit web "fast")
pl_push web >/dev/null || fail "git push"
pl_github_push web "$sha"
n=$((n + 1))
expect 202 .build $n
pl_expect $n succeeded 180
for ((i = 1; i < n; i++)); do
	state=$(pl_wait $i 60)
	[ "$state" = canceled ] || fail "build $i is $state, not canceled"
done
# the cleanups of canceled builds are child processes: give the last ones a moment
wait_for 30 none_owned || true
left=$(owned)
[ -z "$left" ] || fail "containers with this agent's owner label left behind: $(docker ps -a --filter "label=io.s2i-agent.owner=$owner" --format '{{.Names}} {{.Status}} {{.Labels}}')"

# a container in state Created with our owner label, of a build that ended (1) and of
# one the database does not know (999): removed when the agent starts again
stop_agent || fail "agent exited $? on SIGTERM"
for b in 1 999; do
	name=s2i-agent-test-$PL_ID-left$b
	LEAK_NAMES+=("$name")
	docker create --name "$name" --network none --label "io.s2i-agent.build=$b" \
		--label "io.s2i-agent.owner=$owner" "$PL_BUILDER" true >/dev/null || fail "docker create"
done
KEEP_PORT=1 start_agent || fail "agent did not restart"
wait_for 30 none_owned ||
	fail "after a restart, containers with this agent's owner label remain: $(owned | tr '\n' ' ')"
stop_agent || fail "agent exited $? on SIGTERM"
echo "no container left after $((n - 1)) supersedes and a restart"
