#!/usr/bin/env bash
# Attacks on the pre-receive gate, with real `git push` to bare repositories and the
# agent double: a pusher who sets S2I_AGENT_HOOK_NESTED (a local push inherits the
# pusher's environment), pushes into refs/s2i-agent/ or deletes another push's staging
# ref must not get a commit past the gate. post-receive still reports such a push.
set -u
SECRET="attack hooks secret $$"
. "$TESTS_DIR/lib/hookrepo.sh"
posts() { jq -rs '[.[] | select(.method == "POST")] | length' "$AGENT_DOUBLE_LOG" 2>/dev/null || echo 0; }
main_of() { git --git-dir="$tmp/$1.git" rev-parse refs/heads/main; }
base=$(work_commit base)
new_bare gate pre-receive
git -C "$tmp/work" push -q "$tmp/gate.git" "$base:refs/heads/main" 2>/dev/null
# every build the agent double is asked about fails: nothing may pass the gate
echo '{"builds": {"1": {"state": "failed", "reason": "no"}, "2": {"state": "failed", "reason": "no"}, "3": {"state": "failed", "reason": "no"}, "4": {"state": "failed", "reason": "no"}}}' >"$AGENT_DOUBLE_SCRIPT"

# ---- 1. the nested marker in the pusher's environment ----
bad=$(work_commit "bad one")
for v in 1 0123456789abcdef0123456789abcdef; do
	S2I_AGENT_HOOK_NESTED=$v git -C "$tmp/work" push "$tmp/gate.git" HEAD:refs/heads/main >"$tmp/push.out" 2>&1
	check "S2I_AGENT_HOOK_NESTED=$v: push rejected" 1 $?
	check "S2I_AGENT_HOOK_NESTED=$v: main did not move" "$base" "$(main_of gate)"
	grep -q "is not this hook's token" "$tmp/push.out" || fail "nested $v: reason shown: $(cat "$tmp/push.out")"
done
# a forged token file named by the pusher still allows only staging refs, never a branch
mkdir -p "$tmp/gate.git/s2i-agent-nested"
echo 4242 >"$tmp/gate.git/s2i-agent-nested/0123456789abcdef0123456789abcdef"
S2I_AGENT_HOOK_NESTED=0123456789abcdef0123456789abcdef \
	git -C "$tmp/work" push "$tmp/gate.git" HEAD:refs/heads/main >"$tmp/push.out" 2>&1
check "forged token: a branch update rejected" 1 $?
check "forged token: main did not move" "$base" "$(main_of gate)"
rm -rf "$tmp/gate.git/s2i-agent-nested"

# ---- 2. pushes into the hooks' namespace ----
git -C "$tmp/work" push "$tmp/gate.git" "HEAD:refs/s2i-agent/incoming/1-$bad" >"$tmp/push.out" 2>&1
check "push to refs/s2i-agent/incoming: rejected" 1 $?
grep -q 'refs/s2i-agent/ is reserved' "$tmp/push.out" || fail "namespace reason: $(cat "$tmp/push.out")"
check "no staging ref made by the pusher" "" "$(git --git-dir="$tmp/gate.git" for-each-ref refs/s2i-agent/)"
git -C "$tmp/work" push "$tmp/gate.git" HEAD:refs/heads/main "HEAD:refs/s2i-agent/x" >"$tmp/push.out" 2>&1
check "branch and refs/s2i-agent in one push: rejected" 1 $?
check "main did not move" "$base" "$(main_of gate)"

# ---- 3. deleting another push's staging ref ----
(cd "$tmp/gate.git" && git update-ref "refs/s2i-agent/incoming/99-$base" "$base")
git -C "$tmp/work" push "$tmp/gate.git" ":refs/s2i-agent/incoming/99-$base" >"$tmp/push.out" 2>&1
check "delete a staging ref: rejected" 1 $?
check "the staging ref is still there" "$base" "$(git --git-dir="$tmp/gate.git" rev-parse "refs/s2i-agent/incoming/99-$base")"
(cd "$tmp/gate.git" && git update-ref -d "refs/s2i-agent/incoming/99-$base")

# ---- 4. the gate still works, and the token is gone afterwards ----
n0=$(posts)
echo "{\"check_repo\": \"$tmp/gate.git\"}" >"$AGENT_DOUBLE_SCRIPT"
git -C "$tmp/work" push "$tmp/gate.git" HEAD:refs/heads/main >"$tmp/push.out" 2>&1
check "a good push passes the gate" 0 $?
cat "$tmp/push.out"
check "main moved" "$bad" "$(main_of gate)"
check "one event" $((n0 + 1)) "$(posts)"
check "pushed commit readable during pre-receive" true \
	"$(jq -rs '[.[] | select(.method == "POST")][-1].sha_visible' "$AGENT_DOUBLE_LOG")"
check "no staging refs left" "" "$(git --git-dir="$tmp/gate.git" for-each-ref refs/s2i-agent/)"
check "no staging token left" "" "$(ls -A "$tmp/gate.git/s2i-agent-nested" 2>/dev/null)"

# ---- 5. post-receive: the marker does not silence a real push ----
new_bare web post-receive
echo '{}' >"$AGENT_DOUBLE_SCRIPT"
n0=$(posts)
c=$(work_commit "web one")
S2I_AGENT_HOOK_NESTED=1 git -C "$tmp/work" push "$tmp/web.git" HEAD:refs/heads/main >"$tmp/push.out" 2>&1
check "post-receive push with the marker: accepted" 0 $?
check "post-receive with the marker still notifies" $((n0 + 1)) "$(posts)"
check "post-receive event names the pushed commit" "$c" \
	"$(jq -rs '[.[] | select(.method == "POST")][-1].body | fromjson | .after' "$AGENT_DOUBLE_LOG")"

[ "$fails" -eq 0 ] || { echo "$fails failures"; exit 1; }
echo "hook gate attacks: all refused"
