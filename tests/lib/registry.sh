#!/usr/bin/env bash
# A private image registry for the tests: Debian's docker-registry on 127.0.0.1
# (random free port) with htpasswd authentication, storage in a temporary dir.
# docker treats 127.0.0.0/8 registries as insecure-allowed, so plain HTTP works.
#
# As a script:
#   eval "$(tests/lib/registry.sh start)"   # prints shell assignments:
#     REGISTRY_ADDR=127.0.0.1:PORT  REGISTRY_USER  REGISTRY_PASS
#     REGISTRY_DIR (all state; stop removes it)  REGISTRY_PID
#     REGISTRY_AUTH_FILE (a docker config.json with the credentials, mode 0600)
#   tests/lib/registry.sh stop "$REGISTRY_DIR"
# As a library: source it; registry_start sets those variables, registry_stop stops.
# C tests run it through child.h and read the KEY=VALUE lines (tests/unit/test_engine_live.c).

registry_free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

registry_start() {
	local port i code
	REGISTRY_DIR=$(mktemp -d /tmp/s2i-agent-registry.XXXXXX) || return 1
	REGISTRY_USER=tester
	REGISTRY_PASS=pw-$RANDOM$RANDOM
	mkdir -p "$REGISTRY_DIR/data"
	htpasswd -Bbn "$REGISTRY_USER" "$REGISTRY_PASS" >"$REGISTRY_DIR/htpasswd" || return 1
	for i in 1 2 3 4 5; do
		port=$(registry_free_port)
		REGISTRY_ADDR=127.0.0.1:$port
		cat >"$REGISTRY_DIR/config.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $REGISTRY_DIR/data
  delete:
    enabled: true
http:
  addr: $REGISTRY_ADDR
  secret: s2i-agent-test-$RANDOM
auth:
  htpasswd:
    realm: s2i-agent-test
    path: $REGISTRY_DIR/htpasswd
EOF
		docker-registry serve "$REGISTRY_DIR/config.yml" >"$REGISTRY_DIR/registry.log" 2>&1 &
		REGISTRY_PID=$!
		echo "$REGISTRY_PID" >"$REGISTRY_DIR/pid"
		for _ in $(seq 1 50); do
			code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://$REGISTRY_ADDR/v2/" 2>/dev/null)
			[ "$code" = 401 ] && break
			kill -0 "$REGISTRY_PID" 2>/dev/null || break
			sleep 0.1
		done
		[ "$code" = 401 ] && break
		kill "$REGISTRY_PID" 2>/dev/null; wait "$REGISTRY_PID" 2>/dev/null
		REGISTRY_PID=
	done
	if [ -z "$REGISTRY_PID" ]; then
		echo "registry.sh: docker-registry did not start" >&2
		tail -5 "$REGISTRY_DIR/registry.log" >&2
		rm -rf "$REGISTRY_DIR"
		return 1
	fi
	REGISTRY_AUTH_FILE=$REGISTRY_DIR/docker-config.json
	(umask 077; printf '{"auths":{"%s":{"auth":"%s"}}}\n' "$REGISTRY_ADDR" \
		"$(printf '%s:%s' "$REGISTRY_USER" "$REGISTRY_PASS" | base64 -w0)" >"$REGISTRY_AUTH_FILE")
	export REGISTRY_ADDR REGISTRY_USER REGISTRY_PASS REGISTRY_DIR REGISTRY_PID REGISTRY_AUTH_FILE
}

registry_stop() {
	local dir=${1:-${REGISTRY_DIR:-}} pid
	[ -n "$dir" ] && [ -d "$dir" ] || return 0
	case $dir in /tmp/s2i-agent-registry.*) ;; *) echo "registry.sh: refusing to remove '$dir'" >&2; return 1 ;; esac
	pid=$(cat "$dir/pid" 2>/dev/null)
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill "$pid" 2>/dev/null
		for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	fi
	rm -rf "$dir"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	case ${1:-} in
	start)
		# The registry must outlive this script: detach its output from our stdout.
		registry_start >/dev/null || exit 1
		printf 'REGISTRY_ADDR=%s\nREGISTRY_USER=%s\nREGISTRY_PASS=%s\nREGISTRY_DIR=%s\nREGISTRY_PID=%s\nREGISTRY_AUTH_FILE=%s\n' \
			"$REGISTRY_ADDR" "$REGISTRY_USER" "$REGISTRY_PASS" "$REGISTRY_DIR" "$REGISTRY_PID" "$REGISTRY_AUTH_FILE"
		;;
	stop) registry_stop "${2:-}" ;;
	*) echo "usage: registry.sh start | stop DIR" >&2; exit 2 ;;
	esac
fi
