#!/usr/bin/env bash
# The help of every command: `s2i-agent help [CMD]`, `CMD --help` and `CMD -h` print the
# command's usage on stdout and exit 0 (also through s2i-agentd for serve); a usage error
# prints the usage on stderr and exits 2. The top-level help lists every command with a
# one-line description, the default configuration path and the man pages.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${S2I_AGENT:-$root/build/rel/s2i-agent}
dbin=$(dirname "$bin")/s2i-agentd
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# run EXPECTED_RC ARGS...: output in $tmp/out and $tmp/err
run() {
	local want=$1 rc
	shift
	"$@" >"$tmp/out" 2>"$tmp/err" </dev/null
	rc=$?
	[ "$rc" = "$want" ] || { cat "$tmp/out" "$tmp/err"; fail "'$*' exited $rc, want $want"; }
}

cmds="serve check build notify prune migrate version help"
run 0 "$bin" --help
cp "$tmp/out" "$tmp/top"
[ ! -s "$tmp/err" ] || fail "--help wrote to stderr"
for c in $cmds; do
	grep -qE "^  $c +[a-z].{20,}" "$tmp/top" || fail "--help lists no one-line description of $c"
done
grep -q '/etc/s2i-agent/agent.conf' "$tmp/top" || fail "--help does not name the default config path"
grep -q 'S2I_AGENT_CONFIG' "$tmp/top" || fail "--help does not name \$S2I_AGENT_CONFIG"
grep -q 'man s2i-agent' "$tmp/top" && grep -q 'man s2i-agent.conf' "$tmp/top" ||
	fail "--help does not point at the man pages"
run 0 "$bin" -h
cmp -s "$tmp/out" "$tmp/top" || fail "-h differs from --help"
run 0 "$bin" help
cmp -s "$tmp/out" "$tmp/top" || fail "help differs from --help"

for c in $cmds; do
	run 0 "$bin" help "$c"
	cp "$tmp/out" "$tmp/help-$c"
	head -1 "$tmp/out" | grep -q "^s2i-agent $c: " || fail "help $c: first line is $(head -1 "$tmp/out")"
	grep -q "^usage: s2i-agent $c" "$tmp/out" || fail "help $c prints no usage line"
	[ ! -s "$tmp/err" ] || fail "help $c wrote to stderr"
	for flag in --help -h; do
		run 0 "$bin" "$c" "$flag"
		cmp -s "$tmp/out" "$tmp/help-$c" || fail "$c $flag differs from help $c"
		[ ! -s "$tmp/err" ] || fail "$c $flag wrote to stderr: $(cat "$tmp/err")"
	done
done
# the options are described, not only named
grep -q -- '--online .*engine' "$tmp/help-check" || fail "help check does not describe --online"
grep -q -- '--follow .*log' "$tmp/help-notify" || fail "help notify does not describe --follow"
grep -q -- '--dry-run .*delete' "$tmp/help-prune" || fail "help prune does not describe --dry-run"
grep -q -- '--from STATE_DIR .*state_dir' "$tmp/help-migrate" || fail "help migrate does not describe --from"
grep -q -- '--pull-policy P .*always' "$tmp/help-build" || fail "help build does not describe its flags"
# --help after other arguments, and a config that does not exist is not read
run 0 "$bin" serve -c /nonexistent/agent.conf --help
cmp -s "$tmp/out" "$tmp/help-serve" || fail "serve -c F --help differs from help serve"
run 0 "$bin" check -c /nonexistent/agent.conf -h
cmp -s "$tmp/out" "$tmp/help-check" || fail "check -c F -h differs from help check"
# the daemon's own executable answers serve --help itself
if [ -x "$dbin" ]; then
	run 0 "$dbin" serve --help
	cmp -s "$tmp/out" "$tmp/help-serve" || fail "s2i-agentd serve --help differs from help serve"
fi

# usage errors: a message and the usage on stderr, nothing on stdout, exit 2
usage_error() {	# CMD ARGS...
	local c=$1
	shift
	run 2 "$bin" "$c" "$@"
	[ ! -s "$tmp/out" ] || fail "'$c $*' wrote to stdout: $(cat "$tmp/out")"
	grep -q "^s2i-agent $c" "$tmp/err" || fail "'$c $*' does not say what is wrong: $(cat "$tmp/err")"
	grep -q "^usage: s2i-agent $c" "$tmp/err" || fail "'$c $*' prints no usage: $(cat "$tmp/err")"
}
usage_error serve --bogus
usage_error serve -c
usage_error check --bogus
usage_error check -c
usage_error check extra-argument
usage_error build --no-such-flag src img
usage_error build only-a-source
usage_error notify
usage_error notify --no-such-flag repo
usage_error prune --bogus
usage_error prune -c
usage_error prune extra-argument
usage_error migrate --from /nonexistent
usage_error migrate --bogus
usage_error version extra
usage_error help serve check
run 2 "$bin" help no-such-command
grep -q "no command 'no-such-command'" "$tmp/err" || fail "help of an unknown command: $(cat "$tmp/err")"
run 2 "$bin" no-such-command
grep -q "unknown command 'no-such-command'" "$tmp/err" || fail "unknown command: $(cat "$tmp/err")"
grep -qE '^  serve +run' "$tmp/err" || fail "an unknown command does not list the commands"
run 2 "$bin"
grep -qE '^  check +' "$tmp/err" || fail "no command does not list the commands"
echo "help: $(wc -w <<<"$cmds") commands, --help/-h/help CMD on stdout, usage errors exit 2"
