/* ctlesc: control characters, C1 controls, bidi overrides and invalid UTF-8 in
 * outside text written as visible escapes, so they cannot drive a terminal or forge
 * a log line. */
#include <stdio.h>
#include <string.h>

#include "ctlesc.h"

/* Length of the valid UTF-8 character at s (n bytes left) and its code point, or 0. */
static size_t ctlesc_utf8(const unsigned char *s, size_t n, unsigned *cp)
{
	size_t len, i;
	unsigned c;

	if (s[0] < 0xc2 || s[0] > 0xf4)
		return 0;
	len = s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : 4;
	if (len > n)
		return 0;
	c = s[0] & (0x7f >> len);
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	/* overlong, surrogate or past U+10FFFF */
	if ((len == 3 && c < 0x800) || (len == 4 && c < 0x10000) || c > 0x10ffff ||
	    (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

/* ESC [ (digits | ';')* m at s: its length, else 0 */
static size_t ctlesc_sgr(const char *s, size_t n)
{
	size_t i;

	if (n < 3 || s[0] != '\033' || s[1] != '[')
		return 0;
	for (i = 2; i < n && i < 64; i++) {
		if (s[i] == 'm')
			return i + 1;
		if (!((s[i] >= '0' && s[i] <= '9') || s[i] == ';'))
			return 0;
	}
	return 0;
}

static int ctlesc_put(char *out, size_t cap, size_t *len, const char *p, size_t n)
{
	if (*len + n + 1 > cap)
		return -1;
	memcpy(out + *len, p, n);
	*len += n;
	return 0;
}

size_t ctlesc(char *out, size_t cap, const char *s, size_t n, unsigned flags)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, len = 0, k;
	char esc[16];
	unsigned cp;

	if (!cap)
		return 0;
	while (i < n) {
		unsigned char c = u[i];
		int m = 0;

		if (c == '\t' || (c == '\n' && (flags & CTLESC_KEEP_NL)) || (c >= 0x20 && c < 0x7f)) {
			esc[0] = (char)c;
			m = 1;
			k = 1;
		} else if (c == '\033' && (flags & CTLESC_KEEP_SGR) && (k = ctlesc_sgr(s + i, n - i))) {
			if (ctlesc_put(out, cap, &len, s + i, k) < 0)
				break;
			i += k;
			continue;
		} else if (c >= 0x80 && (k = ctlesc_utf8(u + i, n - i, &cp))) {
			if ((cp >= 0x80 && cp <= 0x9f) || (cp >= 0x202a && cp <= 0x202e) ||
			    (cp >= 0x2066 && cp <= 0x2069)) {
				m = snprintf(esc, sizeof(esc), "\\u%04x", cp);
			} else {
				if (ctlesc_put(out, cap, &len, s + i, k) < 0)
					break;
				i += k;
				continue;
			}
		} else {
			k = 1;
			switch (c) {
			case '\n': m = snprintf(esc, sizeof(esc), "\\n"); break;
			case '\r': m = snprintf(esc, sizeof(esc), "\\r"); break;
			default: m = snprintf(esc, sizeof(esc), "\\x%02x", c); break;
			}
		}
		if (ctlesc_put(out, cap, &len, esc, (size_t)m) < 0)
			break;
		i += k;
	}
	out[len] = '\0';
	return len;
}
