/* hmac: HMAC-SHA256 (RFC 2104 over sha256.c), plus the codecs webhook headers use.
 * No crypto library and no allocation: the daemon links neither. */
#include <string.h>

#include "hmac.h"
#include "sha256.h"

/* RFC 2104 over SHA-256: H((K ^ opad) || H((K ^ ipad) || text)), keys longer
 * than a block hashed first, shorter ones padded with zero bytes. */
int hmac_sha256v(const void *key, size_t keylen, const void *const *parts,
		 const size_t *lens, size_t nparts, unsigned char out[HMAC_SHA256_LEN])
{
	unsigned char k[SHA256_BLOCK] = { 0 }, pad[SHA256_BLOCK], inner[SHA256_LEN];
	struct sha256 c;
	size_t i;

	if (keylen > SHA256_BLOCK)
		sha256(key, keylen, k);
	else if (keylen)
		memcpy(k, key, keylen);
	for (i = 0; i < SHA256_BLOCK; i++)
		pad[i] = k[i] ^ 0x36;
	sha256_init(&c);
	sha256_update(&c, pad, sizeof(pad));
	for (i = 0; i < nparts; i++)
		if (lens[i])
			sha256_update(&c, parts[i], lens[i]);
	sha256_final(&c, inner);
	for (i = 0; i < SHA256_BLOCK; i++)
		pad[i] = k[i] ^ 0x5c;
	sha256_init(&c);
	sha256_update(&c, pad, sizeof(pad));
	sha256_update(&c, inner, sizeof(inner));
	sha256_final(&c, out);
	/* the key does not outlive the call on the stack */
	memset(k, 0, sizeof(k));
	memset(pad, 0, sizeof(pad));
	memset(inner, 0, sizeof(inner));
	__asm__ __volatile__("" : : "r"(k), "r"(pad), "r"(inner) : "memory");
	return 0;
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
	static const char abc[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t need = (n + 2) / 3 * 4 + 1, i, o = 0;

	if (outsize < need || n > (size_t)0x3fffffff)
		return -1;
	for (i = 0; i + 2 < n; i += 3) {
		unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];

		out[o++] = abc[v >> 18];
		out[o++] = abc[(v >> 12) & 63];
		out[o++] = abc[(v >> 6) & 63];
		out[o++] = abc[v & 63];
	}
	if (i < n) {
		unsigned v = (unsigned)in[i] << 16 | (i + 1 < n ? (unsigned)in[i + 1] << 8 : 0);

		out[o++] = abc[v >> 18];
		out[o++] = abc[(v >> 12) & 63];
		out[o++] = i + 1 < n ? abc[(v >> 6) & 63] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
	return (long)o;
}

/* The value of a base64 digit, -1 for anything else. */
static int hmac_b64val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int hmac_base64_decode(const char *in, size_t len, unsigned char *out, size_t outmax, size_t *ret_n)
{
	unsigned char dec[3];
	size_t i, pad = 0, data, n = 0;

	/* padding is checked and removed first; bits left over in the last
	 * digit are ignored */
	while (pad < 2 && len > 0 && in[len - 1] == '=') {
		len--;
		pad++;
	}
	for (i = 0; i < len; i++)
		if (hmac_b64val(in[i]) < 0)
			return -1;
	if (len % 4 == 1 || (pad && (len + pad) % 4))
		return -1;
	data = len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0);
	if (data > outmax)
		return -1;
	for (i = 0; i < len; i += 4) {
		size_t chunk = len - i < 4 ? len - i : 4, k, got;

		unsigned v = 0;

		for (k = 0; k < 4; k++)
			v = v << 6 | (unsigned)(k < chunk ? hmac_b64val(in[i + k]) : 0);
		dec[0] = (unsigned char)(v >> 16);
		dec[1] = (unsigned char)(v >> 8);
		dec[2] = (unsigned char)v;
		got = chunk == 4 ? 3 : chunk - 1;
		memcpy(out + n, dec, got);
		n += got;
	}
	*ret_n = n;
	return 0;
}

int hmac_equal(const void *a, const void *b, size_t n)
{
	const volatile unsigned char *x = a, *y = b;
	unsigned char d = 0;
	size_t i;

	/* every byte is read whatever the earlier ones were */
	for (i = 0; i < n; i++)
		d |= x[i] ^ y[i];
	return d == 0;
}

int hmac_equal_str(const char *a, size_t alen, const char *b, size_t blen)
{
	unsigned char da[SHA256_LEN], db[SHA256_LEN];
	int same;

	sha256(a, alen, da);
	sha256(b, blen, db);
	/* Equal digests of unequal lengths cannot happen short of a SHA-256
	 * collision; the length check is a belt for braces, not a timing leak. */
	same = hmac_equal(da, db, sizeof(da));
	return same && alen == blen;
}
