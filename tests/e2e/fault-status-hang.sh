#!/usr/bin/env bash
# Fault: the forge of three repositories (alpha, gamma, delta) holds every status post
# without answering while another forge (beta's) answers. Statuses are posted by several
# posters at once, at most STATUS_POSTERS_PER_FORGE (2) to one forge and one at a time
# per repository, so beta's statuses arrive while the hung forge still holds two posts,
# each commit's in order. Once the hung forge recovers its statuses arrive too: none
# lost, none posted twice. Builds error at once (their repository does not exist), so
# no engine is needed.
set -u
source "$TESTS_DIR/lib/agent.sh"
source "$TESTS_DIR/lib/forge_double.sh"
agent_init

# two forges: A (alpha, gamma, delta) will hang, B (beta) answers
mkdir -p "$AGENT_DIR/forge-a" "$AGENT_DIR/forge-b"
S="fault-status-hang-secret-$$"
forge_double_status "$AGENT_DIR/forge-a"
A_URL=$FORGE_DOUBLE_URL A_LOG=$FORGE_DOUBLE_LOG
agent_repo alpha "$S" "${FORGE_STATUS_CONF[@]}" status_repo=acme/alpha
agent_repo gamma "$S" "${FORGE_STATUS_CONF[@]}" status_repo=acme/gamma
agent_repo delta "$S" "${FORGE_STATUS_CONF[@]}" status_repo=acme/delta
forge_double_status "$AGENT_DIR/forge-b"
B_URL=$FORGE_DOUBLE_URL B_LOG=$FORGE_DOUBLE_LOG
agent_repo beta "$S" "${FORGE_STATUS_CONF[@]}" status_repo=acme/beta
ctl() {	# url json
	curl -sf -X POST -H 'Content-Type: application/json' --data-binary "$2" "$1/_control"
}
# A holds its next posts without answering (each until the agent's post times out)
ctl "$A_URL" '{"fail": ["hang", "hang", "hang", "hang", "hang", "hang", "hang", "hang"]}' >/dev/null ||
	fail "control A"
start_agent || fail "agent did not start"

push() {	# repo n: a delivery for commit n on its own branch
	jq --arg after "$(printf '%040x' "$2")" --arg ref "refs/heads/c$2" \
		'.after = $after | .head_commit.id = $after | .ref = $ref' \
		"$FIXTURES/github-push.json" >"$AGENT_DIR/body.json"
	post_hook github "$1" "$AGENT_DIR/body.json" "$S" "fault-status-hang-$$-$1-$2"
	expect 202
}
a_hanging() { [ "$(curl -sf "$A_URL/_control" | jq -r .hanging)" -ge "${1:-1}" ] 2>/dev/null; }
accepted() {	# log: status posts the forge answered 201
	[ -s "$1" ] || { echo 0; return; }
	jq -r 'select(.answer.code == 201) | .seq' "$1" | wc -l
}
finals() {	# log: commits whose final status was answered 201
	[ -s "$1" ] || { echo 0; return; }
	jq -r 'select(.answer.code == 201 and (.body.state == "error" or .body.state == "failure" or .body.state == "success")) | .sha' "$1" | sort -u | wc -l
}

# A holds two posts (alpha's and gamma's or delta's): the limit per forge
push alpha 161
push alpha 162
push gamma 193
push delta 209
wait_for 120 a_hanging 2 || fail "forge A never held two posts: $(curl -sf "$A_URL/_control")"

# beta's statuses go out beside it: the first lands while A still holds alpha's post
push beta 177
push beta 178
b_first() { [ "$(accepted "$B_LOG")" -ge 1 ]; }
wait_for 120 b_first || fail "no status of beta arrived while alpha's forge hangs"
a_hanging 2 || fail "beta's first status came only after a hung post ended: forge A $(curl -sf "$A_URL/_control")"
[ "$(accepted "$A_LOG")" = 0 ] || fail "forge A answered while it should hang"
b_done() { [ "$(finals "$B_LOG")" -ge 2 ]; }
wait_for 240 b_done || fail "beta's final statuses: $(finals "$B_LOG") of 2"
[ "$(accepted "$A_LOG")" = 0 ] || fail "forge A answered while it should hang"
echo "beta: $(accepted "$B_LOG") statuses accepted while forge A hung ($(jq -s 'length' "$A_LOG") posts held)"
max=$(curl -sf "$A_URL/_control" | jq -r .hanging_max)
[ "$max" = 2 ] || fail "forge A held $max posts at once; at most 2 go to one forge"

# A recovers: the post it holds is dropped unanswered, the next ones are answered
ctl "$A_URL" '{"reset": true, "release": true}' >/dev/null || fail "control A"
a_done() { [ "$(finals "$A_LOG")" -ge 4 ]; }
wait_for 300 a_done || fail "forge A's final statuses after the recovery: $(finals "$A_LOG") of 4"
# nothing left to post, so nothing more can come
no_rows() { [ "$(db_count statuses)" = 0 ]; }
wait_for 60 no_rows || fail "statuses still waiting: $(db_count statuses)"

check() {	# log repo n build
	local sha seq descs
	sha=$(printf '%040x' "$3")
	# the states the forge accepted (201), in the order it got them
	seq=$(jq -r --arg sha "$sha" 'select(.sha == $sha and .answer.code == 201) | .body.state' "$1" | tr '\n' ' ')
	[ "$seq" = "pending pending error " ] || fail "$2 commit $3: statuses accepted: $seq"
	descs=$(jq -r --arg sha "$sha" 'select(.sha == $sha and .answer.code == 201) | .body.description' "$1")
	[ "$(sed -n 1p <<<"$descs")" = "Build $4 queued" ] || fail "$2 commit $3: $descs"
	[ "$(sed -n 2p <<<"$descs")" = "Build $4 running" ] || fail "$2 commit $3: $descs"
	[[ $(sed -n 3p <<<"$descs") == "Build $4 errored: "* ]] || fail "$2 commit $3: $descs"
	[ "$(jq -r --arg sha "$sha" 'select(.sha == $sha) | .repo' "$1" | sort -u)" = "acme/$2" ] ||
		fail "$2 commit $3 went to another repository"
}
check "$A_LOG" alpha 161 1
check "$A_LOG" alpha 162 2
check "$A_LOG" gamma 193 3
check "$A_LOG" delta 209 4
check "$B_LOG" beta 177 5
check "$B_LOG" beta 178 6
[ "$(accepted "$A_LOG")" = 12 ] || fail "forge A accepted $(accepted "$A_LOG") statuses, expected 12"
[ "$(accepted "$B_LOG")" = 6 ] || fail "forge B accepted $(accepted "$B_LOG") statuses, expected 6"
held=$(jq -r 'select(.answer.hang == true) | .seq' "$A_LOG" | wc -l)
echo "fault-status-hang: 4 repositories on 2 forges, 18 statuses accepted, $held posts to the hung forge held (at most $max at once), lost: 0, duplicates: 0"
stop_agent || fail "agent exited $? on SIGTERM"
exit 0
