#!/usr/bin/env bash
# Today's engines for the engine matrix, run on this host from the cached Debian sid
# root (tests/lib/sidroot.sh), chrooted, beside the host's dockerd (they share nothing):
#   docker28             dockerd 28.5 with Docker 29's API floor (1.44), overlay2
#   docker28-containerd  the same on the containerd image store (Docker 29's default)
#   podman5              podman 5's Docker-compatible service
#   tests/lib/sidengine.sh start ENGINE   # prints ENGINE_URL=unix://.../docker.sock
#   tests/lib/sidengine.sh stop ENGINE
# As a library: source it, call sid_engine_start ENGINE (sets SID_ENGINE_URL, and
# sid_cli: the engine's own CLI, `sid_cli ENGINE ARGS...`). start is idempotent;
# it exits 77 with the reason when the root cannot be made (the archive unreachable).
# No bridge, no iptables: containers get network none or host.
source "$(dirname "${BASH_SOURCE[0]}")/sidroot.sh"
source "$(dirname "${BASH_SOURCE[0]}")/daemon.sh"
TEST_BASE_IMAGE=${TEST_BASE_IMAGE:-s2i-agent-test/base:latest}
SID_API_FLOOR=${SID_API_FLOOR:-1.44}

sid_engine_name() {	# ENGINE → the short name of its run and data directories
	case $1 in
	docker28) echo s2i-d28 ;;
	docker28-containerd) echo s2i-d28c ;;
	podman5) echo s2i-p5 ;;
	*) return 1 ;;
	esac
}

sid_engine_sock() {	# ENGINE → the socket path inside the root
	local n
	n=$(sid_engine_name "$1") || return 1
	case $1 in
	podman*) echo "/run/$n/podman.sock" ;;
	*) echo "/run/$n/docker.sock" ;;
	esac
}

sid_engine_up() {	# ENGINE
	curl -sf --max-time 3 --unix-socket "$SID_ROOT$(sid_engine_sock "$1")" http://d/_ping >/dev/null 2>&1
}

# The engine's CLI: the root's docker CLI (the host's may be too old for the 1.44
# floor), also for podman, through its Docker-compatible socket (its storage and mounts
# live in the service's mount namespace): sid_cli ENGINE ARGS...; stdin and stdout pass
# through (save | load).
sid_cli() {
	local engine=$1 sock
	shift
	sock=$(sid_engine_sock "$engine") || return 2
	chroot "$SID_ROOT" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
		docker -H "unix://$sock" "$@"
}

# The root a mount point (dockerd's archive code wants it so) with proc, sys and dev;
# done once, kept while engines run.
sid_mounts() {
	mountpoint -q "$SID_ROOT" || mount --bind "$SID_ROOT" "$SID_ROOT" || return 1
	mountpoint -q "$SID_ROOT/proc" || mount -t proc proc "$SID_ROOT/proc" || return 1
	mountpoint -q "$SID_ROOT/sys" || mount --rbind /sys "$SID_ROOT/sys" || return 1
	mountpoint -q "$SID_ROOT/dev" || mount --rbind /dev "$SID_ROOT/dev" || return 1
	mkdir -p "$SID_ROOT/run" "$SID_ROOT/tmp"
	chmod 1777 "$SID_ROOT/tmp"
}

sid_unmounts() {
	local m
	for m in dev sys proc; do
		mountpoint -q "$SID_ROOT/$m" && { umount -R "$SID_ROOT/$m" 2>/dev/null || umount -R -l "$SID_ROOT/$m"; }
	done
	mountpoint -q "$SID_ROOT" && { umount "$SID_ROOT" 2>/dev/null || umount -l "$SID_ROOT"; }
}

# Runs a daemon of the root as its root: in a mount namespace of its own whose root
# mount IS the sid root (pivot_root), not merely chrooted into it. A chroot leaves the
# host's / as the namespace's root, and whatever joins a container's mount namespace
# (runc exec, podman's copies into a running container) lands there, on the host.
# Mounts the engine makes (container root filesystems) stay in its namespace.
sid_launch() {	# log cmd...
	local log=$1
	shift
	daemon_spawn setsid nohup unshare --mount --propagation private -- /bin/sh -c \
		'cd "$0" && mkdir -p .s2i-oldroot && pivot_root . .s2i-oldroot && cd / && umount -l /.s2i-oldroot &&
		exec env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root "$@"' "$SID_ROOT" "$@" \
		</dev/null >"$log" 2>&1
}

sid_dockerd_start() {	# ENGINE
	local engine=$1 n cfg log
	n=$(sid_engine_name "$engine")
	cfg=/etc/docker/$n.json
	log=/var/log/s2i-agent-test-$n.log
	mkdir -p "$SID_ROOT/etc/docker" "$SID_ROOT/run/$n"
	if [ "$engine" = docker28-containerd ]; then
		echo '{"features": {"containerd-snapshotter": true}}' >"$SID_ROOT$cfg"
	else
		echo '{"features": {"containerd-snapshotter": false}, "storage-driver": "overlay2"}' >"$SID_ROOT$cfg"
	fi
	rm -f "$SID_ROOT/run/$n/pid"
	# its own exec root, data root and containerd namespaces: two dockerds share the
	# root; DOCKER_MIN_API_VERSION: Docker 29's floor. (No DOCKER_RAMDISK: in a root of
	# its own runc can pivot_root, and must, for exec into a container to stay in it.)
	sid_launch "$log" DOCKER_MIN_API_VERSION="$SID_API_FLOOR" \
		dockerd -H "unix:///run/$n/docker.sock" --config-file "$cfg" \
		--bridge=none --iptables=false --ip6tables=false \
		--exec-root "/run/$n/exec" --data-root "/var/lib/docker-$n" --pidfile "/run/$n/pid" \
		--containerd-namespace "$n" --containerd-plugins-namespace "${n}p"
}

SID_P5_REGISTRIES=/etc/containers/registries.conf.d/50-s2i-agent-tests.conf
sid_podman_start() {	# ENGINE
	local engine=$1 n log
	n=$(sid_engine_name "$engine")
	log=/var/log/s2i-agent-test-$n.log
	mkdir -p "$SID_ROOT/etc/containers" "$SID_ROOT/run/$n"
	# no systemd in the root: cgroupfs and a file for events; no network stack needed
	cat >"$SID_ROOT/etc/containers/containers.conf" <<'EOF'
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
[containers]
netns = "none"
EOF
	# the tests' registries (tests/lib/registry.sh) serve plain HTTP on 127.0.0.1:PORT;
	# Podman pulls from one only when registries.conf says insecure. A location
	# without a port matches every port of that host (containers/image's prefix rule).
	# (Written only when it changes: a service started before it predates it, which
	# tests/lib/s2i.sh's s2i_pulls_plain_http sees by the pid file's age.)
	mkdir -p "$SID_ROOT/etc/containers/registries.conf.d"
	printf '[[registry]]\nlocation = "127.0.0.1"\ninsecure = true\n' >"$SID_ROOT$SID_P5_REGISTRIES.new"
	if cmp -s "$SID_ROOT$SID_P5_REGISTRIES.new" "$SID_ROOT$SID_P5_REGISTRIES"; then
		rm -f "$SID_ROOT$SID_P5_REGISTRIES.new"
	else
		mv "$SID_ROOT$SID_P5_REGISTRIES.new" "$SID_ROOT$SID_P5_REGISTRIES"
	fi
	rm -f "$SID_ROOT/run/$n/pid"
	sid_launch "$log" PODMAN_IGNORE_CGROUPSV1_WARNING=1 prlimit --nofile=20000:20000 --nproc=20000:20000 \
		podman system service --time=0 "unix:///run/$n/podman.sock"
	echo $! >"$SID_ROOT/run/$n/pid"
}

# The test base image (made by engine.sh in the host's dockerd) into the engine.
sid_engine_base_image() {	# ENGINE
	sid_cli "$1" image inspect "$TEST_BASE_IMAGE" >/dev/null 2>&1 && return 0
	docker save "$TEST_BASE_IMAGE" | sid_cli "$1" load >/dev/null
}

sid_engine_start() {	# ENGINE
	local engine=$1 n i rc
	n=$(sid_engine_name "$engine") || { echo "sidengine: unknown engine '$engine'" >&2; return 2; }
	sid_root_ensure || return $?
	exec 7>"$SID_CACHE/.lock-start-$n"
	flock 7
	if ! sid_engine_up "$engine"; then
		echo "sidengine: starting $engine from $SID_ROOT" >&2
		sid_mounts || { flock -u 7; echo "sidengine: cannot mount the sid root" >&2; return 1; }
		case $engine in
		podman*) sid_podman_start "$engine" ;;
		*) sid_dockerd_start "$engine" ;;
		esac
		for i in $(seq 1 120); do
			sid_engine_up "$engine" && break
			sleep 0.5
		done
		if ! sid_engine_up "$engine"; then
			flock -u 7
			echo "sidengine: $engine did not start (log /var/log/s2i-agent-test-$n.log):" >&2
			tail -n 15 "/var/log/s2i-agent-test-$n.log" >&2
			return 1
		fi
	fi
	rc=0
	if ! sid_engine_base_image "$engine"; then
		echo "sidengine: cannot load $TEST_BASE_IMAGE into $engine" >&2
		rc=1
	fi
	flock -u 7
	exec 7>&-
	SID_ENGINE_URL=unix://$SID_ROOT$(sid_engine_sock "$engine")
	return $rc
}

sid_engine_stop() {	# ENGINE
	local engine=$1 n pid i
	n=$(sid_engine_name "$engine") || return 2
	sid_root_ensure || return $?
	pid=$(cat "$SID_ROOT/run/$n/pid" 2>/dev/null) || return 0
	kill "$pid" 2>/dev/null
	for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
	rm -f "$SID_ROOT/run/$n/pid"
	# the last engine gone: the mounts go too
	for n in s2i-d28 s2i-d28c s2i-p5; do
		[ -s "$SID_ROOT/run/$n/pid" ] && kill -0 "$(cat "$SID_ROOT/run/$n/pid")" 2>/dev/null && return 0
	done
	sid_unmounts
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	case ${1:-} in
	start) sid_engine_start "${2:-}" || exit $?; echo "ENGINE_URL=$SID_ENGINE_URL" ;;
	stop) sid_engine_stop "${2:-}" ;;
	*) echo "usage: sidengine.sh start|stop docker28|docker28-containerd|podman5" >&2; exit 2 ;;
	esac
fi
