#!/usr/bin/env bash
# s2i-agent build of a git work tree: the image runs the app, carries s2i's label set with
# the commit metadata, the build environment (.s2i/environment, -E, -e) and the labels of
# image_metadata.json; builders without tar, with a named USER and with an ENTRYPOINT work.
TEST=build-simple
source "$TESTS_DIR/lib/s2i.sh"

builder=$(s2i_name builder)
s2i_builder "$builder"
src=$S2I_TMP/app
s2i_git_source "$src" "forty-two"
mkdir -p "$src/.s2i"
printf '# build settings\nAPP_MODE=from-environment-file\nGREETING=hello\n' >"$src/.s2i/environment"
printf '{"labels": [{"com.example.team": "blue"}, {"io.k8s.description": "from metadata"}]}\n' \
	>"$src/image_metadata.json"
s2i_commit_all "$src" "add settings"
sha=$(git -C "$src" rev-parse HEAD)
printf 'EXTRA=from-E\n' >"$S2I_TMP/env"

tag=$(s2i_name app):v1
s2i_build --network none -e GREETING=from-cli -E "$S2I_TMP/env" --description "the test app" \
	"$src" "$builder" "$tag"
s2i_expect_ok "simple build"
s2i_no_leftovers
s2i_expect_out "assemble: uid 1001 in /opt/app-root/src"
s2i_expect_out "assemble: APP_MODE=from-environment-file GREETING=from-cli"
s2i_expect_out "assemble: to stderr"
# the log starts with the engine, its version and the API spoken: the newest both speak
line1=$(head -n 1 "$S2I_TMP/out")
sock=${S2I_ENGINE_URL:-unix:///var/run/docker.sock}
curl -sf --unix-socket "${sock#unix://}" http://d/version >"$S2I_TMP/version" || fail "no /version"
ver=$(jq -r .Version "$S2I_TMP/version")
srv_api=$(jq -r .ApiVersion "$S2I_TMP/version")
[[ $line1 == "--> engine "*" $ver at "*", API "* ]] || { s2i_show; fail "first line does not name the engine $ver"; }
api=${line1##*, API }; api=${api%% *}
if [ "${srv_api#1.}" -ge 51 ]; then want_api=1.51; else want_api=$srv_api; fi
[ "$api" = "$want_api" ] || { s2i_show; fail "spoke API $api with an engine of API $srv_api, want $want_api"; }
got=$(eng image inspect -f '{{.Id}}' "$tag")
[ "${got#sha256:}" = "${image_id#sha256:}" ] || fail "tag does not point at $image_id"
out=$(s2i_run "$tag") || fail "the image does not run"
[ "$out" = "answer: forty-two" ] || fail "app printed '$out'"

# the configuration of the output image
[ "$(eng image inspect -f '{{json .Config.Cmd}}' "$tag")" = '["/usr/libexec/s2i/run"]' ] || fail "Cmd"
[ "$(eng image inspect -f '{{.Config.User}}' "$tag")" = 1001 ] || fail "User"
env=$(eng image inspect -f '{{json .Config.Env}}' "$tag")
for v in PATH=/bin APP_MODE=from-environment-file GREETING=from-cli EXTRA=from-E; do
	[[ $env == *"\"$v\""* ]] || fail "Env lacks $v: $env"
done
declare -A want=(
	[builder.label]=kept
	[io.openshift.s2i.build.image]=docker.io/$builder:latest
	[io.openshift.s2i.build.commit.id]=$sha
	[io.openshift.s2i.build.commit.ref]=main
	[io.openshift.s2i.build.commit.author]="Test Author <author@example.com>"
	[io.openshift.s2i.build.commit.message]="add settings"
	[io.openshift.s2i.build.source-location]=$src
	[io.k8s.display-name]=$tag
	[io.k8s.description]="from metadata"
	[org.opencontainers.image.revision]=$sha
	[com.example.team]=blue
	[io.s2i-agent.build]=""
)
for k in "${!want[@]}"; do
	got=$(s2i_label "$tag" "$k")
	[ "$got" = "${want[$k]}" ] || { s2i_show; eng image inspect -f "{{json .Config.Labels}}" "$tag"; fail "label $k is '$got', want '${want[$k]}'"; }
done
date=$(s2i_label "$tag" io.openshift.s2i.build.commit.date)
[ "$date" = "$(git -C "$src" log -1 --format=%ad)" ] || fail "commit.date '$date'"
created=$(s2i_label "$tag" org.opencontainers.image.created)
[[ $created =~ ^20[0-9][0-9]-[0-9][0-9]-[0-9][0-9]T ]] || fail "created '$created'"
[ "$(s2i_label "$tag" io.openshift.s2i.build.source-context-dir)" = "" ] || fail "context dir label"

# uncommitted changes are not built (a work tree builds its HEAD commit, like s2i's clone)
echo 'echo "answer: dirty"' >"$src/app.sh"
s2i_build --network none "$src" "$builder" "$tag"
s2i_expect_ok "rebuild"
[ "$(s2i_run "$tag")" = "answer: forty-two" ] || fail "dirty work tree was built"
git -C "$src" checkout -q app.sh

# a builder without tar, whose USER is a name, with an ENTRYPOINT
builder2=$(s2i_name notar)
s2i_builder "$builder2" --no-tar --user app --entrypoint
eng run --rm --network none --entrypoint /bin/ls "$builder2" /bin/tar 2>/dev/null && fail "tar still in $builder2"
tag2=$(s2i_name app2):latest
s2i_build --network none -n "My App" "$src" "$builder2" "$tag2"
s2i_expect_ok "build with a builder without tar"
s2i_no_leftovers
s2i_expect_out "assemble: uid 1001 in /opt/app-root/src"
[ "$(eng image inspect -f '{{.Config.User}}' "$tag2")" = app ] || fail "User of tag2"
[ "$(eng image inspect -f '{{json .Config.Entrypoint}}' "$tag2")" = '["/bin/echo","entrypoint-was-run"]' ] ||
	fail "the builder's ENTRYPOINT is not restored"
[ "$(s2i_label "$tag2" io.k8s.display-name)" = "My App" ] || fail "display name"
out=$(s2i_run --entrypoint "" "$tag2" /usr/libexec/s2i/run) || fail "tag2 does not run"
[ "$out" = "answer: forty-two" ] || fail "tag2 printed '$out'"
# files are owned by the assemble user
owner=$(s2i_run --entrypoint "" "$tag2" stat -c %u /opt/app-root/src/app.sh)
[ "$owner" = 1001 ] || fail "app.sh owned by $owner"

# a root builder: --assemble-user runs assemble as 1001, and the image runs as 1001 too (s2i
# commits without a USER then, so the container's stays)
rootb=$(s2i_name root)
s2i_builder "$rootb" --user ""
tag4=$(s2i_name rootapp):latest
s2i_build --network none --assemble-user 1001 "$src" "$rootb" "$tag4"
s2i_expect_ok "root builder with --assemble-user"
s2i_expect_out "assemble: uid 1001 in /opt/app-root/src"
[ "$(s2i_run "$tag4" id -u)" = 1001 ] || fail "the image of a root builder does not run as the assemble user"
s2i_build --network none "$src" "$rootb" "$tag4"
s2i_expect_ok "root builder"
s2i_expect_out "assemble: uid 0 in /opt/app-root/src"
[ "$(eng image inspect -f '{{.Config.User}}' "$tag4")" = "" ] || fail "User of a root build"

# a plain directory (no git): no commit labels
plain=$S2I_TMP/plain
mkdir -p "$plain"
printf 'echo "answer: plain"\n' >"$plain/app.sh"
tag3=$(s2i_name plain):latest
# -U wins over $DOCKER_HOST
DOCKER_HOST=unix:///nonexistent.sock s2i_build --network none -q -U "${S2I_ENGINE_URL:-unix:///var/run/docker.sock}" \
	"$plain" "$builder" "$tag3"
s2i_expect_ok "plain directory"
[ "$(wc -l <"$S2I_TMP/out")" = 1 ] || { s2i_show; fail "-q printed more than the image id"; }
[ "$(s2i_run "$tag3")" = "answer: plain" ] || fail "plain app"
[ -z "$(s2i_label "$tag3" io.openshift.s2i.build.commit.id)" ] || fail "commit label on a plain build"
[ "$(s2i_label "$tag3" io.openshift.s2i.build.source-location)" = "$plain" ] || fail "plain source-location"
echo "ok"
