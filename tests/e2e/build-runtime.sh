#!/usr/bin/env bash
# Two-phase build (--runtime-image): assemble runs in the builder and is not committed,
# the artifacts are copied into the runtime image's WORKDIR, assemble-runtime runs there,
# and the image is committed with the runtime image's USER and the run script.
TEST=build-runtime
source "$TESTS_DIR/lib/s2i.sh"

scripts=$S2I_TMP/scripts
s2i_write_scripts "$scripts"
cat >"$scripts/assemble" <<'SH'
#!/bin/sh
set -e
echo "assemble: building the app"
mkdir -p /opt/app-root/out/lib
sed 's/answer:/answer (built):/' /tmp/src/app.sh >/opt/app-root/out/app.sh
echo "library" >/opt/app-root/out/lib/util.txt
echo "not copied" >/opt/app-root/out/junk.txt
SH
builder=$(s2i_name builder)
s2i_builder "$builder" --scripts "$scripts"

rscripts=$S2I_TMP/rscripts
mkdir -p "$rscripts"
cat >"$rscripts/assemble-runtime" <<'SH'
#!/bin/sh
echo "assemble-runtime: uid $(id -u) in $(pwd)"
ls -R . | sort | tr '\n' ' '; echo
echo "runtime-assembled" > marker.txt
SH
cat >"$rscripts/run" <<'SH'
#!/bin/sh
exec sh ./app.sh
SH
chmod 755 "$rscripts"/*
runtime=$(s2i_name runtime)
s2i_builder "$runtime" --scripts "$rscripts" --user 2002 --workdir /srv/app \
	--label "io.openshift.s2i.assemble-input-files=/opt/app-root/out/app.sh:.;/opt/app-root/out/lib:."
src=$S2I_TMP/app
s2i_git_source "$src" "runtime"

# mappings from the runtime image's label
tag=$(s2i_name app):latest
s2i_build --network none --runtime-image "$runtime" "$src" "$builder" "$tag"
s2i_expect_ok "runtime build from the label"
s2i_expect_out "assemble: building the app"
s2i_expect_out "assemble-runtime: uid 2002 in /srv/app"
s2i_no_leftovers
[ "$(s2i_run "$tag")" = "answer (built): runtime" ] || fail "runtime app printed '$(s2i_run "$tag")'"
[ "$(eng image inspect -f '{{.Config.User}}' "$tag")" = 2002 ] || fail "User is not the runtime's"
[ "$(eng image inspect -f '{{.Config.WorkingDir}}' "$tag")" = /srv/app ] || fail "WorkingDir"
[ "$(eng image inspect -f '{{json .Config.Cmd}}' "$tag")" = '["/usr/libexec/s2i/run"]' ] || fail "Cmd"
[ "$(s2i_run "$tag" cat marker.txt)" = runtime-assembled ] || fail "assemble-runtime did not run"
[ "$(s2i_run "$tag" cat lib/util.txt)" = library ] || fail "lib/util.txt not copied"
s2i_run "$tag" ls junk.txt 2>/dev/null && fail "junk.txt copied"
s2i_run "$tag" ls /opt/app-root/out 2>/dev/null && fail "the builder's files are in the runtime image"
[ "$(s2i_label "$tag" io.openshift.s2i.build.image)" = "docker.io/$builder:latest" ] || fail "build.image label"
[ -n "$(s2i_label "$tag" io.openshift.s2i.build.commit.id)" ] || fail "commit label"
[ -n "$(s2i_label "$tag" io.openshift.s2i.assemble-input-files)" ] || fail "runtime labels not kept"

# explicit -a mappings with a subdirectory, and --assemble-runtime-user
tag2=$(s2i_name app2):latest
s2i_build --network none --runtime-image "$runtime" -a /opt/app-root/out/app.sh:. \
	--runtime-artifact /opt/app-root/out/lib:deps --assemble-runtime-user 2003 "$src" "$builder" "$tag2"
s2i_expect_ok "runtime build with -a"
s2i_expect_out "assemble-runtime: uid 2003 in /srv/app"
[ "$(s2i_run "$tag2" cat deps/lib/util.txt)" = library ] || fail "deps/lib/util.txt"
[ "$(eng image inspect -f '{{.Config.User}}' "$tag2")" = 2002 ] || fail "User of tag2"

# invalid mappings are refused before anything runs
s2i_build --network none --runtime-image "$runtime" -a relative:. "$src" "$builder" "$tag2"
[ "$rc" = 1 ] || fail "relative runtime artifact source accepted"
grep -q "absolute" "$S2I_TMP/err" || { s2i_show; fail "message for a relative source"; }
s2i_build --network none --runtime-image "$runtime" -a /opt/x:../up "$src" "$builder" "$tag2"
[ "$rc" = 1 ] || fail "'..' destination accepted"
s2i_no_leftovers

# --allowed-uids holds for the runtime image's user too: a runtime image whose USER is
# root is refused (no --assemble-runtime-user), before anything runs
rootrt=$(s2i_name rootrt)
s2i_builder "$rootrt" --scripts "$rscripts" --user 0 --workdir /srv/app \
	--label "io.openshift.s2i.assemble-input-files=/opt/app-root/out/app.sh:."
tag3=$(s2i_name app3):latest
s2i_build --network none -u 1- --runtime-image "$rootrt" "$src" "$builder" "$tag3"
[ "$rc" = 1 ] || { s2i_show; fail "a root runtime image allowed by --allowed-uids 1- ($rc)"; }
grep -q "runtime image user" "$S2I_TMP/err" || { s2i_show; fail "the refusal does not name the runtime image user"; }
grep -q "assemble-runtime:" "$S2I_TMP/out" && fail "a refused runtime build ran assemble-runtime"
eng image inspect "$tag3" >/dev/null 2>&1 && fail "a refused runtime build committed an image"
# the same runtime image with an allowed --assemble-runtime-user builds
s2i_build --network none -u 1- --runtime-image "$rootrt" --assemble-runtime-user 2004 "$src" "$builder" "$tag3"
s2i_expect_ok "root runtime image with --assemble-runtime-user 2004"
s2i_expect_out "assemble-runtime: uid 2004 in /srv/app"
# ... and so does one whose label io.openshift.s2i.assemble-runtime-user names the user
labelrt=$(s2i_name labelrt)
s2i_builder "$labelrt" --scripts "$rscripts" --user 0 --workdir /srv/app \
	--label "io.openshift.s2i.assemble-input-files=/opt/app-root/out/app.sh:." \
	--label "io.openshift.s2i.assemble-runtime-user=2005"
s2i_build --network none -u 1- --runtime-image "$labelrt" "$src" "$builder" "$tag3"
s2i_expect_ok "runtime image with the assemble-runtime-user label"
s2i_expect_out "assemble-runtime: uid 2005 in /srv/app"
# the flag wins over the label
s2i_build --network none --runtime-image "$labelrt" --assemble-runtime-user 2006 "$src" "$builder" "$tag3"
s2i_expect_ok "the flag over the label"
s2i_expect_out "assemble-runtime: uid 2006 in /srv/app"
s2i_no_leftovers
echo ok
