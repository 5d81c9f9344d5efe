#!/usr/bin/env bash
# fleet-status-once.sh with the statuses on Gitea's (and Forgejo's) API: the look
# before a taken-over status is posted again, and a token that cannot read statuses.
FLEET_STATUS_FORGE=gitea source "$TESTS_DIR/e2e/fleet-status-once.sh"
