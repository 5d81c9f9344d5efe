#!/usr/bin/env bash
# Helpers of the `s2i-agent build` end-to-end tests: builder images made FROM the busybox
# base with `docker build`, git sources, assertions, and cleanup of what a test created.
# Source it after setting TEST (a short name); it sources engine.sh and starts the engine.
set -u
source "$TESTS_DIR/lib/engine.sh"
source "$TESTS_DIR/lib/poll.sh"

S2I_ID="${TEST:-s2i}-$$"

# S2I_TEST_ENGINE picks the engine under test: docker (default: the host's dockerd),
# podman (Podman 4.3's Docker-compatible API, tests/lib/podman.sh), or one of today's
# engines from the cached sid root (tests/lib/sidengine.sh): docker28 (Docker 28.5 with
# Docker 29's API floor 1.44, overlay2), docker28-containerd (the same on the
# containerd image store), podman5. Builder images are still made by `docker build` in
# the host's dockerd, then loaded into the engine under test; `eng` is that engine's CLI.
S2I_TEST_ENGINE=${S2I_TEST_ENGINE:-docker}
S2I_ENGINE_URL=
case $S2I_TEST_ENGINE in
docker) eng() { docker "$@"; } ;;
podman) eng() { prlimit --nofile=20000:20000 --nproc=20000:20000 podman "$@"; } ;;
docker28|docker28-containerd|podman5)
	source "$TESTS_DIR/lib/sidengine.sh"
	eng() { sid_cli "$S2I_TEST_ENGINE" "$@"; } ;;
*) echo "S2I_TEST_ENGINE: unknown engine '$S2I_TEST_ENGINE'" >&2; exit 2 ;;
esac
# the host's dockerd, where builders are made, whatever DOCKER_HOST says (parity.sh
# points DOCKER_HOST at the engine under test for the s2i CLI)
hdocker() { DOCKER_HOST=unix://${ENGINE_SOCK:-/var/run/docker.sock} docker "$@"; }
s2i_podman() { [ "$S2I_TEST_ENGINE" = podman ] || [ "$S2I_TEST_ENGINE" = podman5 ]; }
# the engine pulls from a plain-HTTP registry on 127.0.0.1 (tests/lib/registry.sh's):
# Docker does; Podman only when registries.conf says insecure: podman5 when its
# service started after tests/lib/sidengine.sh gave its root a drop-in saying so
# (SID_P5_REGISTRIES), the host's Podman 4.3 never (the tests leave /etc alone)
s2i_pulls_plain_http() {
	case $S2I_TEST_ENGINE in
	podman) return 1 ;;
	podman5) [ -f "$SID_ROOT$SID_P5_REGISTRIES" ] && [ "$SID_ROOT/run/s2i-p5/pid" -nt "$SID_ROOT$SID_P5_REGISTRIES" ] ;;
	*) return 0 ;;
	esac
}
# not the host's dockerd: images go there by docker save | eng load
s2i_other_engine() { [ "$S2I_TEST_ENGINE" != docker ]; }
# the containerd image store: image ids are manifest digests
s2i_containerd_store() { [ "$S2I_TEST_ENGINE" = docker28-containerd ]; }
S2I_TMP=$(mktemp -d)
S2I_IMAGES=()
S2I_PIDS=()

s2i_rm_dangling() {	# hdocker|eng
	local i v
	for i in $("$1" images -q --filter dangling=true --filter label=s2i-agent-test.image 2>/dev/null); do
		v=$("$1" image inspect -f '{{index .Config.Labels "s2i-agent-test.image"}}' "$i" 2>/dev/null)
		case $v in "s2i-agent-test/${S2I_ID}-"*) "$1" rmi -f "$i" >/dev/null 2>&1 ;; esac
	done
}

s2i_cleanup() {
	local i
	for i in "${S2I_PIDS[@]}"; do kill "$i" 2>/dev/null; done
	# s2i_name runs in $(...) subshells: find this test's images by name
	for i in "${S2I_IMAGES[@]}" $(hdocker images --format '{{.Repository}}:{{.Tag}}' \
		"s2i-agent-test/${S2I_ID}-*" 2>/dev/null); do
		hdocker rmi -f "$i" >/dev/null 2>&1
	done
	if s2i_other_engine; then
		for i in $(eng images --format '{{.Repository}}:{{.Tag}}' 2>/dev/null | grep "s2i-agent-test/${S2I_ID}[-:]"); do
			eng rmi -f "$i" >/dev/null 2>&1
		done
	fi
	# images a rebuild of the same tag left untagged: they carry the builder's
	# s2i-agent-test.image label, which names this test
	# (twice: an untagged builder goes once its children have gone)
	s2i_rm_dangling hdocker; s2i_rm_dangling hdocker
	s2i_other_engine && { s2i_rm_dangling eng; s2i_rm_dangling eng; }
	rm -rf "$S2I_TMP" "${S2I_BIND_DIRS[@]}"
}
trap s2i_cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "$*"; exit 77; }

engine_ensure >/dev/null || skip "no container engine"
case $S2I_TEST_ENGINE in
podman)
	eval "$(bash "$TESTS_DIR/lib/podman.sh" start)" && [ -n "${PODMAN_ENGINE:-}" ] || skip "podman did not start"
	S2I_ENGINE_URL=$PODMAN_ENGINE ;;
docker28|docker28-containerd|podman5)
	sid_engine_start "$S2I_TEST_ENGINE" 2>"$S2I_TMP/engine.err"
	case $? in
	0) S2I_ENGINE_URL=$SID_ENGINE_URL ;;
	77) skip "$S2I_TEST_ENGINE: $(tail -n 1 "$S2I_TMP/engine.err")" ;;
	*) cat "$S2I_TMP/engine.err" >&2; fail "$S2I_TEST_ENGINE did not start" ;;
	esac ;;
esac

# A directory the engine can bind-mount (-v): sets S2I_BIND_DIR (its path here) and
# S2I_BIND_PATH (the same as the engine sees it: an engine chrooted into the sid root
# sees that root's /tmp). Removed at exit.
s2i_bind_dir() {
	case $S2I_TEST_ENGINE in
	docker28|docker28-containerd|podman5)
		S2I_BIND_DIR=$(mktemp -d -p "$SID_ROOT/tmp" "s2i-$S2I_ID.XXXXXX") && chmod 755 "$S2I_BIND_DIR"
		S2I_BIND_PATH=${S2I_BIND_DIR#"$SID_ROOT"}
		S2I_BIND_DIRS+=("$S2I_BIND_DIR") ;;
	*)
		S2I_BIND_DIR=$(mktemp -d -p "$S2I_TMP") && chmod 755 "$S2I_BIND_DIR"
		S2I_BIND_PATH=$S2I_BIND_DIR ;;
	esac
}
S2I_BIND_DIRS=()

# The image names a test uses: unique, and removed at exit (by their prefix).
s2i_name() {	# suffix
	echo "s2i-agent-test/${S2I_ID}-$1"
}

# The name both s2i-agent and the real s2i find an image by: Podman names a loaded or
# committed image localhost/NAME, while s2i's client reads a name without a registry
# as docker.io/NAME, which Podman does not find; so on Podman, localhost/NAME.
s2i_ref() {	# name
	if s2i_podman; then echo "localhost/$1"; else echo "$1"; fi
}

# Writes the standard busybox-sh scripts of a test builder into dir:
# assemble copies the source into the WORKDIR (restoring artifacts first), run
# executes the app, save-artifacts tars the "deps" directory.
s2i_write_scripts() {	# dir [dest]
	local d=$1 dest=${2:-/tmp}
	mkdir -p "$d"
	cat >"$d/assemble" <<EOF
#!/bin/sh
set -e
echo "assemble: uid \$(id -u) in \$(pwd)"
if [ -d $dest/artifacts ] && [ -n "\$(ls -A $dest/artifacts)" ]; then
	echo "assemble: restoring artifacts"
	cp -a $dest/artifacts/. ./
fi
cp -a $dest/src/. ./
if [ -f deps/count ]; then n=\$(cat deps/count); else n=0; mkdir -p deps; fi
echo \$((n + 1)) > deps/count
echo "assemble: build number \$(cat deps/count)"
echo "assemble: APP_MODE=\${APP_MODE:-unset} GREETING=\${GREETING:-unset}"
echo "assemble: to stderr" >&2
if [ -f $dest/src/image_metadata.json ]; then
	mkdir -p $dest/.s2i && cp $dest/src/image_metadata.json $dest/.s2i/
fi
EOF
	cat >"$d/run" <<'EOF'
#!/bin/sh
exec sh ./app.sh
EOF
	cat >"$d/save-artifacts" <<'EOF'
#!/bin/sh
tar -cf - deps
EOF
	chmod 755 "$d/assemble" "$d/run" "$d/save-artifacts"
}

# Builds a builder image. Options: --user U, --workdir W, --no-tar, --no-scripts, --no-label,
# --entrypoint, --dest D, --label K=V (repeatable), --scripts DIR (instead of the standard).
s2i_builder() {	# name [options]
	local name=$1 user=1001 workdir=/opt/app-root/src notar=0 noscripts=0 ep=0 dest= scripts= nolabel=0
	local labels=() ctx
	shift
	while [ $# -gt 0 ]; do
		case $1 in
		--user) user=$2; shift ;;
		--workdir) workdir=$2; shift ;;
		--no-tar) notar=1 ;;
		--no-scripts) noscripts=1 ;;
		--no-label) nolabel=1 ;;
		--entrypoint) ep=1 ;;
		--dest) dest=$2; shift ;;
		--label) labels+=("$2"); shift ;;
		--scripts) scripts=$2; shift ;;
		esac
		shift
	done
	ctx=$(mktemp -d -p "$S2I_TMP")
	if [ $noscripts = 0 ]; then
		if [ -n "$scripts" ]; then cp -a "$scripts" "$ctx/s2i"; else s2i_write_scripts "$ctx/s2i" "${dest:-/tmp}"; fi
	else
		mkdir "$ctx/s2i"
	fi
	{
		echo "FROM $TEST_BASE_IMAGE"
		# a label unique to this image: no layer (and so no image id) is shared with
		# other tests' builders, so filters by image stay exact
		echo "LABEL builder.label=kept s2i-agent-test.image=$name"
		[ $nolabel = 0 ] && echo "LABEL io.openshift.s2i.scripts-url=image:///usr/libexec/s2i"
		[ -n "$dest" ] && echo "LABEL io.openshift.s2i.destination=$dest"
		for l in "${labels[@]}"; do echo "LABEL $l"; done
		echo "COPY s2i /usr/libexec/s2i"
		[ -n "$dest" ] && echo "RUN mkdir -p $dest && chmod 1777 $dest"
		echo "RUN mkdir -p $workdir && chown 1001:0 $workdir && chmod 777 $workdir"
		[ $notar = 1 ] && echo "RUN rm /bin/tar"
		[ $ep = 1 ] && echo 'ENTRYPOINT ["/bin/echo", "entrypoint-was-run"]'
		echo "WORKDIR $workdir"
		[ -n "$user" ] && echo "USER $user"
	} >"$ctx/Dockerfile"
	DOCKER_BUILDKIT=0 hdocker build -q --network none -t "$name" "$ctx" >/dev/null 2>"$ctx/err" ||
		{ cat "$ctx/err" >&2; fail "docker build of $name"; }
	if s2i_other_engine; then
		hdocker save "$name" | eng load >/dev/null 2>"$ctx/err" ||
			{ cat "$ctx/err" >&2; fail "$S2I_TEST_ENGINE: load of $name"; }
	fi
}

# A git work tree with the app: app.sh prints "answer: <text>".
s2i_git_source() {	# dir answer
	local d=$1
	mkdir -p "$d"
	printf 'echo "answer: %s"\n' "$2" >"$d/app.sh"
	git -C "$d" init -q -b main
	git -C "$d" -c user.name="Test Author" -c user.email=author@example.com add -A
	git -C "$d" -c user.name="Test Author" -c user.email=author@example.com commit -q -m "first commit of the app"
}

s2i_commit_all() {	# dir message
	git -C "$1" add -A
	git -C "$1" -c user.name="Test Author" -c user.email=author@example.com commit -q -m "$2"
}

# Runs s2i-agent build; output in $S2I_TMP/out, stderr in $S2I_TMP/err, status in $rc,
# the build id (label io.s2i-agent.build of its containers) in $build_id.
S2I_NBUILD=0
s2i_build() {
	S2I_NBUILD=$((S2I_NBUILD + 1))
	build_id="$S2I_ID-$S2I_NBUILD"
	if [ -n "$S2I_ENGINE_URL" ]; then
		S2I_AGENT_BUILD_ID=$build_id "$S2I_AGENT" build -U "$S2I_ENGINE_URL" "$@" >"$S2I_TMP/out" 2>"$S2I_TMP/err"
	else
		S2I_AGENT_BUILD_ID=$build_id "$S2I_AGENT" build "$@" >"$S2I_TMP/out" 2>"$S2I_TMP/err"
	fi
	rc=$?
}

s2i_show() {
	echo "--- stdout"; cat "$S2I_TMP/out"; echo "--- stderr"; cat "$S2I_TMP/err"
}

s2i_expect_ok() {
	[ "$rc" = 0 ] || { s2i_show; fail "build exited $rc: $*"; }
	image_id=$(tail -n 1 "$S2I_TMP/out")
	[[ $image_id == sha256:* ]] || { s2i_show; fail "last line is not an image id: $image_id"; }
}

s2i_expect_out() {	# pattern
	grep -q -- "$1" "$S2I_TMP/out" || { s2i_show; fail "output lacks '$1'"; }
}

# Commits an app.sh that prints ANSWER, rebuilds TAG with --incremental and checks that
# the previous image's artifacts came back (build number N), no container is left and
# the new image runs the new app.
s2i_rebuild_incremental() {	# src builder tag answer n
	printf 'echo "answer: %s"\n' "$4" >"$1/app.sh"
	s2i_commit_all "$1" "$4"
	s2i_build --network none --incremental "$1" "$2" "$3"
	s2i_expect_ok "incremental build $5"
	s2i_expect_out "assemble: restoring artifacts"
	s2i_expect_out "assemble: build number $5"
	s2i_no_leftovers
	[ "$(s2i_run "$3")" = "answer: $4" ] || fail "the app of incremental build $5"
}

# No container or volume of the last build (or of build id $1) is left: the CLI prints
# its result first and removes them after, in a process of its own (s2i_cleanup_detach),
# so they may take a moment to go; 30 s is far more than it takes.
s2i_build_objects() {	# build id
	eng ps -aq --filter "label=io.s2i-agent.build=$1"
	eng volume ls -q --filter "label=io.s2i-agent.build=$1"
}
s2i_no_leftovers() {
	local id=${1:-$build_id}
	wait_for 30 eval '[ -z "$(s2i_build_objects "$id")" ]' ||
		fail "containers or volumes left over: $(s2i_build_objects "$id" | tr '\n' ' ')"
}

s2i_label() {	# image key
	eng image inspect -f "{{index .Config.Labels \"$2\"}}" "$1"
}

s2i_run() {	# image [args]
	eng run --rm --network none "$@"
}

# A free TCP port on 127.0.0.1.
s2i_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
