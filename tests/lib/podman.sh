#!/usr/bin/env bash
# Podman's Docker-compatible API for the tests, beside dockerd (they share
# nothing: podman keeps its images in /var/lib/containers, uses runc directly).
#   tests/lib/podman.sh start   # prints PODMAN_ENGINE=unix:///tmp/s2i-agent-podman/podman.sock
#   tests/lib/podman.sh stop
# start launches `podman system service --time=0` under prlimit (podman 4.3
# needs generous nofile/nproc limits) if its socket does not answer, and copies
# the test base image from dockerd into podman's storage (docker save | podman load).
# Run the engine tests against it with:
#   S2I_TEST_ENGINE=podman tests/run --unit-only engine   (the C tests)
#   S2I_TEST_ENGINE=podman tests/run --e2e-only build      (tests/lib/s2i.sh)
source "$(dirname "${BASH_SOURCE[0]}")/daemon.sh"
PODMAN_DIR=${PODMAN_DIR:-/tmp/s2i-agent-podman}
PODMAN_SOCK=$PODMAN_DIR/podman.sock
TEST_BASE_IMAGE=${TEST_BASE_IMAGE:-s2i-agent-test/base:latest}

podman_up() {
	curl -sf --max-time 3 --unix-socket "$PODMAN_SOCK" http://d/_ping >/dev/null 2>&1
}

podman_start() {
	command -v podman >/dev/null || { echo "podman.sh: podman is not installed (apt-get install podman)" >&2; return 1; }
	mkdir -p "$PODMAN_DIR"
	if ! podman_up; then
		daemon_spawn prlimit --nofile=20000:20000 --nproc=20000:20000 \
			podman system service --time=0 "unix://$PODMAN_SOCK" >"$PODMAN_DIR/service.log" 2>&1
		echo $! >"$PODMAN_DIR/pid"
		for _ in $(seq 1 100); do podman_up && break; sleep 0.1; done
		podman_up || { echo "podman.sh: the podman service did not start" >&2; tail -5 "$PODMAN_DIR/service.log" >&2; return 1; }
	fi
	if ! podman image exists "$TEST_BASE_IMAGE"; then
		docker save "$TEST_BASE_IMAGE" | podman load >/dev/null || return 1
	fi
	echo "PODMAN_ENGINE=unix://$PODMAN_SOCK"
}

podman_stop() {
	local pid
	pid=$(cat "$PODMAN_DIR/pid" 2>/dev/null) || return 0
	kill "$pid" 2>/dev/null
	rm -f "$PODMAN_DIR/pid"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	case ${1:-} in
	start) podman_start ;;
	stop) podman_stop ;;
	*) echo "usage: podman.sh start | stop" >&2; exit 2 ;;
	esac
fi
