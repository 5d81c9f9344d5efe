#!/usr/bin/env bash
# make deb: build/s2i-agent_VERSION_ARCH.deb holds the binaries, unit, sysusers/tmpfiles
# snippets, man pages, hooks and agent.conf as a conffile; its Depends names the package
# of every library the binaries link, satisfied on this (Debian 12) host. Installed with
# dpkg into a scratch root (maintainer scripts run with DPKG_ROOT), it creates the user
# and modes; the installed daemon takes a signed delivery; a reinstall keeps an edited
# agent.conf; remove keeps configuration and state; purge removes them.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
: "${TESTS_DIR:=$root/tests}"
command -v dpkg-deb >/dev/null && command -v dpkg-shlibdeps >/dev/null ||
	{ echo "dpkg-deb or dpkg-shlibdeps missing (dpkg-dev)"; exit 77; }
tmp=$(mktemp -d)
R=$tmp/root
cleanup_deb() { rm -rf "$tmp"; }
fail() { echo "FAIL: $*"; exit 1; }
unset MAKEFLAGS MFLAGS MAKELEVEL

make -C "$root" -s deb >"$tmp/make.log" 2>&1 || { cat "$tmp/make.log"; cleanup_deb; fail "make deb"; }
version=$(sed -n 's/^#define S2I_AGENT_VERSION[[:space:]]*"\(.*\)"/\1/p' "$root/agent/limits.h")
deb=$root/build/s2i-agent_${version}_$(dpkg --print-architecture).deb
[ -f "$deb" ] || { cleanup_deb; fail "no $deb"; }
grep -qxF "$deb" "$tmp/make.log" || { cleanup_deb; fail "make deb does not name the package it made"; }

field() { dpkg-deb -f "$deb" "$1"; }
[ "$(field Package)" = s2i-agent ] || fail "Package: $(field Package)"
[ "$(field Version)" = "$version" ] || fail "Version: $(field Version)"
[ "$(field Architecture)" = "$(dpkg --print-architecture)" ] || fail "Architecture: $(field Architecture)"
[ -n "$(field Maintainer)" ] && [ -n "$(field Description)" ] && [ "$(field Installed-Size)" -gt 100 ] ||
	fail "control fields: $(dpkg-deb -f "$deb")"
depends=$(field Depends)

# the files, with their modes
dpkg-deb -c "$deb" | awk '{ print $1, $6 }' >"$tmp/contents"
for want in "-rwxr-xr-x ./usr/bin/s2i-agent" "-rwxr-xr-x ./usr/bin/s2i-agentd" \
	"-rw-r--r-- ./usr/lib/systemd/system/s2i-agent.service" \
	"-rw-r--r-- ./usr/lib/sysusers.d/s2i-agent.conf" "-rw-r--r-- ./usr/lib/tmpfiles.d/s2i-agent.conf" \
	"-rw-r--r-- ./usr/share/man/man8/s2i-agent.8.gz" "-rw-r--r-- ./usr/share/man/man5/s2i-agent.conf.5.gz" \
	"-rwxr-xr-x ./usr/share/s2i-agent/hooks/post-receive" "-rwxr-xr-x ./usr/share/s2i-agent/hooks/pre-receive" \
	"-rw-r--r-- ./usr/share/doc/s2i-agent/copyright" "-rw-r----- ./etc/s2i-agent/agent.conf" \
	"drwxr-x--- ./etc/s2i-agent/"; do
	grep -qxF -- "$want" "$tmp/contents" || fail "the package lacks '$want': $(cat "$tmp/contents")"
done
! dpkg-deb -c "$deb" | awk '{ print $2 }' | grep -qv '^root/root$' || fail "files not owned by root"
dpkg-deb -e "$deb" "$tmp/DEBIAN" || fail "dpkg-deb -e"
[ "$(cat "$tmp/DEBIAN/conffiles")" = /etc/s2i-agent/agent.conf ] || fail "conffiles: $(cat "$tmp/DEBIAN/conffiles")"
(cd "$tmp" && mkdir x && dpkg-deb -x "$deb" x && cd x && md5sum --quiet -c ../DEBIAN/md5sums) || fail "md5sums"
for s in postinst prerm postrm; do
	sh -n "$tmp/DEBIAN/$s" || fail "$s does not parse"
done
zcat "$tmp/x/usr/share/man/man8/s2i-agent.8.gz" | grep -q '^\.TH S2I\\-AGENT 8' || fail "man page"
grep -qx 'ExecStart=/usr/bin/s2i-agent serve' "$tmp/x/usr/lib/systemd/system/s2i-agent.service" ||
	fail "the unit does not start /usr/bin/s2i-agent"

# Depends: every library either binary links comes from a package it names, at a
# version this host has (the daemon's lean s2i-agentd among them)
for bin in "$tmp/x/usr/bin/s2i-agent" "$tmp/x/usr/bin/s2i-agentd"; do
	# the libraries it names itself (DT_NEEDED), where the loader finds them
	for lib in $(objdump -p "$bin" | awk '$1 == "NEEDED" { print $2 }' |
		while read -r so; do ldd "$bin" | awk -v so="$so" '$1 == so { print $3 }'; done); do
		# merged /usr: the package database may list either spelling of the path
		real=$(readlink -f "$lib")
		pkg=
		for p in "$lib" "$real" "${real#/usr}" "/usr${lib#/usr}"; do
			pkg=$(dpkg -S "$p" 2>/dev/null | head -1 | cut -d: -f1)
			[ -n "$pkg" ] && break
		done
		[ -n "$pkg" ] || fail "no package owns $lib"
		grep -qE "(^|, )$pkg( |,|$)" <<<"$depends" || fail "$(basename "$bin") links $lib of $pkg, not in Depends: $depends"
	done
done
grep -q 'libgit2' <<<"$depends" || fail "Depends lacks libgit2: $depends"
IFS=',' read -ra deps <<<"$depends"
for d in "${deps[@]}"; do
	d=${d# }
	name=${d%% *}
	have=$(dpkg-query -W -f '${Version}' "$name" 2>/dev/null) || fail "Depends names $name, not installed here"
	if [[ $d == *"(>= "* ]]; then
		min=${d#*(>= }; min=${min%)}
		dpkg --compare-versions "$have" ge "$min" || fail "$name $have is older than the $min Depends asks"
	fi
done

# Install into a scratch root: the maintainer scripts run on this host with DPKG_ROOT
# (--force-depends: the root has no package database of the libraries it would use)
mkdir -p "$R/var/lib/dpkg/info" "$R/var/lib/dpkg/updates"
: >"$R/var/lib/dpkg/status"; : >"$R/var/lib/dpkg/available"
dpkgr() { dpkg --root="$R" --force-script-chrootless --force-depends --force-confdef --force-confold "$@"; }
dpkgr -i "$deb" >"$tmp/install.log" 2>&1 || { cat "$tmp/install.log"; fail "dpkg -i"; }
grep -q "edit /etc/s2i-agent/agent.conf, run 's2i-agent check --online'" "$tmp/install.log" ||
	fail "postinst gives no next step: $(cat "$tmp/install.log")"
[ "$(dpkg-query --root="$R" -W -f '${Status}' s2i-agent)" = "install ok installed" ] || fail "not installed"
uid=$(awk -F: '$1 == "s2i-agent" { print $3 }' "$R/etc/passwd")
gid=$(awk -F: '$1 == "s2i-agent" { print $3 }' "$R/etc/group")
[ -n "$uid" ] && [ -n "$gid" ] || fail "postinst created no s2i-agent user: $(cat "$R/etc/passwd" 2>&1)"
grep -qE '^docker:x:[0-9]+:(.*,)?s2i-agent(,|$)' "$R/etc/group" || fail "s2i-agent is not in group docker"
[ "$(stat -c '%a %u %g' "$R/etc/s2i-agent")" = "750 0 $gid" ] || fail "/etc/s2i-agent: $(stat -c '%a %u %g' "$R/etc/s2i-agent")"
[ "$(stat -c '%a %u %g' "$R/etc/s2i-agent/agent.conf")" = "640 0 $gid" ] || fail "agent.conf: $(stat -c '%a %u %g' "$R/etc/s2i-agent/agent.conf")"
[ "$(stat -c '%a %u %g' "$R/var/lib/s2i-agent")" = "750 $uid $gid" ] || fail "/var/lib/s2i-agent: $(stat -c '%a %u %g' "$R/var/lib/s2i-agent")"
"$R/usr/bin/s2i-agent" version | grep -qx "s2i-agent $version" || fail "the installed binary does not run"
"$R/usr/bin/s2i-agent" check -c "$R/etc/s2i-agent/agent.conf" >"$tmp/check.out" 2>&1 || fail "check: $(cat "$tmp/check.out")"

# The installed daemon (s2i-agent serve execs the s2i-agentd beside it) takes a signed delivery
(
	S2I_AGENT=$R/usr/bin/s2i-agent
	source "$TESTS_DIR/lib/agent.sh"
	agent_init
	AGENT_EXTRA="workers = 0"
	agent_repo web "deb package test secret $$"
	start_agent || fail "the installed agent did not start"
	post_hook github web "$FIXTURES/github-push.json" "deb package test secret $$" d-deb-1
	[ "$HTTP_CODE" = 202 ] || fail "the installed agent answered $HTTP_CODE: $HTTP_BODY"
	grep -q "^s2i-agentd\$" "/proc/$AGENT_PID/comm" || fail "the daemon is not the installed s2i-agentd"
	[ "$(readlink "/proc/$AGENT_PID/exe")" = "$R/usr/bin/s2i-agentd" ] || fail "the daemon runs $(readlink "/proc/$AGENT_PID/exe")"
) || { cleanup_deb; exit 1; }

# A reinstall keeps the operator's agent.conf (a conffile)
echo '# edited by the operator' >>"$R/etc/s2i-agent/agent.conf"
sum=$(sha256sum <"$R/etc/s2i-agent/agent.conf")
dpkgr -i "$deb" >"$tmp/reinstall.log" 2>&1 || { cat "$tmp/reinstall.log"; fail "reinstall"; }
[ "$(sha256sum <"$R/etc/s2i-agent/agent.conf")" = "$sum" ] || fail "the reinstall replaced the edited agent.conf"

# remove: binaries go, configuration and state stay; purge: they go too, the user stays
echo db >"$R/var/lib/s2i-agent/agent.db"
dpkgr -r s2i-agent >"$tmp/remove.log" 2>&1 || { cat "$tmp/remove.log"; fail "dpkg -r"; }
[ ! -e "$R/usr/bin/s2i-agent" ] && [ ! -e "$R/usr/lib/systemd/system/s2i-agent.service" ] || fail "remove left the binaries"
[ -f "$R/etc/s2i-agent/agent.conf" ] && [ -f "$R/var/lib/s2i-agent/agent.db" ] || fail "remove took configuration or state"
dpkgr --purge s2i-agent >"$tmp/purge.log" 2>&1 || { cat "$tmp/purge.log"; fail "dpkg --purge"; }
[ ! -e "$R/etc/s2i-agent" ] || fail "purge left /etc/s2i-agent: $(ls -la "$R/etc/s2i-agent")"
[ ! -e "$R/var/lib/s2i-agent" ] || fail "purge left /var/lib/s2i-agent"
left=$(find "$R" -path "$R/var/lib/dpkg" -prune -o -path "$R/etc" -prune -o -type f -print)
[ -z "$left" ] || fail "purge left files: $left"
grep -q '^s2i-agent:' "$R/etc/passwd" || fail "purge removed the system user"
n=$(wc -l <"$tmp/contents")
cleanup_deb
echo "deb: $(basename "$deb"), $n entries, Depends checked, installed, served, kept, removed, purged"
