/* srcignore: .s2iignore's patterns, read and matched as s2i does (srcignore.h). */
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "limits.h"
#include "srcignore.h"

/* filepath.Join(root, p) made relative again: no leading or trailing '/', no
 * empty or "." components, ".." taking one back. NULL when it climbs out of the
 * root or is longer than a path (such a pattern names nothing of the source); ""
 * for the root itself. */
static char *srcignore_clean(const char *p)
{
	struct strv parts = STRV_INIT;
	struct buf out = BUF_INIT(GITSRC_PATH_MAX);
	const char *s = p, *end;
	size_t i;

	if (strlen(p) >= GITSRC_PATH_MAX)
		return NULL;	/* longer than any path it could name */
	while (*s) {
		end = strchr(s, '/');
		if (!end)
			end = s + strlen(s);
		if (end - s == 2 && !strncmp(s, "..", 2)) {
			if (!parts.n) {
				strv_clear(&parts);
				return NULL;
			}
			free(parts.items[--parts.n]);
			parts.items[parts.n] = NULL;
		} else if (end > s && !(end - s == 1 && *s == '.')) {
			strv_push_nodup(&parts, xstrndup(s, (size_t)(end - s)));
		}
		s = *end ? end + 1 : end;
	}
	for (i = 0; i < parts.n; i++) {
		if (i)
			buf_addch(&out, '/');
		buf_addstr(&out, parts.items[i]);
	}
	strv_clear(&parts);
	return buf_detach(&out, NULL);
}

void srcignore_parse(const char *text, size_t len, struct srcignore *ret)
{
	const char *p = text, *end = text + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *e = nl ? nl : end;
		const char *b = p, *z;
		char *line, *pat;
		int neg = 0;

		/* bufio's lines: one '\r' before the '\n' is part of the end */
		if (nl && e > b && e[-1] == '\r')
			e--;
		z = e > b ? memchr(b, '\0', (size_t)(e - b)) : NULL;
		if (z)
			e = z;
		/* strings.Trim(line, " ") */
		while (b < e && *b == ' ')
			b++;
		while (e > b && e[-1] == ' ')
			e--;
		p = nl ? nl + 1 : end;
		if (b == e || *b == '#')
			continue;
		if (*b == '!') {
			neg = 1;
			b++;
		}
		line = xstrndup(b, (size_t)(e - b));
		pat = srcignore_clean(line);
		free(line);
		if (!pat)
			continue;
		strv_push_nodup(&ret->pats, pat);
		strv_push(&ret->negs, neg ? "!" : "");
	}
}

/* The root ("" after cleaning, e.g. ".") globs the source directory itself: s2i then
 * removes all of it. */
int srcignore_match(const struct srcignore *ig, const char *path)
{
	size_t i;
	int self = 0, root = 0;

	for (i = 0; i < ig->pats.n; i++) {
		const char *pat = ig->pats.items[i];
		int keep = ig->negs.items[i][0] == '!';

		if (!*pat)
			root = !keep;
		else if (fnmatch(pat, path, FNM_PATHNAME) == 0)
			self = !keep;
	}
	return root || self;
}

int srcignore_empty(const struct srcignore *ig)
{
	return ig->pats.n == 0;
}

void srcignore_release(struct srcignore *ig)
{
	strv_clear(&ig->pats);
	strv_clear(&ig->negs);
}
