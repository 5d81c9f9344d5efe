#!/usr/bin/env bash
# The man pages s2i-agent(8) and s2i-agent.conf(5): groff formats them without a
# warning, man renders them, and s2i-agent(8) covers every command, build flag and signal.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
fail() { echo "FAIL: $*"; exit 1; }
command -v groff >/dev/null || { echo "groff missing: apt-get install groff-base (tests/deps)"; exit 77; }
export LC_ALL=C.UTF-8 MANWIDTH=80
for p in "$root/conf/man/s2i-agent.8" "$root/conf/man/s2i-agent.conf.5"; do
	warn=$(groff -man -Tutf8 -ww -z "$p" 2>&1)
	[ -z "$warn" ] || { echo "$warn"; fail "groff warns about $(basename "$p")"; }
	if command -v man >/dev/null; then
		text=$(man -l "$p" 2>&1) || fail "man -l $(basename "$p")"
	else
		text=$(groff -man -Tutf8 "$p" 2>&1)
	fi
	for s in NAME SYNOPSIS DESCRIPTION FILES EXAMPLES "SEE ALSO"; do
		grep -q "^$s" <<<"$text" || fail "$(basename "$p") has no $s section"
	done
	[ "$(basename "$p")" = s2i-agent.8 ] && page8=$text
done
for s in "EXIT STATUS" SIGNALS ENVIRONMENT "HTTP API" "BUILD FLAGS"; do
	grep -q "^$s" <<<"$page8" || fail "s2i-agent(8) has no $s section"
done
for c in serve check build usage notify version SIGTERM SIGHUP S2I_AGENT_CONFIG DOCKER_HOST WATCHDOG_USEC; do
	grep -qw -- "$c" <<<"$page8" || fail "s2i-agent(8) does not mention $c"
done
# the flags of `s2i-agent build` (the names of `s2i build`)
for f in -r --ref --context-dir -e --env -E --environment-file -s --scripts-url --incremental --rm \
	--incremental-pull-policy -p --pull-policy --runtime-image -a --runtime-artifact \
	--runtime-pull-policy --assemble-user --assemble-runtime-user -u --allowed-uids -i --inject \
	-n --application-name --description --exclude --ignore-submodules -d --destination \
	--callback-url --network --cap-drop -v --volume --add-host -U --url --push -q --quiet \
	--loglevel --build-env --build-secret --as-dockerfile; do
	grep -qE -- "(^|[ ,])$f([ ,]|$)" <<<"$page8" || fail "s2i-agent(8) does not document $f"
done
echo "man pages: clean"
