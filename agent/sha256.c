/* sha256: the compression function of FIPS 180-4 §6.2 over 64-byte blocks,
 * with the standard padding (0x80, zeros, 64-bit big-endian bit length). */
#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

#include "sha256.h"

int sha256_accel = -1;

static const uint32_t sha256_k[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define ROR(x, n)	(((x) >> (n)) | ((x) << (32 - (n))))

static void sha256_block(uint32_t h[8], const unsigned char *p)
{
	uint32_t w[64], a, b, c, d, e, f, g, hh, t1, t2;
	int i;

	for (i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | (uint32_t)p[4 * i + 3];
	for (i = 16; i < 64; i++) {
		uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
		uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);

		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}
	a = h[0]; b = h[1]; c = h[2]; d = h[3];
	e = h[4]; f = h[5]; g = h[6]; hh = h[7];
	for (i = 0; i < 64; i++) {
		t1 = hh + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) + sha256_k[i] + w[i];
		t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
		hh = g; g = f; f = e; e = d + t1;
		d = c; c = b; b = a; a = t1 + t2;
	}
	h[0] += a; h[1] += b; h[2] += c; h[3] += d;
	h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
}

#if defined(__x86_64__)
/* The same rounds with the SHA extensions (Intel SHA-NI, also on AMD since Zen):
 * the state lives as ABEF/CDGH, each sha256rnds2 does two rounds, msg1/msg2
 * compute the schedule four words at a time. ~10x the portable code. */
__attribute__((target("sha,sse4.1")))
static void sha256_blocks_ni(uint32_t h[8], const unsigned char *p, size_t nblocks)
{
	const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
	__m128i st0, st1, tmp, k, save0, save1, m[16];
	int j;

	tmp = _mm_loadu_si128((const __m128i *)&h[0]);		/* DCBA */
	st1 = _mm_loadu_si128((const __m128i *)&h[4]);		/* HGFE */
	tmp = _mm_shuffle_epi32(tmp, 0xB1);			/* CDAB */
	st1 = _mm_shuffle_epi32(st1, 0x1B);			/* EFGH */
	st0 = _mm_alignr_epi8(tmp, st1, 8);			/* ABEF */
	st1 = _mm_blend_epi16(st1, tmp, 0xF0);			/* CDGH */
	for (; nblocks; nblocks--, p += SHA256_BLOCK) {
		save0 = st0;
		save1 = st1;
		for (j = 0; j < 16; j++) {
			if (j < 4) {
				m[j] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * j)), bswap);
			} else {
				tmp = _mm_sha256msg1_epu32(m[j - 4], m[j - 3]);
				tmp = _mm_add_epi32(tmp, _mm_alignr_epi8(m[j - 1], m[j - 2], 4));
				m[j] = _mm_sha256msg2_epu32(tmp, m[j - 1]);
			}
			k = _mm_add_epi32(m[j], _mm_loadu_si128((const __m128i *)&sha256_k[4 * j]));
			st1 = _mm_sha256rnds2_epu32(st1, st0, k);
			k = _mm_shuffle_epi32(k, 0x0E);
			st0 = _mm_sha256rnds2_epu32(st0, st1, k);
		}
		st0 = _mm_add_epi32(st0, save0);
		st1 = _mm_add_epi32(st1, save1);
	}
	tmp = _mm_shuffle_epi32(st0, 0x1B);			/* FEBA */
	st1 = _mm_shuffle_epi32(st1, 0xB1);			/* DCHG */
	st0 = _mm_blend_epi16(tmp, st1, 0xF0);			/* DCBA */
	st1 = _mm_alignr_epi8(st1, tmp, 8);			/* HGFE */
	_mm_storeu_si128((__m128i *)&h[0], st0);
	_mm_storeu_si128((__m128i *)&h[4], st1);
}
#endif

#if defined(__x86_64__)
/* CPUID leaf 7 EBX bit 29 (SHA extensions) and leaf 1 ECX bit 19 (SSE4.1); read
 * directly because clang 14's __builtin_cpu_supports does not know "sha". */
static int sha256_cpu_has_sha_ni(void)
{
	unsigned a, b, c, d;

	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 19)))
		return 0;
	if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
		return 0;
	return (b >> 29) & 1;
}
#endif

static void sha256_blocks(uint32_t h[8], const unsigned char *p, size_t nblocks)
{
#if defined(__x86_64__)
	if (sha256_accel < 0)
		sha256_accel = sha256_cpu_has_sha_ni();
	if (sha256_accel) {
		sha256_blocks_ni(h, p, nblocks);
		return;
	}
#endif
	for (; nblocks; nblocks--, p += SHA256_BLOCK)
		sha256_block(h, p);
}

void sha256_init(struct sha256 *c)
{
	static const uint32_t iv[8] = {
		0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
		0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
	};

	memcpy(c->s_h, iv, sizeof(iv));
	c->s_len = 0;
	c->s_n = 0;
}

void sha256_update(struct sha256 *c, const void *data, size_t n)
{
	const unsigned char *p = data;

	c->s_len += n;
	if (c->s_n) {
		size_t take = SHA256_BLOCK - c->s_n < n ? SHA256_BLOCK - c->s_n : n;

		memcpy(c->s_buf + c->s_n, p, take);
		c->s_n += take;
		p += take;
		n -= take;
		if (c->s_n < SHA256_BLOCK)
			return;
		sha256_blocks(c->s_h, c->s_buf, 1);
		c->s_n = 0;
	}
	sha256_blocks(c->s_h, p, n / SHA256_BLOCK);
	p += n / SHA256_BLOCK * SHA256_BLOCK;
	n %= SHA256_BLOCK;
	memcpy(c->s_buf, p, n);
	c->s_n = n;
}

void sha256_final(struct sha256 *c, unsigned char out[SHA256_LEN])
{
	uint64_t bits = c->s_len * 8;
	int i;

	c->s_buf[c->s_n++] = 0x80;
	if (c->s_n > SHA256_BLOCK - 8) {
		memset(c->s_buf + c->s_n, 0, SHA256_BLOCK - c->s_n);
		sha256_blocks(c->s_h, c->s_buf, 1);
		c->s_n = 0;
	}
	memset(c->s_buf + c->s_n, 0, SHA256_BLOCK - 8 - c->s_n);
	for (i = 0; i < 8; i++)
		c->s_buf[SHA256_BLOCK - 1 - i] = (unsigned char)(bits >> (8 * i));
	sha256_blocks(c->s_h, c->s_buf, 1);
	for (i = 0; i < 8; i++) {
		out[4 * i] = (unsigned char)(c->s_h[i] >> 24);
		out[4 * i + 1] = (unsigned char)(c->s_h[i] >> 16);
		out[4 * i + 2] = (unsigned char)(c->s_h[i] >> 8);
		out[4 * i + 3] = (unsigned char)c->s_h[i];
	}
	memset(c, 0, sizeof(*c));
}

void sha256(const void *data, size_t n, unsigned char out[SHA256_LEN])
{
	struct sha256 c;

	sha256_init(&c);
	sha256_update(&c, data, n);
	sha256_final(&c, out);
}
