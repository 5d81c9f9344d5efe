#!/usr/bin/env bash
# A fleet on PostgreSQL: two agents (each its own state_dir and port) share a private
# PostgreSQL (tests/lib/pg.sh). Deliveries go to both: one answered 202 by one agent
# is a duplicate of the same build at the other (also when both get it at once), and
# every build runs exactly once (attempt 1, its log in one state_dir only), one at a
# time and in push order for the repository. An intake-only agent's builds are run by
# the others, woken by NOTIFY; a restarting agent reruns only its own builds. With
# PostgreSQL down a delivery gets 503 with Retry-After, never a 202, and /healthz says
# why; once it is back, deliveries are queued again without a restart. `s2i-agent prune`
# deletes what retention picks from the shared store.
set -u
source "$TESTS_DIR/lib/agent.sh"
source "$TESTS_DIR/lib/pg.sh"
source "$TESTS_DIR/lib/fleet.sh"
agent_init
pg_start || fail "PostgreSQL did not start"
pg_fleet_stop() {
	local pid
	for pid in ${B_PID:-} ${C_PID:-}; do
		kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	done
	pg_stop
}
agent_on_exit pg_fleet_stop
S="fleet-pg-secret-$$-0123456789"
agent_repo web "$S" "cancel_superseded=no" "branches=*"
AGENT_EXTRA="database = $PG_URL
database_password_file = $PG_PASSWORD_FILE"
start_agent || fail "agent a did not start"
A_URL=$AGENT_URL
grep -q "database 'postgresql://agent@127.0.0.1:$PG_PORT/s2i'" "$AGENT_LOG" ||
	fail "agent a does not name its database"

# another agent (tests/lib/fleet.sh): sets SERVED_PID and SERVED_PORT
serve_another() {	# name [extra [port]]
	fleet_serve "$@" || fail "agent $1 did not start"
	SERVED_PID=$FLEET_PID SERVED_PORT=$FLEET_PORT
}
serve_another b
B_PID=$SERVED_PID B_PORT=$SERVED_PORT B_LOG=$AGENT_DIR/b.log
start_b() {	# again, on its port
	serve_another b "" "$B_PORT"
	B_PID=$SERVED_PID
}
B_URL=http://127.0.0.1:$B_PORT

g=$AGENT_DIR/generic.json
body() { generic_push "$g" "$1"; }	# n: a push of its own commit to its own branch
at() {	# url: where the next post_hook goes
	AGENT_URL=$1
}
n=12
declare -A build
for i in $(seq 1 $n); do
	body "$i"
	if [ $((i % 2)) = 1 ]; then first=$A_URL other=$B_URL; else first=$B_URL other=$A_URL; fi
	at "$first"
	post_hook generic web "$g" "$S" "fleet-$i"
	expect 202
	build[$i]=$(jq -r .build <<<"$HTTP_BODY")
	# the other agent knows the delivery: the same build, nothing new
	at "$other"
	post_hook generic web "$g" "$S" "fleet-$i"
	expect 200 .duplicate "${build[$i]}"
	# the same signed body under another delivery id: a replay, at either agent
	post_hook generic web "$g" "$S" "fleet-$i-replayed"
	expect 200 .duplicate "${build[$i]}"
done

# both agents get one delivery at the same moment: one build, both answers name it
for i in $(seq 21 26); do
	body "$i"
	sig=$(sign "$S" "$g")
	pids=()
	for u in "$A_URL" "$B_URL"; do
		curl -sS --max-time 30 -X POST -H "X-Request-Id: fleet-$i" -H "Content-Type: application/json" \
			-H "X-Hub-Signature-256: sha256=$sig" --data-binary "@$g" \
			-o "$AGENT_DIR/race-$i-${u##*:}" -w '%{http_code}\n' "$u/hooks/web" >>"$AGENT_DIR/race-$i" &
		pids+=($!)
	done
	wait "${pids[@]}"
	codes=$(sort "$AGENT_DIR/race-$i" | tr '\n' ' ')
	answers=$(cat "$AGENT_DIR/race-$i"-*)
	[ "$codes" = "200 202 " ] || fail "delivery fleet-$i at both agents: answers $codes ($answers)"
	ids=$(jq -r '.build // .duplicate' "$AGENT_DIR/race-$i"-* | sort -u | wc -l)
	[ "$ids" = 1 ] || fail "delivery fleet-$i: two builds ($answers)"
done
total=$((n + 6))

# every build ends, each run once, by one agent
final() {
	[ "$(pg_sql "SELECT count(*) FROM builds WHERE state IN ('succeeded','failed','errored','canceled')")" = "$total" ]
}
wait_for 120 final || fail "builds not final: $(pg_sql "SELECT id, state, attempt FROM builds ORDER BY id" | tr '\n' ' ')"
[ "$(pg_sql "SELECT count(*) FROM builds")" = "$total" ] || fail "$(pg_sql "SELECT count(*) FROM builds") builds for $total deliveries"
[ "$(pg_sql "SELECT count(*) FROM builds WHERE attempt <> 1")" = 0 ] ||
	fail "builds run other than once: $(pg_sql "SELECT id, attempt FROM builds WHERE attempt <> 1" | tr '\n' ' ')"
ran_a=0 ran_b=0
for id in $(pg_sql "SELECT id FROM builds ORDER BY id"); do
	la=$AGENT_DIR/state/logs/$id.log lb=$AGENT_DIR/state-b/logs/$id.log
	if [ -s "$la" ] && [ -s "$lb" ]; then
		fail "build $id ran on both agents"
	elif [ -s "$la" ]; then
		ran_a=$((ran_a + 1))
	elif [ -s "$lb" ]; then
		ran_b=$((ran_b + 1))
	else
		fail "build $id has no log on either agent"
	fi
done
echo "builds run: $ran_a by agent a, $ran_b by agent b"
# one repository's builds ran one at a time and in push order, across both agents
overlap=$(pg_sql "SELECT x.id || '/' || y.id FROM builds x JOIN builds y ON y.repo = x.repo AND y.id > x.id
	WHERE y.started < x.finished")
[ -z "$overlap" ] || fail "builds of one repository overlapped or ran out of order: $overlap"
# either agent answers for every build
for u in "$A_URL" "$B_URL"; do
	at "$u"
	http_req "$u/builds?limit=100"
	expect 200 length "$total"
done

# an intake-only agent (workers = 0): the others run what it queues, woken by
# PostgreSQL's NOTIFY at its COMMIT (nothing polls; neither of them got a delivery)
serve_another c "workers = 0"
C_PID=$SERVED_PID
at "http://127.0.0.1:$SERVED_PORT"
woken=()
for i in 31 32 33; do
	body "$i"
	post_hook generic web "$g" "$S" "fleet-$i"
	expect 202
	woken+=("$(jq -r .build <<<"$HTTP_BODY")")
done
ran_elsewhere() {
	local id
	for id in "${woken[@]}"; do
		[ -s "$AGENT_DIR/state/logs/$id.log" ] || [ -s "$AGENT_DIR/state-b/logs/$id.log" ] || return 1
	done
}
wait_for 30 ran_elsewhere || fail "builds ${woken[*]} queued at agent c were not run by a or b: $(pg_sql "SELECT id, state FROM builds WHERE id IN ($(IFS=,; echo "${woken[*]}"))" | tr '\n' ' ')"
[ -z "$(ls "$AGENT_DIR/state-c/logs" 2>/dev/null)" ] || fail "agent c (workers = 0) ran a build"
kill -TERM "$C_PID"
wait "$C_PID" || fail "agent c exited $? on SIGTERM"
C_PID=
total=$((total + 3))

# a restarting agent takes back its own running builds, not another agent's: b
# stops; the table says it was running one (as after a SIGKILL), and another agent
# one; b starts again
kill -TERM "$B_PID"
wait "$B_PID"
B_PID=
now=$(date +%s%3N)
running() {	# repo agent: a running build's id
	pg_sql "INSERT INTO builds (repo, ref, sha, state, created, started, provider, attempt, agent)
		VALUES ('$1', 'refs/heads/main', '$(printf %040d 50)', 'running', $now, $now, 'generic', 1, '$2') RETURNING id"
}
own=$(running web "$(cat "$AGENT_DIR/state-b/instance-id")") || fail "cannot insert a build"
# (of another repository: a build running elsewhere holds its repository's next ones)
other=$(running elsewhere agent-elsewhere) || fail "cannot insert a build"
start_b
rerun() {
	[ "$(pg_sql "SELECT state || ' ' || attempt FROM builds WHERE id = $own")" = "errored 2" ]
}
wait_for 60 rerun || fail "b's own build $own: $(pg_sql "SELECT state, attempt, reason FROM builds WHERE id = $own")"
[ "$(pg_sql "SELECT state || ' ' || attempt FROM builds WHERE id = $other")" = "running 1" ] ||
	fail "b took another agent's build: $(pg_sql "SELECT state, attempt, reason FROM builds WHERE id = $other")"
grep -q "build $own: the agent restarted during the build" "$B_LOG" || fail "b did not say it reruns build $own"

# retention on the shared store: `s2i-agent prune` with keep_builds = 1 deletes what
# the rules pick (here the two older builds of one branch; every other ref has one
# build, its newest) from PostgreSQL, with their delivery ids; --dry-run only counts
at "$A_URL"
keep=()
for i in 1 2 3; do
	printf '{"ref": "refs/heads/keep", "before": "%040d", "after": "%040d"}' 0 "$((60 + i))" >"$g"
	post_hook generic web "$g" "$S" "fleet-keep-$i"
	expect 202
	keep+=("$(jq -r .build <<<"$HTTP_BODY")")
done
kept_final() {
	[ "$(pg_sql "SELECT count(*) FROM builds WHERE id IN (${keep[0]}, ${keep[1]}, ${keep[2]})
		AND state IN ('succeeded','failed','errored','canceled')")" = 3 ]
}
wait_for 60 kept_final || fail "builds ${keep[*]} not final"
sed '/^database_password_file = /a keep_builds = 1' "$AGENT_DIR/agent.conf" >"$AGENT_DIR/prune.conf"
grep -q '^keep_builds = 1' "$AGENT_DIR/prune.conf" || fail "no keep_builds in prune.conf"
before=$(pg_sql "SELECT count(*) FROM builds")
out=$("$S2I_AGENT" prune -c "$AGENT_DIR/prune.conf" --dry-run 2>&1) || fail "prune --dry-run: $out"
grep -q '^would delete 2 builds' <<<"$out" || fail "prune --dry-run: $out"
[ "$(pg_sql "SELECT count(*) FROM builds")" = "$before" ] || fail "prune --dry-run deleted builds"
out=$("$S2I_AGENT" prune -c "$AGENT_DIR/prune.conf" 2>&1) || fail "prune: $out"
grep -q '^deleted 2 builds' <<<"$out" || fail "prune: $out"
[ "$(pg_sql "SELECT string_agg(id::text, ',' ORDER BY id) FROM builds WHERE ref = 'refs/heads/keep'")" = "${keep[2]}" ] ||
	fail "prune left $(pg_sql "SELECT id FROM builds WHERE ref = 'refs/heads/keep'" | tr '\n' ' ')"
[ "$(pg_sql "SELECT count(*) FROM builds")" = $((before - 2)) ] || fail "prune deleted other builds"
[ "$(pg_sql "SELECT string_agg(delivery, ',') FROM deliveries WHERE delivery LIKE 'fleet-keep-%'")" = fleet-keep-3 ] ||
	fail "the deliveries of pruned builds stay: $(pg_sql "SELECT delivery FROM deliveries WHERE delivery LIKE 'fleet-keep-%'" | tr '\n' ' ')"
[ ! -e "$AGENT_DIR/state/logs/${keep[0]}.log" ] && [ ! -e "$AGENT_DIR/state/logs/${keep[1]}.log" ] ||
	fail "prune left the logs of the builds it deleted in its state_dir"
echo "prune on PostgreSQL: $out"

# PostgreSQL down: 503 with Retry-After, no 202 that is not on disk; /healthz says why
pg_down || fail "cannot stop PostgreSQL"
body 40
at "$A_URL"
post_hook generic web "$g" "$S" "fleet-40"
expect 503
grep -qi '^retry-after: [0-9]' "$HTTP_HEADERS" || fail "503 without Retry-After"
http_req "$A_URL/healthz"
expect 503
grep -q '^database: ' <<<"$HTTP_BODY" || fail "/healthz does not name the database: $HTTP_BODY"
# back: the same delivery is queued, on the connection each agent makes again
pg_up || fail "cannot start PostgreSQL again"
at "$B_URL"
post_hook generic web "$g" "$S" "fleet-40"
expect 202
b40=$(jq -r .build <<<"$HTTP_BODY")
at "$A_URL"
post_hook generic web "$g" "$S" "fleet-40"
expect 200 .duplicate "$b40"
[ "$(pg_sql "SELECT count(*) FROM deliveries WHERE delivery = 'fleet-40'")" = 1 ] || fail "fleet-40 recorded twice"
kill -0 "$AGENT_PID" && kill -0 "$B_PID" || fail "an agent died"
stop_agent || fail "agent a exited $? on SIGTERM"
kill -TERM "$B_PID"
wait "$B_PID" || fail "agent b exited $? on SIGTERM"
B_PID=
exit 0
