#!/usr/bin/env bash
# `s2i-agent build` prints its result and returns without waiting for the removal of its
# containers (s2i_cleanup_detach): a process of its own removes them after, in a session
# of its own, and holds none of the caller's descriptors. The engine is a unix-socket
# proxy this test owns (tests/lib/sockproxy.py) that freezes at the first container
# removal (DELETE /containers/ID). The build must return at once with the image id as
# its last line (the old CLI waited S2I_CLEANUP_TIMEOUT, 8 s, then warned); the container
# is still there while the proxy is frozen, a kill of the caller's process group does not
# stop its removal, and once the proxy thaws the container goes. A failed build too.
TEST=cli-outcome-first
source "$TESTS_DIR/lib/s2i.sh"
source "$TESTS_DIR/lib/poll.sh"

PROXY_SOCK=$S2I_TMP/engine.sock
PROXY_PID=
of_cleanup() {
	if [ -n "$PROXY_PID" ]; then
		kill -USR1 "$PROXY_PID" 2>/dev/null
		kill -TERM "$PROXY_PID" 2>/dev/null
		wait "$PROXY_PID" 2>/dev/null
	fi
	docker ps -aq --filter "label=io.s2i-agent.build=$S2I_ID-1" --filter "label=io.s2i-agent.build=$S2I_ID-2" |
		xargs -r docker rm -f >/dev/null 2>&1
	s2i_cleanup
}
trap of_cleanup EXIT
[ "$S2I_TEST_ENGINE" = docker ] || skip "the proxy stands in front of the host's dockerd only"

proxy_start() {
	rm -f "$S2I_TMP/proxy.ready" "$S2I_TMP/proxy.frozen"
	python3 "$TESTS_DIR/lib/sockproxy.py" "$PROXY_SOCK" "$ENGINE_SOCK" --ready "$S2I_TMP/proxy.ready" \
		--freeze-on '^DELETE /v[0-9.]+/containers/' --frozen "$S2I_TMP/proxy.frozen" \
		2>>"$S2I_TMP/proxy.log" &
	PROXY_PID=$!
	wait_for_pid "$PROXY_PID" 10 test -s "$S2I_TMP/proxy.ready" || fail "the engine proxy did not start"
}
proxy_thaw() { kill -USR1 "$PROXY_PID"; }	# what was held goes through
proxy_stop() {
	kill -TERM "$PROXY_PID"
	wait "$PROXY_PID" 2>/dev/null
	PROXY_PID=
}

builder=$(s2i_name builder)
s2i_builder "$builder"
src=$S2I_TMP/app
s2i_git_source "$src" "first"
tag=$(s2i_name app):v1

# a build, its process group killed once it returned (as a test runner or a closed
# terminal would), with a lock descriptor of its caller open
proxy_start
exec 9>"$S2I_TMP/caller.lock"
flock 9
t0=$(date +%s.%N)
S2I_AGENT_BUILD_ID=$S2I_ID-1 timeout 60 setsid -w bash -c \
	'"$0" build -U "$1" --network none --pull-policy never "$2" "$3" "$4" >"$5" 2>"$6"; echo $? >"$7"; kill -KILL -$$' \
	"$S2I_AGENT" "unix://$PROXY_SOCK" "$src" "$builder" "$tag" "$S2I_TMP/out" "$S2I_TMP/err" "$S2I_TMP/rc"
t1=$(date +%s.%N)
exec 9>&-
secs=$(echo "$t1 - $t0" | bc)
cat "$S2I_TMP/out" "$S2I_TMP/err"
[ "$(cat "$S2I_TMP/rc")" = 0 ] || fail "the build exited $(cat "$S2I_TMP/rc")"
image_id=$(tail -n 1 "$S2I_TMP/out")
[[ $image_id == sha256:* ]] || fail "the last line is not an image id: $image_id"
test -e "$S2I_TMP/proxy.frozen" || fail "the build never asked for its container's removal"
grep -q 'did not answer' "$S2I_TMP/out" "$S2I_TMP/err" && fail "the build waited for its cleanup to give up"
(($(echo "$secs < 6" | bc))) || fail "the build took ${secs}s: it waited for the frozen removal"
[ -n "$(docker ps -aq --filter "label=io.s2i-agent.build=$S2I_ID-1")" ] ||
	fail "the container went although the engine was frozen"
# the caller's lock is free although the cleanup still runs
flock -n "$S2I_TMP/caller.lock" true || fail "the cleanup holds its caller's lock"
proxy_thaw
# SIGKILL of the caller's process group did not reach it: the container goes now
s2i_no_leftovers "$S2I_ID-1"
proxy_stop
echo "build returned in ${secs}s, its container removed after"

# a failed build: the error is the last line of stderr, the container goes after
proxy_start
mkdir -p "$src/.s2i/bin"
printf '#!/bin/sh\necho "assemble fails"\nexit 3\n' >"$src/.s2i/bin/assemble"
chmod 755 "$src/.s2i/bin/assemble"
s2i_commit_all "$src" "failing assemble"
t0=$(date +%s.%N)
S2I_AGENT_BUILD_ID=$S2I_ID-2 timeout 60 "$S2I_AGENT" build -U "unix://$PROXY_SOCK" --network none \
	--pull-policy never "$src" "$builder" "$tag" >"$S2I_TMP/out" 2>"$S2I_TMP/err"
rc=$?
t1=$(date +%s.%N)
secs=$(echo "$t1 - $t0" | bc)
[ "$rc" = 1 ] || { cat "$S2I_TMP/out" "$S2I_TMP/err"; fail "the failing build exited $rc"; }
tail -n 1 "$S2I_TMP/err" | grep -q '^s2i-agent build: build failed: assemble exited with code 3' ||
	fail "the failing build's last error line: $(tail -n 1 "$S2I_TMP/err")"
test -e "$S2I_TMP/proxy.frozen" || fail "the failed build never asked for its container's removal"
(($(echo "$secs < 6" | bc))) || fail "the failed build took ${secs}s: it waited for the frozen removal"
proxy_thaw
s2i_no_leftovers "$S2I_ID-2"
proxy_stop
echo "failed build returned in ${secs}s, its container removed after"
echo ok
