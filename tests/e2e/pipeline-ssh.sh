#!/usr/bin/env bash
# Pipeline from SSH remotes (a private OpenSSH 9.2 sshd on 127.0.0.1, host keys checked
# against known_hosts_file): a repository with an ed25519 ssh_key_file is fetched over SSH
# into the mirror and built; one with an RSA key, whose SHA-1 signature (libssh2 1.10) the
# server refuses, errors with a reason saying so, and the agent warned about that key
# when it started.
TEST=pl-ssh
source "$TESTS_DIR/lib/pipeline.sh"
source "$TESTS_DIR/lib/sshd.sh"
agent_on_exit sshd_stop

sshd_init "$AGENT_DIR"
ssh-keygen -q -t ed25519 -N '' -C deploy -f "$AGENT_DIR/id_ed25519"
ssh-keygen -q -t rsa -b 2048 -N '' -C deploy -f "$AGENT_DIR/id_rsa"
cat "$AGENT_DIR"/id_*.pub >"$AGENT_DIR/authorized_keys"
sshd_start sshd
sshd_known_hosts "$AGENT_DIR/known_hosts"

pl_builder
for r in viaed:id_ed25519 viarsa:id_rsa; do
	pl_repo "${r%%:*}" "url=ssh://$(id -un)@127.0.0.1:$SSHD_PORT$AGENT_DIR/${r%%:*}.git" \
		"ssh_key_file=$AGENT_DIR/${r#*:}" "known_hosts_file=$AGENT_DIR/known_hosts" \
		"status_repo=acme/${r%%:*}"
done
start_agent || fail "agent did not start"
grep -qE "warning: $AGENT_DIR/agent.conf:[0-9]+: ssh_key_file '$AGENT_DIR/id_rsa' is an RSA key: this build's libssh2 signs RSA with SHA-1 \(ssh-rsa\) only" "$AGENT_LOG" ||
	fail "no warning about the RSA key when the agent started"
grep -q "id_ed25519.*warning\|warning.*id_ed25519" "$AGENT_LOG" && fail "a warning about the ed25519 key"

pl_push_each viaed viarsa

state=$(pl_wait 1 120)
[ "$state" = succeeded ] || { cat "$AGENT_DIR/state/logs/1.log"; fail "ed25519 over ssh: build 1 is $state: $(pl_build_json 1)"; }
[ "$(docker run --rm --network none "s2i-agent-test/$PL_ID-viaed:main")" = "hello over viaed" ] ||
	fail "viaed: image output"
[ "$(git --git-dir="$AGENT_DIR/state/git/viaed.git" cat-file -t "$sha_viaed")" = commit ] ||
	fail "viaed: commit not in the mirror under state_dir/git"
grep -q "Accepted publickey for $(id -un) .* ED25519" "$SSHD_DIR/sshd.log" || fail "sshd did not log the ed25519 login"

state=$(pl_wait 2 120)
reason=$(pl_build_json 2 | jq -r .reason)
if grep -q "Accepted publickey for $(id -un) .* RSA" "$SSHD_DIR/sshd.log"; then
	fail "the RSA key was accepted: does this libssh2 sign rsa-sha2-256? then check must not warn (sshkey.c)"
fi
case $state in failed | errored) ;; *) fail "rsa over ssh: build 2 is $state: $(pl_build_json 2)" ;; esac
grep -qF "authentication failed (credential refused); ssh_key_file '$AGENT_DIR/id_rsa' is an RSA key: this build's libssh2 signs RSA with SHA-1 (ssh-rsa) only, which OpenSSH 8.8+ and GitHub refuse; use an ed25519 key (ssh-keygen -t ed25519)" <<<"$reason" ||
	fail "rsa build reason: $reason"
echo "build 2 $state: $reason"
grep -q "signature algorithm ssh-rsa not in PubkeyAcceptedAlgorithms" "$SSHD_DIR/sshd.log" ||
	fail "sshd did not log refusing ssh-rsa"
grep -rqF -e "-----BEGIN" -e "PRIVATE KEY" "$AGENT_LOG" "$AGENT_DIR"/state/logs/ && fail "key material in a log"
stop_agent || fail "agent exited $? on SIGTERM"
exit 0
