#!/usr/bin/env bash
# Control characters from pushers never reach the operator's terminal or forge a log
# line: a signed push whose ref carries OSC/CSI escapes, C1 controls and a bidi override,
# and an admin build of a ref with a newline that reads like a log line of its own.
# The daemon's log must hold them as visible escapes (\x1b, \u202e, \n), never raw.
TEST=attack-ctl
source "$TESTS_DIR/lib/agent.sh"
agent_init
SECRET="attack ctl secret $$"
printf 'admin-token-%s-%s\n' "$$" "$RANDOM$RANDOM" >"$AGENT_DIR/admin.token"
chmod 600 "$AGENT_DIR/admin.token"
AGENT_EXTRA="admin_token_file = $AGENT_DIR/admin.token"
agent_repo web "$SECRET" "branches = *"
start_agent || fail "agent did not start"

# refs with an OSC title sequence and a CSI clear (refused: git forbids controls in
# ref names), and with a C1 CSI (U+009B) and U+202E (bytes git allows in a ref)
push_ref() {	# ref delivery
	jq -n --arg ref "$1" --arg sha "$(printf '%040d' 1)" \
		'{ref: $ref, before: ("0" * 40), after: $sha, repository: {full_name: "acme/web", clone_url: "https://example.com/acme/web.git"}, head_commit: {id: $sha, message: "m\u001b]0;SUBJ\u0007", author: {name: "a"}}}' \
		>"$AGENT_DIR/push.json"
	post_hook github web "$AGENT_DIR/push.json" "$SECRET" "$2"
}
push_ref "$(printf 'refs/heads/x\033]0;PWNED\007\033[2J')" ctl-1
echo "ref with ESC: $HTTP_CODE"
push_ref "$(printf 'refs/heads/y\302\2332J\342\200\256gpj')" ctl-2
[ "$HTTP_CODE" = 202 ] || fail "ref with C1 and bidi: $HTTP_CODE"

# an admin build whose ref holds a newline and a forged line
http_req -X POST -H "Authorization: Bearer $(cat "$AGENT_DIR/admin.token")" \
	--data-binary '{"ref": "main\ns2i-agent: error: FORGED LINE"}' "$AGENT_URL/repos/web/builds"
echo "newline ref: $HTTP_CODE"
sleep 1
stop_agent

LC_ALL=C grep -c $'\033' "$AGENT_LOG" | grep -qx 0 || fail "a raw ESC byte reached the daemon log"
LC_ALL=C grep -c $'\302\233' "$AGENT_LOG" | grep -qx 0 || fail "a raw C1 control reached the daemon log"
LC_ALL=C grep -c $'\342\200\256' "$AGENT_LOG" | grep -qx 0 || fail "a raw bidi override reached the daemon log"
grep -q '^s2i-agent: error: FORGED LINE' "$AGENT_LOG" && fail "a newline in a ref forged a daemon log line"
grep -qF 'refs/heads/y\u009b2J\u202egpj' "$AGENT_LOG" || fail "the hostile ref is not shown escaped in the log"
echo "control characters in the daemon log: escaped"
