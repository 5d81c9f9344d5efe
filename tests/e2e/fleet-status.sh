#!/usr/bin/env bash
# The commit status outbox of a fleet: three agents on one PostgreSQL post to one
# forge (the recording double). Any agent may post any status, yet each transition
# (queued, running, final) of each build reaches the forge exactly once with 201, a
# commit's statuses in the order they were queued. A refused post (429 + Retry-After)
# waits out its backoff whichever agent retries it. An agent SIGKILLed while its post
# hangs leaves its claim on the status; another agent takes it over once the claim
# has expired (STATUS_CLAIM_SECONDS, 60) and the commit's statuses go on in order.
# Builds error at once (their repository does not exist): no engine is needed.
set -u
source "$TESTS_DIR/lib/agent.sh"
source "$TESTS_DIR/lib/pg.sh"
source "$TESTS_DIR/lib/forge_double.sh"
source "$TESTS_DIR/lib/fleet.sh"
agent_init
fleet_pg_start || fail "PostgreSQL did not start"
forge_double_status
S="fleet-status-secret-$$-0123456789"
agent_repo web "$S" "${FORGE_STATUS_CONF[@]}" status_repo=acme/web "branches=*"
AGENT_EXTRA="database = $PG_URL
database_password_file = $PG_PASSWORD_FILE"
# the first post is refused: its retry waits 4 s, on whichever agent
forge_double_ctl '{"fail": [{"code": 429, "retry_after": 4}]}' >/dev/null
start_agent || fail "agent a did not start"
A_URL=$AGENT_URL
fleet_serve b || fail "agent b did not start"
B_PID=$FLEET_PID B_URL=http://127.0.0.1:$FLEET_PORT
fleet_serve c || fail "agent c did not start"
C_PID=$FLEET_PID C_URL=http://127.0.0.1:$FLEET_PORT
urls=("$A_URL" "$B_URL" "$C_URL")

push() {	# n url: a delivery for commit n on its own branch, to that agent
	jq --arg after "$(printf '%040x' "$1")" --arg ref "refs/heads/c$1" \
		'.after = $after | .head_commit.id = $after | .ref = $ref' \
		"$FIXTURES/github-push.json" >"$AGENT_DIR/body.json"
	AGENT_URL=$2
	post_hook github web "$AGENT_DIR/body.json" "$S" "fleet-status-$$-$1"
	expect 202
}
# the forge's 201 answers for commit n: "build description" lines, in order
accepted() {	# n
	jq -r --arg sha "$(printf '%040x' "$1")" \
		'select(.sha == $sha and .answer.code == 201) | .body.description' "$FORGE_DOUBLE_LOG" |
		sed 's/: .*//'
}
# every transition of build id once, in order
expect_once() {	# n id
	local got
	got=$(accepted "$1")
	[ "$got" = "Build $2 queued
Build $2 running
Build $2 errored" ] || fail "commit $1 (build $2): the forge accepted: $(tr '\n' '|' <<<"$got")"
}
outbox_empty() { [ "$(pg_sql "SELECT count(*) FROM statuses")" = 0 ]; }

n=12
declare -A build
for i in $(seq 1 $n); do
	push "$i" "${urls[$((i % 3))]}"
	build[$i]=$(jq -r .build <<<"$HTTP_BODY")
done
wait_for 120 outbox_empty || fail "statuses still waiting: $(pg_sql "SELECT build_id, state, attempts, claimed_by FROM statuses" | tr '\n' ' ')"
for i in $(seq 1 $n); do
	expect_once "$i" "${build[$i]}"
done
[ "$(jq -s '[.[] | select(.answer.code == 201)] | length' "$FORGE_DOUBLE_LOG")" = $((3 * n)) ] ||
	fail "$(jq -s '[.[] | select(.answer.code == 201)] | length' "$FORGE_DOUBLE_LOG") statuses accepted for $((3 * n)) transitions"
# the refused one was posted again after its Retry-After, not before
refused=$(jq -c 'select(.answer.code == 429) | [.sha, .body.description, .time]' "$FORGE_DOUBLE_LOG")
[ "$(wc -l <<<"$refused")" = 1 ] || fail "refusals: $refused"
gap=$(jq -s --argjson r "$refused" '[.[] | select(.sha == $r[0] and .body.description == $r[1] and .answer.code == 201)] |
	.[0].time - $r[2]' "$FORGE_DOUBLE_LOG")
jq -e -n "$gap >= 3.9" >/dev/null || fail "the refused status was posted again after ${gap}s (Retry-After: 4)"
# posted by whichever agent claimed them: the agents' logs add up to the forge's count
posted() { grep -c "commit status .* posted (HTTP 201)" "$1"; }
pa=$(posted "$AGENT_LOG") pb=$(posted "$AGENT_DIR/b.log") pc=$(posted "$AGENT_DIR/c.log")
[ $((pa + pb + pc)) = $((3 * n)) ] || fail "agents logged $pa + $pb + $pc posts for $((3 * n))"
echo "statuses of $n builds: $((3 * n)) accepted once each, in order; posted by a: $pa, b: $pb, c: $pc"

# takeover: the next post hangs; its agent is SIGKILLed (and its post with it); the
# claim outlives them and then another agent posts that status and the commit's next
forge_double_ctl '{"hang": true}' >/dev/null
push 50 "$A_URL"
b50=$(jq -r .build <<<"$HTTP_BODY")
final50() { [ "$(pg_sql "SELECT state FROM builds WHERE id = $b50")" = errored ]; }
wait_for 60 final50 || fail "build $b50 did not end"
declare -A pid_of=([a]=$AGENT_PID [b]=$B_PID [c]=$C_PID)
holder() {	# the agent whose status post hangs: sets HOLDER and POSTER
	local name kid
	for name in a b c; do
		for kid in $(pgrep -P "${pid_of[$name]}"); do
			if tr '\0' ' ' <"/proc/$kid/cmdline" 2>/dev/null | grep -q "__status"; then
				HOLDER=$name POSTER=$kid
				return 0
			fi
		done
	done
	return 1
}
hanging() { [ "$(curl -s "$FORGE_DOUBLE_URL/_control" | jq -r .hanging)" = 1 ] && holder; }
wait_for 60 hanging || fail "no status post hangs"
claimed_by=$(pg_sql "SELECT claimed_by FROM statuses WHERE build_id = $b50 ORDER BY id LIMIT 1")
[ -n "$claimed_by" ] || fail "the hanging status is not claimed"
killed_at=$(date +%s)
kill -9 "${pid_of[$HOLDER]}" "$POSTER"
wait "${pid_of[$HOLDER]}" 2>/dev/null
case $HOLDER in a) AGENT_PID= ;; esac
echo "agent $HOLDER (claim of $claimed_by) SIGKILLed with its hanging post"
# not before the claim expires: the status is still the same agent's
sleep 20
[ "$(accepted 50)" = "" ] || fail "build $b50's status was posted while its claim held: $(accepted 50 | tr '\n' '|')"
[ "$(pg_sql "SELECT claimed_by FROM statuses WHERE build_id = $b50 ORDER BY id LIMIT 1")" = "$claimed_by" ] ||
	fail "the claim of the hanging status changed hands before it expired"
wait_for 90 outbox_empty || fail "statuses of build $b50 not taken over: $(pg_sql "SELECT state, attempts, claimed_by, claim_until FROM statuses" | tr '\n' ' ')"
took=$(($(date +%s) - killed_at))
expect_once 50 "$b50"
[ "$(jq -s --arg sha "$(printf '%040x' 50)" '[.[] | select(.sha == $sha and .answer.hang)] | length' "$FORGE_DOUBLE_LOG")" = 1 ] ||
	fail "the hanging post is not the first of build $b50's"
echo "takeover: build $b50's statuses posted by another agent ${took}s after agent $HOLDER was killed"

for name in a b c; do
	[ "$name" = "$HOLDER" ] && continue
	fleet_stop "${pid_of[$name]}" || fail "agent $name exited $? on SIGTERM"
	[ "$name" = a ] && AGENT_PID=
done
exit 0
