#!/usr/bin/env bash
# Container engine for the tests: starts dockerd (no bridge, no iptables) when none
# answers, and makes the busybox-static base image every test builder starts FROM.
# Usage as a script: engine.sh start. As a library: source it, call engine_ensure.
source "$(dirname "${BASH_SOURCE[0]}")/daemon.sh"
ENGINE_SOCK=${ENGINE_SOCK:-/var/run/docker.sock}
TEST_BASE_IMAGE=${TEST_BASE_IMAGE:-s2i-agent-test/base:latest}

engine_up() {
	curl -sf --max-time 3 --unix-socket "$ENGINE_SOCK" http://localhost/_ping >/dev/null 2>&1
}

engine_ensure() {
	local i
	if ! engine_up; then
		echo "engine.sh: starting dockerd" >&2
		daemon_spawn nohup dockerd --bridge=none --iptables=false --ip6tables=false \
			>/var/log/s2i-agent-test-dockerd.log 2>&1
		for i in $(seq 1 60); do
			engine_up && break
			sleep 0.5
		done
		engine_up || { echo "engine.sh: dockerd did not start" >&2; tail -20 /var/log/s2i-agent-test-dockerd.log >&2; return 1; }
	fi
	engine_base_image
}

# A builder image for the tests' apps: CTX/s2i/assemble is the caller's; its run
# script runs the app (sh ./app.sh) as user 1001 in /opt/app-root/src. LABEL marks
# the image and the containers made from it (label s2i-agent-test.image).
# Usage: engine_app_builder CTX TAG LABEL
engine_app_builder() {
	local ctx=$1 tag=$2 label=$3
	printf '#!/bin/sh\nexec sh ./app.sh\n' >"$ctx/s2i/run"
	chmod 755 "$ctx/s2i/assemble" "$ctx/s2i/run"
	cat >"$ctx/Dockerfile" <<EOF
FROM $TEST_BASE_IMAGE
LABEL io.openshift.s2i.scripts-url=image:///usr/libexec/s2i s2i-agent-test.image=$label
COPY s2i /usr/libexec/s2i
RUN mkdir -p /opt/app-root/src && chown 1001:0 /opt/app-root/src
WORKDIR /opt/app-root/src
USER 1001
EOF
	DOCKER_BUILDKIT=0 docker build -q --network none -t "$tag" "$ctx" >/dev/null 2>"$ctx/err" ||
		{ cat "$ctx/err" >&2; fail "docker build of the builder"; }
}

# A root filesystem of busybox-static with the applets builder scripts use, and an
# /etc/passwd with root and a named user "app" (uid 1001). Usage: engine_base_image
# [IMAGE [MARKER]]: IMAGE (default TEST_BASE_IMAGE) is made if missing; a MARKER
# (written to /etc/s2i-agent-test-marker) makes its one layer unlike any other's.
engine_base_image() {
	local root image=${1:-$TEST_BASE_IMAGE} marker=${2:-}
	docker image inspect "$image" >/dev/null 2>&1 && return 0
	root=$(mktemp -d)
	mkdir -p "$root"/bin "$root"/tmp "$root"/etc "$root"/opt/app-root/src "$root"/root
	chmod 1777 "$root"/tmp
	cp /bin/busybox "$root"/bin/busybox
	for a in $("$root"/bin/busybox --list); do
		[ "$a" = busybox ] || ln -s busybox "$root/bin/$a"
	done
	printf 'root:x:0:0:root:/root:/bin/sh\napp:x:1001:0:app:/opt/app-root/src:/bin/sh\n' >"$root"/etc/passwd
	printf 'root:x:0:\n' >"$root"/etc/group
	[ -n "$marker" ] && printf '%s\n' "$marker" >"$root"/etc/s2i-agent-test-marker
	chown -R 1001:0 "$root"/opt/app-root
	tar -C "$root" -c . | docker import -c 'ENV PATH=/bin' - "$image" >/dev/null
	rm -rf "$root"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	case ${1:-} in
	start) engine_ensure ;;
	*) echo "usage: engine.sh start" >&2; exit 2 ;;
	esac
fi
