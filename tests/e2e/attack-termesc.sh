#!/usr/bin/env bash
# A commit subject with terminal controls (an OSC that sets the title, a CSI that
# clears the screen, a C1 CSI, a bidi override) was written raw into the build log
# and reached the pusher's terminal through post-receive's `remote:` lines. Now the
# subject is escaped where the log line is made, and notify escapes the log stream
# (colours kept): neither the pusher's output nor GET /builds/N/log holds a raw one.
TEST=attack-termesc
source "$TESTS_DIR/lib/pipeline.sh"

pl_builder
pl_repo web
start_agent || fail "agent did not start"
pl_hook web post-receive

# the build's own output, which notify shows: controls too, and a colour that stays
printf '%s\n' "printf 'app \\033]0;APP\\007 \\302\\233 \\033[32mgreen\\033[0m'" >"$AGENT_DIR/web.work/app.sh"
subject=$(printf 'pwn \033]0;PWNED\007 \033[2J\033[H c1 \302\2332J bidi \342\200\256txt.exe \033[31mred\033[0m')
pl_commit web "$subject" >/dev/null
git -C "$AGENT_DIR/web.work" push "$AGENT_DIR/web.git" HEAD:refs/heads/main >"$AGENT_DIR/push.out" 2>&1 ||
	fail "git push: $(cat -v "$AGENT_DIR/push.out")"
cat -v "$AGENT_DIR/push.out"
grep -q '^remote: s2i-agent: build 1 succeeded' "$AGENT_DIR/push.out" || fail "build 1 did not succeed"
curl -sf --max-time 10 "$AGENT_URL/builds/1/log" >"$AGENT_DIR/build.log" || fail "GET /builds/1/log"

# raw: ESC other than a colour (ESC [ digits m), a C1 control, a bidi control
raw() {	# file: prints the offending lines
	perl -ne 's/\e\[[0-9;]*m//g; print if /\e|\xc2[\x80-\x9f]|\xe2\x80[\xaa-\xae]|\xe2\x81[\xa6-\xa9]/' "$1"
}
bad=$(raw "$AGENT_DIR/push.out")
[ -z "$bad" ] || fail "the pusher's output holds raw controls: $(printf '%s' "$bad" | cat -v)"
grep -q "app says app \\\\x1b]0;APP\\\\x07 \\\\u009b $(printf '\033')\[32mgreen" "$AGENT_DIR/push.out" ||
	fail "the build's output is not escaped with its colour kept: $(grep -a 'app says' "$AGENT_DIR/push.out" | cat -v)"
# the build log keeps what the build printed, but the subject is the agent's line
bad=$(grep -a -- '--> source ' "$AGENT_DIR/build.log" >"$AGENT_DIR/source.line"; raw "$AGENT_DIR/source.line")
[ -z "$bad" ] || fail "the build log's source line holds raw controls: $(printf '%s' "$bad" | cat -v)"
# the subject is there, escaped, in both
grep -qF 'pwn \x1b]0;PWNED\x07 \x1b[2J\x1b[H c1 \u009b2J bidi \u202etxt.exe' "$AGENT_DIR/build.log" ||
	fail "the escaped subject is not in the build log: $(grep -a 'source' "$AGENT_DIR/build.log" | cat -v)"
grep -qF 'remote: --> source ' "$AGENT_DIR/push.out" || fail "the source line did not reach the pusher"
grep -qF '\x1b]0;PWNED\x07' "$AGENT_DIR/push.out" || fail "the escaped subject did not reach the pusher"
echo "terminal controls in a commit subject: escaped in the log and the pusher's terminal"
