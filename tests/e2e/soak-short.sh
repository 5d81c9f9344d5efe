#!/usr/bin/env bash
# The short soak of make check: tests/soak/soak.sh (the long one is `make soak`) with
# SOAK_SHORT_BUILDS (160) builds through the real daemon and engine, two to three minutes:
# three repositories and two branches, pushes over the real post-receive hook and over
# signed GitHub webhooks, one commit in seven failing, back-to-back pushes superseding
# builds, keep_builds = 8. It fails unless the database, the log directory, the
# engine's images of the run and the mirrors level off over the second half, and RSS
# and open descriptors stay flat. Under a sanitizer build the release binary beside it
# runs the daemon when there is one (ASan's quarantine grows RSS by design); without
# one, RSS is printed but not checked.
set -u
agent=${S2I_AGENT:-}
case $agent in
*/build/san/s2i-agent)
	if [ -x "${agent%/build/san/s2i-agent}/build/rel/s2i-agent" ]; then
		S2I_AGENT=${agent%/build/san/s2i-agent}/build/rel/s2i-agent
	else
		export SOAK_RSS=0
	fi ;;
esac
export S2I_AGENT
SOAK_BUILDS=${SOAK_SHORT_BUILDS:-160} exec bash "$TESTS_DIR/soak/soak.sh"
