#!/usr/bin/env bash
# Fault: a build is killed after the engine moved its tag and before it removed the
# image it replaced. A cancel does not hang up on a commit (fault-engine-commit.sh),
# but the agent kills a build that has not stopped KILL_GRACE_SECONDS (10 s) after the
# cancel: on a loaded host a commit can take that long, and the engine finishes it (the
# tag moves) with nobody left to remove the image the tag named before. The soak saw
# it as one untagged image every ~1,000 builds. The next build of the tag removes what
# earlier ones left untagged. The agent's `engine` is a unix-socket proxy
# (tests/lib/sockproxy.py --delay-reply-on) that passes build 2's commit on at once but
# holds the engine's answer 40 s: the engine has committed and moved the tag, the
# build waits for the answer, is canceled and killed 10 s later.
# - build 1 succeeds: the tag names its image;
# - build 2, canceled while it waits for its commit's answer, is killed and ends
#   `canceled`; the tag names build 2's image, build 1's is left untagged;
# - build 3 succeeds and removes build 2's image (replaced) and build 1's (untagged,
#   left by an earlier build: its log says so): one image of the test in the engine,
#   none untagged (before, build 1's stayed for good).
TEST=fault-engine-commit-kill
source "$TESTS_DIR/lib/pipeline.sh"
source "$TESTS_DIR/lib/enginefault.sh"

PROXY_SOCK=$AGENT_DIR/engine.sock
PROXY_PID=
trap ef_cleanup EXIT

commit_held() { grep -q '^POST /v[0-9.]*/commit' "$AGENT_DIR/proxy.delayed" 2>/dev/null; }
tag_moved() { [ -n "$(ef_tagged web)" ] && [ "$(ef_tagged web)" != "$img1" ]; }

pl_builder
pl_repo web status_repo=acme/web
ef_proxy_start --disarmed --delay-reply-on '^POST /v[0-9.]+/commit\?=40' \
	--delayed "$AGENT_DIR/proxy.delayed" || fail "cannot start the engine proxy"
ef_start_admin

ef_first_image web
img1=$EF_IMG

kill -USR2 "$PROXY_PID"		# build 2's commit: its answer held
sha2=$(pl_commit web "killed while the engine answers its commit")
ef_push web "$sha2"
b2=$EF_BUILD
wait_for 120 commit_held || fail "build $b2 never committed: $(pl_build_json "$b2")"
wait_for 30 tag_moved || fail "the engine did not move the tag to build $b2's image"
img2=$(ef_tagged web)
http_req -X POST -H "$AUTH" "$AGENT_URL/builds/$b2/cancel"
[ "$HTTP_CODE" = 202 ] || [ "$HTTP_CODE" = 200 ] || fail "cancel of build $b2: HTTP $HTTP_CODE $HTTP_BODY"
pl_expect "$b2" canceled 60
grep -q "build $b2: did not stop within" "$AGENT_LOG" ||
	fail "build $b2 was not killed: $(grep "build $b2" "$AGENT_LOG" | tail -n 5)"
docker image inspect "$img1" >/dev/null 2>&1 ||
	fail "build 1's image went with build $b2 killed: the test does not reproduce the leak"

sha3=$(pl_commit web "after the kill")
ef_push web "$sha3"
b3=$EF_BUILD
pl_expect "$b3" succeeded 120
img3=$(ef_tagged web)
# the outcome is recorded before the build's process removes images: it ends first
b3_removed() { curl -s "$AGENT_URL/builds/$b3/log" | grep -q "untagged image"; }
wait_for 60 b3_removed
[ "$(ef_images web)" = "$img3" ] || fail "after build $b3: images $(ef_images web | tr '\n' ' ')" \
	"(tagged: $img3, build 1's $img1, build $b2's $img2); its log: $(
		curl -s "$AGENT_URL/builds/$b3/log" | grep -E 'image|warning|==>')"
curl -s "$AGENT_URL/builds/$b3/log" | grep -q "removed 1 untagged image of 's2i-agent-test/$PL_ID-web:main'" ||
	fail "build $b3's log does not say it removed the untagged image: $(
		curl -s "$AGENT_URL/builds/$b3/log" | tail -n 6)"
pl_no_containers "$b2"
stop_agent || fail "agent exited $? on SIGTERM"
echo "ok"
