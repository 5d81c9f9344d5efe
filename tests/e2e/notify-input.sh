#!/usr/bin/env bash
# s2i-agent notify: input validation, the signed generic events it posts (signature
# checked with openssl), answers it reports, 503 + Retry-After retries.
set -u
. "$TESTS_DIR/lib/agent_double.sh"

tmp=$(mktemp -d)
trap 'agent_double_stop; rm -rf "$tmp"' EXIT
agent_double_start "$tmp" || { echo "cannot start the agent double"; exit 1; }

A=1111111111111111111111111111111111111111
B=2222222222222222222222222222222222222222
C=abcdefabcdefabcdefabcdefabcdefabcdef0123
Z=0000000000000000000000000000000000000000
SECRET="It's a Secret to Everybody"
printf '%s\nold-secret-for-rotation\n' "$SECRET" >"$tmp/secret"
chmod 600 "$tmp/secret"
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
check() {	# what, expected, actual
	if [ "$2" != "$3" ]; then fail "$1: expected '$2', got '$3'"; else echo "ok: $1"; fi
}
notify() {	# stdin-text args... -> rc in $tmp/rc, stderr in $tmp/err
	local input=$1
	shift
	printf '%s' "$input" | "$S2I_AGENT" notify "$@" >"$tmp/out" 2>"$tmp/err"
	echo $? >"$tmp/rc"
}
rc() { cat "$tmp/rc"; }

# ---- usage ----
notify "" --url "$AGENT_DOUBLE_URL"
check "no repo: usage" 2 "$(rc)"
notify "" --url "$AGENT_DOUBLE_URL" a/b
check "repo name with a slash" 2 "$(rc)"
notify "" --url "ftp://127.0.0.1/" web
check "url scheme" 2 "$(rc)"
notify "" --url "$AGENT_DOUBLE_URL" web extra
check "two repos" 2 "$(rc)"

# ---- malformed lines: nothing is posted ----
bad_lines=(
	"$A $B"
	"$A $B "
	"${A:0:39} $B refs/heads/main"
	"${A}1 $B refs/heads/main"
	"$A g222222222222222222222222222222222222222 refs/heads/main"
	"$A $B heads/main"
	"$A $B refs/"
	"$A $B refs/heads/a b"
	"$A $B refs/heads/../x"
	"$A $B refs/heads/x.lock"
	"$A $B refs/heads/x/"
	"$A $B refs/heads/a~1"
	"$A $B refs/heads/a:b"
	"$A $B refs/heads/@{x}"
	"$A	$B	refs/heads/main"
)
for l in "${bad_lines[@]}"; do
	notify "$B $C refs/heads/ok
$l
" --url "$AGENT_DOUBLE_URL" web
	check "bad line '$l' exit" 2 "$(rc)"
	grep -q 'stdin line 2' "$tmp/err" || fail "bad line '$l': no line number in: $(cat "$tmp/err")"
done
check "nothing posted for bad input" 0 "$(agent_double_count)"

# ---- a secret file readable by others is refused ----
cp "$tmp/secret" "$tmp/open-secret"
chmod 644 "$tmp/open-secret"
notify "$A $B refs/heads/main
" --url "$AGENT_DOUBLE_URL" --secret-file "$tmp/open-secret" web
check "group/other-readable secret refused" 2 "$(rc)"
grep -q 'readable by group or others' "$tmp/err" || fail "secret message: $(cat "$tmp/err")"
check "nothing posted with an open secret" 0 "$(agent_double_count)"

# ---- two refs: two signed events ----
notify "$A $B refs/heads/main
$Z $C refs/tags/v1.0
" --url "$AGENT_DOUBLE_URL/" --secret-file "$tmp/secret" web
check "two refs exit" 0 "$(rc)"
check "two posts" 2 "$(agent_double_count)"
for n in 1 2; do
	check "post $n path" /hooks/web "$(agent_double_req $n .path)"
	check "post $n content type" application/json "$(agent_double_req $n '.headers["content-type"]')"
	sig=$(agent_double_req $n '.headers["x-hub-signature-256"]')
	want=sha256=$(openssl dgst -sha256 -hmac "$SECRET" -r "$(agent_double_req $n .body_file)" | cut -d' ' -f1)
	check "post $n signature (openssl, first line of the secret file)" "$want" "$sig"
	[[ $(agent_double_req $n '.headers["x-request-id"]') =~ ^[0-9a-f]{32}$ ]] || fail "post $n request id"
done
# pushed_at (ms) and a nonce (the request id) make each event's signed body its own
body_of() { agent_double_req "$1" .body | sed -E 's/"pushed_at":[0-9]{13},/"pushed_at":T,/'; }
check "event 1 body" "{\"ref\":\"refs/heads/main\",\"before\":\"$A\",\"after\":\"$B\",\"pushed_at\":T,\"nonce\":\"$(agent_double_req 1 '.headers["x-request-id"]')\"}" "$(body_of 1)"
check "event 2 body" "{\"ref\":\"refs/tags/v1.0\",\"before\":\"$Z\",\"after\":\"$C\",\"pushed_at\":T,\"nonce\":\"$(agent_double_req 2 '.headers["x-request-id"]')\"}" "$(body_of 2)"
now=$(date +%s%3N)
t=$(agent_double_req 1 .body | jq .pushed_at)
[ $((now - t)) -ge 0 ] && [ $((now - t)) -lt 600000 ] || fail "pushed_at $t is not the time of the post ($now)"
[ "$(agent_double_req 1 '.headers["x-request-id"]')" != "$(agent_double_req 2 '.headers["x-request-id"]')" ] ||
	fail "request ids repeat across events"
grep -q '^s2i-agent: refs/heads/main: queued build 1 (https://ci.example.com/builds/1)$' "$tmp/err" || fail "queued line 1"
grep -q '^s2i-agent: refs/tags/v1.0: queued build 2 ' "$tmp/err" || fail "queued line 2"

# ---- uppercase hex is accepted and sent lowercase; no secret: no signature ----
n0=$(agent_double_count)
notify "${A} ${C^^} refs/heads/dev
" --url "$AGENT_DOUBLE_URL" web
check "unsigned exit" 0 "$(rc)"
check "unsigned: no signature header" null "$(agent_double_req $((n0 + 1)) '.headers["x-hub-signature-256"]')"
check "lowercased sha" "$C" "$(agent_double_req $((n0 + 1)) '.body | fromjson | .after')"

# ---- S2I_AGENT_URL when there is no --url ----
n0=$(agent_double_count)
printf '%s %s refs/heads/main\n' "$A" "$B" | S2I_AGENT_URL=$AGENT_DOUBLE_URL "$S2I_AGENT" notify web 2>"$tmp/err"
check "S2I_AGENT_URL exit" 0 $?
check "S2I_AGENT_URL used" $((n0 + 1)) "$(agent_double_count)"

# ---- answers: ignored, 401, 503 + Retry-After ----
cat >"$AGENT_DOUBLE_SCRIPT" <<EOF
{"ignore_refs": {"refs/heads/skip": "ref not matched by branches"}}
EOF
notify "$A $B refs/heads/skip
" --url "$AGENT_DOUBLE_URL" --secret-file "$tmp/secret" web
check "ignored exit" 0 "$(rc)"
grep -q '^s2i-agent: refs/heads/skip: ignored: ref not matched by branches$' "$tmp/err" || fail "ignored line: $(cat "$tmp/err")"

cat >"$AGENT_DOUBLE_SCRIPT" <<EOF
{"hooks": [{"code": 401, "body": {"error": "signature does not match"}}]}
EOF
notify "$A $B refs/heads/main
" --url "$AGENT_DOUBLE_URL" --secret-file "$tmp/secret" web
check "401 exit (not delivered)" 3 "$(rc)"
grep -q "refs/heads/main: error: .*answered 401: signature does not match" "$tmp/err" || fail "401 line: $(cat "$tmp/err")"
grep -q "$SECRET" "$tmp/err" && fail "the secret shows in the output"

n0=$(agent_double_count)
cat >"$AGENT_DOUBLE_SCRIPT" <<EOF
{"hooks": [{"code": 503, "body": {"error": "queue full"}, "headers": {"Retry-After": "1"}},
           {"code": 503, "body": {"error": "queue full"}, "headers": {"Retry-After": "1"}},
           {"code": 202, "body": {"build": 77, "url": "https://ci.example.com/builds/77"}}]}
EOF
notify "$A $B refs/heads/main
" --url "$AGENT_DOUBLE_URL" --secret-file "$tmp/secret" web
check "503 then 202 exit" 0 "$(rc)"
check "503 twice then 202: three posts" $((n0 + 3)) "$(agent_double_count)"
check "same request id on a retry" "$(agent_double_req $((n0 + 1)) '.headers["x-request-id"]')" \
	"$(agent_double_req $((n0 + 3)) '.headers["x-request-id"]')"
check "same body on a retry" "$(agent_double_req $((n0 + 1)) .body)" "$(agent_double_req $((n0 + 3)) .body)"
gap=$(jq -rs --argjson a "$n0" '(.[$a + 1].time - .[$a].time) >= 1' "$AGENT_DOUBLE_LOG")
check "the retry waited for Retry-After" true "$gap"
grep -q 'agent busy (503: queue full); trying again in 1s' "$tmp/err" || fail "503 line: $(cat "$tmp/err")"
grep -q 'queued build 77' "$tmp/err" || fail "queued 77"

cat >"$AGENT_DOUBLE_SCRIPT" <<EOF
{"hooks": [{"code": 503, "headers": {"Retry-After": "1"}}, {"code": 503, "headers": {"Retry-After": "1"}}, {"code": 503, "headers": {"Retry-After": "1"}}, {"code": 503, "headers": {"Retry-After": "1"}}]}
EOF
notify "$A $B refs/heads/main
" --url "$AGENT_DOUBLE_URL" web
check "503 forever exit (not delivered)" 3 "$(rc)"
grep -q 'error: .*answered 503' "$tmp/err" || fail "503 give-up line: $(cat "$tmp/err")"

# ---- no agent at all: an error, after a few quick tries ----
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
notify "$A $B refs/heads/main
" --url "http://127.0.0.1:$port" web
check "no agent exit (not delivered)" 3 "$(rc)"
grep -q "refs/heads/main: nothing was built; push again once the agent answers, or ask for a build: curl -X POST .*http://127.0.0.1:$port/repos/web/builds" "$tmp/err" ||
	fail "no recovery hint: $(cat "$tmp/err")"
grep -q 'refs/heads/main: error: POST http://127.0.0.1:[0-9]*/hooks/web: ' "$tmp/err" || fail "no agent line: $(cat "$tmp/err")"

[ "$fails" -eq 0 ] || { echo "$fails failures"; exit 1; }
echo "all notify input checks passed"
