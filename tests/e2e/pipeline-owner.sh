#!/usr/bin/env bash
# Pipeline, container ownership: build containers carry io.s2i-agent.build=<id> and
# io.s2i-agent.owner=<this agent's instance id> (state_dir/instance-id, 0600), and every
# removal by label matches both. Containers labelled like another agent's build 1 (same
# build id, other owner) and like an older version's (build label, no owner) survive
# this agent's start-up cleanup after a kill -9, its builds and a canceled build's
# cleanup; leftover containers with this agent's owner (build 1's id, or a build it
# does not know) are removed at its start.
TEST=pl-owner
source "$TESTS_DIR/lib/pipeline.sh"

OWN_NAMES=()
own_cleanup() {
	local n
	for n in "${OWN_NAMES[@]}"; do
		docker rm -f "$n" >/dev/null 2>&1
	done
	pl_cleanup
}
trap own_cleanup EXIT

decoy() {	# name label...: a stopped container with those labels, no network
	local name=s2i-agent-test-$PL_ID-$1 args=() l
	shift
	for l in "$@"; do
		args+=(--label "$l")
	done
	OWN_NAMES+=("$name")
	docker create --name "$name" --network none "${args[@]}" "$TEST_BASE_IMAGE" sleep 1000 >/dev/null ||
		fail "cannot create container $name"
}
exists() {	# name
	[ -n "$(docker ps -aq --filter "name=^/$1\$")" ]
}

pl_builder
pl_repo web
AGENT_EXTRA="admin_token_file = $AGENT_DIR/admin.token"
start_agent || fail "agent did not start"
AUTH="Authorization: Bearer $PL_ADMIN"

idf=$AGENT_DIR/state/instance-id
[ -f "$idf" ] || fail "no $idf"
[ "$(stat -c %a "$idf")" = 600 ] || fail "$idf has mode $(stat -c %a "$idf")"
owner=$(cat "$idf")
[[ "$owner" =~ ^[0-9a-f]{32}$ ]] || fail "instance id '$owner' is not 32 hex digits"
other=other-agent-$$-$RANDOM
P=s2i-agent-test-$PL_ID

# ---- build 1: its containers carry both labels ----
sha=$(pl_commit web "slow" SLEEP 6)
pl_push web >/dev/null || fail "git push"
pl_github_push web "$sha"
expect 202 .build 1
wait_grep 'assemble: sleeping' "$AGENT_DIR/state/logs/1.log" 60 || fail "assemble of build 1 did not start"
[ -n "$(docker ps -q --filter label=io.s2i-agent.build=1 --filter "label=io.s2i-agent.owner=$owner" \
	--filter "ancestor=$PL_BUILDER")" ] || fail "no container of build 1 labelled with owner $owner"

decoy other1 io.s2i-agent.build=1 "io.s2i-agent.owner=$other"
decoy legacy1 io.s2i-agent.build=1
decoy mine1 io.s2i-agent.build=1 "io.s2i-agent.owner=$owner"
decoy mine99 io.s2i-agent.build=99 "io.s2i-agent.owner=$owner"	# no such build here

# ---- kill -9 during build 1, restart: start-up cleanup of build 1 ----
pl_crash_restart 1
[ "$(cat "$idf")" = "$owner" ] || fail "the instance id changed across a restart"
state=$(pl_wait 1 120)
[ "$state" = succeeded ] || fail "build 1 after a restart is $state: $(pl_build_json 1)"
grep -q 'removed [0-9]* containers left by builds' "$AGENT_LOG" || fail "the start-up cleanup removed nothing"
exists "$P-mine1" && fail "this agent's leftover container of build 1 survived the start-up cleanup"
exists "$P-other1" || fail "another agent's container of build 1 was removed"
exists "$P-legacy1" || fail "a container without an owner label was removed"
# its owner label says it is this agent's, and none of its builds runs at the start:
# whatever build made it (final, or unknown here), it goes
exists "$P-mine99" && fail "this agent's container of a build it does not know survived the start-up cleanup"
grep -Eq 'left alone [0-9]+ build containers without the io.s2i-agent.owner label' "$AGENT_LOG" ||
	fail "the start-up cleanup did not log the containers without an owner label"
pl_no_containers 1

# the image carries both labels empty (containers run from it are nobody's build)
img=$(pl_build_json 1 | jq -r .image_id)
[ -n "$img" ] && [ "$img" != null ] || fail "build 1 has no image id: $(pl_build_json 1)"
[ "$(docker image inspect -f '{{index .Config.Labels "io.s2i-agent.owner"}}|{{index .Config.Labels "io.s2i-agent.build"}}' "$img")" = "|" ] ||
	fail "the image's owner/build labels are not empty"

# ---- build 2, canceled while running: its cleanup keeps others' build 2 ----
decoy other2 io.s2i-agent.build=2 "io.s2i-agent.owner=$other"
decoy legacy2 io.s2i-agent.build=2
sha2=$(pl_commit web "slower" SLEEP 60)
pl_push web >/dev/null || fail "git push"
pl_github_push web "$sha2" refs/heads/main "second-$$"
expect 202 .build 2
wait_grep 'assemble: sleeping' "$AGENT_DIR/state/logs/2.log" 60 || fail "assemble of build 2 did not start"
http_req -X POST -H "$AUTH" "$AGENT_URL/builds/2/cancel"
expect 202 .build 2
pl_expect 2 canceled 60
pl_no_containers 2
exists "$P-other2" || fail "another agent's container of build 2 was removed by the cancel"
exists "$P-legacy2" || fail "a container without an owner label was removed by the cancel"
exists "$P-other1" || fail "another agent's container of build 1 was removed"

# ---- SIGTERM and a clean restart keep them too ----
stop_agent || fail "agent exited $? on SIGTERM"
KEEP_PORT=1 start_agent || fail "agent did not restart"
pl_github_push web "$sha" refs/heads/main "third-$$"
expect 202 .build 3
state=$(pl_wait 3 120)
[ "$state" = succeeded ] || fail "build 3 is $state: $(pl_build_json 3)"
for n in other1 legacy1 other2 legacy2; do
	exists "$P-$n" || fail "container $n was removed"
done
stop_agent || fail "agent exited $? on SIGTERM"
exit 0
