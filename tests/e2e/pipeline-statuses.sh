#!/usr/bin/env bash
# Pipeline, commit status delivery: the status API answers 500, then 429 with
# Retry-After, then recovers: every status is delivered, in order, after waiting at least
# what Retry-After asked. A status waiting for its retry survives a restart of the agent.
TEST=pl-statuses
source "$TESTS_DIR/lib/pipeline.sh"

pl_builder
pl_repo web "status_repo=acme/web" "status_context=ci/s2i"
start_agent || fail "agent did not start"

forge_double_ctl '{"fail": [500, {"code": 429, "retry_after": 3}]}' >/dev/null
sha=$(pl_commit web "one")
pl_push web >/dev/null || fail "git push"
pl_github_push web "$sha"
expect 202 .build 1
pl_expect 1 succeeded 120
pl_wait_statuses 5 60 || fail "expected 5 posts, got $(forge_double_count): $(pl_statuses)"
sleep 1
[ "$(forge_double_count)" = 5 ] || fail "expected 5 posts, got $(forge_double_count)"
codes=$(jq -r .answer.code "$FORGE_DOUBLE_LOG" | tr '\n' ' ')
[ "$codes" = "500 429 201 201 201 " ] || fail "answers: $codes"
descs=$(jq -r .body.description "$FORGE_DOUBLE_LOG" | sed 's/ in [0-9]*s$//' | tr '\n' ',')
[ "$descs" = "Build 1 queued,Build 1 queued,Build 1 queued,Build 1 running,Build 1 succeeded," ] ||
	fail "order: $descs"
[ "$(jq -r .body.context "$FORGE_DOUBLE_LOG" | sort -u)" = ci/s2i ] || fail "context"
# Retry-After: 3 was honoured (times are the double's, in seconds)
t2=$(forge_double_req 2 .time) t3=$(forge_double_req 3 .time)
python3 -c "import sys; sys.exit(0 if float(sys.argv[2]) - float(sys.argv[1]) >= 2.9 else 1)" "$t2" "$t3" ||
	fail "retried before Retry-After: $t2 -> $t3"
grep -q 'retry in' "$AGENT_LOG" || fail "no retry logged"

# a status waiting for its retry is kept across a restart
forge_double_ctl '{"fail": [{"code": 503, "retry_after": 30}]}' >/dev/null
sha=$(pl_commit web "two")	# a push of the commit main is built at builds nothing
pl_push web >/dev/null || fail "git push"
pl_github_push web "$sha" refs/heads/main "second-$$"
expect 202 .build 2
pl_wait_statuses 6 30 || fail "no post for build 2"
pl_expect 2 succeeded 120
stop_agent || fail "agent exited $? on SIGTERM"
[ "$(db_count statuses)" -ge 1 ] || fail "the status to retry is not in the database"
[ "$(forge_double_count)" = 6 ] || fail "posted before its Retry-After: $(pl_statuses)"
# the restarted agent posts it when due: Retry-After was 30 s, not worth waiting for here
sqlite3 "$AGENT_DIR/state/agent.db" "UPDATE statuses SET next_at = 0"
KEEP_PORT=1 start_agent || fail "agent did not restart"
pl_wait_statuses 9 60 || fail "statuses of build 2 not delivered: $(pl_statuses)"
sleep 1
descs=$(jq -r 'select(.body.description | test("Build 2")) | "\(.answer.code) \(.body.description)"' "$FORGE_DOUBLE_LOG" |
	sed 's/ in [0-9]*s$//' | tr '\n' ',')
[ "$descs" = "503 Build 2 queued,201 Build 2 queued,201 Build 2 running,201 Build 2 succeeded," ] ||
	fail "build 2 statuses: $descs"
[ "$(db_count statuses)" = 0 ] || fail "statuses left in the database"
stop_agent || fail "agent exited $? on SIGTERM"
exit 0
