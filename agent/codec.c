/* codec: lowercase hex and standard base64, strict on input (no whitespace,
 * padding checked): signatures, keys and tokens arrive in these forms. */
#include <string.h>

#include "codec.h"

void codec_hex_encode(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

static int codec_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int codec_hex_decode(const char *in, size_t len, unsigned char *out, size_t outmax, size_t *ret_n)
{
	size_t i;

	if (len % 2 || len / 2 > outmax)
		return -1;
	for (i = 0; i < len; i += 2) {
		int hi = codec_hexval(in[i]), lo = codec_hexval(in[i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		out[i / 2] = (unsigned char)(hi << 4 | lo);
	}
	*ret_n = len / 2;
	return 0;
}

long codec_base64_encode(const unsigned char *in, size_t n, char *out, size_t outsize)
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
static int codec_b64val(char c)
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

int codec_base64_decode(const char *in, size_t len, unsigned char *out, size_t outmax, size_t *ret_n)
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
		if (codec_b64val(in[i]) < 0)
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
			v = v << 6 | (unsigned)(k < chunk ? codec_b64val(in[i + k]) : 0);
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
