#!/usr/bin/env bash
# `s2i-agent check` tells what serve would meet: a state_dir it cannot create, no
# repository, a misspelled key ("did you mean"), a bad tag placeholder named, a missing
# file with the way to choose another; `check --online` asks a real engine (its API
# range), looks for each builder image in it and reaches each repository URL (local
# paths, file://, smart HTTP with a token) without fetching: one OK/FAIL line each.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
: "${TESTS_DIR:=$root/tests}"
bin=${S2I_AGENT:-$root/build/rel/s2i-agent}
source "$TESTS_DIR/lib/engine.sh"
source "$TESTS_DIR/lib/poll.sh"
tmp=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; [ -f "$tmp/out" ] && cat "$tmp/out"; exit 1; }
engine_ensure >/dev/null || { echo "no engine"; exit 77; }

# check CONF [ARGS]: output in $tmp/out, exit code in $rc
check() { local c=$1; shift; "$bin" check -c "$c" "$@" >"$tmp/out" 2>&1; rc=$?; }
want() { grep -qF -- "$1" "$tmp/out" || fail "check does not say: $1"; }

(umask 077 && echo "check-test-secret-0123456789" >"$tmp/web.secret")
(umask 077 && echo "tok-$$-secret" >"$tmp/git.token")
# a bare repository with one branch, and an empty one
git init -q --bare "$tmp/app.git"
git init -q "$tmp/work" && git -C "$tmp/work" -c user.name=t -c user.email=t@e commit -q --allow-empty -m one &&
	git -C "$tmp/work" push -q "$tmp/app.git" HEAD:refs/heads/main || fail "git setup"
git init -q --bare "$tmp/empty.git"

repo() {	# NAME URL BUILDER [KEY = VALUE lines]
	printf '[repo "%s"]\nurl = %s\nbuilder = %s\nsecret_file = %s/web.secret\n' "$1" "$2" "$3" "$tmp"
	shift 3
	for l in "$@"; do echo "$l"; done
}

# --- offline -------------------------------------------------------------
# the example as shipped: no repository is a warning, not an OK
check "$root/conf/agent.conf"
[ $rc = 0 ] || fail "the shipped example exits $rc"
want 'warning: no [repo "NAME"] section, so no push is ever built; add one'
want "configuration OK, with 1 warning"

# a state_dir whose parent is missing; the line of state_dir is named
{ printf '[agent]\nstate_dir = %s/no/such/state\n' "$tmp"; repo app "$tmp/app.git" b; } >"$tmp/a.conf"
check "$tmp/a.conf"
[ $rc = 1 ] || fail "a state_dir without its parent exits $rc"
want "$tmp/a.conf:2: state_dir '$tmp/no/such/state' cannot be created: its parent '$tmp/no/such' does not exist; create it"
want "configuration has 1 problem"
# a state_dir that is a file; a world-writable one
: >"$tmp/file" && sed -i "s|^state_dir = .*|state_dir = $tmp/file|" "$tmp/a.conf"
check "$tmp/a.conf"; [ $rc = 1 ] || fail "a file as state_dir exits $rc"
want "state_dir '$tmp/file' is not a directory"
mkdir -m 777 "$tmp/open" && chmod 777 "$tmp/open" && sed -i "s|^state_dir = .*|state_dir = $tmp/open|" "$tmp/a.conf"
check "$tmp/a.conf"; [ $rc = 1 ] || fail "a world-writable state_dir exits $rc"
want "is writable by every user (mode 0777); run chmod o-w on it"
# a state_dir that is creatable: OK
sed -i "s|^state_dir = .*|state_dir = $tmp/state|" "$tmp/a.conf"
check "$tmp/a.conf"; [ $rc = 0 ] || fail "a creatable state_dir exits $rc"
[ "$(cat "$tmp/out")" = "configuration OK" ] || fail "a good configuration is not just OK"

# a misspelled key gets a suggestion; a bad placeholder is named
{ printf '[agent]\nstate_dir = %s/state\nworkes = 2\n' "$tmp"; repo app "$tmp/app.git" b 'tag = app:{branch}-{sah}'; } >"$tmp/b.conf"
check "$tmp/b.conf"; [ $rc = 1 ] || fail "a misspelled key exits $rc"
want "$tmp/b.conf:3: unknown key 'workes' in [agent]; did you mean 'workers'?"
want "$tmp/b.conf:8: invalid value for 'tag': unknown placeholder '{sah}'; use {repo} {branch}"
# no configuration file: how to choose one, and no ":0:"
check "$tmp/none.conf"; [ $rc = 1 ] || fail "a missing file exits $rc"
want "$tmp/none.conf: cannot open '$tmp/none.conf': No such file or directory; choose the configuration with -c FILE or \$S2I_AGENT_CONFIG"
! grep -q ':0:' "$tmp/out" || fail "the missing file is reported at line 0"
S2I_AGENT_CONFIG=$tmp/env.conf "$bin" check >"$tmp/out" 2>&1 && fail "check of a missing \$S2I_AGENT_CONFIG passed"
want "$tmp/env.conf: cannot open"

# --- online --------------------------------------------------------------
python3 "$TESTS_DIR/lib/git_http.py" --root "$tmp" --token-file "$tmp/git.token" \
	--port-file "$tmp/http.port" --log "$tmp/http.log" 2>"$tmp/http.err" &
pids+=($!)
wait_for 5 test -s "$tmp/http.port" || fail "git_http.py did not start"
hurl=http://127.0.0.1:$(cat "$tmp/http.port")
(umask 077 && echo wrong-token >"$tmp/bad.token")
missing=s2i-agent-test/check-missing-$$:latest
{
	printf '[agent]\nstate_dir = %s/state\nengine = unix://%s\n' "$tmp" "$ENGINE_SOCK"
	repo app "$tmp/app.git" "$TEST_BASE_IMAGE"				# line 4
	repo fileurl "file://$tmp/app.git" "$TEST_BASE_IMAGE"			# line 8
	repo http "$hurl/app.git" "$TEST_BASE_IMAGE" "git_token_file = $tmp/git.token"	# 12
	repo empty "$tmp/empty.git" "$TEST_BASE_IMAGE"				# line 17
	repo pulled "$tmp/app.git" "$missing"					# line 21
} >"$tmp/on.conf"
check "$tmp/on.conf" --online
[ $rc = 0 ] || fail "check --online of a working configuration exits $rc"
ver=$(curl -sf --unix-socket "$ENGINE_SOCK" http://d/version) || fail "no /version"
want "$tmp/on.conf:3: engine 'unix://$ENGINE_SOCK': OK, Docker $(jq -r .Version <<<"$ver"), API "
want "(the server speaks $(jq -r .MinAPIVersion <<<"$ver") to $(jq -r .ApiVersion <<<"$ver"))"
want "$tmp/on.conf:4: repo \"app\": builder '$TEST_BASE_IMAGE': OK, present"
want "$tmp/on.conf:4: repo \"app\": url '$tmp/app.git': OK, 1 ref"
want "$tmp/on.conf:8: repo \"fileurl\": url 'file://$tmp/app.git': OK, "
want "$tmp/on.conf:12: repo \"http\": url '$hurl/app.git': OK, "
want "$tmp/on.conf:17: repo \"empty\": url '$tmp/empty.git': OK, reachable, but it has no branch yet"
want "$tmp/on.conf:21: repo \"pulled\": builder '$missing': warning: not present locally; the first build pulls it"
want "configuration OK, with 1 warning"
# nothing was fetched: the HTTP server saw only the ref advertisement
grep -q 'git-upload-pack' "$tmp/http.log" || fail "the HTTP remote was not asked: $(cat "$tmp/http.log")"
! grep -q 'POST' "$tmp/http.log" || fail "check fetched objects: $(cat "$tmp/http.log")"

# failures: a wrong token, a missing repository, an image the policy never pulls, no engine
{
	printf '[agent]\nstate_dir = %s/state\n' "$tmp"
	repo http "$hurl/app.git" "$TEST_BASE_IMAGE" "git_token_file = $tmp/bad.token"	# line 3
	repo gone "$tmp/gone.git" "$TEST_BASE_IMAGE"					# line 8
	repo never "$tmp/app.git" "$missing" "pull_policy = never"			# line 12
} >"$tmp/bad.conf"
check "$tmp/bad.conf" --online
[ $rc = 1 ] || fail "check --online of a broken configuration exits $rc"
want "$tmp/bad.conf:3: repo \"http\": url '$hurl/app.git': FAIL: "
want "check the URL and the repository's credentials"
want "$tmp/bad.conf:8: repo \"gone\": url '$tmp/gone.git': FAIL: "
want "$tmp/bad.conf:12: repo \"never\": builder '$missing': FAIL: not present locally and the pull policy is never; build or pull it, or check the name"
want "configuration has 3 problems"
printf '[agent]\nstate_dir = %s/state\nengine = unix://%s/no.sock\n' "$tmp" "$tmp" >"$tmp/noeng.conf"
repo app "$tmp/app.git" "$TEST_BASE_IMAGE" >>"$tmp/noeng.conf"
check "$tmp/noeng.conf"
[ $rc = 0 ] || fail "without --online an engine that does not answer is a problem (exit $rc)"
check "$tmp/noeng.conf" --online
[ $rc = 1 ] || fail "check --online without an engine exits $rc"
want "$tmp/noeng.conf:3: engine 'unix://$tmp/no.sock': FAIL: "
want "; start the engine, or point 'engine' at its socket or URL"
want "$tmp/noeng.conf:4: repo \"app\": url '$tmp/app.git': OK, 1 ref"
echo "check: state_dir, repositories, suggestions, placeholders; --online: engine, images, 5 URLs"
