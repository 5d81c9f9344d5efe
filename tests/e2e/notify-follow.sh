#!/usr/bin/env bash
# s2i-agent notify --follow: streams each queued build's log to stderr, reads the
# build's final state, and exits non-zero unless every build succeeded.
set -u
. "$TESTS_DIR/lib/agent_double.sh"

tmp=$(mktemp -d)
trap 'agent_double_stop; rm -rf "$tmp"' EXIT
agent_double_start "$tmp" || { echo "cannot start the agent double"; exit 1; }

A=1111111111111111111111111111111111111111
B=2222222222222222222222222222222222222222
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
check() {	# what, expected, actual
	if [ "$2" != "$3" ]; then fail "$1: expected '$2', got '$3'"; else echo "ok: $1"; fi
}
notify() {	# stdin-text args...
	local input=$1
	shift
	printf '%s' "$input" | "$S2I_AGENT" notify --url "$AGENT_DOUBLE_URL" "$@" >"$tmp/out" 2>"$tmp/err"
	echo $? >"$tmp/rc"
}
rc() { cat "$tmp/rc"; }

# build 1 succeeds after two "running" answers (the log is streamed again each
# time and must show once); build 2 fails; refs/heads/skip is ignored.
cat >"$AGENT_DOUBLE_SCRIPT" <<'EOF'
{"ignore_refs": {"refs/heads/skip": "ref not matched"},
 "builds": {"1": {"state": "succeeded", "running_polls": 2,
                  "log": ["one: fetch\n", "one: assemble\n", "one: commit"]},
            "2": {"state": "failed", "reason": "assemble exited 1",
                  "log": ["two: assemble\n", "two: boom\n"]}}}
EOF

notify "$A $B refs/heads/main
" --follow web
check "succeeded exit" 0 "$(rc)"
cat "$tmp/err"
check "log line shown once" 1 "$(grep -c '^one: assemble$' "$tmp/err")"
grep -q '^one: commit$' "$tmp/err" || fail "unterminated last log line not ended with a newline"
check "final line" "s2i-agent: build 1 succeeded" "$(tail -n 1 "$tmp/err")"
# order: queued, the log, the state
grep -n 'queued build 1\|^one: fetch\|build 1 succeeded' "$tmp/err" | cut -d: -f1 | tr '\n' ' ' >"$tmp/order"
sort -n -c <(tr ' ' '\n' <"$tmp/order" | sed '/^$/d') || fail "output order: $(cat "$tmp/order")"
check "log followed with follow=1" "/builds/1/log?follow=1" "$(agent_double_req 2 .path)"
check "build read after the log" "/builds/1" "$(agent_double_req 3 .path)"

notify "$A $B refs/heads/other
" --follow web
check "failed exit" 1 "$(rc)"
grep -q '^two: boom$' "$tmp/err" || fail "build 2 log"
check "failed final line" "s2i-agent: build 2 failed: assemble exited 1" "$(tail -n 1 "$tmp/err")"

# ignored refs are not followed and do not fail the push
n0=$(agent_double_count)
notify "$A $B refs/heads/skip
" --follow web
check "ignored exit" 0 "$(rc)"
check "ignored: only the hook post" $((n0 + 1)) "$(agent_double_count)"

# two refs: both followed; one canceled -> non-zero
cat >"$AGENT_DOUBLE_SCRIPT" <<'EOF2'
{"builds": {"4": {"state": "canceled", "reason": "superseded by build 5"}}}
EOF2
notify "$A $B refs/heads/x
$A $B refs/heads/y
" --follow web
check "one canceled -> exit" 1 "$(rc)"
grep -q 'queued build 3' "$tmp/err" && grep -q 'queued build 4' "$tmp/err" || fail "two queued lines"
grep -q '^s2i-agent: build 3 succeeded$' "$tmp/err" || fail "build 3 final line"
grep -q '^s2i-agent: build 4 canceled: superseded by build 5$' "$tmp/err" || fail "build 4 final line"
check "build log lines of both" 2 "$(grep -c '^build done$' "$tmp/err")"

[ "$fails" -eq 0 ] || { echo "$fails failures"; exit 1; }
echo "all notify follow checks passed"
