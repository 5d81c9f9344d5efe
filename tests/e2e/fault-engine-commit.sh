#!/usr/bin/env bash
# Fault: a build is canceled while the engine commits its image. Docker (20.10 at least)
# finishes a commit whose client left and moves the tag then; an agent that hung up
# looked at the tag before that, still saw the image it named before the build, kept
# it, and once the commit landed that image was left untagged: the soak's leak, one
# image every few dozen builds on the repository pushed to back to back. So a cancel
# does not hang up on a commit. The agent's `engine` is a unix-socket proxy
# (tests/lib/sockproxy.py --delay-on) that hands each commit to the engine 3 s late (an
# engine busy with it), the cancel is sent meanwhile:
# - build 1 of main succeeds: the tag names its image;
# - build 2 of main, canceled (POST /builds/2/cancel) once its commit is on its way,
#   ends `canceled`, its log saying the image was committed first; the tag names build
#   2's image and build 1's, replaced, is removed: one image of the test in the engine,
#   none untagged, no container left (before, the agent hung up and removed the
#   container, the commit failed and the tag stayed on build 1's image);
# - the next push builds and leaves one image again.
TEST=fault-engine-commit
source "$TESTS_DIR/lib/pipeline.sh"
source "$TESTS_DIR/lib/enginefault.sh"

PROXY_SOCK=$AGENT_DIR/engine.sock
PROXY_PID=
trap ef_cleanup EXIT

commits_delayed() {	# n: at least n commits were handed to the proxy
	[ "$(grep -c '^POST /v[0-9.]*/commit' "$AGENT_DIR/proxy.delayed" 2>/dev/null)" -ge "$1" ]
}

pl_builder
pl_repo web status_repo=acme/web
ef_proxy_start --delay-on '^POST /v[0-9.]+/commit\?=3' --delayed "$AGENT_DIR/proxy.delayed" ||
	fail "cannot start the engine proxy"
ef_start_admin

ef_first_image web
[ "$EF_BUILD" = 1 ] || fail "the first push made build '$EF_BUILD'"
img1=$EF_IMG

sha2=$(pl_commit web "canceled while the engine commits")
ef_push web "$sha2"
[ "$EF_BUILD" = 2 ] || fail "the second push made build '$EF_BUILD'"
wait_for 120 commits_delayed 2 || fail "build 2 never committed: $(pl_build_json 2)"
http_req -X POST -H "$AUTH" "$AGENT_URL/builds/2/cancel"
[ "$HTTP_CODE" = 202 ] || [ "$HTTP_CODE" = 200 ] || fail "cancel of build 2: HTTP $HTTP_CODE $HTTP_BODY"
pl_expect 2 canceled 60
# what the engine was handed late has landed
sleep 3
img2=$(ef_tagged web)
[ -n "$img2" ] && [ "$img2" != "$img1" ] ||
	fail "the tag names '$img2' after build 2's commit (build 1's image: $img1)"
docker image inspect "$img1" >/dev/null 2>&1 &&
	fail "build 1's image $img1, replaced by build 2's commit, is still in the engine" \
		"($(docker image inspect --format '{{.RepoTags}}' "$img1")); log of build 2:" \
		"$(curl -s "$AGENT_URL/builds/2/log" | tail -n 8)"
[ "$(ef_images web)" = "$img2" ] || fail "after build 2: images $(ef_images web | tr '\n' ' ')"
curl -s "$AGENT_URL/builds/2/log" | grep -q "committed ${img2:0:19} before the cancel took effect" ||
	fail "build 2's log does not say its image was committed: $(curl -s "$AGENT_URL/builds/2/log" | tail -n 8)"
pl_no_containers 2

sha3=$(pl_commit web "after the cancel")
ef_push web "$sha3"
pl_expect "$EF_BUILD" succeeded 120
img3=$(ef_tagged web)
[ "$(ef_images web)" = "$img3" ] || fail "after build $EF_BUILD: images $(ef_images web | tr '\n' ' ')" \
	"(tagged: $img3); its log: $(curl -s "$AGENT_URL/builds/$EF_BUILD/log" | tail -n 6)"
stop_agent || fail "agent exited $? on SIGTERM"
echo "ok"
