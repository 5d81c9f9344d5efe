#!/usr/bin/env bash
# Intake durability: many concurrent signed deliveries, kill -9 of the daemon
# while they run, restart: every delivery that was answered 202 is listed by
# GET /builds with the id it was given, and a redelivery of it is a duplicate.
set -u
source "$TESTS_DIR/lib/agent.sh"
agent_init
S="intake-durable-secret-$$"
N=${DURABILITY_N:-300}
AGENT_EXTRA="workers = 0"	# builds stay queued: this test is about intake
agent_repo web "$S" "cancel_superseded=no"
start_agent || fail "agent did not start"

body=$FIXTURES/github-push.json
sig=$(sign "$S" "$body")
out=$AGENT_DIR/out
mkdir -p "$out"
# one curl per delivery, 24 at a time; each writes "CODE BODY" into its own file
seq 1 "$N" | xargs -P 24 -I{} sh -c '
	curl -s -o "$0/{}.body" -w "%{http_code}" --max-time 20 -X POST \
		-H "X-GitHub-Event: push" -H "X-GitHub-Delivery: dur-{}" \
		-H "Content-Type: application/json" -H "X-Hub-Signature-256: sha256=$1" \
		--data-binary "@$2" "$3/hooks/web" >"$0/{}.code" 2>/dev/null || true
' "$out" "$sig" "$body" "$AGENT_URL" &
XARGS=$!
# kill -9 once some deliveries were answered, while the others are in flight
some_answered() { [ "$(grep -l '^202$' "$out"/*.code 2>/dev/null | wc -l)" -ge $((N / 5)) ]; }
wait_for 20 some_answered
kill9_agent
wait "$XARGS"

accepted=$(grep -l '^202$' "$out"/*.code | wc -l)
echo "deliveries: $N, answered 202 before the kill: $accepted"
[ "$accepted" -gt 0 ] || fail "no delivery was accepted before the kill"
[ "$accepted" -lt "$N" ] || echo "note: every delivery was answered before the kill"

KEEP_PORT=1 start_agent || fail "agent did not restart after kill -9"
http_req "$AGENT_URL/builds?limit=1000"
expect 200
printf '%s' "$HTTP_BODY" | jq -r '.[] | "\(.id) \(.delivery)"' | sort >"$AGENT_DIR/listed"
missing=0
for f in $(grep -l '^202$' "$out"/*.code); do
	i=$(basename "$f" .code)
	id=$(jq -r .build "$out/$i.body")
	grep -qx "$id dur-$i" "$AGENT_DIR/listed" || { echo "delivery dur-$i (build $id) is missing" >&2; missing=$((missing + 1)); }
done
[ "$missing" = 0 ] || fail "$missing accepted deliveries were lost"
# redeliveries are recognised after the restart
f=$(grep -l '^202$' "$out"/*.code | head -n 1)
i=$(basename "$f" .code)
post_hook github web "$body" "$S" "dur-$i"
expect 200 .duplicate "$(jq -r .build "$out/$i.body")"
stop_agent || fail "agent exited $? on SIGTERM"
exit 0
