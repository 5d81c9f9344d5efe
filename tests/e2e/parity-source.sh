#!/usr/bin/env bash
# Parity with the real s2i, where the source comes from: --context-dir of a git URL
# (file://, with --ref), --exclude, and injections (-i of a file and of a directory, emptied
# after assemble). Skips (77) without the s2i CLI.
TEST=parity-source
source "$TESTS_DIR/lib/parity.sh"

builder=$(s2i_name builder)
s2i_builder "$builder"
repo=$S2I_TMP/repo
mkdir -p "$repo/app/cache/deep" "$repo/app/lib" "$repo/other"
printf 'echo "answer: context"\n' >"$repo/app/app.sh"
printf 'lib\n' >"$repo/app/lib/mod.txt"
printf 'log\n' >"$repo/app/lib/debug.log"
printf 'cached\n' >"$repo/app/cache/deep/x.bin"
printf 'other\n' >"$repo/other/file.txt"
mkdir -p "$repo/app/.s2i"
printf 'FROM_CONTEXT=yes\n' >"$repo/app/.s2i/environment"
git -C "$repo" init -q -b main
s2i_commit_all "$repo" "first"
git -C "$repo" checkout -q -b feature
printf 'feature\n' >"$repo/app/feature.txt"
s2i_commit_all "$repo" "a feature"
git -C "$repo" checkout -q main
url=file://$repo

pa_both "--context-dir of a git URL" --context-dir app -r feature -- "$url" "$builder"
pa_compare "--context-dir of a git URL" "$pa_s2i_tag" "$pa_agent_tag" /opt/app-root/src /tmp

# s2i matches --exclude against the whole path of its copy: unanchored patterns mean the same
pa_both "--exclude" --exclude '(^|/)\.git(/|$)|\.log$|(^|/)cache(/|$)' -- "$url" "$builder"
pa_compare "--exclude" "$pa_s2i_tag" "$pa_agent_tag" /opt/app-root/src /tmp

# injections: a file and a directory, relative and absolute destinations
inj=$S2I_TMP/inject
mkdir -p "$inj/dir/sub"
printf 'token\n' >"$inj/secret.txt"
printf 'one\n' >"$inj/dir/a.conf"
printf 'two\n' >"$inj/dir/sub/b.conf"
chmod 600 "$inj/dir/sub/b.conf"
pa_both "injections" -i "$inj/secret.txt:/tmp/secret.txt" -i "$inj/dir:conf" --context-dir app -- "$url" "$builder"
pa_compare "injections" "$pa_s2i_tag" "$pa_agent_tag" /opt/app-root/src /tmp/secret.txt /tmp/src

pa_done
