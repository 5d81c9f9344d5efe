#!/usr/bin/env bash
# --as-dockerfile PATH writes a Dockerfile and its context as s2i does: `docker build` of
# it gives an image that runs, with the same files as the image built from s2i's own
# --as-dockerfile output (s2i also copies the source's .git, which its builds leave out:
# left out of the comparison), our labels and environment (quoted: $ stays literal), and
# exec-form RUN/CMD. Options it cannot express are bad usage. Skips (77) without s2i.
TEST=parity-dockerfile
source "$TESTS_DIR/lib/parity.sh"

builder=$(s2i_name builder)
s2i_builder "$builder"
src=$S2I_TMP/app
s2i_git_source "$src" "from-dockerfile"
mkdir -p "$src/.s2i" "$src/lib"
printf 'APP_MODE=from-environment-file\n' >"$src/.s2i/environment"
printf 'lib\n' >"$src/lib/mod.txt"
s2i_commit_all "$src" "dockerfile source"

HOME=$PA_HOME "$PA_S2I" build --loglevel 0 -e 'GREETING=hi $HOME' "$src" "$builder" \
	--as-dockerfile "$S2I_TMP/s2i/Dockerfile" >"$S2I_TMP/s2i.out" 2>&1 ||
	{ cat "$S2I_TMP/s2i.out"; fail "s2i --as-dockerfile failed"; }
s2i_build -e 'GREETING=hi $HOME' "$src" "$builder" --as-dockerfile "$S2I_TMP/agent/Dockerfile"
[ "$rc" = 0 ] || { s2i_show; fail "--as-dockerfile exited $rc"; }
[ "$(tail -n 1 "$S2I_TMP/out")" = "$S2I_TMP/agent/Dockerfile" ] || { s2i_show; fail "last line is not the Dockerfile"; }
[ -f "$S2I_TMP/agent/upload/src/app.sh" ] || fail "no upload/src/app.sh"
[ -e "$S2I_TMP/agent/upload/src/.git" ] && fail "the context has .git"
grep -qx 'RUN \["/usr/libexec/s2i/assemble"\]' "$S2I_TMP/agent/Dockerfile" || fail "no exec-form RUN: $(cat "$S2I_TMP/agent/Dockerfile")"
grep -qx 'COPY --chown=1001:0 upload/src /tmp/src' "$S2I_TMP/agent/Dockerfile" || fail "no COPY of the source"
s2i_no_leftovers

a=$(s2i_name df-s2i):latest b=$(s2i_name df-agent):latest
S2I_IMAGES+=("$a" "$b")
for x in s2i agent; do
	t=$a; [ $x = agent ] && t=$b
	DOCKER_BUILDKIT=0 docker build -q --network none -t "$t" "$S2I_TMP/$x" >"$S2I_TMP/$x.build" 2>&1 ||
		{ cat "$S2I_TMP/$x.build"; fail "docker build of the $x Dockerfile"; }
	if s2i_podman; then docker save "$t" | eng load >/dev/null || fail "load $t"; fi
done
out=$(s2i_run "$b") || fail "the image does not run"
grep -q "from-dockerfile" <<<"$out" || fail "the app says: $out"
pa_files "$a" /opt/app-root/src /tmp | grep -v '/\.git' >"$S2I_TMP/s2i.files"
pa_files "$b" /opt/app-root/src /tmp | grep -v '/\.git' >"$S2I_TMP/agent.files"
[ -s "$S2I_TMP/agent.files" ] || fail "no files listed"
diff -u "$S2I_TMP/s2i.files" "$S2I_TMP/agent.files" || fail "the files differ from s2i's Dockerfile's"
env=$(eng image inspect -f '{{json .Config.Env}}' "$b")
grep -qF 'GREETING=hi $HOME' <<<"$env" || fail "-e was expanded or lost: $env"
grep -qF 'APP_MODE=from-environment-file' <<<"$env" || fail ".s2i/environment is not in Env: $env"
[ "$(eng image inspect -f '{{json .Config.Cmd}}' "$b")" = '["/usr/libexec/s2i/run"]' ] || fail "Cmd"
[ "$(eng image inspect -f '{{index .Config.Labels "io.openshift.s2i.build.commit.message"}}' "$b")" = "dockerfile source" ] ||
	fail "no commit label"

for bad in --incremental --push "--runtime-image x" "--build-secret a:$S2I_TMP/out"; do
	# shellcheck disable=SC2086
	s2i_build $bad "$src" "$builder" tag:x --as-dockerfile "$S2I_TMP/bad/Dockerfile"
	[ "$rc" != 0 ] || fail "--as-dockerfile with $bad succeeded"
done
echo ok
