#!/usr/bin/env bash
# Where builds may run: two agents on one PostgreSQL with different labels (a:
# arch=amd64,disk=ssd; b: arch=arm64). Each repository's builds are run by an agent
# with every label its run_on lists, whichever agent got the delivery; a repository
# without run_on by either; one whose run_on no agent matches (arch=riscv64) stays
# queued and says so: a line in both logs, run_on and runs_here in GET /builds,
# "needs ..." on the dashboard, s2i_agent_agent_queue{for="other"} in /metrics. A
# third agent with that label then runs them. GET /builds and the dashboard name the
# agent that ran each build, and each agent's /metrics counts the builds it claimed.
# Builds error at once (their repository does not exist): no engine is needed.
set -u
source "$TESTS_DIR/lib/agent.sh"
source "$TESTS_DIR/lib/pg.sh"
source "$TESTS_DIR/lib/fleet.sh"
agent_init
fleet_pg_start || fail "PostgreSQL did not start"
S="fleet-labels-secret-$$-0123456789"
agent_repo x86 "$S" "run_on=arch=amd64, disk=ssd"
agent_repo arm "$S" "run_on=arch=arm64"
agent_repo any "$S"
agent_repo riscv "$S" "run_on=arch=riscv64"
AGENT_EXTRA="database = $PG_URL
database_password_file = $PG_PASSWORD_FILE
labels = arch=amd64,disk=ssd"
start_agent || fail "agent a did not start"
A_URL=$AGENT_URL
fleet_serve b "labels = arch=arm64" || fail "agent b did not start"
B_PID=$FLEET_PID B_URL=http://127.0.0.1:$FLEET_PORT
A_ID=$(cat "$AGENT_DIR/state/instance-id") B_ID=$(cat "$AGENT_DIR/state-b/instance-id")
[ -n "$A_ID" ] && [ -n "$B_ID" ] && [ "$A_ID" != "$B_ID" ] || fail "agent ids: '$A_ID' '$B_ID'"
"$S2I_AGENT" check -c "$AGENT_DIR/b.conf" >/dev/null 2>&1 || fail "check refuses b's configuration: $("$S2I_AGENT" check -c "$AGENT_DIR/b.conf" 2>&1)"

g=$AGENT_DIR/generic.json
push() {	# repo n url: a push of its own commit to its own branch, to that agent
	generic_push "$g" "$2"
	AGENT_URL=$3
	post_hook generic "$1" "$g" "$S" "fleet-labels-$1-$2"
	expect 202
}
# every repository gets pushes at both agents
n=0
for repo in x86 arm any riscv; do
	for url in "$A_URL" "$B_URL" "$A_URL"; do
		n=$((n + 1))
		push "$repo" "$n" "$url"
	done
done
q() { pg_sql "$1" | tr '\n' ' ' | sed 's/ $//'; }
ended() { [ "$(q "SELECT count(*) FROM builds WHERE repo <> 'riscv' AND state IN ('succeeded','failed','errored','canceled')")" = 9 ]; }
wait_for 60 ended || fail "builds not final: $(q "SELECT id, repo, state, agent FROM builds ORDER BY id")"
# each build ran on an agent with the labels: x86 on a, arm on b, any on either
[ "$(q "SELECT DISTINCT agent FROM builds WHERE repo = 'x86'")" = "$A_ID" ] ||
	fail "x86 (run_on arch=amd64, disk=ssd) ran on: $(q "SELECT agent FROM builds WHERE repo = 'x86'")"
[ "$(q "SELECT DISTINCT agent FROM builds WHERE repo = 'arm'")" = "$B_ID" ] ||
	fail "arm (run_on arch=arm64) ran on: $(q "SELECT agent FROM builds WHERE repo = 'arm'")"
[ "$(q "SELECT count(*) FROM builds WHERE repo = 'any' AND agent IN ('$A_ID', '$B_ID')")" = 3 ] ||
	fail "any ran on: $(q "SELECT agent FROM builds WHERE repo = 'any'")"
# nobody has arch=riscv64: its builds stay queued, and that shows
sleep 2
[ "$(q "SELECT string_agg(state || '/' || coalesce(agent, '-'), ' ') FROM builds WHERE repo = 'riscv'")" = "queued/- queued/- queued/-" ] ||
	fail "riscv (no agent matches): $(q "SELECT id, state, agent FROM builds WHERE repo = 'riscv'")"
riscv1=$(q "SELECT min(id) FROM builds WHERE repo = 'riscv'")
for log in "$AGENT_LOG" "$AGENT_DIR/b.log"; do
	wait_grep "build $riscv1: waits for an agent with labels 'arch=riscv64' (repository 'riscv', run_on); this agent has '[^']*'; no agent has them now" "$log" 30 ||
		fail "$(basename "$log") does not say build $riscv1 waits: $(grep riscv "$log" | tail -3)"
	[ "$(grep -c "build $riscv1: waits for an agent" "$log")" = 1 ] || fail "$(basename "$log") says it more than once"
done
for u in "$A_URL" "$B_URL"; do
	http_req "$u/builds?repo=riscv"
	expect 200 '[.[] | "\(.state) \(.run_on) \(.runs_here) \(.agent)"] | unique | join(",")' "queued arch=riscv64 false null"
done
http_req "$A_URL/builds?repo=x86&limit=1"
expect 200 '.[0].agent' "$A_ID"
expect 200 '.[0] | has("run_on")' false
http_req "$B_URL/builds?repo=arm&limit=1"
expect 200 '.[0].agent' "$B_ID"
# the dashboard: who ran it, and what a queued build needs
http_req -H "Accept: text/html" "$A_URL/"
grep -q "needs arch=riscv64 (not this agent)" <<<"$HTTP_BODY" || fail "the dashboard does not show what riscv's builds need"
grep -q "title=\"agent $A_ID\">on ${A_ID:0:8}<" <<<"$HTTP_BODY" || fail "the dashboard does not name agent a"
grep -q "title=\"agent $B_ID\">on ${B_ID:0:8}<" <<<"$HTTP_BODY" || fail "the dashboard does not name agent b"
# each agent's /metrics: its share of the queue and the builds it claimed
metric() {	# url name [labels]
	local m=$2
	[ -n "${3:-}" ] && m="$2{$3}"
	curl -s "$1/metrics" | awk -v m="$m" '$1 == m { print $2 }'
}
for who in a b; do
	if [ $who = a ]; then u=$A_URL id=$A_ID labels=arch=amd64,disk=ssd; else u=$B_URL id=$B_ID labels=arch=arm64; fi
	[ "$(metric "$u" s2i_agent_agent_info "agent=\"$id\",labels=\"$labels\"")" = 1 ] ||
		fail "$who: $(curl -s "$u/metrics" | grep agent_info)"
	[ "$(metric "$u" s2i_agent_agent_queue "agent=\"$id\",for=\"other\"")" = 3 ] ||
		fail "$who: queued for other agents: $(curl -s "$u/metrics" | grep agent_queue)"
	[ "$(metric "$u" s2i_agent_agent_queue "agent=\"$id\",for=\"this\"")" = 0 ] ||
		fail "$who: queued for it: $(curl -s "$u/metrics" | grep agent_queue)"
	# fleet-wide: no agent heard of has arch=riscv64, and both are heard of
	[ "$(metric "$u" s2i_agent_queue_unmatched)" = 3 ] ||
		fail "$who: unmatched: $(curl -s "$u/metrics" | grep unmatched)"
	# (each records itself every 10 s, and reads the others then)
	both_heard() { [ "$(metric "$u" s2i_agent_agents)" = 2 ]; }
	wait_for 25 both_heard || fail "$who: $(curl -s "$u/metrics" | grep 's2i_agent_agents ')"
	ran=$(q "SELECT count(*) FROM builds WHERE agent = '$id'")
	[ "$(metric "$u" s2i_agent_agent_claimed_total "agent=\"$id\"")" = "$ran" ] ||
		fail "$who: claimed $(metric "$u" s2i_agent_agent_claimed_total "agent=\"$id\""), ran $ran"
done
echo "a ran $(q "SELECT count(*) FROM builds WHERE agent = '$A_ID'"), b ran $(q "SELECT count(*) FROM builds WHERE agent = '$B_ID'") builds; riscv's 3 wait"

# an agent with the label comes: it runs them, in push order
fleet_serve c "labels = arch=riscv64" || fail "agent c did not start"
C_ID=$(cat "$AGENT_DIR/state-c/instance-id")
riscv_ended() { [ "$(q "SELECT count(*) FROM builds WHERE repo = 'riscv' AND state = 'errored'")" = 3 ]; }
wait_for 60 riscv_ended || fail "riscv's builds after agent c came: $(q "SELECT id, state, agent FROM builds WHERE repo = 'riscv'")"
[ "$(q "SELECT DISTINCT agent FROM builds WHERE repo = 'riscv'")" = "$C_ID" ] ||
	fail "riscv ran on: $(q "SELECT agent FROM builds WHERE repo = 'riscv'")"
[ "$(metric "$A_URL" s2i_agent_agent_queue "agent=\"$A_ID\",for=\"other\"")" = 0 ] || fail "a still counts builds for others"
for pid in "$B_PID" "$FLEET_PID"; do
	fleet_stop "$pid" || fail "an agent exited $? on SIGTERM"
done
stop_agent || fail "agent a exited $? on SIGTERM"
exit 0
