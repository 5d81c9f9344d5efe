#!/usr/bin/env bash
# Refused deliveries are not silent: a delivery to a repository that is not configured is
# logged (at most HTTP_REFUSAL_LOGS_PER_MINUTE lines a minute) and counted in /metrics; it
# and a 401 show on the dashboard's "Refused deliveries" with the name as sent, the
# provider and the reason, never the body or the signature.
set -u
source "$TESTS_DIR/lib/agent.sh"
agent_init
SECRET="refusals test secret $$"
AGENT_EXTRA="workers = 0"
agent_repo web "$SECRET"
start_agent || fail "agent did not start"
push=$FIXTURES/github-push.json

# a misrouted webhook: 404, and the log names the repository and the fix
post_hook github webb "$push" "$SECRET" d-unknown-1
[ "$HTTP_CODE" = 404 ] || fail "unknown repository answered $HTTP_CODE"
wait_for 5 grep -q "repo 'webb': github delivery refused: no \[repo \"webb\"\] in the configuration" "$AGENT_LOG" ||
	fail "the delivery to an unknown repository is not logged"
# a flood is counted in full but logged at most 10 times a minute
for i in $(seq 2 25); do
	post_hook generic "flood-$i" "$push" "$SECRET" "d-unknown-$i"
	[ "$HTTP_CODE" = 404 ] || fail "flood $i answered $HTTP_CODE"
done
logged=$(grep -c 'delivery refused: no \[repo' "$AGENT_LOG")
[ "$logged" -eq 10 ] || fail "$logged log lines for 25 unknown deliveries within a minute, want 10"
# a GET there is no delivery: not recorded
http_req "$AGENT_URL/hooks/nosuch"
[ "$HTTP_CODE" = 404 ] || fail "GET /hooks/nosuch answered $HTTP_CODE"
# a wrong signature on a configured repository: 401
post_hook github web "$push" "not the secret at all, sorry" d-bad-sig
[ "$HTTP_CODE" = 401 ] || fail "bad signature answered $HTTP_CODE"
badsig=$(sign "not the secret at all, sorry" "$push")

http_req "$AGENT_URL/metrics"
grep -qx 's2i_agent_deliveries_unknown_repo_total 25' <<<"$HTTP_BODY" || fail "metrics: $(grep refused\\\|unknown <<<"$HTTP_BODY")"
grep -qx 's2i_agent_deliveries_refused_total 26' <<<"$HTTP_BODY" || fail "refused_total: $(grep refused <<<"$HTTP_BODY")"
grep -q 's2i_agent_deliveries_total{repo="web",provider="github",result="unauthorized"} 1' <<<"$HTTP_BODY" ||
	fail "the 401 is not counted"

http_req -H 'Accept: text/html' "$AGENT_URL/"
[ "$HTTP_CODE" = 200 ] || fail "dashboard answered $HTTP_CODE"
page=$HTTP_BODY
grep -q '<h2 id="refused">Refused deliveries</h2>' <<<"$page" || fail "no refused deliveries section"
grep -q '26 since the agent started; the last 26:' <<<"$page" || fail "refusal count: $(grep -o '[0-9]* since[^<]*' <<<"$page")"
grep -q '<code>webb</code></td><td>github</td><td class="num">404</td><td class="msg">unknown repository</td>' <<<"$page" ||
	fail "the unknown repository is not listed"
grep -q '<code>flood-25</code></td><td>generic</td><td class="num">404</td>' <<<"$page" || fail "the newest refusal is missing"
grep -q '<code>web</code></td><td>github</td><td class="num">401</td><td class="msg">X-Hub-Signature-256 does not match' <<<"$page" ||
	fail "the 401 is not listed"
# newest first: the 401 came last
[ "$(grep -o '<code>[a-z0-9-]*</code></td><td>[a-z]*</td><td class="num">[0-9]*' <<<"$page" | head -1 | grep -o '[0-9]*$')" = 401 ] ||
	fail "refusals are not newest first"
! grep -q "$badsig" <<<"$page" || fail "the page shows a signature"
! grep -q 'compare' <<<"$page" || fail "the page shows the body"	# github-push.json's compare URL
echo "refusals: 25 unknown (10 logged), one 401, on /metrics and the dashboard"
