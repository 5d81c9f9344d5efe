/* digest: SHA-256, HMAC-SHA256 and constant-time comparison, the primitives
 * webhook signatures, admin tokens and CSP hashes are built from (nettle). */
#ifndef S2I_DIGEST_H
#define S2I_DIGEST_H

#include <stddef.h>

#define DIGEST_SHA256_LEN	32

void digest_sha256(const void *data, size_t n, unsigned char out[DIGEST_SHA256_LEN]);
/* SHA-256 of the concatenation of parts[0..nparts) (lens[i] bytes each). */
void digest_sha256v(const void *const *parts, const size_t *lens, size_t nparts,
		    unsigned char out[DIGEST_SHA256_LEN]);

/* HMAC-SHA256 of the concatenation of parts[0..nparts) (lens[i] bytes each)
 * under key. An empty key is valid. */
void digest_hmac_sha256v(const void *key, size_t keylen, const void *const *parts,
			 const size_t *lens, size_t nparts, unsigned char out[DIGEST_SHA256_LEN]);
void digest_hmac_sha256(const void *key, size_t keylen, const void *data, size_t len,
			unsigned char out[DIGEST_SHA256_LEN]);

/* Constant-time equality of two n-byte buffers (time depends on n only). */
int digest_equal(const void *a, const void *b, size_t n);
/* Constant-time equality of two strings of possibly different lengths: both
 * are hashed first, so the time does not reveal where they differ. */
int digest_equal_str(const char *a, size_t alen, const char *b, size_t blen);

#endif
