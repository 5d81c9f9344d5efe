#!/usr/bin/env bash
# make demo: the whole product on one machine. Installs what is missing, starts a
# container engine if none answers, builds s2i-agent and a demo builder image, starts
# the agent, pushes a sample app to a bare repository whose post-receive hook streams
# the build back, runs the image it produced and prints the dashboard.
#
# Everything lives in build/demo/ (removed by the next run and by `make demo-clean`).
# With a terminal the agent keeps running until you press Enter (or Ctrl-C); without
# one (CI) it is stopped at once. DEMO_KEEP=1 leaves it running (stop: make demo-clean).
# The images s2i-agent-demo/{base,builder,hello} are kept; `make demo-clean` removes them.
set -euo pipefail
cd "$(dirname "$0")/../.."
top=$PWD
dir=$top/build/demo
# DEMO_IMAGES names the images (tests set their own so that runs do not meet)
images=${DEMO_IMAGES:-s2i-agent-demo}
base=$images/base:latest
builder=$images/builder:latest
image=$images/hello:main
agent=$top/build/rel/s2i-agent
agent_pid=

# shellcheck source=../../tests/lib/poll.sh
source tests/lib/poll.sh	# free_port, wait_gone, wait_url

say() { printf '==> %s\n' "$*"; }
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }

# Stops the agent of an earlier run (its pid file), only if that pid is still that agent.
stop_previous() {
	local pid
	[ -f "$dir/agent.pid" ] || return 0
	pid=$(cat "$dir/agent.pid")
	if [ -n "$pid" ] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "serve -c $dir/agent.conf"; then
		kill -TERM "$pid" 2>/dev/null || true
		wait_gone "$pid" 10 || true
	fi
	rm -f "$dir/agent.pid"
}

stop_agent() {
	[ -n "$agent_pid" ] || return 0
	kill -TERM "$agent_pid" 2>/dev/null || true
	wait "$agent_pid" 2>/dev/null || true
	agent_pid=
	rm -f "$dir/agent.pid"
	# the agent removes its build containers; remove any a crash would have left
	docker ps -aq --filter label=io.s2i-agent.build --filter "ancestor=$builder" |
		xargs -r docker rm -f >/dev/null 2>&1 || true
}

on_exit() {
	local rc=$?
	[ "${DEMO_KEEP:-0}" = 1 ] && [ $rc = 0 ] && return 0
	if [ -n "$agent_pid" ]; then
		stop_agent
		say "agent stopped"
	fi
	[ $rc = 0 ] || printf 'demo: failed; logs are in %s\n' "$dir" >&2
}

if [ "${1:-}" = clean ]; then
	stop_previous
	rm -rf "$dir"
	# the app images (older builds' too) carry the builder's label
	docker images -q --filter "label=io.s2i-agent.demo=$images" | sort -u | xargs -r docker rmi -f >/dev/null 2>&1 || true
	docker rmi "$image" "$builder" "$base" >/dev/null 2>&1 || true
	say "demo removed (build/demo, images $images/*)"
	exit 0
fi

[ "$(id -u)" = 0 ] || die "run me as root (I install packages and drive the container engine)"

# ---- 1. packages (the list lives in tests/deps) ----
stop_previous
rm -rf "$dir"
mkdir -p "$dir"
say "checking packages (installs what is missing; log: build/demo/deps.log)"
if ! tests/deps --demo >"$dir/deps.log" 2>&1; then
	tail -n 20 "$dir/deps.log" >&2
	die "installing packages failed (log: build/demo/deps.log)"
fi
sed -n 's/^tests\/deps: installing /==> installed: /p' "$dir/deps.log"

# ---- 2. a container engine ----
# shellcheck source=../../tests/lib/engine.sh
export TEST_BASE_IMAGE=$base
source tests/lib/engine.sh
if engine_up; then
	say "container engine: running"
else
	say "container engine: starting dockerd (no bridge, no iptables; log /var/log/s2i-agent-test-dockerd.log)"
fi
docker image inspect "$base" >/dev/null 2>&1 ||
	say "making the base image $base (docker import of a busybox-static root)"
# in a session of its own, so a Ctrl-C at the prompt does not reach a dockerd started here
setsid --wait tests/lib/engine.sh start 2>/dev/null || die "no container engine: see /var/log/s2i-agent-test-dockerd.log"

# ---- 3. s2i-agent and the builder image ----
trap on_exit EXIT
say "building s2i-agent (log: build/demo/make.log)"
make -s SANITIZE=0 all >"$dir/make.log" 2>&1 || { tail -n 20 "$dir/make.log" >&2; die "make failed"; }
say "building the demo builder image $builder (FROM $base, a busybox-static root)"
DOCKER_BUILDKIT=0 docker build -q --network none --build-arg "BASE=$base" -t "$builder" \
	--label "io.s2i-agent.demo=$images" \
	conf/demo/builder >"$dir/builder.log" 2>&1 || { cat "$dir/builder.log" >&2; die "docker build failed"; }
# the previous run's app image: its tag moves to the new build, so drop the old one
docker rmi "$image" >/dev/null 2>&1 || true

# ---- 4. a bare repository with the hook, the agent ----
say "creating the bare repository build/demo/hello.git with hooks/post-receive"
umask 077
head -c 24 /dev/urandom | base64 >"$dir/hello.secret"
umask 022
git init -q --bare "$dir/hello.git"
cp hooks/post-receive "$dir/hello.git/hooks/post-receive"
git --git-dir="$dir/hello.git" config s2i.secretFile "$dir/hello.secret"
git --git-dir="$dir/hello.git" config s2i.agent "$agent"

start() {	# port: writes the config, starts the agent, waits until it answers
	local port=$1
	url=http://127.0.0.1:$port
	cat >"$dir/agent.conf" <<-EOF
	; written by make demo
	[agent]
	listen     = 127.0.0.1:$port
	public_url = $url
	state_dir  = $dir/state
	engine     = unix://$ENGINE_SOCK
	workers    = 1

	[repo "hello"]
	url         = $dir/hello.git
	secret_file = $dir/hello.secret
	builder     = $builder
	tag         = $images/{repo}:{branch}
	pull_policy = never
	network     = none
	status      = none
	EOF
	chmod 640 "$dir/agent.conf"
	# its own session: a Ctrl-C at the prompt reaches this script, which stops it with SIGTERM
	setsid "$agent" serve -c "$dir/agent.conf" >>"$dir/agent.log" 2>&1 </dev/null &
	agent_pid=$!
	echo "$agent_pid" >"$dir/agent.pid"
	wait_url "$url/healthz" 10 "$agent_pid" && return 0
	kill -TERM "$agent_pid" 2>/dev/null || true
	wait "$agent_pid" 2>/dev/null || true
	agent_pid=
	return 1
}
ok=0
for _ in 1 2 3 4 5; do
	port=$(free_port) || die "no free port on 127.0.0.1"
	if start "$port"; then ok=1; break; fi
	grep -q "cannot listen" "$dir/agent.log" || break	# only a taken port is worth a retry
done
[ $ok = 1 ] || { tail -n 20 "$dir/agent.log" >&2; die "the agent did not start"; }
git --git-dir="$dir/hello.git" config s2i.url "$url"
say "agent listening on $url (pid $agent_pid, log: build/demo/agent.log)"

# ---- 5. push the sample app; the hook streams the build as remote: lines ----
work=$dir/hello.work
mkdir -p "$work"
cp -a conf/demo/app/. "$work/"
git -C "$work" init -q -b main
git -C "$work" config user.name "s2i-agent demo"
git -C "$work" config user.email demo@localhost
git -C "$work" add -A
git -C "$work" commit -q -m "hello: first version"
git -C "$work" remote add origin "$dir/hello.git"
say "git push origin main"
echo
git -C "$work" push origin main 2>&1
echo
git -C "$work" branch -q -u origin/main	# a plain `git push` works for a second try

# ---- 6. the result ----
build=$(curl -sf --max-time 10 "$url/builds?repo=hello&limit=1")
id=$(jq -r '.[0].id // empty' <<<"$build")
state=$(jq -r '.[0].state // empty' <<<"$build")
[ -n "$id" ] || die "no build was recorded (see build/demo/agent.log)"
[ "$state" = succeeded ] || die "build $id $state: $(jq -r '.[0].reason // ""' <<<"$build")"
say "build $id $state in $(jq -r '.[0].duration_ms / 100 | round / 10' <<<"$build") s: $image ($(docker image inspect -f '{{.Id}}' "$image" | cut -c1-19))"
say "docker run --rm --network none $image"
echo
docker run --rm --network none "$image"
echo
say "dashboard:  $url/"
say "build log:  $url/builds/$id   (plain text: $url/builds/$id/log)"

if [ "${DEMO_KEEP:-0}" = 1 ]; then
	say "the agent keeps running (pid $agent_pid); stop it and remove the demo: make demo-clean"
	say "push again from another terminal:"
	echo "    cd build/demo/hello.work && echo 'Hi again!' >message.txt && git commit -qam 'new greeting' && git push"
	say "demo succeeded"
	exit 0
fi
if [ -t 0 ] && [ -t 1 ]; then
	say "push again from another terminal:"
	echo "    cd build/demo/hello.work && echo 'Hi again!' >message.txt && git commit -qam 'new greeting' && git push"
	trap 'echo' INT
	read -r -p "==> press Enter (or Ctrl-C) to stop the agent " _ || true
	trap - INT
else
	say "no terminal: stopping the agent now (DEMO_KEEP=1 keeps it running)"
fi
stop_agent
say "agent stopped; images $builder and $image kept (make demo-clean removes them and build/demo)"
say "demo succeeded"
