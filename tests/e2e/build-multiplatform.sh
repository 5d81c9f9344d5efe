#!/usr/bin/env bash
# A builder that is a multi-platform index (an image list of this platform and
# linux/arm64/v8, in a local registry with htpasswd authentication): the engine pulls
# its platform, the build and an incremental rebuild on top work, and the output is
# a single-platform image. On the containerd image store the builder's id is the
# index digest (the graph-driver store names it by its config).
TEST=build-multiplatform
source "$TESTS_DIR/lib/s2i.sh"
s2i_pulls_plain_http || skip "$S2I_TEST_ENGINE pulls from a plain-HTTP registry only if registries.conf says insecure (podman5: restart it, tests/lib/sidengine.sh stop podman5; podman: the host's /etc, left alone)"
[ -f "$TESTS_DIR/lib/registry.sh" ] || skip "tests/lib/registry.sh is missing"
source "$TESTS_DIR/lib/registry.sh"
command -v docker-registry >/dev/null || skip "docker-registry is not installed"
registry_start >/dev/null || fail "the registry did not start"
trap 'registry_stop "$REGISTRY_DIR"; s2i_cleanup' EXIT
mkdir -p "$S2I_TMP/dockercfg"
cp "$REGISTRY_AUTH_FILE" "$S2I_TMP/dockercfg/config.json"
export DOCKER_CONFIG=$S2I_TMP/dockercfg
auth=(-u "$REGISTRY_USER:$REGISTRY_PASS")

# Made in the host's dockerd only, FROM a base of its own: the engine under test gets
# every layer from the registry. (The containerd store skips fetching a layer whose
# snapshot it has, e.g. from a `docker load`, and then counts the platform as
# unavailable: inspect gives no Config. A machine that pulls its builders never
# meets that.)
ubase=$(s2i_name base):latest
S2I_IMAGES+=("$ubase")
engine_base_image "$ubase" "$S2I_ID" || fail "cannot make the builder's base"
builder=$(s2i_name builder)
TEST_BASE_IMAGE=$ubase S2I_TEST_ENGINE=docker s2i_builder "$builder"
repo="s2i-agent-test/$S2I_ID-builder"
single="$REGISTRY_ADDR/$repo:single"
multi="$REGISTRY_ADDR/$repo:multi"
S2I_IMAGES+=("$single")
# the host's dockerd pushes the builder; its manifest becomes one entry of an index
docker tag "$builder" "$single" && docker push "$single" >/dev/null || fail "cannot push the builder"
curl -sf "${auth[@]}" -D "$S2I_TMP/mhdr" -o "$S2I_TMP/manifest" \
	-H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
	"http://$REGISTRY_ADDR/v2/$repo/manifests/single" || fail "cannot read the builder's manifest"
mdigest=$(tr -d '\r' <"$S2I_TMP/mhdr" | sed -n 's/^[Dd]ocker-[Cc]ontent-[Dd]igest: //p')
mtype=$(jq -r .mediaType "$S2I_TMP/manifest")
msize=$(stat -c %s "$S2I_TMP/manifest")
arch=$(docker version -f '{{.Server.Arch}}')
[ "$arch" != arm64 ] || skip "this test's second platform is the host's"
# the other platform's manifest: the same layers, a config that says arm64
cdigest=$(jq -r .config.digest "$S2I_TMP/manifest")
curl -sf "${auth[@]}" -o "$S2I_TMP/config" "http://$REGISTRY_ADDR/v2/$repo/blobs/$cdigest" || fail "cannot read the config"
jq -c '.architecture = "arm64" | .variant = "v8"' "$S2I_TMP/config" >"$S2I_TMP/config-arm64"
adigest=sha256:$(sha256sum "$S2I_TMP/config-arm64" | cut -d' ' -f1)
loc=$(curl -sf "${auth[@]}" -X POST -D - -o /dev/null "http://$REGISTRY_ADDR/v2/$repo/blobs/uploads/" |
	tr -d '\r' | sed -n 's/^[Ll]ocation: //p')
case $loc in http*) ;; *) loc=http://$REGISTRY_ADDR$loc ;; esac
case $loc in *\?*) loc="$loc&digest=$adigest" ;; *) loc="$loc?digest=$adigest" ;; esac
curl -sf "${auth[@]}" -X PUT -H 'Content-Type: application/octet-stream' --data-binary @"$S2I_TMP/config-arm64" \
	"$loc" -o /dev/null || fail "cannot upload the arm64 config"
jq -c --arg d "$adigest" --argjson s "$(stat -c %s "$S2I_TMP/config-arm64")" '.config.digest = $d | .config.size = $s' \
	"$S2I_TMP/manifest" >"$S2I_TMP/manifest-arm64"
curl -sf "${auth[@]}" -X PUT -D "$S2I_TMP/ahdr" -o /dev/null -H "Content-Type: $mtype" \
	--data-binary @"$S2I_TMP/manifest-arm64" "http://$REGISTRY_ADDR/v2/$repo/manifests/arm64" ||
	fail "cannot put the arm64 manifest"
amdigest=$(tr -d '\r' <"$S2I_TMP/ahdr" | sed -n 's/^[Dd]ocker-[Cc]ontent-[Dd]igest: //p')
asize=$(stat -c %s "$S2I_TMP/manifest-arm64")
jq -n --arg d "$mdigest" --arg t "$mtype" --argjson s "$msize" --arg a "$arch" \
	--arg ad "$amdigest" --argjson asz "$asize" '{schemaVersion: 2,
	mediaType: "application/vnd.docker.distribution.manifest.list.v2+json",
	manifests: [{mediaType: $t, digest: $d, size: $s, platform: {architecture: $a, os: "linux"}},
		    {mediaType: $t, digest: $ad, size: $asz, platform: {architecture: "arm64", os: "linux", variant: "v8"}}]}' \
	>"$S2I_TMP/index"
curl -sf "${auth[@]}" -X PUT -D "$S2I_TMP/ihdr" -o /dev/null \
	-H 'Content-Type: application/vnd.docker.distribution.manifest.list.v2+json' \
	--data-binary @"$S2I_TMP/index" "http://$REGISTRY_ADDR/v2/$repo/manifests/multi" || fail "cannot put the index"
idigest=$(tr -d '\r' <"$S2I_TMP/ihdr" | sed -n 's/^[Dd]ocker-[Cc]ontent-[Dd]igest: //p')
[[ $idigest == sha256:* ]] || fail "no digest for the index"
S2I_IMAGES+=("$multi")

src=$S2I_TMP/app
s2i_git_source "$src" "from an index"
tag=$(s2i_name app):v1
s2i_build --network none --pull-policy always "$src" "$multi" "$tag"
s2i_expect_ok "build from a multi-platform builder"
s2i_no_leftovers
[ "$(s2i_run "$tag")" = "answer: from an index" ] || fail "the app does not run"
bid=$(eng image inspect -f '{{.Id}}' "$multi") || fail "the builder was not pulled"
config=$(jq -r .config.digest "$S2I_TMP/manifest")
if s2i_containerd_store; then
	[ "$bid" = "$idigest" ] || fail "builder id $bid, want the index digest $idigest"
else
	[ "$bid" = "$config" ] || fail "builder id $bid, want its config $config"
fi
[ "$(eng image inspect -f '{{.Architecture}}' "$tag")" = "$arch" ] || fail "output is not $arch"
[ "$(s2i_label "$tag" io.openshift.s2i.build.image)" = "$multi" ] || fail "build.image label"

# incremental on top: the previous image's artifacts come back
s2i_rebuild_incremental "$src" "$multi" "$tag" again 2
echo ok
