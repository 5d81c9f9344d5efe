#!/usr/bin/env bash
# --push: the built tag goes to a local docker-registry with htpasswd authentication,
# with the credentials of $DOCKER_CONFIG/config.json; without them the build errors.
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
echo ok
