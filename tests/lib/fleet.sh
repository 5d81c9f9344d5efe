# fleet.sh: more agents beside agent.sh's on one shared store. Source it after
# agent.sh, once start_agent has written $AGENT_DIR/agent.conf; then:
#   fleet_serve NAME [EXTRA [PORT]]  another agent: agent.conf with its own port,
#       state_dir ($AGENT_DIR/state-NAME) and EXTRA lines in [agent] (the first
#       agent's labels are not copied: each has its own); its log is
#       $AGENT_DIR/NAME.log; sets FLEET_PID and FLEET_PORT (a new port while the one
#       tried is taken, unless PORT is given). The agents it started are stopped on
#       exit (fleet_stop_all, registered with agent_on_exit).
#   fleet_stop PID                   SIGTERM and wait; its exit code.
#   fleet_pg_start                   a private PostgreSQL (pg.sh, sourced by then) for
#       them, stopped on exit after the agents (those of fleet_serve and agent.sh's).

FLEET_PIDS=()

fleet_stop_all() {
	local pid
	for pid in "${FLEET_PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	done
	FLEET_PIDS=()
}

fleet_serve() {	# name [extra [port]]
	local try conf=$AGENT_DIR/$1.conf log=$AGENT_DIR/$1.log
	[ -n "${_FLEET_ON_EXIT:-}" ] || { agent_on_exit fleet_stop_all; _FLEET_ON_EXIT=1; }
	for try in 1 2 3 4 5; do
		FLEET_PORT=${3:-$(free_port)}
		sed -e "s|127.0.0.1:$AGENT_PORT|127.0.0.1:$FLEET_PORT|g" \
			-e "s|^state_dir = .*|state_dir = $AGENT_DIR/state-$1${2:+\\n$2}|" -e "/^labels = /d" \
			"$AGENT_DIR/agent.conf" >"$conf"
		"$S2I_AGENT" serve -c "$conf" >>"$log" 2>&1 &
		FLEET_PID=$!
		FLEET_PIDS+=("$FLEET_PID")
		wait_port "$FLEET_PORT" 15 "$FLEET_PID" && return 0
		kill "$FLEET_PID" 2>/dev/null
		wait "$FLEET_PID" 2>/dev/null
		[ -z "${3:-}" ] && grep -q "cannot listen" "$log" || break
	done
	cat "$log" >&2
	return 1
}

fleet_stop() {	# pid
	kill -TERM "$1"
	wait "$1"
}

fleet_pg_stop() {	# the agents before their database
	fleet_stop_all
	[ -n "${AGENT_PID:-}" ] && kill -TERM "$AGENT_PID" 2>/dev/null && wait "$AGENT_PID" 2>/dev/null
	AGENT_PID=
	pg_stop
}

fleet_pg_start() {
	pg_start || return 1
	agent_on_exit fleet_pg_stop
}
