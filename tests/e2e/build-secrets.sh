#!/usr/bin/env bash
# --build-env and --build-secret: assemble sees the variable and /run/secrets/NAME (owned
# by the assemble user, mode 0400); the committed image has neither: not in its config
# (Env, ContainerConfig), its history, nor any byte of any layer of `docker save`; the
# build's output never shows them, and no volume of the build is left.
TEST=build-secrets
source "$TESTS_DIR/lib/s2i.sh"

builder=$(s2i_name builder)
s2i_builder "$builder"
env_val="env-value-$RANDOM$RANDOM-$$"
sec_val="secret-bytes-$RANDOM$RANDOM-$$"
printf '%s\n' "$sec_val" >"$S2I_TMP/token"
chmod 600 "$S2I_TMP/token"
src=$S2I_TMP/app
s2i_git_source "$src" "secret-app"
mkdir -p "$src/.s2i/bin"
# the source's assemble says what it sees without printing a value, then runs the builder's
cat >"$src/.s2i/bin/assemble" <<'SH'
#!/bin/sh
set -e
f=/run/secrets/token
echo "assemble: secret $(stat -c '%u %a' "$f") $(sha256sum <"$f" | cut -c1-16)"
echo "assemble: env $(printf '%s' "$BUILD_TOKEN" | sha256sum | cut -c1-16)"
echo "assemble: quote $(printf '%s' "$TRICKY" | sha256sum | cut -c1-16)"
exec /usr/libexec/s2i/assemble
SH
chmod 755 "$src/.s2i/bin/assemble"
s2i_commit_all "$src" "assemble with secrets"
tricky="it's \$HOME \"and\" \`x\`; a'b"
tag=$(s2i_name app):v1
s2i_build --network none --build-env "BUILD_TOKEN=$env_val" --build-env "TRICKY=$tricky" \
	--build-secret "token:$S2I_TMP/token" -e PLAIN=kept "$src" "$builder" "$tag"
s2i_expect_ok "build with secrets"
want_sec=$(printf '%s\n' "$sec_val" | sha256sum | cut -c1-16)
want_env=$(printf '%s' "$env_val" | sha256sum | cut -c1-16)
want_tricky=$(printf '%s' "$tricky" | sha256sum | cut -c1-16)
s2i_expect_out "assemble: secret 1001 400 $want_sec"
s2i_expect_out "assemble: env $want_env"
s2i_expect_out "assemble: quote $want_tricky"
s2i_expect_out "assemble: build number 1"
for v in "$env_val" "$sec_val"; do
	grep -qF -- "$v" "$S2I_TMP/out" "$S2I_TMP/err" && { s2i_show; fail "the build's output shows a value"; }
done

# the image: config, history, every layer
eng image inspect "$tag" >"$S2I_TMP/inspect.json" || fail "inspect"
eng history --no-trunc "$tag" >"$S2I_TMP/history.txt" || fail "history"
grep -q 'PLAIN=kept' "$S2I_TMP/inspect.json" || fail "-e PLAIN is not in the image's Env"
mkdir -p "$S2I_TMP/save"
# to standard output: the CLI of an engine in its own root (tests/lib/sidengine.sh)
# cannot see this test's files
eng save "$tag" >"$S2I_TMP/image.tar" || fail "docker save"
tar -xf "$S2I_TMP/image.tar" -C "$S2I_TMP/save" || fail "untar the save"
nlayers=0
# every file of the save that is a tar is a layer: NAME/layer.tar or HASH.tar in the
# docker format, blobs/sha256/DIGEST in the OCI layout Docker 25+ writes
for l in $(find "$S2I_TMP/save" -type f); do
	tar -tf "$l" >/dev/null 2>&1 || continue
	mkdir -p "$l.d" && tar -xf "$l" -C "$l.d" 2>/dev/null
	nlayers=$((nlayers + 1))
done
[ "$nlayers" -ge 1 ] || fail "no layer in the save"
for v in "$env_val" "$sec_val" "BUILD_TOKEN" "TRICKY="; do
	grep -qF -- "$v" "$S2I_TMP/inspect.json" && fail "'$v' is in the image config"
	grep -qF -- "$v" "$S2I_TMP/history.txt" && fail "'$v' is in the image history"
done
# the values (the names are in the source's assemble, which the image holds)
for v in "$env_val" "$sec_val"; do
	grep -rqaF -- "$v" "$S2I_TMP/save" && fail "'$v' is in the saved image: $(grep -rlaF -- "$v" "$S2I_TMP/save")"
done
# the check can see: the -e value is in the saved config
grep -rqaF -- "PLAIN=kept" "$S2I_TMP/save" || fail "the search of the save finds nothing at all"
# the source's assemble ran, copied the app: the image works, and has no /run/secrets/token
out=$(s2i_run "$tag") || fail "the image does not run"
grep -q "secret-app" <<<"$out" || fail "the app says: $out"
eng run --rm --network none --entrypoint /bin/sh "$tag" -c 'test ! -e /run/secrets/token' ||
	fail "/run/secrets/token is in the image"
s2i_no_leftovers
[ -z "$(eng volume ls -q --filter name=s2i-agent-secrets)" ] || fail "a secrets volume is left: $(eng volume ls -q --filter name=s2i-agent-secrets)"

# a secret only: no sh in front of assemble; bad names and missing files are bad usage
s2i_build --network none --build-secret "token:$S2I_TMP/token" "$src" "$builder"
s2i_expect_ok "secret without env"
s2i_expect_out "assemble: secret 1001 400 $want_sec"
for bad in "token" ".dot:$S2I_TMP/token" "a/b:$S2I_TMP/token" "token:$S2I_TMP/missing" "token:$S2I_TMP"; do
	s2i_build --build-secret "$bad" "$src" "$builder"
	[ "$rc" = 2 ] || { s2i_show; fail "--build-secret '$bad' exited $rc, want 2"; }
done
s2i_build --build-env "=x" "$src" "$builder"
[ "$rc" = 2 ] || fail "--build-env =x exited $rc"
s2i_build --build-env "1A=x" "$src" "$builder"
[ "$rc" = 2 ] || fail "--build-env 1A=x exited $rc"
echo ok
