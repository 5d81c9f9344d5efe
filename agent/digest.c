/* digest: thin wrappers over nettle's SHA-256, HMAC-SHA256 and memeql_sec, so
 * the daemon uses a vetted (and SHA-NI accelerated) library without OpenSSL. */
#include <string.h>

#include <nettle/hmac.h>
#include <nettle/memops.h>
#include <nettle/sha2.h>

#include "digest.h"

_Static_assert(DIGEST_SHA256_LEN == SHA256_DIGEST_SIZE, "SHA-256 digest size");

void digest_sha256(const void *data, size_t n, unsigned char out[DIGEST_SHA256_LEN])
{
	struct sha256_ctx c;

	sha256_init(&c);
	sha256_update(&c, n, data);
	sha256_digest(&c, DIGEST_SHA256_LEN, out);
}

void digest_sha256v(const void *const *parts, const size_t *lens, size_t nparts,
		    unsigned char out[DIGEST_SHA256_LEN])
{
	struct sha256_ctx c;
	size_t i;

	sha256_init(&c);
	for (i = 0; i < nparts; i++)
		if (lens[i])
			sha256_update(&c, lens[i], parts[i]);
	sha256_digest(&c, DIGEST_SHA256_LEN, out);
}

void digest_hmac_sha256v(const void *key, size_t keylen, const void *const *parts,
			 const size_t *lens, size_t nparts, unsigned char out[DIGEST_SHA256_LEN])
{
	struct hmac_sha256_ctx c;
	size_t i;

	hmac_sha256_set_key(&c, keylen, key);
	for (i = 0; i < nparts; i++)
		if (lens[i])
			hmac_sha256_update(&c, lens[i], parts[i]);
	hmac_sha256_digest(&c, DIGEST_SHA256_LEN, out);
	/* the keyed state does not outlive the call on the stack */
	memset(&c, 0, sizeof(c));
	__asm__ __volatile__("" : : "r"(&c) : "memory");
}

void digest_hmac_sha256(const void *key, size_t keylen, const void *data, size_t len,
			unsigned char out[DIGEST_SHA256_LEN])
{
	const void *parts[1] = { data };
	size_t lens[1] = { len };

	digest_hmac_sha256v(key, keylen, parts, lens, 1, out);
}

int digest_equal(const void *a, const void *b, size_t n)
{
	return memeql_sec(a, b, n);
}

int digest_equal_str(const char *a, size_t alen, const char *b, size_t blen)
{
	unsigned char da[DIGEST_SHA256_LEN], db[DIGEST_SHA256_LEN];

	digest_sha256(a, alen, da);
	digest_sha256(b, blen, db);
	/* Equal digests of unequal lengths cannot happen short of a SHA-256
	 * collision; the length check is a belt for braces, not a timing leak. */
	return digest_equal(da, db, sizeof(da)) && alen == blen;
}
