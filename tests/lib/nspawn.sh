#!/usr/bin/env bash
# The Debian 12 (bookworm) machine of the systemd tests (service-systemd, deb-systemd):
# a cached debootstrap tree with systemd, curl, python3 and the packages of every
# library the agent's two executables load, mounted as an overlay (the cache stays
# untouched) and booted in systemd-nspawn with only a loopback network and the host's
# engine socket. A test unit inside runs the caller's /s2i-test/inside.sh (helpers for
# it: nspawn_inside.sh, copied to /s2i-test/lib.sh) and powers off.
#
# Source it with root (the repository) set and fail and skip defined, then:
# nspawn_init NAME (sets ID, tmp, builder, image, image_slow; cleans up at exit),
# nspawn_prepare (sets mnt, machine, sock, docker_gid), fill the machine, nspawn_boot
# (fails unless the results end in "done" with no FAIL line). nspawn_repo, nspawn_commit, nspawn_builder and
# nspawn_payload make the repository, builder and deliveries both tests build. The cache lives in $S2I_TEST_CACHE
# (/var/cache/s2i-agent-tests), keyed by its package list; the first run makes it
# (about 1.5 min, from $S2I_TEST_MIRROR or deb.debian.org).

nspawn_init() {	# name
	ID=$1-$$
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/s2i-$ID.XXXXXX")
	builder=s2i-agent-test/$ID-builder:latest
	image=s2i-agent-test/$ID-web:main
	image_slow=s2i-agent-test/$ID-web:slow
	trap nspawn_exit EXIT
}

nspawn_exit() {
	nspawn_cleanup
	docker rmi -f "$image" "$image_slow" "$builder" >/dev/null 2>&1
	[ -n "${KEEP:-}" ] && echo "kept $tmp" || rm -rf "$tmp"
}

nspawn_prepare() {
	local c libs lib_pkgs pkgs suite key cache rootfs mirror old k taken
	[ "$(id -u)" = 0 ] || skip "needs root (systemd-nspawn, overlay mounts)"
	for c in systemd-nspawn debootstrap git jq openssl; do
		command -v "$c" >/dev/null || skip "$c missing: run tests/deps (systemd-container, debootstrap)"
	done
	grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null
	grep -qw overlay /proc/filesystems || skip "no overlayfs in this kernel"
	engine_ensure >/dev/null || skip "no container engine"
	sock=$(readlink -f "$ENGINE_SOCK")
	[ -S "$sock" ] || skip "the engine socket $ENGINE_SOCK is not a socket"
	docker_gid=$(stat -c %g "$sock")
	mnt=$tmp/root
	machine=s2i-svc-$$
	# a make check run must not leak its variables (SANITIZE=...) into the install
	unset MAKEFLAGS MFLAGS MAKELEVEL

	# the cached root filesystem: systemd and the tools of the test unit (curl; python3
	# for the status API double), plus the Debian packages of every library the two
	# executables load (as ldd resolves them here, on Debian 12)
	make -C "$root" -s SANITIZE=0 all >"$tmp/make.log" 2>&1 || { tail -n 20 "$tmp/make.log"; fail "make"; }
	libs=$(ldd "$root/build/rel/s2i-agent" "$root/build/rel/s2i-agentd" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }' | sort -u)
	lib_pkgs=$(for l in $libs; do dpkg -S "$(readlink -f "$l")" 2>/dev/null || dpkg -S "$l"; done | cut -d: -f1 | sort -u)
	[ -n "$lib_pkgs" ] || fail "cannot find the packages of the agent's libraries"
	pkgs=$(printf '%s\n' systemd systemd-sysv dbus curl python3 $lib_pkgs | sort -u | paste -sd, -)
	suite=bookworm
	key=$(printf 'v1 %s minbase %s\n' "$suite" "$pkgs" | sha256sum | cut -c1-16)
	cache=${S2I_TEST_CACHE:-/var/cache/s2i-agent-tests}
	rootfs=$cache/nspawn-$suite-$key
	mkdir -p "$cache"
	# Made under an exclusive lock, used under a shared one (held until exit): a tree whose
	# lock is free is in nobody's use and may be removed when the package list changed.
	exec 9>"$cache/.lock-$key"
	flock 9
	if [ ! -d "$rootfs" ]; then	# it only appears, complete, by the rename below
		mirror=${S2I_TEST_MIRROR:-http://deb.debian.org/debian}
		echo "making the machine's root filesystem (debootstrap $suite from $mirror, once): $rootfs"
		rm -rf "$rootfs.new" "$rootfs"
		if ! debootstrap --variant=minbase --include="$pkgs" "$suite" "$rootfs.new" "$mirror" \
			>"$tmp/debootstrap.log" 2>&1; then
			tail -n 15 "$tmp/debootstrap.log"
			cp "$tmp/debootstrap.log" "$cache/debootstrap-$key.log" 2>/dev/null
			rm -rf "$rootfs.new"
			if grep -qE "Failed getting release file|Couldn't download|Failure trying to run|Temporary failure|Could not resolve|Connection refused|Network is unreachable|Unable to fetch" "$tmp/debootstrap.log" &&
				! grep -q 'Base system installed' "$tmp/debootstrap.log"; then
				skip "debootstrap cannot reach the Debian archive $mirror (log: $cache/debootstrap-$key.log)"
			fi
			fail "debootstrap failed (log: $cache/debootstrap-$key.log)"
		fi
		rm -rf "$rootfs.new/var/cache/apt/archives/"*.deb
		printf '%s\n' "$pkgs" | tr , '\n' >"$rootfs.packages"
		mv "$rootfs.new" "$rootfs"
		for old in "$cache"/nspawn-*; do
			[ -d "$old" ] && [ "$old" != "$rootfs" ] || continue
			k=${old##*-}
			(flock -n 8 && rm -rf "$old" "$old.packages" && rm -f "$cache/.lock-$k") 8>"$cache/.lock-$k"
		done
	fi
	flock -s 9

	# the machine: an overlay over the cache
	mkdir -p "$tmp/upper" "$tmp/work" "$mnt" "$tmp/out"
	mount -t overlay overlay -o "lowerdir=$rootfs,upperdir=$tmp/upper,workdir=$tmp/work" "$mnt" ||
		fail "cannot mount an overlay over $rootfs"
	mkdir -p "$mnt/s2i-test"
	# Debian's docker.io creates group docker; here it must carry the host socket's gid.
	taken=$(awk -F: -v g="$docker_gid" '$3 == g { print $1 }' "$mnt/etc/group")
	[ -z "$taken" ] || skip "the engine socket's gid $docker_gid is group '$taken' in a Debian base system"
	echo "docker:x:$docker_gid:" >>"$mnt/etc/group"
	echo "docker:!::" >>"$mnt/etc/gshadow"
	cp "$TESTS_DIR/lib/nspawn_inside.sh" "$mnt/s2i-test/lib.sh"
	# for nspawn_repo and nspawn_commit
	export GIT_AUTHOR_NAME="Test Author" GIT_AUTHOR_EMAIL=author@example.com
	export GIT_COMMITTER_NAME="Test Author" GIT_COMMITTER_EMAIL=author@example.com
	export GIT_CONFIG_NOSYSTEM=1 HOME=$tmp
}

# A bare repository /srv/git/web.git in the machine whose main has one commit: an
# app.sh that prints LINE. Prints the commit's sha.
nspawn_repo() {	# line
	mkdir -p "$mnt/srv/git"
	git init -q --bare "$mnt/srv/git/web.git"
	git init -q -b main "$tmp/web"
	printf 'echo "%s"\n' "$1" >"$tmp/web/app.sh"
	git -C "$tmp/web" add -A && git -C "$tmp/web" commit -q -m "first commit"
	git -C "$tmp/web" push -q "$mnt/srv/git/web.git" HEAD:refs/heads/main || fail "git push"
	chmod -R a+rX "$mnt/srv/git"
	git -C "$tmp/web" rev-parse HEAD
}

# A commit on BRANCH whose build sleeps SECONDS in assemble. Prints its sha.
nspawn_commit() {	# branch seconds message
	echo "$2" >"$tmp/web/SLEEP"
	git -C "$tmp/web" add -A && git -C "$tmp/web" commit -q -m "$3"
	git -C "$tmp/web" push -q "$mnt/srv/git/web.git" "HEAD:refs/heads/$1" || fail "git push $1"
	chmod -R a+rX "$mnt/srv/git"
	git -C "$tmp/web" rev-parse HEAD
}

# The builder (on the shared engine): assemble says its uid, copies the source and
# sleeps as long as the commit's SLEEP says ("assemble: sleeping Ns" first).
nspawn_builder() {	# tag label
	local ctx=$tmp/builder
	mkdir -p "$ctx/s2i"
	cat >"$ctx/s2i/assemble" <<'SH'
#!/bin/sh
echo "assemble: uid $(id -u)"
cp -a /tmp/src/. ./
if [ -f ./SLEEP ]; then
	echo "assemble: sleeping $(cat ./SLEEP)s"
	sleep "$(cat ./SLEEP)"
fi
echo "assemble: done"
SH
	engine_app_builder "$ctx" "$1" "$2"
}

# agent.conf at FILE: listen on $port (the machine's own loopback), repository web
# (the bare repository, $builder, images tagged per branch, no network for builds),
# then the lines on standard input (more keys of the repository).
nspawn_conf() {	# file
	{
		printf '[agent]\nlisten = 127.0.0.1:%s\n' "$port"
		echo "# state_dir and engine: the defaults (/var/lib/s2i-agent, unix:///var/run/docker.sock)"
		printf '\n[repo "web"]\nurl = /srv/git/web.git\nsecret_file = /etc/s2i-agent/web.secret\n'
		printf 'builder = %s\ntag = s2i-agent-test/%s-web:{branch}\n' "$builder" "$ID"
		printf 'pull_policy = never\nnetwork = none\n'
		cat
	} >"$1"
}

# GitHub's push payload for REF at SHA, into the machine as /s2i-test/NAME.
nspawn_payload() {	# name ref sha
	jq --arg ref "$2" --arg after "$3" '.ref = $ref | .after = $after | .head_commit.id = $after' \
		"$TESTS_DIR/fixtures/webhooks/github-push.json" >"$mnt/s2i-test/$1"
}

# Boots the machine; its test unit runs /s2i-test/inside.sh (the caller's) and powers
# off. Fails, with the journals, unless $tmp/out/results ends in done and has no FAIL.
nspawn_boot() {
	local nspawn R=$tmp/out/results
	chmod 755 "$mnt/s2i-test/inside.sh"
	cat >"$mnt/etc/systemd/system/s2i-test.service" <<'UNIT'
[Unit]
Description=s2i-agent test in a systemd machine (tests/lib/nspawn.sh)
After=multi-user.target
SuccessAction=poweroff-force
FailureAction=poweroff-force

[Service]
Type=oneshot
ExecStart=/s2i-test/inside.sh
StandardOutput=journal+console
TimeoutStartSec=240

[Install]
WantedBy=multi-user.target
UNIT
	mkdir -p "$mnt/etc/systemd/system/multi-user.target.wants"
	ln -s /etc/systemd/system/s2i-test.service "$mnt/etc/systemd/system/multi-user.target.wants/s2i-test.service"

	# --private-network: a network namespace with only lo (no veth, no bridge). A host
	# booted with systemd registers the machine with machined (a scope of its own); without
	# systemd as PID 1 there is neither machined nor a unit to create: --register=no
	# --keep-unit. The machine's journal is kept (in the overlay) for the failure output.
	nspawn=(systemd-nspawn --quiet --directory="$mnt" --machine="$machine" --private-network
		--link-journal=no --console=pipe)
	[ -d /run/systemd/system ] || nspawn+=(--register=no --keep-unit)
	# whether systemd-nspawn can run here at all (a container without the privileges it
	# needs, say): a command in the tree, no boot
	if ! "${nspawn[@]}" /bin/true >"$tmp/probe.log" 2>&1; then
		cat "$tmp/probe.log"
		skip "systemd-nspawn cannot run a container here: $(grep -v '^$' "$tmp/probe.log" | tail -n 1)"
	fi
	mkdir -p "$mnt/var/log/journal"
	echo "booting the cached Debian tree in systemd-nspawn (machine $machine)"
	timeout -k 10 300 "${nspawn[@]}" --boot \
		--bind="$sock:/run/docker.sock" --bind="$tmp/out:/s2i-test-out" >"$tmp/boot.log" 2>&1
	nspawn_rc=$?
	[ -f "$R" ] && cat "$R"
	if ! [ -f "$R" ] || ! grep -qx done "$R"; then
		nspawn_show_failure
		[ -f "$R" ] || fail "the test unit inside wrote no result (the machine did not boot, or see the journal above)"
		fail "the test unit inside did not finish"
	fi
	if grep -q '^FAIL' "$R"; then
		nspawn_show_failure
		fail "$(grep -c '^FAIL' "$R") check(s) failed inside the machine"
	fi
}

nspawn_show_failure() {
	echo "--- journal of s2i-agent.service:"
	if [ -f "$tmp/out/agent.journal" ]; then
		tail -n 60 "$tmp/out/agent.journal"
	else	# the test unit did not get to write it: read the machine's journal files
		journalctl -D "$mnt/var/log/journal" --no-pager -o short-monotonic -u s2i-agent 2>&1 | tail -n 60
		echo "--- journal of s2i-test.service:"
		journalctl -D "$mnt/var/log/journal" --no-pager -o short-monotonic -u s2i-test 2>&1 | tail -n 30
	fi
	echo "--- systemctl status s2i-agent:"
	cat "$tmp/out/status.txt" 2>/dev/null
	echo "--- systemd-nspawn (exit ${nspawn_rc:-?}), console (tail):"
	tail -n 30 "$tmp/boot.log"
}

nspawn_cleanup() {
	[ -n "${mnt:-}" ] || return 0
	mountpoint -q "$mnt" && { umount "$mnt" || umount -l "$mnt"; }
	rmdir "/run/systemd/nspawn/propagate/$machine" 2>/dev/null
	return 0
}
