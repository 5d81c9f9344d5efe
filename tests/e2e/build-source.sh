#!/usr/bin/env bash
# Where the source comes from and what of it is built: .s2i/bin scripts override the
# image's, --context-dir, --exclude, a bare repository, a file:// URL with --ref.
TEST=build-source
source "$TESTS_DIR/lib/s2i.sh"

builder=$(s2i_name builder)
s2i_builder "$builder"
src=$S2I_TMP/app
s2i_git_source "$src" "top"
mkdir -p "$src/sub/.s2i/bin" "$src/sub/logs" "$src/.s2i/bin"
printf 'echo "answer: sub"\n' >"$src/sub/app.sh"
printf 'secret\n' >"$src/sub/logs/debug.log"
printf 'kept\n' >"$src/sub/notes.txt"
cat >"$src/.s2i/bin/assemble" <<'SH'
#!/bin/sh
echo "source assemble here"
cp -a /tmp/src/. ./
SH
cat >"$src/.s2i/bin/run" <<'SH'
#!/bin/sh
echo "source run script"
exec sh ./app.sh
SH
chmod 755 "$src/.s2i/bin/assemble" "$src/.s2i/bin/run"
s2i_commit_all "$src" "scripts and a subdirectory"

# .s2i/bin overrides the image's scripts; they go to <dest>/scripts and run from there
tag=$(s2i_name app):latest
s2i_build --network none "$src" "$builder" "$tag"
s2i_expect_ok ".s2i/bin build"
s2i_expect_out "source assemble here"
[ "$(eng image inspect -f '{{json .Config.Cmd}}' "$tag")" = '["/tmp/scripts/run"]' ] || fail "Cmd of .s2i/bin run"
out=$(s2i_run "$tag")
[ "$out" = "$(printf 'source run script\nanswer: top')" ] || fail "app printed '$out'"

# --context-dir: the subdirectory is the source (its own .s2i/bin is empty: image scripts)
tag2=$(s2i_name ctx):latest
s2i_build --network none --context-dir sub --exclude '(^|/)logs(/|$)' "$src" "$builder" "$tag2"
s2i_expect_ok "--context-dir"
[ "$(s2i_run "$tag2")" = "answer: sub" ] || fail "context dir app"
[ "$(s2i_label "$tag2" io.openshift.s2i.build.source-context-dir)" = sub ] || fail "source-context-dir label"
s2i_run "$tag2" ls /opt/app-root/src/logs 2>/dev/null && fail "--exclude did not leave logs/ out"
[ "$(s2i_run "$tag2" cat /opt/app-root/src/notes.txt)" = kept ] || fail "notes.txt missing"
s2i_run "$tag2" ls -a /opt/app-root/src | grep -qx .git && fail ".git was uploaded"

# a bare repository, and a file:// URL with --ref (a branch that is not checked out)
git -C "$src" checkout -q -b feature
printf 'echo "answer: feature"\n' >"$src/app.sh"
s2i_commit_all "$src" "feature work"
feature_sha=$(git -C "$src" rev-parse HEAD)
git -C "$src" checkout -q main
git clone -q --bare "$src" "$S2I_TMP/bare.git"
tag3=$(s2i_name bare):latest
s2i_build --network none "$S2I_TMP/bare.git" "$builder" "$tag3"
s2i_expect_ok "bare repository"
[ "$(s2i_run "$tag3")" = "$(printf 'source run script\nanswer: top')" ] || fail "bare repo app"
[ "$(s2i_label "$tag3" io.openshift.s2i.build.commit.id)" = "$(git -C "$src" rev-parse main)" ] || fail "bare commit id"

tag4=$(s2i_name url):latest
s2i_build --network none --ref feature "file://$src" "$builder" "$tag4"
s2i_expect_ok "file:// URL with --ref"
[ "$(s2i_run "$tag4")" = "$(printf 'source run script\nanswer: feature')" ] || fail "url app"
[ "$(s2i_label "$tag4" io.openshift.s2i.build.commit.id)" = "$feature_sha" ] || fail "url commit id"
[ "$(s2i_label "$tag4" io.openshift.s2i.build.commit.ref)" = feature ] || fail "url commit ref"
[ "$(s2i_label "$tag4" io.openshift.s2i.build.commit.message)" = "feature work" ] || fail "url message"
[ "$(s2i_label "$tag4" io.openshift.s2i.build.source-location)" = "file://$src" ] || fail "url location"

# a sha as --ref in a work tree
tag5=$(s2i_name sha):latest
s2i_build --network none -r "$feature_sha" "$src" "$builder" "$tag5"
s2i_expect_ok "--ref sha"
[ "$(s2i_label "$tag5" io.openshift.s2i.build.commit.id)" = "$feature_sha" ] || fail "sha commit id"
s2i_no_leftovers
echo ok
