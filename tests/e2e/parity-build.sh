#!/usr/bin/env bash
# Parity with the real s2i, plain builds: the same git source, builder and flags given to
# `s2i build` and `s2i-agent build` give the same Cmd, Entrypoint, User, WorkingDir, ports,
# Env, s2i labels and files (mode, owner, size, content) under WORKDIR and the destination:
# a plain build, -e/-E with .s2i/environment, scripts from the source's .s2i/bin, a named
# assemble user, a builder with EXPOSE and an ENTRYPOINT, the destination label and a
# file:// --scripts-url. Skips (77) without the s2i CLI.
TEST=parity-build
source "$TESTS_DIR/lib/parity.sh"

builder=$(s2i_name builder)
s2i_builder "$builder.base" --label 'io.k8s.description="the builder"' --label 'io.openshift.expose-services=8080:http'
pa_derive "$builder" "$builder.base" "EXPOSE 8080/tcp 9090/udp" "ENV BUILDER_VAR=builder GREETING=builder"
src=$S2I_TMP/app
s2i_git_source "$src" "forty-two"
mkdir -p "$src/.s2i" "$src/lib/deep" "$src/bin"
printf 'data\n' >"$src/lib/deep/data.txt"
printf '#!/bin/sh\necho tool\n' >"$src/bin/tool" && chmod 755 "$src/bin/tool"
printf 'secret\n' >"$src/lib/private.txt" && chmod 600 "$src/lib/private.txt"
ln -s deep/data.txt "$src/lib/link.txt"
head -c 70000 /dev/urandom >"$src/lib/blob.bin"
printf '# build settings\nAPP_MODE=from-environment-file\nGREETING=hello\nEMPTY=\n' >"$src/.s2i/environment"
printf '{"labels": [{"com.example.team": "blue"}, {"io.k8s.description": "from metadata"}]}\n' \
	>"$src/image_metadata.json"
s2i_commit_all "$src" "add settings"
printf 'EXTRA=from-E\nGREETING=from-E\n' >"$S2I_TMP/env"

# the comparison itself can fail: two builds that differ in one variable differ
pa_both "self-check" -e GREETING=one -- "$src" "$builder"
first=$pa_s2i_tag
pa_both "self-check 2" -e GREETING=two -- "$src" "$builder"
PA_DIFFS_BEFORE=$PA_DIFFS
pa_compare "self-check (must differ)" "$first" "$pa_s2i_tag" >/dev/null &&
	fail "the comparison did not see a different -e"
PA_DIFFS=$PA_DIFFS_BEFORE

pa_both "plain build" -- "$src" "$builder"
pa_compare "plain build" "$pa_s2i_tag" "$pa_agent_tag" /opt/app-root/src /tmp

pa_both "-e, -E and .s2i/environment" -e GREETING=from-cli -e A=1,B=2 -E "$S2I_TMP/env" \
	--description "the test app" -n "My App" -- "$src" "$builder"
pa_compare "-e, -E and .s2i/environment" "$pa_s2i_tag" "$pa_agent_tag"

# scripts from the source's .s2i/bin win over the image's
mkdir -p "$src/.s2i/bin"
cat >"$src/.s2i/bin/assemble" <<'SH'
#!/bin/sh
set -e
echo "source assemble as $(id -u)"
cp -a /tmp/src/. ./
mkdir -p made && echo "$GREETING" >made/greeting && chmod 640 made/greeting
SH
printf '#!/bin/sh\necho "source run"\n' >"$src/.s2i/bin/run"
chmod 755 "$src/.s2i/bin/assemble" "$src/.s2i/bin/run"
s2i_commit_all "$src" "scripts of our own"
pa_both "scripts from .s2i/bin" -- "$src" "$builder"
pa_compare "scripts from .s2i/bin" "$pa_s2i_tag" "$pa_agent_tag" /opt/app-root/src /tmp
git -C "$src" rm -q -r .s2i/bin && s2i_commit_all "$src" "image scripts again"

# a root builder with a named assemble user (looked up in the image's /etc/passwd)
rootb=$(s2i_name root)
s2i_builder "$rootb" --user ""
pa_both "named assemble user" --assemble-user app -- "$src" "$rootb"
pa_compare "named assemble user" "$pa_s2i_tag" "$pa_agent_tag" /opt/app-root/src /tmp

# a builder whose USER is a name, with an ENTRYPOINT and the assemble-user label
userb=$(s2i_name named)
# (s2i runs its command through the builder's ENTRYPOINT, we set it aside: one that execs
# its arguments, as builder images' do, gives the same image)
s2i_builder "$userb.base" --user app --label io.openshift.s2i.assemble-user=1001
pa_derive "$userb" "$userb.base" "USER root" \
	"RUN printf '#!/bin/sh\\nexport WRAPPED=1\\nexec \"\$@\"\\n' >/bin/entry && chmod 755 /bin/entry" \
	'ENTRYPOINT ["/bin/entry"]' "USER app"
pa_both "builder USER by name, ENTRYPOINT" -- "$src" "$userb"
pa_compare "builder USER by name, ENTRYPOINT" "$pa_s2i_tag" "$pa_agent_tag"

# the destination from the builder's label, and scripts from a file:// --scripts-url (the
# metadata file of an assemble that writes it under the destination is not read: s2i
# reads /tmp/.s2i only)
destb=$(s2i_name dest)
s2i_builder "$destb" --dest /var/s2i
scripts=$S2I_TMP/scripts
s2i_write_scripts "$scripts" /var/s2i
pa_both "destination label" -- "$src" "$destb"
pa_compare "destination label" "$pa_s2i_tag" "$pa_agent_tag" /opt/app-root/src /var/s2i /tmp
pa_both "scripts-url file://" -s "file://$scripts" -- "$src" "$destb"
pa_compare "scripts-url file://" "$pa_s2i_tag" "$pa_agent_tag" /opt/app-root/src /var/s2i /tmp

pa_done
