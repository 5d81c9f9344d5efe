#!/usr/bin/env bash
# make demo end to end, as CI would run it (no terminal): in a copy of the tree it
# installs nothing new, builds the agent and the builder, pushes the sample app through
# the post-receive hook, and the image it built answers. Checks the output, that the
# agent was stopped, that no container is left, then a second run in the same tree.
set -u
: "${TESTS_DIR:?}"
fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "$*"; exit 77; }
source "$TESTS_DIR/lib/lines.sh"
[ "$(id -u)" = 0 ] || skip "make demo runs as root"
src=$(cd "$TESTS_DIR/.." && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/s2i-agent-demo.XXXXXX")
images=s2i-agent-test/demo-$$
cleanup() {
	# demo-clean stops an agent left running and removes this run's images
	[ -x "$tmp/tree/conf/demo/demo.sh" ] && DEMO_IMAGES=$images "$tmp/tree/conf/demo/demo.sh" clean >/dev/null 2>&1
	rm -rf "$tmp"
}
trap cleanup EXIT

# the tracked files as they are in this tree, plus the release build if there is one
mkdir -p "$tmp/tree"
(cd "$src" && git ls-files -z | xargs -0 cp -a --parents -t "$tmp/tree") || fail "copy of the tree"
[ -d "$src/build/rel" ] && { mkdir -p "$tmp/tree/build"; cp -a "$src/build/rel" "$tmp/tree/build/"; }

run() {	# output file
	(cd "$tmp/tree" && DEMO_IMAGES=$images make demo </dev/null >"$1" 2>&1)
}

check() {	# output file
	local out=$1
	file_has "$out" -G \
		'^==> demo succeeded$' "no success line" \
		'^remote: s2i-agent: refs/heads/main: queued build 1 ' "queued line from the hook" \
		'^remote: ---> checking app.sh' "assemble output as remote: lines" \
		'^remote: s2i-agent: build 1 succeeded' "build state from the hook" \
		"^==> docker run --rm --network none $images/hello:main\$" "run line" \
		'^Hello from the demo app, built by s2i-agent from your git push!$' "the image's answer" \
		'^==> dashboard:  http://127\.0\.0\.1:[0-9]*/$' "dashboard URL" \
		'^==> build log:  http://127\.0\.0\.1:[0-9]*/builds/1 ' "build log URL" \
		'^==> no terminal: stopping the agent now' "waited for a terminal" \
		'^==> agent stopped' "agent not stopped"
	[ ! -e "$tmp/tree/build/demo/agent.pid" ] || fail "agent pid file left"
	pgrep -f "serve -c $tmp/tree/build/demo/agent.conf" >/dev/null && fail "agent still running"
	[ -z "$(docker ps -aq --filter "ancestor=$images/builder:latest")" ] || fail "containers left"
	[ -z "$(docker ps -aq --filter "ancestor=$images/hello:main")" ] || fail "app containers left"
	docker image inspect "$images/hello:main" >/dev/null 2>&1 || fail "the app image is gone"
}

run "$tmp/out1" || { cat "$tmp/out1"; fail "make demo failed"; }
cat "$tmp/out1"
check "$tmp/out1"
sha1=$(docker image inspect -f '{{index .Config.Labels "io.openshift.s2i.build.commit.id"}}' "$images/hello:main")
[ "$sha1" = "$(git -C "$tmp/tree/build/demo/hello.git" rev-parse refs/heads/main)" ] || fail "image label: '$sha1'"

# twice in a row: a fresh repository, build 1 again, the old app image replaced
run "$tmp/out2" || { cat "$tmp/out2"; fail "second make demo failed"; }
check "$tmp/out2"
[ "$(docker images -q --filter "reference=$images/*" | sort -u | wc -l)" -eq 3 ] ||
	fail "images after two runs: $(docker images --filter "reference=$images/*")"

# demo-clean removes it all
(cd "$tmp/tree" && DEMO_IMAGES=$images make demo-clean >/dev/null 2>&1) || fail "make demo-clean"
[ ! -e "$tmp/tree/build/demo" ] || fail "build/demo left"
[ -z "$(docker images -q --filter "reference=$images/*")" ] || fail "images left after demo-clean"
echo "demo: ok"
