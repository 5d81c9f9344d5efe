#!/usr/bin/env bash
# Builds that must not produce an image: a failing assemble (exit 1, its output shown,
# no image, no container left), --allowed-uids refusals, usage errors (exit 2), and
# Ctrl-C during assemble (every container removed).
TEST=build-fail
source "$TESTS_DIR/lib/s2i.sh"

scripts=$S2I_TMP/scripts
s2i_write_scripts "$scripts"
cat >"$scripts/assemble" <<'SH'
#!/bin/sh
echo "assemble: compiling"
if [ -f /tmp/src/sleep ]; then echo "assemble: sleeping"; sleep 300; fi
echo "assemble: error: the build is broken" >&2
exit 3
SH
builder=$(s2i_name builder)
s2i_builder "$builder" --scripts "$scripts"
src=$S2I_TMP/app
s2i_git_source "$src" "x"
tag=$(s2i_name app):latest

s2i_build --network none "$src" "$builder" "$tag"
[ "$rc" = 1 ] || { s2i_show; fail "failing assemble exited $rc"; }
s2i_expect_out "assemble: compiling"
s2i_expect_out "assemble: error: the build is broken"
grep -q "assemble exited with code 3" "$S2I_TMP/err" || { s2i_show; fail "no reason on stderr"; }
eng image inspect "$tag" >/dev/null 2>&1 && fail "an image was committed"
s2i_no_leftovers

# --allowed-uids: a root builder, a builder whose user is a name, an out-of-range uid
root_builder=$(s2i_name root)
s2i_builder "$root_builder" --user ""
named_builder=$(s2i_name named)
s2i_builder "$named_builder" --user app
ok_builder=$(s2i_name ok)
s2i_builder "$ok_builder"
s2i_build --network none -u 1- "$src" "$root_builder" "$tag"
[ "$rc" = 1 ] || fail "root builder allowed ($rc)"
grep -q "not in the allowed uid ranges" "$S2I_TMP/err" || { s2i_show; fail "root refusal message"; }
s2i_build --network none --allowed-uids 1- "$src" "$named_builder" "$tag"
[ "$rc" = 1 ] || fail "named builder allowed ($rc)"
grep -q "not a numeric uid" "$S2I_TMP/err" || { s2i_show; fail "name refusal message"; }
s2i_build --network none -u 2000-3000 "$src" "$ok_builder" "$tag"
[ "$rc" = 1 ] || fail "uid 1001 allowed in 2000-3000 ($rc)"
s2i_build --network none -u 1- --assemble-user root "$src" "$ok_builder" "$tag"
[ "$rc" = 1 ] || fail "--assemble-user root allowed ($rc)"
grep -q -- "--> running" "$S2I_TMP/out" && fail "a refused build ran assemble"
# the io.openshift.s2i.assemble-user label names the user assemble runs as: a builder
# whose label says uid 0 is refused, although its image USER (1001) is allowed
label_root=$(s2i_name labelroot)
s2i_builder "$label_root" --label "io.openshift.s2i.assemble-user=0"
s2i_build --network none -u 1- "$src" "$label_root" "$tag"
[ "$rc" = 1 ] || { s2i_show; fail "assemble-user label 0 allowed by --allowed-uids 1- ($rc)"; }
grep -q "not in the allowed uid ranges" "$S2I_TMP/err" || { s2i_show; fail "assemble-user label refusal message"; }
grep -q -- "--> running" "$S2I_TMP/out" && fail "a builder labelled to assemble as root ran assemble"
eng image inspect "$tag" >/dev/null 2>&1 && fail "a refused build committed an image"
s2i_no_leftovers
# the allowed case runs (assemble fails on purpose here, after the check)
s2i_build --network none -u 1000-2000,3000 "$src" "$ok_builder" "$(s2i_name allowed)"
[ "$rc" = 0 ] || { s2i_show; fail "uid 1001 refused in 1000-2000"; }

# an engine that does not answer: exit 1 with the reason
# (-U on an engine other than the host's default, as s2i_build passes it there)
if s2i_other_engine; then
	S2I_ENGINE_URL=unix://$S2I_TMP/no-engine.sock s2i_build --network none "$src" "$builder" "$tag"
else
	DOCKER_HOST=unix://$S2I_TMP/no-engine.sock s2i_build --network none "$src" "$builder" "$tag"
fi
[ "$rc" = 1 ] || { s2i_show; fail "a missing engine gave exit $rc"; }
grep -q "no-engine.sock" "$S2I_TMP/err" || { s2i_show; fail "the engine error does not name the socket"; }

# usage errors: exit 2 with a message
for args in "" "only-source" "a b c d" "--pull-policy sometimes a b" "--nonsense a b" \
	"-u abc a b" "-e NOEQUALS a b" "--push a b" "--incremental a b"; do
	# shellcheck disable=SC2086
	"$S2I_AGENT" build $args >"$S2I_TMP/out" 2>"$S2I_TMP/err"
	rc=$?
	[ "$rc" = 2 ] || fail "'build $args' exited $rc, want 2"
	[ -s "$S2I_TMP/err" ] || fail "'build $args' printed no message"
done

# Ctrl-C while assemble sleeps: the agent exits 1 and removes its containers
touch "$src/sleep"
s2i_commit_all "$src" "sleep"
S2I_AGENT_BUILD_ID=$S2I_ID-int "$S2I_AGENT" build ${S2I_ENGINE_URL:+-U "$S2I_ENGINE_URL"} --network none \
	"$src" "$builder" "$tag" \
	>"$S2I_TMP/out" 2>"$S2I_TMP/err" &
pid=$!
wait_grep "assemble: sleeping" "$S2I_TMP/out" 10 || { kill $pid; s2i_show; fail "assemble did not start"; }
[ -n "$(eng ps -q --filter "label=io.s2i-agent.build=$S2I_ID-int")" ] || fail "no running container"
kill -INT $pid
wait_gone $pid 15 || { kill -9 $pid; fail "the agent did not stop after SIGINT"; }
wait $pid
rc=$?
[ "$rc" = 1 ] || { s2i_show; fail "interrupted build exited $rc"; }
grep -q "canceled" "$S2I_TMP/err" || { s2i_show; fail "no cancel message"; }
s2i_no_leftovers "$S2I_ID-int"
eng image inspect "$tag" >/dev/null 2>&1 && fail "an image was committed after SIGINT"

# a --timeout fails the build the same way
s2i_build --network none --timeout 2s "$src" "$builder" "$tag"
[ "$rc" = 1 ] || { s2i_show; fail "timed out build exited $rc"; }
grep -q "timed out" "$S2I_TMP/err" || { s2i_show; fail "no timeout message"; }
s2i_no_leftovers
echo ok
