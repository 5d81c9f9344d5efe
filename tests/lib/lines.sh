# lines.sh: checks on the lines of a file (a command's output, an HTTP body) for bash
# tests. Source it; the test defines fail (agent.sh's or its own).
#   file_has FILE GREP-OPTION PATTERN WHAT [PATTERN WHAT]...
#       for each pair: fail WHAT unless a line of FILE matches PATTERN, as grep
#       GREP-OPTION reads it (-G basic regex, -E extended, -x the whole line, -F fixed)

file_has() {	# file grep-option (pattern what)...
	local file=$1 opt=$2
	shift 2
	while [ $# -ge 2 ]; do
		grep -q "$opt" -e "$1" -- "$file" || fail "$2"
		shift 2
	done
}
