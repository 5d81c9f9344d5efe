# forge_double.sh: start, steer and read the commit status API double
# (tests/lib/forge_double.py) from bash tests. Source it, then:
#   forge_double_start DIR        start on a free port; sets FORGE_DOUBLE_URL,
#                                 FORGE_DOUBLE_LOG (JSON lines), FORGE_DOUBLE_PID
#   forge_double_ctl JSON         POST /_control (see forge_double.py)
#   forge_double_req N [JQ]       the Nth recorded request (1-based), or JQ applied to it
#   forge_double_count            number of recorded requests
#   forge_double_stop             stop it (only the process we started)
#   forge_double_status [DIR]     for agent tests (agent.sh): the double the agent posts
#                                 statuses to, started in DIR (default $AGENT_DIR) and
#                                 stopped by agent_cleanup; accepts STATUS_TOKEN (made up
#                                 unless set), which it writes to STATUS_TOKEN_FILE
#                                 ($AGENT_DIR/status.token, 0600); sets FORGE_STATUS_CONF,
#                                 the [repo] keys posting to it (add status_repo=...):
#                                   agent_repo web "$S" "${FORGE_STATUS_CONF[@]}" status_repo=acme/web

forge_double_start() {	# dir
	local dir=$1 i
	FORGE_DOUBLE_LOG=$dir/forge-double.jsonl
	rm -f "$dir/forge-double.port"
	python3 "$TESTS_DIR/lib/forge_double.py" --port-file "$dir/forge-double.port" \
		--log "$FORGE_DOUBLE_LOG" ${FORGE_DOUBLE_TOKEN:+--token "$FORGE_DOUBLE_TOKEN"} \
		>"$dir/forge-double.stderr" 2>&1 &
	FORGE_DOUBLE_PID=$!
	FORGE_DOUBLE_PIDS+=("$FORGE_DOUBLE_PID")
	for i in $(seq 1 100); do
		if [ -s "$dir/forge-double.port" ]; then
			FORGE_DOUBLE_URL="http://127.0.0.1:$(cat "$dir/forge-double.port")"
			export FORGE_DOUBLE_URL FORGE_DOUBLE_LOG FORGE_DOUBLE_PID
			return 0
		fi
		kill -0 "$FORGE_DOUBLE_PID" 2>/dev/null || break
		sleep 0.1
	done
	cat "$dir/forge-double.stderr" >&2
	return 1
}

forge_double_stop() {
	if [ -n "${FORGE_DOUBLE_PID:-}" ]; then
		kill "$FORGE_DOUBLE_PID" 2>/dev/null
		wait "$FORGE_DOUBLE_PID" 2>/dev/null
		FORGE_DOUBLE_PID=
	fi
}

FORGE_DOUBLE_PIDS=()
_forge_double_stop_all() {
	local p
	for p in "${FORGE_DOUBLE_PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	FORGE_DOUBLE_PIDS=() FORGE_DOUBLE_PID=
}

forge_double_status() {	# [dir]
	STATUS_TOKEN=${STATUS_TOKEN:-ghp_$(basename "$0" .sh)_$$_$RANDOM}
	[ -n "${_FORGE_DOUBLE_ON_EXIT:-}" ] || { agent_on_exit _forge_double_stop_all; _FORGE_DOUBLE_ON_EXIT=1; }
	FORGE_DOUBLE_TOKEN=$STATUS_TOKEN forge_double_start "${1:-$AGENT_DIR}" ||
		fail "cannot start the forge double"
	STATUS_TOKEN_FILE=$AGENT_DIR/status.token
	printf '%s\n' "$STATUS_TOKEN" >"$STATUS_TOKEN_FILE"
	chmod 600 "$STATUS_TOKEN_FILE"
	FORGE_STATUS_CONF=(status=github "status_api=$FORGE_DOUBLE_URL" "status_token_file=$STATUS_TOKEN_FILE")
}

forge_double_ctl() {	# json
	curl -sf -X POST -H 'Content-Type: application/json' --data-binary "$1" "$FORGE_DOUBLE_URL/_control"
}

forge_double_req() {	# n [jq filter]
	sed -n "$1p" "$FORGE_DOUBLE_LOG" | jq -r "${2:-.}"
}

forge_double_count() {
	wc -l <"$FORGE_DOUBLE_LOG" | tr -d ' '
}
