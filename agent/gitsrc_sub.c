/* gitsrc_sub: the submodules of a resolved commit, recursively: .gitmodules parsed from
 * the commit, each gitlink commit found locally or fetched into a mirror of its own. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <git2.h>

#include "gitsrc_int.h"
#include "limits.h"

/* A file-system friendly, collision-resistant name for a submodule mirror. */
static char *gitsrc_mirror_name(const char *url)
{
	uint64_t h = 1469598103934665603ull;
	char name[80];
	size_t i, n = 0;
	const char *p;

	for (p = url; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ull;
	p = strstr(url, "://");
	p = p ? p + 3 : url;
	for (i = 0; p[i] && n < 48; i++) {
		char c = p[i];
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			 (c >= '0' && c <= '9') || c == '-' || (c == '.' && n > 0);

		name[n++] = ok ? c : '_';
	}
	name[n] = '\0';
	return xasprintf("%s-%016llx.git", name, (unsigned long long)h);
}

/* Resolves a submodule URL relative to its superproject's ("../x.git", "./y"). */
static char *gitsrc_relative_url(const char *base, const char *rel)
{
	char *b = xstrdup(base), *cut, *out;
	size_t len = strlen(b);
	const char *r = rel;
	int scp = !strstr(b, "://") && gitsrc_is_url(b);

	while (len > 1 && b[len - 1] == '/')
		b[--len] = '\0';
	for (;;) {
		if (!strncmp(r, "./", 2)) {
			r += 2;
		} else if (!strncmp(r, "../", 3) || !strcmp(r, "..")) {
			cut = strrchr(b, '/');
			if (scp && (!cut || cut < strchr(b, ':')))
				cut = strchr(b, ':');
			if (cut && (!strstr(b, "://") || cut > strstr(b, "://") + 2))
				*cut = '\0';
			r += r[2] ? 3 : 2;
		} else
			break;
	}
	if (!*r)
		out = xstrdup(b);
	else if (scp && !strchr(b, ':'))
		out = xasprintf("%s:%s", b, r);
	else
		out = xasprintf("%s/%s", b, r);
	free(b);
	return out;
}

struct gitsrc_module {
	char *name, *path, *url;
};

/* Unquotes a git config value in place (quotes, \" \\ \n \t, trailing comments). */
static void gitsrc_cfg_value(char *v)
{
	char *w = v;
	int q = 0;

	while (*v == ' ' || *v == '\t')
		v++;
	for (; *v; v++) {
		if (*v == '"') {
			q = !q;
			continue;
		}
		if (!q && (*v == '#' || *v == ';'))
			break;
		if (*v == '\\' && v[1]) {
			v++;
			*w++ = *v == 'n' ? '\n' : *v == 't' ? '\t' : *v;
			continue;
		}
		*w++ = *v;
	}
	*w = '\0';
}

static void gitsrc_rtrim(char *s)
{
	size_t n = strlen(s);

	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		s[--n] = '\0';
}

/* Parses .gitmodules text: [submodule "NAME"] sections with path and url. */
static size_t gitsrc_parse_gitmodules(char *text, struct gitsrc_module **ret)
{
	struct gitsrc_module *m = NULL;
	size_t n = 0, alloc = 0;
	char *save = NULL, *line;
	struct gitsrc_module *cur = NULL;

	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *p = line, *eq, *key;

		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p || *p == '#' || *p == ';')
			continue;
		if (*p == '[') {
			char *q1 = strchr(p, '"'), *q2 = q1 ? strrchr(q1 + 1, '"') : NULL;

			cur = NULL;
			if (!strncasecmp(p + 1, "submodule", 9) && q1 && q2 && q2 > q1 && n < GITSRC_SUBMODULES_MAX) {
				if (n == alloc) {
					alloc = alloc ? alloc * 2 : 4;
					m = xrealloc(m, alloc * sizeof(*m));
				}
				cur = &m[n++];
				cur->name = xstrndup(q1 + 1, (size_t)(q2 - q1 - 1));
				cur->path = NULL;
				cur->url = NULL;
			}
			continue;
		}
		if (!cur || !(eq = strchr(p, '=')))
			continue;
		*eq = '\0';
		key = p;
		gitsrc_rtrim(key);
		gitsrc_cfg_value(eq + 1);
		gitsrc_rtrim(eq + 1);
		if (!strcasecmp(key, "path")) {
			free(cur->path);
			cur->path = xstrdup(eq + 1);
		} else if (!strcasecmp(key, "url")) {
			free(cur->url);
			cur->url = xstrdup(eq + 1);
		}
	}
	*ret = m;
	return n;
}

static void gitsrc_modules_free(struct gitsrc_module *m, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(m[i].name);
		free(m[i].path);
		free(m[i].url);
	}
	free(m);
}

/* Reads a blob at path of tree into a NUL-terminated string; 1 if absent. */
static int gitsrc_tree_text(git_repository *repo, git_tree *tree, const char *path, size_t max,
			    char **ret, struct err *e)
{
	git_tree_entry *te = NULL;
	git_blob *b = NULL;
	git_object_size_t sz;

	if (git_tree_entry_bypath(&te, tree, path) < 0)
		return 1;
	if (git_tree_entry_type(te) != GIT_OBJECT_BLOB) {
		git_tree_entry_free(te);
		return 1;
	}
	if (git_blob_lookup(&b, repo, git_tree_entry_id(te)) < 0) {
		git_tree_entry_free(te);
		return gitsrc_git_err(e, "cannot read '%s'%s", path, NULL);
	}
	git_tree_entry_free(te);
	sz = git_blob_rawsize(b);
	if (sz > max) {
		git_blob_free(b);
		return err_set(e, "'%s' is larger than %zu bytes", path, max);
	}
	*ret = xstrndup(git_blob_rawcontent(b), (size_t)sz);
	git_blob_free(b);
	return 0;
}

/* A repository that has commit: a work tree's checked-out submodule or .git/modules. */
static git_repository *gitsrc_local_module(struct gitsrc *s, const char *path, const char *name,
					   const git_oid *commit)
{
	git_repository *r = NULL;
	char *p;

	if (s->kind != GITSRC_WORKTREE)
		return NULL;
	p = xasprintf("%s/%s", s->path, path);
	if (git_repository_open_ext(&r, p, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) == 0 &&
	    gitsrc_has_commit(r, commit)) {
		free(p);
		return r;
	}
	git_repository_free(r);
	r = NULL;
	free(p);
	p = xasprintf("%s/modules/%s", git_repository_path(s->repo), name);
	if (git_repository_open_ext(&r, p, GIT_REPOSITORY_OPEN_NO_SEARCH | GIT_REPOSITORY_OPEN_BARE, NULL) == 0 &&
	    gitsrc_has_commit(r, commit)) {
		free(p);
		return r;
	}
	git_repository_free(r);
	free(p);
	return NULL;
}

static int gitsrc_sub_add(struct gitsrc *s, const struct gitsrc_module *m, const git_oid *commit,
			  const char *full, const char *parent_url, int depth, struct err *e)
{
	struct gitsrc_sub *sub;
	git_repository *r = NULL;
	git_commit *c = NULL;
	char *url;
	char hex[GIT_OID_HEXSZ + 1];

	git_oid_tostr(hex, sizeof(hex), commit);
	if (s->nsubs >= GITSRC_SUBMODULES_MAX)
		return err_set(e, "more than %d submodules", GITSRC_SUBMODULES_MAX);
	if (!strncmp(m->url, "./", 2) || !strncmp(m->url, "../", 3))
		url = gitsrc_relative_url(parent_url, m->url);
	else
		url = xstrdup(m->url);
	r = gitsrc_local_module(s, full, m->name, commit);
	if (!r) {
		char *dir, *name;

		if (!*s->modules_dir) {
			const char *tmp = getenv("TMPDIR");

			if (!s->tmpdir) {
				s->tmpdir = xasprintf("%s/s2i-agent-git-XXXXXX", tmp && *tmp ? tmp : "/tmp");
				if (!mkdtemp(s->tmpdir)) {
					err_errno(e, "cannot create a temporary directory '%s'", s->tmpdir);
					free(s->tmpdir);
					s->tmpdir = NULL;
					free(url);
					return -1;
				}
			}
			free(s->modules_dir);
			s->modules_dir = xasprintf("%s/modules", s->tmpdir);
		}
		name = gitsrc_mirror_name(url);
		dir = xasprintf("%s/%s", s->modules_dir, name);
		free(name);
		if (mkdir(s->modules_dir, 0700) < 0 && errno != EEXIST) {
			err_errno(e, "cannot create '%s'", s->modules_dir);
			free(dir);
			free(url);
			return -1;
		}
		if (gitsrc_mirror_open(dir, &r, e) < 0) {
			free(dir);
			free(url);
			return -1;
		}
		free(dir);
		if (!gitsrc_has_commit(r, commit) && gitsrc_is_local(url)) {
			char *lref = NULL;

			if (gitsrc_fetch_local(s, r, url, NULL, commit, &lref, e) < 0) {
				err_prefix(e, "submodule '%s'", full);
				goto fail;
			}
			free(lref);
		} else if (!gitsrc_has_commit(r, commit)) {
			/* the gitlink commit is usually on a branch: fetch the branches; then
			 * by id for servers that allow it */
			struct gitsrc_conn cn;
			git_remote *remote = NULL;
			const char *all[1] = { "+refs/heads/*:refs/heads/*" };
			char *byid = xasprintf("+%s:refs/s2i-agent/fetched", hex);
			struct err e2 = ERR_INIT;

			if (gitsrc_connect(s, r, url, &cn, &remote, e) < 0) {
				err_prefix(e, "submodule '%s'", full);
				free(byid);
				goto fail;
			}
			if (gitsrc_download(s, r, remote, &cn, all, 1, &e2) < 0 || !gitsrc_has_commit(r, commit))
				gitsrc_download(s, r, remote, &cn, (const char *const *)&byid, 1, &e2);
			free(byid);
			git_remote_disconnect(remote);
			git_remote_free(remote);
			if (!gitsrc_has_commit(r, commit)) {
				err_set(e, "submodule '%s': commit %s not found at '%s'%s%s", full, hex, url,
					e2.msg[0] ? ": " : "", e2.msg);
				goto fail;
			}
		}
	}
	if (git_commit_lookup(&c, r, commit) < 0) {
		gitsrc_git_err(e, "submodule '%s': cannot read commit %s", full, hex);
		goto fail;
	}
	s->subs = xrealloc(s->subs, (s->nsubs + 1) * sizeof(*s->subs));
	sub = &s->subs[s->nsubs++];
	memset(sub, 0, sizeof(*sub));
	sub->path = xstrdup(full);
	sub->url = url;
	sub->repo = r;
	git_oid_cpy(&sub->commit, commit);
	if (git_commit_tree(&sub->tree, c) < 0) {
		git_commit_free(c);
		return gitsrc_git_err(e, "submodule '%s': cannot read the tree of %s", full, hex);
	}
	git_commit_free(c);
	return gitsrc_subs_resolve(s, r, sub->tree, full, url, depth + 1, e);
fail:
	git_repository_free(r);
	free(url);
	return -1;
}

int gitsrc_subs_resolve(struct gitsrc *s, git_repository *repo, git_tree *tree,
			const char *prefix, const char *parent_url, int depth, struct err *e)
{
	struct gitsrc_module *mods = NULL;
	char *text = NULL;
	size_t n, i;
	int rc;

	rc = gitsrc_tree_text(repo, tree, ".gitmodules", GITSRC_GITMODULES_MAX, &text, e);
	if (rc != 0)
		return rc < 0 ? -1 : 0;
	if (depth > GITSRC_SUBMODULE_DEPTH) {
		free(text);
		return err_set(e, "submodules nested deeper than %d levels at '%s'", GITSRC_SUBMODULE_DEPTH, prefix);
	}
	n = gitsrc_parse_gitmodules(text, &mods);
	free(text);
	rc = 0;
	for (i = 0; i < n && rc == 0; i++) {
		git_tree_entry *te = NULL;
		char *full;

		if (!mods[i].path || !mods[i].url || !*mods[i].path)
			continue;
		if (git_tree_entry_bypath(&te, tree, mods[i].path) < 0)
			continue;	/* declared but not in this commit */
		if (git_tree_entry_filemode(te) != GIT_FILEMODE_COMMIT) {
			git_tree_entry_free(te);
			continue;
		}
		full = *prefix ? xasprintf("%s/%s", prefix, mods[i].path) : xstrdup(mods[i].path);
		rc = gitsrc_sub_add(s, &mods[i], git_tree_entry_id(te), full, parent_url, depth, e);
		free(full);
		git_tree_entry_free(te);
	}
	gitsrc_modules_free(mods, n);
	return rc;
}

void gitsrc_subs_free(struct gitsrc *s)
{
	size_t i;

	for (i = 0; i < s->nsubs; i++) {
		free(s->subs[i].path);
		free(s->subs[i].url);
		git_tree_free(s->subs[i].tree);
		git_repository_free(s->subs[i].repo);
	}
	free(s->subs);
	s->subs = NULL;
	s->nsubs = 0;
}

struct gitsrc_sub *gitsrc_sub_find(struct gitsrc *s, const char *full)
{
	size_t i;

	for (i = 0; i < s->nsubs; i++)
		if (!strcmp(s->subs[i].path, full))
			return &s->subs[i];
	return NULL;
}
