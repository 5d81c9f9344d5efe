#!/usr/bin/env bash
# A FIFO where a secret or the configuration belongs (secret_file, admin_token_file,
# ssh_key_file, agent.conf): open() used to wait for a writer before the regular-file
# check, so `check`, `notify --secret-file` and a reload of `serve` hung for good.
# Now each refuses at once, names the file, and a reload keeps the running config.
TEST=attack-fifo
source "$TESTS_DIR/lib/agent.sh"
agent_init
S="attack-fifo-secret-$$-$RANDOM"
agent_repo web "$S"
start_agent || fail "agent did not start"
mkfifo -m 600 "$AGENT_DIR/fifo"

# refused_fast WHAT COMMAND...: fails within 5 s (124 is timeout's: it hung)
refused_fast() {
	local what=$1 rc
	shift
	timeout 5 "$@" </dev/null >"$AGENT_DIR/out" 2>&1
	rc=$?
	[ "$rc" -ne 124 ] || fail "$what: still waiting on the FIFO after 5 s"
	[ "$rc" -ne 0 ] || fail "$what: accepted a FIFO"
	grep -q "fifo' is not a regular file" "$AGENT_DIR/out" ||
		fail "$what: no clear error: $(cat "$AGENT_DIR/out")"
	echo "ok: $what: $(head -n 1 "$AGENT_DIR/out")"
}

# check, a FIFO at each kind of path
conf_with() {	# KEY=VALUE in [agent] or in the repo: a copy of agent.conf
	local out=$AGENT_DIR/$1.conf
	case $2 in
	agent) sed "s|^\\[agent\\]\$|[agent]\\n$3|" "$AGENT_DIR/agent.conf" >"$out" ;;
	repo) sed "s|^secret_file = .*|$3|" "$AGENT_DIR/agent.conf" >"$out" ;;
	esac
	chmod 640 "$out"
	echo "$out"
}
refused_fast "check: secret_file" "$S2I_AGENT" check -c "$(conf_with secret repo "secret_file = $AGENT_DIR/fifo")"
refused_fast "check: admin_token_file" "$S2I_AGENT" check -c \
	"$(conf_with admin agent "admin_token_file = $AGENT_DIR/fifo")"
refused_fast "check: ssh_key_file" "$S2I_AGENT" check -c \
	"$(conf_with ssh repo "secret_file = $AGENT_DIR/web.secret\nssh_key_file = $AGENT_DIR/fifo")"
refused_fast "check: the configuration" "$S2I_AGENT" check -c "$AGENT_DIR/fifo"

# notify
refused_fast "notify --secret-file" "$S2I_AGENT" notify --url "$AGENT_URL" --secret-file "$AGENT_DIR/fifo" web

# serve: SIGHUP with the secret file replaced by a FIFO
mv "$AGENT_DIR/web.secret" "$AGENT_DIR/web.secret.orig"
mkfifo -m 600 "$AGENT_DIR/web.secret"
kill -HUP "$AGENT_PID"
wait_grep "keeping the running configuration" "$AGENT_LOG" 5 || fail "reload: hung or not reported"
grep -q "secret_file: .*web.secret' is not a regular file" "$AGENT_LOG" || fail "reload: the reason is not logged"
kill -0 "$AGENT_PID" || fail "the agent died on the reload"
post_hook github web "$FIXTURES/github-push.json" "$S" fifo-1
expect 202	# the old configuration, its secret included, still runs
rm -f "$AGENT_DIR/web.secret"
mv "$AGENT_DIR/web.secret.orig" "$AGENT_DIR/web.secret"
echo "FIFOs at secret and config paths: refused at once"
