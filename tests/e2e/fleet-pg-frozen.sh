#!/usr/bin/env bash
# An agent whose PostgreSQL stops answering without closing anything: its connection
# goes through a proxy (sockproxy.py) that, once frozen, takes every byte and passes
# none on, as a stopped server or a link that holds its packets does (the kernel on
# the way still acknowledges them, so tcp_user_timeout never fires). The agent must
# not hang with it: /healthz answers 503 naming the database within the answer limit
# (STORE_PG_ANSWER_MS, 10 s) and at once after that; a delivery gets 503 with
# Retry-After, never a 202 and never no answer; the dashboard's API answers. Thawed,
# the agent connects again by itself and queues deliveries; the delivery answered
# 503 is, sent again, one build (queued now, or found a duplicate of the one its
# held COMMIT made once the proxy passed it on).
set -u
source "$TESTS_DIR/lib/agent.sh"
source "$TESTS_DIR/lib/pg.sh"
agent_init
pg_start || fail "PostgreSQL did not start"
PROXY_PORT=$(free_port)
python3 "$TESTS_DIR/lib/sockproxy.py" "tcp:127.0.0.1:$PROXY_PORT" "tcp:127.0.0.1:$PG_PORT" \
	--ready "$AGENT_DIR/proxy.ready" --freeze-on '(?s).' --frozen "$AGENT_DIR/proxy.frozen" \
	--disarmed >"$AGENT_DIR/proxy.log" 2>&1 &
PROXY_PID=$!
frozen_stop() {
	kill -TERM "$PROXY_PID" 2>/dev/null && wait "$PROXY_PID" 2>/dev/null
	pg_stop
}
agent_on_exit frozen_stop
wait_for 10 test -s "$AGENT_DIR/proxy.ready" || fail "the proxy did not start: $(cat "$AGENT_DIR/proxy.log")"
S="frozen-secret-$$-0123456789"
agent_repo web "$S" "cancel_superseded=no" "branches=*"
AGENT_EXTRA="database = postgresql://agent@127.0.0.1:$PROXY_PORT/s2i
database_password_file = $PG_PASSWORD_FILE
workers = 0"
start_agent || fail "the agent did not start"

g=$AGENT_DIR/generic.json
body() { generic_push "$g" "$1"; }	# n: a push of its own commit to its own branch
body 1
post_hook generic web "$g" "$S" "frozen-1"
expect 202

# frozen: the next bytes any connection sends to PostgreSQL are held, and all after
kill -USR2 "$PROXY_PID"
wait_for 10 test -e "$AGENT_DIR/proxy.frozen.armed" || fail "the proxy was not armed"
secs() { echo "$(date +%s%N) $1" | awk '{ printf "%.1f", ($1 - $2) / 1e9 }'; }
t=$(date +%s%N)
http_req "$AGENT_URL/healthz"
took=$(secs "$t")
[ -e "$AGENT_DIR/proxy.frozen" ] || fail "/healthz did not ask PostgreSQL (the proxy never froze)"
echo "first /healthz with PostgreSQL frozen: HTTP $HTTP_CODE after ${took}s"
[ "$HTTP_CODE" = 503 ] || fail "/healthz answered '$HTTP_CODE' after ${took}s with PostgreSQL frozen: $HTTP_BODY"
[ "$(echo "$took <= 16" | bc)" = 1 ] || fail "/healthz took ${took}s (the answer limit is 10 s)"
grep -q "^database: .*no answer within 10 s" <<<"$HTTP_BODY" ||
	fail "/healthz does not say the database did not answer: $HTTP_BODY"
# from then on the event loop does not wait on it at all, or for one connection
# attempt (connect_timeout, 5 s) at most
for path in /healthz /builds /metrics; do
	t=$(date +%s%N)
	http_req "$AGENT_URL$path"
	took=$(secs "$t")
	[ "$(echo "$took <= 7" | bc)" = 1 ] || fail "$path took ${took}s with PostgreSQL frozen (HTTP $HTTP_CODE)"
	echo "$path with PostgreSQL frozen: HTTP $HTTP_CODE after ${took}s"
done
body 2
t=$(date +%s%N)
post_hook generic web "$g" "$S" "frozen-2"
took=$(secs "$t")
echo "a delivery with PostgreSQL frozen: HTTP $HTTP_CODE after ${took}s"
expect 503
grep -qi '^retry-after: [0-9]' "$HTTP_HEADERS" || fail "503 without Retry-After"
[ "$(echo "$took <= 16" | bc)" = 1 ] || fail "the delivery took ${took}s"

# thawed: what was held goes on, and the agent connects again without a restart
kill -USR1 "$PROXY_PID"
body 3
queued3() {
	post_hook generic web "$g" "$S" "frozen-3"
	[ "$HTTP_CODE" = 202 ]
}
wait_for 60 queued3 || fail "no delivery queued within 60 s of the thaw (last: HTTP $HTTP_CODE $HTTP_BODY)"
healthy_db() {
	http_req "$AGENT_URL/healthz"
	! grep -q '^database: ' <<<"$HTTP_BODY"
}
wait_for 30 healthy_db || fail "/healthz still names the database after the thaw: $HTTP_BODY"
body 2
post_hook generic web "$g" "$S" "frozen-2"
case $HTTP_CODE in
202) echo "frozen-2 sent again: queued now" ;;
200) jq -e '.duplicate' <<<"$HTTP_BODY" >/dev/null || fail "frozen-2 again: 200 that is no duplicate: $HTTP_BODY"
     echo "frozen-2 sent again: a duplicate (its held COMMIT went through at the thaw)" ;;
*) fail "frozen-2 sent again: HTTP $HTTP_CODE $HTTP_BODY" ;;
esac
[ "$(pg_sql "SELECT count(*) FROM deliveries WHERE delivery = 'frozen-2'")" = 1 ] || fail "frozen-2 is not one build"
[ "$(pg_sql "SELECT count(*) FROM builds WHERE delivery LIKE 'frozen-%'")" = 3 ] ||
	fail "not three builds: $(pg_sql "SELECT id, delivery FROM builds" | tr '\n' ' ')"
stop_agent || fail "the agent exited $? on SIGTERM"
exit 0
