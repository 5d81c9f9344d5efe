#!/usr/bin/env bash
# hooks/post-receive and hooks/pre-receive with real `git push` to bare repositories,
# against the agent double: signed events, logs as `remote:` lines, pushes rejected by
# pre-receive when a build fails, and the pushed commit readable by the agent while
# pre-receive runs (the quarantine staging).
set -u
SECRET="hook test secret $$"
. "$TESTS_DIR/lib/hookrepo.sh"
base=$(work_commit base)
verify_sig() {	# n
	local want
	want=sha256=$(openssl dgst -sha256 -hmac "$SECRET" -r "$(agent_double_req "$1" .body_file)" | cut -d' ' -f1)
	check "request $1 signature" "$want" "$(agent_double_req "$1" '.headers["x-hub-signature-256"]')"
}

# ---- post-receive: the log in the pusher's terminal; the push stands ----
new_bare web post-receive
c1=$(work_commit one)
git -C "$tmp/work" push "$tmp/web.git" HEAD:refs/heads/main >"$tmp/push.out" 2>&1
check "post-receive push exit" 0 $?
cat "$tmp/push.out"
grep -q '^remote: s2i-agent: refs/heads/main: queued build 1' "$tmp/push.out" || fail "queued line"
grep -q '^remote: ---> Building application \.\.\.' "$tmp/push.out" || fail "log line as remote:"
grep -q '^remote: s2i-agent: build 1 succeeded' "$tmp/push.out" || fail "final state line"
check "event path: repo from the directory name" /hooks/web "$(agent_double_req 1 .path)"
# pushed_at (ms) and a nonce (the request id) make each event's signed body its own
check "event body" "{\"ref\":\"refs/heads/main\",\"before\":\"0000000000000000000000000000000000000000\",\"after\":\"$c1\",\"pushed_at\":T,\"nonce\":\"$(agent_double_req 1 '.headers["x-request-id"]')\"}" \
	"$(agent_double_req 1 .body | sed -E 's/"pushed_at":[0-9]{13},/"pushed_at":T,/')"
verify_sig 1
check "ref moved" "$c1" "$(git --git-dir="$tmp/web.git" rev-parse refs/heads/main)"

# a failing build does not undo a post-receive push; s2i.repo names the agent's repo
git --git-dir="$tmp/web.git" config s2i.repo site
n0=$(agent_double_count)
echo '{"builds": {"2": {"state": "failed", "reason": "assemble exited 1"}}}' >"$AGENT_DOUBLE_SCRIPT"
c2=$(work_commit two)
git -C "$tmp/work" push "$tmp/web.git" HEAD:refs/heads/main >"$tmp/push.out" 2>&1
check "post-receive failed build: push exit" 0 $?
grep -q '^remote: s2i-agent: build 2 failed: assemble exited 1' "$tmp/push.out" || fail "failed line"
grep -q 'the push itself went through' "$tmp/push.out" || fail "post-receive explanation"
check "s2i.repo used" /hooks/site "$(agent_double_req $((n0 + 1)) .path)"
check "ref moved despite the failure" "$c2" "$(git --git-dir="$tmp/web.git" rev-parse refs/heads/main)"

# s2i.follow false: queued, not followed
git --git-dir="$tmp/web.git" config s2i.follow false
n0=$(agent_double_count)
work_commit three >/dev/null
git -C "$tmp/work" push "$tmp/web.git" HEAD:refs/heads/main >"$tmp/push.out" 2>&1
check "no follow: only the event" $((n0 + 1)) "$(agent_double_count)"

# ---- pre-receive: the agent can read the pushed commit; success lets the push in ----
new_bare gate pre-receive
git -C "$tmp/work" push -q "$tmp/gate.git" "$base:refs/heads/main" 2>/dev/null
echo "{\"check_repo\": \"$tmp/gate.git\"}" >"$AGENT_DOUBLE_SCRIPT"
n0=$(agent_double_count)
c4=$(work_commit four)
git -C "$tmp/work" push "$tmp/gate.git" HEAD:refs/heads/main >"$tmp/push.out" 2>&1
check "pre-receive success: push exit" 0 $?
cat "$tmp/push.out"
check "pre-receive event path" /hooks/gate "$(agent_double_req $((n0 + 1)) .path)"
check "pre-receive event after" "$c4" "$(agent_double_req $((n0 + 1)) '.body | fromjson | .after')"
check "pre-receive event before" "$base" "$(agent_double_req $((n0 + 1)) '.body | fromjson | .before')"
verify_sig $((n0 + 1))
check "pushed commit readable by the agent during pre-receive" true "$(agent_double_req $((n0 + 1)) .sha_visible)"
check "only one event (the staging push is not one)" 1 \
	"$(jq -rs --argjson a "$n0" '[.[$a:][] | select(.method == "POST")] | length' "$AGENT_DOUBLE_LOG")"
grep -q '^remote: s2i-agent: build [0-9]* succeeded' "$tmp/push.out" || fail "pre-receive final line"
check "ref moved after success" "$c4" "$(git --git-dir="$tmp/gate.git" rev-parse refs/heads/main)"
check "no staging refs left" "" "$(git --git-dir="$tmp/gate.git" for-each-ref refs/s2i-agent/)"

# ---- pre-receive: a failed build rejects the push ----
n0=$(agent_double_count)
bid=$(( $(jq -rs '[.[] | select(.method == "POST" and .answer == 202)] | length' "$AGENT_DOUBLE_LOG") + 1 ))
echo "{\"check_repo\": \"$tmp/gate.git\", \"builds\": {\"$bid\": {\"state\": \"failed\", \"reason\": \"assemble exited 3\", \"log\": [\"assemble: error: tests failed\\n\"]}}}" >"$AGENT_DOUBLE_SCRIPT"
c5=$(work_commit five)
git -C "$tmp/work" push "$tmp/gate.git" HEAD:refs/heads/main >"$tmp/push.out" 2>&1
check "pre-receive failure: push rejected" 1 $?
cat "$tmp/push.out"
grep -q '^remote: assemble: error: tests failed' "$tmp/push.out" || fail "failed build log shown"
grep -q "^remote: s2i-agent: build $bid failed: assemble exited 3" "$tmp/push.out" || fail "failed final line"
grep -q 'pre-receive hook declined' "$tmp/push.out" || fail "git's rejection"
check "pushed commit was readable during pre-receive" true "$(agent_double_req $((n0 + 1)) .sha_visible)"
check "ref did not move" "$c4" "$(git --git-dir="$tmp/gate.git" rev-parse refs/heads/main)"
check "no staging refs left after a rejection" "" "$(git --git-dir="$tmp/gate.git" for-each-ref refs/s2i-agent/)"

# ---- pre-receive: an ignored ref and a deletion pass; an unreachable agent rejects ----
echo '{"ignore_refs": {"refs/heads/scratch": "ref not matched", "refs/heads/old": "ref deleted"}}' >"$AGENT_DOUBLE_SCRIPT"
git -C "$tmp/work" push "$tmp/gate.git" HEAD:refs/heads/scratch >"$tmp/push.out" 2>&1
check "ignored ref: push accepted" 0 $?
grep -q 'refs/heads/scratch: ignored: ref not matched' "$tmp/push.out" || fail "ignored line"
(cd "$tmp/gate.git" && git update-ref refs/heads/old "$c4")
git -C "$tmp/work" push "$tmp/gate.git" :refs/heads/old >"$tmp/push.out" 2>&1
check "deletion: push accepted" 0 $?
check "deleted" "" "$(git --git-dir="$tmp/gate.git" for-each-ref refs/heads/old)"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
git --git-dir="$tmp/gate.git" config s2i.url "http://127.0.0.1:$port"
c6=$(work_commit six)
git -C "$tmp/work" push "$tmp/gate.git" HEAD:refs/heads/main >"$tmp/push.out" 2>&1
check "no agent: push rejected" 1 $?
grep -q 'push rejected: the agent did not take the event, nothing was built; push again once it answers' \
	"$tmp/push.out" || fail "no-agent message: $(cat "$tmp/push.out")"
! grep -q 'not every build succeeded' "$tmp/push.out" || fail "no agent: claims a build failed"
grep -q "^remote: s2i-agent: refs/heads/main: nothing was built; push again once the agent answers, or ask for a build: curl -X POST .* -d '{\"ref\": \"refs/heads/main\"}' http://127.0.0.1:$port/repos/gate/builds" \
	"$tmp/push.out" || fail "no-agent recovery hint: $(cat "$tmp/push.out")"
check "no agent: ref did not move" "$c4" "$(git --git-dir="$tmp/gate.git" rev-parse refs/heads/main)"
[ "$c6" != "$c4" ] || fail "test setup"

# ---- post-receive without an agent: the push stands, the hook says how to recover ----
git --git-dir="$tmp/web.git" config s2i.url "http://127.0.0.1:$port"
c7=$(work_commit seven)
git -C "$tmp/work" push "$tmp/web.git" HEAD:refs/heads/main >"$tmp/push.out" 2>&1
check "post-receive, no agent: push exit" 0 $?
grep -q "^remote: s2i-agent: refs/heads/main: nothing was built; push again once the agent answers, or ask for a build: curl -X POST .*http://127.0.0.1:$port/repos/site/builds" \
	"$tmp/push.out" || fail "post-receive recovery hint: $(cat "$tmp/push.out")"
! grep -q 'not every build succeeded' "$tmp/push.out" || fail "post-receive, no agent: claims a build failed"
check "post-receive, no agent: the ref moved" "$c7" "$(git --git-dir="$tmp/web.git" rev-parse refs/heads/main)"

# ---- a binary that is not there: the hooks name git config s2i.agent ----
git --git-dir="$tmp/web.git" config s2i.agent "$tmp/no/s2i-agent"
c8=$(work_commit eight)
git -C "$tmp/work" push "$tmp/web.git" HEAD:refs/heads/main >"$tmp/push.out" 2>&1
check "post-receive, no binary: push exit" 0 $?
grep -q "^remote: s2i-agent: '$tmp/no/s2i-agent' not found, nothing was built (the push itself went through); install s2i-agent, or name it: git config s2i.agent " \
	"$tmp/push.out" || fail "post-receive, no binary: $(cat "$tmp/push.out")"
git --git-dir="$tmp/gate.git" config s2i.agent "$tmp/no/s2i-agent"
git -C "$tmp/work" push "$tmp/gate.git" HEAD:refs/heads/main >"$tmp/push.out" 2>&1
check "pre-receive, no binary: push rejected" 1 $?
grep -q "^remote: s2i-agent: '$tmp/no/s2i-agent' not found; push rejected; install s2i-agent, or name it: git config s2i.agent " \
	"$tmp/push.out" || fail "pre-receive, no binary: $(cat "$tmp/push.out")"

[ "$fails" -eq 0 ] || { echo "$fails failures"; exit 1; }
echo "all hook checks passed"
