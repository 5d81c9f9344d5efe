# agent_double.sh: start and read the s2i-agent API double (tests/lib/agent_double.py)
# from bash tests. Source it, then:
#   agent_double_start DIR     free port; sets AGENT_DOUBLE_URL, AGENT_DOUBLE_LOG,
#                              AGENT_DOUBLE_SCRIPT (write the script JSON there), AGENT_DOUBLE_PID
#   agent_double_req N [JQ]    the Nth recorded request (1-based), or JQ applied to it
#   agent_double_count         number of recorded requests
#   agent_double_stop          stop it (only the process we started)

agent_double_start() {	# dir
	local dir=$1 i
	AGENT_DOUBLE_LOG=$dir/agent-double.jsonl
	AGENT_DOUBLE_SCRIPT=$dir/agent-double.json
	mkdir -p "$dir/agent-double.d"
	[ -f "$AGENT_DOUBLE_SCRIPT" ] || echo '{}' >"$AGENT_DOUBLE_SCRIPT"
	rm -f "$dir/agent-double.port"
	python3 "$TESTS_DIR/lib/agent_double.py" --port-file "$dir/agent-double.port" \
		--log "$AGENT_DOUBLE_LOG" --dir "$dir/agent-double.d" --script "$AGENT_DOUBLE_SCRIPT" \
		>"$dir/agent-double.stderr" 2>&1 &
	AGENT_DOUBLE_PID=$!
	for i in $(seq 1 100); do
		if [ -s "$dir/agent-double.port" ]; then
			AGENT_DOUBLE_URL="http://127.0.0.1:$(cat "$dir/agent-double.port")"
			export AGENT_DOUBLE_URL AGENT_DOUBLE_LOG AGENT_DOUBLE_SCRIPT AGENT_DOUBLE_PID
			return 0
		fi
		kill -0 "$AGENT_DOUBLE_PID" 2>/dev/null || break
		sleep 0.1
	done
	cat "$dir/agent-double.stderr" >&2
	return 1
}

agent_double_stop() {
	if [ -n "${AGENT_DOUBLE_PID:-}" ]; then
		kill "$AGENT_DOUBLE_PID" 2>/dev/null
		wait "$AGENT_DOUBLE_PID" 2>/dev/null
		AGENT_DOUBLE_PID=
	fi
}

agent_double_req() {	# n [jq filter]
	sed -n "$1p" "$AGENT_DOUBLE_LOG" | jq -r "${2:-.}"
}

agent_double_count() {
	wc -l <"$AGENT_DOUBLE_LOG" | tr -d ' '
}
