#!/usr/bin/env bash
# A fleet under chaos (issue 13). Four agents share a private PostgreSQL (pg.sh): a, b
# and c build on the host's dockerd, each with its own owner id; d on a second dockerd
# with its own data root and socket (Docker 28.5 from the sid root, sidengine.sh).
# Signed deliveries of real pushes to several repositories go round-robin through
# haproxy (127.0.0.1 only) and are delivered again, as a forge does, until answered.
# Meanwhile agents are SIGKILLed at random while they run builds (alone, or with their
# build processes as a power cut would) and started again (at once, or once their
# lease has run out), PostgreSQL is restarted once, and b, whose
# connection to PostgreSQL goes through a proxy (sockproxy.py), is cut off mid-build
# for longer than the lease and then let back. Afterwards every delivery answered 202
# has exactly one final build and no delivery two; every final build has exactly one
# final commit status at the forge double, and nothing posted after it; a repository's
# builds ran one at a time, in push order; no container of the fleet is left on either
# engine. The last line sums it up.
# Size: FLEET_CHAOS_DELIVERIES (36), FLEET_CHAOS_KILLS (6), FLEET_CHAOS_REPOS (6),
# FLEET_CHAOS_LEASE (seconds, 5); `make chaos` runs 200 deliveries and 20 kills.
# In make check (36 deliveries); `make chaos` runs it at 200 and 20.
set -u
: "${TESTS_DIR:=$(cd "$(dirname "$0")/.." && pwd)}"
export TESTS_DIR
: "${S2I_AGENT:=$TESTS_DIR/../build/rel/s2i-agent}"
export S2I_AGENT
deliveries=${FLEET_CHAOS_DELIVERIES:-36}
kills_wanted=${FLEET_CHAOS_KILLS:-6}
nrepos=${FLEET_CHAOS_REPOS:-6}
lease=${FLEET_CHAOS_LEASE:-5}
second=${FLEET_CHAOS_ENGINE:-docker28}
TEST=fleet-chaos
source "$TESTS_DIR/lib/pipeline.sh"
source "$TESTS_DIR/lib/pg.sh"
source "$TESTS_DIR/lib/sidengine.sh"
command -v haproxy >/dev/null || fail "no haproxy (tests/deps installs it)"
say() { echo "fleet-chaos: $*"; }
final_states="'succeeded','failed','errored','canceled'"

agents=(a b c d)
declare -A PID PORT OWNER
LB_PID= PROXY_PID=
fc_cleanup() {
	local n
	for n in "${agents[@]}"; do
		[ -n "${PID[$n]:-}" ] && kill -TERM "${PID[$n]}" 2>/dev/null && wait "${PID[$n]}" 2>/dev/null
	done
	[ -n "$LB_PID" ] && kill "$LB_PID" 2>/dev/null && wait "$LB_PID" 2>/dev/null
	[ -n "$PROXY_PID" ] && kill "$PROXY_PID" 2>/dev/null && wait "$PROXY_PID" 2>/dev/null
	pg_stop
	# containers a failed run left (counted above), the builder and every image made
	# from it on the second engine: all carry the builder's label
	local c label=label=s2i-agent-test.image=$PL_ID
	for c in $(docker ps -aq --filter "$label"); do docker rm -f "$c" >/dev/null 2>&1; done
	if sid_engine_up "$second" 2>/dev/null; then
		for c in $(sid_cli "$second" ps -aq --filter "$label"); do
			sid_cli "$second" rm -f "$c" >/dev/null 2>&1
		done
		# newest first: the builds' images before the builder they were made from
		for c in $(sid_cli "$second" images -q --filter "$label" | awk '!seen[$0]++'); do
			sid_cli "$second" rmi -f "$c" >/dev/null 2>&1
		done
	fi
	pl_cleanup
}
trap fc_cleanup EXIT

sid_engine_start "$second"
rc=$?
[ $rc = 77 ] && skip "the second engine ($second) cannot be made here"
[ $rc = 0 ] || fail "the second engine ($second) did not start"
SECOND_URL=$SID_ENGINE_URL
pg_start || fail "PostgreSQL did not start"

# the builder, in both engines; its assemble sleeps (SLEEP) so that kills land in builds
pl_builder
docker save "$PL_BUILDER" | sid_cli "$second" load >/dev/null || fail "cannot load the builder into $second"
for r in $(seq 1 "$nrepos"); do
	pl_repo "r$r" cancel_superseded=no "status_repo=acme/r$r"
	echo 1 >"$AGENT_DIR/r$r.work/SLEEP"
done
# delivery k pushes commit k of repository r(k mod n): "k repo sha" a line, push order
for k in $(seq 1 "$deliveries"); do
	r=r$(((k - 1) % nrepos + 1))
	echo "$k $r $(pl_commit "$r" "commit $k" msg "hello $k")" >>"$AGENT_DIR/plan"
done
for r in $(seq 1 "$nrepos"); do pl_push "r$r" >/dev/null || fail "cannot push r$r"; done

# ports: the balancer's, each agent's, and b's way to PostgreSQL (the proxy)
LB_PORT=$(free_port) && LB_URL=http://127.0.0.1:$LB_PORT
for n in "${agents[@]}"; do
	until PORT[$n]=$(free_port) && [ "${PORT[$n]}" != "$LB_PORT" ]; do :; done
done
PROXY_PORT=$(free_port)
python3 "$TESTS_DIR/lib/sockproxy.py" "tcp:127.0.0.1:$PROXY_PORT" "tcp:127.0.0.1:$PG_PORT" \
	--ready "$AGENT_DIR/proxy.ready" --freeze-on '(?s).' --frozen "$AGENT_DIR/proxy.frozen" --disarmed \
	>"$AGENT_DIR/proxy.log" 2>&1 &
PROXY_PID=$!
wait_for 10 test -s "$AGENT_DIR/proxy.ready" || fail "the proxy to PostgreSQL did not start: $(cat "$AGENT_DIR/proxy.log")"

fc_conf() {	# name [extra line]: $AGENT_DIR/NAME.conf
	local n=$1 engine=unix://$ENGINE_SOCK db=$PG_URL
	[ "$n" = d ] && engine=$SECOND_URL
	[ "$n" = b ] && db=postgresql://agent@127.0.0.1:$PROXY_PORT/s2i
	{
		printf '[agent]\nlisten = 127.0.0.1:%s\npublic_url = %s\n' "${PORT[$n]}" "$LB_URL"
		printf 'state_dir = %s/state-%s\nengine = %s\n' "$AGENT_DIR" "$n" "$engine"
		printf 'database = %s\ndatabase_password_file = %s\n' "$db" "$PG_PASSWORD_FILE"
		printf 'workers = 2\nbuild_timeout = 2m\nkeep_builds = 0\nkeep_days = 0\n'
		[ -n "${2:-}" ] && printf '%s\n' "$2"
		cat "$AGENT_DIR/repos.conf"
	} >"$AGENT_DIR/$n.conf"
	chmod 640 "$AGENT_DIR/$n.conf"
}
# the lease as short as the test needs, where the agent has the key (until it does,
# a lost agent's builds wait for it to come back, and this test says so)
lease_line=
fc_conf a
"$S2I_AGENT" check -c "$AGENT_DIR/a.conf" >"$AGENT_DIR/check.log" 2>&1 || fail "check: $(cat "$AGENT_DIR/check.log")"
for v in "lease = ${lease}s" "lease = $lease"; do
	fc_conf a "$v"
	"$S2I_AGENT" check -c "$AGENT_DIR/a.conf" >"$AGENT_DIR/check.log" 2>&1 && { lease_line=$v; break; }
done
[ -n "$lease_line" ] || say "this agent takes no 'lease' key: $(grep -i lease "$AGENT_DIR/check.log" | head -n 1)"

# an agent started, and listening; its port taken meanwhile (by a connection's own
# end, on a machine other tests share), on another one, which the balancer is told
fc_listening() {	# name line: its log says so from that line on
	tail -n "+$2" "$AGENT_DIR/$1.log" | grep -q "listening on .*:${PORT[$1]}"
}
fc_start() {	# name
	local n=$1 try from
	fc_conf "$n" "$lease_line"
	for try in 1 2 3 4 5; do
		from=$(($(wc -l <"$AGENT_DIR/$n.log" 2>/dev/null || echo 0) + 1))
		"$S2I_AGENT" serve -c "$AGENT_DIR/$n.conf" >>"$AGENT_DIR/$n.log" 2>&1 &
		PID[$n]=$!
		wait_for_pid "${PID[$n]}" 30 fc_listening "$n" "$from" && return 0
		kill -9 "${PID[$n]}" 2>/dev/null
		wait "${PID[$n]}" 2>/dev/null
		tail -n "+$from" "$AGENT_DIR/$n.log" | grep -q "cannot listen" || break
		PORT[$n]=$(free_port)
		fc_conf "$n" "$lease_line"
		[ -n "$LB_PID" ] && lb_start
	done
	tail -n 20 "$AGENT_DIR/$n.log" >&2
	fail "agent $n did not start"
}
for n in "${agents[@]}"; do
	fc_start "$n"
	OWNER[$n]=$(cat "$AGENT_DIR/state-$n/instance-id") || fail "agent $n has no instance id"
done

# the balancer (again when an agent had to move to another port: what was in flight
# is delivered again)
lb_start() {
	if [ -n "$LB_PID" ]; then
		kill "$LB_PID" 2>/dev/null
		wait "$LB_PID" 2>/dev/null
	fi
	cat >"$AGENT_DIR/haproxy.cfg" <<EOF
global
	maxconn 512
defaults
	mode http
	timeout connect 1s
	timeout client 30s
	timeout server 30s
	retries 3
	option redispatch
frontend deliveries
	bind 127.0.0.1:$LB_PORT
	default_backend fleet
backend fleet
	balance roundrobin
	option httpchk
	http-check send meth GET uri /healthz ver HTTP/1.1 hdr Host 127.0.0.1
	default-server inter 500ms fall 2 rise 1
$(for n in "${agents[@]}"; do printf '\tserver %s 127.0.0.1:%s check\n' "$n" "${PORT[$n]}"; done)
EOF
	haproxy -c -f "$AGENT_DIR/haproxy.cfg" >>"$AGENT_DIR/haproxy.log" 2>&1 || fail "haproxy: $(cat "$AGENT_DIR/haproxy.log")"
	haproxy -db -f "$AGENT_DIR/haproxy.cfg" >>"$AGENT_DIR/haproxy.log" 2>&1 &
	LB_PID=$!
	wait_port "$LB_PORT" 10 "$LB_PID" || fail "haproxy did not start: $(cat "$AGENT_DIR/haproxy.log")"
}
lb_start
wait_url "$LB_URL/healthz" 20 || fail "no agent answers through haproxy"
say "agents a b c on the host's dockerd, d on $second; deliveries through haproxy at $LB_URL${lease_line:+; $lease_line}"

# A forge, per repository: its pushes in order, each delivered again (same delivery id)
# after no answer, a 502, 503 or 504, until it is answered; the 202s and 200s are
# logged as "delivery repo code tries answer", anything else as refused.
fc_send() {	# repo
	local k r sha body sig code tries secret
	secret=$(head -n 1 "$AGENT_DIR/$1.secret")
	while read -r k r sha; do
		[ "$r" = "$1" ] || continue
		body=$AGENT_DIR/body-$k.json
		printf '{"ref":"refs/heads/main","before":"%040d","after":"%s"}' 0 "$sha" >"$body"
		sig=$(sign "$secret" "$body")
		for tries in $(seq 1 400); do
			code=$(curl -s -o "$AGENT_DIR/answer-$k" -w '%{http_code}' --max-time 15 -X POST \
				-H "X-Request-Id: fc-$k" -H "Content-Type: application/json" \
				-H "X-Hub-Signature-256: sha256=$sig" --data-binary "@$body" "$LB_URL/hooks/$r")
			case $code in
			202 | 200) echo "fc-$k $r $code $tries $(tr -d '\n' <"$AGENT_DIR/answer-$k")" >>"$AGENT_DIR/answered.log"; break ;;
			000 | 502 | 503 | 504) sleep 0.3 ;;
			*) echo "fc-$k $r $code $(cat "$AGENT_DIR/answer-$k")" >>"$AGENT_DIR/refused.log"; break ;;
			esac
		done
	done <"$AGENT_DIR/plan"
}
senders=()
for r in $(seq 1 "$nrepos"); do
	fc_send "r$r" &
	senders+=($!)
done
senders_alive() {
	local p
	for p in "${senders[@]}"; do kill -0 "$p" 2>/dev/null && return 0; done
	return 1
}

# The chaos, until the senders are done and every kill, the restart and the cut happened.
declare -A BACK_AT	# a killed agent's restart time (epoch s), when it waits out its lease
kills=0 pg_restarts=0 partitions=0 cut_state=none cut_until=0 idle=0
running_on() {	# name: how many builds the store has running on that agent
	pg_sql "SELECT count(*) FROM builds WHERE state = 'running' AND agent = '${OWNER[$1]}'" 2>/dev/null || echo 0
}
open_builds() {
	pg_sql "SELECT count(*) FROM builds WHERE state NOT IN ($final_states)" 2>/dev/null || echo 1
}
start_back() {	# the killed agents whose time has come
	local n now
	now=$(date +%s)
	for n in "${!BACK_AT[@]}"; do
		[ "${BACK_AT[$n]}" -le "$now" ] || continue
		unset "BACK_AT[$n]"
		fc_start "$n"
		event "$n started again"
	done
}
# an agent the test did not kill must still run
check_alive() {
	local n rc
	for n in "${agents[@]}"; do
		[ -n "${PID[$n]:-}" ] && ! kill -0 "${PID[$n]}" 2>/dev/null || continue
		wait "${PID[$n]}"
		rc=$?
		tail -n 30 "$AGENT_DIR/$n.log" >&2
		fail "agent $n ended on its own (exit $rc)"
	done
}
t0=$(date +%s) busy_at=$t0
event() {	# what the chaos did when, for the failure report
	echo "+$(($(date +%s) - t0))s $*" >>"$AGENT_DIR/events"
}
fc_fail() {
	sed 's/^/event /' "$AGENT_DIR/events" >&2
	fail "$@"
}
while :; do
	check_alive
	start_back
	now=$(date +%s)
	# the cut: b, while it runs a build, loses PostgreSQL for the lease and 5 s more
	case $cut_state in
	none)
		if [ $kills -ge 1 ] && [ -n "${PID[b]:-}" ] && [ "$(running_on b)" -gt 0 ]; then
			kill -USR2 "$PROXY_PID" && cut_state=armed cut_armed=$now
		fi ;;
	armed)
		if [ -e "$AGENT_DIR/proxy.frozen" ]; then
			cut_state=cut cut_until=$((now + lease + 5))
			say "b cut off from PostgreSQL at $((now - t0)) s, running $(running_on b) builds"
			event "b cut off"
		elif [ $((now - cut_armed)) -gt 30 ]; then
			fail "agent b sent nothing to PostgreSQL for 30 s"
		fi ;;
	cut)
		if [ "$now" -ge "$cut_until" ]; then
			kill -USR1 "$PROXY_PID" && cut_state=done partitions=1 cut_back=$now
			say "b let back at $((now - t0)) s"
			event "b let back"
		fi ;;
	esac
	# PostgreSQL restarted once, half-way through the kills, a while after the cut
	if [ $pg_restarts = 0 ] && [ $kills -ge $(((kills_wanted + 1) / 2)) ] && [ "$cut_state" = done ] &&
		[ $((now - cut_back)) -ge 3 ]; then
		pg_down || fail "cannot stop PostgreSQL"
		sleep 1
		pg_up || fail "cannot start PostgreSQL again"
		pg_restarts=1
		event "PostgreSQL restarted"
		say "PostgreSQL restarted at $((now - t0)) s"
	fi
	if ! senders_alive && [ $kills -ge "$kills_wanted" ] && [ $partitions = 1 ] && [ $pg_restarts = 1 ]; then
		break
	fi
	sleep "0.$((RANDOM % 8 + 2))"
	# a victim: an agent that is up and running a build (not b while it is cut off)
	victims=()
	for n in "${agents[@]}"; do
		[ -n "${PID[$n]:-}" ] && [ -z "${BACK_AT[$n]:-}" ] || continue
		[ "$n" = b ] && [ "$cut_state" != none ] && [ "$cut_state" != done ] && continue
		[ "$(running_on "$n")" -gt 0 ] && victims+=("$n")
	done
	if [ ${#victims[@]} = 0 ]; then
		open=$(open_builds)
		if ! senders_alive && [ "$open" = 0 ] && [ ${#BACK_AT[@]} = 0 ]; then
			idle=$((idle + 1))
			[ $idle -ge 10 ] && break	# nothing left to run: not enough deliveries for the chaos
		elif [ "$open" = 0 ]; then
			busy_at=$(date +%s)
		elif [ $(($(date +%s) - busy_at)) -gt 120 ]; then
			fc_fail "no agent ran a build for 120 s, with $open builds not final"
		fi
		continue
	fi
	idle=0 busy_at=$(date +%s)
	v=${victims[RANDOM % ${#victims[@]}]}
	# the daemon alone (its build processes see it go), or, as a power cut does, the
	# daemon and its children at once: their containers are left for the agent to
	# remove when it starts again
	how=
	if [ $((RANDOM % 2)) = 0 ]; then
		how=" with its children"
		kill -9 "${PID[$v]}" $(ps -o pid= --ppid "${PID[$v]}") 2>/dev/null
	else
		kill -9 "${PID[$v]}" 2>/dev/null
	fi
	wait "${PID[$v]}" 2>/dev/null
	PID[$v]=
	kills=$((kills + 1))
	event "$v killed$how"
	# one kill in three leaves the agent down past its lease: the others take over
	if [ $((RANDOM % 3)) = 0 ]; then
		BACK_AT[$v]=$(($(date +%s) + lease + 2))
	else
		fc_start "$v"
		event "$v started again"
	fi
	# about one kill a second or two: most builds end, some run through a kill or two
	sleep "$((RANDOM % 2)).$((RANDOM % 10))"
done
wait "${senders[@]}"
check_alive
[ "$cut_state" = cut ] && kill -USR1 "$PROXY_PID"
for n in "${!BACK_AT[@]}"; do BACK_AT[$n]=0; done
start_back
say "chaos over at $(($(date +%s) - t0)) s: $kills kills, $pg_restarts PostgreSQL restart, $partitions cut; waiting for the builds"
[ $kills -ge "$kills_wanted" ] || fail "only $kills of $kills_wanted kills landed during builds: more deliveries (FLEET_CHAOS_DELIVERIES) are needed"
[ $partitions = 1 ] || fail "agent b was never cut off mid-build"
[ $pg_restarts = 1 ] || fail "PostgreSQL was not restarted"

all_final() { check_alive; [ "$(open_builds)" = 0 ]; }
wait_for 240 all_final ||
	fail "builds not final: $(pg_sql "SELECT id || ':' || state || ':' || coalesce(agent, '-') FROM builds WHERE state NOT IN ($final_states)" | tr '\n' ' ')"
final_posts() {	# "build count" per build with a final status posted
	jq -r 'select(.body.state == "success" or .body.state == "failure" or .body.state == "error")
		| .body.target_url | capture("/builds/(?<id>[0-9]+)$").id' "$FORGE_DOUBLE_LOG" 2>/dev/null | sort -n | uniq -c
}
all_posted() {
	[ "$(final_posts | wc -l)" -ge "$(pg_sql "SELECT count(*) FROM builds")" ]
}
wait_for 120 all_posted
# let a late duplicate arrive before counting
sleep 2
check_alive
for n in "${agents[@]}"; do
	kill -TERM "${PID[$n]}" && wait "${PID[$n]}" || fail "agent $n exited $? on SIGTERM"
	PID[$n]=
done

# the sums
[ -s "$AGENT_DIR/refused.log" ] && fail "deliveries refused: $(head -n 3 "$AGENT_DIR/refused.log")"
answered=$(wc -l <"$AGENT_DIR/answered.log")
answered_202=$(awk '$3 == 202' "$AGENT_DIR/answered.log" | wc -l)
[ "$answered" = "$deliveries" ] || fail "only $answered of $deliveries deliveries were answered"
pg_sql "SELECT delivery, count(*), string_agg(id::text, ',') FROM builds GROUP BY delivery" | tr '|' ' ' >"$AGENT_DIR/per-delivery"
lost=0 duplicated=0 wrong=0
while read -r d r code tries answer; do
	line=$(grep "^$d " "$AGENT_DIR/per-delivery")
	count=$(echo "$line" | cut -d' ' -f2)
	case ${count:-0} in
	0) lost=$((lost + 1)); echo "lost: $d ($code $answer)" ;;
	1) if [ "$code" = 202 ] && [ "$(jq -r .build <<<"$answer")" != "$(echo "$line" | cut -d' ' -f3)" ]; then
		wrong=$((wrong + 1)); echo "202 for $d named build $(jq -r .build <<<"$answer"), not ${line##* }"
	fi ;;
	*) duplicated=$((duplicated + 1)); echo "duplicated: $d has builds ${line##* }" ;;
	esac
done <"$AGENT_DIR/answered.log"
builds=$(pg_sql "SELECT count(*) FROM builds")
builds_final=$(pg_sql "SELECT count(*) FROM builds WHERE state IN ($final_states)")
final_posts >"$AGENT_DIR/final-posts"
statuses_dup=$(awk '$1 > 1' "$AGENT_DIR/final-posts" | wc -l)
# each duplicate with every post of its build, seconds from the start of the chaos
for id in $(awk '$1 > 1 { print $2 }' "$AGENT_DIR/final-posts"); do
	echo "statuses: build $id has more than one final status: $(jq -r --arg u "$LB_URL/builds/$id" \
		--argjson t0 "$t0" 'select(.body.target_url == $u) | "\(.body.state) at +\(.time - $t0 | floor)s"' \
		"$FORGE_DOUBLE_LOG" | paste -sd, -)"
done
unposted=0
for id in $(pg_sql "SELECT id FROM builds ORDER BY id"); do
	grep -q " $id\$" "$AGENT_DIR/final-posts" && continue
	unposted=$((unposted + 1))
	# what is known of it: its row, its statuses still queued, its posts, what agents said
	echo "statuses: build $id has no final status; build: $(pg_sql "SELECT repo, sha, state,
		attempt, agent, reason FROM builds WHERE id = $id" | tr '\n' ' ')"
	echo "  queued for its commit: $(pg_sql "SELECT s.id || ':' || s.build_id || ':' || s.state
		|| ' attempts ' || s.attempts || ' claim ' || coalesce(s.claimed_by, '-') || ' until '
		|| coalesce(s.claim_until::text, '-') || ' error ' || coalesce(s.last_error, '-')
		FROM statuses s JOIN builds b ON b.id = s.build_id JOIN builds o ON o.id = $id
		WHERE b.repo = o.repo AND b.sha = o.sha ORDER BY s.id" | tr '\n' ' ')"
	echo "  posted: $(jq -r --arg u "$LB_URL/builds/$id" 'select(.body.target_url == $u) | .body.state' \
		"$FORGE_DOUBLE_LOG" | paste -sd, -)"
	grep -h "build $id[: ]" "$AGENT_DIR"/[abcd].log | tail -n 20 | sed 's/^/  /'
done
# nothing after a build's final status (a takeover's "pending" included)
late=$(jq -rs '[.[] | {u: .body.target_url, s: .body.state}] | group_by(.u)[]
	| select((map(.s) | index("success") // index("failure") // index("error")) as $f | $f != null and $f < length - 1)
	| .[0].u' "$FORGE_DOUBLE_LOG" | wc -l)
# one repository's builds: in push order (delivery numbers rise with the build ids), one
# at a time (each started after the one before it finished)
disorder=$(pg_sql "SELECT x.id || '/' || y.id FROM builds x JOIN builds y ON y.repo = x.repo AND y.id > x.id
	WHERE y.started < x.finished OR substr(y.delivery, 4)::int < substr(x.delivery, 4)::int" | wc -l)
# no container of the fleet on either engine
containers_left=0
for n in "${agents[@]}"; do
	c=$(docker ps -aq --filter "label=io.s2i-agent.owner=${OWNER[$n]}" | wc -l)
	c2=$(sid_cli "$second" ps -aq --filter "label=io.s2i-agent.owner=${OWNER[$n]}" | wc -l)
	[ $((c + c2)) = 0 ] || echo "containers: agent $n left $c on the host's dockerd and $c2 on $second"
	containers_left=$((containers_left + c + c2))
done
ran=
for n in "${agents[@]}"; do
	ran+=" $n=$(pg_sql "SELECT count(*) FROM builds WHERE agent = '${OWNER[$n]}'")"
done
say "builds last run by agent:$ran; states: $(pg_sql "SELECT string_agg(state || '=' || k, ' ') FROM
	(SELECT state, count(*) AS k FROM builds GROUP BY state) s")"
echo "fleet-chaos: deliveries=$deliveries answered_202=$answered_202 builds_final=$builds_final lost=$lost duplicated=$duplicated statuses_dup=$statuses_dup kills=$kills pg_restarts=$pg_restarts partitions=$partitions containers_left=$containers_left"
[ "$lost" = 0 ] && [ "$duplicated" = 0 ] && [ "$wrong" = 0 ] || fc_fail "deliveries lost ($lost), duplicated ($duplicated) or answered with another build ($wrong)"
[ "$builds" = "$builds_final" ] && [ "$builds" = "$deliveries" ] || fc_fail "$builds builds, $builds_final final, for $deliveries deliveries"
[ "$statuses_dup" = 0 ] && [ "$unposted" = 0 ] || fc_fail "$statuses_dup builds with more than one final status, $unposted with none"
[ "$late" = 0 ] || fc_fail "$late builds had a status posted after their final one"
[ "$disorder" = 0 ] || fc_fail "builds of one repository overlapped or ran out of push order: $disorder pairs"
[ "$containers_left" = 0 ] || fc_fail "$containers_left containers left"
exit 0
