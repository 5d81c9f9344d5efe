#!/usr/bin/env bash
# The dashboard and the build page in headless Chromium, against the real daemon:
# builds are listed (a hostile commit message stays text), the pages' inline style and
# script run under the agent's CSP, and the build page follows a streamed log live.
set -u
source "$TESTS_DIR/lib/agent.sh"
command -v chromium >/dev/null || skip "chromium missing: apt-get install chromium (tests/deps)"
agent_init
SECRET=dash-browser-secret
agent_repo web "$SECRET"
start_agent || fail "agent did not start"

# A push whose commit message and author try to inject markup and script.
msg='Fix <script>window.__pwned=1</script> & "quotes" <img src=x onerror="window.__pwned=2">
second line'
author='Mallory <svg onload="window.__pwned=3">'
jq --arg m "$msg" --arg a "$author" '.head_commit.message = $m | .head_commit.author.name = $a |
	.commits[0].message = $m | .commits[0].author.name = $a' \
	"$FIXTURES/github-push.json" >"$AGENT_DIR/push.json"
post_hook github web "$AGENT_DIR/push.json" "$SECRET" dash-browser-1
expect 202
id=$(jq -r .build <<<"$HTTP_BODY")

# JSON clients keep JSON on the same URLs
http_req -H 'Accept: */*' "$AGENT_URL/builds/$id"
expect 200 .id "$id"
http_req -H 'Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' "$AGENT_URL/builds/$id"
[ "$HTTP_CODE" = 200 ] && grep -qi '^content-type: text/html' "$HTTP_HEADERS" || fail "browsers do not get HTML"

python3 "$TESTS_DIR/lib/dash_browser.py" "$AGENT_URL" "$id" "$msg" "${author%% <*}" ||
	fail "browser checks failed"
