#!/usr/bin/env bash
# Leases on a fleet (s2i-agent.conf(5) lease = 3s here): two agents share a private
# PostgreSQL (tests/lib/pg.sh) and the host's engine, each with its own owner id.
# 1. The agent running a build is SIGKILLed with its build process (a power cut:
#    its container stays): the other agent runs the build again within lease + 5 s,
#    it ends once with one final status, the other agent leaves the dead one's
#    container alone, and the dead one removes it when it comes back.
# 2. The agent running a build is frozen (SIGSTOP, with its build process) past its
#    lease, then let go (SIGCONT): the other agent has taken the build over; the
#    frozen one records nothing of it, stops its build process and removes its
#    container; one final state, one final status, no container left.
# For tests/bench/takeover.sh: TAKEOVER_LEASE (seconds, default 3) and
# TAKEOVER_KILL_ONLY=1 (part 1 only).
TEST=fleet-takeover
source "$TESTS_DIR/lib/pipeline.sh"
source "$TESTS_DIR/lib/pg.sh"
LEASE=${TAKEOVER_LEASE:-3}
# both agents' logs on a failure
eval "a_$(declare -f fail)"
fail() {
	[ -f "$AGENT_DIR/b.log" ] && { echo "--- agent b log (tail):" >&2; tail -n 30 "$AGENT_DIR/b.log" >&2; }
	a_fail "$@"
}
pg_start || fail "PostgreSQL did not start"
B_PID=
takeover_stop() {
	local pid
	for pid in ${AGENT_PID:-} ${B_PID:-}; do
		kill -CONT "$pid" 2>/dev/null
		kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	done
	pg_stop
}
agent_on_exit takeover_stop

pl_builder
pl_repo web
AGENT_EXTRA="database = $PG_URL
database_password_file = $PG_PASSWORD_FILE
lease = ${LEASE}s"
start_agent || fail "agent a did not start"
A_LOG=$AGENT_LOG

# agent b: a's configuration on its own port and state directory
start_b() {	# (another port while the one tried is taken)
	local conf=$AGENT_DIR/b.conf try
	for try in 1 2 3 4 5; do
		B_PORT=$(free_port)
		agent_write_config "$conf"
		sed -i -e "s|127.0.0.1:$AGENT_PORT|127.0.0.1:$B_PORT|g" \
			-e "s|^state_dir = .*|state_dir = $AGENT_DIR/state-b|" "$conf"
		"$S2I_AGENT" serve -c "$conf" >>"$AGENT_DIR/b.log" 2>&1 &
		B_PID=$!
		wait_port "$B_PORT" 15 "$B_PID" && return 0
		kill "$B_PID" 2>/dev/null
		wait "$B_PID" 2>/dev/null
		grep -q "cannot listen" "$AGENT_DIR/b.log" || break
	done
	cat "$AGENT_DIR/b.log"
	fail "agent b did not start"
}
owner() {	# state dir: that agent's id (its containers' owner label)
	cat "$1/instance-id"
}
field() {	# id column
	pg_sql "SELECT $2 FROM builds WHERE id = $1"
}
sleeping_on() {	# id state-dir: the build's assemble sleeps on that agent
	grep -q 'assemble: sleeping' "$2/logs/$1.log" 2>/dev/null
}
containers() {	# id owner: the build's containers of that agent
	docker ps -aq --filter "label=io.s2i-agent.build=$1" --filter "label=io.s2i-agent.owner=$2" \
		--filter "ancestor=$PL_BUILDER"
}
no_containers() { [ -z "$(containers "$1" "$2")" ]; }
# one final status for the commit (the same post twice, from two agents racing for
# the outbox, is one transition: issue 13's status outbox)
final_statuses() {	# sha
	pl_statuses "$1" | grep -E '^(success|failure|error)\|' | sort -u | wc -l
}
ms() { date +%s%3N; }

# ---- 1. SIGKILL of the agent and its build process ----
sha1=$(pl_commit web "slow" SLEEP 8)
pl_push web >/dev/null || fail "git push"
pl_github_push web "$sha1"
expect 202
id1=$(jq -r .build <<<"$HTTP_BODY")
wait_for 60 sleeping_on "$id1" "$AGENT_DIR/state" || fail "build $id1 did not start on agent a"
start_b
A_OWNER=$(owner "$AGENT_DIR/state") B_OWNER=$(owner "$AGENT_DIR/state-b")
[ "$A_OWNER" != "$B_OWNER" ] || fail "both agents have the owner id $A_OWNER"
[ -n "$(containers "$id1" "$A_OWNER")" ] || fail "no container of build $id1 on agent a"
bpid=$(field "$id1" pid)
[ -n "$bpid" ] || fail "no build process recorded for build $id1"
# both at one instant, as a power cut: stopped first, so that neither acts on the
# other's death (the build process removes its containers when the agent dies)
kill -STOP "$AGENT_PID" && kill -STOP -- "-$bpid"
killed=$(ms)
kill -9 -- "-$bpid" && kill -9 "$AGENT_PID"
wait "$AGENT_PID" 2>/dev/null
AGENT_PID=
rerun() { [ "$(field "$id1" "state || ' ' || attempt || ' ' || agent")" = "running 2 $B_OWNER" ]; }
wait_for $((LEASE + 5)) rerun ||
	fail "build $id1 not running again on agent b within $((LEASE + 5))s: $(field "$id1" "state, attempt, agent")"
echo "takeover: build $id1 running again on agent b $(($(ms) - killed)) ms after SIGKILL (lease ${LEASE}s)"
grep -q "build $id1: taken over: the agent running it stopped renewing its lease; it runs again" \
	"$AGENT_DIR/b.log" || fail "agent b does not log the takeover"
final1() { case $(field "$id1" state) in succeeded | failed | errored | canceled) return 0 ;; esac; return 1; }
wait_for 90 final1 || fail "build $id1 did not end"
[ "$(field "$id1" state)" = succeeded ] || fail "build $id1: $(field "$id1" "state, reason")"
# the dead agent's container is its own to remove, on its return: b left it
[ -n "$(containers "$id1" "$A_OWNER")" ] || fail "agent b removed agent a's container"
no_containers "$id1" "$B_OWNER" || fail "agent b left its container of build $id1"
KEEP_PORT=1 start_agent || fail "agent a did not restart"
wait_for 30 no_containers "$id1" "$A_OWNER" || fail "agent a did not remove its container of build $id1"
[ "$(field "$id1" "state || ' ' || attempt")" = "succeeded 2" ] ||
	fail "build $id1 after agent a came back: $(field "$id1" "state, attempt")"
wait_for 30 eval '[ "$(final_statuses "$sha1")" -ge 1 ]' || fail "no final status: $(pl_statuses)"
sleep 1
[ "$(final_statuses "$sha1")" = 1 ] || fail "final statuses of build $id1: $(pl_statuses "$sha1")"
[ "${TAKEOVER_KILL_ONLY:-}" = 1 ] && exit 0

# ---- 2. the agent running a build frozen past its lease ----
sha2=$(pl_commit web "slow again" SLEEP 10)
pl_push web >/dev/null || fail "git push"
pl_github_push web "$sha2" refs/heads/main "frozen-$$"
expect 202
id2=$(jq -r .build <<<"$HTTP_BODY")
on_some() { sleeping_on "$id2" "$AGENT_DIR/state" || sleeping_on "$id2" "$AGENT_DIR/state-b"; }
wait_for 60 on_some || fail "build $id2 did not start"
if [ "$(field "$id2" agent)" = "$A_OWNER" ]; then
	F_PID=$AGENT_PID F_OWNER=$A_OWNER F_LOG=$A_LOG O_OWNER=$B_OWNER
else
	F_PID=$B_PID F_OWNER=$B_OWNER F_LOG=$AGENT_DIR/b.log O_OWNER=$A_OWNER
fi
bpid=$(field "$id2" pid)
[ -n "$bpid" ] || fail "no build process recorded for build $id2"
[ -n "$(containers "$id2" "$F_OWNER")" ] || fail "no container of build $id2"
kill -STOP "$F_PID" && kill -STOP -- "-$bpid"
taken() { [ "$(field "$id2" "state || ' ' || attempt || ' ' || agent")" = "running 2 $O_OWNER" ]; }
wait_for $((LEASE + 5)) taken || fail "build $id2 not taken over: $(field "$id2" "state, attempt, agent")"
kill -CONT -- "-$bpid"
kill -CONT "$F_PID"
wait_grep "build $id2: another agent took it over" "$F_LOG" 15 ||
	fail "the frozen agent did not learn it lost build $id2"
gone() { ! kill -0 "$bpid" 2>/dev/null; }
wait_for 20 gone || fail "the frozen agent's build process of build $id2 still runs"
wait_for 30 no_containers "$id2" "$F_OWNER" || fail "the frozen agent left its container of build $id2"
final2() { case $(field "$id2" state) in succeeded | failed | errored | canceled) return 0 ;; esac; return 1; }
wait_for 90 final2 || fail "build $id2 did not end"
[ "$(field "$id2" "state || ' ' || attempt || ' ' || agent")" = "succeeded 2 $O_OWNER" ] ||
	fail "build $id2: $(field "$id2" "state, attempt, agent, reason")"
# the outcome on record is the rerun's, which sleeps 10 s after its start: the frozen
# run, let go in the middle of its sleep, would have ended sooner
ran=$(field "$id2" "finished - started")
[ "$ran" -ge 10000 ] || fail "build $id2 recorded $ran ms after its rerun started: the frozen agent's outcome"
wait_for 30 eval '[ "$(final_statuses "$sha2")" -ge 1 ]' || fail "no final status: $(pl_statuses)"
sleep 2
[ "$(final_statuses "$sha2")" = 1 ] || fail "final statuses of build $id2: $(pl_statuses "$sha2")"
[ "$(pl_statuses "$sha2" | grep -c '^success|')" -ge 1 ] || fail "no success status: $(pl_statuses "$sha2")"
pl_statuses "$sha2" | grep -q '^canceled\|^error|' && fail "the frozen agent's outcome was posted: $(pl_statuses "$sha2")"
grep -q "build $id2: canceled\|build $id2: succeeded" "$F_LOG" &&
	fail "the frozen agent recorded build $id2: $(grep "build $id2" "$F_LOG")"
for o in "$A_OWNER" "$B_OWNER"; do
	wait_for 20 no_containers "$id2" "$o" || fail "containers of build $id2 left ($o)"
done
echo "frozen agent: build $id2 stopped there, recorded once by the other agent"
