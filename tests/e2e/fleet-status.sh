#!/usr/bin/env bash
# The commit status outbox of a fleet: three agents on one PostgreSQL post to one
# forge (the recording double). Any agent may post any status, yet each transition
# (queued, running, final) of each build reaches the forge exactly once with 201, a
# commit's statuses in the order they were queued. A refused post (429 + Retry-After)
# waits out its backoff whichever agent retries it. An agent SIGKILLed while its post
# hangs leaves its claim on the status; another agent takes it over once the claim
# has expired (STATUS_CLAIM_SECONDS, 60) and the commit's statuses go on in order.
# Builds error at once (their repository does not exist): no engine is needed.
source "$TESTS_DIR/lib/fleet_status.sh"
fs_start github
# the first post is refused: its retry waits 4 s, on whichever agent
forge_double_ctl '{"fail": [{"code": 429, "retry_after": 4}]}' >/dev/null
fs_agent a
fs_agent b
fs_agent c

n=12
declare -A build
names=(a b c)
for i in $(seq 1 $n); do
	fs_push "$i" "${names[$((i % 3))]}"
	build[$i]=$FS_BUILD
done
wait_for 120 fs_outbox_empty || fail "statuses still waiting: $(pg_sql "SELECT build_id, state, attempts, claimed_by FROM statuses" | tr '\n' ' ')"
for i in $(seq 1 $n); do
	fs_expect_once "$i" "${build[$i]}"
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
fs_push 50 a
b50=$FS_BUILD
final50() { [ "$(pg_sql "SELECT state FROM builds WHERE id = $b50")" = errored ]; }
wait_for 60 final50 || fail "build $b50 did not end"
hanging() { [ "$(curl -s "$FORGE_DOUBLE_URL/_control" | jq -r .hanging)" = 1 ] && fs_holder; }
wait_for 60 hanging || fail "no status post hangs"
claimed_by=$(pg_sql "SELECT claimed_by FROM statuses WHERE build_id = $b50 ORDER BY id LIMIT 1")
[ -n "$claimed_by" ] || fail "the hanging status is not claimed"
killed_at=$(date +%s)
kill -9 "${pid_of[$HOLDER]}" "$POSTER"
wait "${pid_of[$HOLDER]}" 2>/dev/null
pid_of[$HOLDER]=
case $HOLDER in a) AGENT_PID= ;; esac
echo "agent $HOLDER (claim of $claimed_by) SIGKILLed with its hanging post"
# not before the claim expires: the status is still the same agent's
sleep 20
[ "$(fs_accepted 50)" = "" ] || fail "build $b50's status was posted while its claim held: $(fs_accepted 50 | tr '\n' '|')"
[ "$(pg_sql "SELECT claimed_by FROM statuses WHERE build_id = $b50 ORDER BY id LIMIT 1")" = "$claimed_by" ] ||
	fail "the claim of the hanging status changed hands before it expired"
wait_for 90 fs_outbox_empty || fail "statuses of build $b50 not taken over: $(pg_sql "SELECT state, attempts, claimed_by, claim_until FROM statuses" | tr '\n' ' ')"
took=$(($(date +%s) - killed_at))
fs_expect_once 50 "$b50"
[ "$(jq -s --arg sha "$(printf '%040x' 50)" '[.[] | select(.sha == $sha and .answer.hang)] | length' "$FORGE_DOUBLE_LOG")" = 1 ] ||
	fail "the hanging post is not the first of build $b50's"
echo "takeover: build $b50's statuses posted by another agent ${took}s after agent $HOLDER was killed"

for name in a b c; do
	[ "$name" = "$HOLDER" ] && continue
	fleet_stop "${pid_of[$name]}" || fail "agent $name exited $? on SIGTERM"
	[ "$name" = a ] && AGENT_PID=
done
exit 0
