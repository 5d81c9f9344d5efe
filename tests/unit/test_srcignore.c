/* Unit tests for srcignore: .s2iignore read and matched as s2i does (pkg/ignore):
 * trimmed lines, comments, globs per path component, negations in file order,
 * patterns cleaned like filepath.Join. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "srcignore.h"

struct ig_case {
	const char *text;
	const char *path;
	int want;
};

static const struct ig_case cases[] = {
	{ "*.log\n", "debug.log", 1 },
	/* '*' stops at '/': patterns are not recursive */
	{ "*.log\n", "sub/debug.log", 0 },
	{ "*/*.log\n", "sub/debug.log", 1 },
	{ "*.log\n", ".hidden.log", 1 },
	{ "cache\n", "cache", 1 },
	{ "cache\n", "cache2", 0 },
	/* spaces trimmed, CRLF ends a line, comments and blank lines skipped */
	{ "   cache   \r\n", "cache", 1 },
	{ "# cache\n\n   \n", "cache", 0 },
	/* trimmed first: still a comment */
	{ " # cache\n", "# cache", 0 },
	/* cleaned like filepath.Join(root, p) */
	{ "/cache\n", "cache", 1 },
	{ "./cache/\n", "cache", 1 },
	{ "a//b/./c\n", "a/b/c", 1 },
	{ "a/../b\n", "b", 1 },
	{ "../cache\n", "cache", 0 },
	/* negations: last match wins, and only for paths they match themselves */
	{ "*.txt\n!keep.txt\n", "keep.txt", 0 },
	{ "*.txt\n!keep.txt\n", "drop.txt", 1 },
	{ "!keep.txt\n*.txt\n", "keep.txt", 1 },
	{ "logs\n!logs/keep.txt\n", "logs", 1 },
	{ "?.c\n", "a.c", 1 },
	{ "?.c\n", "ab.c", 0 },
	{ "[ab].c\n", "b.c", 1 },
	{ "[ab].c\n", "c.c", 0 },
	/* the root itself: everything goes */
	{ ".\n", "anything", 1 },
	{ ".\n!anything\n", "anything", 1 },
	/* a tab is not trimmed (s2i trims spaces only) */
	{ "\tcache\n", "cache", 0 },
	{ "", "x", 0 },
	{ "x", "x", 1 },
};

static void test_match(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct srcignore ig = SRCIGNORE_INIT;

		srcignore_parse(cases[i].text, strlen(cases[i].text), &ig);
		if (srcignore_match(&ig, cases[i].path) != cases[i].want)
			fail_msg("case %zu: '%s' on '%s': want %d", i, cases[i].text, cases[i].path,
				 cases[i].want);
		srcignore_release(&ig);
	}
}

static void test_parse(void **state)
{
	static const char text[] = "# c\n\n  a  \n!b/\r\n../out\nc\0d\n";
	struct srcignore ig = SRCIGNORE_INIT;

	(void)state;
	assert_true(srcignore_empty(&ig));
	srcignore_parse(text, sizeof(text) - 1, &ig);
	assert_int_equal(ig.pats.n, 3);
	assert_string_equal(ig.pats.items[0], "a");
	assert_string_equal(ig.negs.items[0], "");
	assert_string_equal(ig.pats.items[1], "b");
	assert_string_equal(ig.negs.items[1], "!");
	/* a NUL ends its line */
	assert_string_equal(ig.pats.items[2], "c");
	assert_false(srcignore_empty(&ig));
	srcignore_release(&ig);
	assert_true(srcignore_empty(&ig));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
