#!/usr/bin/env bash
# A status posted once, though its agent died before recording it (issue 13, item 5).
# Two agents on one PostgreSQL post to the recording forge double, which accepts a
# build's first status at once but holds its answer back. The agent posting it is
# SIGKILLed meanwhile: its `__status` child dies with it (death signal), so nothing
# more goes out, and the status stays claimed, not recorded as done. Once the claim
# has run out (the test ends it early in the database), the other agent takes it
# over: it asks the forge for the commit's statuses (GET .../commits/SHA/statuses)
# first, finds the status there and records it as done without posting it again.
# Every transition of each build reaches the forge exactly once, in order.
# Builds error at once (their repository does not exist): no engine is needed.
set -u
source "$TESTS_DIR/lib/agent.sh"
source "$TESTS_DIR/lib/pg.sh"
source "$TESTS_DIR/lib/forge_double.sh"
source "$TESTS_DIR/lib/fleet.sh"
agent_init
fleet_pg_start || fail "PostgreSQL did not start"
forge_double_status
S="fleet-status-once-secret-$$-0123456789"
agent_repo web "$S" "${FORGE_STATUS_CONF[@]}" status_repo=acme/web "branches=*"
AGENT_EXTRA="database = $PG_URL
database_password_file = $PG_PASSWORD_FILE"
start_agent || fail "agent a did not start"
A_URL=$AGENT_URL
fleet_serve b || fail "agent b did not start"
B_PID=$FLEET_PID B_URL=http://127.0.0.1:$FLEET_PORT
declare -A pid_of=([a]=$AGENT_PID [b]=$B_PID) url_of=([a]=$A_URL [b]=$B_URL)

push() {	# n url: a delivery for commit n on its own branch, to that agent
	jq --arg after "$(printf '%040x' "$1")" --arg ref "refs/heads/c$1" \
		'.after = $after | .head_commit.id = $after | .ref = $ref' \
		"$FIXTURES/github-push.json" >"$AGENT_DIR/body.json"
	AGENT_URL=$2
	post_hook github web "$AGENT_DIR/body.json" "$S" "fleet-status-once-$$-$1"
	expect 202
}
accepted() {	# n: the descriptions the forge answered 201 for, commit n, in order
	jq -r --arg sha "$(printf '%040x' "$1")" \
		'select(.method == "POST" and .sha == $sha and .answer.code == 201) | .body.description' \
		"$FORGE_DOUBLE_LOG" | sed 's/: .*//'
}
expect_once() {	# n id
	local got
	got=$(accepted "$1")
	[ "$got" = "Build $2 queued
Build $2 running
Build $2 errored" ] || fail "commit $1 (build $2): the forge accepted: $(tr '\n' '|' <<<"$got")"
}
outbox_empty() { [ "$(pg_sql "SELECT count(*) FROM statuses")" = 0 ]; }

# the first post is accepted, its answer held for 60 s
forge_double_ctl '{"hold": 60}' >/dev/null
push 1 "$A_URL"
b1=$(jq -r .build <<<"$HTTP_BODY")
held() { [ "$(jq -s '[.[] | select(.held)] | length' "$FORGE_DOUBLE_LOG")" = 1 ]; }
wait_for 60 held || fail "no status post reached the forge"
holder() {	# the agent whose `__status` child waits for the held answer
	local name kid
	for name in a b; do
		for kid in $(pgrep -P "${pid_of[$name]}"); do
			if tr '\0' ' ' <"/proc/$kid/cmdline" 2>/dev/null | grep -q "__status"; then
				HOLDER=$name POSTER=$kid
				return 0
			fi
		done
	done
	return 1
}
wait_for 10 holder || fail "no agent has a status post in flight"
[ "$(jq -r 'select(.held) | .body.description' "$FORGE_DOUBLE_LOG")" = "Build $b1 queued" ] ||
	fail "the held post is not build $b1's first: $(jq -c 'select(.held) | .body' "$FORGE_DOUBLE_LOG")"
claim=$(pg_sql "SELECT claimed_by FROM statuses WHERE build_id = $b1 ORDER BY id LIMIT 1")
[ -n "$claim" ] || fail "the status in flight is not claimed"
# the daemon alone: its post child must end with it
kill -9 "${pid_of[$HOLDER]}"
wait "${pid_of[$HOLDER]}" 2>/dev/null
[ "$HOLDER" = a ] && AGENT_PID=
poster_gone() { ! kill -0 "$POSTER" 2>/dev/null || grep -q '^State:.*Z' "/proc/$POSTER/status" 2>/dev/null; }
wait_for 5 poster_gone || fail "agent $HOLDER's __status child ($POSTER) outlived its daemon"
echo "agent $HOLDER SIGKILLed while the forge held its post's answer; its __status child ended with it"
[ "$HOLDER" = a ] && OTHER=b || OTHER=a
# the claim runs out (STATUS_CLAIM_SECONDS: here at once), and a push wakes the other
pg_sql "UPDATE statuses SET claim_until = 1 WHERE claim_until IS NOT NULL" >/dev/null
push 2 "${url_of[$OTHER]}"
b2=$(jq -r .build <<<"$HTTP_BODY")
wait_for 90 outbox_empty || fail "statuses still waiting: $(pg_sql "SELECT build_id, state, attempts, claimed_by FROM statuses" | tr '\n' ' ')"
expect_once 1 "$b1"
expect_once 2 "$b2"
# the agent that took the claim over asked the forge first, with its token, and said so
gets=$(jq -c --arg sha "$(printf '%040x' 1)" 'select(.method == "GET" and .sha == $sha)
	| [.path, .answer.code, (.headers.authorization // "" | startswith("Bearer "))]' "$FORGE_DOUBLE_LOG")
[ "$gets" = "[\"/repos/acme/web/commits/$(printf '%040x' 1)/statuses?per_page=100\",200,true]" ] ||
	fail "the takeover's look at the forge: $gets"
other_log=$AGENT_LOG
[ "$OTHER" = b ] && other_log=$AGENT_DIR/b.log
grep -q "build $b1: commit status 'queued' .* already on the forge" "$other_log" ||
	fail "agent $OTHER did not say the status was already on the forge: $(grep "build $b1" "$other_log" | tail -n 5)"
# only a taken-over claim asks: build 2's statuses were posted without a look
[ "$(jq -s --arg sha "$(printf '%040x' 2)" '[.[] | select(.method == "GET" and .sha == $sha)] | length' "$FORGE_DOUBLE_LOG")" = 0 ] ||
	fail "statuses not taken over were looked up"
echo "build $b1's queued status: accepted once; agent $OTHER found it on the forge and did not post it again"
fleet_stop "${pid_of[$OTHER]}" || fail "agent $OTHER exited $? on SIGTERM"
[ "$OTHER" = a ] && AGENT_PID=
exit 0
