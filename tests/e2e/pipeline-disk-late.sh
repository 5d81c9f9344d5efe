#!/usr/bin/env bash
# Pipeline, free space: an engine that answers its first GET /info late (busy) is
# asked again soon, so the free space of its data root is known seconds later, not
# after DISK_ROOT_INTERVAL_MS.
TEST=pl-disk-late
source "$TESTS_DIR/lib/pipeline.sh"
source "$TESTS_DIR/lib/enginefault.sh"

PROXY_SOCK=$AGENT_DIR/engine.sock
pl_builder
trap ef_cleanup EXIT
pl_repo api
ef_proxy_start --delay-reply-on 'GET /info=3' || fail "sockproxy did not start"
AGENT_ENGINE=unix://$PROXY_SOCK
start_agent || fail "agent did not start"

# the first /info answer comes 3 s late, after the agent stopped waiting for it
[ -z "$(pl_metric 's2i_agent_free_bytes{dir="engine"}')" ] ||
	fail "the data root is known although /info was not answered in time"
pl_metric_set 's2i_agent_free_bytes{dir="state_dir"}' || fail "no free space of state_dir"
wait_for 20 pl_metric_set 's2i_agent_free_bytes{dir="engine"}' ||
	fail "the engine's data root is not asked again after a late answer"
stop_agent || fail "agent exited $? on SIGTERM"
exit 0
