#!/usr/bin/env bash
# daemon.sh: starting the long-lived daemons the tests share (dockerd, podman's service).
#   daemon_spawn CMD...   runs CMD in the background (stdin, stdout and stderr as the
#                         caller set them) without any other descriptor of this shell
# A descriptor left open is held for as long as the daemon lives: a run under
# `flock /work/locks/heavy CMD` has the lock on fd 3, and a dockerd that inherits it
# keeps the lock taken for every later run, long after that run ended.
daemon_spawn() {
	(
		for fd in $(ls "/proc/$BASHPID/fd"); do
			[ "$fd" -gt 2 ] && eval "exec $fd>&-"
		done
		exec "$@"
	) &
}
