#!/usr/bin/env bash
# Status posts through forge.c (s2i-agent __forge-post) to the forge double:
# exact requests per provider, 201, 401, 422, 500/429/403/hang -> retry class.
set -u
. "$TESTS_DIR/lib/forge_double.sh"

tmp=$(mktemp -d)
trap 'forge_double_stop; rm -rf "$tmp"' EXIT
forge_double_start "$tmp" || { echo "cannot start the forge double"; exit 1; }

SHA=0123456789abcdef0123456789abcdef01234567
TOKEN="s3cr3t-tok-$$"
printf '%s\n' "$TOKEN" >"$tmp/token"
chmod 600 "$tmp/token"
forge_double_ctl "{\"token\": \"$TOKEN\"}" >/dev/null
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
check() {	# what, expected, actual
	if [ "$2" != "$3" ]; then fail "$1: expected '$2', got '$3'"; else echo "ok: $1"; fi
}

post() {	# provider api-suffix extra-args...
	local p=$1 api=$2
	shift 2
	"$S2I_AGENT" __forge-post --status "$p" --api "$FORGE_DOUBLE_URL$api" \
		--token-file "$tmp/token" --public-url https://ci.example.com --sha "$SHA" "$@" \
		>"$tmp/out" 2>&1
	echo $? >"$tmp/rc"
	cat "$tmp/out"
	if grep -q "$TOKEN" "$tmp/out"; then fail "the token appears in the output"; fi
}
rc() { cat "$tmp/rc"; }

# ---- GitHub: 201, exact request ----
post github "" --repo-url https://github.com/acme/web.git --id 7 --state queued
check "github queued exit" 0 "$(rc)"
grep -q '^attempt 1: done http=201$' "$tmp/out" || fail "no done line"
check "github path" "/repos/acme/web/statuses/$SHA" "$(forge_double_req 1 .path)"
check "github method" POST "$(forge_double_req 1 .method)"
check "github authorization" "Bearer $TOKEN" "$(forge_double_req 1 '.headers.authorization')"
check "github accept" "application/vnd.github+json" "$(forge_double_req 1 '.headers.accept')"
check "github api version" "2022-11-28" "$(forge_double_req 1 '.headers["x-github-api-version"]')"
check "github user agent" "s2i-agent/" "$(forge_double_req 1 '.headers["user-agent"]' | sed 's/[0-9.]*$//')"
check "github content type" "application/json" "$(forge_double_req 1 '.headers["content-type"]')"
check "github body" '{"state":"pending","target_url":"https://ci.example.com/builds/7","description":"build #7 queued","context":"s2i-agent"}' \
	"$(forge_double_req 1 .raw)"
check "github answer" 201 "$(forge_double_req 1 .answer.code)"
check "github answer body state" pending "$(forge_double_req 1 .answer.body.state)"

post github "" --repo-url https://github.com/acme/web.git --id 7 --state succeeded --context ci/s2i \
	--description "$(printf 'é%.0s' $(seq 1 200))"
check "github long utf-8 description accepted" 0 "$(rc)"
check "github description is 140 characters" 140 "$(forge_double_req 2 '.body.description | length')"
check "github success body state" success "$(forge_double_req 2 .body.state)"
check "github context" ci/s2i "$(forge_double_req 2 .body.context)"

# ---- 401 with a wrong token: permanent, forge's message, no token shown ----
printf 'wrong-token\n' >"$tmp/bad"; chmod 600 "$tmp/bad"
"$S2I_AGENT" __forge-post --status github --api "$FORGE_DOUBLE_URL" --token-file "$tmp/bad" \
	--repo-url https://github.com/acme/web --sha "$SHA" --id 1 --state failed >"$tmp/out" 2>&1
check "401 exit" 1 $?
grep -q 'failed http=401: .*HTTP 401: Bad credentials' "$tmp/out" || fail "401 message: $(cat "$tmp/out")"
grep -q wrong-token "$tmp/out" && fail "401 output shows the token"

# ---- 422 (GitHub's validation body): permanent, with the forge's message ----
forge_double_ctl '{"fail": [{"code": 422, "body": {"message": "Validation Failed", "errors": [{"resource": "Status", "code": "custom", "field": "state", "message": "state is not included in the list"}], "documentation_url": "https://docs.github.com/rest/commits/statuses#create-a-commit-status", "status": "422"}}]}' >/dev/null
post github "" --repo-url https://github.com/acme/web --id 8 --state failed
check "422 exit" 1 "$(rc)"
grep -q 'failed http=422: POST .*: HTTP 422: Validation Failed: state is not included in the list' "$tmp/out" ||
	fail "422 message"
# the double's own check: an unknown commit is a 422 too
"$S2I_AGENT" __forge-post --status github --api "$FORGE_DOUBLE_URL" --token-file "$tmp/token" \
	--status-repo acme/web --sha "$SHA${SHA:0:24}" --id 8 --state failed 2>&1 | grep -q 'HTTP 422: No commit found for SHA' ||
	fail "unknown sha 422"

# ---- 500: retry class; with a retry allowed the second post lands ----
forge_double_ctl '{"fail": [500]}' >/dev/null
post github "" --repo-url https://github.com/acme/web --id 9 --state running
check "500 exit (retry class)" 75 "$(rc)"
grep -q '^attempt 1: retry http=500 retry_after=0 delay=[12]: .*HTTP 500: Server Error' "$tmp/out" || fail "500 line"
n0=$(forge_double_count)
forge_double_ctl '{"fail": [502]}' >/dev/null
post github "" --repo-url https://github.com/acme/web --id 9 --state running --retries 3
check "502 then 201 exit" 0 "$(rc)"
check "502 then 201: two requests" $((n0 + 2)) "$(forge_double_count)"
check "first answer" 502 "$(forge_double_req $((n0 + 1)) .answer.code)"
check "second answer" 201 "$(forge_double_req $((n0 + 2)) .answer.code)"
check "same body both times" "$(forge_double_req $((n0 + 1)) .raw)" "$(forge_double_req $((n0 + 2)) .raw)"

# ---- 429 + Retry-After: the retry waits at least that long ----
n0=$(forge_double_count)
forge_double_ctl '{"fail": [429], "retry_after": 3}' >/dev/null
post github "" --repo-url https://github.com/acme/web --id 10 --state running --retries 2
check "429 exit" 0 "$(rc)"
grep -q '^attempt 1: retry http=429 retry_after=3 delay=3: .*(retry after 3s)' "$tmp/out" || fail "429 line"
check "429 answer has Retry-After" 3 "$(forge_double_req $((n0 + 1)) '.answer.headers["Retry-After"]')"
gap=$(jq -rs --argjson a "$n0" '(.[$a + 1].time - .[$a].time) >= 3' "$FORGE_DOUBLE_LOG")
check "429: second post not before Retry-After" true "$gap"

# ---- 429 + Retry-After as an HTTP-date ----
when=$(date -u -d '@'$(($(date +%s) + 30)) '+%a, %d %b %Y %H:%M:%S GMT')
forge_double_ctl "{\"fail\": [{\"code\": 429, \"retry_after\": \"$when\"}]}" >/dev/null
post github "" --repo-url https://github.com/acme/web --id 10 --state running
check "429 date exit" 75 "$(rc)"
ra=$(sed -n 's/.*retry_after=\([0-9]*\).*/\1/p' "$tmp/out")
[ -n "$ra" ] && [ "$ra" -ge 15 ] && [ "$ra" -le 30 ] || fail "HTTP-date Retry-After gave '$ra'"

# ---- 403 with rate-limit headers: retry at the reset ----
forge_double_ctl '{"fail": [{"code": 403, "ratelimit_reset": 40}]}' >/dev/null
post github "" --repo-url https://github.com/acme/web --id 11 --state running
check "403 rate limit exit" 75 "$(rc)"
ra=$(sed -n 's/.*retry_after=\([0-9]*\).*/\1/p' "$tmp/out")
[ -n "$ra" ] && [ "$ra" -ge 25 ] && [ "$ra" -le 40 ] || fail "rate-limit reset gave '$ra'"
grep -q 'HTTP 403: API rate limit exceeded' "$tmp/out" || fail "403 message"
# a 403 without rate-limit headers is permanent
forge_double_ctl '{"fail": [{"code": 403, "body": {"message": "Resource not accessible by integration"}}]}' >/dev/null
post github "" --repo-url https://github.com/acme/web --id 11 --state running
check "403 permanent exit" 1 "$(rc)"

# ---- hang: the timeout makes it a retry ----
n0=$(forge_double_count)
forge_double_ctl '{"hang": true}' >/dev/null
post github "" --repo-url https://github.com/acme/web --id 12 --state running --timeout 2
check "hang exit (retry class)" 75 "$(rc)"
grep -qi '^attempt 1: retry http=0 .*timed out' "$tmp/out" || fail "hang line"
check "hang recorded" true "$(forge_double_req $((n0 + 1)) .answer.hang)"

# ---- GitLab: encoded path, PRIVATE-TOKEN, name, ref; a repeated state is not an error ----
n0=$(forge_double_count)
post gitlab /api/v4 --repo-url https://gitlab.example.com/group/sub/proj.git --ref refs/heads/main \
	--id 13 --state running
check "gitlab running exit" 0 "$(rc)"
check "gitlab path" "/api/v4/projects/group%2Fsub%2Fproj/statuses/$SHA" "$(forge_double_req $((n0 + 1)) .path)"
check "gitlab token header" "$TOKEN" "$(forge_double_req $((n0 + 1)) '.headers["private-token"]')"
check "gitlab no authorization" null "$(forge_double_req $((n0 + 1)) '.headers.authorization')"
check "gitlab body" '{"state":"running","ref":"main","target_url":"https://ci.example.com/builds/13","description":"build #13 running","name":"s2i-agent"}' \
	"$(forge_double_req $((n0 + 1)) .raw)"
post gitlab /api/v4 --repo-url https://gitlab.example.com/group/sub/proj.git --ref refs/heads/main \
	--id 13 --state running
check "gitlab repeated running exit" 0 "$(rc)"
check "gitlab repeated running answer" 400 "$(forge_double_req $((n0 + 2)) .answer.code)"
post gitlab /api/v4 --repo-url https://gitlab.example.com/group/sub/proj.git --ref refs/heads/main \
	--id 13 --state errored
check "gitlab errored exit" 0 "$(rc)"
check "gitlab errored is failed" failed "$(forge_double_req $((n0 + 3)) .body.state)"
check "gitlab errored answer" 201 "$(forge_double_req $((n0 + 3)) .answer.code)"

# ---- Gitea: token scheme, failure state ----
n0=$(forge_double_count)
post gitea /api/v1 --repo-url ssh://git@git.example.com:2222/acme/web.git --id 14 --state failed
check "gitea exit" 0 "$(rc)"
check "gitea path" "/api/v1/repos/acme/web/statuses/$SHA" "$(forge_double_req $((n0 + 1)) .path)"
check "gitea authorization" "token $TOKEN" "$(forge_double_req $((n0 + 1)) .headers.authorization)"
check "gitea body" '{"state":"failure","target_url":"https://ci.example.com/builds/14","description":"build #14 failed","context":"s2i-agent"}' \
	"$(forge_double_req $((n0 + 1)) .raw)"
check "gitea answer" 201 "$(forge_double_req $((n0 + 1)) .answer.code)"

# ---- the double itself answers GitHub's validation errors ----
gh() {	# body [auth] -> "code body"
	curl -s -o "$tmp/ans" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
		${2:+-H "Authorization: $2"} --data-binary "$1" "$FORGE_DOUBLE_URL/repos/acme/web/statuses/$SHA"
}
check "double: no token" 401 "$(gh '{"state":"success"}')"
check "double: no token message" "Requires authentication" "$(jq -r .message "$tmp/ans")"
check "double: bad state" 422 "$(gh '{"state":"done"}' "Bearer $TOKEN")"
check "double: bad state field" state "$(jq -r '.errors[0].field' "$tmp/ans")"
check "double: missing state" 422 "$(gh '{"context":"x"}' "token $TOKEN")"
jq -r .message "$tmp/ans" | grep -q "wasn't supplied" || fail "double: missing state message"
long=$(printf 'a%.0s' $(seq 1 141))
check "double: long description" 422 "$(gh "{\"state\":\"success\",\"description\":\"$long\"}" "Bearer $TOKEN")"
check "double: long description message" "description is too long (maximum is 140 characters)" \
	"$(jq -r '.errors[0].message' "$tmp/ans")"
e140=$(printf 'é%.0s' $(seq 1 140))
check "double: 140 characters of 2 bytes" 201 "$(gh "{\"state\":\"success\",\"description\":\"$e140\"}" "Bearer $TOKEN")"
check "double: bad target_url" 422 "$(gh '{"state":"success","target_url":"ftp://x/y"}' "Bearer $TOKEN")"
check "double: bad json" 400 "$(gh '{"state":' "Bearer $TOKEN")"

# ---- a post whose client is gone before the answer (a status process killed with its
# agent, as in fleet-chaos): the forge has it, so the double lists it and logs it too ----
n0=$(forge_double_count)
python3 - "${FORGE_DOUBLE_URL##*:}" "$TOKEN" "$SHA" <<'EOF'
import json, socket, sys
port, token, sha = int(sys.argv[1]), sys.argv[2], sys.argv[3]
for i in range(1, 6):
    body = json.dumps({"state": "success", "description": "gone %d" % i, "context": "s2i-agent",
                       "target_url": "https://ci.example.com/builds/%d" % i}).encode()
    head = ("POST /repos/acme/gone/statuses/%s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
            "Content-Length: %d\r\n\r\n" % (sha, token, len(body))).encode()
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(head + body)
    s.close()	# before the answer: its write fails at the double
EOF
gone_logged() {	# the descriptions of their posts in the log, sorted
	jq -rs --argjson n "$n0" '[.[$n:][] | select(.method == "POST") | .body.description]
		| sort | join(",")' "$FORGE_DOUBLE_LOG"
}
for i in $(seq 1 50); do [ "$(gone_logged)" = "gone 1,gone 2,gone 3,gone 4,gone 5" ] && break; sleep 0.1; done
check "posts of gone clients logged" "gone 1,gone 2,gone 3,gone 4,gone 5" "$(gone_logged)"
check "posts of gone clients listed" 5 "$(curl -s -H "Authorization: Bearer $TOKEN" \
	"$FORGE_DOUBLE_URL/repos/acme/gone/commits/$SHA/statuses" | jq length)"
# the case was met: the answer to one at least could not be written
[ "$(jq -s --argjson n "$n0" '[.[$n:][] | select(.answer.gone)] | length' "$FORGE_DOUBLE_LOG")" -ge 1 ] ||
	fail "no answer found its client gone: the case was not met"

[ "$fails" -eq 0 ] || { echo "$fails failures"; exit 1; }
echo "all forge double checks passed"
