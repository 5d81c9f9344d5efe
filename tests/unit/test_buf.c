/* Unit tests for buf: the cap is enforced and the never-NULL rules hold. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "buf.h"

static void test_cap(void **state)
{
	struct buf b = BUF_INIT(8);

	(void)state;
	assert_string_equal(b.data, "");
	assert_int_equal(buf_addstr(&b, "12345"), 0);
	assert_int_equal(buf_addstr(&b, "678"), 0);
	assert_int_equal(buf_addch(&b, '9'), -1);
	assert_int_equal(errno, EMSGSIZE);
	assert_string_equal(b.data, "12345678");
	assert_int_equal(b.len, 8);
	buf_release(&b);
	assert_string_equal(b.data, "");
	assert_int_equal(b.max, 8);
}

static void test_addf_long(void **state)
{
	struct buf b = BUF_INIT(10000);
	char *s;
	size_t n;

	(void)state;
	assert_int_equal(buf_addf(&b, "%0500d|%s", 7, "end"), 0);
	assert_int_equal(b.len, 504);
	s = buf_detach(&b, &n);
	assert_int_equal(n, 504);
	assert_string_equal(s + 500, "|end");
	free(s);
	assert_int_equal(b.len, 0);
	assert_int_equal(buf_addf(&b, "%09000d", 1), 0);
	assert_int_equal(buf_addf(&b, "%02000d", 1), -1);
	assert_int_equal(b.len, 9000);
	buf_release(&b);
}

static void test_strv(void **state)
{
	struct strv v = STRV_INIT, w = STRV_INIT;
	int i;

	(void)state;
	assert_null(v.items[0]);
	for (i = 0; i < 20; i++)
		strv_pushf(&v, "item%d", i);
	assert_int_equal(v.n, 20);
	assert_string_equal(v.items[19], "item19");
	assert_null(v.items[20]);
	strv_copy(&w, &v);
	strv_clear(&v);
	assert_int_equal(v.n, 0);
	assert_null(v.items[0]);
	assert_string_equal(w.items[3], "item3");
	strv_clear(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cap),
		cmocka_unit_test(test_addf_long),
		cmocka_unit_test(test_strv),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
