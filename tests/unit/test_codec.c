/* Unit tests for codec: hex and base64 (RFC 4648 §10) round trips, padding
 * left out, and the strict rejects (whitespace, stray padding, no room). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "codec.h"

static void test_hex(void **state)
{
	static const struct {
		const char *in;
		int ok;
		size_t n;
	} cases[] = {
		{ "", 1, 0 }, { "00ff", 1, 2 }, { "ABcd", 1, 2 },
		{ "abc", 0, 0 }, { "zz", 0, 0 }, { "0g", 0, 0 }, { "0123456789abcdef01", 0, 0 },
	};
	unsigned char out[8];
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		n = 99;
		assert_int_equal(codec_hex_decode(cases[i].in, strlen(cases[i].in), out, sizeof(out), &n),
				 cases[i].ok ? 0 : -1);
		if (cases[i].ok)
			assert_int_equal(n, cases[i].n);
	}
	assert_int_equal(codec_hex_decode("ABcd", 4, out, sizeof(out), &n), 0);
	assert_int_equal(out[0], 0xab);
	assert_int_equal(out[1], 0xcd);
	{
		char hex[5];

		codec_hex_encode(out, 2, hex);
		assert_string_equal(hex, "abcd");
	}
}

static void test_base64(void **state)
{
	static const struct {
		const char *plain, *b64;
	} cases[] = {
		/* RFC 4648 §10 */
		{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
		{ "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
	};
	unsigned char out[64];
	char enc[64];
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t pl = strlen(cases[i].plain), bl = strlen(cases[i].b64);

		assert_int_equal(codec_base64_encode((const unsigned char *)cases[i].plain, pl, enc, sizeof(enc)),
				 (long)bl);
		assert_string_equal(enc, cases[i].b64);
		assert_int_equal(codec_base64_decode(cases[i].b64, bl, out, sizeof(out), &n), 0);
		assert_int_equal(n, pl);
		assert_memory_equal(out, cases[i].plain, pl);
		/* padding may be left out */
		while (bl && cases[i].b64[bl - 1] == '=')
			bl--;
		assert_int_equal(codec_base64_decode(cases[i].b64, bl, out, sizeof(out), &n), 0);
		assert_int_equal(n, pl);
		assert_memory_equal(out, cases[i].plain, pl);
	}
}

static void test_base64_binary_round_trip(void **state)
{
	unsigned char in[256], out[256];
	char enc[400];
	size_t len, n;

	(void)state;
	for (len = 0; len < sizeof(in); len++)
		in[len] = (unsigned char)(255 - len);
	for (len = 0; len <= sizeof(in); len += 7) {
		long el = codec_base64_encode(in, len, enc, sizeof(enc));

		assert_true(el >= 0);
		assert_int_equal(codec_base64_decode(enc, (size_t)el, out, sizeof(out), &n), 0);
		assert_int_equal(n, len);
		assert_memory_equal(in, out, len);
	}
}

static void test_base64_rejects(void **state)
{
	static const char *bad[] = {
		"Z", "Zg=", "Zg===", "Z===", "Zm9v!", "Zm 9v", "Zm9v\n", "=Zm9", "Zm=v", "Zm9vY", "====",
	};
	unsigned char out[64];
	char enc[16];	/* the calls below claim up to 9 bytes */
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(codec_base64_decode(bad[i], strlen(bad[i]), out, sizeof(out), &n), -1);
	/* too little room, in both directions */
	assert_int_equal(codec_base64_decode("Zm9vYmFy", 8, out, 5, &n), -1);
	assert_int_equal(codec_base64_encode((const unsigned char *)"foobar", 6, enc, 8), -1);
	assert_int_equal(codec_base64_encode((const unsigned char *)"foobar", 6, enc, 9), 8);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hex),
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_base64_binary_round_trip),
		cmocka_unit_test(test_base64_rejects),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
