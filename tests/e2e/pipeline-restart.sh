#!/usr/bin/env bash
# Pipeline across restarts: kill -9 of the daemon during a build (the build process and
# its container go away, the restarted agent reruns the build to a final state, no
# container is left), and SIGTERM during a build (exit 0, the build back in the queue,
# rerun at the next start). No build stays `running`.
TEST=pl-restart
source "$TESTS_DIR/lib/pipeline.sh"

pl_builder
pl_repo web
start_agent || fail "agent did not start"

wait_sleeping() {	# id
	wait_grep 'assemble: sleeping' "$AGENT_DIR/state/logs/$1.log" 60 || fail "assemble of build $1 did not start"
}
build_pid() {	# id: its build process as the database recorded it
	sqlite3 -readonly "$AGENT_DIR/state/agent.db" "SELECT pid FROM builds WHERE id = $1"
}
gone() {	# pid: not a build process any more
	! tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -q "__build"
}

sha=$(pl_commit web "slow" SLEEP 6)
pl_push web >/dev/null || fail "git push"
pl_github_push web "$sha"
expect 202 .build 1
wait_sleeping 1
[ -n "$(docker ps -q --filter label=io.s2i-agent.build=1 --filter "ancestor=$PL_BUILDER")" ] || fail "no container for build 1"
pid1=$(build_pid 1)
[ -n "$pid1" ] || fail "no build process recorded for build 1"

# ---- kill -9 ----
pl_crash_restart 1
state=$(pl_wait 1 120)
[ "$state" = succeeded ] || fail "build 1 after a restart is $state: $(pl_build_json 1)"
[ "$(sqlite3 -readonly "$AGENT_DIR/state/agent.db" "SELECT attempt FROM builds WHERE id = 1")" = 2 ] ||
	fail "build 1 should have run twice"
grep -q '^==> the agent restarted during the build; it runs again$' "$AGENT_DIR/state/logs/1.log" ||
	fail "the log does not say the build was rerun"
pl_no_containers 1
gone "$pid1" || fail "the first build process of build 1 is still there"
# its statuses: queued, running, running again, success
pl_wait_statuses 4 30 || fail "statuses: $(pl_statuses)"
[ "$(pl_statuses "$sha" | tail -n 1 | cut -d'|' -f1)" = success ] || fail "final status: $(pl_statuses)"

# ---- SIGTERM during a build ----
# (a commit of its own: a push of the commit main is built at builds nothing)
sha=$(pl_commit web "slow again" SLEEP 6.5)
pl_push web >/dev/null || fail "git push"
pl_github_push web "$sha" refs/heads/main "again-$$"
expect 202 .build 2
wait_sleeping 2
pid2=$(build_pid 2)
stop_agent || fail "agent exited $? on SIGTERM during a build"
[ "$(sqlite3 -readonly "$AGENT_DIR/state/agent.db" "SELECT state FROM builds WHERE id = 2")" = queued ] ||
	fail "build 2 should be queued again after SIGTERM"
gone "$pid2" || fail "the build process of build 2 survived SIGTERM"
pl_no_containers 2
KEEP_PORT=1 start_agent || fail "agent did not restart"
state=$(pl_wait 2 120)
[ "$state" = succeeded ] || fail "build 2 after a restart is $state: $(pl_build_json 2)"
[ "$(db_count builds "state = 'running'")" = 0 ] || fail "a build is still running"
stop_agent || fail "agent exited $? on SIGTERM"
exit 0
