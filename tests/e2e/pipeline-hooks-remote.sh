#!/usr/bin/env bash
# pre-receive when the agent fetches the repository through a transport (file://)
# instead of reading it in place: the quarantined commit, staged by the hook under
# refs/s2i-agent/incoming/, is fetched by its sha, for an existing branch and for a
# new one (whose ref does not exist at the source while the hook runs).
TEST=pl-hooks-remote
source "$TESTS_DIR/lib/pipeline.sh"

pl_builder
pl_repo gate "url=file://$AGENT_DIR/gate.git"
start_agent || fail "agent did not start"
push() {	# [ref]
	git -C "$AGENT_DIR/gate.work" push "$AGENT_DIR/gate.git" "HEAD:${1:-refs/heads/main}" >"$AGENT_DIR/push.out" 2>&1
}

pl_push gate >/dev/null || fail "first push"
g=$AGENT_DIR/gate.git
pl_hook gate pre-receive

sha=$(pl_commit gate "over file://")
push || { cat "$AGENT_DIR/push.out"; fail "pre-receive over file:// rejected an existing branch"; }
grep -q '^remote: s2i-agent: build 1 succeeded' "$AGENT_DIR/push.out" || fail "success line"
pl_expect_field 1 .sha "$sha"
[ "$(git --git-dir="$g" rev-parse refs/heads/main)" = "$sha" ] || fail "ref did not move"

git -C "$AGENT_DIR/gate.work" checkout -q -b feature
feat=$(pl_commit gate "a feature over file://")
if ! push refs/heads/feature; then
	cat "$AGENT_DIR/push.out"
	if pl_build_json 2 | jq -r .reason | grep -q "not found"; then
		skip "gitsrc: a new branch pushed through pre-receive is not built over file:// (ref missing at the source; fetch the sha)"
	fi
	fail "pre-receive of a new branch over file:// rejected"
fi
pl_expect_field 2 .sha "$feat"
echo "pre-receive over file://: ok"
