#!/usr/bin/env bash
# `s2i-agent migrate --from STATE_DIR --to URL`: an agent builds a history on SQLite
# through the real daemon (builds with logs, delivery ids, the replay guard, a commit
# status still to post); migrate refuses while that agent serves, copies it into a
# private PostgreSQL (tests/lib/pg.sh) once stopped, and again copies nothing new. An
# agent started on PostgreSQL with the same state_dir serves the same builds under the
# same ids with their logs (as does another agent of the fleet), answers a redelivery of an old delivery and a replay of an
# old body as duplicates, numbers a new build after the copied ones, and counts in
# /metrics what another agent writes. A second
# history whose build ids clash with the fleet's is refused, nothing copied.
set -u
source "$TESTS_DIR/lib/agent.sh"
source "$TESTS_DIR/lib/pg.sh"
agent_init
agent_on_exit pg_stop
S="fleet-migrate-secret-$$-0123456789"
agent_repo web "$S" "cancel_superseded=no" "branches=*"
start_agent || fail "the SQLite agent did not start"

g=$AGENT_DIR/generic.json
body() {	# n: a push of its own commit to its own branch
	printf '{"ref": "refs/heads/m%d", "before": "%040d", "after": "%040d"}' "$1" 0 "$1" >"$g"
}
nb=4
build=()
for i in $(seq 1 $nb); do
	body "$i"
	post_hook generic web "$g" "$S" "migrate-$i"
	expect 202
	build[$i]=$(jq -r .build <<<"$HTTP_BODY")
done
final() {
	[ "$(db_count builds "state IN ('succeeded','failed','errored','canceled')")" = "$nb" ]
}
wait_for 60 final || fail "the SQLite agent's builds did not end"
log=()
for i in $(seq 1 $nb); do
	http_req "$AGENT_URL/builds/${build[$i]}/log"
	expect 200
	[ -n "$HTTP_BODY" ] || fail "build ${build[$i]} has an empty log"
	log[$i]=$HTTP_BODY
done
http_req "$AGENT_URL/builds?limit=100"
jq -c '[.[] | {id, state, ref, sha}] | sort_by(.id)' <<<"$HTTP_BODY" >"$AGENT_DIR/builds-sqlite.json" ||
	fail "GET /builds: $HTTP_BODY"

pg_start || fail "PostgreSQL did not start"
mig() {	# expected-rc args...: output in $out
	local want=$1 rc
	shift
	out=$("$S2I_AGENT" migrate "$@" 2>&1)
	rc=$?
	[ "$rc" = "$want" ] || fail "migrate $*: exit $rc, want $want: $out"
}
state=$AGENT_DIR/state
# usage errors, a directory that is no agent's, a target that is no PostgreSQL
mig 2 --from "$state"
grep -q '^usage: s2i-agent migrate' <<<"$out" || fail "no usage after a usage error: $out"
mig 1 --from "$AGENT_DIR/nothing-here" --to "$PG_URL" --password-file "$PG_PASSWORD_FILE"
grep -q "holds no agent.db" <<<"$out" || fail "a directory without agent.db: $out"
mig 1 --from "$state" --to sqlite
# refused while serve holds the directory: it would go on writing
mig 1 --from "$state" --to "$PG_URL" --password-file "$PG_PASSWORD_FILE"
grep -q "stop it first" <<<"$out" || fail "migrate while serve runs: $out"
[ "$(pg_sql "SELECT count(*) FROM information_schema.tables WHERE table_name = 'builds'")" = 0 ] ||
	[ "$(pg_sql "SELECT count(*) FROM builds")" = 0 ] || fail "a refused migrate copied builds"
stop_agent || fail "the SQLite agent exited $? on SIGTERM"

# a commit status still waiting to be posted (the forge was down) goes along
sqlite3 "$state/agent.db" "INSERT INTO statuses (build_id, state, description, attempts, next_at, last_error, created)
	VALUES (${build[1]}, 'failure', 'migrated status', 3, 1, 'forge down', 1)" || fail "cannot add a status"
pushes=$(sqlite3 "$state/agent.db" "SELECT count(*) FROM signed_pushes")
mig 0 --from "$state" --to "$PG_URL" --password-file "$PG_PASSWORD_FILE"
echo "migrate: $out"
grep -q "^copied $nb builds (0 there already), $nb delivery ids, $pushes replay guard digests, .*, 1 commit statuses to post and $nb logs" <<<"$out" ||
	fail "migrate printed: $out"
ids=$(pg_sql "SELECT string_agg(id::text, ' ' ORDER BY id) FROM builds")
[ "$ids" = "${build[*]}" ] || fail "builds in PostgreSQL: $ids, want ${build[*]}"
agent=$(cat "$state/instance-id")
[ "$(pg_sql "SELECT count(*) FROM builds WHERE agent = '$agent'")" = "$nb" ] ||
	fail "the copied builds are not recorded as the agent's: $(pg_sql "SELECT id, agent FROM builds")"
[ "$(pg_sql "SELECT count(*) FROM deliveries WHERE delivery LIKE 'migrate-%'")" = "$nb" ] || fail "delivery ids not copied"
[ "$(pg_sql "SELECT count(*) FROM signed_pushes")" = "$pushes" ] || fail "replay guard not copied"
[ "$(pg_sql "SELECT build_id || ' ' || state || ' ' || attempts || ' ' || last_error FROM statuses")" = "${build[1]} failure 3 forge down" ] ||
	fail "statuses: $(pg_sql "SELECT * FROM statuses")"
# again: nothing new, nothing twice
mig 0 --from "$state" --to "$PG_URL" --password-file "$PG_PASSWORD_FILE"
grep -q "^copied 0 builds ($nb there already), 0 delivery ids, 0 replay guard digests, .*, 0 commit statuses to post and 0 logs" <<<"$out" ||
	fail "migrate again printed: $out"
[ "$(pg_sql "SELECT count(*) FROM builds")/$(pg_sql "SELECT count(*) FROM statuses")/$(pg_sql "SELECT count(DISTINCT build_id) FROM build_logs")" = "$nb/1/$nb" ] ||
	fail "migrate again copied rows twice"

# the same agent, now on PostgreSQL
AGENT_EXTRA="database = $PG_URL
database_password_file = $PG_PASSWORD_FILE"
start_agent || fail "the agent on PostgreSQL did not start"
grep -q "database 'postgresql://" "$AGENT_LOG" || fail "the agent does not run on PostgreSQL"
http_req "$AGENT_URL/builds?limit=100"
expect 200
jq -c '[.[] | {id, state, ref, sha}] | sort_by(.id)' <<<"$HTTP_BODY" >"$AGENT_DIR/builds-pg.json"
cmp -s "$AGENT_DIR/builds-sqlite.json" "$AGENT_DIR/builds-pg.json" ||
	fail "builds differ: $(cat "$AGENT_DIR/builds-sqlite.json") on SQLite, $(cat "$AGENT_DIR/builds-pg.json") on PostgreSQL"
for i in $(seq 1 $nb); do
	http_req "$AGENT_URL/builds/${build[$i]}/log"
	expect 200
	[ "$HTTP_BODY" = "${log[$i]}" ] || fail "build ${build[$i]}'s log differs on PostgreSQL"
done
# another agent of the fleet, with a state_dir of its own, serves the same logs
port2=$(free_port)
sed -e "s|127.0.0.1:$AGENT_PORT|127.0.0.1:$port2|g" -e "s|^state_dir = .*|state_dir = $AGENT_DIR/state-2|" \
	"$AGENT_DIR/agent.conf" >"$AGENT_DIR/second.conf"
"$S2I_AGENT" serve -c "$AGENT_DIR/second.conf" >>"$AGENT_DIR/second.log" 2>&1 &
SECOND_PID=$!
second_stop() { [ -n "${SECOND_PID:-}" ] && kill -TERM "$SECOND_PID" 2>/dev/null && wait "$SECOND_PID"; }
agent_on_exit second_stop
wait_port "$port2" 15 "$SECOND_PID" || fail "a second agent did not start: $(tail -n 3 "$AGENT_DIR/second.log")"
for i in $(seq 1 $nb); do
	http_req "http://127.0.0.1:$port2/builds/${build[$i]}/log"
	expect 200
	[ "$HTTP_BODY" = "${log[$i]}" ] || fail "build ${build[$i]}'s log differs at another agent: $HTTP_BODY"
done
second_stop
SECOND_PID=

# a redelivery of an old delivery, and an old body under a new delivery id
body 2
post_hook generic web "$g" "$S" "migrate-2"
expect 200 .duplicate "${build[2]}"
post_hook generic web "$g" "$S" "migrate-2-replayed"
expect 200 .duplicate "${build[2]}"
body 9
post_hook generic web "$g" "$S" "migrate-9"
expect 202
new=$(jq -r .build <<<"$HTTP_BODY")
[ "$new" -gt "${build[$nb]}" ] || fail "new build $new is not numbered after the copied ones (${build[*]})"
[ "$(pg_sql "SELECT count(*) FROM builds")" = $((nb + 1)) ] || fail "the redeliveries queued builds"

# the counts of /metrics follow what other agents write (the writer thread counts
# every 0.5 s; the event loop does not ask the database)
metric() {	# name: its value
	curl -sS --max-time 5 "$AGENT_URL/metrics" | sed -n "s/^$1 //p"
}
# the copied builds and the new one, which errors at once (its source does not exist)
new_ended() { [ "$(pg_sql "SELECT state FROM builds WHERE id = $new")" = errored ]; }
wait_for 30 new_ended || fail "build $new did not end: $(pg_sql "SELECT state FROM builds WHERE id = $new")"
all_errored() { [ "$(metric 's2i_agent_builds{state="errored"}')" = $((nb + 1)) ]; }
wait_for 5 all_errored || fail "/metrics: $(curl -sS "$AGENT_URL/metrics" | grep s2i_agent_builds)"
now=$(date +%s%3N)
pg_sql "INSERT INTO builds (repo, ref, sha, state, created, started, provider, attempt, agent)
	VALUES ('elsewhere', 'refs/heads/main', '$(printf %040d 7)', 'running', $now, $now, 'generic', 1, 'agent-elsewhere')" ||
	fail "cannot add another agent's build"
counted() { [ "$(metric 's2i_agent_builds{state="running"}')" = 1 ]; }
wait_for 5 counted || fail "/metrics does not count another agent's running build: $(metric 's2i_agent_builds{state="running"}')"

# another agent's history whose ids are the fleet's builds: refused, nothing copied
other=$AGENT_DIR/other
cp -a "$state" "$other"
rm -f "$other/agent.db-wal" "$other/agent.db-shm"
sqlite3 "$other/agent.db" "UPDATE builds SET repo = 'elsewhere'; INSERT INTO deliveries VALUES ('elsewhere', 'generic', 'other-1', ${build[1]})" ||
	fail "cannot make the other history"
before=$(pg_sql "SELECT count(*) FROM builds")/$(pg_sql "SELECT count(*) FROM deliveries")
mig 1 --from "$other" --to "$PG_URL" --password-file "$PG_PASSWORD_FILE"
grep -q "already holds a build ${build[1]} that is not this agent's.*nothing was copied" <<<"$out" ||
	fail "a clashing history: $out"
[ "$(pg_sql "SELECT count(*) FROM builds")/$(pg_sql "SELECT count(*) FROM deliveries")" = "$before" ] ||
	fail "a refused migrate wrote rows"
stop_agent || fail "the agent on PostgreSQL exited $? on SIGTERM"
exit 0
