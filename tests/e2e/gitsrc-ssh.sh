#!/usr/bin/env bash
# gitsrc over SSH against a private sshd on 127.0.0.1: the host key is always checked
# against known_hosts (unknown host and changed key refused, hashed entries accepted),
# key authentication with ssh_key_file, incremental fetch into the mirror.
set -u
source "${TESTS_DIR:-$(dirname "$0")/..}/lib/poll.sh"
SSHD=/usr/sbin/sshd
[ -x "$SSHD" ] && command -v ssh-keygen >/dev/null || { echo "no sshd/ssh-keygen (openssh-server)"; exit 77; }
[ "$(id -u)" = 0 ] || { echo "needs root to run a private sshd that logs in as this user"; exit 77; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/s2i-gitsrc-ssh.XXXXXX")
chmod 755 "$tmp"
spid=
cleanup() {
	[ -n "$spid" ] && { kill "$spid" 2>/dev/null; wait "$spid" 2>/dev/null; }
	rm -rf "$tmp"
}
trap cleanup EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
check() { if [ "$2" != "$3" ]; then fail "$1: expected '$2', got '$3'"; else echo "ok: $1"; fi; }
val() { sed -n "s/^$1=//p" "$2"; }
export GIT_AUTHOR_NAME="A U Thor" GIT_AUTHOR_EMAIL=author@example.com
export GIT_COMMITTER_NAME="C O Mitter" GIT_COMMITTER_EMAIL=committer@example.com
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null

# keys: ed25519 (libssh2 1.10 signs RSA keys only with SHA-1, which OpenSSH >= 8.8
# refuses; ed25519 and ECDSA keys work)
ssh-keygen -q -t ed25519 -N '' -f "$tmp/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$tmp/other_host_key"
ssh-keygen -q -t ed25519 -N '' -f "$tmp/id_key"
cp "$tmp/id_key.pub" "$tmp/authorized_keys"

port=$(free_port)
cat >"$tmp/sshd_config" <<EOF
Port $port
ListenAddress 127.0.0.1
HostKey $tmp/host_key
PidFile $tmp/sshd.pid
AuthorizedKeysFile $tmp/authorized_keys
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
AllowUsers $(id -un)
EOF
mkdir -p /run/sshd
"$SSHD" -D -e -f "$tmp/sshd_config" 2>"$tmp/sshd.log" &
spid=$!
wait_port "$port" 10 || { echo "sshd did not start: $(tail -3 "$tmp/sshd.log")"; exit 1; }

git init -q --bare -b main "$tmp/main.git"
git init -q -b main "$tmp/w"
echo hello >"$tmp/w/README"
git -C "$tmp/w" add -A && git -C "$tmp/w" commit -q -m first && git -C "$tmp/w" push -q "$tmp/main.git" main
url="ssh://$(id -un)@127.0.0.1:$port$tmp/main.git"
M=$tmp/state/git/main.git
fetch() {	# out known_hosts [more args]
	local out=$1 kh=$2
	shift 2
	"$S2I_AGENT" __gitsrc-fetch --mirror "$M" --ref main --known-hosts "$kh" "$@" "$url" >"$out" 2>&1
}

# unknown host: refused before authentication
: >"$tmp/kh_empty"
if fetch "$tmp/o1" "$tmp/kh_empty" --ssh-key "$tmp/id_key"; then fail "unknown host accepted"; fi
grep -q "not in known_hosts" "$tmp/o1" || fail "unknown host message: $(cat "$tmp/o1")"
grep -q "Accepted publickey" "$tmp/sshd.log" && fail "authenticated although the host was refused"

# a different key for that host: refused
echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$tmp/other_host_key.pub")" >"$tmp/kh_wrong"
if fetch "$tmp/o2" "$tmp/kh_wrong" --ssh-key "$tmp/id_key"; then fail "changed host key accepted"; fi
grep -q "does not match" "$tmp/o2" || fail "changed key message: $(cat "$tmp/o2")"

# the right key, plain and hashed
echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$tmp/host_key.pub")" >"$tmp/kh"
fetch "$tmp/o3" "$tmp/kh" --ssh-key "$tmp/id_key" || fail "ssh fetch: $(cat "$tmp/o3")"
check "ssh id" "$(git -C "$tmp/w" rev-parse HEAD)" "$(val id "$tmp/o3")"
cp "$tmp/kh" "$tmp/kh_hashed"
ssh-keygen -q -H -f "$tmp/kh_hashed" >/dev/null 2>&1
grep -q '^|1|' "$tmp/kh_hashed" || fail "ssh-keygen -H did not hash"
echo again >>"$tmp/w/README"
git -C "$tmp/w" commit -q -a -m second && git -C "$tmp/w" push -q "$tmp/main.git" main
fetch "$tmp/o4" "$tmp/kh_hashed" --ssh-key "$tmp/id_key" || fail "ssh fetch (hashed known_hosts): $(cat "$tmp/o4")"
check "ssh incremental id" "$(git -C "$tmp/w" rev-parse HEAD)" "$(val id "$tmp/o4")"
[ "$(val objects "$tmp/o4")" -le 5 ] 2>/dev/null || fail "ssh incremental objects: $(val objects "$tmp/o4")"

# a known host but no key configured: a clear error
if fetch "$tmp/o5" "$tmp/kh"; then fail "fetched without a key"; fi
grep -q "ssh_key_file" "$tmp/o5" || fail "no-key message: $(cat "$tmp/o5")"

[ "$fails" -eq 0 ] || { echo "$fails failure(s)"; tail -5 "$tmp/sshd.log"; exit 1; }
echo "all gitsrc ssh checks passed"
