#!/usr/bin/env bash
# The dashboard and the build page in headless Chromium against the real daemon and a
# real build: while assemble is held, the dashboard lists the build as running (its
# hostile commit message stays text) and the build page shows the log so far; once
# assemble is released the same page shows the rest of the log and the final state (and,
# with JavaScript off, the log as the server rendered it); then, signed in with the
# admin token and with the keyboard, the page retries the build (the retry's page says
# whose retry it is) and cancels the retry; the repository's page builds a branch typed
# in its "Build a ref" form and opens that build's page.
set -u
source "$TESTS_DIR/lib/agent.sh"
source "$TESTS_DIR/lib/engine.sh"
command -v chromium >/dev/null || skip "chromium missing: apt-get install chromium (tests/deps)"
engine_ensure >/dev/null 2>&1 || skip "no container engine"
agent_init
AGENT_ENGINE=unix://$ENGINE_SOCK
SECRET=dash-browser-secret
BUILDER=s2i-agent-test/dash-browser-$$:latest
OUT=s2i-agent-test/dash-browser-$$-out
cleanup() {
	docker ps -aq --filter "ancestor=$BUILDER" | xargs -r docker rm -f >/dev/null 2>&1
	docker images -q "$OUT" | sort -u | xargs -r docker rmi -f >/dev/null 2>&1
	docker rmi -f "$BUILDER" >/dev/null 2>&1
	agent_cleanup
}
trap cleanup EXIT

# A builder whose assemble prints a line, then waits for /tmp/go in its container.
ctx=$AGENT_DIR/builder
mkdir -p "$ctx/s2i"
cat >"$ctx/s2i/assemble" <<'SH'
#!/bin/sh
echo "step 1: fetching"
i=0
while [ ! -e /tmp/go ]; do
	sleep 0.2
	i=$((i + 1))
	[ $i -gt 1500 ] && { echo "nobody released the build"; exit 1; }
done
printf 'step 2: assembling \033[1mbold\033[0m <b>not html</b>\n'
cp -a /tmp/src/. ./
echo "step 3: committed"
SH
engine_app_builder "$ctx" "$BUILDER" "$BUILDER"

# The repository: a bare one on this machine.
export GIT_CONFIG_NOSYSTEM=1 HOME=$AGENT_DIR
git init -q -b main "$AGENT_DIR/work"
echo 'echo "answer: dash"' >"$AGENT_DIR/work/app.sh"
git -C "$AGENT_DIR/work" add -A
git -C "$AGENT_DIR/work" -c user.name=t -c user.email=t@example.com commit -q -m "the app"
git clone -q --bare "$AGENT_DIR/work" "$AGENT_DIR/repo.git"
git -C "$AGENT_DIR/work" push -q "$AGENT_DIR/repo.git" HEAD:refs/heads/feature-$$
sha=$(git -C "$AGENT_DIR/work" rev-parse HEAD)
printf 'dash-browser-admin-token-%s-0123456789\n' "$$" >"$AGENT_DIR/admin.token"
chmod 600 "$AGENT_DIR/admin.token"
AGENT_EXTRA="admin_token_file = $AGENT_DIR/admin.token"
agent_repo web "$SECRET" "tag=$OUT:{short_sha}" "pull_policy=never"
sed -i -e "s|^url = .*|url = $AGENT_DIR/repo.git|" \
	-e "s|^builder = .*|builder = $BUILDER|" "$AGENT_DIR/repos.conf"
start_agent || fail "agent did not start"

# A GitHub push of that commit whose message and author try to inject markup and script.
msg='Fix <script>window.__pwned=1</script> & "quotes" <img src=x onerror="window.__pwned=2">
second line </pre><svg onload="window.__pwned=3">'
author="Mallory \"M\" & O'Brien"
jq --arg m "$msg" --arg a "$author" --arg sha "$sha" '.ref = "refs/heads/main" | .after = $sha |
	.head_commit.id = $sha | .head_commit.message = $m | .head_commit.author.name = $a |
	.commits = [.head_commit]' "$FIXTURES/github-push.json" >"$AGENT_DIR/push.json"
post_hook github web "$AGENT_DIR/push.json" "$SECRET" "dash-browser-$$"
expect 202
id=$(jq -r .build <<<"$HTTP_BODY")

# JSON clients keep JSON on the same URL; browsers get HTML
http_req -H 'Accept: */*' "$AGENT_URL/builds/$id"
expect 200 .id "$id"
http_req -H 'Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' "$AGENT_URL/builds/$id"
[ "$HTTP_CODE" = 200 ] && grep -qi '^content-type: text/html' "$HTTP_HEADERS" || fail "browsers do not get HTML"

# Until assemble runs (held at /tmp/go), so the build is deterministically running.
container=
held() {
	state=$(curl -s "$AGENT_URL/builds/$id" | jq -r .state)
	case $state in succeeded | failed | errored | canceled)
		fail "build $id ended $state early: $(curl -s "$AGENT_URL/builds/$id/log" | tail -n 5)" ;;
	esac
	container=$(docker ps -q --filter "ancestor=$BUILDER" --filter "label=io.s2i-agent.build=$id")
	[ "$state" = running ] && [ -n "$container" ] &&
		curl -s "$AGENT_URL/builds/$id/log" | grep -q 'step 1: fetching'
}
wait_for 120 held
[ -n "$container" ] || fail "the build's container did not start (state $state)"
printf 'docker exec -u 0 %s touch /tmp/go\n' "$container" >"$AGENT_DIR/release.sh"

ids=$(python3 "$TESTS_DIR/lib/dash_browser.py" "$AGENT_URL" "$id" "$msg" "$author" "$AGENT_DIR/release.sh" \
	"$AGENT_DIR/admin.token" "feature-$$") || fail "browser checks failed"
read -r retry built <<<"$ids"
[ "$(curl -s "$AGENT_URL/builds/$id" | jq -r .state)" = succeeded ] || fail "the build did not succeed"
# what the page's buttons did, as the API sees it
http_req "$AGENT_URL/builds/$retry"
expect 200 .state canceled
expect 200 .provider manual
expect 200 .sha "$sha"
expect 200 .retry_of "$id"
grep -q "build $retry: queued as a retry of build $id" "$AGENT_LOG" || fail "the retry is not build $id's"
grep -q "build $retry: canceling by request" "$AGENT_LOG" || fail "the cancel did not reach the worker"
# what the repository page's form did: a manual build of that branch, listed
admin=(-H "Authorization: Bearer $(cat "$AGENT_DIR/admin.token")")
http_req "$AGENT_URL/builds?repo=web"
[ "$(jq -r --argjson b "$built" '.[] | select(.id == $b) | .ref' <<<"$HTTP_BODY")" = "refs/heads/feature-$$" ] ||
	fail "build $built is not listed with refs/heads/feature-$$: $HTTP_BODY"
http_req "$AGENT_URL/builds/$built"
expect 200 .provider manual
grep -q "build $built: queued by request 'web' refs/heads/feature-$$" "$AGENT_LOG" || fail "the form's build was not queued by request"
# its assemble is held: cancel it rather than wait
http_req -X POST "${admin[@]}" "$AGENT_URL/builds/$built/cancel"
case $HTTP_CODE in 200 | 202) ;; *) fail "cancel of build $built: HTTP $HTTP_CODE $HTTP_BODY" ;; esac
wait_for 120 sh -c "curl -s '$AGENT_URL/builds/$built' | jq -e '.state == \"canceled\"' >/dev/null"
