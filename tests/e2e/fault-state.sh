#!/usr/bin/env bash
# Fault: the state directory full, then read-only. The state is a small tmpfs. Full:
# every delivery is answered 202 with its build on disk, or 503 with Retry-After (never a
# false 202), the log says why, and once space returns intake works again. Read-only
# (the agent restarted on a read-only state): no 202, a clear error. Afterwards
# PRAGMA integrity_check is ok and every 202 is a row.
set -u
source "$TESTS_DIR/lib/agent.sh"
[ "$(id -u)" = 0 ] || skip "needs root to mount a tmpfs"
agent_init
STATE=$AGENT_DIR/state
mkdir -p "$STATE"
mount -t tmpfs -o size=4m,mode=0700 "fault-state-$$" "$STATE" 2>/dev/null || skip "cannot mount a tmpfs here"
cleanup() {
	local leak=0
	if [ -n "${AGENT_PID:-}" ] && kill -0 "$AGENT_PID" 2>/dev/null; then
		kill -TERM "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null; AGENT_PID=
	fi
	mount -o remount,rw "$STATE" 2>/dev/null
	secrets_scan "$AGENT_DIR" || leak=1
	umount "$STATE" 2>/dev/null || umount -l "$STATE"
	agent_cleanup
	[ $leak = 0 ] || { echo "FAIL: a configured secret leaked" >&2; exit 1; }
}
trap cleanup EXIT
S="fault-state-secret-$$"
agent_repo web "$S"
# the 4 MiB state is filled on purpose: the watermark (pipeline-disk) would hold the builds
AGENT_EXTRA="min_free_space = 0"
start_agent || fail "agent did not start"

n=0 accepted=() refused=0
deliver() {	# expected codes (regex): posts a distinct delivery, records the outcome
	n=$((n + 1))
	jq --arg after "$(printf '%040x' "$n")" '.after = $after | .head_commit.id = $after' \
		"$FIXTURES/github-push.json" >"$AGENT_DIR/body.json"
	post_hook github web "$AGENT_DIR/body.json" "$S" "fault-state-$$-$n"
	[[ $HTTP_CODE =~ ^($1)$ ]] || fail "delivery $n: HTTP $HTTP_CODE (wanted $1): $HTTP_BODY"
	case $HTTP_CODE in
	202) accepted+=("fault-state-$$-$n") ;;
	503)
		refused=$((refused + 1))
		grep -qi '^retry-after: [0-9]' "$HTTP_HEADERS" || fail "503 without Retry-After" ;;
	esac
}

for i in 1 2 3; do deliver 202; done

# ---- full ----
dd if=/dev/zero of="$STATE/fill" bs=64k 2>/dev/null
[ "$(df --output=avail "$STATE" | tail -n 1 | tr -d ' ')" = 0 ] || fail "the tmpfs is not full: $(df "$STATE")"
r0=$refused
for i in $(seq 1 40); do deliver '202|503'; done
[ $((refused - r0)) -ge 1 ] || fail "a full disk never gave 503"
echo "full: $((refused - r0)) of 40 deliveries refused with 503, $((40 - refused + r0)) accepted"
grep -qiE 'cannot queue .*(full|space|disk)' "$AGENT_LOG" || fail "no clear log error: $(grep -i 'cannot' "$AGENT_LOG" | tail -n 3)"
kill -0 "$AGENT_PID" || fail "the agent died on a full disk"
http_req "$AGENT_URL/builds?limit=1"
[ "$HTTP_CODE" = 200 ] || [ "$HTTP_CODE" = 503 ] || fail "GET /builds on a full disk: $HTTP_CODE"

lines=$(wc -l <"$AGENT_LOG")
[ "$lines" -lt 2000 ] || fail "the agent log grew to $lines lines on a full disk (a retry loop?)"

# space returns: intake works again
rm -f "$STATE/fill"
for i in 1 2 3; do deliver 202; done
stop_within() {	# seconds: SIGTERM must end the agent (generous bound; it drains in 10 s)
	local i
	kill -TERM "$AGENT_PID"
	if wait_gone "$AGENT_PID" "$1"; then
		wait "$AGENT_PID"
		local rc=$?
		AGENT_PID=
		return $rc
	fi
	kill9_agent
	fail "the agent did not stop within $1 s of SIGTERM"
}
stop_within 60 || fail "agent exited $? on SIGTERM after a full disk"

# ---- read-only ----
mount -o remount,ro "$STATE" || fail "cannot remount read-only"
KEEP_PORT=1 start_agent
if [ -n "${AGENT_PID:-}" ] && kill -0 "$AGENT_PID" 2>/dev/null; then
	r0=$refused
	for i in 1 2 3; do deliver 503; done
	stop_within 60
	echo "read-only: the agent runs and refuses deliveries with 503"
else
	# refused to start: it must say why, naming the state
	grep -qiE "state directory .* is not writable: read-only file system" "$AGENT_LOG" || fail "read-only state: no clear error: $(tail -n 3 "$AGENT_LOG")"
	echo "read-only: the agent refuses to start: $(tail -n 1 "$AGENT_LOG")"
	AGENT_PID=
fi
mount -o remount,rw "$STATE" || fail "cannot remount read-write"
KEEP_PORT=1 start_agent || fail "agent did not start again on a writable state"
for i in 1 2 3; do deliver 202; done
# every accepted build reaches a final state (a build whose end could not be recorded
# on the full disk is closed at this start)
all_final() { [ "$(db_count builds "state IN ('queued', 'running')")" = 0 ]; }
wait_for 60 all_final ||
	fail "builds not final: $(sqlite3 -readonly "$STATE/agent.db" "SELECT id, state FROM builds WHERE state IN ('queued', 'running')")"
stop_within 60 || fail "agent exited $? on SIGTERM"

# ---- no corruption, every 202 is a row ----
ic=$(sqlite3 "$STATE/agent.db" 'PRAGMA integrity_check') || fail "sqlite3 cannot open the database"
[ "$ic" = ok ] || fail "integrity_check: $ic"
for d in "${accepted[@]}"; do
	[ "$(db_count builds "delivery = '$d'")" = 1 ] || fail "delivery $d was answered 202 but has $(db_count builds "delivery = '$d'") rows"
done
echo "fault-state: $n deliveries, $refused refused with 503, ${#accepted[@]} accepted, lost: 0"
exit 0
