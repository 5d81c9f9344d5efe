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
#    container (by its own clock, or when its heartbeat finds the lease gone); one
#    final state, one final status, no container left.
# 3. The agent running a build is cut off from PostgreSQL (each agent reaches it
#    through a proxy, tests/lib/sockproxy.py, that the test freezes: a link that
#    accepts and never answers): by its own clock, before its lease runs out and while
#    PostgreSQL is still out of its reach, it stops the build (process and
#    containers); the other agent takes the build over and runs it; let back, the
#    cut-off agent records nothing of it.
# 4. The build's lease is taken by someone else while the agent running it is healthy
#    (the test moves it in PostgreSQL: a new fence, another holder): the agent's next
#    renewal, before its own clock runs out, finds it gone; it stops the build and
#    records nothing. Once that lease runs out an agent runs the build again.
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
declare -A PROXY_PID PROXY_PORT
takeover_stop() {
	local pid
	# a link still frozen would hold up an agent's stop
	for pid in "${PROXY_PID[@]}"; do kill -USR1 "$pid" 2>/dev/null; done
	for pid in ${AGENT_PID:-} ${B_PID:-}; do
		kill -CONT "$pid" 2>/dev/null
		kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	done
	for pid in "${PROXY_PID[@]}"; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; done
	pg_stop
}
agent_on_exit takeover_stop
# each agent's way to PostgreSQL: a proxy that freezes at the first bytes after a
# SIGUSR2 (part 3) and forwards again after a SIGUSR1
proxy_start() {	# name
	local n=$1
	PROXY_PORT[$n]=$(free_port)
	python3 "$TESTS_DIR/lib/sockproxy.py" "tcp:127.0.0.1:${PROXY_PORT[$n]}" "tcp:127.0.0.1:$PG_PORT" \
		--ready "$AGENT_DIR/proxy-$n.ready" --freeze-on '(?s).' --frozen "$AGENT_DIR/proxy-$n.frozen" \
		--disarmed >"$AGENT_DIR/proxy-$n.log" 2>&1 &
	PROXY_PID[$n]=$!
	wait_for 10 test -s "$AGENT_DIR/proxy-$n.ready" ||
		fail "the proxy to PostgreSQL did not start: $(cat "$AGENT_DIR/proxy-$n.log")"
}
proxy_start a
proxy_start b

pl_builder
pl_repo web
AGENT_EXTRA="database = postgresql://agent@127.0.0.1:${PROXY_PORT[a]}/s2i
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
			-e "s|127.0.0.1:${PROXY_PORT[a]}/|127.0.0.1:${PROXY_PORT[b]}/|" \
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
ended_state() { case $(field "$1" state) in succeeded | failed | errored | canceled) return 0 ;; esac; return 1; }
# the commit's final status arrives, and (after a pause for a late duplicate) only once
one_final_status() {	# sha id
	local fsha=$1	# (wait_for's eval runs in a function of its own: its $1 is not ours)
	wait_for 30 eval '[ "$(final_statuses "$fsha")" -ge 1 ]' || fail "no final status: $(pl_statuses)"
	sleep 2
	[ "$(final_statuses "$fsha")" = 1 ] || fail "final statuses of build $2: $(pl_statuses "$fsha")"
}
# PostgreSQL's clock in the ms the agents write (store_pg.c's PG_NOW)
PG_NOW_MS="(extract(epoch from clock_timestamp()) * 1000)::bigint"

# The build ends once, as the other agent's rerun (which sleeps SLEEP seconds from
# its start: the stopped run, let go in the middle of its sleep, would end sooner),
# with one final status; the stopped agent (its log LOG) recorded and posted nothing
# of it; no container is left.
rerun_recorded() {	# id sha sleep log who
	local id=$1 sha=$2 sleep=$3 log=$4 who=$5 ran o
	wait_for 90 ended_state "$id" || fail "build $id did not end"
	[ "$(field "$id" "state || ' ' || attempt || ' ' || agent")" = "succeeded 2 $O_OWNER" ] ||
		fail "build $id: $(field "$id" "state, attempt, agent, reason")"
	ran=$(field "$id" "finished - started")
	[ "$ran" -ge $((sleep * 1000)) ] || fail "build $id recorded $ran ms after its rerun started: the $who agent's outcome"
	one_final_status "$sha" "$id"
	[ "$(pl_statuses "$sha" | grep -c '^success|')" -ge 1 ] || fail "no success status: $(pl_statuses "$sha")"
	pl_statuses "$sha" | grep -q '^canceled\|^error|' && fail "the $who agent's outcome was posted: $(pl_statuses "$sha")"
	grep -q "build $id: canceled\|build $id: succeeded" "$log" &&
		fail "the $who agent recorded build $id: $(grep "build $id" "$log")"
	for o in "$A_OWNER" "$B_OWNER"; do
		wait_for 20 no_containers "$id" "$o" || fail "containers of build $id left ($o)"
	done
}

# A build whose assemble sleeps that long, running on one of the agents: sets shaN
# and idN (N given), R (a or b) with R_PID, R_OWNER and R_LOG for the agent running
# it, O_OWNER for the other, and bpid (its build process).
slow_build() {	# seconds delivery N
	local sha id
	sha=$(pl_commit web "slow, $2" SLEEP "$1")
	pl_push web >/dev/null || fail "git push"
	pl_github_push web "$sha" refs/heads/main "$2"
	expect 202
	id=$(jq -r .build <<<"$HTTP_BODY")
	printf -v "sha$3" %s "$sha"
	printf -v "id$3" %s "$id"
	on_some() { sleeping_on "$id" "$AGENT_DIR/state" || sleeping_on "$id" "$AGENT_DIR/state-b"; }
	wait_for 60 on_some || fail "build $id did not start"
	if [ "$(field "$id" agent)" = "$A_OWNER" ]; then
		R=a R_PID=$AGENT_PID R_OWNER=$A_OWNER R_LOG=$A_LOG O_OWNER=$B_OWNER
	else
		R=b R_PID=$B_PID R_OWNER=$B_OWNER R_LOG=$AGENT_DIR/b.log O_OWNER=$A_OWNER
	fi
	bpid=$(field "$id" pid)
	[ -n "$bpid" ] || fail "no build process recorded for build $id"
	[ -n "$(containers "$id" "$R_OWNER")" ] || fail "no container of build $id"
}

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
wait_for 90 ended_state "$id1" || fail "build $id1 did not end"
[ "$(field "$id1" state)" = succeeded ] || fail "build $id1: $(field "$id1" "state, reason")"
# the dead agent's container is its own to remove, on its return: b left it
[ -n "$(containers "$id1" "$A_OWNER")" ] || fail "agent b removed agent a's container"
# the build removes its containers after it printed its result
wait_for 20 no_containers "$id1" "$B_OWNER" || fail "agent b left its container of build $id1"
KEEP_PORT=1 start_agent || fail "agent a did not restart"
wait_for 30 no_containers "$id1" "$A_OWNER" || fail "agent a did not remove its container of build $id1"
[ "$(field "$id1" "state || ' ' || attempt")" = "succeeded 2" ] ||
	fail "build $id1 after agent a came back: $(field "$id1" "state, attempt")"
one_final_status "$sha1" "$id1"
[ "${TAKEOVER_KILL_ONLY:-}" = 1 ] && exit 0

# ---- 2. the agent running a build frozen past its lease ----
slow_build 10 "frozen-$$" 2
F_PID=$R_PID F_OWNER=$R_OWNER F_LOG=$R_LOG
kill -STOP "$F_PID" && kill -STOP -- "-$bpid"
taken() { [ "$(field "$id2" "state || ' ' || attempt || ' ' || agent")" = "running 2 $O_OWNER" ]; }
wait_for $((LEASE + 5)) taken || fail "build $id2 not taken over: $(field "$id2" "state, attempt, agent")"
kill -CONT -- "-$bpid"
kill -CONT "$F_PID"
# by the heartbeat's answer, or by its own clock (the watch) first
wait_grep "build $id2: another agent took it over\|build $id2: its lease ran out" "$F_LOG" 15 ||
	fail "the frozen agent did not learn it lost build $id2"
gone() { ! kill -0 "$bpid" 2>/dev/null; }
wait_for 20 gone || fail "the frozen agent's build process of build $id2 still runs"
wait_for 30 no_containers "$id2" "$F_OWNER" || fail "the frozen agent left its container of build $id2"
rerun_recorded "$id2" "$sha2" 10 "$F_LOG" frozen
echo "frozen agent: build $id2 stopped there, recorded once by the other agent"

# ---- 3. the agent running a build cut off from PostgreSQL ----
slow_build 15 "cut-$$" 3
C=$R C_OWNER=$R_OWNER C_LOG=$R_LOG
# the next bytes it sends PostgreSQL (a renewal every lease/3 at the latest) freeze
# its link: the lease it holds runs out at most a lease after that
kill -USR2 "${PROXY_PID[$C]}"
wait_for 10 test -e "$AGENT_DIR/proxy-$C.frozen" || fail "agent $C sent nothing to PostgreSQL for 10 s"
cut=$(ms)
# ended: its agent, waiting on PostgreSQL, may not have reaped it yet (a zombie)
ended() { ! kill -0 "$1" 2>/dev/null || grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }
stopped() { ended "$bpid" && no_containers "$id3" "$C_OWNER"; }
wait_for $((LEASE + 2)) stopped ||
	fail "agent $C, cut off from PostgreSQL, still runs build $id3 $(($(ms) - cut)) ms after the cut" \
		"(lease ${LEASE}s): process $(ended "$bpid" && echo ended || echo alive)," \
		"containers: $(containers "$id3" "$C_OWNER" | tr '\n' ' ')"
took=$(($(ms) - cut))
[ "$took" -le $((LEASE * 1000 + 1000)) ] ||
	fail "build $id3 stopped $took ms after the cut: later than its lease (${LEASE}s) and 1 s"
echo "cut-off agent: build $id3 stopped $took ms after its link to PostgreSQL froze (lease ${LEASE}s)"
taken() { [ "$(field "$id3" "state || ' ' || attempt || ' ' || agent")" = "running 2 $O_OWNER" ]; }
wait_for $((LEASE + 5)) taken || fail "build $id3 not taken over: $(field "$id3" "state, attempt, agent")"
kill -USR1 "${PROXY_PID[$C]}"
wait_grep "build $id3: its lease ran out before this agent could renew it" "$C_LOG" 20 ||
	fail "agent $C does not say it stopped build $id3: $(tail -n 20 "$C_LOG")"
rerun_recorded "$id3" "$sha3" 15 "$C_LOG" cut-off
echo "cut-off agent: build $id3 stopped by its own clock, run and recorded once by the other agent"

# ---- 4. the lease moved to another holder while the agent is healthy ----
slow_build 16 "moved-$$" 4
H_OWNER=$R_OWNER H_LOG=$R_LOG
moved=$(ms)
out=$(pg_sql "UPDATE builds SET fence = fence + 1, agent = 'elsewhere-$$',
	lease_until = $PG_NOW_MS + 3600000 WHERE id = $id4" 2>&1) || fail "cannot move the lease: $out"
# the heartbeat (every lease/3) finds it, not the agent's own clock (a lease later)
wait_grep "build $id4: another agent took it over" "$H_LOG" 10 ||
	fail "the heartbeat did not find build $id4 taken over: $(grep "build $id4" "$H_LOG")"
took=$(($(ms) - moved))
grep -q "build $id4: its lease ran out" "$H_LOG" &&
	fail "build $id4 was stopped by the agent's own clock, not by its heartbeat"
wait_for 20 gone || fail "the build process of build $id4 still runs"
wait_for 30 no_containers "$id4" "$H_OWNER" || fail "containers of build $id4 left ($H_OWNER)"
[ "$(field "$id4" "state || ' ' || agent")" = "running elsewhere-$$" ] ||
	fail "the stopped agent recorded build $id4: $(field "$id4" "state, agent, reason")"
echo "moved lease: build $id4 stopped $took ms after its lease moved (lease ${LEASE}s)"
# the other holder's lease runs out: an agent runs it again, and it ends once
out=$(pg_sql "UPDATE builds SET lease_until = $PG_NOW_MS - 1000 WHERE id = $id4" 2>&1) ||
	fail "cannot end the moved lease: $out"
wait_for 90 ended_state "$id4" || fail "build $id4 did not end"
[ "$(field "$id4" "state || ' ' || attempt")" = "succeeded 2" ] ||
	fail "build $id4: $(field "$id4" "state, attempt, agent, reason")"
[ "$(field "$id4" "finished - started")" -ge 16000 ] || fail "build $id4 recorded before its rerun's end"
one_final_status "$sha4" "$id4"
for o in "$A_OWNER" "$B_OWNER"; do
	wait_for 20 no_containers "$id4" "$o" || fail "containers of build $id4 left ($o)"
done
