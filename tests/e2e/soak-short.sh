#!/usr/bin/env bash
# The short soak of make check (tests/soak/soak.sh; `make soak` is the long one): a
# couple of hundred builds through the real daemon, engine, hook and webhooks with
# retention set low; the database, logs, images and mirrors level off, RSS and open
# descriptors stay flat. It runs the release build when there is one (make check builds
# both): under ASan, RSS measures the sanitizer's shadow and quarantine, not the
# agent, and the other tests already run the daemon under LeakSanitizer.
root=$(cd "$(dirname "$0")/../.." && pwd)
[ -x "$root/build/rel/s2i-agent" ] && export S2I_AGENT=$root/build/rel/s2i-agent
export SOAK_BUILDS=${SOAK_SHORT_BUILDS:-200}
exec bash "$TESTS_DIR/soak/soak.sh"
