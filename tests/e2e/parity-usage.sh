#!/usr/bin/env bash
# s2i-agent usage BUILDER runs the builder's usage script as `s2i usage` does: the same
# output (on stderr, both streams, as s2i), as the assemble user, from the image's scripts label or --scripts-url (in the
# image or downloaded into it); a failing or missing script is exit 1, bad usage 2.
# Skips (77) without the s2i CLI.
TEST=parity-usage
source "$TESTS_DIR/lib/parity.sh"

d=$S2I_TMP/scripts
s2i_write_scripts "$d"
cat >"$d/usage" <<'SH'
#!/bin/sh
echo "usage: this builder runs as $(id -u) with GREETING=${GREETING:-unset}"
echo "second line"
SH
chmod 755 "$d/usage"
builder=$(s2i_name builder)
s2i_builder "$builder" --scripts "$d"

HOME=$PA_HOME "$PA_S2I" usage "$builder" >"$S2I_TMP/s2i.out" 2>"$S2I_TMP/s2i.usage" ||
	{ cat "$S2I_TMP/s2i.usage"; fail "s2i usage failed"; }
S2I_AGENT_BUILD_ID=$S2I_ID-u1 "$S2I_AGENT" usage "$builder" >"$S2I_TMP/agent.out" 2>"$S2I_TMP/agent.usage" ||
	{ cat "$S2I_TMP/agent.usage"; fail "s2i-agent usage failed"; }
grep -q "usage: this builder runs as 1001 with GREETING=unset" "$S2I_TMP/agent.usage" ||
	fail "no usage text: $(cat "$S2I_TMP/agent.usage")"
diff -u "$S2I_TMP/s2i.usage" "$S2I_TMP/agent.usage" || fail "the output differs from s2i usage"
diff -u "$S2I_TMP/s2i.out" "$S2I_TMP/agent.out" || fail "stdout differs from s2i usage's"
s2i_no_leftovers "$S2I_ID-u1"

# -e reaches the script; --scripts-url file:// downloads another one into the container
mkdir -p "$S2I_TMP/other"
printf '#!/bin/sh\necho "other usage, GREETING=$GREETING"\n' >"$S2I_TMP/other/usage"
out=$(S2I_AGENT_BUILD_ID=$S2I_ID-u2 "$S2I_AGENT" usage -e GREETING=hi -s "file://$S2I_TMP/other" "$builder" 2>&1) ||
	fail "usage with --scripts-url failed"
[ "$out" = "other usage, GREETING=hi" ] || fail "usage with --scripts-url said: $out"
s2i_no_leftovers "$S2I_ID-u2"

# a usage script that fails, none at all, bad usage
printf '#!/bin/sh\necho failing\nexit 3\n' >"$S2I_TMP/other/usage"
S2I_AGENT_BUILD_ID=$S2I_ID-u3 "$S2I_AGENT" usage -s "file://$S2I_TMP/other" "$builder" >/dev/null 2>"$S2I_TMP/err"
rc=$?
[ "$rc" = 1 ] || fail "a failing usage exited $rc"
grep -q "exited with code 3" "$S2I_TMP/err" || fail "no exit code: $(cat "$S2I_TMP/err")"
rm "$S2I_TMP/other/usage"
S2I_AGENT_BUILD_ID=$S2I_ID-u4 "$S2I_AGENT" usage -s "file://$S2I_TMP/other" "$builder" >/dev/null 2>"$S2I_TMP/err"
rc=$?
[ "$rc" = 1 ] || fail "a missing usage exited $rc"
grep -q "no 'usage' script" "$S2I_TMP/err" || fail "no word on the missing script: $(cat "$S2I_TMP/err")"
"$S2I_AGENT" usage >/dev/null 2>&1; [ $? = 2 ] || fail "usage without BUILDER is not bad usage"
"$S2I_AGENT" usage --help | grep -q "^usage: s2i-agent usage" || fail "usage --help"
for i in 3 4; do s2i_no_leftovers "$S2I_ID-u$i"; done
echo ok
