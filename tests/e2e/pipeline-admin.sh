#!/usr/bin/env bash
# Pipeline, admin endpoints with the bearer token: a manual build of a ref (resolved to
# its commit at build time; its commit statuses start then, queued/running/final as for
# a webhook build) and of a sha, a retry (a new build of the same commit),
# cancel of a queued build (at once) and of a running one (its containers removed).
TEST=pl-admin
source "$TESTS_DIR/lib/pipeline.sh"

pl_builder
pl_repo web "status_repo=acme/web"
AGENT_EXTRA="admin_token_file = $AGENT_DIR/admin.token"
start_agent || fail "agent did not start"
AUTH="Authorization: Bearer $PL_ADMIN"
sha0=$(git -C "$AGENT_DIR/web.work" rev-parse HEAD)
pl_push web >/dev/null || fail "git push"

http_req -X POST -d '{"ref": "main"}' "$AGENT_URL/repos/web/builds"
expect 401
http_req -X POST -H "Authorization: Bearer wrong" -d '{"ref": "main"}' "$AGENT_URL/repos/web/builds"
expect 401
http_req -X POST -H "$AUTH" -d '{"ref": ""}' "$AGENT_URL/repos/web/builds"
expect 400
http_req -X POST -H "$AUTH" -d '{"sha": "xyz"}' "$AGENT_URL/repos/web/builds"
expect 400
http_req -X POST -H "$AUTH" -d '{"ref": "main"}' "$AGENT_URL/repos/nope/builds"
expect 404

# a ref: the sha is resolved by the build and recorded
http_req -X POST -H "$AUTH" -d '{"ref": "main"}' "$AGENT_URL/repos/web/builds"
expect 202 .build 1
pl_expect 1 succeeded 120
b=$(pl_build_json 1)
[ "$(jq -r .sha <<<"$b")" = "$sha0" ] || fail "resolved sha: $b"
[ "$(jq -r .ref <<<"$b")" = refs/heads/main ] || fail "ref: $b"
[ "$(jq -r .provider <<<"$b")" = manual ] || fail "provider: $b"
# the commit's subject and author (GET /builds and the dashboard), from the commit the
# build fetched
l=$(curl -sf "$AGENT_URL/builds?repo=web" | jq -c '.[] | select(.id == 1)')
[ "$(jq -r .message <<<"$l")" = "first commit" ] || fail "message: $l"
[ "$(jq -r .author <<<"$l")" = "Test Author" ] || fail "author: $l"
curl -sf -H 'Accept: text/html' "$AGENT_URL/" | grep -q "first commit" || fail "not on the dashboard"

# a sha
sha1=$(pl_commit web "second")
pl_push web >/dev/null || fail "git push"
http_req -X POST -H "$AUTH" -d "{\"sha\": \"$sha1\", \"ref\": \"refs/heads/main\"}" "$AGENT_URL/repos/web/builds"
expect 202 .build 2
pl_expect 2 succeeded 120
pl_expect_field 2 .sha "$sha1"
[ "$(curl -sf "$AGENT_URL/builds?repo=web" | jq -r '.[] | select(.id == 2) | .message')" = second ] ||
	fail "message of build 2"

# retry: a new build of the same commit
http_req -X POST -H "$AUTH" "$AGENT_URL/builds/1/retry"
expect 202 .build 3
pl_expect 3 succeeded 120
pl_expect_field 3 .sha "$sha0"

# cancel: a running build and one queued behind it
sha2=$(pl_commit web "slow" SLEEP 60)
pl_push web >/dev/null || fail "git push"
git -C "$AGENT_DIR/web.work" push -q "$AGENT_DIR/web.git" "$sha0:refs/heads/dev" || fail "git push dev"
http_req -X POST -H "$AUTH" -d '{"ref": "refs/heads/main"}' "$AGENT_URL/repos/web/builds"
expect 202 .build 4
http_req -X POST -H "$AUTH" -d '{"ref": "dev"}' "$AGENT_URL/repos/web/builds"
expect 202 .build 5
pl_wait_state 4 running 60 || fail "build 4 never ran"
wait_grep 'assemble: sleeping' "$AGENT_DIR/state/logs/4.log" 30
pl_expect_field 5 .state queued
http_req -X POST "$AGENT_URL/builds/5/cancel"
expect 401
http_req -X POST -H "$AUTH" "$AGENT_URL/builds/5/cancel"
expect 202 .state canceled
pl_expect_field 5 .reason "canceled by request"
http_req -X POST -H "$AUTH" "$AGENT_URL/builds/4/cancel"
expect 202 .build 4
pl_expect 4 canceled 60
pl_expect_field 4 .reason "canceled by request"
pl_no_containers 4
http_req -X POST -H "$AUTH" "$AGENT_URL/builds/4/cancel"
expect 409
http_req -X POST -H "$AUTH" "$AGENT_URL/builds/99/cancel"
expect 404

# statuses: a ref-only build gets the same sequence as a webhook build (queued, running,
# final), posted once the build resolved the ref to its commit; the retry of that commit
# follows in order; build 5 (canceled before its ref was resolved) has no commit: none
pl_wait_statuses 12 120 || fail "statuses: $(forge_double_count) posts, expected 12: $(pl_statuses)"
for i in $(seq 1 600); do	# every row posted: nothing more can come
	[ "$(db_count statuses)" = 0 ] && break
	sleep 0.1
done
[ "$(db_count statuses)" = 0 ] || fail "statuses still waiting: $(db_count statuses)"
[ "$(forge_double_count)" = 12 ] || fail "statuses: $(forge_double_count) posts, expected 12: $(pl_statuses)"
got=$(pl_statuses "$sha0" | sed 's/ in [0-9]*s$//')
[ "$got" = "pending|Build 1 queued
pending|Build 1 running
success|Build 1 succeeded
pending|Build 3 queued
pending|Build 3 running
success|Build 3 succeeded" ] || fail "statuses of $sha0 (builds 1 and 3): $got"
got=$(pl_statuses "$sha2")
[ "$got" = "pending|Build 4 queued
pending|Build 4 running
error|Build 4 canceled: canceled by request" ] || fail "statuses of $sha2 (build 4): $got"
got=$(pl_statuses "$sha1" | sed 's/ in [0-9]*s$//')
[ "$got" = "pending|Build 2 queued
pending|Build 2 running
success|Build 2 succeeded" ] || fail "statuses of $sha1 (build 2): $got"
stop_agent || fail "agent exited $? on SIGTERM"
exit 0
