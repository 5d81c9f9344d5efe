# hookrepo.sh: bare repositories with our git hooks installed, pushed to from a work
# tree, against the agent double (tests/lib/agent_double.sh). Source it after setting
# SECRET; it starts the double in a temporary directory $tmp (removed on exit) and sets
# the check helpers: fail, check, new_bare NAME HOOK, work_commit MESSAGE.
. "$TESTS_DIR/lib/agent_double.sh"

tmp=$(mktemp -d)
trap 'agent_double_stop; rm -rf "$tmp"' EXIT
agent_double_start "$tmp" || { echo "cannot start the agent double"; exit 1; }
HOOKS=$TESTS_DIR/../hooks
export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.com GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.com
export GIT_CONFIG_NOSYSTEM=1 HOME=$tmp
printf '%s\n' "$SECRET" >"$tmp/secret"
chmod 600 "$tmp/secret"
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
check() {	# what, expected, actual
	if [ "$2" != "$3" ]; then fail "$1: expected '$2', got '$3'"; else echo "ok: $1"; fi
}
new_bare() {	# name hook
	git init -q --bare "$tmp/$1.git"
	cp "$HOOKS/$2" "$tmp/$1.git/hooks/$2"
	git --git-dir="$tmp/$1.git" config s2i.url "$AGENT_DOUBLE_URL"
	git --git-dir="$tmp/$1.git" config s2i.secretFile "$tmp/secret"
	git --git-dir="$tmp/$1.git" config s2i.agent "$S2I_AGENT"
}
work_commit() {	# message -> sha
	git -C "$tmp/work" commit -q --allow-empty -m "$1"
	git -C "$tmp/work" rev-parse HEAD
}
git init -q "$tmp/work"
