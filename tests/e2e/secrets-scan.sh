#!/usr/bin/env bash
# The secret scan every daemon test ends with (agent_cleanup -> secrets_scan) can fail:
# a secret planted in a log, in an answer, in a database row and in a build log is
# reported by the secret file's name, and the report never shows the secret itself.
# Then the real agent's own files (log, answers, database, 401 answers) are clean.
set -u
source "$TESTS_DIR/lib/agent.sh"
agent_init
S="scan-secret-$$-$RANDOM"
agent_repo web "$S"
printf 'scan-admin-token-%s-%s\n' $$ "$RANDOM" >"$AGENT_DIR/admin.token"
chmod 600 "$AGENT_DIR/admin.token"
ADMIN=$(cat "$AGENT_DIR/admin.token")
AGENT_EXTRA="admin_token_file = $AGENT_DIR/admin.token"
start_agent || fail "agent did not start"

post_hook github web "$FIXTURES/github-push.json" "$S" d-1
expect 202
post_hook github web "$FIXTURES/github-push.json" "wrong-$S" d-2
expect 401
post_hook gitlab web "$FIXTURES/gitlab-push-hook.json" "$S" d-3
expect 202
http_req -X POST -H "Authorization: Bearer wrong-$ADMIN" "$AGENT_URL/builds/1/cancel"
expect 401
http_req -X POST -H "Authorization: Bearer $ADMIN" -H "Content-Type: application/json" --data "{\"ref\": \"refs/heads/main\"}" "$AGENT_URL/repos/web/builds"
expect 202
http_req "$AGENT_URL/builds"
expect 200
stop_agent || fail "agent exited $? on SIGTERM"
[ -s "$AGENT_DIR/answers.log" ] || fail "http_req keeps no answers.log"
[ -s "$AGENT_DIR/state/agent.db" ] || fail "no database to scan"

# the real run is clean
secrets_scan "$AGENT_DIR" 2>"$AGENT_DIR/scan0" || { cat "$AGENT_DIR/scan0"; fail "the agent leaked a secret"; }
echo "clean run: $SECRETS_SCANNED"

plant_and_scan() {	# what, file, secret
	local what=$1 file=$2 out=$AGENT_DIR/scan.out
	secrets_scan "$AGENT_DIR" 2>"$out" && fail "$what: a planted secret was not found"
	grep -q "LEAK: secret from ${3} found in ${file#"$AGENT_DIR"/}" "$out" ||
		fail "$what: report: $(cat "$out")"
	grep -qF "$S" "$out" && fail "$what: the report shows the webhook secret"
	grep -qF "$ADMIN" "$out" && fail "$what: the report shows the admin token"
	echo "found when planted in $what"
}

# a log line
cp "$AGENT_LOG" "$AGENT_DIR/agent.log.orig"
printf 'agent: oops %s\n' "$S" >>"$AGENT_LOG"
plant_and_scan "the agent log" "$AGENT_LOG" web.secret
cp "$AGENT_DIR/agent.log.orig" "$AGENT_LOG"

# an answer
printf 'HTTP/1.1 200 OK\r\n\r\n{"token": "%s"}\n' "$ADMIN" >>"$AGENT_DIR/answers.log"
plant_and_scan "an answer" "$AGENT_DIR/answers.log" admin.token
: >"$AGENT_DIR/answers.log"

# a database row (the second secret line of a rotated secret file is searched too)
printf '%s\nsecond-scan-secret-%s\n' "$S" $$ >"$AGENT_DIR/web.secret"
sqlite3 "$AGENT_DIR/state/agent.db" "CREATE TABLE planted (v TEXT); INSERT INTO planted VALUES ('x' || 'second-scan-secret-$$' || 'y')" ||
	fail "cannot plant a row"
plant_and_scan "a database row" "$AGENT_DIR/state/agent.db" web.secret
sqlite3 "$AGENT_DIR/state/agent.db" "DROP TABLE planted; VACUUM" || fail "cannot drop the row"
secrets_scan "$AGENT_DIR" 2>/dev/null || fail "still found after VACUUM: $(secrets_scan "$AGENT_DIR" 2>&1)"

# a build log
mkdir -p "$AGENT_DIR/state/logs"
printf 'step 1\nAuthorization: Bearer %s\n' "$ADMIN" >"$AGENT_DIR/state/logs/99.log"
plant_and_scan "a build log" "$AGENT_DIR/state/logs/99.log" admin.token
rm -f "$AGENT_DIR/state/logs/99.log"

# and agent_cleanup (the EXIT trap) fails a test with a leak
out=$(TESTS_DIR=$TESTS_DIR bash -c '
	source "$TESTS_DIR/lib/agent.sh"
	agent_init
	agent_repo web "planted-secret-in-a-subshell"
	echo "planted-secret-in-a-subshell" >"$AGENT_DIR/agent.log"
	exit 0' 2>&1)
rc=$?
[ $rc = 1 ] || fail "a test with a leak exited $rc: $out"
grep -q "LEAK: secret from web.secret found in agent.log" <<<"$out" || fail "cleanup report: $out"
grep -q "planted-secret-in-a-subshell" <<<"$out" && fail "cleanup report shows the secret"
echo "agent_cleanup fails a leaking test"
exit 0
