/* gitsrc_util: the helpers every part of gitsrc uses, which call none of them */
/* libgit2's error into a struct err, what kind of URL a source is, hex object names,
 * whether a repository has a commit. */

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <git2.h>

#include "gitsrc_int.h"

static const char *gitsrc_errmsg(void)
{
	const git_error *ge = git_error_last();

	return ge && ge->message ? ge->message : "unknown libgit2 error";
}

int gitsrc_git_err(struct err *e, const char *fmt, const char *a, const char *b)
{
	char what[ERR_MSG_MAX];

	snprintf(what, sizeof(what), fmt, a, b ? b : "");
	return err_set(e, "%s: %s", what, gitsrc_errmsg());
}

int gitsrc_is_url(const char *s)
{
	static const char *const schemes[] = { "https://", "http://", "ssh://", "git://",
		"file://", "git+ssh://", "ssh+git://", NULL };
	const char *colon, *slash;
	size_t i;

	if (!s)
		return 0;
	for (i = 0; schemes[i]; i++)
		if (!strncasecmp(s, schemes[i], strlen(schemes[i])))
			return 1;
	/* scp-like [user@]host:path: a colon before any slash */
	colon = strchr(s, ':');
	slash = strchr(s, '/');
	if (!colon || colon == s || (slash && slash < colon))
		return 0;
	return colon[1] != '\0';
}

int gitsrc_is_local(const char *url)
{
	return !strncasecmp(url, "file://", 7) || !gitsrc_is_url(url);
}

int gitsrc_hexlen(const char *s)
{
	size_t n = strspn(s, "0123456789abcdefABCDEF");

	return s[n] == '\0' ? (int)n : 0;
}

int gitsrc_has_commit(git_repository *repo, const git_oid *oid)
{
	git_odb *odb = NULL;
	int ok;

	if (git_repository_odb(&odb, repo) < 0)
		return 0;
	ok = git_odb_exists(odb, oid);
	git_odb_free(odb);
	return ok;
}
