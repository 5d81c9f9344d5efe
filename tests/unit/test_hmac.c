/* Unit tests for hmac: GitHub's documented vector, RFC 4231 vectors, hex and
 * base64 round trips and rejects, constant-time comparisons. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "hmac.h"

static void hex_of_hmac(const char *key, size_t keylen, const char *data, size_t len, char out[65])
{
	unsigned char mac[HMAC_SHA256_LEN];

	assert_int_equal(hmac_sha256(key, keylen, data, len, mac), 0);
	hmac_hex_encode(mac, sizeof(mac), out);
}

static void test_github_vector(void **state)
{
	char hex[65];

	(void)state;
	/* SPEC §3, from GitHub's "Validating webhook deliveries" */
	hex_of_hmac("It's a Secret to Everybody", 26, "Hello, World!", 13, hex);
	assert_string_equal(hex, "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17");
}

static void test_rfc4231(void **state)
{
	static const struct {
		const char *key_hex, *data, *mac;
	} cases[] = {
		/* test case 1 */
		{ "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "Hi There",
		  "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7" },
		/* test case 2: a key shorter than the digest */
		{ "4a656665", "what do ya want for nothing?",
		  "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned char key[64];
		size_t keylen = 0;
		char hex[65];

		assert_int_equal(hmac_hex_decode(cases[i].key_hex, strlen(cases[i].key_hex), key,
						 sizeof(key), &keylen), 0);
		hex_of_hmac((const char *)key, keylen, cases[i].data, strlen(cases[i].data), hex);
		assert_string_equal(hex, cases[i].mac);
	}
}

static void test_parts_and_empty_key(void **state)
{
	const void *parts[3] = { "Hello", ", ", "World!" };
	size_t lens[3] = { 5, 2, 6 };
	unsigned char a[HMAC_SHA256_LEN], b[HMAC_SHA256_LEN];
	char hex[65];

	(void)state;
	assert_int_equal(hmac_sha256v("It's a Secret to Everybody", 26, parts, lens, 3, a), 0);
	assert_int_equal(hmac_sha256("It's a Secret to Everybody", 26, "Hello, World!", 13, b), 0);
	assert_memory_equal(a, b, sizeof(a));
	/* an empty key is legal HMAC (python: hmac.new(b"", b"", sha256)) */
	hex_of_hmac("", 0, "", 0, hex);
	assert_string_equal(hex, "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

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
		assert_int_equal(hmac_hex_decode(cases[i].in, strlen(cases[i].in), out, sizeof(out), &n),
				 cases[i].ok ? 0 : -1);
		if (cases[i].ok)
			assert_int_equal(n, cases[i].n);
	}
	assert_int_equal(hmac_hex_decode("ABcd", 4, out, sizeof(out), &n), 0);
	assert_int_equal(out[0], 0xab);
	assert_int_equal(out[1], 0xcd);
	{
		char hex[5];

		hmac_hex_encode(out, 2, hex);
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

		assert_int_equal(hmac_base64_encode((const unsigned char *)cases[i].plain, pl, enc, sizeof(enc)),
				 (long)bl);
		assert_string_equal(enc, cases[i].b64);
		assert_int_equal(hmac_base64_decode(cases[i].b64, bl, out, sizeof(out), &n), 0);
		assert_int_equal(n, pl);
		assert_memory_equal(out, cases[i].plain, pl);
		/* padding may be left out */
		while (bl && cases[i].b64[bl - 1] == '=')
			bl--;
		assert_int_equal(hmac_base64_decode(cases[i].b64, bl, out, sizeof(out), &n), 0);
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
		long el = hmac_base64_encode(in, len, enc, sizeof(enc));

		assert_true(el >= 0);
		assert_int_equal(hmac_base64_decode(enc, (size_t)el, out, sizeof(out), &n), 0);
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
		assert_int_equal(hmac_base64_decode(bad[i], strlen(bad[i]), out, sizeof(out), &n), -1);
	/* too little room, in both directions */
	assert_int_equal(hmac_base64_decode("Zm9vYmFy", 8, out, 5, &n), -1);
	assert_int_equal(hmac_base64_encode((const unsigned char *)"foobar", 6, enc, 8), -1);
	assert_int_equal(hmac_base64_encode((const unsigned char *)"foobar", 6, enc, 9), 8);
}

static void test_equal(void **state)
{
	(void)state;
	assert_true(hmac_equal("abcdef", "abcdef", 6));
	assert_false(hmac_equal("abcdef", "abcdeg", 6));
	assert_false(hmac_equal("xbcdef", "abcdef", 6));
	assert_true(hmac_equal("", "", 0));
	assert_true(hmac_equal_str("token", 5, "token", 5));
	assert_false(hmac_equal_str("token", 5, "tokeN", 5));
	assert_false(hmac_equal_str("token", 5, "token2", 6));
	assert_false(hmac_equal_str("token", 5, "", 0));
	assert_true(hmac_equal_str("", 0, "", 0));
	/* bytes after a NUL count too */
	assert_false(hmac_equal_str("a\0b", 3, "a\0c", 3));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_github_vector),
		cmocka_unit_test(test_rfc4231),
		cmocka_unit_test(test_parts_and_empty_key),
		cmocka_unit_test(test_hex),
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_base64_binary_round_trip),
		cmocka_unit_test(test_base64_rejects),
		cmocka_unit_test(test_equal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
