#!/usr/bin/env bash
# The Debian package in the Debian 12 machine of the systemd test (tests/lib/nspawn.sh):
# `apt-get install ./s2i-agent_VERSION_ARCH.deb` (the user, the modes, the unit
# installed but not enabled), the operator's agent.conf and secret, `systemctl enable
# --now`, a signed webhook built through the engine, an upgrade in place to a newer
# package (DEB_VERSION) while a build runs (postinst restarts the service; the build is
# queued again and runs to success under the new package; the edited conffile stays),
# then `apt-get purge`: the service stopped and disabled, binaries, unit, state and
# agent.conf gone, only the operator's secret left with a note. The host checks the
# database the purge would have removed (copied out before it) and the images.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
TESTS_DIR=${TESTS_DIR:-$root/tests}
source "$TESTS_DIR/lib/engine.sh"
source "$TESTS_DIR/lib/secrets.sh"
source "$TESTS_DIR/lib/nspawn.sh"
fail() { echo "FAIL: $*"; exit 1; }
skip() { echo "$*"; exit 77; }
command -v dpkg-deb >/dev/null && command -v dpkg-shlibdeps >/dev/null ||
	skip "dpkg-deb or dpkg-shlibdeps missing (dpkg-dev)"

nspawn_init deb-systemd

# --- 1. the machine and two packages: this version and a newer one --------------------
nspawn_prepare
version=$(sed -n 's/^#define S2I_AGENT_VERSION[[:space:]]*"\(.*\)"/\1/p' "$root/agent/limits.h")
arch=$(dpkg --print-architecture)
new_version=$version+upgrade1
make -C "$root" -s deb >"$tmp/deb1.log" 2>&1 || { cat "$tmp/deb1.log"; fail "make deb"; }
deb1=$root/build/s2i-agent_${version}_$arch.deb
cp "$deb1" "$mnt/s2i-test/" || fail "no $deb1"
DEB_VERSION=$new_version make -C "$root" -s deb >"$tmp/deb2.log" 2>&1 || { cat "$tmp/deb2.log"; fail "make deb DEB_VERSION=$new_version"; }
deb2=$root/build/s2i-agent_${new_version}_$arch.deb
mv "$deb2" "$mnt/s2i-test/" || fail "no $deb2"
dpkg --compare-versions "$new_version" gt "$version" || fail "$new_version is not newer than $version"

# a bare repository on the machine: main (a quick build), slow (its assemble sleeps)
sha=$(nspawn_repo "hello from the package") || exit 1
sha_slow=$(nspawn_commit slow 8 "slow build") || exit 1
nspawn_builder "$builder" "$ID"

# what the operator writes once the package is in: agent.conf and a 0600 secret
port=$((20000 + RANDOM % 40000))
secret="deb-secret-$RANDOM$RANDOM-$$"
nspawn_conf "$mnt/s2i-test/agent.conf" </dev/null
printf '%s\n' "$secret" >"$mnt/s2i-test/web.secret"
mkdir -p "$tmp/out/secret" && cp "$mnt/s2i-test/web.secret" "$tmp/out/secret/"
nspawn_payload push.json refs/heads/main "$sha"
nspawn_payload push-slow.json refs/heads/slow "$sha_slow"
sig() { openssl dgst -sha256 -hmac "$secret" -r <"$1" | cut -d' ' -f1; }
cat >"$mnt/s2i-test/env" <<EOF
PORT=$port
SIG=$(sig "$mnt/s2i-test/push.json")
SIG_SLOW=$(sig "$mnt/s2i-test/push-slow.json")
DEB1=/s2i-test/$(basename "$deb1")
DEB2=/s2i-test/$(basename "$deb2")
VERSION=$version
NEW_VERSION=$new_version
EOF

# --- 2. what the machine does after boot -------------------------------------------
cat >"$mnt/s2i-test/inside.sh" <<'EOF'
#!/bin/bash
. /s2i-test/lib.sh
export DEBIAN_FRONTEND=noninteractive
# no Recommends: the engine (docker.io | podman) is the host's, through its socket
apt_get() { apt-get -y --no-install-recommends -o Dpkg::Use-Pty=0 "$@" </dev/null; }
agent_procs() { local p; for p in /proc/[0-9]*; do [ "$(stat -c %U "$p" 2>/dev/null)" = s2i-agent ] && echo "${p#/proc/}"; done; }
pkg_state() { dpkg-query -W -f '${Status} ${Version}' s2i-agent 2>/dev/null; }

# install: apt resolves Depends from what the machine has (no network here)
if apt_get install "$DEB1" >"$out/install.log" 2>&1; then ok "apt-get install $DEB1"; else bad "apt-get install: $(tail -n 5 "$out/install.log")"; finish; fi
[ "$(pkg_state)" = "install ok installed $VERSION" ] && ok "dpkg: $(pkg_state)" || bad "dpkg: '$(pkg_state)'"
grep -q "edit /etc/s2i-agent/agent.conf, run 's2i-agent check --online'" "$out/install.log" &&
	ok "postinst names the next steps" || bad "postinst gives no next step"
groups=$(id -nG s2i-agent 2>&1)
case " $groups " in
*" docker "*) ok "user s2i-agent in groups $groups" ;;
*) bad "user s2i-agent not in group docker: $groups"; finish ;;
esac
modes="$(stat -c '%a %U %G' /etc/s2i-agent) | $(stat -c '%a %U %G' /var/lib/s2i-agent)"
[ "$modes" = "750 root s2i-agent | 750 s2i-agent s2i-agent" ] && ok "modes: $modes" || bad "modes: $modes"
en=$(systemctl is-enabled s2i-agent 2>&1); act=$(systemctl is-active s2i-agent 2>&1)
[ "$en $act" = "disabled inactive" ] && ok "installed, not started: $en $act" || bad "after install: $en $act"

# the operator's configuration, checked, then the service started
install -m 0640 -o root -g s2i-agent /s2i-test/agent.conf /etc/s2i-agent/agent.conf
install -m 0600 -o s2i-agent -g s2i-agent /s2i-test/web.secret /etc/s2i-agent/web.secret
conf_sum=$(sha256sum </etc/s2i-agent/agent.conf)
s2i-agent check -c /etc/s2i-agent/agent.conf >"$out/check.log" 2>&1 && ok "s2i-agent check" ||
	bad "s2i-agent check: $(cat "$out/check.log")"
if timeout 90 systemctl enable --now s2i-agent >"$out/enable.log" 2>&1; then
	ok "systemctl enable --now s2i-agent"
else
	bad "systemctl enable --now: $(tail -n 3 "$out/enable.log")"; finish
fi
pid=$(prop MainPID)
[ "$(readlink /proc/"$pid"/exe)" = /usr/bin/s2i-agentd ] && [ "$(stat -c %U /proc/"$pid")" = s2i-agent ] &&
	ok "main process $pid: /usr/bin/s2i-agentd as s2i-agent" || bad "main process $pid: $(readlink /proc/"$pid"/exe) as $(stat -c %U /proc/"$pid")"

# a signed webhook, built through the engine
code=$(hook /s2i-test/push.json "$SIG" deb-delivery-1)
[ "$code" = 202 ] && ok "signed webhook: 202" || bad "signed webhook: $code $(cat "$out/hook.body")"
st=$(wait_final 1)
[ "$st" = succeeded ] && ok "build 1: succeeded" || bad "build 1: '$st': $(tail -n 5 "$out/build-1.log")"

# the upgrade while build 2 runs: postinst restarts the service, the stopping agent
# puts the build back in the queue, the new one runs it again
code=$(hook /s2i-test/push-slow.json "$SIG_SLOW" deb-delivery-2)
[ "$code" = 202 ] || bad "webhook for branch slow: $code $(cat "$out/hook.body")"
if wait_sleeping 2; then
	if apt_get install "$DEB2" >"$out/upgrade.log" 2>&1; then ok "apt-get install $DEB2 (upgrade)"; else bad "upgrade: $(tail -n 5 "$out/upgrade.log")"; fi
	[ "$(pkg_state)" = "install ok installed $NEW_VERSION" ] && ok "dpkg: $(pkg_state)" || bad "dpkg after the upgrade: '$(pkg_state)'"
	pid2=$(prop MainPID)
	[ "$(systemctl is-active s2i-agent)" = active ] && [ "$pid2" != "$pid" ] && [ "$pid2" != 0 ] &&
		ok "restarted by the upgrade: main process $pid -> $pid2" || bad "after the upgrade: $(systemctl is-active s2i-agent), main process $pid2 (was $pid)"
	[ "$(sha256sum </etc/s2i-agent/agent.conf)" = "$conf_sum" ] && ok "the edited agent.conf (a conffile) kept" ||
		bad "the upgrade changed agent.conf"
	rerun_ok 2 "==> build 2 interrupted: the agent is stopping; it runs again at the next start" "the upgrade"
else
	bad "build 2 never reached its sleep: $(build_state 2) $(tail -n 5 "$out/build-2.log")"
fi
journalctl -u s2i-agent --no-pager -o short-monotonic >"$out/agent.journal" 2>&1
cp -a /var/lib/s2i-agent "$out/state"

# purge: stopped and disabled, everything of the package gone but the operator's secret
if apt_get purge s2i-agent >"$out/purge.log" 2>&1; then ok "apt-get purge s2i-agent"; else bad "purge: $(tail -n 5 "$out/purge.log")"; fi
left=$(pkg_state | cut -d' ' -f1-3)
case $left in "" | "unknown ok not-installed" | "purge ok not-installed") ok "dpkg: not installed" ;; *) bad "dpkg after purge: '$left'" ;; esac
[ "$(systemctl is-active s2i-agent)" != active ] && [ -z "$(agent_procs)" ] && ok "no s2i-agent process left" ||
	bad "after purge: $(systemctl is-active s2i-agent), processes $(agent_procs | paste -sd' ')"
gone=
for f in /usr/bin/s2i-agent /usr/bin/s2i-agentd /usr/lib/systemd/system/s2i-agent.service \
	/etc/systemd/system/multi-user.target.wants/s2i-agent.service /var/lib/s2i-agent \
	/etc/s2i-agent/agent.conf /usr/share/s2i-agent /usr/share/man/man8/s2i-agent.8.gz; do
	[ -e "$f" ] && gone="$gone $f"
done
[ -z "$gone" ] && ok "purge removed binaries, unit, enablement, state and agent.conf" || bad "purge left:$gone"
[ "$(ls -A /etc/s2i-agent)" = web.secret ] && grep -q 'left /etc/s2i-agent' "$out/purge.log" &&
	ok "purge left only the operator's secret, and said so" || bad "/etc/s2i-agent after purge: $(ls -A /etc/s2i-agent 2>&1)"
finish
EOF

# --- 3. boot, then what the host sees --------------------------------------------------
nspawn_boot
db=$tmp/out/state/agent.db
[ -f "$db" ] || fail "no database copied out of the machine"
rows=$(sqlite3 -readonly "$db" "SELECT id || ':' || state || ':' || attempt FROM builds ORDER BY id" | paste -sd' ')
[ "$rows" = "1:succeeded:1 2:succeeded:2" ] || fail "builds (id:state:attempt) are '$rows', want 1:succeeded:1 2:succeeded:2"
echo "builds (id:state:attempt): $rows"
grep -q 'stopped, back in the queue' "$tmp/out/agent.journal" || fail "journal: no 'back in the queue' line"
for pair in "$image:$sha" "$image_slow:$sha_slow"; do
	img=${pair%:*}; want=${pair##*:}
	got=$(docker image inspect -f '{{index .Config.Labels "io.openshift.s2i.build.commit.id"}}' "$img" 2>/dev/null)
	[ "$got" = "$want" ] || fail "image $img has commit label '$got', want $want"
done
out=$(docker run --rm --name "$ID-run" --network none "$image") || fail "the image does not run"
[ "$out" = "hello from the package" ] || fail "the image printed '$out'"
left=$(docker ps -aq --filter "ancestor=$builder")
[ -z "$left" ] || fail "containers of $builder left over: $left"
secrets_scan "$tmp/out" || fail "the webhook secret leaked (LEAK lines above)"
echo "deb in systemd: $(basename "$deb1") installed, started, built; upgraded to $new_version during a build (re-run); purged"
