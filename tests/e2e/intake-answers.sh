#!/usr/bin/env bash
# Intake: every webhook answer code of s2i-agent(8) HTTP API from the real daemon over HTTP.
set -u
source "$TESTS_DIR/lib/agent.sh"
agent_init
SECRET="It's a Secret to Everybody"
# workers = 0: builds stay queued, so the queue-full answer below is deterministic
AGENT_EXTRA="max_body = 16k
queue_max = 3
workers = 0"
agent_repo web "$SECRET" "cancel_superseded=no"
agent_repo narrow "$SECRET" "branches=main release/*"
start_agent || fail "agent did not start"

push=$FIXTURES/github-push.json		# refs/heads/master, ~7 KiB

# 202: queued, with the build's URL under public_url
post_hook github web "$push" "$SECRET" d-202
expect 202 .build 1
expect 202 .url "$AGENT_URL/builds/1"
# 200 duplicate: the same delivery id again
post_hook github web "$push" "$SECRET" d-202
expect 200 .duplicate 1
# 200 ignored: ping, deleted branch, branch not matched, tag without tag globs, other event
EVENT=ping post_hook github web "$FIXTURES/github-ping.json" "$SECRET" d-ping
expect 200 '.ignored | type' string
post_hook github web "$FIXTURES/github-push-branch-delete.json" "$SECRET" d-del
expect 200 '.ignored | type' string
post_hook github narrow "$push" "$SECRET" d-narrow
expect 200 '.ignored | type' string
post_hook github web "$FIXTURES/github-push-tag.json" "$SECRET" d-tag
expect 200 '.ignored | type' string
EVENT=issues post_hook github web "$push" "$SECRET" d-issues
expect 200 '.ignored | type' string

# 401: no signature, wrong signature, signature made with another secret
http_req -X POST -H "X-GitHub-Event: push" -H "X-GitHub-Delivery: d-401a" \
	-H "Content-Type: application/json" --data-binary "@$push" "$AGENT_URL/hooks/web"
expect 401
http_req -X POST -H "X-GitHub-Event: push" -H "X-GitHub-Delivery: d-401b" \
	-H "Content-Type: application/json" -H "X-Hub-Signature-256: sha256=$(printf '0%.0s' $(seq 64))" \
	--data-binary "@$push" "$AGENT_URL/hooks/web"
expect 401
post_hook github web "$push" "another secret" d-401c
expect 401
grep -q "$SECRET" "$AGENT_LOG" && fail "the secret appears in the log"
grep -q "$SECRET" "$AGENT_DIR/last.body" && fail "the secret appears in an answer"

# 400: malformed signature header; signed body that is not JSON; push without a ref
http_req -X POST -H "X-GitHub-Event: push" -H "X-Hub-Signature-256: sha256=xyz" \
	-H "Content-Type: application/json" --data-binary "@$push" "$AGENT_URL/hooks/web"
expect 400
printf '{"ref": "refs/heads/ma' >"$AGENT_DIR/bad.json"
post_hook github web "$AGENT_DIR/bad.json" "$SECRET" d-400
expect 400
printf '{"before": "x"}' >"$AGENT_DIR/noref.json"
post_hook github web "$AGENT_DIR/noref.json" "$SECRET" d-400b
expect 400

# 404 unknown repo (and names that cannot be repos), 405 not POST
post_hook github nosuch "$push" "$SECRET" d-404
expect 404
http_req --path-as-is -X POST --data-binary x "$AGENT_URL/hooks/../builds"
[ "$HTTP_CODE" = 404 ] || [ "$HTTP_CODE" = 400 ] || fail "dot-dot repo: $HTTP_CODE"
http_req "$AGENT_URL/hooks/web"
expect 405
grep -qi '^Allow: POST' "$HTTP_HEADERS" || fail "405 without Allow: POST"
http_req -X PUT --data-binary "@$push" "$AGENT_URL/hooks/web"
expect 405

# 413: body above max_body (16k), refused from Content-Length before it is read
head -c 40000 /dev/zero | tr '\0' 'a' >"$AGENT_DIR/big.json"
post_hook github web "$AGENT_DIR/big.json" "$SECRET" d-413
expect 413
# the daemon still answers afterwards
http_req "$AGENT_URL/healthz"
[ "$HTTP_CODE" = 200 ] || [ "$HTTP_CODE" = 503 ] || fail "healthz after 413: $HTTP_CODE"

# 503 with Retry-After when the queue is full (queue_max = 3, one build queued)
post_hook github web "$(push_of "$push" d-q2)" "$SECRET" d-q2
expect 202 .build 2
post_hook github web "$(push_of "$push" d-q3)" "$SECRET" d-q3
expect 202 .build 3
post_hook github web "$(push_of "$push" d-q4)" "$SECRET" d-q4
expect 503
grep -qi '^Retry-After: [0-9]' "$HTTP_HEADERS" || fail "503 without Retry-After"
# a redelivery of a queued build is still a duplicate, not a 503
post_hook github web "$(push_of "$push" d-q3)" "$SECRET" d-q3
expect 200 .duplicate 3

[ "$(db_count builds)" = 3 ] || fail "expected 3 builds in the database, found $(db_count builds)"
stop_agent || fail "agent exited $? on SIGTERM"
grep -q "$SECRET" "$AGENT_LOG" && fail "the secret appears in the log"
exit 0
