#!/usr/bin/env bash
# Pipeline, success: a signed GitHub push webhook for a bare repository (served as a local
# path) builds the pushed commit into an image whose labels carry the sha; the commit
# statuses go pending -> pending -> success to the repository named in the payload, with
# the exact target_url, context and description; the log is served and followed live.
TEST=pl-success
source "$TESTS_DIR/lib/pipeline.sh"

pl_builder
pl_repo web
AGENT_EXTRA="admin_token_file = $AGENT_DIR/admin.token"
start_agent || fail "agent did not start"

sha=$(pl_commit web "make it slow" SLEEP 2)
pl_push web >/dev/null || fail "git push"
pl_github_push web "$sha"
expect 202 .build 1
expect 202 .url "$AGENT_URL/builds/1"

# follow the log while the build runs: it ends once the build is final
pl_wait_state 1 running 60 || fail "build 1 never ran"
curl -sS -N --max-time 120 "$AGENT_URL/builds/1/log?follow=1" >"$AGENT_DIR/follow.log" ||
	fail "follow stream failed"
state=$(pl_wait 1 5)
[ "$state" = succeeded ] || { cat "$AGENT_DIR/follow.log"; fail "build 1 is $state: $(pl_build_json 1)"; }
grep -q '^assemble: app says hello from web$' "$AGENT_DIR/follow.log" || fail "follow: no assemble output"
grep -q '^assemble: to stderr$' "$AGENT_DIR/follow.log" || fail "follow: no stderr line"
tail -n 1 "$AGENT_DIR/follow.log" | grep -q '^==> build 1 succeeded in ' || fail "follow: last line '$(tail -n 1 "$AGENT_DIR/follow.log")'"
# the plain log is the same bytes
curl -sS -D "$AGENT_DIR/log.h" "$AGENT_URL/builds/1/log" >"$AGENT_DIR/plain.log"
cmp -s "$AGENT_DIR/plain.log" "$AGENT_DIR/follow.log" || fail "plain and followed logs differ"
grep -qi '^content-type: text/plain' "$AGENT_DIR/log.h" || fail "log content type"

# the build object and the image
b=$(pl_build_json 1)
image=s2i-agent-test/$PL_ID-web:main
[ "$(jq -r .sha <<<"$b")" = "$sha" ] || fail "sha: $b"
[ "$(jq -r .image <<<"$b")" = "$image" ] || fail "image: $b"
id=$(jq -r .image_id <<<"$b")
[ "$(docker image inspect -f '{{.Id}}' "$image")" = "$id" ] || fail "image id $id"
for k in io.openshift.s2i.build.commit.id org.opencontainers.image.revision; do
	[ "$(docker image inspect -f "{{index .Config.Labels \"$k\"}}" "$image")" = "$sha" ] ||
		fail "label $k is not $sha"
done
[ "$(docker image inspect -f '{{index .Config.Labels "io.openshift.s2i.build.commit.message"}}' "$image")" = "make it slow" ] ||
	fail "commit message label"
out=$(docker run --rm --network none "$image") || fail "the image does not run"
[ "$out" = "hello from web" ] || fail "the image printed '$out'"
pl_no_containers 1

# commit statuses: exactly three, in order, as GitHub documents them
pl_wait_statuses 3 30 || fail "expected 3 status posts, got $(forge_double_count)"
sleep 1
[ "$(forge_double_count)" = 3 ] || fail "expected 3 status posts, got $(forge_double_count)"
want="pending|Build 1 queued
pending|Build 1 running"
[ "$(pl_statuses | head -n 2)" = "$want" ] || fail "statuses: $(pl_statuses)"
[[ "$(pl_statuses | sed -n 3p)" =~ ^success\|Build\ 1\ succeeded\ in\ [0-9]+s$ ]] || fail "final status: $(pl_statuses)"
for n in 1 2 3; do
	[ "$(forge_double_req $n .path)" = "/repos/Codertocat/Hello-World/statuses/$sha" ] || fail "path $n: $(forge_double_req $n .path)"
	[ "$(forge_double_req $n .body.target_url)" = "$AGENT_URL/builds/1" ] || fail "target_url $n"
	[ "$(forge_double_req $n .body.context)" = "s2i-agent" ] || fail "context $n"
	[ "$(forge_double_req $n '.headers.authorization')" = "Bearer $PL_TOKEN" ] || fail "authorization $n"
	[ "$(forge_double_req $n .answer.code)" = 201 ] || fail "answer $n: $(forge_double_req $n .answer)"
done

# the same delivery again is a duplicate: no second build
curl -sf "$AGENT_URL/" -H 'Accept: text/html' | grep -q "builds/1" || fail "dashboard lacks build 1"
stop_agent || fail "agent exited $? on SIGTERM"
grep -q "$PL_TOKEN" "$AGENT_LOG" "$AGENT_DIR/state/logs/1.log" && fail "the status token leaked into a log"
exit 0
