#!/usr/bin/env bash
# A one-character webhook secret or admin token was accepted silently, and a secret
# typed where its file's path belongs was printed back in the error (to a terminal,
# a journal, a CI log). Now `check` and `serve` refuse a secret shorter than 16
# characters with FILE:LINE and what to do, and never echo a value that is not a path.
TEST=attack-secrets
source "$TESTS_DIR/lib/agent.sh"
agent_init
AGENT_PORT=$(free_port)
agent_repo web "x"

# refused CONF WHAT PATTERN: check and serve both refuse CONF, saying PATTERN
refused() {
	local conf=$1 what=$2 pattern=$3 rc
	timeout 10 "$S2I_AGENT" check -c "$conf" >"$AGENT_DIR/out" 2>&1
	rc=$?
	[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || fail "check: $what: exit $rc: $(cat "$AGENT_DIR/out")"
	grep -q -- "$pattern" "$AGENT_DIR/out" || fail "check: $what: $(cat "$AGENT_DIR/out")"
	echo "ok: check: $what: $(grep -- "$pattern" "$AGENT_DIR/out")"
	timeout 10 "$S2I_AGENT" serve -c "$conf" >"$AGENT_DIR/out" 2>&1
	rc=$?
	[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || fail "serve: $what: exit $rc"
	grep -q -- "$pattern" "$AGENT_DIR/out" || fail "serve: $what: $(cat "$AGENT_DIR/out")"
	echo "ok: serve: $what"
}

agent_write_config
line=$(grep -n '^secret_file = ' "$AGENT_DIR/agent.conf" | cut -d: -f1)
refused "$AGENT_DIR/agent.conf" "a one-character secret" \
	"agent.conf:$line: secret_file: line 1 of '$AGENT_DIR/web.secret' is 1 character long, shorter than 16"

S="attack-secrets-secret-$$-$RANDOM"
printf '%s\n' "$S" >"$AGENT_DIR/web.secret"
printf 'a\n' >"$AGENT_DIR/admin.token"
chmod 600 "$AGENT_DIR/admin.token"
AGENT_EXTRA="admin_token_file = $AGENT_DIR/admin.token" agent_write_config
refused "$AGENT_DIR/agent.conf" "a one-character admin token" "admin_token_file: line 1 of .* shorter than 16"

# the secret itself where the path belongs: never printed
AGENT_EXTRA= agent_write_config
sed -i "s|^secret_file = .*|secret_file = $S|" "$AGENT_DIR/agent.conf"
refused "$AGENT_DIR/agent.conf" "a secret as secret_file" \
	"agent.conf:$line: the value of secret_file is not a path to an existing file"
timeout 10 "$S2I_AGENT" check -c "$AGENT_DIR/agent.conf" 2>&1 | grep -qF -- "$S" && fail "check printed the secret"
timeout 10 "$S2I_AGENT" serve -c "$AGENT_DIR/agent.conf" 2>&1 | grep -qF -- "$S" && fail "serve printed the secret"
AGENT_EXTRA="admin_token_file = $S" agent_write_config
timeout 10 "$S2I_AGENT" check -c "$AGENT_DIR/agent.conf" >"$AGENT_DIR/out" 2>&1
grep -q "the value of admin_token_file is not a path" "$AGENT_DIR/out" || fail "admin_token_file: $(cat "$AGENT_DIR/out")"
grep -qF -- "$S" "$AGENT_DIR/out" && fail "check printed the admin token"
rm -f "$AGENT_DIR/out" "$AGENT_DIR/agent.conf"	# it holds the secret on purpose
echo "short secrets refused, secrets never echoed"
