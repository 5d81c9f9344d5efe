#!/usr/bin/env bash
# Parity with the real s2i, the build phases beyond assemble: an incremental build
# (save-artifacts of the previous image restored before assemble) and a runtime image
# (--runtime-image with --runtime-artifact, assemble-runtime). Skips (77) without the s2i CLI.
TEST=parity-phases
source "$TESTS_DIR/lib/parity.sh"

builder=$(s2i_name builder)
s2i_builder "$builder"
src=$S2I_TMP/app
s2i_git_source "$src" "incremental"
mkdir -p "$src/lib"
printf 'lib\n' >"$src/lib/mod.txt"
s2i_commit_all "$src" "with a lib"

# incremental with --rm: both chains build the same tag twice; s2i's second image is kept
# aside under another name, and both remove their first image
tag=$(s2i_name inc):latest
pa_s2i_only "incremental, first build" -- "$src" "$builder" "$tag"
s2i_first=$(eng image inspect -f '{{.Id}}' "$tag")
pa_s2i_only "incremental, second build" --incremental --rm -- "$src" "$builder" "$tag"
grep -q "restoring artifacts" "$S2I_TMP/s2i.out" || { cat "$S2I_TMP/s2i.out"; fail "s2i did not restore artifacts"; }
s2i_tag=$(s2i_name s2i-inc):latest
eng tag "$tag" "$s2i_tag" || fail "cannot tag s2i's image"
s2i_build --pull-policy never "$src" "$builder" "$tag"
s2i_expect_ok "incremental, first build"
agent_first=$(eng image inspect -f '{{.Id}}' "$tag")
s2i_build --pull-policy never --incremental --rm "$src" "$builder" "$tag"
s2i_expect_ok "incremental, second build"
s2i_expect_out "restoring artifacts"
pa_compare "incremental" "$s2i_tag" "$tag" /opt/app-root/src /tmp
eng image inspect "$s2i_first" >/dev/null 2>&1 && fail "s2i kept its previous image with --rm"
eng image inspect "$agent_first" >/dev/null 2>&1 && fail "s2i-agent kept its previous image with --rm"

# a runtime image: its own WORKDIR and user, an assemble-runtime script in the image
rt=$(s2i_name runtime)
s2i_builder "$rt.base" --workdir /opt/rt --user ""
pa_derive "$rt" "$rt.base" \
	"RUN printf '#!/bin/sh\\necho \"assemble-runtime as \$(id -u) in \$(pwd)\"\\nls -la\\n' >/usr/libexec/s2i/assemble-runtime && chmod 755 /usr/libexec/s2i/assemble-runtime" \
	"RUN mkdir -p /opt/rt/bin && chown 1001:0 /opt/rt/bin" "USER 1001" "EXPOSE 8080" "ENV RT=runtime"
pa_both "runtime image" --runtime-image "$rt" -a /opt/app-root/src/app.sh:. -a /opt/app-root/src/lib:bin/lib \
	-e FOR_BUILD=1 -- "$src" "$builder"
# s2i leaves a /tmp/s2i-upload-done* marker in the image, and uploads the artifacts owned by
# the user s2i runs as on the host (we: by the runtime image's user; README)
PA_ANY_OWNER=/opt/rt
pa_compare "runtime image" "$pa_s2i_tag" "$pa_agent_tag" /opt/rt

# the runtime image's io.openshift.s2i.assemble-input-files label instead of -a
rt2=$(s2i_name runtime2)
pa_derive "$rt2" "$rt" 'LABEL io.openshift.s2i.assemble-input-files="/opt/app-root/src/app.sh:.;/opt/app-root/src/deps:data"'
pa_both "runtime image, input files label" --runtime-image "$rt2" -- "$src" "$builder"
pa_compare "runtime image, input files label" "$pa_s2i_tag" "$pa_agent_tag" /opt/rt

pa_done
