/* hmac: HMAC-SHA256, hex and base64 codecs and constant-time comparison,
 * the primitives webhook verification is built from (sha256.c underneath). */
#ifndef S2I_HMAC_H
#define S2I_HMAC_H

#include <stddef.h>

#define HMAC_SHA256_LEN	32

/* HMAC-SHA256 of the concatenation of parts[0..nparts) (lens[i] bytes each)
 * under key. An empty key is valid. Returns 0 (it cannot fail; kept for callers). */
int hmac_sha256v(const void *key, size_t keylen, const void *const *parts,
		 const size_t *lens, size_t nparts, unsigned char out[HMAC_SHA256_LEN]);
int hmac_sha256(const void *key, size_t keylen, const void *data, size_t len,
		unsigned char out[HMAC_SHA256_LEN]);

/* Lowercase hex; out holds 2n+1 bytes and ends NUL terminated. */
void hmac_hex_encode(const unsigned char *in, size_t n, char *out);
/* Decodes exactly len hex digits (either case) into out (room for outmax
 * bytes). Returns 0 with *ret_n set, or -1 on an odd length, a non-hex
 * character or too little room. */
int hmac_hex_decode(const char *in, size_t len, unsigned char *out, size_t outmax, size_t *ret_n);

/* Standard base64 with padding. outsize must be at least 4*ceil(n/3)+1.
 * Returns the encoded length, or -1 when outsize is too small. */
long hmac_base64_encode(const unsigned char *in, size_t n, char *out, size_t outsize);
/* Decodes standard base64; padding may be omitted; no whitespace inside.
 * Returns 0 with *ret_n set, or -1 on bad input or too little room
 * (outmax >= 3*ceil(len/4) always suffices). */
int hmac_base64_decode(const char *in, size_t len, unsigned char *out, size_t outmax, size_t *ret_n);

/* Constant-time equality of two n-byte buffers (time depends on n only). */
int hmac_equal(const void *a, const void *b, size_t n);
/* Constant-time equality of two strings of possibly different lengths: both
 * are hashed first, so the time does not reveal where they differ. */
int hmac_equal_str(const char *a, size_t alen, const char *b, size_t blen);

#endif
