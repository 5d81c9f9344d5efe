#!/usr/bin/env bash
# Fault: the commit status API answers 500, then 429 with Retry-After, then does not
# answer at all (the post times out), while the agent is killed with SIGKILL and stopped
# with SIGTERM with statuses pending. Once the API recovers every build's statuses are
# delivered, in order (queued/running before the final one), none lost.
# Builds error at once (their repository does not exist), so no engine is needed.
set -u
source "$TESTS_DIR/lib/agent.sh"
source "$TESTS_DIR/lib/forge_double.sh"
agent_init
forge_double_status
S="fault-status-secret-$$"
agent_repo web "$S" "${FORGE_STATUS_CONF[@]}" status_repo=acme/web
# 500, 429 (Retry-After 2), then a hang: the post times out (STATUS_TIMEOUT)
forge_double_ctl '{"fail": [500, {"code": 429, "retry_after": 2}, "hang"]}' >/dev/null
start_agent || fail "agent did not start"

N=4
for n in $(seq 1 $N); do
	jq --arg after "$(printf '%040x' "$n")" --arg ref "refs/heads/b$n" \
		'.after = $after | .head_commit.id = $after | .ref = $ref' \
		"$FIXTURES/github-push.json" >"$AGENT_DIR/body.json"
	post_hook github web "$AGENT_DIR/body.json" "$S" "fault-status-$$-$n"
	expect 202 .build "$n"
done

hanging() { [ -s "$FORGE_DOUBLE_LOG" ] && jq -s -e 'any(.[]; .answer.hang == true)' "$FORGE_DOUBLE_LOG" >/dev/null 2>&1; }
# the hang is reached (posts 1 and 2 failed), statuses are pending: kill -9
wait_for 60 hanging || fail "the status poster never reached the hanging API: $(forge_double_count) posts"
kill9_agent
# after the restart the API hangs once more (this time the agent's post times out),
# then answers 503; SIGTERM while that status waits for its retry
forge_double_ctl '{"fail": ["hang", 503]}' >/dev/null
KEEP_PORT=1 start_agent || fail "agent did not restart after SIGKILL"
# (jq -s ... any: jq 1.6 -e looks only at the last input, so select over a log misses earlier lines)
got503() { jq -s -e 'any(.[]; .answer.code == 503)' "$FORGE_DOUBLE_LOG" >/dev/null 2>&1; }
wait_for 120 got503 || fail "no post after the hung one (the client never timed out?)"
grep -q "commit status .*timed out\|commit status .*[Tt]imeout" "$AGENT_LOG" ||
	fail "the hung post is not reported as a timeout: $(grep 'commit status' "$AGENT_LOG" | tail -n 3)"
stop_agent || fail "agent exited $? on SIGTERM"
KEEP_PORT=1 start_agent || fail "agent did not restart after SIGTERM"

# recovered: every build's final status arrives with 201
final_count() { jq -r 'select(.answer.code == 201 and (.body.state == "error" or .body.state == "failure" or .body.state == "success")) | .sha' "$FORGE_DOUBLE_LOG" | sort -u | wc -l; }
finals_done() { [ "$(final_count)" -ge $N ]; }
wait_for 240 finals_done || fail "final statuses delivered for $(final_count) of $N builds"
for n in $(seq 1 $N); do
	sha=$(printf '%040x' "$n")
	# the states the forge accepted (201), in the order it got them
	seq=$(jq -r --arg sha "$sha" 'select(.sha == $sha and .answer.code == 201) | .body.state' "$FORGE_DOUBLE_LOG" | tr '\n' ' ')
	[[ $seq =~ ^(pending\ )*(error|failure)\ $ ]] || fail "build $n: statuses $seq"
	[[ $seq == pending* ]] || fail "build $n: no pending status before the final one: $seq"
	b=$(curl -sf "$AGENT_URL/builds/$n") || fail "GET /builds/$n"
	state=$(jq -r .state <<<"$b")
	case $state in errored|failed|canceled) ;; *) fail "build $n is $state" ;; esac
done
posts=$(forge_double_count)
failed=$(jq -r 'select(.answer.code != 201) | .seq' "$FORGE_DOUBLE_LOG" | wc -l)
echo "fault-status: $N builds, $posts status posts ($failed answered 500/429/503 or hung), SIGKILL and SIGTERM with statuses pending, lost: 0"
stop_agent || fail "agent exited $? on SIGTERM"
exit 0
