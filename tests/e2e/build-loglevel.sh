#!/usr/bin/env bash
# s2i-agent build --loglevel N, as s2i takes it: 0 prints the scripts' output and the
# warnings without our step lines, 1 to 5 print the steps too (as without the flag);
# other values are bad usage (exit 2) before anything runs.
TEST=build-loglevel
source "$TESTS_DIR/lib/s2i.sh"

builder=$(s2i_name builder)
s2i_builder "$builder"
src=$S2I_TMP/app
s2i_git_source "$src" "forty-two"

s2i_build --loglevel 0 --network none "$src" "$builder"
s2i_expect_ok "--loglevel 0"
s2i_expect_out "assemble: uid"
grep -q '^-->' "$S2I_TMP/out" && { s2i_show; fail "--loglevel 0 printed step lines"; }
for n in 1 5; do
	s2i_build --loglevel "$n" --network none "$src" "$builder"
	s2i_expect_ok "--loglevel $n"
	s2i_expect_out "assemble: uid"
	grep -q '^--> engine ' "$S2I_TMP/out" || { s2i_show; fail "--loglevel $n printed no step lines"; }
done
for bad in 6 -1 x ""; do
	s2i_build --loglevel "$bad" "$src" "$builder"
	[ "$rc" = 2 ] || { s2i_show; fail "--loglevel '$bad' exited $rc, want 2"; }
	grep -q -- '--loglevel' "$S2I_TMP/err" || { s2i_show; fail "no word on --loglevel '$bad'"; }
done
exit 0
