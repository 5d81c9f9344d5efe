#!/usr/bin/env bash
# Fault: the first status of a commit is refused (429 with Retry-After) and, while it
# waits for its retry, that commit is built again (POST /builds/1/retry). The forge must
# still get the commit's statuses in the order they were queued: build 1's queued,
# running and final state before the retry's, so the commit ends with the retry's state.
# Another commit's statuses go out meanwhile, in their own order. Builds error at once (their
# repository does not exist), so no engine is needed.
set -u
source "$TESTS_DIR/lib/agent.sh"
source "$TESTS_DIR/lib/forge_double.sh"
agent_init
forge_double_status
ADMIN="adm-status-order-$RANDOM$RANDOM-$$"
printf '%s\n' "$ADMIN" >"$AGENT_DIR/admin.token"
chmod 600 "$AGENT_DIR/admin.token"
S="fault-status-order-secret-$$"
agent_repo web "$S" "${FORGE_STATUS_CONF[@]}" status_repo=acme/web
AGENT_EXTRA="admin_token_file = $AGENT_DIR/admin.token"
# the first post is refused for 20 s
forge_double_ctl '{"fail": [{"code": 429, "retry_after": 20}]}' >/dev/null
start_agent || fail "agent did not start"

wait_for() {	# seconds command...: until the command succeeds
	local i n=$(($1 * 10))
	shift
	for i in $(seq 1 "$n"); do "$@" && return 0; sleep 0.1; done
	return 1
}
push() {	# n: a delivery for commit n on its own branch
	jq --arg after "$(printf '%040x' "$1")" --arg ref "refs/heads/c$1" \
		'.after = $after | .head_commit.id = $after | .ref = $ref' \
		"$FIXTURES/github-push.json" >"$AGENT_DIR/body.json"
	post_hook github web "$AGENT_DIR/body.json" "$S" "fault-status-order-$$-$1"
}
SHA=$(printf '%040x' 301)
OTHER=$(printf '%040x' 302)
push 301
expect 202 .build 1
refused() { [ -s "$FORGE_DOUBLE_LOG" ] && jq -s -e 'any(.[]; .answer.code == 429)' "$FORGE_DOUBLE_LOG" >/dev/null; }
wait_for 120 refused || fail "the first status post never came"
# build 1's queued status now waits for its retry (20 s); once build 1 has ended (it
# errors at once; a retry while it runs would supersede it), build the commit again
ended1() { [ "$(curl -s "$AGENT_URL/builds/1" | jq -r .state)" = errored ]; }
wait_for 15 ended1 || fail "build 1 did not end: $(curl -s "$AGENT_URL/builds/1")"
http_req -X POST -H "Authorization: Bearer $ADMIN" "$AGENT_URL/builds/1/retry"
expect 202 .build 2
# another commit (its own order) goes out while build 1's status waits
push 302
expect 202 .build 3
other_done() { jq -e --arg sha "$OTHER" 'select(.sha == $sha and .answer.code == 201 and .body.state == "error")' "$FORGE_DOUBLE_LOG" >/dev/null 2>&1; }
wait_for 120 other_done || fail "the other commit's statuses: $(jq -c --arg sha "$OTHER" 'select(.sha == $sha) | [.body.state, .answer.code]' "$FORGE_DOUBLE_LOG")"
no_rows() { [ "$(db_count statuses)" = 0 ]; }
wait_for 180 no_rows || fail "statuses still waiting: $(db_count statuses)"
got=$(jq -r --arg sha "$SHA" 'select(.sha == $sha and .answer.code == 201) | .body.description' "$FORGE_DOUBLE_LOG" | sed 's/: .*//')
[ "$got" = "Build 1 queued
Build 1 running
Build 1 errored
Build 2 queued
Build 2 running
Build 2 errored" ] || fail "statuses of $SHA as the forge accepted them: $got"
got=$(jq -r --arg sha "$OTHER" 'select(.sha == $sha and .answer.code == 201) | .body.description' "$FORGE_DOUBLE_LOG" | sed 's/: .*//')
[ "$got" = "Build 3 queued
Build 3 running
Build 3 errored" ] || fail "statuses of $OTHER: $got"
[ "$(jq -r 'select(.answer.code != 201) | .answer.code' "$FORGE_DOUBLE_LOG")" = 429 ] ||
	fail "unexpected refusals: $(jq -c 'select(.answer.code != 201) | [.sha, .answer]' "$FORGE_DOUBLE_LOG")"
echo "fault-status-order: 3 builds of 2 commits, $(forge_double_count) posts (1 refused with Retry-After 20): the retry's statuses after the first build's, lost: 0"
stop_agent || fail "agent exited $? on SIGTERM"
exit 0
