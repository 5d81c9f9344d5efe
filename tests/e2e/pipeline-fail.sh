#!/usr/bin/env bash
# Pipeline, failures: a failing assemble ends `failed` with its exit code, the log keeps
# its output and the status is `failure`; a builder image that does not exist ends
# `errored` with the engine's reason and the status `error`; no container is left.
TEST=pl-fail
source "$TESTS_DIR/lib/pipeline.sh"

pl_builder
pl_repo web
pl_repo broken "builder=s2i-agent-test/$PL_ID-missing:latest" "status_repo=acme/broken"
start_agent || fail "agent did not start"

sha=$(pl_commit web "break it" FAIL yes)
pl_push web >/dev/null || fail "git push"
pl_github_push web "$sha"
expect 202 .build 1
pl_expect 1 failed 120
pl_expect_field 1 .reason "assemble exited with code 3"
pl_expect_field 1 .image_id null
curl -sf "$AGENT_URL/builds/1/log" >"$AGENT_DIR/1.log" || fail "no log"
grep -q '^assemble: failing as asked$' "$AGENT_DIR/1.log" || fail "log lacks the assemble output"
tail -n 1 "$AGENT_DIR/1.log" | grep -qx '==> build 1 failed: assemble exited with code 3' || fail "last log line"
pl_no_containers 1

sha2=$(git -C "$AGENT_DIR/broken.work" rev-parse HEAD)
pl_push broken >/dev/null || fail "git push"
pl_github_push broken "$sha2"
expect 202 .build 2
pl_expect 2 errored 60
pl_build_json 2 | jq -r .reason | grep -q "missing" || fail "reason: $(pl_build_json 2)"
pl_no_containers 2

pl_wait_statuses 6 30 || fail "expected 6 status posts, got $(forge_double_count)"
want="pending|Build 1 queued
pending|Build 1 running
failure|Build 1 failed: assemble exited with code 3"
[ "$(pl_statuses "$sha")" = "$want" ] || fail "statuses of build 1: $(pl_statuses "$sha")"
[ "$(pl_statuses "$sha2" | tail -n 1 | cut -d'|' -f1)" = error ] || fail "statuses of build 2: $(pl_statuses "$sha2")"
[ "$(jq -r "select(.sha == \"$sha2\") | .path" "$FORGE_DOUBLE_LOG" | sort -u)" = "/repos/acme/broken/statuses/$sha2" ] ||
	fail "status_repo not used"
stop_agent || fail "agent exited $? on SIGTERM"
exit 0
