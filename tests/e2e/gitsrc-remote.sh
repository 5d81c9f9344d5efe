#!/usr/bin/env bash
# gitsrc over the network (s2i-agent __gitsrc-fetch): git:// from `git daemon` and smart
# HTTP from `git http-backend` behind Basic auth on 127.0.0.1: mirror creation, incremental
# fetch, tags peeled, exact sha, submodule by relative URL, token credentials, tar content.
set -u
source "${TESTS_DIR:-$(dirname "$0")/..}/lib/poll.sh"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/s2i-gitsrc-e2e.XXXXXX")
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	[ -n "${KEEP:-}" ] && echo "kept $tmp" || rm -rf "$tmp"
}
trap cleanup EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
check() {	# what, expected, actual
	if [ "$2" != "$3" ]; then fail "$1: expected '$2', got '$3'"; else echo "ok: $1"; fi
}
val() { sed -n "s/^$1=//p" "$2"; }	# key, file

export GIT_AUTHOR_NAME="A U Thor" GIT_AUTHOR_EMAIL=author@example.com
export GIT_COMMITTER_NAME="C O Mitter" GIT_COMMITTER_EMAIL=committer@example.com
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null HOME=$tmp
g() { git -c protocol.file.allow=always "$@"; }

# ---- repositories: base/main.git with a submodule at ../sub.git ----
mkdir -p "$tmp/base"
g init -q -b main "$tmp/subw"
echo library >"$tmp/subw/lib.txt"
g -C "$tmp/subw" add -A && g -C "$tmp/subw" commit -q -m "sub first"
g clone -q --bare "$tmp/subw" "$tmp/base/sub.git"
g init -q --bare -b main "$tmp/base/main.git"
g init -q -b main "$tmp/w"
g -C "$tmp/w" remote add origin "$tmp/base/main.git"
for i in $(seq 1 200); do mkdir -p "$tmp/w/d$((i % 10))"; echo "file $i" >"$tmp/w/d$((i % 10))/f$i.txt"; done
printf '#!/bin/sh\necho hi\n' >"$tmp/w/run.sh" && chmod 755 "$tmp/w/run.sh"
ln -s run.sh "$tmp/w/link"
g -C "$tmp/w" submodule add -q ../sub.git vendor/sub
g -C "$tmp/w" add -A && g -C "$tmp/w" commit -q -m "first"
g -C "$tmp/w" tag -a v1 -m "release 1"
g -C "$tmp/w" push -q origin main v1
v1=$(g -C "$tmp/w" rev-parse 'v1^{commit}')

# ---- git:// ----
port=$(free_port)
git daemon --reuseaddr --export-all --base-path="$tmp/base" --listen=127.0.0.1 --port="$port" \
	"$tmp/base" 2>"$tmp/daemon.log" &
pids+=($!)
wait_port "$port" || { echo "git daemon did not start"; cat "$tmp/daemon.log"; exit 1; }
url=git://127.0.0.1:$port/main.git
M=$tmp/state/git/main.git

"$S2I_AGENT" __gitsrc-fetch --mirror "$M" --ref main --tar "$tmp/a.tar" --uid 1001 "$url" >"$tmp/o1" 2>&1 ||
	fail "git:// first fetch: $(cat "$tmp/o1")"
check "git:// id" "$(g -C "$tmp/w" rev-parse HEAD)" "$(val id "$tmp/o1")"
check "git:// ref" main "$(val ref "$tmp/o1")"
check "git:// location" "$url" "$(val location "$tmp/o1")"
first=$(val objects "$tmp/o1")
[ "${first:-0}" -gt 200 ] || fail "first fetch objects: $first"
tar tvf "$tmp/a.tar" >"$tmp/a.list"
grep -q ' src/vendor/sub/lib.txt$' "$tmp/a.list" || fail "submodule file missing from the tar"
grep -q '^-rwxr-xr-x 1001/1001 .* src/run.sh$' "$tmp/a.list" || fail "run.sh mode/owner: $(grep run.sh "$tmp/a.list")"
grep -q ' src/link -> run.sh$' "$tmp/a.list" || fail "symlink missing"
grep -q '\.git/' "$tmp/a.list" && fail ".git in the tar"
[ -d "$tmp/state/git/main.git.modules" ] || fail "no submodule mirror beside the mirror"

# one new commit: the second fetch brings only it
echo change >"$tmp/w/d1/f1.txt"
g -C "$tmp/w" commit -q -a -m "second"
g -C "$tmp/w" push -q origin main
new=$(g -C "$tmp/w" rev-parse HEAD)
"$S2I_AGENT" __gitsrc-fetch --mirror "$M" --ref refs/heads/main --sha "$new" "$url" >"$tmp/o2" 2>&1 ||
	fail "git:// second fetch: $(cat "$tmp/o2")"
check "git:// incremental id" "$new" "$(val id "$tmp/o2")"
second=$(val objects "$tmp/o2")
echo "objects: first $first, incremental $second"
[ "${second:-999}" -le 5 ] || fail "incremental fetch brought $second objects"
# the same sha again: no network at all
"$S2I_AGENT" __gitsrc-fetch --mirror "$M" --ref main --sha "$new" "$url" >"$tmp/o3" 2>&1 || fail "refetch"
check "git:// known sha fetches" 0 "$(val fetches "$tmp/o3")"
# a sha that is not on the ref given (force push, another branch): found by fetching
# the branches; a sha nowhere on the server is an error naming it
g -C "$tmp/w" checkout -q -b side
echo side >"$tmp/w/side.txt"
g -C "$tmp/w" add -A && g -C "$tmp/w" commit -q -m "side"
g -C "$tmp/w" push -q origin side
side=$(g -C "$tmp/w" rev-parse side)
g -C "$tmp/w" checkout -q main
"$S2I_AGENT" __gitsrc-fetch --mirror "$M" --ref main --sha "$side" "$url" >"$tmp/o7" 2>&1 || fail "side sha: $(cat "$tmp/o7")"
check "sha off the ref" "$side" "$(val id "$tmp/o7")"
if "$S2I_AGENT" __gitsrc-fetch --mirror "$M" --ref main --sha 0123456789abcdef0123456789abcdef01234567 "$url" >"$tmp/o8" 2>&1; then
	fail "an unknown sha was accepted"
fi
grep -q 0123456789abcdef0123456789abcdef01234567 "$tmp/o8" || fail "unknown sha message: $(cat "$tmp/o8")"
# a new branch seen by pre-receive: the ref does not exist yet, the commit is staged
# under another advertised ref (as hooks/pre-receive does)
g -C "$tmp/w" checkout -q -b newbranch
echo new >"$tmp/w/new.txt"
g -C "$tmp/w" add -A && g -C "$tmp/w" commit -q -m "new branch"
staged=$(g -C "$tmp/w" rev-parse HEAD)
g -C "$tmp/w" push -q origin "HEAD:refs/s2i-agent/incoming/1-$staged"
g -C "$tmp/w" checkout -q main
"$S2I_AGENT" __gitsrc-fetch --mirror "$M" --ref refs/heads/newbranch --sha "$staged" "$url" >"$tmp/o9" 2>&1 ||
	fail "staged sha of a new branch: $(cat "$tmp/o9")"
check "staged sha of a new branch" "$staged" "$(val id "$tmp/o9")"
check "staged sha ref name" newbranch "$(val ref "$tmp/o9")"
# annotated tag, peeled
"$S2I_AGENT" __gitsrc-fetch --mirror "$M" --ref v1 "$url" >"$tmp/o4" 2>&1 || fail "tag: $(cat "$tmp/o4")"
check "git:// tag peeled" "$v1" "$(val id "$tmp/o4")"
check "git:// tag message" "first" "$(val message "$tmp/o4")"
# unknown ref: the error names the ref and the URL
if "$S2I_AGENT" __gitsrc-fetch --mirror "$M" --ref nope "$url" >"$tmp/o5" 2>&1; then fail "unknown ref accepted"; fi
grep -q "nope" "$tmp/o5" && grep -q "$url" "$tmp/o5" || fail "unknown ref message: $(cat "$tmp/o5")"
# a temporary clone for the CLI (no mirror) leaves nothing behind
mkdir -p "$tmp/tmpdir"
TMPDIR=$tmp/tmpdir "$S2I_AGENT" __gitsrc-fetch "$url" >"$tmp/o6" 2>&1 || fail "temporary clone: $(cat "$tmp/o6")"
check "temporary clone removed" "" "$(ls -A "$tmp/tmpdir")"
check "temporary clone id" "$new" "$(val id "$tmp/o6")"
check "default branch" main "$(val ref "$tmp/o6")"

# ---- smart HTTP with a token ----
if ! command -v python3 >/dev/null; then
	echo "no python3: HTTP part skipped"
else
	echo "tok-$$-secret" >"$tmp/token"
	chmod 600 "$tmp/token"
	python3 "$(dirname "$0")/../lib/git_http.py" --root "$tmp/base" --token-file "$tmp/token" \
		--port-file "$tmp/http.port" --log "$tmp/http.log" 2>"$tmp/http.err" &
	pids+=($!)
	wait_for 5 test -s "$tmp/http.port"
	hurl=http://127.0.0.1:$(cat "$tmp/http.port")/main.git
	if "$S2I_AGENT" __gitsrc-fetch --ref main --ignore-submodules "$hurl" >"$tmp/h1" 2>&1; then
		fail "HTTP without a token succeeded"
	fi
	grep -qi "auth" "$tmp/h1" || fail "no-token message: $(cat "$tmp/h1")"
	echo wrong >"$tmp/badtoken"
	if "$S2I_AGENT" __gitsrc-fetch --ref main --ignore-submodules --token-file "$tmp/badtoken" "$hurl" >"$tmp/h2" 2>&1; then
		fail "a token file readable by others was used"
	fi
	grep -q "badtoken" "$tmp/h2" || fail "world-readable token message: $(cat "$tmp/h2")"
	chmod 600 "$tmp/badtoken"
	if "$S2I_AGENT" __gitsrc-fetch --ref main --ignore-submodules --token-file "$tmp/badtoken" "$hurl" >"$tmp/h2" 2>&1; then
		fail "HTTP with a wrong token succeeded"
	fi
	grep -q "wrong" "$tmp/h2" && fail "the token appears in the error"
	grep -qi "auth" "$tmp/h2" || fail "wrong-token message: $(cat "$tmp/h2")"
	HM=$tmp/state/git/http.git
	"$S2I_AGENT" __gitsrc-fetch --mirror "$HM" --ref main --token-file "$tmp/token" --ignore-submodules \
		"$hurl" >"$tmp/h3" 2>&1 || fail "HTTP with the token: $(cat "$tmp/h3")"
	check "https id" "$new" "$(val id "$tmp/h3")"
	grep -q "user=x-access-token" "$tmp/http.log" || fail "default token user not x-access-token: $(tail -3 "$tmp/http.log")"
	grep -q "tok-$$-secret" "$tmp/h3" && fail "the token appears in the output"
	echo more >"$tmp/w/more.txt"
	g -C "$tmp/w" add -A && g -C "$tmp/w" commit -q -m "third" && g -C "$tmp/w" push -q origin main
	"$S2I_AGENT" __gitsrc-fetch --mirror "$HM" --ref main --token-file "$tmp/token" --token-user oauth2 \
		--ignore-submodules "$hurl" >"$tmp/h4" 2>&1 || fail "HTTP incremental: $(cat "$tmp/h4")"
	check "https incremental id" "$(g -C "$tmp/w" rev-parse HEAD)" "$(val id "$tmp/h4")"
	[ "$(val objects "$tmp/h4")" -le 5 ] || fail "HTTP incremental objects: $(val objects "$tmp/h4")"
	grep -q "user=oauth2" "$tmp/http.log" || fail "token user not used"
fi

[ "$fails" -eq 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "all gitsrc remote checks passed"
