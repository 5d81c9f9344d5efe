/* codec: hex and base64 encoding and strict decoding, for signatures (GitHub's
 * sha256=HEX, Standard Webhooks' v1,BASE64), SSH keys and CSP hashes. */
#ifndef S2I_CODEC_H
#define S2I_CODEC_H

#include <stddef.h>

/* Lowercase hex; out holds 2n+1 bytes and ends NUL terminated. */
void codec_hex_encode(const unsigned char *in, size_t n, char *out);
/* Decodes exactly len hex digits (either case) into out (room for outmax
 * bytes). Returns 0 with *ret_n set, or -1 on an odd length, a non-hex
 * character or too little room. */
int codec_hex_decode(const char *in, size_t len, unsigned char *out, size_t outmax, size_t *ret_n);

/* Standard base64 with padding. outsize must be at least 4*ceil(n/3)+1.
 * Returns the encoded length, or -1 when outsize is too small. */
long codec_base64_encode(const unsigned char *in, size_t n, char *out, size_t outsize);
/* Decodes standard base64; padding may be omitted; no whitespace inside.
 * Returns 0 with *ret_n set, or -1 on bad input or too little room
 * (outmax >= 3*ceil(len/4) always suffices). */
int codec_base64_decode(const char *in, size_t len, unsigned char *out, size_t outmax, size_t *ret_n);

#endif
