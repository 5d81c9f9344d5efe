# agent.sh: helpers for end-to-end tests that run the real daemon ($S2I_AGENT).
# Source it; then agent_init, agent_repo NAME SECRET [KEY=VALUE...], start_agent,
# post_hook ..., stop_agent. Everything lives in $AGENT_DIR (removed on exit).
#
#   AGENT_DIR     scratch directory (mktemp -d); state in $AGENT_DIR/state
#   AGENT_PORT    the port the agent listens on (random free port on 127.0.0.1)
#   AGENT_URL     http://127.0.0.1:$AGENT_PORT
#   AGENT_PID     pid of the running agent
#   AGENT_LOG     its stderr
#   AGENT_WRAP    command prefix for the agent (e.g. valgrind ...), unset normally
#   AGENT_START_WAIT  seconds start_agent waits for the port (15)
#   AGENT_EXTRA   extra lines for the [agent] section (e.g. "max_body = 1k")
#   HTTP_CODE / HTTP_BODY   set by http_req and post_hook (every answer, headers and
#                 body, is also appended to $AGENT_DIR/answers.log)
#
# On exit, agent_cleanup stops the agent and runs secrets_scan (secrets.sh) over
# $AGENT_DIR: a configured secret or token found in any log, answer, build log or
# database row fails the test (exit 1). Call agent_cleanup last in a custom EXIT trap.
# agent_on_exit FUNC: agent_cleanup first calls FUNC (helpers register their own stop
# there, e.g. forge_double_status), in the order registered.

: "${S2I_AGENT:?S2I_AGENT must name the s2i-agent binary under test}"
: "${TESTS_DIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
FIXTURES=$TESTS_DIR/fixtures/webhooks
source "$TESTS_DIR/lib/poll.sh"
source "$TESTS_DIR/lib/secrets.sh"

fail() { echo "FAIL: $*" >&2; [ -n "${AGENT_LOG:-}" ] && [ -f "$AGENT_LOG" ] && { echo "--- agent log (tail):" >&2; tail -n 30 "$AGENT_LOG" >&2; }; exit 1; }
skip() { echo "$*"; exit 77; }

AGENT_ON_EXIT=()
agent_on_exit() { AGENT_ON_EXIT+=("$1"); }

agent_cleanup() {
	local f
	for f in "${AGENT_ON_EXIT[@]}"; do "$f"; done
	AGENT_ON_EXIT=()
	if [ -n "${AGENT_PID:-}" ] && kill -0 "$AGENT_PID" 2>/dev/null; then
		kill -TERM "$AGENT_PID" 2>/dev/null
		wait "$AGENT_PID" 2>/dev/null
	fi
	[ -n "${AGENT_DIR:-}" ] && [ -d "$AGENT_DIR" ] || return 0
	if ! secrets_scan "$AGENT_DIR"; then
		echo "FAIL: a configured secret leaked (see LEAK lines above)" >&2
		[ -n "${KEEP:-}" ] || rm -rf "$AGENT_DIR"
		exit 1
	fi
	[ -n "${KEEP:-}" ] && echo "kept $AGENT_DIR" >&2 || rm -rf "$AGENT_DIR"
}

agent_init() {
	AGENT_DIR=$(mktemp -d "${TMPDIR:-/tmp}/s2i-agent-e2e.XXXXXX")
	AGENT_LOG=$AGENT_DIR/agent.log
	AGENT_EXTRA=${AGENT_EXTRA:-}
	: >"$AGENT_DIR/repos.conf"
	trap agent_cleanup EXIT
}

# agent_repo NAME SECRET [KEY=VALUE ...]: a [repo] section whose secret file
# (mode 0600) holds SECRET (which may contain a newline for two secrets).
agent_repo() {
	local name=$1 secret=$2 kv
	shift 2
	printf '%s\n' "$secret" >"$AGENT_DIR/$name.secret"
	chmod 600 "$AGENT_DIR/$name.secret"
	{
		printf '\n[repo "%s"]\n' "$name"
		printf 'url = %s/no-such-repo/%s.git\n' "$AGENT_DIR" "$name"	# local: a build of it fails without any network traffic
		printf 'secret_file = %s\n' "$AGENT_DIR/$name.secret"
		printf 'builder = s2i-agent-test/builder:latest\n'
		for kv in "$@"; do
			printf '%s = %s\n' "${kv%%=*}" "${kv#*=}"
		done
	} >>"$AGENT_DIR/repos.conf"
}

# Writes $AGENT_DIR/agent.conf (or $1) from AGENT_PORT, AGENT_EXTRA and the repos.
agent_write_config() {
	local out=${1:-$AGENT_DIR/agent.conf}
	{
		printf '[agent]\n'
		printf 'listen = 127.0.0.1:%s\n' "$AGENT_PORT"
		# AGENT_EXTRA may name another (a published agent, tests/e2e/attack-read.sh)
		case $AGENT_EXTRA in *public_url*) ;; *) printf 'public_url = http://127.0.0.1:%s\n' "$AGENT_PORT" ;; esac
		printf 'state_dir = %s/state\n' "$AGENT_DIR"
		printf 'engine = %s\n' "${AGENT_ENGINE:-unix://$AGENT_DIR/no-engine.sock}"
		[ -n "$AGENT_EXTRA" ] && printf '%s\n' "$AGENT_EXTRA"
		cat "$AGENT_DIR/repos.conf"
	} >"$out"
	chmod 640 "$out"
}

# Starts the agent on AGENT_PORT (a fresh free port unless set and KEEP_PORT=1)
# and waits until it listens. Returns non-zero if it does not come up.
start_agent() {
	local try
	for try in 1 2 3 4 5; do
		if [ -z "${AGENT_PORT:-}" ] || { [ "$try" -gt 1 ] && [ "${KEEP_PORT:-0}" != 1 ]; }; then
			AGENT_PORT=$(free_port) || return 1
		fi
		AGENT_URL=http://127.0.0.1:$AGENT_PORT
		agent_write_config
		${AGENT_WRAP:-} "$S2I_AGENT" serve -c "$AGENT_DIR/agent.conf" "$@" >>"$AGENT_LOG" 2>&1 &
		AGENT_PID=$!
		# the port may accept a moment before the agent has logged it (slow under
		# valgrind): give the line a few seconds
		wait_port "$AGENT_PORT" "${AGENT_START_WAIT:-15}" "$AGENT_PID" &&
			wait_for_pid "$AGENT_PID" 5 grep -q "listening on .*:$AGENT_PORT" "$AGENT_LOG" && return 0
		if kill -0 "$AGENT_PID" 2>/dev/null; then
			# something else answers there; not ours
			kill -9 "$AGENT_PID" 2>/dev/null
		fi
		wait "$AGENT_PID" 2>/dev/null
		grep -q "cannot listen" "$AGENT_LOG" || return 1
	done
	return 1
}

# kill -9, as a crash or a power cut would end it.
kill9_agent() {
	kill -9 "$AGENT_PID"
	wait "$AGENT_PID" 2>/dev/null
	AGENT_PID=
}

# Sends SIGTERM and waits; returns the agent's exit code.
stop_agent() {
	local rc
	kill -TERM "$AGENT_PID"
	wait "$AGENT_PID"
	rc=$?
	AGENT_PID=
	return $rc
}

# hex HMAC-SHA256 of a file's bytes
sign() {	# secret file
	openssl dgst -sha256 -hmac "$1" -r <"$2" | cut -d' ' -f1
}

# http_req [curl args...]: sets HTTP_CODE and HTTP_BODY (and HTTP_HEADERS file).
http_req() {
	local out
	HTTP_HEADERS=$AGENT_DIR/last.headers
	out=$(curl -sS -o "$AGENT_DIR/last.body" -D "$HTTP_HEADERS" -w '%{http_code}' --max-time 30 "$@") || true
	HTTP_CODE=$out
	HTTP_BODY=$(cat "$AGENT_DIR/last.body" 2>/dev/null)
	cat "$HTTP_HEADERS" "$AGENT_DIR/last.body" >>"$AGENT_DIR/answers.log" 2>/dev/null
	printf '\n' >>"$AGENT_DIR/answers.log"
}

# generic_push FILE N: a generic push of commit N (40 digits) to branch bN, into FILE
generic_push() {
	printf '{"ref": "refs/heads/b%d", "before": "%040d", "after": "%040d"}' "$2" 0 "$2" >"$1"
}

# post_hook PROVIDER REPO FILE SECRET DELIVERY [extra curl args...]: a delivery
# signed the way PROVIDER signs (github/gitea: X-Hub-Signature-256, gitlab:
# X-Gitlab-Token, generic: X-Hub-Signature-256), JSON body from FILE.
post_hook() {
	local provider=$1 repo=$2 file=$3 secret=$4 delivery=$5 sig
	shift 5
	sig=$(sign "$secret" "$file")
	case $provider in
	github)
		http_req -X POST -H "X-GitHub-Event: ${EVENT:-push}" -H "X-GitHub-Delivery: $delivery" \
			-H "Content-Type: application/json" -H "X-Hub-Signature-256: sha256=$sig" \
			--data-binary "@$file" "$@" "$AGENT_URL/hooks/$repo" ;;
	gitea)
		http_req -X POST -H "X-Gitea-Event: ${EVENT:-push}" -H "X-Gitea-Delivery: $delivery" \
			-H "Content-Type: application/json" -H "X-Gitea-Signature: $sig" \
			--data-binary "@$file" "$@" "$AGENT_URL/hooks/$repo" ;;
	gitlab)
		http_req -X POST -H "X-Gitlab-Event: ${EVENT:-Push Hook}" -H "X-Gitlab-Event-UUID: $delivery" \
			-H "Content-Type: application/json" -H "X-Gitlab-Token: $secret" \
			--data-binary "@$file" "$@" "$AGENT_URL/hooks/$repo" ;;
	generic)
		http_req -X POST -H "X-Request-Id: $delivery" \
			-H "Content-Type: application/json" -H "X-Hub-Signature-256: sha256=$sig" \
			--data-binary "@$file" "$@" "$AGENT_URL/hooks/$repo" ;;
	*) fail "post_hook: unknown provider $provider" ;;
	esac
}

# push_of FILE N: prints the path of a copy of the push payload FILE for another commit
# (after, head_commit.id and checkout_sha made from N). The agent answers a signed body
# it has seen before, or a push of the commit the ref is already built at, as a
# duplicate (tests/e2e/attack-replay.sh): a test that means distinct pushes sends these.
push_of() {	# file n
	local sha out=$AGENT_DIR/push-of-$2-$(basename "$1")
	sha=$(printf '%s' "$2" | sha1sum | cut -c1-40)
	jq --arg a "$sha" '.after = $a | if .head_commit then .head_commit.id = $a else . end |
		if .checkout_sha then .checkout_sha = $a else . end' "$1" >"$out" || fail "push_of $1"
	printf '%s\n' "$out"
}

# expect CODE [JQ-FILTER EXPECTED]: checks the last answer.
expect() {
	local code=$1
	[ "$HTTP_CODE" = "$code" ] || fail "expected HTTP $code, got $HTTP_CODE: $HTTP_BODY"
	if [ $# -ge 3 ]; then
		local got
		got=$(printf '%s' "$HTTP_BODY" | jq -r "$2") || fail "answer is not JSON: $HTTP_BODY"
		[ "$got" = "$3" ] || fail "expected $2 = '$3', got '$got' (answer $HTTP_BODY)"
	fi
}

# Number of rows in a table of the agent's database (read-only; WAL lets us read while it runs).
db_count() {	# table [where]
	sqlite3 -readonly "$AGENT_DIR/state/agent.db" "SELECT count(*) FROM $1 ${2:+WHERE $2}"
}
