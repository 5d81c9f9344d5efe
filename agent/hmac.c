/* hmac: HMAC-SHA256 through OpenSSL's EVP_MAC, plus the codecs webhook headers use.
 * Nothing here allocates beyond OpenSSL's per-call context. */
#include <pthread.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>

#include "hmac.h"

static EVP_MAC *hmac_mac;
static pthread_once_t hmac_once = PTHREAD_ONCE_INIT;

/* Fetching the algorithm is the slow part of an OpenSSL 3 HMAC, so it is
 * done once per process; the EVP_MAC is immutable and shareable. */
static void hmac_fetch(void)
{
	hmac_mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
}

int hmac_sha256v(const void *key, size_t keylen, const void *const *parts,
		 const size_t *lens, size_t nparts, unsigned char out[HMAC_SHA256_LEN])
{
	static const unsigned char zero = 0;
	OSSL_PARAM params[2];
	EVP_MAC_CTX *ctx = NULL;
	size_t outlen = 0, i;
	int ret = -1;

	pthread_once(&hmac_once, hmac_fetch);
	if (!hmac_mac)
		return -1;
	/* HMAC pads keys with zero bytes, so "" and "\0" are the same key, and
	 * OpenSSL refuses a zero-length one. */
	if (keylen == 0) {
		key = &zero;
		keylen = 1;
	}
	ctx = EVP_MAC_CTX_new(hmac_mac);
	if (!ctx)
		goto out;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if (!EVP_MAC_init(ctx, key, keylen, params))
		goto out;
	for (i = 0; i < nparts; i++)
		if (lens[i] && !EVP_MAC_update(ctx, parts[i], lens[i]))
			goto out;
	if (!EVP_MAC_final(ctx, out, &outlen, HMAC_SHA256_LEN) || outlen != HMAC_SHA256_LEN)
		goto out;
	ret = 0;
out:
	EVP_MAC_CTX_free(ctx);
	return ret;
}

int hmac_sha256(const void *key, size_t keylen, const void *data, size_t len,
		unsigned char out[HMAC_SHA256_LEN])
{
	const void *parts[1] = { data };
	size_t lens[1] = { len };

	return hmac_sha256v(key, keylen, parts, lens, 1, out);
}

void hmac_hex_encode(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

static int hmac_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int hmac_hex_decode(const char *in, size_t len, unsigned char *out, size_t outmax, size_t *ret_n)
{
	size_t i;

	if (len % 2 || len / 2 > outmax)
		return -1;
	for (i = 0; i < len; i += 2) {
		int hi = hmac_hexval(in[i]), lo = hmac_hexval(in[i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		out[i / 2] = (unsigned char)(hi << 4 | lo);
	}
	*ret_n = len / 2;
	return 0;
}

long hmac_base64_encode(const unsigned char *in, size_t n, char *out, size_t outsize)
{
	size_t need = (n + 2) / 3 * 4 + 1;

	if (outsize < need || n > (size_t)0x3fffffff)
		return -1;
	return EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

static int hmac_b64char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '+' || c == '/';
}

int hmac_base64_decode(const char *in, size_t len, unsigned char *out, size_t outmax, size_t *ret_n)
{
	unsigned char tmp[4], dec[3];
	size_t i, pad = 0, data, n = 0;

	/* Our own framing around EVP_DecodeBlock, which accepts whitespace and
	 * reports padding as zero bytes: padding is checked and removed here. */
	while (pad < 2 && len > 0 && in[len - 1] == '=') {
		len--;
		pad++;
	}
	for (i = 0; i < len; i++)
		if (!hmac_b64char(in[i]))
			return -1;
	if (len % 4 == 1 || (pad && (len + pad) % 4))
		return -1;
	data = len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0);
	if (data > outmax)
		return -1;
	for (i = 0; i < len; i += 4) {
		size_t chunk = len - i < 4 ? len - i : 4, k, got;

		memcpy(tmp, in + i, chunk);
		for (k = chunk; k < 4; k++)
			tmp[k] = 'A';
		if (EVP_DecodeBlock(dec, tmp, 4) != 3)
			return -1;
		got = chunk == 4 ? 3 : chunk - 1;
		memcpy(out + n, dec, got);
		n += got;
	}
	*ret_n = n;
	return 0;
}

int hmac_equal(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}

int hmac_equal_str(const char *a, size_t alen, const char *b, size_t blen)
{
	unsigned char da[EVP_MAX_MD_SIZE], db[EVP_MAX_MD_SIZE];
	unsigned int la = 0, lb = 0;
	int same;

	if (!EVP_Digest(a, alen, da, &la, EVP_sha256(), NULL) ||
	    !EVP_Digest(b, blen, db, &lb, EVP_sha256(), NULL) || la != lb)
		return 0;
	/* Equal digests of unequal lengths cannot happen short of a SHA-256
	 * collision; the length check is a belt for braces, not a timing leak. */
	same = CRYPTO_memcmp(da, db, la) == 0;
	return same && alen == blen;
}
