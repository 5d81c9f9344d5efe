/* Unit tests for ctlesc: what may reach a terminal or a log line from outside text. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "ctlesc.h"

struct ctlesc_case {
	const char *what;
	const char *in;
	unsigned flags;
	const char *want;
};

static const struct ctlesc_case cases[] = {
	{ "plain text passes", "fix: the parser", 0, "fix: the parser" },
	{ "tab passes", "a\tb", 0, "a\tb" },
	{ "OSC title set", "x\033]0;PWNED\007y", 0, "x\\x1b]0;PWNED\\x07y" },
	{ "CSI clear screen", "\033[2J\033[H", 0, "\\x1b[2J\\x1b[H" },
	{ "newline forges a line", "main\ns2i-agent: error: x", 0, "main\\ns2i-agent: error: x" },
	{ "newline kept when asked", "a\nb", CTLESC_KEEP_NL, "a\nb" },
	{ "carriage return", "ok\rFAKE", CTLESC_KEEP_NL, "ok\\rFAKE" },
	{ "DEL", "a\177b", 0, "a\\x7fb" },
	{ "C1 CSI (U+009B)", "a\xc2\x9b" "2Jb", 0, "a\\u009b2Jb" },
	{ "bidi override (U+202E)", "main\xe2\x80\xae" "gpj.exe", 0, "main\\u202egpj.exe" },
	{ "bidi isolate (U+2066)", "\xe2\x81\xa6x", 0, "\\u2066x" },
	{ "valid UTF-8 passes", "caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x9a\x80", 0,
	  "caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x9a\x80" },
	{ "invalid byte", "a\xffz", 0, "a\\xffz" },
	{ "overlong encoding", "\xc0\xaf", 0, "\\xc0\\xaf" },
	{ "truncated sequence", "\xe2\x80", 0, "\\xe2\\x80" },
	{ "colours kept when asked", "\033[1;31mred\033[0m", CTLESC_KEEP_SGR, "\033[1;31mred\033[0m" },
	{ "colours escaped by default", "\033[31mred", 0, "\\x1b[31mred" },
	{ "only SGR kept", "\033[31m\033]0;t\007", CTLESC_KEEP_SGR, "\033[31m\\x1b]0;t\\x07" },
	{ "NUL inside", "a\0b", 0, "a\\x00b" },
};

static void test_cases(void **state)
{
	char out[256];
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct ctlesc_case *c = &cases[i];
		size_t inlen = strcmp(c->what, "NUL inside") ? strlen(c->in) : 3;

		n = ctlesc(out, sizeof(out), c->in, inlen, c->flags);
		if (strcmp(out, c->want) || n != strlen(c->want))
			fail_msg("%s: got '%s', want '%s'", c->what, out, c->want);
	}
}

/* an escape that does not fit is left out whole; the output stays terminated */
static void test_cap(void **state)
{
	char out[8];

	(void)state;
	assert_int_equal(ctlesc(out, 6, "abc\033def", 7, 0), 3);
	assert_string_equal(out, "abc");
	assert_int_equal(ctlesc(out, 1, "abc", 3, 0), 0);
	assert_string_equal(out, "");
	assert_int_equal(ctlesc(out, sizeof(out), "\xe2\x9c\x93\xe2\x9c\x93\xe2\x9c\x93", 9, 0), 6);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
