#!/usr/bin/env bash
# The systemd unit under a real systemd: a Debian bookworm machine (debootstrap, cached)
# boots in systemd-nspawn with only a loopback network and the host's engine socket;
# `make install DESTDIR=` puts the agent into it, and a test unit inside runs what a user
# does: systemd-sysusers/tmpfiles, `systemctl enable --now s2i-agent` (Type=notify:
# active only after READY=1), /healthz with the engine reached from inside the sandbox,
# a signed webhook (202) whose build runs through the engine and whose commit statuses
# reach a status API double in the machine, `systemctl reload` (RELOADING=1/READY=1),
# the watchdog past WatchdogSec=, a SIGKILL of the main process during a build (systemd
# restarts it, the build runs again), `systemctl stop` during a build (exit 0, the build
# queued again) and the agent's lines in the journal. Results come back through a bound
# directory; the host checks the images, the database and that no container is left.
#
# The machine's root is an overlay over the cached tree, which stays untouched. The cache
# lives in $S2I_TEST_CACHE (/var/cache/s2i-agent-tests), keyed by its package list; the
# first run makes it (about 1.5 min, from $S2I_TEST_MIRROR or deb.debian.org).
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
TESTS_DIR=${TESTS_DIR:-$root/tests}
source "$TESTS_DIR/lib/engine.sh"
source "$TESTS_DIR/lib/secrets.sh"
source "$TESTS_DIR/lib/nspawn.sh"
fail() { echo "FAIL: $*"; exit 1; }
skip() { echo "$*"; exit 77; }

nspawn_init service-systemd

# --- 1. the machine (tests/lib/nspawn.sh), the agent installed as a user does --------
nspawn_prepare
make -C "$root" -s install DESTDIR="$mnt" >"$tmp/install.log" 2>&1 || { cat "$tmp/install.log"; fail "make install DESTDIR=…"; }
unit=$mnt/usr/local/lib/systemd/system/s2i-agent.service
exec_start=$(sed -n 's/^ExecStart=\([^ ]*\) serve$/\1/p' "$unit")
[ "$exec_start" = /usr/local/bin/s2i-agent ] || fail "installed ExecStart: $(grep ^ExecStart= "$unit")"
[ -x "$mnt$exec_start" ] || fail "no executable at the unit's ExecStart $exec_start"
wd=$(sed -n 's/^WatchdogSec=\([0-9]*\)s\{0,1\}$/\1/p' "$unit")
[ -n "$wd" ] || fail "cannot read WatchdogSec= (in seconds) from the unit"

# a bare repository on the machine, one commit, and the builder it names (on the shared engine)
sha=$(nspawn_repo "hello from the machine") || exit 1
# branch slow: its builds sleep in assemble, long enough to be interrupted
sha_slow=$(nspawn_commit slow 10 "slow build") || exit 1
# a second slow commit for the stop test: a push of the commit a branch is built at
# builds nothing (and its signed body again is a replay)
sha_slow2=$(nspawn_commit slow 11 "slow build again") || exit 1
nspawn_builder "$builder" "$ID"

# the configuration (listen inside the machine's own network namespace), a 0600 secret
port=$((20000 + RANDOM % 40000))
forge_port=$((port + 1))
token="ghp_systemd_${RANDOM}${RANDOM}_$$"
secret="systemd-secret-$RANDOM$RANDOM-$$"
nspawn_conf "$mnt/etc/s2i-agent/agent.conf" <<EOF
# commit statuses to the GitHub API double, inside the machine too
status = github
status_api = http://127.0.0.1:$forge_port
status_repo = acme/web
status_token_file = /etc/s2i-agent/status.token
EOF
chmod 640 "$mnt/etc/s2i-agent/agent.conf"
printf '%s\n' "$secret" >"$mnt/etc/s2i-agent/web.secret"
chmod 600 "$mnt/etc/s2i-agent/web.secret"
printf '%s\n' "$token" >"$mnt/etc/s2i-agent/status.token"
chmod 600 "$mnt/etc/s2i-agent/status.token"
# for the secrets scan of what comes back
cp -p "$mnt/etc/s2i-agent/web.secret" "$mnt/etc/s2i-agent/status.token" "$tmp/out/"

# the signed delivery (GitHub's push payload, for the commit pushed above)
cp "$TESTS_DIR/lib/forge_double.py" "$mnt/s2i-test/"
nspawn_payload push.json refs/heads/main "$sha"
nspawn_payload push-slow.json refs/heads/slow "$sha_slow"
nspawn_payload push-slow2.json refs/heads/slow "$sha_slow2"
sig() { openssl dgst -sha256 -hmac "$secret" -r <"$1" | cut -d' ' -f1; }
cat >"$mnt/s2i-test/env" <<EOF
PORT=$port
SIG=$(sig "$mnt/s2i-test/push.json")
SIG_SLOW=$(sig "$mnt/s2i-test/push-slow.json")
SIG_SLOW2=$(sig "$mnt/s2i-test/push-slow2.json")
FORGE_PORT=$forge_port
TOKEN=$token
WD=$wd
EOF

# --- 2. the test unit the machine runs after boot, then powers off ---------------------
cat >"$mnt/s2i-test/inside.sh" <<'EOF'
#!/bin/bash
# Runs inside the machine as s2i-test.service; each check writes "ok WHAT" or
# "FAIL WHAT: detail" to /s2i-test-out/results, "done" last.
set -u
. /s2i-test/lib.sh

# what `make install` runs when it installs into /: the user (from the sysusers.d
# directory the package put it in) and the modes
systemd-sysusers >"$out/sysusers.log" 2>&1 || bad "systemd-sysusers: $(tail -n 3 "$out/sysusers.log")"
systemd-tmpfiles --create --prefix=/etc/s2i-agent --prefix=/var/lib/s2i-agent >"$out/tmpfiles.log" 2>&1 ||
	bad "systemd-tmpfiles: $(tail -n 3 "$out/tmpfiles.log")"
groups=$(id -nG s2i-agent 2>&1)
case " $groups " in
*" docker "*) ok "sysusers: s2i-agent in groups $groups" ;;
*) bad "sysusers: s2i-agent not in group docker: $groups"; finish ;;
esac
chown s2i-agent /etc/s2i-agent/web.secret /etc/s2i-agent/status.token
systemctl daemon-reload
# the GitHub status API double (its log: what the agent posted)
python3 /s2i-test/forge_double.py --port "$FORGE_PORT" --port-file "$out/forge-double.port" \
	--log "$out/forge-double.jsonl" --token "$TOKEN" >"$out/forge-double.stderr" 2>&1 &
for i in $(seq 1 100); do [ -s "$out/forge-double.port" ] && break; sleep 0.1; done
[ -s "$out/forge-double.port" ] || { bad "the status API double did not start: $(tail -n 3 "$out/forge-double.stderr")"; finish; }

# start: Type=notify, so `enable --now` returns once READY=1 arrived (or failed)
if timeout 90 systemctl enable --now s2i-agent >"$out/enable.log" 2>&1; then
	ok "systemctl enable --now s2i-agent"
else
	bad "systemctl enable --now s2i-agent: $(tail -n 3 "$out/enable.log")"
	finish
fi
t0=$(date +%s)
state=$(systemctl is-active s2i-agent)
[ "$state" = active ] && ok "is-active: active after READY=1" || { bad "is-active: $state"; finish; }
pid=$(prop MainPID)
wd_ts0=$(prop WatchdogTimestampMonotonic)
user=$(stat -c %U "/proc/$pid")
[ "$user" = s2i-agent ] && ok "main process $pid runs as s2i-agent" || bad "main process $pid runs as '$user'"

# /healthz: the database and the engine through the socket, from inside the sandbox
code=$(get /healthz healthz.body)
[ "$code" = 200 ] && [ "$(cat "$out/healthz.body")" = ok ] && ok "GET /healthz: 200 ok (engine reachable)" ||
	bad "GET /healthz: $code $(tr '\n' ' ' <"$out/healthz.body")"


# a signed webhook: 202 and a build through the engine
code=$(hook /s2i-test/push.json "$SIG" systemd-delivery-1)
[ "$code" = 202 ] && ok "signed webhook: 202 $(tr -d '\n' <"$out/hook.body")" || bad "signed webhook: $code $(cat "$out/hook.body")"
st=$(wait_final 1)
[ "$st" = succeeded ] && ok "build 1: succeeded" || bad "build 1: '$st': $(tail -n 5 "$out/build-1.log")"

# reload the way agent.conf says: `s2i-agent check` (as root), then `systemctl reload`:
# SIGHUP, RELOADING=1 then READY=1; the same process keeps serving
/usr/local/bin/s2i-agent check -c /etc/s2i-agent/agent.conf >"$out/check.log" 2>&1 &&
	ok "s2i-agent check: $(tr '\n' ' ' <"$out/check.log")" || bad "s2i-agent check: $(cat "$out/check.log")"
if timeout 60 systemctl reload s2i-agent >"$out/reload.log" 2>&1; then ok "systemctl reload"; else bad "systemctl reload: $(cat "$out/reload.log")"; fi
for i in $(seq 1 50); do [ "$(systemctl is-active s2i-agent)" = active ] && break; sleep 0.2; done
state=$(systemctl is-active s2i-agent)
[ "$state" = active ] && [ "$(prop MainPID)" = "$pid" ] && ok "after reload: active, same main process" ||
	bad "after reload: $state, main process $(prop MainPID) (was $pid)"
for i in $(seq 1 50); do journalctl -u s2i-agent -o cat | grep -q 'reload: configuration' && break; sleep 0.2; done
journalctl -u s2i-agent -o cat | grep -q 'reload: configuration' && ok "journal: the agent logged its reload" ||
	bad "journal: no 'reload: configuration' line"

# the watchdog: alive well past WatchdogSec= (no ping would mean SIGABRT and a restart by now)
while [ $(($(date +%s) - t0)) -le $((WD + 5)) ]; do sleep 1; done
state=$(systemctl is-active s2i-agent)
wd_ts1=$(prop WatchdogTimestampMonotonic)
if [ "$state" = active ] && [ "$(prop MainPID)" = "$pid" ] && [ "$(prop NRestarts)" = 0 ] &&
	[ "$wd_ts1" != "$wd_ts0" ] && ! journalctl -u s2i-agent -o cat | grep -qi 'watchdog timeout'; then
	ok "watchdog: alive $((WD + 5))s after READY=1 with WatchdogSec=${WD}s, pings seen"
else
	bad "watchdog: $state, main process $(prop MainPID) (was $pid), NRestarts=$(prop NRestarts), WatchdogTimestampMonotonic $wd_ts0 -> $wd_ts1"
fi
code=$(get /healthz healthz2.body)
[ "$code" = 200 ] && ok "GET /healthz again: 200" || bad "GET /healthz again: $code"

# a crash during a build: the main process killed, systemd kills the rest of the unit
# (KillMode=mixed) and restarts it (Restart=on-failure); the build runs again to success
code=$(hook /s2i-test/push-slow.json "$SIG_SLOW" systemd-delivery-2)
[ "$code" = 202 ] || bad "webhook for branch slow: $code $(cat "$out/hook.body")"
if wait_sleeping 2; then
	systemctl kill -s KILL --kill-who=main s2i-agent
	for i in $(seq 1 150); do
		[ "$(prop NRestarts)" = 1 ] && [ "$(systemctl is-active s2i-agent)" = active ] && break
		sleep 0.2
	done
	pid2=$(prop MainPID)
	[ "$(prop NRestarts)" = 1 ] && [ "$(systemctl is-active s2i-agent)" = active ] && [ "$pid2" != "$pid" ] &&
		ok "kill -9 of the main process: restarted (NRestarts=1, main process $pid -> $pid2)" ||
		bad "kill -9 of the main process: NRestarts=$(prop NRestarts), $(systemctl is-active s2i-agent), main process $pid2"
	rerun_ok 2 "==> the agent restarted during the build; it runs again" "the crash"
else
	bad "build 2 never reached its sleep: $(build_state 2) $(tail -n 5 "$out/build-2.log")"
fi

# stop during a build: SIGTERM, the agent stops its build and exits 0 (the build is
# queued again for the next start: the host checks the database)
code=$(hook /s2i-test/push-slow2.json "$SIG_SLOW2" systemd-delivery-3)
[ "$code" = 202 ] || bad "second webhook for branch slow: $code $(cat "$out/hook.body")"
wait_sleeping 3 || bad "build 3 never reached its sleep: $(build_state 3) $(tail -n 5 "$out/build-3.log")"
if timeout 90 systemctl stop s2i-agent >"$out/stop.log" 2>&1; then ok "systemctl stop during build 3"; else bad "systemctl stop: $(cat "$out/stop.log")"; fi
st="Result=$(prop Result) ExecMainCode=$(prop ExecMainCode) ExecMainStatus=$(prop ExecMainStatus)"
[ "$st" = "Result=success ExecMainCode=1 ExecMainStatus=0" ] && ok "stopped: $st" || bad "stopped: $st"
finish
EOF

# --- 3. boot ------------------------------------------------------------------------
nspawn_boot

# --- 4. what the host sees ----------------------------------------------------------
grep -q "listening on 127.0.0.1:$port" "$tmp/out/agent.journal" || { nspawn_show_failure; fail "journal: no 'listening on' line"; }
grep -qE 'Started s2i-agent.service|Started s2i-agent build service' "$tmp/out/agent.journal" ||
	{ nspawn_show_failure; fail "journal: systemd did not report the start"; }
grep -q 'Deactivated successfully' "$tmp/out/agent.journal" || { nspawn_show_failure; fail "journal: no clean deactivation"; }
echo "journal: $(grep -c . "$tmp/out/agent.journal") lines of s2i-agent.service, e.g.:"
grep -m 3 -E 'listening on|reload:|watchdog:' "$tmp/out/agent.journal" | sed 's/^/  /'
got=$(docker image inspect -f '{{index .Config.Labels "io.openshift.s2i.build.commit.id"}}' "$image" 2>/dev/null)
[ "$got" = "$sha" ] || fail "image $image (built through the engine from inside) has commit label '$got', want $sha"
out=$(docker run --rm --name "$ID-run" --network none "$image") || fail "the image does not run"
[ "$out" = "hello from the machine" ] || fail "the image printed '$out'"
echo "image $image built from $sha, runs: $out"
got=$(docker image inspect -f '{{index .Config.Labels "io.openshift.s2i.build.commit.id"}}' "$image_slow" 2>/dev/null)
[ "$got" = "$sha_slow" ] || fail "image $image_slow (build 2, rerun after the crash) has commit label '$got', want $sha_slow"
# the database as the stopped agent left it: build 2 ran twice, build 3 is queued again
db=$tmp/out/state/agent.db
[ -f "$db" ] || fail "no database copied out of the machine"
rows=$(sqlite3 -readonly "$db" "SELECT id || ':' || state || ':' || attempt FROM builds ORDER BY id" | paste -sd' ')
[[ $rows == "1:succeeded:1 2:succeeded:2 3:queued:"* ]] || fail "builds (id:state:attempt) are '$rows', want 1:succeeded:1 2:succeeded:2 3:queued:…"
echo "builds (id:state:attempt): $rows"
# commit statuses posted from inside the sandbox (libcurl, the token file): build 1's
# three in order, each answered 201 by the double
fd=$tmp/out/forge-double.jsonl
[ -f "$fd" ] || fail "the status API double recorded nothing"
posts=$(jq -r --arg sha "$sha" 'select(.path == "/repos/acme/web/statuses/" + $sha) | "\(.body.state)|\(.body.description)|\(.answer.code)"' "$fd")
want="pending|Build 1 queued|201
pending|Build 1 running|201"
[ "$(head -n 2 <<<"$posts")" = "$want" ] && [[ $(sed -n 3p <<<"$posts") =~ ^success\|Build\ 1\ succeeded\ in\ [0-9]+s\|201$ ]] &&
	[ "$(wc -l <<<"$posts")" = 3 ] || fail "statuses for $sha: $(tr '\n' ' ' <<<"$posts")"
echo "statuses of build 1: $(cut -d'|' -f1 <<<"$posts" | paste -sd' ')"
# no container of this test's builder is left: the crash's by the restarted agent, the stop's by the agent
left=$(docker ps -aq --filter "ancestor=$builder")
[ -z "$left" ] || fail "containers of $builder left over: $left"
secrets_scan "$tmp/out" || fail "the webhook secret leaked (LEAK lines above)"
echo "secrets: none in the journal, answers or state ($SECRETS_SCANNED)"
echo "service under systemd-nspawn: ok"
