#!/usr/bin/env bash
# make install DESTDIR=… lays out the binary, unit, sysusers/tmpfiles snippets, example
# config, hooks and man pages; a second install keeps the config; uninstall keeps config and state.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
dest=$tmp/root
# a make check run must not leak its variables (SANITIZE=...) into these installs
unset MAKEFLAGS MFLAGS MAKELEVEL

mode() { stat -c %a "$1"; }
check_file() {	# path mode
	[ -f "$dest$1" ] || fail "missing $1"
	[ "$(mode "$dest$1")" = "$2" ] || fail "$1 has mode $(mode "$dest$1"), want $2"
}

for prefix in /usr/local /usr; do
	rm -rf "$dest"
	make -C "$root" -s install DESTDIR="$dest" PREFIX="$prefix" >"$tmp/log" 2>&1 || { cat "$tmp/log"; fail "make install PREFIX=$prefix"; }
	check_file "$prefix/bin/s2i-agent" 755
	check_file "$prefix/bin/s2i-agentd" 755	# the lean daemon `s2i-agent serve` execs
	check_file "$prefix/lib/systemd/system/s2i-agent.service" 644
	check_file "$prefix/lib/sysusers.d/s2i-agent.conf" 644
	check_file "$prefix/lib/tmpfiles.d/s2i-agent.conf" 644
	check_file "$prefix/share/man/man8/s2i-agent.8" 644
	check_file "$prefix/share/man/man5/s2i-agent.conf.5" 644
	check_file /etc/s2i-agent/agent.conf 640
	[ "$(mode "$dest/etc/s2i-agent")" = 750 ] || fail "/etc/s2i-agent has mode $(mode "$dest/etc/s2i-agent")"
	"$dest$prefix/bin/s2i-agent" version | grep -q '^s2i-agent ' || fail "installed binary does not run"
	grep -qxF "ExecStart=$prefix/bin/s2i-agent serve" "$dest$prefix/lib/systemd/system/s2i-agent.service" ||
		fail "ExecStart does not point at $prefix/bin"
	cmp -s "$root/conf/agent.conf" "$dest/etc/s2i-agent/agent.conf" || fail "agent.conf differs from conf/agent.conf"
	for h in "$root"/hooks/*; do
		[ -e "$h" ] || continue
		check_file "$prefix/share/s2i-agent/hooks/$(basename "$h")" 755
	done
	# nothing outside DESTDIR, nothing unexpected inside it
	find "$dest" -type f | sed "s|^$dest||" | sort >"$tmp/files"
	unexpected=$(grep -v -E "^($prefix/(bin/s2i-agentd?|lib/systemd/system/s2i-agent.service|lib/(sysusers|tmpfiles).d/s2i-agent.conf|share/man/man[58]/s2i-agent(\.conf)?\.[58]|share/s2i-agent/hooks/[^/]+)|/etc/s2i-agent/agent.conf)$" "$tmp/files")
	[ -z "$unexpected" ] || fail "unexpected files installed: $unexpected"
done

# The snippets work: systemd-sysusers and systemd-tmpfiles apply them to the tree.
if command -v systemd-sysusers >/dev/null && command -v systemd-tmpfiles >/dev/null; then
	systemd-sysusers --root="$dest" >"$tmp/log" 2>&1 || { cat "$tmp/log"; fail "systemd-sysusers"; }
	grep -q '^s2i-agent:x:[0-9]*:[0-9]*:.*:/var/lib/s2i-agent:' "$dest/etc/passwd" || fail "no s2i-agent user"
	grep -qE '^docker:x:[0-9]+:(.*,)?s2i-agent(,|$)' "$dest/etc/group" || fail "s2i-agent is not in group docker"
	systemd-tmpfiles --root="$dest" --create >"$tmp/log" 2>&1 || { cat "$tmp/log"; fail "systemd-tmpfiles"; }
	gid=$(awk -F: '$1 == "s2i-agent" { print $3 }' "$dest/etc/group")
	uid=$(awk -F: '$1 == "s2i-agent" { print $3 }' "$dest/etc/passwd")
	[ "$(stat -c '%a %u %g' "$dest/etc/s2i-agent")" = "750 0 $gid" ] || fail "/etc/s2i-agent: $(stat -c '%a %u %g' "$dest/etc/s2i-agent")"
	[ "$(stat -c '%a %u %g' "$dest/etc/s2i-agent/agent.conf")" = "640 0 $gid" ] || fail "agent.conf: $(stat -c '%a %u %g' "$dest/etc/s2i-agent/agent.conf")"
	[ "$(stat -c '%a %u %g' "$dest/var/lib/s2i-agent")" = "750 $uid $gid" ] || fail "/var/lib/s2i-agent: $(stat -c '%a %u %g' "$dest/var/lib/s2i-agent")"
else
	echo "note: systemd-sysusers/systemd-tmpfiles missing, snippets not applied"
fi

# A second install keeps an edited config (and its mode).
echo '# edited by the operator' >>"$dest/etc/s2i-agent/agent.conf"
chmod 600 "$dest/etc/s2i-agent/agent.conf"
sum=$(sha256sum <"$dest/etc/s2i-agent/agent.conf")
make -C "$root" -s install DESTDIR="$dest" PREFIX=/usr >"$tmp/log" 2>&1 || { cat "$tmp/log"; fail "second make install"; }
[ "$(sha256sum <"$dest/etc/s2i-agent/agent.conf")" = "$sum" ] || fail "the second install overwrote agent.conf"
[ "$(mode "$dest/etc/s2i-agent/agent.conf")" = 600 ] || fail "the second install changed agent.conf's mode"
grep -q 'keeping' "$tmp/log" || fail "the second install did not say it kept agent.conf"

# Uninstall removes what install added, never the configuration or the state.
mkdir -p "$dest/var/lib/s2i-agent" && echo db >"$dest/var/lib/s2i-agent/agent.db"
echo install-tree-s3cret-0123 >"$dest/etc/s2i-agent/web.secret"
make -C "$root" -s uninstall DESTDIR="$dest" PREFIX=/usr >"$tmp/log" 2>&1 || { cat "$tmp/log"; fail "make uninstall"; }
left=$(find "$dest/usr" -type f | sed "s|^$dest||")
[ -z "$left" ] || fail "uninstall left: $left"
[ ! -e "$dest/usr/share/s2i-agent" ] || fail "uninstall left /usr/share/s2i-agent"
[ "$(sha256sum <"$dest/etc/s2i-agent/agent.conf")" = "$sum" ] || fail "uninstall touched agent.conf"
[ -f "$dest/etc/s2i-agent/web.secret" ] || fail "uninstall removed a secret"
[ -f "$dest/var/lib/s2i-agent/agent.db" ] || fail "uninstall removed the state"
echo "install tree, config kept, uninstall: ok"
