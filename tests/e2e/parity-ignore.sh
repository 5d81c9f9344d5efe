#!/usr/bin/env bash
# Parity with the real s2i: .s2iignore in the source root (after --context-dir) leaves
# files out as s2i's does: comments, globs that stop at '/', a directory with all in it,
# a leading '/', a negation, for a plain directory and for a git URL. Skips (77)
# without the s2i CLI.
TEST=parity-ignore
source "$TESTS_DIR/lib/parity.sh"

builder=$(s2i_name builder)
s2i_builder "$builder"
src=$S2I_TMP/plain
mkdir -p "$src/cache/deep" "$src/sub" "$src/docs" "$src/.hidden"
printf 'echo "answer: ignore"\n' >"$src/app.sh"
for f in debug.log sub/debug.log cache/x.bin cache/deep/y.bin keep.txt drop.txt \
	docs/a.md docs/b.md .hidden/h.txt sub/z.txt; do
	printf '%s\n' "$f" >"$src/$f"
done
cat >"$src/.s2iignore" <<'IGN'
# build outputs
*.log
  cache/  
*.txt
!keep.txt
/docs/a.md
*/z.txt
../outside
IGN
pa_both ".s2iignore in a directory" -- "$src" "$builder"
pa_compare ".s2iignore in a directory" "$pa_s2i_tag" "$pa_agent_tag" /opt/app-root/src /tmp
# what s2i leaves out, left out by us too (the comparison would pass on two empty lists)
files=$(pa_files "$pa_agent_tag" /opt/app-root/src)
for f in app.sh keep.txt docs/b.md sub/debug.log .hidden/h.txt .s2iignore; do
	grep -q "/opt/app-root/src/$f[ |]" <<<"$files" || grep -q "src/$f" <<<"$files" ||
		fail "$f is missing: $files"
done
for f in debug.log cache drop.txt docs/a.md sub/z.txt; do
	grep -q "src/$f" <<<"$files" && fail "$f was not left out: $files"
done

# a git URL with --context-dir: the context dir's .s2iignore, not the root's
repo=$S2I_TMP/repo
mkdir -p "$repo/app/tmp"
printf 'echo "answer: context"\n' >"$repo/app/app.sh"
printf 'scratch\n' >"$repo/app/tmp/scratch"
printf 'notes\n' >"$repo/app/notes.md"
printf 'tmp\n' >"$repo/app/.s2iignore"
printf 'app.sh\n' >"$repo/.s2iignore"
git -C "$repo" init -q -b main
s2i_commit_all "$repo" "first"
pa_both ".s2iignore of a git URL's context dir" --context-dir app -- "file://$repo" "$builder"
pa_compare ".s2iignore of a git URL's context dir" "$pa_s2i_tag" "$pa_agent_tag" /opt/app-root/src /tmp
files=$(pa_files "$pa_agent_tag" /opt/app-root/src)
grep -q "src/tmp" <<<"$files" && fail "tmp was not left out: $files"
grep -q "src/app.sh" <<<"$files" || fail "app.sh is missing: $files"
pa_done
