/* sha256: SHA-256 (FIPS 180-4), small and allocation-free, so the daemon
 * needs no crypto library for webhook signatures and token checks. */
#ifndef S2I_SHA256_H
#define S2I_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN	32
#define SHA256_BLOCK	64

struct sha256 {
	uint32_t s_h[8];
	uint64_t s_len;			/* bytes hashed so far */
	unsigned char s_buf[SHA256_BLOCK];
	size_t s_n;			/* bytes waiting in s_buf */
};

/* 1: the CPU's SHA extensions are used, 0: the portable code, -1: not yet
 * decided (the first block checks the CPU). Tests set it to cover both. */
extern int sha256_accel;

void sha256_init(struct sha256 *c);
void sha256_update(struct sha256 *c, const void *data, size_t n);
void sha256_final(struct sha256 *c, unsigned char out[SHA256_LEN]);
void sha256(const void *data, size_t n, unsigned char out[SHA256_LEN]);

#endif
