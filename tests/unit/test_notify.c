/* Unit tests for notify: the build log as the pusher's terminal gets it (notify_esc),
 * whatever way the stream is cut into writes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "buf.h"
#include "notify.h"

static const char hostile[] =
	"--> source 'x' at 1234 (main): \033]0;PWNED\007 \033[2J\n"
	"\033[1;32m---> ok\033[0m caf\xc3\xa9 \xc2\x9b" "2J \xe2\x80\xae" "txt.exe \xf0\x9f\x9a\x80\r\n"
	"\033[38;5;196mlong colour\033[0m \033[31";
static const char want[] =
	"--> source 'x' at 1234 (main): \\x1b]0;PWNED\\x07 \\x1b[2J\n"
	"\033[1;32m---> ok\033[0m caf\xc3\xa9 \\u009b2J \\u202etxt.exe \xf0\x9f\x9a\x80\\r\n"
	"\033[38;5;196mlong colour\033[0m \\x1b[31";

/* feeds hostile in the pieces cut at a < b, then ends the stream */
static void feed(size_t a, size_t b, struct buf *out)
{
	struct notify_esc x = NOTIFY_ESC_INIT;
	size_t n = sizeof(hostile) - 1, len;
	size_t cut[4] = { 0, a, b, n };
	char *s;
	int i;

	buf_reset(out);
	for (i = 0; i < 3; i++) {
		s = notify_esc(&x, hostile + cut[i], cut[i + 1] - cut[i], 0, &len);
		buf_add(out, s, len);
		free(s);
	}
	s = notify_esc(&x, "", 0, 1, &len);
	buf_add(out, s, len);
	free(s);
}

/* every way of cutting the stream in three gives the same safe text: a colour
 * or a character cut in two is neither escaped by halves nor let through */
static void test_esc_cut_anywhere(void **state)
{
	struct buf out = BUF_INIT(1 << 20);
	size_t n = sizeof(hostile) - 1, a, b;

	(void)state;
	for (a = 0; a <= n; a++)
		for (b = a; b <= n; b++) {
			feed(a, b, &out);
			if (out.len != sizeof(want) - 1 || memcmp(out.data, want, out.len))
				fail_msg("cut at %zu and %zu: got '%.*s'", a, b, (int)out.len, out.data);
		}
	buf_release(&out);
}

/* an ESC that never completes is held only as long as a colour can be */
static void test_esc_hold_bounded(void **state)
{
	struct notify_esc x = NOTIFY_ESC_INIT;
	char in[200], *s;
	size_t len;

	(void)state;
	in[0] = '\033';
	in[1] = '[';
	memset(in + 2, '1', sizeof(in) - 2);
	s = notify_esc(&x, in, sizeof(in), 0, &len);
	assert_true(len > 0);
	assert_null(memchr(s, '\033', len));
	assert_true(x.nheld < NOTIFY_ESC_HOLD);
	free(s);
	/* a lone ESC at the end is held, then escaped when the stream ends */
	s = notify_esc(&x, "\033", 1, 0, &len);
	free(s);
	assert_int_equal(x.nheld, 1);
	s = notify_esc(&x, "", 0, 1, &len);
	assert_string_equal(s, "\\x1b");
	assert_int_equal(x.nheld, 0);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_esc_cut_anywhere),
		cmocka_unit_test(test_esc_hold_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
