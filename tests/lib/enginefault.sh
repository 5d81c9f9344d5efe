# enginefault.sh: helpers of the engine fault tests (tests/e2e/fault-engine*.sh), where
# the agent's `engine` is a unix-socket proxy the test owns (tests/lib/sockproxy.py) in
# front of the shared dockerd. Source it after pipeline.sh; set PROXY_SOCK first.
#
#   ef_proxy_start [OPTIONS...]   starts the proxy on $PROXY_SOCK (sockproxy options
#                                 passed on), sets PROXY_PID, waits until it is ready
#   ef_cleanup                    the EXIT trap's end: the proxy stopped (thawed first),
#                                 the test's build containers removed, then pl_cleanup
#   ef_containers                 ids of this test's build containers in the real engine
#   ef_no_containers              none of them is left
#   ef_log_has ID TEXT            build ID's log has TEXT
#   ef_log_ends_with ID REGEX     its last outcome line matches, then only lines of its
#                                 container removal (prints the log's tail when not)
#   ef_wait_assemble ID           waits until build ID's (sleeping) assemble runs
#   ef_push NAME SHA [REF]        git push + its webhook, answered 202; sets EF_BUILD
#   ef_images NAME ids of every image of this test's repository NAME, tagged or
#                                 not, in the real engine (sorted)
#   ef_tagged NAME                the id its tag (main) names
#   ef_start_admin                the agent on the proxy with an admin token; sets AUTH
#   ef_first_image NAME           a first push of NAME builds; sets EF_IMG to its image,
#                                 the only one of the repository
#   ef_expect_statuses "ID SHA STATE"...  once every build has a final status: each has
#                                 pending, pending, then exactly one final one, and STATE

ef_proxy_start() {	# [sockproxy options]
	rm -f "$AGENT_DIR/proxy.ready"
	python3 "$TESTS_DIR/lib/sockproxy.py" "$PROXY_SOCK" "$ENGINE_SOCK" --ready "$AGENT_DIR/proxy.ready" \
		"$@" 2>>"$AGENT_DIR/proxy.log" &
	PROXY_PID=$!
	wait_for_pid "$PROXY_PID" 10 test -s "$AGENT_DIR/proxy.ready"
}

ef_cleanup() {
	if [ -n "${PROXY_PID:-}" ]; then
		kill -CONT "$PROXY_PID" 2>/dev/null
		kill -TERM "$PROXY_PID" 2>/dev/null
		wait "$PROXY_PID" 2>/dev/null
	fi
	# a failed run may leave the sleeping assemble behind: only ours (builder label)
	ef_containers | xargs -r docker rm -f >/dev/null 2>&1
	pl_cleanup
}

# containers of this test in the real engine (our builder image, our agent's label)
ef_containers() { docker ps -aq --filter "label=s2i-agent-test.image=$PL_ID" --filter label=io.s2i-agent.build; }
ef_no_containers() { [ -z "$(ef_containers)" ]; }

# a commit keeps the tag the image had as io.k8s.display-name
ef_images() {	# name
	local ids
	ids=$(docker images -aq --no-trunc)
	[ -n "$ids" ] && docker image inspect --format '{{.Id}} {{index .Config.Labels "io.k8s.display-name"}}' \
		$ids 2>/dev/null | awk -v n="s2i-agent-test/$PL_ID-$1:main" '$2 == n { print $1 }' | sort -u
}
ef_tagged() { docker image inspect --format '{{.Id}}' "s2i-agent-test/$PL_ID-$1:main" 2>/dev/null; }

ef_start_admin() {
	AGENT_ENGINE=unix://$PROXY_SOCK
	AGENT_EXTRA="admin_token_file = $AGENT_DIR/admin.token"
	start_agent || fail "agent did not start"
	AUTH="Authorization: Bearer $PL_ADMIN"
}

ef_first_image() {	# name
	ef_push "$1" "$(pl_commit "$1" "first build")"
	pl_expect "$EF_BUILD" succeeded 120
	EF_IMG=$(ef_tagged "$1")
	[ -n "$EF_IMG" ] || fail "build $EF_BUILD succeeded and its tag names no image"
	[ "$(ef_images "$1")" = "$EF_IMG" ] || fail "after build $EF_BUILD: images $(ef_images "$1" | tr '\n' ' ')"
}

ef_log_has() { curl -sf --max-time 10 "$AGENT_URL/builds/$1/log" | grep -q "$2"; }

# The build's last outcome line (==> build ID ...) matches REGEX, and after it come only
# the build process's own lines about removing its containers: it may still be doing
# that when the agent writes the outcome (the outcome goes out first, by design), and
# with the engine gone each attempt says it failed. Prints the log's tail when not.
ef_log_ends_with() {	# id regex
	local log after
	log=$(curl -sf --max-time 10 "$AGENT_URL/builds/$1/log")
	after=$(awk -v id="$1" 'index($0, "==> build " id " ") == 1 { n = NR; o = $0 } { l[NR] = $0 }
		END { if (!n) exit 1; print o; for (i = n + 1; i <= NR; i++) print l[i] }' <<<"$log") &&
		head -n 1 <<<"$after" | grep -q "$2" &&
		! tail -n +2 <<<"$after" | grep -qv '^warning: cannot remove container ' && return 0
	tail -n 5 <<<"$log"
	return 1
}

ef_wait_assemble() {	# id
	wait_for 120 ef_log_has "$1" "assemble: sleeping" || fail "build $1 never reached assemble: $(pl_build_json "$1")"
}

ef_push() {	# name sha [ref]
	pl_push "$1" ${3:+"$3"} >/dev/null || fail "git push"
	pl_github_push "$1" "$2" ${3:+"$3"}
	expect 202
	EF_BUILD=$(jq -r .build <<<"$HTTP_BODY")
}

_ef_final_posts() { jq -r 'select(.body.state != "pending") | .sha' "$FORGE_DOUBLE_LOG" | wc -l; }
_ef_all_final() { [ "$(_ef_final_posts)" -ge "$1" ]; }

ef_expect_statuses() {	# "id sha final-state"...
	local b id sha want st seq
	wait_for 60 _ef_all_final $# || fail "final statuses posted: $(_ef_final_posts) of $#"
	sleep 2	# a duplicate post would show up now
	for b in "$@"; do
		read -r id sha want <<<"$b"
		case $want in succeeded) st=success ;; failed) st=failure ;; *) st=error ;; esac
		seq=$(pl_statuses "$sha" | cut -d'|' -f1 | tr '\n' ' ')
		[ "$seq" = "pending pending $st " ] || fail "build $id: statuses $seq (expected pending pending $st)"
		pl_statuses "$sha" | tail -n 1 | grep -q "^$st|Build $id " || fail "build $id: final status $(pl_statuses "$sha" | tail -n 1)"
		[ "$(pl_build_json "$id" | jq -r .state)" = "$want" ] || fail "build $id: $(pl_build_json "$id")"
	done
}
