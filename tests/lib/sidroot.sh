#!/usr/bin/env bash
# A cached Debian sid root filesystem with today's engines (docker.io 28.5, podman 5)
# for the engine matrix (tests/lib/sidengine.sh runs them on this host, chrooted).
#   tests/lib/sidroot.sh ensure   # prints SID_ROOT=/var/cache/s2i-agent-tests/sid-engines-KEY
# As a library: source it, call sid_root_ensure (sets SID_ROOT; 77 = the archive is
# unreachable, say why and skip; 1 = it failed). The root is made once per package
# list (the key), under an exclusive lock, and used under a shared one held on fd 8
# until the caller exits: a root whose lock is free may be removed when the list changes.
# S2I_TEST_SID_SEED (a finished `debootstrap --variant=minbase sid` tree) is copied
# instead of running debootstrap, which saves its minutes where one exists.
SID_CACHE=${S2I_TEST_CACHE:-/var/cache/s2i-agent-tests}
SID_MIRROR=${S2I_TEST_SID_MIRROR:-http://deb.debian.org/debian}
# podman's runtime (crun), monitor (conmon) and storage driver helpers are its
# dependencies; containers run with network none or host, so no netavark/passt needed
SID_PKGS="docker.io docker-cli podman ca-certificates"
SID_NET_ERRORS="Failed getting release file|Couldn't download|Failure trying to run|Temporary failure|Could not resolve|Connection refused|Network is unreachable|Unable to fetch|Failed to fetch|Could not connect"

sid_log() { echo "sidroot: $*" >&2; }

# Runs a command inside the root being made with proc mounted (dpkg scripts read it).
sid_in_root() {	# root cmd...
	local root=$1 rc
	shift
	mount -t proc proc "$root/proc" || return 1
	chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive LC_ALL=C "$@"
	rc=$?
	umount "$root/proc" || umount -l "$root/proc"
	return $rc
}

sid_root_make() {	# dir log
	local new=$1 log=$2 seed=${S2I_TEST_SID_SEED:-}
	rm -rf "$new"
	if [ -n "$seed" ] && [ -x "$seed/usr/bin/apt-get" ] && [ ! -e "$seed/usr/sbin/dockerd" ]; then
		sid_log "copying the sid base from $seed"
		cp -a "$seed" "$new" || return 1
	else
		sid_log "debootstrap --variant=minbase sid from $SID_MIRROR (once)"
		debootstrap --variant=minbase sid "$new" "$SID_MIRROR" >>"$log" 2>&1 || {
			grep -qE "$SID_NET_ERRORS" "$log" && return 77
			return 1
		}
	fi
	echo "deb $SID_MIRROR sid main" >"$new/etc/apt/sources.list"
	cp /etc/resolv.conf "$new/etc/resolv.conf" 2>/dev/null
	# no service starts from a package script: the tests start the engines
	printf '#!/bin/sh\nexit 101\n' >"$new/usr/sbin/policy-rc.d" && chmod 755 "$new/usr/sbin/policy-rc.d"
	sid_log "apt-get install $SID_PKGS in the sid root"
	# sid's Release file is often past its Valid-Until on mirrors
	sid_in_root "$new" apt-get -q -o Acquire::Check-Valid-Until=false update >>"$log" 2>&1 || {
		grep -qE "$SID_NET_ERRORS" "$log" && return 77
		return 1
	}
	sid_in_root "$new" apt-get -q -y -o Acquire::Check-Valid-Until=false install --no-install-recommends \
		$SID_PKGS >>"$log" 2>&1 || {
		grep -qE "$SID_NET_ERRORS" "$log" && return 77
		return 1
	}
	rm -rf "$new/var/cache/apt/archives/"*.deb "$new/var/lib/apt/lists/"*_Packages
	[ -x "$new/usr/sbin/dockerd" ] || [ -x "$new/usr/bin/dockerd" ] || { echo "no dockerd after the install" >>"$log"; return 1; }
	printf '%s\n' $SID_PKGS >"$new/.s2i-agent-packages"
	chroot "$new" dpkg-query -W docker.io docker-cli podman >>"$new/.s2i-agent-packages" 2>/dev/null
	return 0
}

sid_root_ensure() {
	local key rc old k log
	[ "$(id -u)" = 0 ] || { sid_log "needs root (chroot, mounts)"; return 77; }
	command -v debootstrap >/dev/null || [ -n "${S2I_TEST_SID_SEED:-}" ] ||
		{ sid_log "debootstrap missing: run tests/deps"; return 77; }
	key=$(printf 'v1 sid minbase %s\n' "$SID_PKGS" | sha256sum | cut -c1-16)
	SID_ROOT=$SID_CACHE/sid-engines-$key
	mkdir -p "$SID_CACHE"
	exec 8>"$SID_CACHE/.lock-sid-$key"
	# an engine started from the root holds the shared lock as long as it runs (fd 8 is
	# inherited on purpose): take the exclusive one only to make the root
	[ -d "$SID_ROOT" ] || flock 8
	if [ ! -d "$SID_ROOT" ]; then	# it only appears, complete, by the rename below
		log=$SID_CACHE/sid-engines-$key.log
		: >"$log"
		sid_root_make "$SID_ROOT.new" "$log"
		rc=$?
		if [ $rc != 0 ]; then
			tail -n 15 "$log" >&2
			rm -rf "$SID_ROOT.new"
			flock -u 8
			if [ $rc = 77 ]; then
				sid_log "the Debian archive $SID_MIRROR cannot be reached (log: $log)"
			else
				sid_log "making the sid root failed (log: $log)"
			fi
			return $rc
		fi
		mv "$SID_ROOT.new" "$SID_ROOT"
		for old in "$SID_CACHE"/sid-engines-*; do
			[ -d "$old" ] && [ "$old" != "$SID_ROOT" ] && [ "${old%.new}" = "$old" ] || continue
			k=${old##*-}
			(flock -n 7 && rm -rf "$old" && rm -f "$SID_CACHE/.lock-sid-$k") 7>"$SID_CACHE/.lock-sid-$k"
		done
	fi
	flock -s 8
	return 0
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	case ${1:-} in
	ensure) sid_root_ensure || exit $?; echo "SID_ROOT=$SID_ROOT" ;;
	*) echo "usage: sidroot.sh ensure" >&2; exit 2 ;;
	esac
fi
