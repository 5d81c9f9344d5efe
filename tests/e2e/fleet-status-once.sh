#!/usr/bin/env bash
# A status posted once, though its agent died before recording it (issue 13, item 5),
# on GitHub's API here, on GitLab's and Gitea's in fleet-status-once-gitlab.sh and
# -gitea.sh (FLEET_STATUS_FORGE). Two agents on one PostgreSQL post to the recording
# forge double, which accepts a build's first status at once but holds its answer
# back. The agent posting it is SIGKILLed meanwhile: its `__status` child dies with it
# (death signal), so nothing more goes out, and the status stays claimed, not
# recorded as done. Once the claim has run out (the test ends it early in the
# database), the other agent takes it over: it asks the forge for the commit's
# statuses first (the list call each forge documents, with the token as it takes
# it), finds the status there and records it as done without posting it again.
# Every transition of each build reaches the forge exactly once, in order.
# Then a token that may post statuses but not read them: two posts are taken over
# (refused with 429 first, then their claims made to look like a dead agent's) and
# the forge answers their lists 403. The agent posts them anyway (a status missing
# is worse than one twice), warns once for the repository that the token needs read
# access, and counts both in s2i_agent_status_unchecked_total.
source "$TESTS_DIR/lib/fleet_status.sh"
fs_start "${FLEET_STATUS_FORGE:-github}"
fs_agent a
fs_agent b

# the first post is accepted, its answer held for 60 s
forge_double_ctl '{"hold": 60}' >/dev/null
fs_push 1 a
b1=$FS_BUILD
held() { [ "$(jq -s '[.[] | select(.held)] | length' "$FORGE_DOUBLE_LOG")" = 1 ]; }
wait_for 60 held || fail "no status post reached the forge"
wait_for 10 fs_holder || fail "no agent has a status post in flight"
[ "$(jq -r 'select(.held) | .body.description' "$FORGE_DOUBLE_LOG")" = "Build $b1 queued" ] ||
	fail "the held post is not build $b1's first: $(jq -c 'select(.held) | .body' "$FORGE_DOUBLE_LOG")"
claim=$(pg_sql "SELECT claimed_by FROM statuses WHERE build_id = $b1 ORDER BY id LIMIT 1")
[ -n "$claim" ] || fail "the status in flight is not claimed"
# the daemon alone: its post child must end with it
kill -9 "${pid_of[$HOLDER]}"
wait "${pid_of[$HOLDER]}" 2>/dev/null
pid_of[$HOLDER]=
[ "$HOLDER" = a ] && AGENT_PID=
poster_gone() { ! kill -0 "$POSTER" 2>/dev/null || grep -q '^State:.*Z' "/proc/$POSTER/status" 2>/dev/null; }
wait_for 5 poster_gone || fail "agent $HOLDER's __status child ($POSTER) outlived its daemon"
echo "agent $HOLDER SIGKILLed while the forge held its post's answer; its __status child ended with it"
[ "$HOLDER" = a ] && OTHER=b || OTHER=a
other_log=$AGENT_LOG
[ "$OTHER" = b ] && other_log=$AGENT_DIR/b.log
# the claim runs out (STATUS_CLAIM_SECONDS: here at once), and a push wakes the other
pg_sql "UPDATE statuses SET claim_until = 1 WHERE claim_until IS NOT NULL" >/dev/null
fs_push 2 "$OTHER"
b2=$FS_BUILD
wait_for 90 fs_outbox_empty || fail "statuses still waiting: $(pg_sql "SELECT build_id, state, attempts, claimed_by FROM statuses" | tr '\n' ' ')"
fs_expect_once 1 "$b1"
fs_expect_once 2 "$b2"
# the agent that took the claim over asked the forge first, with its token, and said so
gets=$(fs_lists 1)
[ "$gets" = "[\"$(fs_list_path 1)\",200,true]" ] || fail "the takeover's look at the forge: $gets"
grep -q "build $b1: commit status 'queued' .* already on the forge" "$other_log" ||
	fail "agent $OTHER did not say the status was already on the forge: $(grep "build $b1" "$other_log" | tail -n 5)"
# only a taken-over claim asks: build 2's statuses were posted without a look
[ -z "$(fs_lists 2)" ] || fail "statuses not taken over were looked up: $(fs_lists 2)"
echo "$FS_KIND: build $b1's queued status accepted once; agent $OTHER found it on the forge and did not post it again"

# ---- a token that may post statuses but not read them ----
case $FS_KIND in
github) denied='{"message": "Resource not accessible by personal access token", "documentation_url": "https://docs.github.com/rest/commits/statuses#list-commit-statuses-for-a-reference", "status": "403"}' ;;
gitlab) denied='{"message": "403 Forbidden"}' ;;
gitea) denied='{"message": "token does not have at least one of required scope(s): [read:repository]", "url": ""}' ;;
esac
forge_double_ctl "{\"fail\": [{\"code\": 429, \"retry_after\": 3}, {\"code\": 429, \"retry_after\": 3}],
	\"list_fail\": [{\"code\": 403, \"body\": $denied}, {\"code\": 403, \"body\": $denied}]}" >/dev/null
fs_push 3 "$OTHER"
b3=$FS_BUILD
fs_push 4 "$OTHER"
b4=$FS_BUILD
# both first posts refused and back in the outbox, due 3 s later: their claims now
# look like those of an agent that died while posting them
refused() { [ "$(pg_sql "SELECT count(*) FROM statuses WHERE attempts > 0 AND claim_until IS NULL")" = 2 ]; }
wait_for 30 refused || fail "the posts were not refused: $(pg_sql "SELECT build_id, state, attempts, claim_until FROM statuses" | tr '\n' ' ')"
pg_sql "UPDATE statuses SET claimed_by = 'gone', claim_until = 1 WHERE attempts > 0 AND claim_until IS NULL" >/dev/null
wait_for 90 fs_outbox_empty || fail "statuses still waiting: $(pg_sql "SELECT build_id, state, attempts, claimed_by FROM statuses" | tr '\n' ' ')"
for n in 3 4; do
	[ "$(fs_lists $n)" = "[\"$(fs_list_path $n)\",403,true]" ] || fail "the look at commit $n's statuses: $(fs_lists $n)"
done
fs_expect_once 3 "$b3"
fs_expect_once 4 "$b4"
warned=$(grep -c "repository 'web': a commit status taken over from another agent was posted without asking the forge first" "$other_log")
[ "$warned" = 1 ] || fail "agent $OTHER warned $warned times of the unread statuses: $(grep -i "without asking" "$other_log")"
grep -q "without asking the forge first whether it already has it (GET .*HTTP 403: .*needs read access" "$other_log" ||
	fail "the warning does not say what the forge answered: $(grep "without asking" "$other_log")"
unchecked=$(curl -s "${url_of[$OTHER]}/metrics" | awk '$1 == "s2i_agent_status_unchecked_total" { print $2 }')
[ "$unchecked" = 2 ] || fail "s2i_agent_status_unchecked_total: '$unchecked', not 2"
echo "$FS_KIND: a token that cannot read statuses: 2 taken-over posts sent anyway, 1 warning, counted 2"
fleet_stop "${pid_of[$OTHER]}" || fail "agent $OTHER exited $? on SIGTERM"
[ "$OTHER" = a ] && AGENT_PID=
exit 0
