#!/usr/bin/env bash
# The crash campaign (tests/chaos/run, `make chaos`) at a short setting for make check:
# 10 deliveries, at least 3 SIGKILLs of the daemon during intake and builds.
exec "$TESTS_DIR/chaos/run" 10 3
