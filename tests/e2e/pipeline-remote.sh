#!/usr/bin/env bash
# Pipeline with remote sources: GitHub-style signed webhooks for repositories served over
# file://, over `git daemon` (git://127.0.0.1:PORT) and over smart HTTP (`git http-backend`
# behind tests/lib/git_http.py, with a token from git_token_file): each pushed commit is
# fetched into the agent's mirror under state_dir/git/ and built; a second push fetches
# into the same mirror.
TEST=pl-remote
source "$TESTS_DIR/lib/pipeline.sh"
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; pl_cleanup' EXIT

pl_builder
for try in 1 2 3 4 5; do	# another test may take the free port first
	port=$(free_port) || fail "no free port"
	git daemon --verbose --reuseaddr --export-all --base-path="$AGENT_DIR" --listen=127.0.0.1 --port="$port" \
		"$AGENT_DIR" 2>"$AGENT_DIR/git-daemon.log" &
	gd=$!
	wait_for_pid "$gd" 5 grep -q "Ready to rumble" "$AGENT_DIR/git-daemon.log"
	kill -0 "$gd" 2>/dev/null && break
done
PIDS+=($gd)
wait_port "$port" || fail "git daemon did not start: $(cat "$AGENT_DIR/git-daemon.log")"
echo "tok-$$-secret" >"$AGENT_DIR/git.token"
chmod 600 "$AGENT_DIR/git.token"
python3 "$TESTS_DIR/lib/git_http.py" --root "$AGENT_DIR" --token-file "$AGENT_DIR/git.token" \
	--port-file "$AGENT_DIR/http.port" --log "$AGENT_DIR/http.log" 2>"$AGENT_DIR/http.err" &
PIDS+=($!)
wait_for 5 test -s "$AGENT_DIR/http.port" || fail "git http server did not start"

pl_repo viafile "url=file://$AGENT_DIR/viafile.git"
pl_repo viagit "url=git://127.0.0.1:$port/viagit.git"
pl_repo viahttp "url=http://127.0.0.1:$(cat "$AGENT_DIR/http.port")/viahttp.git" \
	"git_token_file=$AGENT_DIR/git.token"
AGENT_EXTRA="workers = 3"
start_agent || fail "agent did not start"

pl_push_each viafile viagit viahttp
for r in viafile viagit viahttp; do
	eval "id=\$id_$r sha=\$sha_$r"
	state=$(pl_wait "$id" 120)
	[ "$state" = succeeded ] || { cat "$AGENT_DIR/state/logs/$id.log"; fail "$r: build $id is $state: $(pl_build_json "$id")"; }
	image=s2i-agent-test/$PL_ID-$r:main
	[ "$(docker image inspect -f '{{index .Config.Labels "io.openshift.s2i.build.commit.id"}}' "$image")" = "$sha" ] ||
		fail "$r: image label commit.id"
	[ "$(docker run --rm --network none "$image")" = "hello over $r" ] || fail "$r: image output"
	[ -d "$AGENT_DIR/state/git/$r.git" ] || fail "$r: no mirror under state_dir/git"
	[ "$(git --git-dir="$AGENT_DIR/state/git/$r.git" cat-file -t "$sha")" = commit ] || fail "$r: commit not in the mirror"
	pl_no_containers "$id"
done
grep -q "tok-$$-secret" "$AGENT_LOG" "$AGENT_DIR"/state/logs/*.log && fail "the git token leaked into a log"

# a second push over git:// fetches into the same mirror
sha=$(pl_commit viagit "second change" app.sh 'echo "second over viagit"')
pl_push viagit >/dev/null || fail "git push"
pl_github_push viagit "$sha"
expect 202 .build 4
state=$(pl_wait 4 120)
[ "$state" = succeeded ] || fail "second viagit build is $state"
[ "$(docker run --rm --network none "s2i-agent-test/$PL_ID-viagit:main")" = "second over viagit" ] ||
	fail "second viagit image output"
stop_agent || fail "agent exited $? on SIGTERM"
exit 0
