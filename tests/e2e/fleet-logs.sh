#!/usr/bin/env bash
# A build's log and its cancel across a fleet on PostgreSQL: agent a runs a build that
# prints a line every half second; agent b (workers = 0, so it runs nothing) follows
# its log live (the lines reach b's reader while the build still runs), cancels it
# (a's build stops, canceled by request, and the stream at b ends with that line) and
# cancels a queued build of the same repository directly. Once a has stopped and its
# log directory is gone, b serves the whole log (plain, followed, and in the build's
# page) from the database. A cancel asked of a build that went back to the queue
# holds when it starts again. `s2i-agent prune` on the shared store deletes a pruned
# build's log chunks with it.
set -u
TEST=fleet-logs
source "$TESTS_DIR/lib/pipeline.sh"
source "$TESTS_DIR/lib/pg.sh"
pg_start || fail "PostgreSQL did not start"
fl_stop() {
	[ -n "${FOLLOW_PID:-}" ] && kill "$FOLLOW_PID" 2>/dev/null
	if [ -n "${B_PID:-}" ]; then
		kill -TERM "$B_PID" 2>/dev/null
		wait "$B_PID" 2>/dev/null
	fi
	pg_stop
}
agent_on_exit fl_stop

# a builder whose assemble prints "tick N" every half second, TICKS times
ctx=$AGENT_DIR/ticker-ctx
mkdir -p "$ctx/s2i"
cat >"$ctx/s2i/assemble" <<'EOF'
#!/bin/sh
cp -a /tmp/src/. ./
i=0
while [ "$i" -lt "$(cat ./TICKS)" ]; do
	i=$((i + 1))
	echo "tick $i"
	sleep 0.5
done
echo "assemble: done"
EOF
engine_app_builder "$ctx" "$PL_BUILDER" "$PL_ID"
pl_repo web cancel_superseded=no
AGENT_EXTRA="database = $PG_URL
database_password_file = $PG_PASSWORD_FILE
admin_token_file = $AGENT_DIR/admin.token"
start_agent || fail "agent a did not start"
A_URL=$AGENT_URL

# agent b: a's configuration, its own port and state directory, and no workers
B_LOG=$AGENT_DIR/b.log
for try in 1 2 3 4 5; do
	B_PORT=$(free_port)
	sed -e "s|127.0.0.1:$AGENT_PORT|127.0.0.1:$B_PORT|g" \
		-e "s|^state_dir = .*|state_dir = $AGENT_DIR/state-b\nworkers = 0|" \
		"$AGENT_DIR/agent.conf" >"$AGENT_DIR/b.conf"
	"$S2I_AGENT" serve -c "$AGENT_DIR/b.conf" >>"$B_LOG" 2>&1 &
	B_PID=$!
	wait_port "$B_PORT" 15 "$B_PID" && break
	kill "$B_PID" 2>/dev/null
	wait "$B_PID" 2>/dev/null
	B_PID=
	grep -q "cannot listen" "$B_LOG" || { cat "$B_LOG"; fail "agent b did not start"; }
done
[ -n "${B_PID:-}" ] || fail "agent b did not start"
B_URL=http://127.0.0.1:$B_PORT
ADMIN=(-H "Authorization: Bearer $PL_ADMIN")

# build 1 runs on a, 40 ticks (20 s) unless canceled
sha1=$(pl_commit web "forty ticks" TICKS 40)
pl_push web >/dev/null || fail "git push"
at_a() { AGENT_URL=$A_URL; }
at_a
pl_github_push web "$sha1"
expect 202 .build 1
wait_for 30 _pl_is 1 running || fail "build 1 did not start: $(pl_build_json 1)"

# followed from b, live: ticks reach b while the build runs on a
FOLLOW=$AGENT_DIR/follow.out
curl -sN --max-time 120 "$B_URL/builds/1/log?follow=1" >"$FOLLOW" &
FOLLOW_PID=$!
ticks_at_b() { grep -q '^tick 3$' "$FOLLOW"; }
wait_for 30 ticks_at_b || fail "no ticks reached b's reader: $(cat "$FOLLOW")"
[ "$(pg_sql "SELECT state FROM builds WHERE id = 1")" = running ] ||
	fail "build 1 ended before b's reader saw a line: the log was not live"
grep -q '^tick 40$' "$FOLLOW" && fail "b's reader got the last tick before the build ended"
# as they come (b wakes on the database's NOTIFY; its look without one comes every
# 5 s): over 4 s, new lines in at least 3 half seconds (a line every half second)
seen=$(grep -c '^tick ' "$FOLLOW") grew=0
for i in 1 2 3 4 5 6 7 8; do
	sleep 0.5
	now=$(grep -c '^tick ' "$FOLLOW")
	[ "$now" -gt "$seen" ] && grew=$((grew + 1))
	seen=$now
done
[ "$grew" -ge 3 ] || fail "b's reader got new lines in only $grew of 8 half seconds"
echo "b's reader got new lines in $grew of 8 half seconds"
# read without follow at b while it runs: what there is so far, and the answer ends
curl -sS --max-time 10 -o "$AGENT_DIR/so-far" "$B_URL/builds/1/log" || fail "b's log of build 1 so far: curl $?"
grep -q '^tick 2$' "$AGENT_DIR/so-far" || fail "b's log of build 1 so far: $(cat "$AGENT_DIR/so-far")"
grep -q "build 1: started" "$AGENT_LOG" || fail "build 1 did not run on agent a"
grep -q "build 1: started" "$B_LOG" && fail "build 1 ran on agent b (workers = 0)"

# build 2 of the same repository waits for build 1: b cancels it directly
sha2=$(pl_commit web "no ticks" TICKS 0)
pl_push web >/dev/null || fail "git push"
pl_github_push web "$sha2"
expect 202 .build 2
http_req "${ADMIN[@]}" -X POST "$B_URL/builds/2/cancel"
expect 202 .state canceled
[ "$(pg_sql "SELECT state || ' ' || attempt FROM builds WHERE id = 2")" = "canceled 0" ] ||
	fail "build 2: $(pg_sql "SELECT state, attempt, reason FROM builds WHERE id = 2")"

# b cancels build 1, which runs on a: a stops it, as a cancel sent to it would
http_req "${ADMIN[@]}" -X POST "$B_URL/builds/1/cancel"
expect 202 .cancel requested
[ "$(jq -r .state <<<"$HTTP_BODY")" = running ] || fail "cancel answer: $HTTP_BODY"
state=$(pl_wait 1 30)
[ "$state" = canceled ] || fail "build 1 is $state after the cancel through b: $(pl_build_json 1)"
pl_expect_field 1 .reason "canceled by request"
grep -q "build 1: canceling by request (through another agent)" "$AGENT_LOG" ||
	fail "agent a did not say it cancels build 1"
grep -q '^tick 40$' "$AGENT_DIR/state/logs/1.log" && fail "build 1 ran to its end despite the cancel"
pl_no_containers 1
# the stream at b ends with the build, its last line the outcome
wait_for 15 eval '! kill -0 "$FOLLOW_PID" 2>/dev/null' || fail "b's reader did not end with the build"
wait "$FOLLOW_PID"
FOLLOW_PID=
tail -n 1 "$FOLLOW" | grep -q '^==> build 1 canceled: canceled by request$' ||
	fail "b's stream did not end with the outcome: $(tail -n 3 "$FOLLOW")"
cmp -s "$FOLLOW" "$AGENT_DIR/state/logs/1.log" ||
	fail "b's stream differs from a's log: $(diff "$FOLLOW" "$AGENT_DIR/state/logs/1.log" | head -5)"
cp "$AGENT_DIR/state/logs/1.log" "$AGENT_DIR/log-1.expected"

# a stops, and its logs are gone (its host is): b serves the whole log from the database
stop_agent || fail "agent a exited $? on SIGTERM"
rm -rf "$AGENT_DIR/state/logs"
http_req "$B_URL/builds/1/log"
expect 200
cmp -s "$AGENT_DIR/last.body" "$AGENT_DIR/log-1.expected" ||
	fail "b's log of build 1 differs: $(diff "$AGENT_DIR/last.body" "$AGENT_DIR/log-1.expected" | head -5)"
http_req "$B_URL/builds/1/log?follow=1"
expect 200
cmp -s "$AGENT_DIR/last.body" "$AGENT_DIR/log-1.expected" || fail "b's followed log of a finished build differs"
http_req -H "Accept: text/html" "$B_URL/builds/1"
expect 200
grep -q '^tick 1$' "$AGENT_DIR/last.body" && grep -q 'canceled by request' "$AGENT_DIR/last.body" ||
	fail "b's page of build 1 does not hold its log"
http_req "$B_URL/builds/2/log"
expect 200
grep -q '^==> build 2 canceled: canceled by request$' <<<"$HTTP_BODY" || fail "build 2's log: $HTTP_BODY"
[ ! -e "$AGENT_DIR/state-b/logs/1.log" ] || fail "b wrote a log file of a build it did not run"

# a cancel asked of a running build that went back to the queue (its agent stopped,
# or another took it over) holds when an agent starts it again: build 3, queued at b
# while a is down, stands for one; a, back, does not run it
sha3=$(pl_commit web "twenty ticks" TICKS 20)
pl_push web >/dev/null || fail "git push"
AGENT_URL=$B_URL
pl_github_push web "$sha3"
expect 202 .build 3
pg_sql "UPDATE builds SET cancel_at = 1 WHERE id = 3" >/dev/null
KEEP_PORT=1 start_agent || fail "agent a did not start again"
wait_for 30 eval '[ "$(pg_sql "SELECT state FROM builds WHERE id = 3")" = canceled ]' ||
	fail "build 3: $(pg_sql "SELECT state, attempt, reason FROM builds WHERE id = 3")"
[ "$(pg_sql "SELECT reason FROM builds WHERE id = 3")" = "canceled by request" ] ||
	fail "build 3: $(pg_sql "SELECT state, attempt, reason FROM builds WHERE id = 3")"
grep -q '^tick 1$' "$AGENT_DIR/state/logs/3.log" 2>/dev/null && fail "build 3 ran despite its cancel"
stop_agent || fail "agent a exited $? on SIGTERM"

# retention: builds 1 and 2 go (keep_builds = 1, build 3 is its ref's newest), and
# build 1's chunks with it
[ "$(pg_sql "SELECT count(*) FROM build_logs WHERE build_id = 1")" -gt 0 ] || fail "no chunks of build 1"
sed '/^database_password_file = /a keep_builds = 1' "$AGENT_DIR/agent.conf" >"$AGENT_DIR/prune.conf"
out=$("$S2I_AGENT" prune -c "$AGENT_DIR/prune.conf" 2>&1) || fail "prune: $out"
grep -q '^deleted 2 builds' <<<"$out" || fail "prune: $out"
[ "$(pg_sql "SELECT count(*) FROM builds WHERE id = 1")" = 0 ] || fail "prune kept build 1"
[ "$(pg_sql "SELECT count(*) FROM build_logs WHERE build_id = 1")" = 0 ] ||
	fail "prune left the log chunks of build 1"
http_req "$B_URL/builds/1/log"
expect 404

kill -TERM "$B_PID"
wait "$B_PID" || fail "agent b exited $? on SIGTERM"
B_PID=
exit 0
