#!/bin/bash
# Helpers of the test units inside the machine of tests/lib/nspawn.sh (copied there
# as /s2i-test/lib.sh, sourced by /s2i-test/inside.sh): each check writes "ok WHAT" or
# "FAIL WHAT: detail" to /s2i-test-out/results, finish writes "done" last. The agent
# listens on $PORT (/s2i-test/env); hook posts to repository web.
set -u
. /s2i-test/env
out=/s2i-test-out
R=$out/results
url=http://127.0.0.1:$PORT
ok() { echo "ok $*" >>"$R"; echo "s2i-test: ok $*"; }
bad() { echo "FAIL $*" >>"$R"; echo "s2i-test: FAIL $*"; }
prop() { systemctl show -P "$1" s2i-agent; }
get() { curl -sS --max-time 10 -o "$out/$2" -w '%{http_code}' "$url$1"; }	# path file: prints the code
finish() {
	systemctl status --no-pager -l s2i-agent >"$out/status.txt" 2>&1
	journalctl -u s2i-agent --no-pager -o short-monotonic >"$out/agent.journal" 2>&1
	journalctl -b --no-pager -o short-monotonic >"$out/boot.journal" 2>&1
	cp -a /var/lib/s2i-agent "$out/state" 2>/dev/null
	echo done >>"$R"
	exit 0
}

hook() {	# payload signature delivery: prints the code, the answer in hook.body
	curl -sS --max-time 30 -o "$out/hook.body" -w '%{http_code}' -X POST \
		-H "X-GitHub-Event: push" -H "X-GitHub-Delivery: $3" -H "Content-Type: application/json" \
		-H "X-Hub-Signature-256: sha256=$2" --data-binary "@$1" "$url/hooks/web"
}
build_state() {	# id
	get "/builds/$1" build.json >/dev/null
	sed -n 's/.*"state": *"\([a-z]*\)".*/\1/p' "$out/build.json"
}
wait_final() {	# id: prints the state once final (or the last one seen after 120 s)
	local i st
	for i in $(seq 1 240); do
		st=$(build_state "$1")
		case $st in succeeded | failed | errored | canceled) break ;; esac
		sleep 0.5
	done
	get "/builds/$1/log" "build-$1.log" >/dev/null
	echo "$st"
}
wait_sleeping() {	# id: until its assemble sleeps (60 s)
	local i
	for i in $(seq 1 120); do
		get "/builds/$1/log" "build-$1.log" >/dev/null
		grep -q 'assemble: sleeping' "$out/build-$1.log" && return 0
		sleep 0.5
	done
	return 1
}
rerun_ok() {	# id line what: the build, interrupted by what, ran again (line in its log) to success
	local st
	st=$(wait_final "$1")
	if [ "$st" = succeeded ] && grep -qxF -- "$2" "$out/build-$1.log"; then
		ok "build $1, interrupted by $3: run again, succeeded"
	else
		bad "build $1 after $3: '$st': $(tail -n 5 "$out/build-$1.log")"
	fi
}
