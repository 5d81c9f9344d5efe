#!/usr/bin/env bash
# fleet-status-once.sh with the statuses on GitLab's API: the look
# before a taken-over status is posted again, and a token that cannot read statuses.
FLEET_STATUS_FORGE=gitlab source "$TESTS_DIR/e2e/fleet-status-once.sh"
