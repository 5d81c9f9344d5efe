/* gitsrc: opens a build source (directory, work tree, bare repository, URL) with libgit2,
 * resolves the commit to build and its metadata; mirrors, credentials, submodules and
 * reading the tree live in gitsrc_fetch.c, gitsrc_auth.c, gitsrc_sub.c, gitsrc_tree.c,
 * what they all use in gitsrc_util.c. */

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <git2.h>

#include "ctlesc.h"
#include "gitsrc_int.h"
#include "limits.h"

static pthread_once_t gitsrc_once = PTHREAD_ONCE_INIT;
static int gitsrc_init_rc;

static void gitsrc_init_once(void)
{
	if (git_libgit2_init() < 0) {
		gitsrc_init_rc = -1;
		return;
	}
	/* Small pack windows and caches: streaming a large tree must not map a whole
	 * pack into the process (mapped pages count in RSS). */
	git_libgit2_opts(GIT_OPT_SET_MWINDOW_SIZE, (size_t)GITSRC_MWINDOW_SIZE);
	git_libgit2_opts(GIT_OPT_SET_MWINDOW_MAPPED_LIMIT, (size_t)GITSRC_MWINDOW_LIMIT);
	git_libgit2_opts(GIT_OPT_SET_CACHE_MAX_SIZE, (ssize_t)GITSRC_CACHE_MAX);
	/* Repositories owned by another user (the git user's bare repositories, read by
	 * the agent's user) must open. The ownership check protects git's CLI from
	 * running programs named in a hostile config (hooks, fsmonitor); libgit2 runs
	 * none, and gitsrc only reads. */
	git_libgit2_opts(GIT_OPT_SET_OWNER_VALIDATION, 0);
}

static int gitsrc_init(struct err *e)
{
	pthread_once(&gitsrc_once, gitsrc_init_once);
	if (gitsrc_init_rc < 0)
		return err_set(e, "cannot initialise libgit2");
	return 0;
}

/* ---- small helpers ---- */

static int gitsrc_rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	remove(p);
	return 0;
}

static void gitsrc_rm_rf(const char *dir)
{
	if (dir && *dir)
		nftw(dir, gitsrc_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* "https://user:pw@host/x" -> "https://host/x": locations end up in image labels. */
static char *gitsrc_url_public(const char *url)
{
	const char *p = strstr(url, "://"), *at, *end;

	if (!p || strncasecmp(url, "http", 4))
		return xstrdup(url);
	p += 3;
	end = p + strcspn(p, "/");
	at = memchr(p, '@', (size_t)(end - p));
	if (!at)
		return xstrdup(url);
	return xasprintf("%.*s%s", (int)(p - url), url, at + 1);
}

/* Normalises a context dir: strips "./", duplicate and trailing slashes; refuses "..". */
static int gitsrc_norm_ctx(const char *in, char **ret, struct err *e)
{
	struct buf b = BUF_INIT(GITSRC_PATH_MAX);
	const char *p = in ? in : "";
	int rc = 0;

	if (*p == '/')
		return err_set(e, "context dir '%s' must be relative", in);
	while (*p) {
		size_t n = strcspn(p, "/");

		if (n == 2 && !strncmp(p, "..", 2)) {
			buf_release(&b);
			return err_set(e, "context dir '%s' must not contain '..'", in);
		}
		if (n && !(n == 1 && *p == '.')) {
			if (b.len)
				rc |= buf_addch(&b, '/');
			rc |= buf_add(&b, p, n);
		}
		p += n;
		while (*p == '/')
			p++;
	}
	if (rc) {
		buf_release(&b);
		return err_set(e, "context dir too long");
	}
	*ret = buf_detach(&b, NULL);
	return 0;
}

/* ---- open ---- */

int gitsrc_open(const char *source, const struct gitsrc_opts *o, struct gitsrc **ret, struct err *e)
{
	static const struct gitsrc_opts defaults = GITSRC_OPTS_INIT;
	struct gitsrc *s;
	struct stat st;

	if (!o)
		o = &defaults;
	if (gitsrc_init(e) < 0)
		return -1;
	if (!source || !*source)
		return err_set(e, "no source given");
	s = xcalloc(1, sizeof(*s));
	s->source = xstrdup(source);
	s->ignore_submodules = o->ignore_submodules;
	s->known_hosts = o->known_hosts_file ? xstrdup(o->known_hosts_file) : NULL;
	s->ssh_key = o->ssh_key_file ? xstrdup(o->ssh_key_file) : NULL;
	s->token_user = o->token_user ? xstrdup(o->token_user) : NULL;
	s->modules_dir = xstrdup("");
	if (gitsrc_norm_ctx(o->context_dir, &s->ctx, e) < 0)
		goto fail;
	if (o->token && *o->token)
		s->token = xstrdup(o->token);
	else if (o->token_file && *o->token_file && gitsrc_read_token(o->token_file, &s->token, e) < 0)
		goto fail;

	if (o->mirror_dir || gitsrc_is_url(source)) {
		s->kind = GITSRC_REMOTE;
		s->url = xstrdup(source);
		if (o->mirror_dir) {
			s->path = xstrdup(o->mirror_dir);
			free(s->modules_dir);
			s->modules_dir = xasprintf("%s.modules", o->mirror_dir);
			if (gitsrc_mirror_open(s->path, &s->repo, e) < 0)
				goto fail;
		} else {
			const char *tmp = getenv("TMPDIR");

			s->tmpdir = xasprintf("%s/s2i-agent-git-XXXXXX", tmp && *tmp ? tmp : "/tmp");
			if (!mkdtemp(s->tmpdir)) {
				err_errno(e, "cannot create a temporary directory '%s'", s->tmpdir);
				free(s->tmpdir);
				s->tmpdir = NULL;
				goto fail;
			}
			s->path = xasprintf("%s/repo.git", s->tmpdir);
			free(s->modules_dir);
			s->modules_dir = xasprintf("%s/modules", s->tmpdir);
			if (git_repository_init(&s->repo, s->path, 1) < 0) {
				gitsrc_git_err(e, "cannot create '%s'%s", s->path, NULL);
				goto fail;
			}
		}
		*ret = s;
		return 0;
	}
	if (stat(source, &st) < 0) {
		err_errno(e, "cannot open source '%s'", source);
		goto fail;
	}
	if (!S_ISDIR(st.st_mode)) {
		err_set(e, "source '%s' is not a directory", source);
		goto fail;
	}
	s->path = realpath(source, NULL);
	if (!s->path) {
		err_errno(e, "cannot resolve source '%s'", source);
		goto fail;
	}
	if (git_repository_open_ext(&s->repo, s->path, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) == 0) {
		if (git_repository_is_bare(s->repo)) {
			s->kind = GITSRC_BARE;
		} else if (git_repository_head_unborn(s->repo) == 1 || git_repository_is_empty(s->repo) == 1) {
			/* no commit yet: like s2i, build the files as they are */
			git_repository_free(s->repo);
			s->repo = NULL;
			s->kind = GITSRC_PLAIN;
		} else
			s->kind = GITSRC_WORKTREE;
	} else
		s->kind = GITSRC_PLAIN;
	*ret = s;
	return 0;
fail:
	gitsrc_free(s);
	return -1;
}

/* ---- metadata ---- */

static void gitsrc_info_clear(struct gitsrc *s)
{
	free(s->ref);
	free(s->author);
	free(s->date);
	free(s->message);
	free(s->location);
	s->ref = s->author = s->date = s->message = s->location = NULL;
	s->id[0] = '\0';
	memset(&s->info, 0, sizeof(s->info));
}

static void gitsrc_info_fill(struct gitsrc *s)
{
	s->info.id = s->id;
	s->info.ref = s->ref ? s->ref : "";
	s->info.author = s->author ? s->author : "";
	s->info.date = s->date ? s->date : "";
	s->info.message = s->message ? s->message : "";
	s->info.location = s->location ? s->location : "";
}

/* git's default date format in the commit's own time zone. */
static char *gitsrc_date(git_time_t t, int offset)
{
	static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul",
		"Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t local = (time_t)(t + (git_time_t)offset * 60);
	struct tm tm;
	int off = offset < 0 ? -offset : offset;

	gmtime_r(&local, &tm);
	return xasprintf("%s %s %d %02d:%02d:%02d %d %c%02d%02d", days[tm.tm_wday], months[tm.tm_mon],
			 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, tm.tm_year + 1900,
			 offset < 0 ? '-' : '+', off / 60, off % 60);
}

/*
 * %<(80,trunc)%s: at most 80 columns, longer subjects cut to 78 + "..". The
 * subject is the pusher's text, and it goes to the build log, the pusher's
 * terminal through notify and an image label: its controls (an OSC setting
 * the title, a CSI clearing the screen, C1, bidi overrides) are shown as
 * escapes, after the cut so that an escape is never cut in two.
 */
static char *gitsrc_subject(const char *summary)
{
	size_t cols = 0, i, cut = 0, n;
	char *out;

	for (i = 0; summary[i]; i++) {
		if (((unsigned char)summary[i] & 0xC0) == 0x80)
			continue;
		if (cols == 78)
			cut = i;
		cols++;
	}
	n = cols <= 80 ? i : cut;
	out = xmalloc(CTLESC_MAX(n) + 2);
	n = ctlesc(out, CTLESC_MAX(n), summary, n, 0);
	if (cols > 80)
		memcpy(out + n, "..", 3);
	return out;
}

static char *gitsrc_origin_url(git_repository *repo)
{
	git_config *cfg = NULL;
	git_buf b = GIT_BUF_INIT;
	char *out = NULL;

	if (git_repository_config_snapshot(&cfg, repo) == 0 &&
	    git_config_get_string_buf(&b, cfg, "remote.origin.url") == 0 && b.ptr && *b.ptr)
		out = xstrdup(b.ptr);
	git_buf_dispose(&b);
	git_config_free(cfg);
	return out;
}

static int gitsrc_metadata(struct gitsrc *s, const char *refname, struct err *e)
{
	git_commit *c = NULL;
	const git_signature *a;
	const char *sum;
	char *origin;

	if (git_commit_lookup(&c, s->repo, &s->commit) < 0)
		return gitsrc_git_err(e, "cannot read commit %s%s", s->id, NULL);
	a = git_commit_author(c);
	s->author = xasprintf("%s <%s>", a->name ? a->name : "", a->email ? a->email : "");
	s->date = gitsrc_date(a->when.time, a->when.offset);
	s->info.time = (int64_t)git_commit_time(c);
	s->info.tz_minutes = git_commit_time_offset(c);
	sum = git_commit_summary(c);
	s->message = gitsrc_subject(sum ? sum : "");
	s->ref = xstrdup(refname ? refname : "HEAD");
	if (s->kind == GITSRC_REMOTE)
		s->location = gitsrc_url_public(s->url);
	else if ((origin = gitsrc_origin_url(s->repo))) {
		s->location = gitsrc_url_public(origin);
		free(origin);
	} else
		s->location = xstrdup(s->path);
	git_commit_free(c);
	return 0;
}

/* ---- resolve ---- */

int gitsrc_lock(const char *mirror, int *ret_fd, struct err *e)
{
	char *p = xasprintf("%s.lock", mirror);
	int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd < 0) {
		err_errno(e, "cannot open '%s'", p);
		free(p);
		return -1;
	}
	free(p);
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			close(fd);
			return err_errno(e, "cannot lock mirror '%s'", mirror);
		}
	}
	*ret_fd = fd;
	return 0;
}

static int gitsrc_check_ctx_plain(struct gitsrc *s, struct err *e)
{
	char *p;
	struct stat st;
	int rc = 0;

	if (!*s->ctx)
		return 0;
	p = xasprintf("%s/%s", s->path, s->ctx);
	if (lstat(p, &st) < 0)
		rc = err_errno(e, "context dir '%s' in '%s'", s->ctx, s->path);
	else if (!S_ISDIR(st.st_mode))
		rc = err_set(e, "context dir '%s' in '%s' is not a directory", s->ctx, s->path);
	free(p);
	return rc;
}

/* The short name of a ref for metadata. */
static char *gitsrc_shorthand(const char *full)
{
	if (!strncmp(full, "refs/heads/", 11))
		return xstrdup(full + 11);
	if (!strncmp(full, "refs/tags/", 10))
		return xstrdup(full + 10);
	if (!strncmp(full, "refs/remotes/", 13))
		return xstrdup(full + 13);
	if (!strncmp(full, "refs/s2i-agent/", 15))
		return xstrdup("HEAD");
	return xstrdup(full);
}

int gitsrc_resolve(struct gitsrc *s, const char *ref, const char *sha, struct err *e)
{
	git_object *obj = NULL, *peeled = NULL;
	git_oid want;
	int have_want = 0, lockfd = -1, rc = -1;
	char *local = NULL, *refname = NULL;
	git_commit *c = NULL;

	gitsrc_info_clear(s);
	gitsrc_subs_free(s);
	git_tree_free(s->tree);
	s->tree = NULL;
	s->resolved = 0;
	memset(&s->stats, 0, sizeof(s->stats));
	if (ref && !*ref)
		ref = NULL;
	if (sha && *sha) {
		if (gitsrc_hexlen(sha) != GIT_OID_HEXSZ || git_oid_fromstr(&want, sha) < 0)
			return err_set(e, "'%s' is not a full commit id", sha);
		have_want = 1;
	}
	if (s->kind == GITSRC_PLAIN) {
		if (ref || have_want)
			return err_set(e, "source '%s' is not a git repository: --ref cannot be used", s->path);
		if (gitsrc_check_ctx_plain(s, e) < 0)
			return -1;
		gitsrc_info_fill(s);
		s->resolved = 1;
		return 0;
	}
	if (s->kind == GITSRC_REMOTE) {
		if (!s->tmpdir && gitsrc_lock(s->path, &lockfd, e) < 0)
			return -1;
		if (gitsrc_fetch(s, s->repo, s->url, ref, have_want ? &want : NULL, &local, e) < 0)
			goto out;
	}
	if (have_want) {
		if (git_object_lookup(&obj, s->repo, &want, GIT_OBJECT_ANY) < 0) {
			gitsrc_git_err(e, "commit %s not found in '%s'", sha, s->kind == GITSRC_REMOTE ? s->url : s->path);
			goto out;
		}
		refname = ref ? gitsrc_shorthand(ref) : NULL;
	} else if (local) {
		git_reference *r = NULL;

		if (git_reference_lookup(&r, s->repo, local) < 0 ||
		    git_reference_peel(&obj, r, GIT_OBJECT_ANY) < 0) {
			git_reference_free(r);
			gitsrc_git_err(e, "cannot resolve '%s' in '%s'", local, s->path);
			goto out;
		}
		git_reference_free(r);
		refname = gitsrc_shorthand(local);
	} else if (s->kind == GITSRC_REMOTE) {
		/* a full sha that was already present */
		if (git_revparse_single(&obj, s->repo, ref) < 0) {
			gitsrc_git_err(e, "cannot resolve '%s' in '%s'", ref, s->url);
			goto out;
		}
		refname = xstrdup("HEAD");
	} else {
		git_reference *r = NULL;

		if (!ref) {
			if (git_repository_head(&r, s->repo) < 0) {
				gitsrc_git_err(e, "cannot resolve HEAD in '%s'%s", s->path, NULL);
				goto out;
			}
			refname = git_reference_is_branch(r) ? xstrdup(git_reference_shorthand(r)) : xstrdup("HEAD");
			if (git_reference_peel(&obj, r, GIT_OBJECT_ANY) < 0) {
				git_reference_free(r);
				gitsrc_git_err(e, "cannot resolve HEAD in '%s'%s", s->path, NULL);
				goto out;
			}
			git_reference_free(r);
		} else {
			if (git_reference_dwim(&r, s->repo, ref) == 0) {
				refname = xstrdup(git_reference_shorthand(r));
				git_reference_free(r);
			} else
				refname = xstrdup("HEAD");
			if (git_revparse_single(&obj, s->repo, ref) < 0) {
				gitsrc_git_err(e, "ref '%s' not found in '%s'", ref, s->path);
				goto out;
			}
		}
	}
	if (git_object_peel(&peeled, obj, GIT_OBJECT_COMMIT) < 0) {
		char hex[GIT_OID_HEXSZ + 1];

		git_oid_tostr(hex, sizeof(hex), git_object_id(obj));
		gitsrc_git_err(e, "'%s' (%s) is not a commit", ref ? ref : sha ? sha : "HEAD", hex);
		goto out;
	}
	git_oid_cpy(&s->commit, git_object_id(peeled));
	git_oid_tostr(s->id, sizeof(s->id), &s->commit);
	if (git_commit_lookup(&c, s->repo, &s->commit) < 0 || git_commit_tree(&s->tree, c) < 0) {
		gitsrc_git_err(e, "cannot read the tree of commit %s%s", s->id, NULL);
		goto out;
	}
	if (gitsrc_metadata(s, refname, e) < 0)
		goto out;
	if (!s->ignore_submodules) {
		char *origin = s->kind == GITSRC_REMOTE ? xstrdup(s->url) : gitsrc_origin_url(s->repo);

		if (gitsrc_subs_resolve(s, s->repo, s->tree, "", origin ? origin : s->path, 0, e) < 0) {
			free(origin);
			goto out;
		}
		free(origin);
	}
	if (*s->ctx) {
		struct gitsrc_loc l;
		int lr = gitsrc_locate(s, s->ctx, &l, e);

		if (lr < 0)
			goto out;
		if (lr > 0 || !l.tree) {
			gitsrc_loc_release(&l);
			err_set(e, "context dir '%s' is not a directory in commit %s", s->ctx, s->id);
			goto out;
		}
		gitsrc_loc_release(&l);
	}
	gitsrc_info_fill(s);
	s->resolved = 1;
	rc = 0;
out:
	if (rc < 0) {
		gitsrc_subs_free(s);
		gitsrc_info_clear(s);
		git_tree_free(s->tree);
		s->tree = NULL;
	}
	git_commit_free(c);
	git_object_free(obj);
	git_object_free(peeled);
	free(local);
	free(refname);
	if (lockfd >= 0)
		close(lockfd);
	return rc;
}

/* ---- accessors ---- */

enum gitsrc_kind gitsrc_kind(const struct gitsrc *s)
{
	return s->kind;
}

int gitsrc_is_git(const struct gitsrc *s)
{
	return s->kind != GITSRC_PLAIN;
}

const struct gitsrc_info *gitsrc_info(const struct gitsrc *s)
{
	return &s->info;
}

const struct gitsrc_fetch_stats *gitsrc_fetch_stats(const struct gitsrc *s)
{
	return &s->stats;
}

const char *gitsrc_path(const struct gitsrc *s)
{
	return s->path;
}

const char *gitsrc_context_dir(const struct gitsrc *s)
{
	return s->ctx;
}

void gitsrc_free(struct gitsrc *s)
{
	if (!s)
		return;
	gitsrc_subs_free(s);
	gitsrc_info_clear(s);
	git_tree_free(s->tree);
	git_repository_free(s->repo);
	if (s->tmpdir)
		gitsrc_rm_rf(s->tmpdir);
	if (s->token) {
		explicit_bzero(s->token, strlen(s->token));
		free(s->token);
	}
	free(s->tmpdir);
	free(s->modules_dir);
	free(s->source);
	free(s->path);
	free(s->url);
	free(s->ctx);
	free(s->known_hosts);
	free(s->ssh_key);
	free(s->token_user);
	free(s);
}
