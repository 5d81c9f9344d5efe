/* Unit tests for digest: the FIPS 180-4 SHA-256 examples, GitHub's documented
 * webhook vector, RFC 4231's HMAC-SHA256 vectors, constant-time comparisons. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "buf.h"
#include "codec.h"
#include "digest.h"

static void hex_of(const unsigned char d[DIGEST_SHA256_LEN], char out[2 * DIGEST_SHA256_LEN + 1])
{
	codec_hex_encode(d, DIGEST_SHA256_LEN, out);
}

static void hex_of_hmac(const void *key, size_t keylen, const void *data, size_t len, char out[65])
{
	unsigned char mac[DIGEST_SHA256_LEN];

	digest_hmac_sha256(key, keylen, data, len, mac);
	hex_of(mac, out);
}

static void test_sha256_vectors(void **state)
{
	static const struct { const char *in, *out; } t[] = {
		{ "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
		{ "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
		{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
		{ "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
		  "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1" },
	};
	unsigned char d[DIGEST_SHA256_LEN];
	char h[2 * DIGEST_SHA256_LEN + 1];
	char *million;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		digest_sha256(t[i].in, strlen(t[i].in), d);
		hex_of(d, h);
		assert_string_equal(h, t[i].out);
	}
	million = xmalloc(1000000);
	memset(million, 'a', 1000000);
	digest_sha256(million, 1000000, d);
	hex_of(d, h);
	assert_string_equal(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	free(million);
}

static void test_github_vector(void **state)
{
	char hex[65];

	(void)state;
	/* from GitHub's "Validating webhook deliveries" (X-Hub-Signature-256) */
	hex_of_hmac("It's a Secret to Everybody", 26, "Hello, World!", 13, hex);
	assert_string_equal(hex, "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17");
}

static void test_rfc4231(void **state)
{
	/* RFC 4231's repeated bytes: 0xaa x 131, 0xdd x 50, 0xcd x 50 */
	static const char aa131[] =
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		"aaaaaaaaaa";
	static const char dd50[] =
		"dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"
		"dddddddddddddddd";
	static const char cd50[] =
		"cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd"
		"cdcdcdcdcdcdcdcd";
	static const struct {
		const char *key_hex, *data, *data_hex, *mac;
	} cases[] = {
		/* 1 */
		{ "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "Hi There", NULL,
		  "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7" },
		/* 2: a key shorter than the digest */
		{ "4a656665", "what do ya want for nothing?", NULL,
		  "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843" },
		/* 3: combined key and data longer than 64 bytes */
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", NULL, dd50,
		  "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe" },
		/* 4 */
		{ "0102030405060708090a0b0c0d0e0f10111213141516171819", NULL, cd50,
		  "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b" },
		/* 6: a key larger than a block, hashed first */
		{ aa131, "Test Using Larger Than Block-Size Key - Hash Key First", NULL,
		  "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54" },
		/* 7: key and data larger than a block */
		{ aa131, "This is a test using a larger than block-size key and a larger than "
			 "block-size data. The key needs to be hashed before being used by the HMAC "
			 "algorithm.", NULL,
		  "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned char key[256], data[256];
		size_t keylen = 0, datalen = 0;
		char hex[65];

		assert_int_equal(codec_hex_decode(cases[i].key_hex, strlen(cases[i].key_hex), key,
						  sizeof(key), &keylen), 0);
		if (cases[i].data_hex)
			assert_int_equal(codec_hex_decode(cases[i].data_hex, strlen(cases[i].data_hex),
							  data, sizeof(data), &datalen), 0);
		else
			memcpy(data, cases[i].data, datalen = strlen(cases[i].data));
		hex_of_hmac(key, keylen, data, datalen, hex);
		assert_string_equal(hex, cases[i].mac);
	}
}

/* The vector form equals the one-shot one however the data is cut. */
static void test_parts_and_empty_key(void **state)
{
	static const char msg[] = "Hello, World!";
	unsigned char a[DIGEST_SHA256_LEN], b[DIGEST_SHA256_LEN];
	const void *parts[3];
	size_t lens[3], i, j;
	char hex[65];

	(void)state;
	digest_hmac_sha256("It's a Secret to Everybody", 26, msg, 13, b);
	for (i = 0; i <= 13; i++) {
		for (j = i; j <= 13; j++) {
			parts[0] = msg;
			lens[0] = i;
			parts[1] = msg + i;
			lens[1] = j - i;
			parts[2] = msg + j;
			lens[2] = 13 - j;
			digest_hmac_sha256v("It's a Secret to Everybody", 26, parts, lens, 3, a);
			assert_memory_equal(a, b, sizeof(a));
		}
	}
	/* an empty key is legal HMAC (python: hmac.new(b"", b"", sha256)) */
	hex_of_hmac("", 0, "", 0, hex);
	assert_string_equal(hex, "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

static void test_equal(void **state)
{
	(void)state;
	assert_true(digest_equal("abcdef", "abcdef", 6));
	assert_false(digest_equal("abcdef", "abcdeg", 6));
	assert_false(digest_equal("xbcdef", "abcdef", 6));
	assert_true(digest_equal("", "", 0));
	assert_true(digest_equal_str("token", 5, "token", 5));
	assert_false(digest_equal_str("token", 5, "tokeN", 5));
	assert_false(digest_equal_str("token", 5, "token2", 6));
	assert_false(digest_equal_str("token", 5, "", 0));
	assert_true(digest_equal_str("", 0, "", 0));
	/* bytes after a NUL count too */
	assert_false(digest_equal_str("a\0b", 3, "a\0c", 3));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha256_vectors),
		cmocka_unit_test(test_github_vector),
		cmocka_unit_test(test_rfc4231),
		cmocka_unit_test(test_parts_and_empty_key),
		cmocka_unit_test(test_equal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
