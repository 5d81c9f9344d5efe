# poll.sh: waiting in tests (and in the demo): a free port, then until a command
# succeeds, a port listens, a file holds a line, a URL answers, a process is gone.
# Only functions, no dependency but bash, grep and curl (conf/demo/demo.sh sources it
# under `set -euo pipefail`). Every wait has a deadline, a bound against hangs rather
# than a timing assertion, and returns 1 once it passed.

# A random port with no listener on 127.0.0.1 (whoever binds it retries if another
# test takes it in between).
free_port() {
	local p i
	for i in $(seq 1 50); do
		p=$((20000 + RANDOM % 40000))
		if ! port_open "$p"; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

port_open() {	# port: something listens on 127.0.0.1:port
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

wait_for() {	# seconds command...: until the command succeeds (tried every 0.1 s)
	wait_for_pid "" "$@"
}

# wait_for_pid PID SECONDS COMMAND...: the same, but gives up at once when PID (the
# process expected to answer) has ended; an empty PID is never checked.
wait_for_pid() {
	local pid=$1 i n=$(($2 * 10))
	shift 2
	for ((i = 0; i < n; i++)); do
		"$@" && return 0
		[ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null && return 1
		sleep 0.1
	done
	return 1
}

wait_port() {	# port [seconds [pid]]: until something listens on 127.0.0.1:port (10 s)
	wait_for_pid "${3:-}" "${2:-10}" port_open "$1"
}

wait_url() {	# url [seconds [pid]]: until a GET of url answers 2xx (10 s)
	wait_for_pid "${3:-}" "${2:-10}" curl -sf --max-time 2 -o /dev/null "$1"
}

wait_grep() {	# pattern file [seconds]: until a line of file matches (grep's basic regex)
	wait_for "${3:-10}" grep -q -- "$1" "$2" 2>/dev/null
}

wait_gone() {	# pid [seconds]: until the process has ended
	wait_for "${2:-10}" _poll_gone "$1"
}
_poll_gone() { ! kill -0 "$1" 2>/dev/null; }
