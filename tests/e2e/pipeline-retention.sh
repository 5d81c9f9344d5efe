#!/usr/bin/env bash
# Pipeline, retention (keep_builds, keep_days): builds past a repository's rules are
# deleted with their logs by the daemon's pass at start, and by `s2i-agent prune`
# while it runs (which also repacks the mirrors; the logs' files unlinked by a process
# in the background, or before it returns with --wait); the newest build of each ref is kept
# whatever the rules, [repo] keys override [agent]'s, --dry-run deletes nothing, the
# API and /metrics agree, and a build removes the image its tag named before.
TEST=pl-retention
source "$TESTS_DIR/lib/pipeline.sh"

pl_builder
pl_repo web keep_builds=0	# 2 from the restart on
pl_repo api "url=file://$AGENT_DIR/api.git"	# fetched into a mirror
AGENT_EXTRA="keep_builds = 0
keep_days = 0"
start_agent || fail "agent did not start"

# web: four builds of main, then one of dev; api: two builds of main
n=0
for i in 1 2 3 4; do
	sha=$(pl_commit web "change $i" app.sh "echo \"hello $i\"")
	pl_push web >/dev/null || fail "git push"
	pl_github_push web "$sha"
	n=$((n + 1))
	expect 202 .build $n
	pl_expect $n succeeded 120
done
sha=$(pl_commit web "dev change" app.sh 'echo "hello dev"')
pl_push web refs/heads/dev >/dev/null || fail "git push dev"
pl_github_push web "$sha" refs/heads/dev
expect 202 .build 5
pl_expect 5 succeeded 120
for i in 1 2; do
	sha=$(pl_commit api "api change $i" app.sh "echo \"api $i\"")
	pl_push api >/dev/null || fail "git push api"
	pl_github_push api "$sha"
	expect 202 .build $((5 + i))
	pl_expect $((5 + i)) succeeded 120
done
for i in 1 2 3 4 5 6 7; do
	[ -s "$AGENT_DIR/state/logs/$i.log" ] || fail "build $i has no log"
done
# each build of main replaced the image of the one before: removed, not left dangling
for i in 2 3 4; do
	grep -q '^--> removed the replaced image sha256:' "$AGENT_DIR/state/logs/$i.log" ||
		fail "build $i did not remove the image it replaced: $(grep replaced "$AGENT_DIR/state/logs/$i.log")"
done
grep -q 'replaced image' "$AGENT_DIR/state/logs/1.log" && fail "the first build removed an image"
ids=$(docker images -aq --no-trunc)
left=$(docker image inspect --format '{{index .Config.Labels "io.k8s.display-name"}}' $ids 2>/dev/null |
	grep -cx "s2i-agent-test/$PL_ID-web:main")
[ "$left" = 1 ] || fail "$left images of web:main, not 1"
[ "$(docker image inspect --format '{{.Id}}' "s2i-agent-test/$PL_ID-web:main")" = "$(pl_build_json 4 | jq -r .image_id)" ] ||
	fail "web:main is not the image of build 4"

# the pass at start: web keeps its 2 newest (4, 5), and 4 as the newest of main too;
# api, with [agent]'s rules off, keeps both
stop_agent || fail "agent exited $? on SIGTERM"
sed -i 's/^keep_builds = 0$/keep_builds = 2/' "$AGENT_DIR/repos.conf"
KEEP_PORT=1 start_agent || fail "agent did not restart"
wait_grep 'retention: deleted 3 builds and 3 logs' "$AGENT_LOG" 30 || fail "no retention pass logged"
for i in 1 2 3; do
	http_req "$AGENT_URL/builds/$i"
	expect 404
	[ -e "$AGENT_DIR/state/logs/$i.log" ] && fail "the log of deleted build $i is still there"
done
for i in 4 5 6 7; do
	pl_expect_field $i .state succeeded
	[ -s "$AGENT_DIR/state/logs/$i.log" ] || fail "the log of kept build $i is gone"
done
[ "$(db_count builds)" = 4 ] || fail "$(db_count builds) rows left, not 4"
[ "$(db_count deliveries)" = 4 ] || fail "$(db_count deliveries) delivery ids left, not 4"
curl -sf "$AGENT_URL/metrics" | grep -qx 's2i_agent_builds{state="succeeded"} 4' ||
	fail "metrics: $(curl -sf "$AGENT_URL/metrics" | grep 's2i_agent_builds{')"

# by hand, while the daemon runs: [agent] keep_builds = 1 applies to api (no key of its
# own); web's own keep_builds = 2 still keeps 4 and 5
sed -i 's/^keep_builds = 0$/keep_builds = 1/' "$AGENT_DIR/agent.conf"
out=$("$S2I_AGENT" prune -c "$AGENT_DIR/agent.conf" --dry-run 2>&1) || fail "prune --dry-run: $out"
size=$(stat -c %s "$AGENT_DIR/state/logs/6.log")
[ "$out" = "would delete 1 builds and 1 logs ($size bytes)" ] || fail "prune --dry-run said: $out"
pl_expect_field 6 .state succeeded
out=$("$S2I_AGENT" prune -c "$AGENT_DIR/agent.conf" 2>&1) || fail "prune: $out"
[ "$(head -n 1 <<<"$out")" = "deleted 1 builds and 1 logs ($size bytes)" ] || fail "prune said: $out"
# its file unlinked by a process of its own
grep -qE '^unlinking the deleted logs. files in the background \(process [0-9]+; --wait waits for it\)$' \
	<<<"$out" || fail "prune did not say the files go in the background: $out"
trash_empty() { [ -z "$(ls -A "$AGENT_DIR/state/logs/.trash" 2>/dev/null)" ]; }
wait_for 30 trash_empty || fail "the trash still holds $(ls "$AGENT_DIR/state/logs/.trash")"
# ... and repacked api's mirror into one pack
grep -qE '^repacked 1 mirrors: [0-9]+ -> [0-9]+ bytes$' <<<"$out" || fail "prune said: $out"
[ "$(ls "$AGENT_DIR/state/git/api.git/objects/pack/"*.pack | wc -l)" = 1 ] || fail "api's mirror is not one pack"
[ -z "$(find "$AGENT_DIR/state/git/api.git/objects" -path '*/objects/[0-9a-f][0-9a-f]/*' -type f)" ] ||
	fail "loose objects left in api's mirror"
out=$(git --git-dir="$AGENT_DIR/state/git/api.git" fsck --no-dangling 2>&1) || fail "api's mirror is broken after the repack: $out"
http_req "$AGENT_URL/builds/6"
expect 404
[ -e "$AGENT_DIR/state/logs/6.log" ] && fail "prune left the log of build 6"
pl_expect_field 7 .state succeeded
out=$("$S2I_AGENT" prune -c "$AGENT_DIR/agent.conf" 2>&1) || fail "prune again: $out"
[ "$(head -n 1 <<<"$out")" = "deleted 0 builds and 0 logs (0 bytes)" ] || fail "a second prune said: $out"
grep -q background <<<"$out" && fail "a prune with nothing to unlink started a process: $out"
# --wait: the files are gone once it returns (one planted in the trash, as a stop
# during a pass leaves them)
mkdir -p "$AGENT_DIR/state/logs/.trash"
echo left >"$AGENT_DIR/state/logs/.trash/99.log"
out=$("$S2I_AGENT" prune -c "$AGENT_DIR/agent.conf" --wait 2>&1) || fail "prune --wait: $out"
grep -q background <<<"$out" && fail "prune --wait left the files to a process: $out"
trash_empty || fail "prune --wait left $(ls "$AGENT_DIR/state/logs/.trash") in the trash"

# intake goes on as before
sha=$(pl_commit web "after the prune" app.sh 'echo "hello again"')
pl_push web >/dev/null || fail "git push"
pl_github_push web "$sha"
expect 202 .build 8
pl_expect 8 succeeded 120
"$S2I_AGENT" prune --help | grep -q '^usage: s2i-agent prune' || fail "prune --help"
"$S2I_AGENT" prune -c "$AGENT_DIR/agent.conf" stray >/dev/null 2>&1
[ $? = 2 ] || fail "prune with a stray argument did not exit 2"
stop_agent || fail "agent exited $? on SIGTERM"
exit 0
