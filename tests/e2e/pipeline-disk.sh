#!/usr/bin/env bash
# Pipeline, free space (min_free_space): a build whose repository needs more free space
# than state_dir or the engine's data root has waits queued, with the reason in /healthz
# (503), the dashboard and /metrics, while intake goes on and other repositories build; a
# retention pass runs at once; once the need is met (SIGHUP) it builds.
TEST=pl-disk
source "$TESTS_DIR/lib/pipeline.sh"

pl_builder
pl_repo api keep_builds=1
pl_repo web min_free_space=4000000G
start_agent || fail "agent did not start"

metric_is() { [ "$(pl_metric "$1")" = "$2" ]; }
metric_above() { [ "$(pl_metric "$1")" -gt "$2" ]; }
[ -n "$(pl_metric 's2i_agent_free_bytes{dir="state_dir"}')" ] || fail "no free space of state_dir in /metrics"
want=$(stat -f -c '%a*%S' "$AGENT_DIR/state" | bc)
got=$(pl_metric 's2i_agent_free_bytes{dir="state_dir"}')
[ $((got > want ? got - want : want - got)) -lt $((512 * 1024 * 1024)) ] ||
	fail "free bytes of state_dir: $got, df says $want"
# the engine is local here: its data root is measured too
# (a busy engine may answer /info late: asked again at each check until it answers)
wait_for 30 pl_metric_set 's2i_agent_free_bytes{dir="engine"}' || fail "no free space of the engine's data root"

for i in 1 2; do
	sha=$(pl_commit api "api change $i" app.sh "echo \"api $i\"")
	pl_push api >/dev/null || fail "git push api"
	pl_github_push api "$sha"
	expect 202 .build $i
	pl_expect $i succeeded 120
done
passes=$(pl_metric s2i_agent_retention_passes_total)
[ "$(pl_metric s2i_agent_builds_held)" = 0 ] || fail "builds held before any is short of space"
http_req "$AGENT_URL/healthz"
expect 200

# web needs 4000000 GiB free: its build waits, the others go on
sha=$(pl_commit web "change of web" app.sh 'echo "hello web"')
pl_push web >/dev/null || fail "git push"
pl_github_push web "$sha"
expect 202 .build 3
wait_grep "below min_free_space (4000000.0 GiB): builds wait" "$AGENT_LOG" 30 || fail "no warning for the held build"
wait_for 30 metric_is s2i_agent_builds_held 1 || fail "s2i_agent_builds_held is not 1"
http_req "$AGENT_URL/healthz"
expect 503
grep -q "^builds: .* free on '.*', below min_free_space (4000000.0 GiB): builds wait$" <<<"$HTTP_BODY" ||
	fail "/healthz said: $HTTP_BODY"
http_req -H 'Accept: text/html' "$AGENT_URL/"
grep -q 'class="notice"><strong>.*below min_free_space' <<<"$HTTP_BODY" || fail "the dashboard shows no reason"
# a pass ran at once (api keeps 1 build: build 1 goes)
wait_for 30 metric_above s2i_agent_retention_passes_total "$passes" || fail "no retention pass"
wait_grep 'retention: deleted 1 builds and 1 logs' "$AGENT_LOG" 30 || fail "the pass deleted nothing"
[ "$(pl_metric s2i_agent_pruned_builds_total)" = 1 ] || fail "pruned builds: $(pl_metric s2i_agent_pruned_builds_total)"
[ "$(pl_metric s2i_agent_pruned_logs_total)" = 1 ] || fail "pruned logs: $(pl_metric s2i_agent_pruned_logs_total)"
[ "$(pl_metric s2i_agent_pruned_bytes_total)" -gt 0 ] || fail "pruned bytes: $(pl_metric s2i_agent_pruned_bytes_total)"
# intake still accepts, and a repository with room builds
sha=$(pl_commit api "api change 3" app.sh 'echo "api 3"')
pl_push api >/dev/null || fail "git push api"
pl_github_push api "$sha"
expect 202 .build 4
pl_expect 4 succeeded 120
sleep 2
pl_expect_field 3 .state queued

# the need met: it builds
sed -i 's/^min_free_space = 4000000G$/min_free_space = 1M/' "$AGENT_DIR/repos.conf"
agent_write_config
kill -HUP "$AGENT_PID"
pl_expect 3 succeeded 120
wait_grep 'builds run again' "$AGENT_LOG" 30 || fail "no line for the end of the hold"
[ "$(pl_metric s2i_agent_builds_held)" = 0 ] || fail "still held"
http_req "$AGENT_URL/healthz"
expect 200
stop_agent || fail "agent exited $? on SIGTERM"
exit 0
