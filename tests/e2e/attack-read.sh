#!/usr/bin/env bash
# Attack: the read side of a published agent. Builds, logs (whatever a build script
# prints) and /metrics used to be open to anyone who could reach the port, and the
# README's reverse-proxy recipe published them; the Host header was not checked, so a
# page the build host's browser opened could read a local agent through DNS rebinding.
# Wanted, once public_url names a host beyond loopback: 401 without a token; a read
# token, the admin token or the sign-in cookie (HttpOnly, SameSite=Strict) opens it;
# another Host gets 421 and an HTTP/1.1 request without one 400; /healthz stays open
# but says nothing private; webhooks stay signature-checked, never token-gated;
# refusals are logged at most HTTP_DENY_LOG_BURST times a minute.
set -u
source "$TESTS_DIR/lib/agent.sh"
agent_init
S="attack-read-secret-$$"
agent_repo web "$S"
RT="read-token-$$-0123456789abcdef"
AT="admin-token-$$-0123456789abcdef"
printf '%s\n' "$RT" >"$AGENT_DIR/read.token"
printf '%s\n' "$AT" >"$AGENT_DIR/admin.token"
chmod 600 "$AGENT_DIR/read.token" "$AGENT_DIR/admin.token"
# published: behind a reverse proxy at a public name (the README's recipe)
AGENT_EXTRA="read_token_file = $AGENT_DIR/read.token
admin_token_file = $AGENT_DIR/admin.token
public_url = https://ci.example.com"
start_agent || fail "agent did not start"
PUB=(-H "Host: ci.example.com")

post_hook github web "$FIXTURES/github-push.json" "$S" "attack-read-$$-1" "${PUB[@]}"
expect 202
id=$(jq -r .build <<<"$HTTP_BODY")

# 1. closed without a token
for p in /builds "/builds/$id" "/builds/$id/log" /metrics /; do
	http_req "${PUB[@]}" "$AGENT_URL$p"
	expect 401
	grep -qi '^WWW-Authenticate: Bearer' "$HTTP_HEADERS" || fail "$p: 401 without WWW-Authenticate"
	grep -q '"web"\|s2i_agent_' "$AGENT_DIR/last.body" && fail "$p: 401 leaks: $HTTP_BODY"
done
http_req "${PUB[@]}" -H "Authorization: Bearer wrong-$RT" "$AGENT_URL/builds"
expect 401
# a browser asking for the dashboard is sent to the sign-in page
http_req "${PUB[@]}" -H "Accept: text/html" "$AGENT_URL/"
expect 303
grep -qi '^Location: /login' "$HTTP_HEADERS" || fail "dashboard: no redirect to /login"
http_req "${PUB[@]}" "$AGENT_URL/login"
expect 200
grep -q '<form method="post" action="/login">' "$AGENT_DIR/last.body" || fail "no sign-in form"

# 2. a token opens it
for t in "$RT" "$AT"; do
	http_req "${PUB[@]}" -H "Authorization: Bearer $t" "$AGENT_URL/builds"
	expect 200 '.[0].id' "$id"
	http_req "${PUB[@]}" -H "Authorization: Bearer $t" "$AGENT_URL/metrics"
	expect 200
done
# the read token is not the admin token
http_req "${PUB[@]}" -X POST -H "Authorization: Bearer $RT" "$AGENT_URL/builds/$id/cancel"
expect 401

# 3. sign-in: a wrong token sets nothing, the right one an HttpOnly SameSite=Strict cookie
http_req "${PUB[@]}" --data-urlencode "token=nope" "$AGENT_URL/login"
expect 401
grep -qi '^Set-Cookie' "$HTTP_HEADERS" && fail "a wrong token got a cookie"
http_req "${PUB[@]}" --data-urlencode "token=$RT" "$AGENT_URL/login"
expect 303
cookie=$(sed -n 's/^[Ss]et-[Cc]ookie: \([^;]*\);.*/\1/p' "$HTTP_HEADERS" | tr -d '\r')
grep -i '^Set-Cookie' "$HTTP_HEADERS" | grep -q 'HttpOnly' || fail "cookie not HttpOnly"
grep -i '^Set-Cookie' "$HTTP_HEADERS" | grep -q 'SameSite=Strict' || fail "cookie not SameSite=Strict"
grep -i '^Set-Cookie' "$HTTP_HEADERS" | grep -q 'Secure' || fail "cookie of an https public_url not Secure"
grep -q "$RT" <<<"$cookie" && fail "the cookie holds the token"
http_req "${PUB[@]}" -H "Cookie: $cookie" "$AGENT_URL/builds"
expect 200 '.[0].id' "$id"
http_req "${PUB[@]}" -H "Cookie: $cookie" -H "Accept: text/html" "$AGENT_URL/"
expect 200
http_req "${PUB[@]}" -H "Cookie: ${cookie%?}0" "$AGENT_URL/builds"
expect 401

# 4. Host: rebinding refused, HTTP/1.1 without Host refused
http_req -H "Host: rebind.attacker.example" -H "Authorization: Bearer $RT" "$AGENT_URL/builds"
expect 421
http_req -H "Host: rebind.attacker.example:$AGENT_PORT" "$AGENT_URL/healthz"
expect 421
python3 - "$AGENT_PORT" <<'PY' || fail "HTTP/1.1 without Host was answered"
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"GET /healthz HTTP/1.1\r\n\r\n")
d = s.recv(4096)
print("no Host:", d.split(b"\r\n")[0].decode())
sys.exit(0 if d.startswith(b"HTTP/1.1 400") else 1)
PY

# 5. /healthz open, nothing private in it (the engine's socket path is not named)
http_req "${PUB[@]}" "$AGENT_URL/healthz"
[ "$HTTP_CODE" = 503 ] || [ "$HTTP_CODE" = 200 ] || fail "healthz: $HTTP_CODE"
grep -q "no-engine.sock\|$AGENT_DIR" "$AGENT_DIR/last.body" && fail "healthz tells a stranger: $HTTP_BODY"
http_req "${PUB[@]}" -H "Authorization: Bearer $RT" "$AGENT_URL/healthz"
grep -q "no-engine.sock" "$AGENT_DIR/last.body" || fail "healthz does not tell a reader why: $HTTP_BODY"

# 6. webhooks: no token needed, the signature still is
post_hook github web "$(push_of "$FIXTURES/github-push.json" 2)" "wrong-$S" "attack-read-$$-2" "${PUB[@]}"
expect 401
post_hook github web "$(push_of "$FIXTURES/github-push.json" 3)" "$S" "attack-read-$$-3" "${PUB[@]}"
expect 202

# 7. a hook holding the repository's secret follows the build it started
proof() { printf 's2i-agent read build %s' "$1" | openssl dgst -sha256 -hmac "$2" -r | cut -d' ' -f1; }
http_req "${PUB[@]}" -H "X-S2I-Agent-Build-Proof: $(proof "$id" "$S")" "$AGENT_URL/builds/$id"
expect 200 .id "$id"
http_req "${PUB[@]}" -H "X-S2I-Agent-Build-Proof: $(proof "$id" "wrong-$S")" "$AGENT_URL/builds/$id"
expect 401
http_req "${PUB[@]}" -H "X-S2I-Agent-Build-Proof: $(proof "$id" "$S")" "$AGENT_URL/builds"
expect 401
sha=$(printf 'notify' | sha1sum | cut -c1-40)
printf '%s %s refs/heads/main\n' 0000000000000000000000000000000000000000 "$sha" |
	timeout 60 "$S2I_AGENT" notify --url "$AGENT_URL" --secret-file "$AGENT_DIR/web.secret" --follow web \
	>"$AGENT_DIR/notify.out" 2>&1
cat "$AGENT_DIR/notify.out"
grep -q 'build [0-9]* errored' "$AGENT_DIR/notify.out" || fail "notify --follow could not follow its build on a published agent"

# 8. refusals flood the log no more
for i in $(seq 1 60); do
	curl -s -o /dev/null -H "Host: ci.example.com" -H "Authorization: Bearer bad-$i" "$AGENT_URL/builds"
done
# over 70 refused in this run (well within a minute): at most 10 lines
lines=$(grep -c 'refused' "$AGENT_LOG")
echo "log lines for the $((60 + 15)) or so refused requests of this run: $lines"
[ "$lines" -ge 1 ] && [ "$lines" -le 10 ] || fail "refused requests wrote $lines log lines"
stop_agent || fail "agent exited $? on SIGTERM"

# 9. public_read = yes opens it again; loopback without a public name is open by default
AGENT_EXTRA="$AGENT_EXTRA
public_read = yes"
KEEP_PORT=1 start_agent || fail "agent did not restart"
http_req "${PUB[@]}" "$AGENT_URL/builds"
expect 200
stop_agent || fail "agent exited $? on SIGTERM"
echo "attack-read: private read side, tokens and cookie, Host checked, healthz quiet"
