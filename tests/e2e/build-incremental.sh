#!/usr/bin/env bash
# --incremental: save-artifacts runs in the previous image of the tag, its tar lands in
# <dest>/artifacts owned by the assemble user, in the same upload as the source; a
# failing save-artifacts warns and builds clean; no previous image builds clean.
TEST=build-incremental
source "$TESTS_DIR/lib/s2i.sh"

builder=$(s2i_name builder)
s2i_builder "$builder"
src=$S2I_TMP/app
s2i_git_source "$src" "one"
tag=$(s2i_name app):latest

# first build: no previous image, clean
s2i_build --network none --incremental "$src" "$builder" "$tag"
s2i_expect_ok "first incremental build"
s2i_expect_out "assemble: build number 1"
grep -q "restoring artifacts" "$S2I_TMP/out" && fail "artifacts restored without a previous image"

# second build: the deps/count of the first image is restored (binary-safe tar through attach)
head -c 300000 /dev/urandom >"$S2I_TMP/blob"
s2i_rebuild_incremental "$src" "$builder" "$tag" two 2
[ "$(s2i_run "$tag" cat deps/count)" = 2 ] || fail "deps/count in the image"

# binary artifacts survive byte for byte (save-artifacts' stdout is read through attach,
# not the log driver): the third build brings deps/blob.bin in the source, the fourth,
# without it in the source, gets it back from the third image
mkdir -p "$src/deps"
cp "$S2I_TMP/blob" "$src/deps/blob.bin"
s2i_commit_all "$src" "blob in deps"
s2i_build --network none --incremental "$src" "$builder" "$tag"
s2i_expect_ok "third build"
git -C "$src" rm -q -r deps
s2i_commit_all "$src" "no blob in the source"
s2i_build --network none --incremental "$src" "$builder" "$tag"
s2i_expect_ok "fourth build"
s2i_expect_out "assemble: build number 4"
want=$(md5sum <"$S2I_TMP/blob" | cut -d' ' -f1)
got=$(s2i_run "$tag" md5sum deps/blob.bin | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "binary artifact changed: $got != $want"
owner=$(s2i_run "$tag" stat -c %u deps/count)
[ "$owner" = 1001 ] || fail "artifacts owned by $owner"

# --rm: the previous image is removed once the new one is built (s2i's meaning)
prev=$(eng image inspect -f '{{.Id}}' "$tag")
s2i_build --network none --incremental --rm "$src" "$builder" "$tag"
s2i_expect_ok "incremental build with --rm"
s2i_expect_out "assemble: build number 5"
eng image inspect "$prev" >/dev/null 2>&1 && fail "--rm kept the previous image $prev"
[ "$(s2i_run "$tag" md5sum deps/blob.bin | cut -d' ' -f1)" = "$want" ] || fail "blob lost after --rm"

# one upload: the source and save-artifacts' tar go into the builder container in one
# tar (one PUT of an archive; the scripts are the image's), as the trace of every Engine
# API call of the build shows (tests/bench/apitrace.py)
trace=$S2I_TMP/trace.sock
upstream=${S2I_ENGINE_URL:-unix://$ENGINE_SOCK}
python3 "$TESTS_DIR/bench/apitrace.py" "$trace" "${upstream#unix://}" "$S2I_TMP/trace.out" &
trace_pid=$!
S2I_PIDS+=("$trace_pid")
wait_for 10 test -S "$trace" || fail "apitrace did not start"
S2I_ENGINE_URL=unix://$trace s2i_build --network none --incremental "$src" "$builder" "$tag"
kill -TERM "$trace_pid"
wait "$trace_pid"
s2i_expect_ok "traced incremental build"
s2i_expect_out "assemble: build number 6"
s2i_expect_out "restored [1-9][0-9]* artifact entries"
[ "$(s2i_run "$tag" md5sum deps/blob.bin | cut -d' ' -f1)" = "$want" ] || fail "blob lost in the traced build"
puts=$(grep -c 'PUT /containers/ID/archive' "$S2I_TMP/trace.out")
[ "$puts" = 1 ] || { cat "$S2I_TMP/trace.out"; fail "$puts uploads into containers, not one"; }

# a failing save-artifacts: warning and a clean build
scripts=$S2I_TMP/broken
s2i_write_scripts "$scripts"
printf '#!/bin/sh\necho "save-artifacts: cannot" >&2\nexit 5\n' >"$scripts/save-artifacts"
broken=$(s2i_name broken)
s2i_builder "$broken" --scripts "$scripts"
tag2=$(s2i_name app2):latest
s2i_build --network none "$src" "$broken" "$tag2"
s2i_expect_ok "first build with the broken builder"
s2i_build --network none --incremental "$src" "$broken" "$tag2"
s2i_expect_ok "incremental build with a failing save-artifacts"
s2i_expect_out "warning: clean build will be performed"
s2i_expect_out "assemble: build number 1"
grep -q "restoring artifacts" "$S2I_TMP/out" && fail "restored after a failing save-artifacts"
s2i_no_leftovers

# a save-artifacts whose tar tries to escape the artifacts directory: refused, clean build
python3 - "$scripts/evil.tar" <<'PY'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w", format=tarfile.USTAR_FORMAT) as t:
    for name in ("deps/ok", "../../etc/evil"):
        data = b"evil\n"
        info = tarfile.TarInfo(name); info.size = len(data)
        t.addfile(info, io.BytesIO(data))
PY
printf '#!/bin/sh
cat /usr/libexec/s2i/evil.tar
' >"$scripts/save-artifacts"
evil=$(s2i_name evil)
s2i_builder "$evil" --scripts "$scripts"
tag3=$(s2i_name app3):latest
s2i_build --network none "$src" "$evil" "$tag3"
s2i_expect_ok "first build with the evil builder"
s2i_build --network none --incremental "$src" "$evil" "$tag3"
s2i_expect_ok "incremental build with an escaping tar"
s2i_expect_out "warning: clean build will be performed"
s2i_expect_out "assemble: build number 1"
s2i_no_leftovers
s2i_run "$tag3" ls /etc/evil 2>/dev/null && fail "the escaping entry was extracted"

# --incremental-pull-policy never with no previous image: clean build
tag4=$(s2i_name app4):latest
s2i_build --network none --incremental --incremental-pull-policy never "$src" "$builder" "$tag4"
s2i_expect_ok "never policy, no previous image"
s2i_expect_out "assemble: build number 1"
echo ok
