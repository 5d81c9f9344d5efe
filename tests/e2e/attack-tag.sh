#!/usr/bin/env bash
# Two refs the tag sanitizing maps to one image name: release-1.0 builds
# s2i-agent-test/...-web:release-1.0 first and owns it; a push of release/1.0 (which
# anyone who may push an unprotected branch can make) must not overwrite that image:
# its build is errored with a reason that names the owner, the image keeps the first
# build's commit, and the rule holds after a restart. A template without anything
# from the ref ({repo}:latest) is the operator's choice and builds both.
TEST=attack-tag
source "$TESTS_DIR/lib/pipeline.sh"

pl_builder
pl_repo web "branches = release-* release/*"
pl_repo shared "branches = a b" "tag=s2i-agent-test/$PL_ID-{repo}:latest"
start_agent || fail "agent did not start"
image=s2i-agent-test/$PL_ID-web:release-1.0
label() { docker image inspect -f "{{index .Config.Labels \"$2\"}}" "$1"; }
# a commit pushed to REF and its webhook, answered as build N; sets sha
push_build() {	# repo branch message n
	sha=$(pl_commit "$1" "$3")
	pl_push "$1" "refs/heads/$2" >/dev/null || fail "git push $2"
	pl_github_push "$1" "$sha" "refs/heads/$2"
	expect 202 .build "$4"
}

push_build web release-1.0 "protected release" 1
sha1=$sha
pl_expect 1 succeeded 120
[ "$(label "$image" io.openshift.s2i.build.commit.id)" = "$sha1" ] || fail "image of build 1"

push_build web release/1.0 "hostile release" 2
pl_expect 2 errored 60
reason=$(pl_build_json 2 | jq -r .reason)
case $reason in
*"'$image'"*refs/heads/release-1.0*refs/heads/release/1.0*) ;;
*) fail "build 2's reason does not name the image, its owner and the ref: $reason" ;;
esac
[ "$(label "$image" io.openshift.s2i.build.commit.id)" = "$sha1" ] ||
	fail "release/1.0 overwrote release-1.0's image: commit $(label "$image" io.openshift.s2i.build.commit.id)"
pl_no_containers 2

# the owner keeps building; the ownership survives a restart
stop_agent || fail "agent exited $? on SIGTERM"
KEEP_PORT=1 start_agent || fail "agent did not restart"
push_build web release/1.0 "hostile again" 3
pl_expect 3 errored 60
push_build web release-1.0 "protected again" 4
sha4=$sha
pl_expect 4 succeeded 120
[ "$(label "$image" io.openshift.s2i.build.commit.id)" = "$sha4" ] || fail "the owner's rebuild did not land"

# {repo}:latest: branches share it on purpose, both build
push_build shared a "on a" 5
pl_expect 5 succeeded 120
push_build shared b "on b" 6
pl_expect 6 succeeded 120
stop_agent || fail "agent exited $? on SIGTERM"
echo "release/1.0 refused: $reason"
