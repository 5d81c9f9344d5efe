#!/usr/bin/env bash
# Intake read API: GET /builds filters and limit, GET /builds/{id}, /healthz with
# and without an engine socket, /metrics content, admin bearer-token checks.
set -u
source "$TESTS_DIR/lib/agent.sh"
source "$TESTS_DIR/lib/lines.sh"
agent_init
# workers = 0: builds stay queued (this test is about intake, not builds)
AGENT_EXTRA="workers = 0"
S="intake-api-secret-$$"
agent_repo web "$S" "cancel_superseded=no"
agent_repo api "$S" "branches=*"
start_agent || fail "agent did not start"

g=$AGENT_DIR/generic.json
gen() {	# repo ref n
	printf '{"ref": "%s", "before": "%040d", "after": "%040d"}' "$2" 0 "$3" >"$g"
	post_hook generic "$1" "$g" "$S" "req-$1-$3"
	expect 202
}
gen web refs/heads/main 1
gen api refs/heads/main 2
gen web refs/heads/dev 3
gen api refs/heads/dev 4
gen web refs/heads/main 5

http_req "$AGENT_URL/builds"
expect 200 'length' 5
expect 200 '[.[].id] | join(",")' 5,4,3,2,1		# newest first
expect 200 '.[0] | keys | sort | join(",")' \
	agent,created,delivery,duration_ms,finished,id,image,image_id,provider,reason,ref,repo,retry_of,sha,started,state
expect 200 '.[0].created | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$")' true
expect 200 '.[0].started' null
expect 200 '.[0].duration_ms' null
http_req "$AGENT_URL/builds?repo=web"
expect 200 '[.[].id] | join(",")' 5,3,1
http_req "$AGENT_URL/builds?repo=api&state=queued&limit=1"
expect 200 '[.[].id] | join(",")' 4
http_req "$AGENT_URL/builds?state=running"
expect 200 length 0
http_req "$AGENT_URL/builds?limit=2"
expect 200 '[.[].id] | join(",")' 5,4
http_req "$AGENT_URL/builds?state=done"
expect 400
http_req "$AGENT_URL/builds?limit=-1"
expect 400
http_req "$AGENT_URL/builds?limit=abc"
expect 400
http_req "$AGENT_URL/builds?repo=nosuch"
expect 200 length 0

http_req "$AGENT_URL/builds/3"
expect 200 .id 3
expect 200 .repo web
expect 200 .ref refs/heads/dev
expect 200 .sha 0000000000000000000000000000000000000003
expect 200 .state queued
expect 200 .provider generic
expect 200 .delivery req-web-3
grep -qi '^Content-Type: application/json' "$HTTP_HEADERS" || fail "build object is not JSON"
http_req "$AGENT_URL/builds/999"
expect 404
http_req "$AGENT_URL/builds/abc"
expect 404
http_req -X POST "$AGENT_URL/builds/3"
expect 405
http_req -X DELETE "$AGENT_URL/builds"
expect 405
http_req "$AGENT_URL/nosuch"
expect 404

# /metrics: Prometheus text with deliveries, builds by state, queue depth
post_hook generic web "$g" "wrong-$$" req-bad
expect 401
http_req "$AGENT_URL/metrics"
expect 200
grep -qi '^Content-Type: text/plain; version=0.0.4' "$HTTP_HEADERS" || fail "metrics content type"
m=$AGENT_DIR/last.body
file_has "$m" -x \
	's2i_agent_deliveries_total{repo="web",provider="generic",result="queued"} 3' "metrics: web queued" \
	's2i_agent_deliveries_total{repo="api",provider="generic",result="queued"} 2' "metrics: api queued" \
	's2i_agent_deliveries_total{repo="web",provider="generic",result="unauthorized"} 1' "metrics: unauthorized" \
	's2i_agent_builds{state="queued"} 5' "metrics: builds queued" \
	's2i_agent_builds{state="succeeded"} 0' "metrics: builds succeeded" \
	's2i_agent_queue_depth 5' "metrics: queue depth"
file_has "$m" -E \
	'^# TYPE s2i_agent_deliveries_total counter' "metrics: TYPE line" \
	'^process_resident_memory_bytes [0-9]+$' "metrics: rss"
# every sample line is NAME{LABELS} VALUE or NAME VALUE
grep -v '^#' "$m" | grep -Evq '^[a-z0-9_]+(\{[^}]*\})? [0-9.e+-]+$' && fail "metrics: malformed line"

# /healthz: the engine socket does not exist -> 503 naming the engine
http_req "$AGENT_URL/healthz"
expect 503
grep -q '^engine:' "$AGENT_DIR/last.body" || fail "healthz 503 does not say why: $HTTP_BODY"

# admin endpoints: 403 without admin_token_file
http_req -X POST "$AGENT_URL/builds/1/cancel"
expect 403
http_req -X POST -H "Authorization: Bearer x" "$AGENT_URL/builds/1/retry"
expect 403
http_req -X POST -H "Content-Type: application/json" --data '{"ref":"refs/heads/main"}' "$AGENT_URL/repos/web/builds"
expect 403
http_req "$AGENT_URL/builds/1/cancel"
expect 405
stop_agent || fail "agent exited $? on SIGTERM"

# restart with an admin token and a listening engine socket
TOKEN="intake-api-admin-token-$$"
printf '%s\n' "$TOKEN" >"$AGENT_DIR/admin.token"
chmod 600 "$AGENT_DIR/admin.token"
AGENT_EXTRA="workers = 0
admin_token_file = $AGENT_DIR/admin.token"
AGENT_ENGINE=unix://$AGENT_DIR/engine.sock
python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(64)
time.sleep(120)' "$AGENT_DIR/engine.sock" &
ENGINE_PID=$!
trap 'kill $ENGINE_PID 2>/dev/null; agent_cleanup' EXIT
wait_for 5 test -S "$AGENT_DIR/engine.sock"
KEEP_PORT=1 start_agent || fail "agent did not restart"
http_req "$AGENT_URL/healthz"
expect 200
[ "$HTTP_BODY" = ok ] || fail "healthz body: $HTTP_BODY"
http_req "$AGENT_URL/builds"
expect 200 length 5		# the builds survived the restart
http_req -X POST "$AGENT_URL/builds/1/cancel"
expect 401
grep -qi '^WWW-Authenticate: Bearer' "$HTTP_HEADERS" || fail "401 without WWW-Authenticate"
http_req -X POST -H "Authorization: Bearer wrong" "$AGENT_URL/builds/1/cancel"
expect 401
http_req -X POST -H "Authorization: Bearer ${TOKEN}x" "$AGENT_URL/builds/1/retry"
expect 401
http_req -X POST -H "Authorization: Basic $(printf 'a:%s' "$TOKEN" | base64)" "$AGENT_URL/builds/1/retry"
expect 401
# the right token passes the check (what follows belongs to the pipeline)
http_req -X POST -H "Authorization: Bearer $TOKEN" "$AGENT_URL/builds/999/cancel"
expect 404
http_req -X POST -H "Authorization: Bearer $TOKEN" "$AGENT_URL/builds/1/cancel"
case $HTTP_CODE in 202|409|501) ;; *) fail "cancel with the token: $HTTP_CODE $HTTP_BODY" ;; esac
http_req -X POST -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" \
	--data '{"ref":"refs/heads/main"}' "$AGENT_URL/repos/nosuch/builds"
expect 404
grep -qF "$TOKEN" "$AGENT_LOG" && fail "the admin token appears in the log"
stop_agent || fail "agent exited $? on SIGTERM"
exit 0
