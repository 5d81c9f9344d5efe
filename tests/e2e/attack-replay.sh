#!/usr/bin/env bash
# Attack: replayed deliveries. No forge signs its delivery id, so a captured signed push
# sent again under a new id used to be answered 202 and rebuild the old commit into the
# branch's tag (and post statuses, and cancel the running build). Here the real daemon
# builds two commits per repository, one repository per provider (GitHub, Gitea, GitLab
# secret token, GitLab signing token, generic), from deliveries signed as each forge
# signs them; then every captured delivery, the old commit's and the current one's, is
# sent again REPLAYS times in all with new delivery ids, and fresh signed pushes of the
# commits already built are sent too. Wanted: every answer 200 {"duplicate": N} naming
# the build of that body, 0 new builds, 0 status posts, every image tag unchanged.
TEST=attack-replay
source "$TESTS_DIR/lib/pipeline.sh"

REPLAYS=${REPLAYS:-1000}
REPLAY_PARALLEL=${REPLAY_PARALLEL:-16}
RP="python3 $TESTS_DIR/lib/replay.py"
repos=(gh gt gl gls gen)
declare -A provider=([gh]=github [gt]=gitea [gl]=gitlab [gls]=gitlab-signing [gen]=generic)

# the captured requests hold GitLab's token: kept out of AGENT_DIR, which the secret
# scan reads
CAP=$(mktemp -d "${TMPDIR:-/tmp}/s2i-agent-replay.XXXXXX")
_rm_captures() { rm -rf "$CAP"; }
agent_on_exit _rm_captures

pl_builder
for r in "${repos[@]}"; do
	pl_repo "$r" "status_repo=acme/$r"
done
# GitLab's signing token: whsec_ and the base64 of a random key
printf 'whsec_%s\n' "$(head -c 32 /dev/urandom | base64 -w0)" >"$AGENT_DIR/gls.secret"
start_agent || fail "agent did not start"

body_for() {	# repo sha before: the push payload each forge would send
	local r=$1 sha=$2 before=$3 msg
	msg=$(git -C "$AGENT_DIR/$r.work" log -1 --format=%s "$sha")
	case ${provider[$r]} in
	github)
		jq --arg a "$sha" --arg b "$before" --arg m "$msg" --arg t "$(date +%s%N)" \
			'.ref = "refs/heads/main" | .before = $b | .after = $a | .head_commit.id = $a |
			 .head_commit.message = $m | .repository.pushed_at = ($t | tonumber)' \
			"$FIXTURES/github-push.json" ;;
	gitea)
		jq --arg a "$sha" --arg b "$before" --arg m "$msg" \
			'.ref = "refs/heads/main" | .before = $b | .after = $a | .commits[0].id = $a |
			 .commits[0].message = $m' "$FIXTURES/gitea-push.json" ;;
	gitlab | gitlab-signing)
		jq --arg a "$sha" --arg b "$before" --arg m "$msg" \
			'.ref = "refs/heads/main" | .before = $b | .after = $a | .checkout_sha = $a |
			 .commits = [.commits[0] | .id = $a | .message = $m]' "$FIXTURES/gitlab-push-hook.json" ;;
	generic)
		jq -n --arg a "$sha" --arg b "$before" --arg n "$RANDOM$RANDOM" --arg t "$(date +%s%3N)" \
			'{ref: "refs/heads/main", before: $b, after: $a, pushed_at: ($t | tonumber), nonce: $n}' ;;
	esac
}

capture() {	# repo sha before out: posts a signed delivery, keeps it; sets CODE and ANSWER
	local r=$1 body=$AGENT_DIR/body-$RANDOM.json line
	body_for "$r" "$2" "$3" >"$body" || fail "payload for $r"
	line=$($RP capture "$4" "${provider[$r]}" "$AGENT_URL/hooks/$r" "$(head -n 1 "$AGENT_DIR/$r.secret")" "$body") ||
		fail "capture for $r"
	CODE=${line%% *} ANSWER=${line#* }
}

image_id() { docker image inspect -f '{{.Id}}' "s2i-agent-test/$PL_ID-$1:main" 2>/dev/null; }

# Two commits per repository, each pushed and announced by a signed delivery, built
n=0 zero=0000000000000000000000000000000000000000
declare -A first_id second_id image head
push_built() {	# repo word before out: a commit pushed, its signed delivery captured
	# and answered 202 with the next build id, built; sets SHA
	SHA=$(pl_commit "$1" "$2 of $1" app.sh "echo \"$2 of $1\"")
	pl_push "$1" >/dev/null || fail "git push $1"
	capture "$1" "$SHA" "$3" "$4"
	n=$((n + 1))
	[ "$CODE" = 202 ] && [ "$(jq -r .build <<<"$ANSWER")" = $n ] || fail "$1 push '$2': $CODE $ANSWER"
	pl_expect $n succeeded 120
}
for r in "${repos[@]}"; do
	push_built "$r" one "$zero" "$CAP/$r-old.req"
	first_id[$r]=$n
	push_built "$r" two "$SHA" "$CAP/$r-new.req"
	second_id[$r]=$n
	head[$r]=$SHA
	image[$r]=$(image_id "$r")
	[ -n "${image[$r]}" ] || fail "no image for $r"
done
builds=$(db_count builds)
[ "$builds" = $n ] || fail "expected $n builds, have $builds"
pl_wait_statuses $((3 * n)) 60 || fail "expected $((3 * n)) statuses, got $(forge_double_count)"
sleep 1
statuses=$(forge_double_count)

# A new signed push of the commit a branch is already built at builds nothing either
# (a forge's second hook, a late webhook after a manual build, a replay whose digest aged out)
for r in gh gen; do
	capture "$r" "${head[$r]}" "${head[$r]}" "$CAP/$r-fresh.req"
	[ "$CODE" = 200 ] && [ "$(jq -r .duplicate <<<"$ANSWER")" = "${second_id[$r]}" ] ||
		fail "$r fresh push of the built commit: $CODE $ANSWER"
done
grep -q "is build ${second_id[gh]} already" "$AGENT_LOG" || fail "the already built push is not logged"

# The attack: every captured delivery again, with new delivery ids
reqs=()
for r in "${repos[@]}"; do reqs+=("$CAP/$r-old.req" "$CAP/$r-new.req"); done
reqs+=("$CAP/gh-fresh.req" "$CAP/gen-fresh.req")
tally=$($RP replay "$REPLAYS" "$REPLAY_PARALLEL" "${reqs[@]}") || fail "replay client"
echo "replay answers: $tally"
ok=$(jq -r '.codes["200"] // 0' <<<"$tally")
[ "$ok" = "$REPLAYS" ] || fail "not every replay was answered 200: $tally"
# each answer names the build of that body (the fresh pushes: the current build)
for r in "${repos[@]}"; do
	p=${provider[$r]}
	for id in "${first_id[$r]}" "${second_id[$r]}"; do
		[ "$(jq -r --arg k "$p $id" '.duplicate_of[$k] // 0' <<<"$tally")" -gt 0 ] ||
			fail "no replay of $r answered with build $id: $tally"
	done
done
sleep 3	# a status poster or a build started by a replay would show by now
builds_after=$(db_count builds)
statuses_after=$(forge_double_count)
changed=0
for r in "${repos[@]}"; do
	[ "$(image_id "$r")" = "${image[$r]}" ] || { changed=$((changed + 1)); echo "tag of $r changed" >&2; }
done
dups=$(curl -sf "$AGENT_URL/metrics" | awk '/^s2i_agent_deliveries_total/ && /result="duplicate"/ { s += $2 } END { print s + 0 }')
logged=$(grep -c "replays the body of build" "$AGENT_LOG")
secs=$(jq -r .seconds <<<"$tally")
echo "replays=$REPLAYS answered_200=$ok new_builds=$((builds_after - builds)) new_statuses=$((statuses_after - statuses)) tag_changes=$changed duplicates_in_metrics=$dups replays_logged=$logged seconds=$secs"
[ "$builds_after" = "$builds" ] || fail "replays queued $((builds_after - builds)) builds"
[ "$statuses_after" = "$statuses" ] || fail "replays posted $((statuses_after - statuses)) statuses"
[ "$changed" = 0 ] || fail "replays changed $changed image tags"
[ "$dups" -ge "$REPLAYS" ] || fail "/metrics counts $dups duplicates, not $REPLAYS"
[ "$logged" -ge "$REPLAYS" ] || fail "replays logged $logged times"

# The guard is on disk: after a restart a replay is still refused
stop_agent || fail "agent exited $? on SIGTERM"
KEEP_PORT=1 start_agent || fail "agent did not restart"
tally=$($RP replay 20 4 "$CAP/gh-old.req" "$CAP/gls-new.req") || fail "replay client"
[ "$(jq -r '.codes["200"] // 0' <<<"$tally")" = 20 ] || fail "after a restart: $tally"
[ "$(db_count builds)" = "$builds" ] || fail "a replay after the restart queued a build"
stop_agent || fail "agent exited $? on SIGTERM"
exit 0
