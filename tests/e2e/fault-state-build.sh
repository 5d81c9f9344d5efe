#!/usr/bin/env bash
# Fault: the state directory fills up while a build runs, and the build ends meanwhile.
# Its end cannot be written: the build stays `running` (on disk and in the API), the log
# says why, intake answers 503 (never a false 202), and the agent keeps the result and
# tries again. Once space returns the build reaches its final state and its final
# commit status is posted, without a restart. The state is a small tmpfs (as in
# fault-state.sh); the build's repository is served by a stand-in HTTP server that
# holds the fetch until the test lets it go (then answers 404: the build errors), so
# no engine is needed.
set -u
source "$TESTS_DIR/lib/agent.sh"
source "$TESTS_DIR/lib/forge_double.sh"
[ "$(id -u)" = 0 ] || skip "needs root to mount a tmpfs"
agent_init
STATE=$AGENT_DIR/state
mkdir -p "$STATE"
mount -t tmpfs -o size=4m,mode=0700 "fault-state-build-$$" "$STATE" 2>/dev/null || skip "cannot mount a tmpfs here"
GIT_PID=
cleanup() {
	local leak=0
	if [ -n "${AGENT_PID:-}" ] && kill -0 "$AGENT_PID" 2>/dev/null; then
		kill -TERM "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null; AGENT_PID=
	fi
	[ -n "$GIT_PID" ] && { kill "$GIT_PID" 2>/dev/null; wait "$GIT_PID" 2>/dev/null; }
	secrets_scan "$AGENT_DIR" || leak=1
	umount "$STATE" 2>/dev/null || umount -l "$STATE"
	agent_cleanup
	[ $leak = 0 ] || { echo "FAIL: a configured secret leaked" >&2; exit 1; }
}
trap cleanup EXIT

# the repository: every request waits for $AGENT_DIR/git.release, then gets 404
cat >"$AGENT_DIR/git-hold.py" <<'PY'
import http.server, os, sys, time
release, seen, port_file = sys.argv[1:4]
class Hold(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        with open(seen, "a") as f:
            f.write(self.path + "\n")
        for _ in range(3000):
            if os.path.exists(release):
                break
            time.sleep(0.1)
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()
    do_POST = do_GET
    def log_message(self, *args):
        pass
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hold)
with open(port_file + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(port_file + ".tmp", port_file)
srv.serve_forever()
PY
python3 "$AGENT_DIR/git-hold.py" "$AGENT_DIR/git.release" "$AGENT_DIR/git.seen" "$AGENT_DIR/git.port" \
	>"$AGENT_DIR/git-hold.log" 2>&1 &
GIT_PID=$!
wait_for() {	# seconds command...: until the command succeeds
	local i n=$(($1 * 10))
	shift
	for i in $(seq 1 "$n"); do "$@" && return 0; sleep 0.1; done
	return 1
}
wait_for 10 test -s "$AGENT_DIR/git.port" || fail "the stand-in git server did not start: $(cat "$AGENT_DIR/git-hold.log")"

forge_double_status
S="fault-state-build-secret-$$"
agent_repo web "$S" "${FORGE_STATUS_CONF[@]}" status_repo=acme/web
sed -i "s|^url = .*|url = http://127.0.0.1:$(cat "$AGENT_DIR/git.port")/web.git|" "$AGENT_DIR/repos.conf"
# the small state is full on purpose: the watermark (pipeline-disk) would hold the builds
AGENT_EXTRA="workers = 1
min_free_space = 0"
start_agent || fail "agent did not start"

n=0 accepted=() refused=0
deliver() {	# ref expected-codes (regex)
	n=$((n + 1))
	jq --arg after "$(printf '%040x' "$n")" --arg ref "$1" \
		'.after = $after | .head_commit.id = $after | .ref = $ref' \
		"$FIXTURES/github-push.json" >"$AGENT_DIR/body.json"
	post_hook github web "$AGENT_DIR/body.json" "$S" "fault-state-build-$$-$n"
	[[ $HTTP_CODE =~ ^($2)$ ]] || fail "delivery $n: HTTP $HTTP_CODE (wanted $2): $HTTP_BODY"
	case $HTTP_CODE in
	202) accepted+=("fault-state-build-$$-$n") ;;
	503)
		refused=$((refused + 1))
		grep -qi '^retry-after: [0-9]' "$HTTP_HEADERS" || fail "503 without Retry-After" ;;
	esac
}
state_of() { curl -s "$AGENT_URL/builds/$1" | jq -r .state; }
posted() {	# description regex: a status with it was answered 201
	[ -s "$FORGE_DOUBLE_LOG" ] &&
		jq -e --arg d "$1" 'select(.answer.code == 201 and (.body.description | test($d)))' \
			"$FORGE_DOUBLE_LOG" >/dev/null 2>&1
}

# build 1 runs: it holds in its fetch
deliver refs/heads/main 202
wait_for 60 test -s "$AGENT_DIR/git.seen" || fail "build 1 never fetched: $(curl -s "$AGENT_URL/builds/1")"
[ "$(state_of 1)" = running ] || fail "build 1 is $(state_of 1) while fetching"
wait_for 60 posted '^Build 1 running$' || fail "the running status of build 1 was not posted"

# ---- the disk fills ----
fill() { dd if=/dev/zero of="$STATE/fill$1" bs=4k 2>/dev/null; }
fill 1
[ "$(df --output=avail "$STATE" | tail -n 1 | tr -d ' ')" = 0 ] || fail "the tmpfs is not full: $(df "$STATE")"
# intake: 503, never a false 202 (other branches: build 1 is not superseded)
for i in $(seq 1 40); do
	deliver "refs/heads/other-$i" '202|503'
	[ "$HTTP_CODE" = 503 ] && break
done
[ "$refused" -ge 1 ] || fail "a full disk never gave 503"

# ---- build 1 ends while the disk is full ----
touch "$AGENT_DIR/git.release"
refused_end() { grep -q "build 1: ended (errored) but that cannot be recorded: .*full.*; it stays 'running'" "$AGENT_LOG"; }
wait_for 120 refused_end || fail "no clear log line for an end that cannot be written: $(grep 'build 1' "$AGENT_LOG" | tail -n 5)"
fill 2	# what the build's process freed when it exited
for i in 1 2 3; do
	sleep 1
	[ "$(state_of 1)" = running ] || fail "build 1 is $(state_of 1) while its end cannot be written"
	[ "$(sqlite3 -readonly "$STATE/agent.db" 'SELECT state FROM builds WHERE id = 1')" = running ] ||
		fail "build 1 is not 'running' on disk"
done
deliver refs/heads/late '202|503'
tries=$(grep -c "build 1: ended (errored) but that cannot be recorded" "$AGENT_LOG")
[ "$tries" -ge 2 ] || fail "the end of build 1 was not tried again ($tries tries)"
posted '^Build 1 errored' && fail "a final status was posted before the end was recorded"
kill -0 "$AGENT_PID" || fail "the agent died on a full disk"
echo "full: build 1 ended, its end refused $tries times, still running; $refused deliveries refused with 503"

# ---- space returns: the end lands, then the final status, without a restart ----
rm -f "$STATE"/fill*
final1() { [ "$(state_of 1)" = errored ]; }
wait_for 60 final1 || fail "build 1 is $(state_of 1) after space returned"
grep -q 'build 1: recorded after [0-9]* refused tries' "$AGENT_LOG" || fail "no line saying the end was recorded late"
tail -n 1 "$STATE/logs/1.log" | grep -q '^==> build 1 errored: ' || fail "log of build 1 ends with '$(tail -n 1 "$STATE/logs/1.log")'"
wait_for 120 posted '^Build 1 errored' || fail "the final status of build 1 was not posted: $(jq -c .body "$FORGE_DOUBLE_LOG" | tail -n 3)"
[ "$(grep -c 'listening on' "$AGENT_LOG")" = 1 ] || fail "the agent restarted"
kill -0 "$AGENT_PID" || fail "the agent is gone"
# the next builds run (each errors at once now)
for i in $(seq 1 600); do
	[ "$(db_count builds "state IN ('queued', 'running')")" = 0 ] && break
	sleep 0.1
done
[ "$(db_count builds "state IN ('queued', 'running')")" = 0 ] ||
	fail "builds not final: $(sqlite3 -readonly "$STATE/agent.db" "SELECT id, state FROM builds WHERE state IN ('queued', 'running')")"
stop_agent || fail "agent exited $? on SIGTERM"

ic=$(sqlite3 "$STATE/agent.db" 'PRAGMA integrity_check') || fail "sqlite3 cannot open the database"
[ "$ic" = ok ] || fail "integrity_check: $ic"
for d in "${accepted[@]}"; do
	[ "$(db_count builds "delivery = '$d'")" = 1 ] || fail "delivery $d was answered 202 but has $(db_count builds "delivery = '$d'") rows"
done
echo "fault-state-build: $n deliveries, $refused refused with 503, ${#accepted[@]} accepted, lost: 0; build 1 recorded after $tries refused tries"
exit 0
