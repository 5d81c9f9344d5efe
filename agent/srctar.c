/* srctar: writes the upload tar with libarchive from git trees, directories and memory,
 * plus the thread bridge that turns the pushed stream into a readable fd. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "limits.h"
#include "srcignore.h"
#include "srctar.h"

struct srctar {
	struct archive *a;
	struct archive_entry *ent;
	srctar_write_fn fn;
	void *ctx;
	uid_t uid;
	gid_t gid;
	int64_t mtime;
	int disk_owner, no_prefix_dirs, empty_files;
	unsigned file_mode, dir_mode;
	uint64_t bytes;
	int failed;
	int write_errno;
	struct strv dirs;	/* directories added by name (prefixes, parents of files) */
	char *chunk;
};

struct srctar_excl {
	regex_t *re;
	size_t n;
};

/* ---- libarchive plumbing ---- */

static la_ssize_t srctar_write_cb(struct archive *a, void *cd, const void *p, size_t n)
{
	struct srctar *t = cd;

	if (t->fn(t->ctx, p, n) < 0) {
		t->write_errno = errno ? errno : EIO;
		archive_set_error(a, t->write_errno, "cannot write the tar: %s", strerror(t->write_errno));
		return -1;
	}
	t->bytes += n;
	return (la_ssize_t)n;
}

static int srctar_aerr(struct srctar *t, struct err *e, const char *what, const char *name)
{
	const char *msg = archive_error_string(t->a);

	t->failed = 1;
	if (t->write_errno)
		return err_set(e, "%s '%s': cannot write the tar: %s", what, name, strerror(t->write_errno));
	return err_set(e, "%s '%s': %s", what, name, msg ? msg : "libarchive error");
}

int srctar_new(srctar_write_fn fn, void *ctx, const struct srctar_opts *o, struct srctar **ret,
	       struct err *e)
{
	static const struct srctar_opts defaults = SRCTAR_OPTS_INIT;
	struct srctar *t;

	if (!o)
		o = &defaults;
	t = xcalloc(1, sizeof(*t));
	t->fn = fn;
	t->ctx = ctx;
	t->uid = o->uid;
	t->gid = o->gid;
	t->mtime = o->mtime ? o->mtime : (int64_t)time(NULL);
	t->disk_owner = o->disk_owner;
	t->file_mode = o->file_mode & 07777;
	t->dir_mode = o->dir_mode & 07777;
	t->no_prefix_dirs = o->no_prefix_dirs;
	t->empty_files = o->empty_files;
	t->dirs = (struct strv)STRV_INIT;
	t->a = archive_write_new();
	t->ent = archive_entry_new();
	if (!t->a || !t->ent) {
		srctar_free(t);
		return err_set(e, "cannot create a tar writer");
	}
	if (archive_write_set_format_pax_restricted(t->a) != ARCHIVE_OK ||
	    archive_write_set_bytes_per_block(t->a, 10240) != ARCHIVE_OK ||
	    archive_write_open2(t->a, t, NULL, srctar_write_cb, NULL, NULL) != ARCHIVE_OK) {
		err_set(e, "cannot start the tar: %s", archive_error_string(t->a));
		srctar_free(t);
		return -1;
	}
	t->chunk = xmalloc(GITSRC_CHUNK);
	*ret = t;
	return 0;
}

uint64_t srctar_bytes(const struct srctar *t)
{
	return t->bytes;
}

void srctar_free(struct srctar *t)
{
	if (!t)
		return;
	if (t->a)
		archive_write_free(t->a);	/* closes; an unfinished stream stays truncated */
	archive_entry_free(t->ent);
	strv_clear(&t->dirs);
	free(t->chunk);
	free(t);
}

int srctar_finish(struct srctar *t, struct err *e)
{
	if (t->failed)
		return err_set(e, "the tar has already failed");
	if (archive_write_close(t->a) != ARCHIVE_OK)
		return srctar_aerr(t, e, "cannot finish", "tar");
	t->failed = 1;	/* nothing may follow the end of the archive */
	return 0;
}

/* ---- names ---- */

/* Joins prefix and rel into a clean relative name; -1 on "..", absolute or too long. */
static int srctar_name(const char *prefix, const char *rel, struct buf *out, struct err *e)
{
	const char *parts[2] = { prefix ? prefix : "", rel ? rel : "" };
	int i;

	buf_reset(out);
	for (i = 0; i < 2; i++) {
		const char *p = parts[i];

		while (*p) {
			size_t n = strcspn(p, "/");

			if (n == 2 && !strncmp(p, "..", 2))
				return err_set(e, "name '%s%s%s' contains '..'", parts[0], *parts[0] ? "/" : "", parts[1]);
			if (n && !(n == 1 && *p == '.')) {
				if ((out->len && buf_addch(out, '/') < 0) || buf_add(out, p, n) < 0)
					return err_set(e, "name '%s/%s' is too long", parts[0], parts[1]);
			}
			p += n;
			while (*p == '/')
				p++;
		}
	}
	return 0;
}

static int srctar_has_dir(const struct srctar *t, const char *name)
{
	size_t i;

	for (i = 0; i < t->dirs.n; i++)
		if (!strcmp(t->dirs.items[i], name))
			return 1;
	return 0;
}

/* st: the file on disk the entry comes from (NULL for others), for the disk options. */
static int srctar_header(struct srctar *t, const char *name, unsigned mode, uint64_t size,
			 const char *link, int64_t mtime, const struct stat *st, struct err *e)
{
	struct archive_entry *ae = t->ent;

	if (t->failed)
		return err_set(e, "cannot add '%s': the tar has already failed or is finished", name);
	if (st && S_ISREG(mode) && t->file_mode)
		mode = S_IFREG | t->file_mode;
	if (st && S_ISDIR(mode) && t->dir_mode)
		mode = S_IFDIR | t->dir_mode;
	archive_entry_clear(ae);
	archive_entry_set_pathname(ae, name);
	archive_entry_set_mode(ae, (mode_t)mode);
	archive_entry_set_uid(ae, st && t->disk_owner ? st->st_uid : t->uid);
	archive_entry_set_gid(ae, st && t->disk_owner ? st->st_gid : t->gid);
	archive_entry_set_mtime(ae, (time_t)(mtime ? mtime : t->mtime), 0);
	if (S_ISREG(mode))
		archive_entry_set_size(ae, (la_int64_t)size);
	else
		archive_entry_set_size(ae, 0);
	if (link)
		archive_entry_set_symlink(ae, link);
	if (archive_write_header(t->a, ae) != ARCHIVE_OK)
		return srctar_aerr(t, e, "cannot add", name);
	return 0;
}

static int srctar_data(struct srctar *t, const char *name, const void *p, size_t n, struct err *e)
{
	const char *c = p;

	while (n > 0) {
		la_ssize_t w = archive_write_data(t->a, c, n);

		if (w <= 0)
			return srctar_aerr(t, e, "cannot write", name);
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Adds name's parent directories (and name itself when self) that are not there yet. */
static int srctar_parents(struct srctar *t, const char *name, int self, struct err *e)
{
	char *tmp = xstrdup(name), *p = tmp;
	int rc = 0;

	for (;;) {
		char *slash = strchr(p, '/');

		if (!slash && !self)
			break;
		if (slash)
			*slash = '\0';
		if (*tmp && !srctar_has_dir(t, tmp)) {
			rc = srctar_header(t, tmp, S_IFDIR | 0755, 0, NULL, 0, NULL, e);
			if (rc < 0)
				break;
			strv_push(&t->dirs, tmp);
		}
		if (!slash)
			break;
		*slash = '/';
		p = slash + 1;
	}
	free(tmp);
	return rc;
}

/* ---- excludes ---- */

static int srctar_excl_init(struct srctar_excl *x, const struct strv *exclude, struct err *e)
{
	static const char *const def[] = { SRCTAR_DEFAULT_EXCLUDE, NULL };
	const char *const *pats = exclude ? (const char *const *)exclude->items : def;
	size_t i, n = exclude ? exclude->n : 1;

	x->n = 0;
	x->re = n ? xcalloc(n, sizeof(*x->re)) : NULL;
	for (i = 0; i < n; i++) {
		int rc;

		if (!pats[i][0])
			continue;
		rc = regcomp(&x->re[x->n], pats[i], REG_EXTENDED | REG_NOSUB);
		if (rc != 0) {
			char msg[256];

			regerror(rc, &x->re[x->n], msg, sizeof(msg));
			while (x->n > 0)
				regfree(&x->re[--x->n]);
			free(x->re);
			x->re = NULL;
			return err_set(e, "invalid exclude pattern '%s': %s", pats[i], msg);
		}
		x->n++;
	}
	return 0;
}

static void srctar_excl_release(struct srctar_excl *x)
{
	while (x->n > 0)
		regfree(&x->re[--x->n]);
	free(x->re);
	x->re = NULL;
}

/* 1 when rel is excluded (or is/contains a .git component). */
static int srctar_excluded(const struct srctar_excl *x, const char *rel)
{
	const char *base = strrchr(rel, '/');
	size_t i;

	base = base ? base + 1 : rel;
	if (!strcmp(base, ".git"))
		return 1;
	for (i = 0; i < x->n; i++)
		if (regexec(&x->re[i], rel, 0, NULL, 0) == 0)
			return 1;
	return 0;
}

int srctar_check_exclude(const struct strv *exclude, struct err *e)
{
	struct srctar_excl x;

	if (srctar_excl_init(&x, exclude, e) < 0)
		return -1;
	srctar_excl_release(&x);
	return 0;
}

/* ---- memory and single files ---- */

int srctar_add_dirent(struct srctar *t, const char *name, unsigned mode, struct err *e)
{
	struct buf b = BUF_INIT(GITSRC_PATH_MAX);
	int rc = -1;

	if (srctar_name(NULL, name, &b, e) < 0)
		goto out;
	if (!b.len) {
		rc = 0;
		goto out;
	}
	if (srctar_parents(t, b.data, 0, e) < 0)
		goto out;
	if (!srctar_has_dir(t, b.data)) {
		if (srctar_header(t, b.data, S_IFDIR | (mode & 07777), 0, NULL, 0, NULL, e) < 0)
			goto out;
		strv_push(&t->dirs, b.data);
	}
	rc = 0;
out:
	buf_release(&b);
	return rc;
}

int srctar_add_file(struct srctar *t, const char *name, unsigned mode, const void *data,
		    size_t len, struct err *e)
{
	struct buf b = BUF_INIT(GITSRC_PATH_MAX);
	int rc = -1;

	if (srctar_name(NULL, name, &b, e) < 0)
		goto out;
	if (!b.len) {
		err_set(e, "empty file name");
		goto out;
	}
	if (srctar_parents(t, b.data, 0, e) < 0 ||
	    srctar_header(t, b.data, S_IFREG | (mode & 07777), len, NULL, 0, NULL, e) < 0 ||
	    srctar_data(t, b.data, data, len, e) < 0)
		goto out;
	rc = 0;
out:
	buf_release(&b);
	return rc;
}

/* ---- another tar's entries ---- */

struct srctar_in {
	srctar_read_fn rd;
	void *arg;
	char *buf;
	int failed;		/* the reader failed: its message is in e */
	struct err e;
};

static la_ssize_t srctar_in_read(struct archive *a, void *cd, const void **p)
{
	struct srctar_in *in = cd;
	ssize_t n = in->rd(in->arg, in->buf, GITSRC_CHUNK, &in->e);

	if (n < 0) {
		in->failed = 1;
		archive_set_error(a, EIO, "%s", in->e.msg);
		return -1;
	}
	*p = in->buf;
	return (la_ssize_t)n;
}

int srctar_add_tar(struct srctar *t, srctar_read_fn rd, void *arg, int *ret_read_failed,
		   struct err *e)
{
	struct srctar_in in = { rd, arg, NULL, 0, ERR_INIT };
	struct archive *a = archive_read_new();
	struct archive_entry *ae;
	const char *name = "tar";
	int r, rc = -1;

	*ret_read_failed = 0;
	if (!a)
		return err_set(e, "cannot create a tar reader");
	in.buf = xmalloc(GITSRC_CHUNK);
	archive_read_support_format_tar(a);
	if (archive_read_open(a, &in, NULL, srctar_in_read, NULL) != ARCHIVE_OK)
		goto read_failed;
	while ((r = archive_read_next_header(a, &ae)) == ARCHIVE_OK) {
		la_ssize_t n;

		name = archive_entry_pathname(ae);
		if (t->failed) {
			err_set(e, "cannot add '%s': the tar has already failed or is finished", name);
			goto out;
		}
		if (archive_write_header(t->a, ae) != ARCHIVE_OK) {
			srctar_aerr(t, e, "cannot add", name);
			goto out;
		}
		while ((n = archive_read_data(a, t->chunk, GITSRC_CHUNK)) > 0)
			if (srctar_data(t, name, t->chunk, (size_t)n, e) < 0)
				goto out;
		if (n < 0)
			goto read_failed;
	}
	if (r == ARCHIVE_EOF) {
		rc = 0;
		goto out;
	}
read_failed:
	*ret_read_failed = 1;
	if (in.failed)
		*e = in.e;
	else
		err_set(e, "cannot read the tar at '%s': %s", name,
			archive_error_string(a) ? archive_error_string(a) : "libarchive error");
out:
	archive_read_free(a);
	free(in.buf);
	return rc;
}

/* Streams exactly size bytes of fd; a file that shrinks is an error. */
static int srctar_copy_fd(struct srctar *t, const char *name, int fd, uint64_t size, struct err *e)
{
	uint64_t done = 0;

	while (done < size) {
		size_t want = size - done > GITSRC_CHUNK ? GITSRC_CHUNK : (size_t)(size - done);
		ssize_t n = read(fd, t->chunk, want);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			t->failed = 1;
			return err_errno(e, "cannot read '%s'", name);
		}
		if (n == 0) {
			t->failed = 1;
			return err_set(e, "'%s' shrank while it was added to the tar", name);
		}
		if (srctar_data(t, name, t->chunk, (size_t)n, e) < 0)
			return -1;
		done += (uint64_t)n;
	}
	return 0;
}

int srctar_add_path(struct srctar *t, const char *name, const char *path, unsigned mode,
		    struct err *e)
{
	struct buf b = BUF_INIT(GITSRC_PATH_MAX);
	struct stat st;
	int fd, rc = -1;

	fd = xopen_regular(path, O_NOFOLLOW | O_NONBLOCK, &st, e);
	if (fd < 0)
		return -1;
	if (srctar_name(NULL, name, &b, e) < 0)
		goto out;
	if (!b.len) {
		err_set(e, "empty file name for '%s'", path);
		goto out;
	}
	if (t->empty_files)
		st.st_size = 0;
	if (srctar_parents(t, b.data, 0, e) < 0 ||
	    srctar_header(t, b.data, S_IFREG | (mode ? mode & 07777 : st.st_mode & 07777),
			  (uint64_t)st.st_size, NULL, (int64_t)st.st_mtime, &st, e) < 0 ||
	    srctar_copy_fd(t, b.data, fd, (uint64_t)st.st_size, e) < 0)
		goto out;
	rc = 0;
out:
	buf_release(&b);
	close(fd);
	return rc;
}

/* ---- directories on disk ---- */

struct srctar_walk {
	struct srctar *t;
	const char *prefix;
	struct srctar_excl excl;
	const struct srcignore *ignore;	/* the source's .s2iignore; NULL for other dirs */
	struct buf rel;		/* relative to the directory added */
	struct buf name;	/* in the tar */
	char *linkbuf;
};

static int srctar_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int srctar_walk_dir(struct srctar_walk *w, int dfd, int depth, struct err *e)
{
	struct strv names = STRV_INIT;
	DIR *d;
	struct dirent *de;
	size_t i, mark = w->rel.len;
	int rc = 0;

	if (depth > SRCTAR_DEPTH_MAX) {
		close(dfd);
		return err_set(e, "directories nested deeper than %d at '%s'", SRCTAR_DEPTH_MAX, w->rel.data);
	}
	d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return err_errno(e, "cannot read directory '%s'", w->rel.len ? w->rel.data : ".");
	}
	errno = 0;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (names.n >= SRCTAR_DIR_ENTRIES_MAX) {
			rc = err_set(e, "more than %d entries in '%s'", SRCTAR_DIR_ENTRIES_MAX, w->rel.data);
			goto out;
		}
		strv_push(&names, de->d_name);
	}
	if (names.n)
		qsort(names.items, names.n, sizeof(char *), srctar_cmp);
	for (i = 0; i < names.n && rc == 0; i++) {
		const char *nm = names.items[i];
		struct stat st;

		w->rel.len = mark;
		w->rel.data[mark] = '\0';
		if ((mark && buf_addch(&w->rel, '/') < 0) || buf_addstr(&w->rel, nm) < 0) {
			rc = err_set(e, "path too long under '%s'", w->rel.data);
			break;
		}
		if (srctar_excluded(&w->excl, w->rel.data) ||
		    (w->ignore && srcignore_match(w->ignore, w->rel.data)))
			continue;
		if (fstatat(dirfd(d), nm, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT)
				continue;	/* vanished meanwhile */
			rc = err_errno(e, "cannot stat '%s'", w->rel.data);
			break;
		}
		if (srctar_name(w->prefix, w->rel.data, &w->name, e) < 0) {
			rc = -1;
			break;
		}
		if (S_ISDIR(st.st_mode)) {
			int sub;

			rc = srctar_header(w->t, w->name.data, S_IFDIR | (st.st_mode & 07777), 0, NULL,
					   (int64_t)st.st_mtime, &st, e);
			if (rc < 0)
				break;
			sub = openat(dirfd(d), nm, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub < 0) {
				rc = err_errno(e, "cannot open directory '%s'", w->rel.data);
				break;
			}
			rc = srctar_walk_dir(w, sub, depth + 1, e);
		} else if (S_ISREG(st.st_mode)) {
			int fd = openat(dirfd(d), nm, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
			struct stat fst;

			if (fd < 0) {
				rc = err_errno(e, "cannot open '%s'", w->rel.data);
				break;
			}
			if (fstat(fd, &fst) < 0 || !S_ISREG(fst.st_mode)) {
				close(fd);
				rc = err_set(e, "'%s' changed while it was added to the tar", w->rel.data);
				break;
			}
			if (w->t->empty_files)
				fst.st_size = 0;
			rc = srctar_header(w->t, w->name.data, S_IFREG | (fst.st_mode & 07777),
					   (uint64_t)fst.st_size, NULL, (int64_t)fst.st_mtime, &fst, e);
			if (rc == 0)
				rc = srctar_copy_fd(w->t, w->name.data, fd, (uint64_t)fst.st_size, e);
			close(fd);
		} else if (S_ISLNK(st.st_mode)) {
			ssize_t n = readlinkat(dirfd(d), nm, w->linkbuf, GITSRC_PATH_MAX - 1);

			if (n < 0) {
				rc = err_errno(e, "cannot read link '%s'", w->rel.data);
				break;
			}
			if (n >= GITSRC_PATH_MAX - 1) {
				rc = err_set(e, "link target of '%s' is too long", w->rel.data);
				break;
			}
			w->linkbuf[n] = '\0';
			rc = srctar_header(w->t, w->name.data, S_IFLNK | 0777, 0, w->linkbuf,
					   (int64_t)st.st_mtime, &st, e);
		}
		/* sockets, fifos and devices are not source */
	}
out:
	w->rel.len = mark;
	w->rel.data[mark] = '\0';
	strv_clear(&names);
	closedir(d);
	return rc;
}

/* Opens rel (a context dir) below dir, component by component, never following links. */
static int srctar_open_below(const char *dir, const char *rel, struct err *e)
{
	char *tmp = xstrdup(rel ? rel : ""), *p = tmp, *save = NULL, *c;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0) {
		free(tmp);
		return err_errno(e, "cannot open directory '%s'", dir);
	}
	for (c = strtok_r(p, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		int nfd;

		if (!strcmp(c, "."))
			continue;
		if (!strcmp(c, "..")) {
			close(fd);
			err_set(e, "'%s' must not contain '..'", rel);
			free(tmp);
			return -1;
		}
		nfd = openat(fd, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		close(fd);
		if (nfd < 0) {
			err_errno(e, "cannot open '%s' in '%s'", rel, dir);
			free(tmp);
			return -1;
		}
		fd = nfd;
	}
	free(tmp);
	return fd;
}

static int srctar_add_tree_fd(struct srctar *t, const char *prefix, const char *dir, const char *sub,
			      const struct strv *exclude, const struct srcignore *ignore, struct err *e)
{
	struct srctar_walk w;
	struct buf pre = BUF_INIT(GITSRC_PATH_MAX);
	int dfd, rc;

	if (t->failed)
		return err_set(e, "cannot add '%s': the tar has already failed or is finished", dir);
	if (srctar_name(NULL, prefix, &pre, e) < 0)
		return -1;
	memset(&w, 0, sizeof(w));
	if (srctar_excl_init(&w.excl, exclude, e) < 0) {
		buf_release(&pre);
		return -1;
	}
	dfd = srctar_open_below(dir, sub, e);
	if (dfd < 0) {
		srctar_excl_release(&w.excl);
		buf_release(&pre);
		return -1;
	}
	w.t = t;
	w.prefix = pre.data;
	w.ignore = ignore;
	buf_init(&w.rel, GITSRC_PATH_MAX);
	buf_init(&w.name, GITSRC_PATH_MAX);
	w.linkbuf = xmalloc(GITSRC_PATH_MAX);
	rc = pre.len && !t->no_prefix_dirs ? srctar_parents(t, pre.data, 1, e) : 0;
	if (rc == 0)
		rc = srctar_walk_dir(&w, dfd, 0, e);
	else
		close(dfd);
	if (rc < 0)
		err_prefix(e, "'%s'", dir);
	free(w.linkbuf);
	buf_release(&w.rel);
	buf_release(&w.name);
	buf_release(&pre);
	srctar_excl_release(&w.excl);
	return rc;
}

int srctar_add_dir(struct srctar *t, const char *prefix, const char *dir,
		   const struct strv *exclude, struct err *e)
{
	return srctar_add_tree_fd(t, prefix, dir, NULL, exclude, NULL, e);
}

/* ---- git trees ---- */

struct srctar_git {
	struct srctar *t;
	struct gitsrc *src;
	const char *prefix;
	struct srctar_excl excl;
	const struct srcignore *ignore;
	struct buf name;
	int64_t mtime;
};

static int srctar_git_sink(void *ctx, const void *p, size_t n, struct err *e)
{
	struct srctar_git *g = ctx;

	return srctar_data(g->t, g->name.data, p, n, e);
}

static int srctar_git_entry(void *ctx, const struct gitsrc_entry *ent, struct err *e)
{
	struct srctar_git *g = ctx;

	if (srctar_excluded(&g->excl, ent->path) || srcignore_match(g->ignore, ent->path))
		return S_ISDIR(ent->mode) ? 1 : 0;
	if (srctar_name(g->prefix, ent->path, &g->name, e) < 0)
		return -1;
	if (srctar_header(g->t, g->name.data, ent->mode, ent->size, ent->link, g->mtime, NULL, e) < 0)
		return -1;
	if (S_ISREG(ent->mode) && ent->size > 0 &&
	    gitsrc_entry_read(g->src, ent, srctar_git_sink, g, e) < 0) {
		g->t->failed = 1;
		return -1;
	}
	return 0;
}

/* The source's .s2iignore (srcignore.h), read as the source holds it. */
static int srctar_read_ignore(struct gitsrc *src, struct srcignore *ret, struct err *e)
{
	struct buf text = BUF_INIT(SRCIGNORE_FILE_MAX);
	int rc = gitsrc_read_file(src, SRCIGNORE_FILE, SRCIGNORE_FILE_MAX, &text, NULL, e);

	if (rc == 0)
		srcignore_parse(text.data, text.len, ret);
	buf_release(&text);
	return rc < 0 ? err_prefix(e, "cannot read '%s'", SRCIGNORE_FILE) : 0;
}

int srctar_add_source(struct srctar *t, const char *prefix, struct gitsrc *src,
		      const struct strv *exclude, struct err *e)
{
	struct srcignore ig = SRCIGNORE_INIT;
	struct srctar_git g;
	struct buf pre = BUF_INIT(GITSRC_PATH_MAX);
	int rc;

	if (srctar_read_ignore(src, &ig, e) < 0)
		return -1;
	if (!gitsrc_is_git(src)) {
		rc = srctar_add_tree_fd(t, prefix, gitsrc_path(src), gitsrc_context_dir(src), exclude,
					&ig, e);
		srcignore_release(&ig);
		return rc;
	}
	if (t->failed) {
		srcignore_release(&ig);
		return err_set(e, "cannot add the source: the tar has already failed or is finished");
	}
	if (srctar_name(NULL, prefix, &pre, e) < 0) {
		srcignore_release(&ig);
		return -1;
	}
	memset(&g, 0, sizeof(g));
	if (srctar_excl_init(&g.excl, exclude, e) < 0) {
		srcignore_release(&ig);
		buf_release(&pre);
		return -1;
	}
	g.ignore = &ig;
	g.t = t;
	g.src = src;
	g.prefix = pre.data;
	g.mtime = gitsrc_info(src)->time;
	buf_init(&g.name, GITSRC_PATH_MAX);
	rc = pre.len && !t->no_prefix_dirs ? srctar_parents(t, pre.data, 1, e) : 0;
	if (rc == 0)
		rc = gitsrc_walk(src, srctar_git_entry, &g, e);
	if (rc < 0)
		t->failed = 1;
	buf_release(&g.name);
	buf_release(&pre);
	srctar_excl_release(&g.excl);
	srcignore_release(&ig);
	return rc;
}

/* ---- the pull bridge ---- */

struct srctar_pipe {
	pthread_t thread;
	int rfd, wfd;
	struct srctar_opts opts;
	srctar_fill_fn fill;
	void *ctx;
	int rc;
	struct err err;
};

static int srctar_pipe_write(void *ctx, const void *p, size_t n)
{
	struct srctar_pipe *sp = ctx;

	return xsend_full(sp->wfd, p, n);
}

static void *srctar_pipe_main(void *arg)
{
	struct srctar_pipe *sp = arg;
	struct srctar *t = NULL;
	int rc;

	rc = srctar_new(srctar_pipe_write, sp, &sp->opts, &t, &sp->err);
	if (rc == 0)
		rc = sp->fill(t, sp->ctx, &sp->err);
	if (rc == 0)
		rc = srctar_finish(t, &sp->err);
	srctar_free(t);
	sp->rc = rc < 0 ? -1 : 0;
	/* EOF for the reader (a failed tar is truncated: the engine rejects it) */
	shutdown(sp->wfd, SHUT_WR);
	close(sp->wfd);
	sp->wfd = -1;
	return NULL;
}

int srctar_pipe_start(const struct srctar_opts *o, srctar_fill_fn fill, void *ctx,
		      int *ret_fd, struct srctar_pipe **ret, struct err *e)
{
	static const struct srctar_opts defaults = SRCTAR_OPTS_INIT;
	struct srctar_pipe *sp;
	int sv[2], rc;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return err_errno(e, "cannot create the tar socket pair");
	sp = xcalloc(1, sizeof(*sp));
	sp->rfd = sv[0];
	sp->wfd = sv[1];
	sp->opts = o ? *o : defaults;
	sp->fill = fill;
	sp->ctx = ctx;
	shutdown(sp->rfd, SHUT_WR);
	rc = pthread_create(&sp->thread, NULL, srctar_pipe_main, sp);
	if (rc != 0) {
		close(sv[0]);
		close(sv[1]);
		free(sp);
		errno = rc;
		return err_errno(e, "cannot start the tar writer thread");
	}
	*ret_fd = sp->rfd;
	*ret = sp;
	return 0;
}

int srctar_pipe_finish(struct srctar_pipe *p, struct err *e)
{
	int rc;

	if (!p)
		return 0;
	shutdown(p->rfd, SHUT_RDWR);	/* a writer still sending gets EPIPE */
	pthread_join(p->thread, NULL);
	close(p->rfd);
	rc = p->rc;
	if (rc < 0)
		err_set(e, "%s", p->err.msg);
	free(p);
	return rc;
}
