#!/usr/bin/env bash
# Pipeline, mirrors after a deleted ref: a push that deletes a branch cleans the
# repository's mirror (state_dir/git/NAME.git) soon after, in the background: the
# mirror's copy of the branch goes, then what no ref reaches (the branch's own commits
# and a 2 MiB blob only it held) is pruned, and the daemon logs what it freed.
# - over the real post-receive hook (`git push :feature`): the clean follows within
#   seconds; the blob is gone from the mirror, main's commit stays, the mirror shrank by
#   the blob's size, /metrics counts the clean and its bytes;
# - over a signed GitHub webhook (after = 0000...) while a build of the same repository
#   runs: the clean waits for that build's end (a build and a clean never share a
#   mirror), then happens;
# - the repository builds again afterwards from its cleaned mirror.
TEST=pl-mirror
source "$TESTS_DIR/lib/pipeline.sh"

pl_builder
pl_repo hk "url=file://$AGENT_DIR/hk.git"
pl_repo wb "url=file://$AGENT_DIR/wb.git"
start_agent || fail "agent did not start"
pl_hook hk post-receive
git --git-dir="$AGENT_DIR/hk.git" config s2i.follow false

mirror_bytes() { du -sb "$AGENT_DIR/state/git/$1.git/objects" | cut -f1; }
in_mirror() { git --git-dir="$AGENT_DIR/state/git/$1.git" cat-file -e "$2" 2>/dev/null; }
cleaned() { grep -c "repo '$1': cleaned the mirror" "$AGENT_LOG"; }
cleaned_once_more() { [ "$(cleaned "$1")" -gt "$2" ]; }
big_blob() {	# repo: a commit of 2 MiB nobody else has on a new branch; prints the blob id
	head -c 2097152 /dev/urandom >"$AGENT_DIR/$1.work/big.bin"
	git -C "$AGENT_DIR/$1.work" add big.bin
	git -C "$AGENT_DIR/$1.work" commit -q -m "big blob of $1"
	git -C "$AGENT_DIR/$1.work" rev-parse HEAD:big.bin
}

# --- over the hook ---
pl_push hk >/dev/null || fail "git push hk main"
pl_expect 1 succeeded 120
git -C "$AGENT_DIR/hk.work" checkout -q -b feature
blob=$(big_blob hk)
git -C "$AGENT_DIR/hk.work" push -q "$AGENT_DIR/hk.git" feature 2>/dev/null || fail "git push hk feature"
pl_expect 2 succeeded 120
in_mirror hk "$blob" || fail "the mirror of hk does not hold the blob of feature after its build"
size1=$(mirror_bytes hk)
git -C "$AGENT_DIR/hk.work" checkout -q main
main_sha=$(git -C "$AGENT_DIR/hk.work" rev-parse main)
git -C "$AGENT_DIR/hk.work" push -q "$AGENT_DIR/hk.git" :refs/heads/feature 2>/dev/null ||
	fail "git push hk :feature"
wait_grep "repo 'hk': refs/heads/feature deleted, its mirror is cleaned soon" "$AGENT_LOG" 10 ||
	fail "the agent did not hear of the deleted branch"
wait_for 30 cleaned_once_more hk 0 || fail "the mirror of hk was not cleaned: $(tail -n 5 "$AGENT_LOG")"
line=$(grep "repo 'hk': cleaned the mirror" "$AGENT_LOG")
echo "$line" | grep -q "after 1 deleted ref: [1-9][0-9]* refs dropped" || fail "clean of hk: $line"
in_mirror hk "$blob" && fail "the blob only feature held is still in the mirror of hk"
git --git-dir="$AGENT_DIR/state/git/hk.git" rev-parse -q --verify refs/heads/feature >/dev/null &&
	fail "the mirror of hk still has refs/heads/feature"
in_mirror hk "$main_sha" || fail "the mirror of hk lost main's commit"
size2=$(mirror_bytes hk)
[ $((size1 - size2)) -ge 2000000 ] || fail "the mirror of hk went from $size1 to $size2 bytes only"
[ "$(pl_metric s2i_agent_mirror_cleans_total)" = 1 ] ||
	fail "s2i_agent_mirror_cleans_total is '$(pl_metric s2i_agent_mirror_cleans_total)'"
[ "$(pl_metric s2i_agent_mirror_freed_bytes_total)" -ge 2000000 ] ||
	fail "s2i_agent_mirror_freed_bytes_total is '$(pl_metric s2i_agent_mirror_freed_bytes_total)'"

# --- over a webhook, while the repository builds ---
git -C "$AGENT_DIR/wb.work" checkout -q -b old
wblob=$(big_blob wb)
sha=$(git -C "$AGENT_DIR/wb.work" rev-parse HEAD)
pl_push wb refs/heads/old >/dev/null || fail "git push wb old"
pl_github_push wb "$sha" refs/heads/old
expect 202 .build 3
pl_expect 3 succeeded 120
in_mirror wb "$wblob" || fail "the mirror of wb does not hold the blob of old after its build"
git -C "$AGENT_DIR/wb.work" checkout -q main
sha=$(pl_commit wb "slow build while old goes" SLEEP 6)
pl_push wb >/dev/null || fail "git push wb main"
pl_github_push wb "$sha"
expect 202 .build 4
wait_grep 'assemble: sleeping' "$AGENT_DIR/state/logs/4.log" 60 || fail "assemble of build 4 did not start"
git -C "$AGENT_DIR/wb.work" push -q "$AGENT_DIR/wb.git" :refs/heads/old 2>/dev/null || fail "git push wb :old"
pl_github_push wb 0000000000000000000000000000000000000000 refs/heads/old 2>/dev/null
expect 200 .ignored "ref deleted"
sleep 3	# past WORKER_MIRROR_DELAY_MS
[ "$(pl_state 4)" = running ] || fail "build 4 is $(pl_state 4) already: the test needs it running"
[ "$(cleaned wb)" = 0 ] && in_mirror wb "$wblob" || fail "the mirror of wb was cleaned while build 4 ran"
pl_expect 4 succeeded 60
wait_for 30 cleaned_once_more wb 0 || fail "the mirror of wb was not cleaned after build 4"
in_mirror wb "$wblob" && fail "the blob only old held is still in the mirror of wb"
[ "$(pl_metric s2i_agent_mirror_cleans_total)" = 2 ] ||
	fail "s2i_agent_mirror_cleans_total is '$(pl_metric s2i_agent_mirror_cleans_total)'"

# --- builds go on from the cleaned mirrors ---
pl_rm wb SLEEP
sha=$(pl_commit wb "after the clean")
pl_push wb >/dev/null || fail "git push wb main"
pl_github_push wb "$sha"
expect 202 .build 5
pl_expect 5 succeeded 120
pl_commit hk "after the clean" >/dev/null
pl_push hk >/dev/null || fail "git push hk main"
pl_expect 6 succeeded 120
stop_agent || fail "agent exited $? on SIGTERM"
echo "ok"
