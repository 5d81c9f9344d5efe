#!/usr/bin/env bash
# Build secrets across abnormal ends: the volume holding a build's secrets (mounted at
# /run/secrets of assemble) carries the agent's owner label and the build id, and is
# removed by the daemon's cleanup once its containers are gone: after a SIGKILL of the
# build process (`__build`), after a kill -9 of the daemon and that process (start-up
# recovery), and stays gone across a restart. The secret's bytes are then in no volume of the engine;
# `s2i-agent build` interrupted by SIGINT removes its volume too.
TEST=pl-secvol
source "$TESTS_DIR/lib/pipeline.sh"

pl_builder
sec_val="build-secret-$RANDOM$RANDOM-$$"
printf '%s\n' "$sec_val" >"$AGENT_DIR/tok.secret"	# scanned for by secrets_scan
chmod 600 "$AGENT_DIR/tok.secret"
pl_repo web "build_secret_file=tok:$AGENT_DIR/tok.secret"
start_agent || fail "agent did not start"
owner=$(cat "$AGENT_DIR/state/instance-id") || fail "no instance id"
[ -n "$owner" ] || fail "empty instance id"
# a failed run leaves nothing on the engine (the volumes hold the secret)
vol1= vol2= vol3=
_secvol_cleanup() {
	local v c
	c=$(docker ps -aq --filter "label=io.s2i-agent.owner=$owner")
	for v in $vol1 $vol2 $vol3; do c="$c $(docker ps -aq --filter "volume=$v")"; done
	[ -z "${c// /}" ] || docker rm -f $c >/dev/null 2>&1
	docker volume rm -f $(docker volume ls -q --filter "label=io.s2i-agent.owner=$owner") \
		$vol1 $vol2 $vol3 >/dev/null 2>&1
	return 0
}
agent_on_exit _secvol_cleanup

wait_sleeping() {	# id
	wait_grep 'assemble: sleeping' "$AGENT_DIR/state/logs/$1.log" 60 || fail "assemble of build $1 did not start"
}
build_pid() {	# id: its build process as the database recorded it
	sqlite3 -readonly "$AGENT_DIR/state/agent.db" "SELECT pid FROM builds WHERE id = $1"
}
owned_volumes() {	# [build id]: this agent's volumes (of that build)
	docker volume ls -q --filter "label=io.s2i-agent.owner=$owner" \
		${1:+--filter "label=io.s2i-agent.build=$1"}
}
# volumes_with_secret: the engine's volumes whose files hold the secret's bytes
volumes_with_secret() {
	local v mp
	for v in $(docker volume ls -q); do
		mp=$(docker volume inspect -f '{{.Mountpoint}}' "$v" 2>/dev/null) || continue
		[ -d "$mp" ] && grep -rqaF -- "$sec_val" "$mp" 2>/dev/null && echo "$v"
	done
}
# live_volume ID: the secrets volume the running assemble of build ID mounts, checked:
# labelled with the owner and the build, and holding the secret
live_volume() {
	local c vol
	c=$(docker ps -q --filter "label=io.s2i-agent.build=$1" --filter "label=io.s2i-agent.owner=$owner" \
		--filter "ancestor=$PL_BUILDER")
	[ -n "$c" ] || fail "no running container for build $1"
	vol=$(docker inspect -f '{{range .Mounts}}{{if eq .Destination "/run/secrets"}}{{.Name}}{{end}}{{end}}' $c)
	[ -n "$vol" ] || fail "the assemble container of build $1 mounts no volume at /run/secrets"
	[ "$(owned_volumes "$1")" = "$vol" ] ||
		fail "volume $vol is not the one labelled owner=$owner build=$1: '$(owned_volumes "$1")'"
	# the search can see: the live volume holds the secret
	volumes_with_secret | grep -qxF "$vol" || fail "the secret is not found in the live volume $vol"
	printf '%s\n' "$vol"
}
# gone_volume VOL SECONDS: until the volume is gone
gone_volume() {
	local end=$((SECONDS + $2))
	while docker volume inspect "$1" >/dev/null 2>&1; do
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.2
	done
}
no_secret_left() {	# what
	local left
	left=$(owned_volumes)
	[ -z "$left" ] || fail "$1: volumes of this agent left: $left"
	left=$(volumes_with_secret)
	[ -z "$left" ] || fail "$1: volumes holding the secret: $left"
}

# ---- SIGKILL of the build process ----
sha=$(pl_commit web "slow" SLEEP 60)
pl_push web >/dev/null || fail "git push"
pl_github_push web "$sha"
expect 202 .build 1
wait_sleeping 1
vol1=$(live_volume 1) || exit 1
pid1=$(build_pid 1)
[ -n "$pid1" ] || fail "no build process recorded for build 1"
tr '\0' ' ' <"/proc/$pid1/cmdline" | grep -q "__build" || fail "process $pid1 is not a build process"
kill -KILL "$pid1"
state=$(pl_wait 1 60)
[ "$state" = errored ] || fail "build 1 after a SIGKILL of its process is $state: $(pl_build_json 1)"
gone_volume "$vol1" 30 || fail "the secrets volume $vol1 of build 1 is left after its process was killed"
pl_no_containers 1
no_secret_left "after the daemon's cleanup"
stop_agent || fail "agent exited $? on SIGTERM"
KEEP_PORT=1 start_agent || fail "agent did not restart"
sleep 1
no_secret_left "after a restart"

# ---- kill -9 of the daemon: start-up recovery ----
sha=$(pl_commit web "slow again" SLEEP 8)
pl_push web >/dev/null || fail "git push"
pl_github_push web "$sha" refs/heads/main "again-$$"
expect 202 .build 2
wait_sleeping 2
vol2=$(live_volume 2) || exit 1
pid2=$(build_pid 2)
[ -n "$pid2" ] || fail "no build process recorded for build 2"
# the daemon first, then its build process: neither can clean up (a build process
# that outlives the daemon by a moment removes its own volume as it ends)
kill -KILL "$AGENT_PID" "$pid2"
wait "$AGENT_PID" 2>/dev/null
AGENT_PID=
wait_gone "$pid2" 10 || fail "build process $pid2 survived SIGKILL"
[ "$(sqlite3 -readonly "$AGENT_DIR/state/agent.db" "SELECT state FROM builds WHERE id = 2")" = running ] ||
	fail "build 2 should be recorded running after kill -9"
docker volume inspect "$vol2" >/dev/null 2>&1 || fail "the secrets volume $vol2 went before the restart"
KEEP_PORT=1 start_agent || fail "agent did not restart"
# the start-up recovery removes its containers and volume, then runs the build again
# (with a volume of its own, removed at its end)
gone_volume "$vol2" 60 || fail "the secrets volume $vol2 of build 2 is left after the daemon's kill -9 and a restart"
state=$(pl_wait 2 150)
[ "$state" = succeeded ] || fail "build 2 after a restart is $state: $(pl_build_json 2)"
pl_no_containers 2
no_secret_left "after the daemon's kill -9 and the build's rerun"
stop_agent || fail "agent exited $? on SIGTERM"

# ---- `s2i-agent build` and SIGINT ----
src=$AGENT_DIR/web.work
printf '%s\n' 60 >"$src/SLEEP"
"$S2I_AGENT" build -p never --network none --build-secret "tok:$AGENT_DIR/tok.secret" \
	"$src" "$PL_BUILDER" >"$AGENT_DIR/cli.out" 2>&1 &
cli=$!
wait_grep 'assemble: sleeping' "$AGENT_DIR/cli.out" 60 || fail "the CLI's assemble did not start: $(cat "$AGENT_DIR/cli.out")"
vol3=
for c in $(docker ps -q --filter "ancestor=$PL_BUILDER"); do
	vol3=$(docker inspect -f '{{range .Mounts}}{{if eq .Destination "/run/secrets"}}{{.Name}}{{end}}{{end}}' "$c")
	[ -n "$vol3" ] && break
done
[ -n "$vol3" ] || fail "the CLI build's assemble mounts no secrets volume"
docker volume inspect -f '{{index .Labels "io.s2i-agent.owner"}}' "$vol3" | grep -q '^cli-' ||
	fail "the CLI build's volume $vol3 has no cli- owner label"
kill -INT "$cli"
wait "$cli"
rc=$?
[ "$rc" != 0 ] || fail "the interrupted CLI build exited 0"
gone_volume "$vol3" 10 || fail "the CLI build's secrets volume $vol3 is left after SIGINT"
[ -z "$(volumes_with_secret)" ] || fail "after the CLI's SIGINT, volumes hold the secret: $(volumes_with_secret)"
exit 0
