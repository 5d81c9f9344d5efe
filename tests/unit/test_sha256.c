/* Unit tests for sha256: the FIPS 180-4 / NIST example vectors, and that
 * feeding the data in pieces of every size gives the same digest. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "hmac.h"
#include "sha256.h"

static void hex(const unsigned char *d, char out[2 * SHA256_LEN + 1])
{
	hmac_hex_encode(d, SHA256_LEN, out);
}

static void test_vectors(void **state)
{
	static const struct { const char *in, *out; } t[] = {
		{ "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
		{ "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
		{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
		{ "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
		  "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1" },
	};
	unsigned char d[SHA256_LEN];
	char h[2 * SHA256_LEN + 1];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		sha256(t[i].in, strlen(t[i].in), d);
		hex(d, h);
		assert_string_equal(h, t[i].out);
	}
}

static void test_million_a(void **state)
{
	struct sha256 c;
	unsigned char d[SHA256_LEN];
	char chunk[1000], h[2 * SHA256_LEN + 1];
	int i;

	(void)state;
	memset(chunk, 'a', sizeof(chunk));
	sha256_init(&c);
	for (i = 0; i < 1000; i++)
		sha256_update(&c, chunk, sizeof(chunk));
	sha256_final(&c, d);
	hex(d, h);
	assert_string_equal(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

static void test_pieces(void **state)
{
	unsigned char data[300], whole[SHA256_LEN], parts[SHA256_LEN];
	struct sha256 c;
	size_t step, off, n;

	(void)state;
	for (n = 0; n < sizeof(data); n++)
		data[n] = (unsigned char)(n * 7 + 3);
	for (n = 0; n <= sizeof(data); n += 13) {
		sha256(data, n, whole);
		for (step = 1; step <= 70; step++) {
			sha256_init(&c);
			for (off = 0; off < n; off += step)
				sha256_update(&c, data + off, n - off < step ? n - off : step);
			sha256_final(&c, parts);
			assert_memory_equal(whole, parts, SHA256_LEN);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_million_a),
		cmocka_unit_test(test_pieces),
	};
	int rc;

	/* the portable code, then whatever this CPU offers */
	sha256_accel = 0;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	sha256_accel = -1;
	return rc | cmocka_run_group_tests(tests, NULL, NULL);
}
