/* jprune: recursive-descent JSON scanner that validates everything it reads
 * and copies only what is kept; dropped values are scanned, never copied. */
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "jprune.h"
#include "limits.h"

struct jp {
	const char *start, *p, *end;
	const char *const *keep;
	struct buf *out;
	int depth;
	struct err *e;
};

static int jp_fail(struct jp *j, const char *what)
{
	return err_set(j->e, "%s at byte %zu", what, (size_t)(j->p - j->start));
}

static void jp_ws(struct jp *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

static int jp_emit(struct jp *j, int emit, const char *from, size_t n)
{
	if (emit && buf_add(j->out, from, n) < 0)
		return err_set(j->e, "output too large");
	return 0;
}

static int jp_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Advances over characters that need no attention in a string: not '"',
 * not '\\', not a control character. */
static void jp_plain(struct jp *j)
{
#if defined(__SSE2__)
	const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\');
	const __m128i ctl = _mm_set1_epi8(0x1f);

	while (j->end - j->p >= 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)j->p);
		__m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote),
							_mm_cmpeq_epi8(v, bslash)),
					   /* unsigned v <= 0x1f */
					   _mm_cmpeq_epi8(_mm_max_epu8(v, ctl), ctl));
		int m = _mm_movemask_epi8(hit);

		if (m) {
			j->p += __builtin_ctz((unsigned)m);
			return;
		}
		j->p += 16;
	}
#endif
	while (j->p < j->end && (unsigned char)*j->p >= 0x20 && *j->p != '"' && *j->p != '\\')
		j->p++;
}

/* A string at j->p (the opening quote). *ret_plain: no escapes inside. */
static int jp_string(struct jp *j, int emit, const char **ret_s, size_t *ret_n, int *ret_plain)
{
	const char *s = j->p;
	int plain = 1;

	j->p++;
	for (;;) {
		unsigned char c;

		/* the common case first: plain characters, 16 at a time */
		jp_plain(j);
		if (j->p >= j->end)
			return jp_fail(j, "unterminated string");
		c = (unsigned char)*j->p;
		if (c == '"')
			break;
		if (c < 0x20)
			return jp_fail(j, "control character in a string");
		if (c == '\\') {
			plain = 0;
			if (++j->p >= j->end)
				return jp_fail(j, "unterminated string");
			switch (*j->p) {
			case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
				break;
			case 'u':
				if (j->end - j->p < 5 || !jp_hex(j->p[1]) || !jp_hex(j->p[2]) ||
				    !jp_hex(j->p[3]) || !jp_hex(j->p[4]))
					return jp_fail(j, "invalid \\u escape");
				j->p += 4;
				break;
			default:
				return jp_fail(j, "invalid escape");
			}
		}
		j->p++;
	}
	j->p++;
	if (ret_s) {
		*ret_s = s + 1;
		*ret_n = (size_t)(j->p - s - 2);
		*ret_plain = plain;
	}
	return jp_emit(j, emit, s, (size_t)(j->p - s));
}

static int jp_digits(struct jp *j)
{
	const char *s = j->p;

	while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
		j->p++;
	return j->p > s ? 0 : jp_fail(j, "invalid number");
}

static int jp_number(struct jp *j, int emit)
{
	const char *s = j->p;

	if (*j->p == '-')
		j->p++;
	if (j->p < j->end && *j->p == '0')
		j->p++;
	else if (jp_digits(j) < 0)
		return -1;
	if (j->p < j->end && *j->p == '.') {
		j->p++;
		if (jp_digits(j) < 0)
			return -1;
	}
	if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
		j->p++;
		if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
			j->p++;
		if (jp_digits(j) < 0)
			return -1;
	}
	return jp_emit(j, emit, s, (size_t)(j->p - s));
}

static int jp_literal(struct jp *j, int emit, const char *word, size_t n)
{
	if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n))
		return jp_fail(j, "invalid literal");
	j->p += n;
	return jp_emit(j, emit, word, n);
}

static int jp_kept(const struct jp *j, const char *k, size_t n)
{
	const char *const *w;

	for (w = j->keep; *w; w++)
		if ((*w)[0] == k[0] && !strncmp(*w, k, n) && (*w)[n] == '\0')
			return 1;
	return 0;
}

static int jp_value(struct jp *j, int emit);

static int jp_object(struct jp *j, int emit)
{
	int first = 1, any = 0;

	j->p++;
	if (jp_emit(j, emit, "{", 1) < 0)
		return -1;
	jp_ws(j);
	if (j->p < j->end && *j->p == '}') {
		j->p++;
		return jp_emit(j, emit, "}", 1);
	}
	for (;;) {
		const char *key, *kstart;
		size_t klen;
		int plain, keep;

		if (!first) {
			if (j->p < j->end && *j->p == '}')
				break;
			if (j->p >= j->end || *j->p != ',')
				return jp_fail(j, "expected ',' or '}'");
			j->p++;
			jp_ws(j);
		}
		first = 0;
		if (j->p >= j->end || *j->p != '"')
			return jp_fail(j, "expected a member name");
		kstart = j->p;
		if (jp_string(j, 0, &key, &klen, &plain) < 0)
			return -1;
		keep = emit && plain && jp_kept(j, key, klen);
		jp_ws(j);
		if (j->p >= j->end || *j->p != ':')
			return jp_fail(j, "expected ':'");
		j->p++;
		jp_ws(j);
		if (keep) {
			if ((any && jp_emit(j, 1, ",", 1) < 0) ||
			    jp_emit(j, 1, kstart, klen + 2) < 0 || jp_emit(j, 1, ":", 1) < 0)
				return -1;
			any = 1;
		}
		if (jp_value(j, keep) < 0)
			return -1;
		jp_ws(j);
	}
	j->p++;
	return jp_emit(j, emit, "}", 1);
}

static int jp_array(struct jp *j, int emit)
{
	int first = 1;

	j->p++;
	if (jp_emit(j, emit, "[", 1) < 0)
		return -1;
	jp_ws(j);
	if (j->p < j->end && *j->p == ']') {
		j->p++;
		return jp_emit(j, emit, "]", 1);
	}
	for (;;) {
		if (!first) {
			if (j->p < j->end && *j->p == ']')
				break;
			if (j->p >= j->end || *j->p != ',')
				return jp_fail(j, "expected ',' or ']'");
			j->p++;
			if (jp_emit(j, emit, ",", 1) < 0)
				return -1;
			jp_ws(j);
		}
		first = 0;
		if (jp_value(j, emit) < 0)
			return -1;
		jp_ws(j);
	}
	j->p++;
	return jp_emit(j, emit, "]", 1);
}

static int jp_value(struct jp *j, int emit)
{
	int rc;

	if (j->p >= j->end)
		return jp_fail(j, "unexpected end of input");
	switch (*j->p) {
	case '{':
	case '[':
		if (++j->depth > JPRUNE_DEPTH_MAX)
			return jp_fail(j, "nesting too deep");
		rc = *j->p == '{' ? jp_object(j, emit) : jp_array(j, emit);
		j->depth--;
		return rc;
	case '"':
		return jp_string(j, emit, NULL, NULL, NULL);
	case 't':
		return jp_literal(j, emit, "true", 4);
	case 'f':
		return jp_literal(j, emit, "false", 5);
	case 'n':
		return jp_literal(j, emit, "null", 4);
	default:
		if (*j->p == '-' || (*j->p >= '0' && *j->p <= '9'))
			return jp_number(j, emit);
		return jp_fail(j, "unexpected character");
	}
}

int jprune(const char *in, size_t len, const char *const *keep, struct buf *out, struct err *e)
{
	struct jp j = { in, in, in + len, keep, out, 0, e };

	jp_ws(&j);
	if (jp_value(&j, 1) < 0)
		return -1;
	jp_ws(&j);
	if (j.p != j.end)
		return jp_fail(&j, "trailing characters");
	return 0;
}

/* ---------- reading the output ---------- */

/* After a string's opening quote: the byte after its closing quote (the first
 * quote not escaped, i.e. not after an odd run of backslashes). */
static const char *jp_skip_string(const char *p, const char *end)
{
	for (;;) {
		const char *q = memchr(p, '"', (size_t)(end - p)), *b;

		if (!q)
			return end;
		for (b = q; b > p && b[-1] == '\\'; b--)
			;
		if ((q - b) % 2 == 0)
			return q + 1;
		p = q + 1;
	}
}

const char *jprune_skip(const char *v, const char *end)
{
	int depth = 0;

	if (v >= end)
		return end;
	if (*v == '"')
		return jp_skip_string(v + 1, end);
	if (*v != '{' && *v != '[') {
		/* number or literal: up to the next delimiter */
		while (v < end && *v != ',' && *v != '}' && *v != ']')
			v++;
		return v;
	}
	while (v < end) {
		char c = *v++;

		if (c == '"')
			v = jp_skip_string(v, end);
		else if (c == '{' || c == '[')
			depth++;
		else if ((c == '}' || c == ']') && --depth == 0)
			return v;
	}
	return end;
}

const char *jprune_get(const char *obj, const char *end, const char *key)
{
	const char *p, *found = NULL;
	size_t klen = strlen(key);

	if (!obj || obj >= end || *obj != '{')
		return NULL;
	p = obj + 1;
	while (p < end && *p == '"') {
		const char *k = p + 1, *kend = jp_skip_string(k, end);

		/* kend is past the closing quote, then ':' */
		p = kend + 1;
		if (p >= end)
			return NULL;
		if ((size_t)(kend - 1 - k) == klen && !memcmp(k, key, klen))
			found = p;
		p = jprune_skip(p, end);
		if (p < end && *p == ',')
			p++;
	}
	return found;
}

const char *jprune_at(const char *arr, const char *end, size_t i)
{
	const char *p;

	if (!arr || arr >= end || *arr != '[')
		return NULL;
	p = arr + 1;
	while (p < end && *p != ']') {
		if (i-- == 0)
			return p;
		p = jprune_skip(p, end);
		if (p < end && *p == ',')
			p++;
	}
	return NULL;
}

size_t jprune_count(const char *arr, const char *end)
{
	const char *p;
	size_t n = 0;

	if (!arr || arr >= end || *arr != '[')
		return 0;
	p = arr + 1;
	while (p < end && *p != ']') {
		n++;
		p = jprune_skip(p, end);
		if (p < end && *p == ',')
			p++;
	}
	return n;
}
