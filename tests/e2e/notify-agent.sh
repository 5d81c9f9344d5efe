#!/usr/bin/env bash
# s2i-agent notify against the real daemon: its signed generic events are accepted
# (queued with the request id as delivery), a wrong secret is a 401, branch globs
# and deletions are reported as ignored, an unknown repo as an error.
set -u
source "$TESTS_DIR/lib/agent.sh"
agent_init
A=1111111111111111111111111111111111111111
B=2222222222222222222222222222222222222222
C=3333333333333333333333333333333333333333
Z=0000000000000000000000000000000000000000
agent_repo web "notify-agent-secret-$$
previous-secret-$$" "branches=main release/*"
start_agent || fail "agent did not start"

out=$AGENT_DIR/notify.err
printf '%s %s refs/heads/main\n%s %s refs/heads/release/1.0\n' "$A" "$B" "$B" "$C" |
	"$S2I_AGENT" notify --url "$AGENT_URL" --secret-file "$AGENT_DIR/web.secret" web 2>"$out"
rc=$?
cat "$out"
[ "$rc" = 0 ] || fail "notify exit $rc"
id1=$(sed -n 's/.*refs\/heads\/main: queued build \([0-9]*\) .*/\1/p' "$out")
id2=$(sed -n 's/.*refs\/heads\/release\/1.0: queued build \([0-9]*\) .*/\1/p' "$out")
[ -n "$id1" ] && [ -n "$id2" ] && [ "$id1" != "$id2" ] || fail "two queued builds expected"
grep -q "queued build $id1 (http://127.0.0.1:$AGENT_PORT/builds/$id1)" "$out" || fail "build url"

http_req "$AGENT_URL/builds/$id1"
expect 200 .provider generic
expect 200 .ref refs/heads/main
expect 200 .sha "$B"
expect 200 .repo web
[[ $(printf '%s' "$HTTP_BODY" | jq -r .delivery) =~ ^[0-9a-f]{32}$ ]] || fail "delivery is not notify's request id"
http_req "$AGENT_URL/builds/$id2"
expect 200 .ref refs/heads/release/1.0
expect 200 .sha "$C"

# not matched by branches, and a deletion: ignored, exit 0
printf '%s %s refs/heads/feature\n%s %s refs/heads/main\n' "$A" "$B" "$B" "$Z" |
	"$S2I_AGENT" notify --url "$AGENT_URL" --secret-file "$AGENT_DIR/web.secret" web 2>"$out"
rc=$?
cat "$out"
[ "$rc" = 0 ] || fail "ignored refs: exit $rc"
grep -q 'refs/heads/feature: ignored: ' "$out" || fail "feature not ignored"
grep -q 'refs/heads/main: ignored: ' "$out" || fail "deletion not ignored"

# a wrong secret: 401, exit 1, the secret not shown
printf 'not-the-secret-%s\n' "$$" >"$AGENT_DIR/wrong.secret"
chmod 600 "$AGENT_DIR/wrong.secret"
printf '%s %s refs/heads/main\n' "$A" "$B" |
	"$S2I_AGENT" notify --url "$AGENT_URL" --secret-file "$AGENT_DIR/wrong.secret" web 2>"$out"
rc=$?
cat "$out"
[ "$rc" = 3 ] || fail "wrong secret: exit $rc (want 3: the event did not get through)"
grep -q 'refs/heads/main: error: .*answered 401' "$out" || fail "401 line"
grep -q "not-the-secret" "$out" && fail "secret shown"

# an unknown repo: 404, exit 3 (nothing was built), and the agent logs the refusal
printf '%s %s refs/heads/main\n' "$A" "$B" |
	"$S2I_AGENT" notify --url "$AGENT_URL" --secret-file "$AGENT_DIR/web.secret" nosuchrepo 2>"$out"
rc=$?
[ "$rc" = 3 ] || fail "unknown repo: exit $rc"
grep -q 'answered 404' "$out" || fail "404 line: $(cat "$out")"
grep -q "repo 'nosuchrepo': generic delivery refused: no \[repo \"nosuchrepo\"\]" "$AGENT_LOG" || fail "the agent did not log the unknown repository"
echo "notify against the daemon: ok"
