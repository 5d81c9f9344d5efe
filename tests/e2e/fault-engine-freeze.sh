#!/usr/bin/env bash
# Fault: the container engine freezes during a short call (its socket accepts, nothing
# answers), with a build_timeout far away (30 min). The shared dockerd is never
# touched: the agent's `engine` is a unix-socket proxy this test owns
# (tests/lib/sockproxy.py --freeze-on) that freezes at the start of a build's
# assemble container (POST .../start: a container exists by then) and thaws on SIGUSR1.
# - that build ends `errored` once the call's limit (ENGINE_CALL_TIMEOUT, 60 s) passes,
#   not at build_timeout, its reason "the container engine at unix://... did not
#   answer within 60s"; the CLI (`s2i-agent build`, no --timeout) against the frozen
#   engine ends the same way instead of hanging;
# - another build, of another repository, whose assemble was running silently when the
#   engine froze: waiting for a running container has no limit of its own, but the
#   engine is pinged after ENGINE_PROBE_INTERVAL (60 s) without a byte, and the
#   unanswered ping ends it `errored` the same way;
# - the daemon stays responsive (/healthz, the API; /healthz also once the engine's
#   accept queue is full, the proxy stopped) and stops at once on SIGTERM with
#   the engine still frozen (the cleanup of the build's container, stuck on the engine,
#   is kept in state_dir/cleanup.json), and starts again with it frozen;
# - once the engine thaws, the builds' containers are removed, cleanup.json goes, the
#   next push builds `succeeded`; every build has exactly one final commit status.
TEST=fault-engine-freeze
source "$TESTS_DIR/lib/pipeline.sh"
source "$TESTS_DIR/lib/enginefault.sh"

CALL_LIMIT=60	# ENGINE_CALL_TIMEOUT (agent/limits.h)
PROXY_SOCK=$AGENT_DIR/engine.sock
PROXY_PID=
CLI_PID=
FILL_PID=
fe_cleanup() {
	[ -n "$CLI_PID" ] && kill "$CLI_PID" 2>/dev/null
	[ -n "$FILL_PID" ] && kill "$FILL_PID" 2>/dev/null
	ef_cleanup
}
trap fe_cleanup EXIT

agent_gone() { ! kill -0 "$AGENT_PID" 2>/dev/null; }
frozen_reason() {	# text: says the engine (with its socket) did not answer within the limit
	[[ $1 == *"the container engine at unix://$PROXY_SOCK did not answer within ${CALL_LIMIT}s"* ]]
}

pl_builder
pl_repo web status_repo=acme/web
pl_repo api status_repo=acme/api
ef_proxy_start --freeze-on '^POST /v[0-9.]+/containers/[0-9a-f]+/start' --frozen "$AGENT_DIR/proxy.frozen" \
	--disarmed || fail "cannot start the engine proxy"
AGENT_ENGINE=unix://$PROXY_SOCK
AGENT_EXTRA="build_timeout = 30m
workers = 2"
start_agent || fail "agent did not start"

builds=()	# "id sha final-state" of every build
# a build whose assemble runs, silent, when the engine freezes
ssha=$(pl_commit api "assemble sleeps when the engine freezes" SLEEP 600)
ef_push api "$ssha"
sid=$EF_BUILD
ef_wait_assemble "$sid"
kill -USR2 "$PROXY_PID"
wait_for 10 test -e "$AGENT_DIR/proxy.frozen.armed" || fail "cannot arm the engine proxy"

sha=$(pl_commit web "frozen engine at the start of assemble")
ef_push web "$sha"
id=$EF_BUILD
wait_for 120 test -e "$AGENT_DIR/proxy.frozen" || fail "build $id never started its container: $(pl_build_json "$id")"
[ -n "$(ef_containers)" ] || fail "build $id: no container in the engine when it froze"

# the CLI, without --timeout, against the frozen engine: its first call waits
"$S2I_AGENT" build -U "unix://$PROXY_SOCK" --network none --pull-policy never "$AGENT_DIR/web.work" \
	"$PL_BUILDER" "s2i-agent-test/$PL_ID-cli:latest" >"$AGENT_DIR/cli.out" 2>"$AGENT_DIR/cli.err" &
CLI_PID=$!

# the daemon answers while its build waits on the engine
http_req "$AGENT_URL/healthz"
[ "$HTTP_CODE" = 200 ] || [ "$HTTP_CODE" = 503 ] || fail "/healthz answered '$HTTP_CODE' with the engine frozen"
http_req "$AGENT_URL/builds/$id"
[ "$HTTP_CODE" = 200 ] || fail "GET /builds/$id answered $HTTP_CODE with the engine frozen"
[ "$(jq -r .state <<<"$HTTP_BODY")" = running ] || fail "build $id with the engine frozen: $HTTP_BODY"

# the start's limit passes: errored, saying why (not a timeout: build_timeout is 30 min)
state=$(pl_wait "$id" $((CALL_LIMIT + 120)))
[ "$state" = errored ] || fail "build $id is $state with the engine frozen: $(pl_build_json "$id")"
reason=$(pl_build_json "$id" | jq -r .reason)
frozen_reason "$reason" || fail "build $id: the reason does not say the engine did not answer: $reason"
curl -sf --max-time 10 "$AGENT_URL/builds/$id/log" | tail -n 1 |
	grep -q "^==> build $id errored: the container engine at .* did not answer within" ||
	fail "build $id: last log line: $(curl -sf --max-time 10 "$AGENT_URL/builds/$id/log" | tail -n 1)"
echo "frozen engine: build $id errored: $reason"
builds+=("$id $sha errored")

# the build waiting for its silent assemble: the ping goes unanswered
state=$(pl_wait "$sid" $((60 + CALL_LIMIT + 120)))
[ "$state" = errored ] || fail "build $sid (assemble running) is $state with the engine frozen: $(pl_build_json "$sid")"
reason=$(pl_build_json "$sid" | jq -r .reason)
frozen_reason "$reason" || fail "build $sid: the reason does not say the engine did not answer: $reason"
echo "frozen engine during assemble: build $sid errored: $reason"
builds+=("$sid $ssha errored")

wait_for $((CALL_LIMIT + 60)) eval '! kill -0 "$CLI_PID" 2>/dev/null' || fail "the CLI still waits on the frozen engine"
wait "$CLI_PID"
rc=$?
CLI_PID=
[ "$rc" != 0 ] || fail "the CLI succeeded against a frozen engine"
frozen_reason "$(cat "$AGENT_DIR/cli.err")" || fail "the CLI's error (exit $rc): $(tail -n 3 "$AGENT_DIR/cli.err")"
echo "frozen engine: the CLI exited $rc: $(grep -m1 'did not answer' "$AGENT_DIR/cli.err")"

# a frozen engine that no longer even accepts (the proxy stopped: its accept queue
# fills): /healthz, which connects to the socket from the daemon's loop, says so
# instead of blocking the loop
kill -STOP "$PROXY_PID"
python3 - "$PROXY_SOCK" "$AGENT_DIR/queued" <<'PYEOF' &
import os, socket, sys, time
socks = []
while len(socks) < 100000:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.setblocking(False)
    try:
        s.connect(sys.argv[1])
    except BlockingIOError:     # EAGAIN: the queue is full
        break
    socks.append(s)             # kept open (and queued) until killed
with open(sys.argv[2] + ".tmp", "w") as f:
    f.write("%d\n" % len(socks))
os.rename(sys.argv[2] + ".tmp", sys.argv[2])
time.sleep(600)
PYEOF
FILL_PID=$!
wait_for_pid "$FILL_PID" 30 test -s "$AGENT_DIR/queued" || fail "cannot fill the engine's accept queue"
queued=$(cat "$AGENT_DIR/queued")
healthz_full() { http_req "$AGENT_URL/healthz"; [ "$HTTP_CODE" = 503 ] && grep -q "does not accept connections" <<<"$HTTP_BODY"; }
wait_for 30 healthz_full || fail "/healthz with the engine's accept queue full ($queued connects): '$HTTP_CODE' $HTTP_BODY"
echo "frozen engine, accept queue full after $queued connects: /healthz $HTTP_CODE: $(head -n 1 <<<"$HTTP_BODY")"
kill "$FILL_PID"
wait "$FILL_PID" 2>/dev/null
FILL_PID=
kill -CONT "$PROXY_PID"

# a stop with the engine still frozen: at once (hang detection only: the drain alone
# is HTTP_DRAIN_SECONDS), and what is left to remove is recorded
kill -TERM "$AGENT_PID"
wait_for 60 agent_gone || fail "the agent does not stop with the engine frozen"
wait "$AGENT_PID"
rc=$?
AGENT_PID=
[ "$rc" = 0 ] || fail "agent exited $rc on SIGTERM"
[ -s "$AGENT_DIR/state/cleanup.json" ] || fail "the container still to remove is not recorded"
jq -e '(.containers // []) + (.ids // []) | length > 0' "$AGENT_DIR/state/cleanup.json" >/dev/null ||
	fail "cleanup.json: $(cat "$AGENT_DIR/state/cleanup.json")"
[ -n "$(ef_containers)" ] || fail "the build's container went while the engine was frozen?"

# it starts again with the engine frozen, and answers
KEEP_PORT=1 start_agent || fail "agent did not restart with the engine frozen"
http_req "$AGENT_URL/builds/$id"
[ "$HTTP_CODE" = 200 ] || fail "GET /builds/$id answered $HTTP_CODE after a restart with the engine frozen"

# the engine thaws: the container goes, cleanup.json too, the next push builds
kill -USR1 "$PROXY_PID"
wait_for 180 ef_no_containers || fail "containers left after the engine thawed: $(ef_containers)"
wait_for 30 eval '[ ! -e "$AGENT_DIR/state/cleanup.json" ]' || fail "cleanup.json stays: $(cat "$AGENT_DIR/state/cleanup.json")"
sha=$(pl_commit web "the engine is back")
ef_push web "$sha"
id2=$EF_BUILD
state=$(pl_wait "$id2" 180)
[ "$state" = succeeded ] || fail "build $id2 after the engine thawed is $state: $(pl_build_json "$id2")"
builds+=("$id2 $sha succeeded")
wait_for 60 ef_no_containers || fail "containers left: $(ef_containers)"

# every build: statuses pending (queued), pending (running), then exactly one final one
ef_expect_statuses "${builds[@]}"
echo "fault-engine-freeze: call_limit=${CALL_LIMIT}s frozen_build=errored frozen_assemble=errored cli=exited stop_while_frozen=ok restart_while_frozen=ok leftover_containers=0 builds=${#builds[@]} statuses=$(forge_double_count)"
stop_agent || fail "agent exited $? on SIGTERM"
exit 0
