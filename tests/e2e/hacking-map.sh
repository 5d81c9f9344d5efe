#!/usr/bin/env bash
# HACKING.md's map of the files ("## The files") names every agent/*.c and no file
# that is gone: a new or renamed module is added there with its line count (make codemap);
# and every agent/*.[ch] opens with "/* name: what it holds".
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
out=$("$root/tests/codemap" --check "$root/HACKING.md" 2>&1) || { echo "$out"; echo "FAIL: HACKING.md's file map is out of date"; exit 1; }
# the check itself must catch a file missing from the map
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
first=$(awk '/^## /{ on = ($0 == "## The files") } on' "$root/HACKING.md" | grep -o '`[a-z0-9_]*\.c`' | head -n 1)
[ -n "$first" ] || { echo "FAIL: no file in HACKING.md's map"; exit 1; }
sed "s/$first/\`gone.c\`/g" "$root/HACKING.md" >"$tmp"
if "$root/tests/codemap" --check "$tmp" >/dev/null 2>&1; then
	echo "FAIL: tests/codemap --check accepts a map without $first"
	exit 1
fi
echo "ok"
