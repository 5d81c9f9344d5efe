# sshd.sh: private OpenSSH servers on 127.0.0.1 for the SSH tests (gitsrc-ssh.sh,
# pipeline-ssh.sh): an ed25519 host key of their own, logins as this user with the keys in
# DIR/authorized_keys, a free port each. Needs root (sshd drops to the user it logs in).
#
#   sshd_init DIR              exit 77 without sshd, ssh-keygen or root; makes DIR/host_key
#   sshd_start NAME [LINE...]  starts server NAME (DIR/NAME.conf plus the sshd_config LINEs,
#                              log DIR/NAME.log); sets SSHD_PORT
#   sshd_known_hosts FILE      known_hosts for the last started server
#   sshd_stop                  stops every server started (call it from the EXIT trap)
source "${TESTS_DIR:-$(dirname "${BASH_SOURCE[0]}")/..}/lib/poll.sh"

SSHD=/usr/sbin/sshd
SSHD_DIR=
SSHD_PORT=
SSHD_PIDS=()

sshd_init() {
	[ -x "$SSHD" ] && command -v ssh-keygen >/dev/null || { echo "no sshd/ssh-keygen (openssh-server)"; exit 77; }
	[ "$(id -u)" = 0 ] || { echo "needs root to run a private sshd that logs in as this user"; exit 77; }
	SSHD_DIR=$1
	ssh-keygen -q -t ed25519 -N '' -f "$SSHD_DIR/host_key"
	touch "$SSHD_DIR/authorized_keys"
}

sshd_start() {
	local name=$1 try pid
	shift
	for try in 1 2 3; do	# another test may take the free port first
		SSHD_PORT=$(free_port)
		{
			cat <<EOF
Port $SSHD_PORT
ListenAddress 127.0.0.1
HostKey $SSHD_DIR/host_key
PidFile $SSHD_DIR/$name.pid
AuthorizedKeysFile $SSHD_DIR/authorized_keys
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
AllowUsers $(id -un)
EOF
			printf '%s\n' "$@"
		} >"$SSHD_DIR/$name.conf"
		mkdir -p /run/sshd
		"$SSHD" -D -e -f "$SSHD_DIR/$name.conf" 2>"$SSHD_DIR/$name.log" &
		pid=$!
		SSHD_PIDS+=("$pid")
		wait_port "$SSHD_PORT" 10 && kill -0 "$pid" 2>/dev/null && return 0
	done
	echo "sshd did not start: $(tail -3 "$SSHD_DIR/$name.log")"
	exit 1
}

sshd_known_hosts() {
	echo "[127.0.0.1]:$SSHD_PORT $(cut -d' ' -f1,2 "$SSHD_DIR/host_key.pub")" >"$1"
}

sshd_stop() {
	local p
	for p in "${SSHD_PIDS[@]}"; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	SSHD_PIDS=()
}
