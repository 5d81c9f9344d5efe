#!/usr/bin/env bash
# Intake: each provider's real payloads, signatures and delivery ids; form bodies
# (GitHub signs the raw form, Gitea the decoded JSON); GitLab's token and signing
# token; the generic event; tag globs; a second secret for rotation.
set -u
source "$TESTS_DIR/lib/agent.sh"
agent_init
# workers = 0: builds stay queued (this test is about intake, not builds)
AGENT_EXTRA="workers = 0"
GH="github-provider-secret-$$" GT="gitea-provider-secret-$$" GL="gitlab-provider-token-$$"
KEY_B64=$(head -c 32 /dev/urandom | base64)
agent_repo gh "$GH" "tags=v*"
agent_repo gt "$GT"
agent_repo gl "$GL
whsec_$KEY_B64"
agent_repo rot "old-rotation-secret-$$
new-rotation-secret-$$"
start_agent || fail "agent did not start"

check_build() {	# provider delivery ref sha
	local id
	id=$(printf '%s' "$HTTP_BODY" | jq -r .build)
	http_req "$AGENT_URL/builds/$id"
	expect 200 .provider "$1"
	expect 200 .delivery "$2"
	expect 200 .ref "$3"
	expect 200 .sha "$4"
	expect 200 .state queued
}

# GitHub, JSON
post_hook github gh "$FIXTURES/github-push.json" "$GH" gh-json
expect 202
check_build github gh-json refs/heads/master "$(jq -r .after "$FIXTURES/github-push.json")"
# GitHub, tag allowed by tags = v*
post_hook github gh "$FIXTURES/github-push-tag.json" "$GH" gh-tag
expect 202
check_build github gh-tag refs/tags/v0.0.1 "$(jq -r .after "$FIXTURES/github-push-tag.json")"
# GitHub, form-encoded: the signature covers the raw form body
form=$AGENT_DIR/gh.form
printf 'payload=%s' "$(jq -c . "$FIXTURES/github-push-branch-create.json" | jq -sRr @uri)" >"$form"
http_req -X POST -H "X-GitHub-Event: push" -H "X-GitHub-Delivery: gh-form" \
	-H "Content-Type: application/x-www-form-urlencoded" \
	-H "X-Hub-Signature-256: sha256=$(sign "$GH" "$form")" --data-binary "@$form" "$AGENT_URL/hooks/gh"
expect 202
check_build github gh-form refs/heads/master "$(jq -r .after "$FIXTURES/github-push-branch-create.json")"

# Gitea, JSON with X-Gitea-Signature
post_hook gitea gt "$FIXTURES/gitea-push.json" "$GT" gt-json
expect 202
check_build gitea gt-json refs/heads/master "$(jq -r .after "$FIXTURES/gitea-push.json")"
# Forgejo headers with X-Hub-Signature-256, the legacy payload without head_commit
f=$FIXTURES/gitea-push-legacy.json
http_req -X POST -H "X-Forgejo-Event: push" -H "X-Forgejo-Delivery: fj-1" -H "Content-Type: application/json" \
	-H "X-Hub-Signature-256: sha256=$(sign "$GT" "$f")" --data-binary "@$f" "$AGENT_URL/hooks/gt"
expect 202
check_build gitea fj-1 refs/heads/master "$(jq -r .after "$f")"
# Gitea, form-encoded: the signature covers the decoded JSON
json=$AGENT_DIR/gt.json
jq -c '.after = "1111111111111111111111111111111111111111"' "$FIXTURES/gitea-push.json" >"$json"
printf 'payload=%s' "$(jq -sRr @uri <"$json")" >"$AGENT_DIR/gt.form"
http_req -X POST -H "X-Gitea-Event: push" -H "X-Gitea-Delivery: gt-form" \
	-H "Content-Type: application/x-www-form-urlencoded" -H "X-Gitea-Signature: $(sign "$GT" "$json")" \
	--data-binary "@$AGENT_DIR/gt.form" "$AGENT_URL/hooks/gt"
expect 202
check_build gitea gt-form refs/heads/master 1111111111111111111111111111111111111111
# the same form signed over the raw body is refused
http_req -X POST -H "X-Gitea-Event: push" -H "X-Gitea-Delivery: gt-form2" \
	-H "Content-Type: application/x-www-form-urlencoded" -H "X-Gitea-Signature: $(sign "$GT" "$AGENT_DIR/gt.form")" \
	--data-binary "@$AGENT_DIR/gt.form" "$AGENT_URL/hooks/gt"
expect 401

# GitLab, X-Gitlab-Token
post_hook gitlab gl "$FIXTURES/gitlab-push-hook.json" "$GL" gl-token
expect 202
check_build gitlab gl-token refs/heads/master "$(jq -r .after "$FIXTURES/gitlab-push-hook.json")"
post_hook gitlab gl "$FIXTURES/gitlab-push-hook.json" "wrong-token" gl-wrong
expect 401
EVENT="Tag Push Hook" post_hook gitlab gl "$FIXTURES/gitlab-tag-push-hook.json" "$GL" gl-tag
expect 200 '.ignored | type' string		# no tags globs on this repo
# GitLab signing token (Standard Webhooks): v1,base64(HMAC(key, id.ts.body))
gl_signed() {	# ts delivery [payload]
	local f=${3:-$FIXTURES/gitlab-push-hook.json} keyhex sig
	keyhex=$(printf '%s' "$KEY_B64" | base64 -d | od -An -tx1 | tr -d ' \n')
	sig=$({ printf '%s.%s.' "msg-$2" "$1"; cat "$f"; } |
		openssl dgst -sha256 -mac HMAC -macopt "hexkey:$keyhex" -binary | base64)
	http_req -X POST -H "X-Gitlab-Event: Push Hook" -H "X-Gitlab-Event-UUID: $2" \
		-H "Content-Type: application/json" -H "webhook-id: msg-$2" -H "webhook-timestamp: $1" \
		-H "webhook-signature: v1,$sig" --data-binary "@$f" "$AGENT_URL/hooks/gl"
}
# (another commit: the token's push built this one already)
glp=$(push_of "$FIXTURES/gitlab-push-hook.json" gl-signed)
gl_signed "$(date +%s)" gl-signed "$glp"
expect 202
check_build gitlab gl-signed refs/heads/master "$(jq -r .after "$glp")"
gl_signed "$(($(date +%s) - 3600))" gl-stale "$glp"
expect 401

# Generic event (what `s2i-agent notify` sends), X-Request-Id as delivery id
g=$AGENT_DIR/generic.json
printf '{"ref": "refs/heads/main", "before": "%s", "after": "%s"}' \
	2222222222222222222222222222222222222222 3333333333333333333333333333333333333333 >"$g"
post_hook generic gh "$g" "$GH" gen-1
expect 202
gen_id=$(printf '%s' "$HTTP_BODY" | jq -r .build)
check_build generic gen-1 refs/heads/main 3333333333333333333333333333333333333333
post_hook generic gh "$g" "$GH" gen-1
expect 200 .duplicate "$gen_id"

# Rotation: both secrets of a repo are accepted, a third is not
post_hook github rot "$FIXTURES/github-push.json" "old-rotation-secret-$$" rot-old
expect 202
post_hook github rot "$(push_of "$FIXTURES/github-push.json" rot-new)" "new-rotation-secret-$$" rot-new
expect 202
post_hook github rot "$FIXTURES/github-push.json" "other-secret-$$" rot-other
expect 401

# the same delivery id from two providers of one repo is two deliveries
post_hook generic gt "$g" "$GT" same-id
expect 202
post_hook gitea gt "$(push_of "$FIXTURES/gitea-push.json" same-id)" "$GT" same-id
expect 202

stop_agent || fail "agent exited $? on SIGTERM"
for s in "$GH" "$GT" "$GL" "$KEY_B64" "old-rotation-secret-$$" "new-rotation-secret-$$"; do
	grep -qF -- "$s" "$AGENT_LOG" && fail "a secret appears in the log"
done
exit 0
