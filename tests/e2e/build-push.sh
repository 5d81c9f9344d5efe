#!/usr/bin/env bash
# --push: the built tag goes to a local docker-registry with htpasswd authentication,
# with the credentials of $DOCKER_CONFIG/config.json; without them the build errors.
# Credential helpers (credsStore, credHelpers) give them for a pull and a push.
TEST=build-push
source "$TESTS_DIR/lib/s2i.sh"
[ -f "$TESTS_DIR/lib/registry.sh" ] || skip "tests/lib/registry.sh is missing"
source "$TESTS_DIR/lib/registry.sh"
command -v docker-registry >/dev/null || skip "docker-registry is not installed"
registry_start >/dev/null || fail "the registry did not start"
trap 'registry_stop "$REGISTRY_DIR"; s2i_cleanup' EXIT

builder=$(s2i_name builder)
s2i_builder "$builder"
src=$S2I_TMP/app
s2i_git_source "$src" "pushed"
repo="s2i-agent-test/$S2I_ID"
tag="$REGISTRY_ADDR/$repo:v1"
S2I_IMAGES+=("$tag")

# no credentials: the push is refused and the build errors (exit 1)
mkdir -p "$S2I_TMP/nocreds"
DOCKER_CONFIG=$S2I_TMP/nocreds s2i_build --network none --push "$src" "$builder" "$tag"
[ "$rc" = 1 ] || { s2i_show; fail "push without credentials exited $rc"; }
grep -q "cannot push" "$S2I_TMP/err" || { s2i_show; fail "no push error"; }
s2i_no_leftovers

# with the credentials of the CLI's docker config
mkdir -p "$S2I_TMP/dockercfg"
cp "$REGISTRY_AUTH_FILE" "$S2I_TMP/dockercfg/config.json"
DOCKER_CONFIG=$S2I_TMP/dockercfg s2i_build --network none --push "$src" "$builder" "$tag"
s2i_expect_ok "push"
s2i_expect_out "pushed $tag"
s2i_no_leftovers
tags=$(curl -sf -u "$REGISTRY_USER:$REGISTRY_PASS" "http://$REGISTRY_ADDR/v2/$repo/tags/list") ||
	fail "cannot list the registry's tags"
echo "$tags" | jq -e '.tags | index("v1")' >/dev/null || fail "v1 not in the registry: $tags"
# the manifest is the image we built: its config is the image id (the graph driver
# store), or the manifest itself is (the containerd store names images by manifest
# digest, and pushes OCI manifests)
curl -sf -D "$S2I_TMP/mhdr" -o "$S2I_TMP/manifest" -u "$REGISTRY_USER:$REGISTRY_PASS" \
	-H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
	-H 'Accept: application/vnd.oci.image.manifest.v1+json' \
	"http://$REGISTRY_ADDR/v2/$repo/manifests/v1" || fail "cannot read the manifest of v1"
config=$(jq -r .config.digest "$S2I_TMP/manifest")
manifest=$(tr -d '\r' <"$S2I_TMP/mhdr" | sed -n 's/^[Dd]ocker-[Cc]ontent-[Dd]igest: //p')
if s2i_containerd_store; then
	[ "$manifest" = "$image_id" ] || fail "registry has manifest $manifest, built $image_id"
else
	[ "$config" = "$image_id" ] || fail "registry has config $config, built $image_id"
fi
[[ $config == sha256:* ]] || fail "the manifest has no config: $(cat "$S2I_TMP/manifest")"

# credential helpers (docker-credential-helpers protocol): credsStore, then
# credHelpers, name a helper written for this test; it gets the registry on stdin and
# answers the registry's credentials. The pushed image is the next build's builder,
# pulled (--pull-policy always) with them, and the result pushed with them.
hbin=$S2I_TMP/helperbin
mkdir -p "$hbin" "$S2I_TMP/storecfg" "$S2I_TMP/helperscfg"
cat >"$hbin/docker-credential-s2itest" <<EOF
#!/bin/sh
[ "\$1" = get ] || exit 2
srv=\$(cat)
echo "\$srv" >>"$S2I_TMP/helper.calls"
if [ "\$srv" = "$REGISTRY_ADDR" ]; then
	printf '{"ServerURL":"%s","Username":"%s","Secret":"%s"}\n' "\$srv" "$REGISTRY_USER" "$REGISTRY_PASS"
	exit 0
fi
echo "credentials not found in native keychain"
exit 1
EOF
chmod 700 "$hbin/docker-credential-s2itest"
printf '{"auths": {"%s": {}}, "credsStore": "s2itest"}\n' "$REGISTRY_ADDR" >"$S2I_TMP/storecfg/config.json"
printf '{"credHelpers": {"%s": "s2itest"}}\n' "$REGISTRY_ADDR" >"$S2I_TMP/helperscfg/config.json"
tag2="$REGISTRY_ADDR/$repo:v2" tag3="$REGISTRY_ADDR/$repo:v3"
S2I_IMAGES+=("$tag2" "$tag3")
# Podman pulls from a plain-HTTP registry only when its registries.conf says insecure
# (s2i_pulls_plain_http): where it does not, the builder stays local and only the push asks
pull=always asks=2
s2i_pulls_plain_http || pull=never asks=1
[ $pull = always ] && eng image rm "$tag" >/dev/null 2>&1	# the pull must come from the registry
PATH=$hbin:$PATH DOCKER_CONFIG=$S2I_TMP/storecfg s2i_build --network none --pull-policy $pull \
	--push "$src" "$tag" "$tag2"
s2i_expect_ok "pull and push with credsStore"
s2i_expect_out "pushed $tag2"
[ "$(grep -cx "$REGISTRY_ADDR" "$S2I_TMP/helper.calls")" -ge $asks ] ||
	fail "the helper was not asked for the pull and the push: $(cat "$S2I_TMP/helper.calls")"
: >"$S2I_TMP/helper.calls"
PATH=$hbin:$PATH DOCKER_CONFIG=$S2I_TMP/helperscfg s2i_build --network none --push "$src" "$tag" "$tag3"
s2i_expect_ok "push with credHelpers"
grep -qx "$REGISTRY_ADDR" "$S2I_TMP/helper.calls" || fail "credHelpers' helper was not asked"
tags=$(curl -sf -u "$REGISTRY_USER:$REGISTRY_PASS" "http://$REGISTRY_ADDR/v2/$repo/tags/list")
for t in v2 v3; do
	echo "$tags" | jq -e --arg t $t '.tags | index($t)' >/dev/null || fail "$t not in the registry: $tags"
done
# without the helper on PATH the build says which one is missing, and nothing of the secret
DOCKER_CONFIG=$S2I_TMP/helperscfg s2i_build --network none --push "$src" "$tag" "$tag3"
[ "$rc" = 1 ] || { s2i_show; fail "a missing helper exited $rc"; }
grep -q "docker-credential-s2itest" "$S2I_TMP/err" "$S2I_TMP/out" || { s2i_show; fail "the missing helper is not named"; }
grep -q -- "$REGISTRY_PASS" "$S2I_TMP/err" "$S2I_TMP/out" && fail "the password reached the output"
s2i_no_leftovers
echo ok
