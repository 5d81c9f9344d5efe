/* tarx: defensive tar extraction and filtering with libarchive. Owns every check
 * applied to tars that come back from containers; see tarx.h for the rules. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "tarx.h"

#define TARX_BLOCK	TAR_IO_BLOCK
#define TARX_NAME_MAX	4096	/* PATH_MAX: <limits.h> is shadowed by agent/limits.h */
#define TARX_COMP_MAX	255	/* NAME_MAX */

enum tarx_kind { TARX_DIR, TARX_REG, TARX_SYMLINK, TARX_HARDLINK };

/* A set of entry names (the symlinks seen so far). */
struct tarx_set {
	char **slots;
	size_t n, cap;
};

static uint64_t tarx_hash(const char *s, size_t len)
{
	uint64_t h = 1469598103934665603ull;

	while (len--)
		h = (h ^ (unsigned char)*s++) * 1099511628211ull;
	return h;
}

static int tarx_set_has(const struct tarx_set *s, const char *k, size_t len)
{
	size_t i;

	if (!s->cap)
		return 0;
	for (i = tarx_hash(k, len) & (s->cap - 1); s->slots[i]; i = (i + 1) & (s->cap - 1))
		if (strlen(s->slots[i]) == len && !memcmp(s->slots[i], k, len))
			return 1;
	return 0;
}

static void tarx_set_add(struct tarx_set *s, const char *k)
{
	size_t i, j, len = strlen(k);

	if (tarx_set_has(s, k, len))
		return;
	if ((s->n + 1) * 2 > s->cap) {
		struct tarx_set bigger = { NULL, 0, s->cap ? s->cap * 2 : 64 };

		bigger.slots = xcalloc(bigger.cap, sizeof(char *));
		for (j = 0; j < s->cap; j++) {
			if (!s->slots[j])
				continue;
			for (i = tarx_hash(s->slots[j], strlen(s->slots[j])) & (bigger.cap - 1); bigger.slots[i];
			     i = (i + 1) & (bigger.cap - 1))
				;
			bigger.slots[i] = s->slots[j];
		}
		bigger.n = s->n;
		free(s->slots);
		*s = bigger;
	}
	for (i = tarx_hash(k, len) & (s->cap - 1); s->slots[i]; i = (i + 1) & (s->cap - 1))
		;
	s->slots[i] = xstrdup(k);
	s->n++;
}

static void tarx_set_clear(struct tarx_set *s)
{
	size_t i;

	for (i = 0; i < s->cap; i++)
		free(s->slots[i]);
	free(s->slots);
	memset(s, 0, sizeof(*s));
}

/* ---- checks ---- */

struct tarx_check {
	struct tarx_opts o;
	uint64_t entries, bytes;
	struct tarx_set symlinks;
};

static void tarx_check_init(struct tarx_check *c, const struct tarx_opts *o)
{
	static const struct tarx_opts def = TARX_OPTS_INIT;

	memset(c, 0, sizeof(*c));
	c->o = o ? *o : def;
	if (!c->o.entry_max)
		c->o.entry_max = TAR_ENTRY_MAX;
	if (!c->o.total_max)
		c->o.total_max = TAR_TOTAL_MAX;
	if (!c->o.entries_max)
		c->o.entries_max = TAR_ENTRIES_MAX;
}

/* Splits a relative name into normalised components joined by '/' in out.
 * Refuses absolute names and ".."; out may end up empty ("." or "./"). */
static int tarx_normalise(const char *name, char *out, size_t n, struct err *e)
{
	const char *p = name, *q;
	size_t len = 0, cl;

	if (name[0] == '/')
		return err_set(e, "tar entry '%s': absolute path", name);
	out[0] = 0;
	while (*p) {
		q = p + strcspn(p, "/");
		cl = (size_t)(q - p);
		if (cl == 2 && p[0] == '.' && p[1] == '.')
			return err_set(e, "tar entry '%s': path leaves the destination", name);
		if (cl && !(cl == 1 && p[0] == '.')) {
			if (len + cl + 2 > n)
				return err_set(e, "tar entry '%.200s...': name too long", name);
			if (len)
				out[len++] = '/';
			memcpy(out + len, p, cl);
			len += cl;
			out[len] = 0;
		}
		p = *q ? q + 1 : q;
	}
	return 0;
}

int tarx_check_name(const char *name, char *out, size_t n, struct err *e)
{
	if (tarx_normalise(name, out, n, e) < 0)
		return -1;
	if (!out[0])
		return err_set(e, "tar entry '%s': empty name", name);
	return 0;
}

int tarx_check_symlink(const char *link, const char *target, struct err *e)
{
	const char *p = target, *q;
	long depth = 0;
	int descended = 0;
	size_t cl;

	if (!target[0])
		return err_set(e, "tar entry '%s': empty symlink target", link);
	if (target[0] == '/')
		return err_set(e, "tar entry '%s': symlink to an absolute path '%s'", link, target);
	for (q = link; *q; q++)	/* the link's directory depth */
		if (*q == '/')
			depth++;
	while (*p) {
		q = p + strcspn(p, "/");
		cl = (size_t)(q - p);
		if (cl == 2 && p[0] == '.' && p[1] == '.') {
			/* ".." after a descent could climb out of a symlinked directory */
			if (descended)
				return err_set(e, "tar entry '%s': symlink target '%s' has '..' after a name",
					       link, target);
			if (--depth < 0)
				return err_set(e, "tar entry '%s': symlink target '%s' leaves the destination",
					       link, target);
		} else if (cl && !(cl == 1 && p[0] == '.')) {
			descended = 1;
		}
		p = *q ? q + 1 : q;
	}
	return 0;
}

/* Applies strip/rename/prefix to a normalised name; *ret_skip when nothing is left. */
static int tarx_rename(const struct tarx_check *c, const char *raw, char *name, size_t n, int *ret_skip,
		       struct err *e)
{
	char tmp[TARX_NAME_MAX];
	const char *p = name;
	int i;
	size_t fl;

	*ret_skip = 0;
	for (i = 0; i < c->o.strip_components; i++) {
		p = strchr(p, '/');
		if (!p) {
			*ret_skip = 1;
			return 0;
		}
		p++;
	}
	snprintf(tmp, sizeof(tmp), "%s", p);
	if (c->o.rename_from && *c->o.rename_from) {
		fl = strlen(c->o.rename_from);
		if (!strncmp(tmp, c->o.rename_from, fl) && (tmp[fl] == '/' || !tmp[fl])) {
			const char *rest = tmp[fl] ? tmp + fl + 1 : "";
			const char *to = c->o.rename_to ? c->o.rename_to : "";
			char joined[TARX_NAME_MAX];

			if ((size_t)snprintf(joined, sizeof(joined), "%s%s%s", to, *to && *rest ? "/" : "", rest) >=
			    sizeof(joined))
				return err_set(e, "tar entry '%.200s': name too long", raw);
			if (tarx_normalise(joined, tmp, sizeof(tmp), e) < 0)
				return -1;
		}
	}
	if (c->o.prefix && *c->o.prefix) {
		char joined[TARX_NAME_MAX];

		if ((size_t)snprintf(joined, sizeof(joined), "%s/%s", c->o.prefix, tmp) >= sizeof(joined))
			return err_set(e, "tar entry '%.200s': name too long", raw);
		if (tarx_normalise(joined, tmp, sizeof(tmp), e) < 0)
			return -1;
	}
	if (!tmp[0]) {
		*ret_skip = 1;
		return 0;
	}
	if (strlen(tmp) >= n)
		return err_set(e, "tar entry '%.200s': name too long", raw);
	strcpy(name, tmp);
	return 0;
}

/* Does a parent directory of name pass through a symlink of this archive? */
static int tarx_under_symlink(const struct tarx_check *c, const char *name)
{
	const char *p;

	for (p = strchr(name, '/'); p; p = strchr(p + 1, '/'))
		if (tarx_set_has(&c->symlinks, name, (size_t)(p - name)))
			return 1;
	return 0;
}

/* Normalises, renames and checks one entry. Returns 0 (use name/link), 1 (skip)
 * or -1 (refused). */
static int tarx_check_entry(struct tarx_check *c, struct archive_entry *ae, char *name, char *link,
			    enum tarx_kind *ret_kind, struct err *e)
{
	const char *raw = archive_entry_pathname(ae), *hl = archive_entry_hardlink(ae);
	mode_t type = archive_entry_filetype(ae);
	int skip;
	int64_t size;

	if (!raw)
		return err_set(e, "tar entry without a name");
	if (++c->entries > c->o.entries_max)
		return err_set(e, "tar has more than %llu entries", (unsigned long long)c->o.entries_max);
	if (tarx_normalise(raw, name, TARX_NAME_MAX, e) < 0)
		return -1;
	if (!name[0])
		return 1;	/* "." or "./": the destination itself */
	if (tarx_rename(c, raw, name, TARX_NAME_MAX, &skip, e) < 0)
		return -1;
	if (skip)
		return 1;
	if (tarx_under_symlink(c, name))
		return err_set(e, "tar entry '%s': path goes through a symlink", raw);
	link[0] = 0;
	if (hl) {
		char tmp[TARX_NAME_MAX];

		if (tarx_normalise(hl, tmp, sizeof(tmp), e) < 0)
			return err_prefix(e, "hardlink '%s'", raw);
		if (!tmp[0] || tarx_rename(c, hl, tmp, sizeof(tmp), &skip, e) < 0 || skip)
			return err_set(e, "tar entry '%s': hardlink target '%s' is outside the extracted tree", raw, hl);
		if (tarx_set_has(&c->symlinks, tmp, strlen(tmp)) || tarx_under_symlink(c, tmp))
			return err_set(e, "tar entry '%s': hardlink to a symlink '%s'", raw, hl);
		strcpy(link, tmp);
		*ret_kind = TARX_HARDLINK;
		return 0;
	}
	switch (type) {
	case AE_IFDIR:
		*ret_kind = TARX_DIR;
		return 0;
	case AE_IFLNK: {
		const char *t = archive_entry_symlink(ae);

		if (!t || tarx_check_symlink(name, t, e) < 0)
			return t ? -1 : err_set(e, "tar entry '%s': symlink without target", raw);
		if (strlen(t) >= TARX_NAME_MAX)
			return err_set(e, "tar entry '%s': symlink target too long", raw);
		strcpy(link, t);
		tarx_set_add(&c->symlinks, name);
		*ret_kind = TARX_SYMLINK;
		return 0;
	}
	case AE_IFREG:
		size = archive_entry_size(ae);
		if (size < 0 || (uint64_t)size > c->o.entry_max)
			return err_set(e, "tar entry '%s': %lld bytes, more than the %llu allowed", raw,
				       (long long)size, (unsigned long long)c->o.entry_max);
		if (c->bytes + (uint64_t)size > c->o.total_max)
			return err_set(e, "tar entry '%s': the tar exceeds %llu bytes in total", raw,
				       (unsigned long long)c->o.total_max);
		c->bytes += (uint64_t)size;
		*ret_kind = TARX_REG;
		return 0;
	case AE_IFCHR:
	case AE_IFBLK:
		return err_set(e, "tar entry '%s': device node refused", raw);
	case AE_IFIFO:
		return err_set(e, "tar entry '%s': fifo refused", raw);
	case AE_IFSOCK:
		return err_set(e, "tar entry '%s': socket refused", raw);
	default:
		return err_set(e, "tar entry '%s': unsupported entry type %o", raw, (unsigned)type);
	}
}

/* ---- reading ---- */

struct tarx_src {
	tarx_read_fn rd;
	void *arg;
	char *block;
	struct err err;
	int failed;
};

static la_ssize_t tarx_src_read(struct archive *a, void *arg, const void **ret)
{
	struct tarx_src *s = arg;
	ssize_t n = s->rd(s->arg, s->block, TARX_BLOCK, &s->err);

	if (n < 0) {
		s->failed = 1;
		archive_set_error(a, EIO, "%s", s->err.msg);
		return -1;
	}
	*ret = s->block;
	return n;
}

static struct archive *tarx_reader(void)
{
	struct archive *a = archive_read_new();

	if (!a)
		abort();
	archive_read_support_format_tar(a);
	archive_read_support_format_empty(a);
	archive_read_support_filter_none(a);
	return a;
}

static int tarx_open_src(struct archive *a, struct tarx_src *s, tarx_read_fn rd, void *arg, struct err *e)
{
	s->rd = rd;
	s->arg = arg;
	s->block = xmalloc(TARX_BLOCK);
	if (archive_read_open(a, s, NULL, tarx_src_read, NULL) != ARCHIVE_OK)
		return err_set(e, "cannot read tar: %s", s->failed ? s->err.msg : archive_error_string(a));
	return 0;
}

/* The error of a failed libarchive read call: the source's message if it failed. */
static int tarx_read_error(struct archive *a, const struct tarx_src *s, struct err *e)
{
	if (s && s->failed)
		return err_set(e, "%s", s->err.msg);
	return err_set(e, "cannot read tar: %s", archive_error_string(a));
}

/* ---- extraction ---- */

/* Opens the directory that holds `name` below rootfd, creating missing
 * directories, never following a symlink. Returns an fd and points *ret_base at
 * the last component. */
static int tarx_open_parent(int rootfd, const char *name, const char **ret_base, struct err *e)
{
	char comp[TARX_COMP_MAX + 1];
	const char *p = name, *slash;
	int fd = dup(rootfd), next;

	if (fd < 0)
		return err_errno(e, "dup");
	while ((slash = strchr(p, '/'))) {
		size_t cl = (size_t)(slash - p);

		if (cl > TARX_COMP_MAX) {
			close(fd);
			return err_set(e, "tar entry '%s': component too long", name);
		}
		memcpy(comp, p, cl);
		comp[cl] = 0;
		next = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0 && errno == ENOENT) {
			if (mkdirat(fd, comp, 0755) < 0 && errno != EEXIST) {
				err_errno(e, "tar entry '%s': cannot create directory '%s'", name, comp);
				close(fd);
				return -1;
			}
			next = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		}
		if (next < 0) {
			if (errno == ELOOP || errno == ENOTDIR)
				err_set(e, "tar entry '%s': '%s' on disk is not a directory (symlink?)", name, comp);
			else
				err_errno(e, "tar entry '%s': cannot open directory '%s'", name, comp);
			close(fd);
			return -1;
		}
		close(fd);
		fd = next;
		p = slash + 1;
	}
	if (strlen(p) > TARX_COMP_MAX) {
		close(fd);
		return err_set(e, "tar entry '%s': component too long", name);
	}
	*ret_base = p;
	return fd;
}

/* Removes what is at dirfd/base unless it is a directory. */
static int tarx_make_room(int dirfd, const char *base, const char *name, struct err *e)
{
	struct stat st;

	if (fstatat(dirfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : err_errno(e, "tar entry '%s'", name);
	if (S_ISDIR(st.st_mode))
		return err_set(e, "tar entry '%s': a directory is in the way", name);
	if (unlinkat(dirfd, base, 0) < 0)
		return err_errno(e, "tar entry '%s': cannot replace", name);
	return 0;
}

static mode_t tarx_mode(const struct tarx_check *c, struct archive_entry *ae, mode_t def)
{
	if (c->o.drop_modes)
		return def;
	return archive_entry_perm(ae) & 01777;
}

static int tarx_extract_entry(struct archive *a, const struct tarx_src *src, struct tarx_check *c, int rootfd,
			      struct archive_entry *ae, const char *name, const char *link, enum tarx_kind kind,
			      struct err *e)
{
	const char *base, *lbase;
	int dirfd = -1, fd = -1, ldirfd = -1, rv = -1;
	struct stat st;
	const void *blk;
	size_t len;
	la_int64_t off;
	int r;

	dirfd = tarx_open_parent(rootfd, name, &base, e);
	if (dirfd < 0)
		return -1;
	switch (kind) {
	case TARX_DIR:
		if (mkdirat(dirfd, base, 0700) < 0) {
			if (errno != EEXIST) {
				err_errno(e, "tar entry '%s': cannot create directory", name);
				goto out;
			}
			if (fstatat(dirfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode)) {
				err_set(e, "tar entry '%s': something other than a directory is in the way", name);
				goto out;
			}
		}
		/* Keep the owner's rwx so later entries can be written into it. */
		if (fchmodat(dirfd, base, tarx_mode(c, ae, 0755) | 0700, 0) < 0) {
			err_errno(e, "tar entry '%s': chmod", name);
			goto out;
		}
		break;
	case TARX_REG:
		if (tarx_make_room(dirfd, base, name, e) < 0)
			goto out;
		fd = openat(dirfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0) {
			err_errno(e, "tar entry '%s': cannot create", name);
			goto out;
		}
		for (;;) {
			r = archive_read_data_block(a, &blk, &len, &off);
			if (r == ARCHIVE_EOF)
				break;
			if (r != ARCHIVE_OK) {
				tarx_read_error(a, src, e);
				err_prefix(e, "tar entry '%s'", name);
				goto out;
			}
			if (pwrite(fd, blk, len, off) != (ssize_t)len) {
				err_errno(e, "tar entry '%s': write", name);
				goto out;
			}
		}
		if (ftruncate(fd, archive_entry_size(ae)) < 0 || fchmod(fd, tarx_mode(c, ae, 0644)) < 0) {
			err_errno(e, "tar entry '%s'", name);
			goto out;
		}
		break;
	case TARX_SYMLINK:
		if (tarx_make_room(dirfd, base, name, e) < 0)
			goto out;
		if (symlinkat(link, dirfd, base) < 0) {
			err_errno(e, "tar entry '%s': cannot create symlink", name);
			goto out;
		}
		break;
	case TARX_HARDLINK:
		ldirfd = tarx_open_parent(rootfd, link, &lbase, e);
		if (ldirfd < 0)
			goto out;
		if (fstatat(ldirfd, lbase, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode)) {
			err_set(e, "tar entry '%s': hardlink target '%s' is not a file extracted before", name, link);
			goto out;
		}
		if (tarx_make_room(dirfd, base, name, e) < 0)
			goto out;
		if (linkat(ldirfd, lbase, dirfd, base, 0) < 0) {
			err_errno(e, "tar entry '%s': cannot link to '%s'", name, link);
			goto out;
		}
		break;
	}
	rv = 0;
out:
	if (fd >= 0)
		close(fd);
	if (ldirfd >= 0)
		close(ldirfd);
	close(dirfd);
	return rv;
}

static int tarx_extract_archive(struct archive *a, const struct tarx_src *src, const char *dir,
				const struct tarx_opts *o, struct tarx_stats *ret_stats, struct err *e)
{
	struct tarx_check c;
	struct archive_entry *ae;
	char *name = xmalloc(TARX_NAME_MAX), *link = xmalloc(TARX_NAME_MAX);
	enum tarx_kind kind = TARX_REG;
	int rootfd = -1, r, rv = -1;

	tarx_check_init(&c, o);
	rootfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0) {
		err_errno(e, "cannot open '%s'", dir);
		goto out;
	}
	for (;;) {
		r = archive_read_next_header(a, &ae);
		if (r == ARCHIVE_EOF)
			break;
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
			tarx_read_error(a, src, e);
			goto out;
		}
		r = tarx_check_entry(&c, ae, name, link, &kind, e);
		if (r < 0)
			goto out;
		if (r > 0)
			continue;
		if (tarx_extract_entry(a, src, &c, rootfd, ae, name, link, kind, e) < 0)
			goto out;
	}
	rv = 0;
out:
	if (ret_stats) {
		ret_stats->entries = c.entries;
		ret_stats->bytes = c.bytes;
	}
	if (rootfd >= 0)
		close(rootfd);
	tarx_set_clear(&c.symlinks);
	free(name);
	free(link);
	return rv;
}

int tarx_extract(tarx_read_fn rd, void *arg, const char *dir, const struct tarx_opts *o, struct tarx_stats *ret_stats,
		 struct err *e)
{
	struct archive *a = tarx_reader();
	struct tarx_src src = { 0 };
	int rv = -1;

	if (tarx_open_src(a, &src, rd, arg, e) == 0)
		rv = tarx_extract_archive(a, &src, dir, o, ret_stats, e);
	archive_read_free(a);
	free(src.block);
	return rv;
}

int tarx_extract_fd(int fd, const char *dir, const struct tarx_opts *o, struct tarx_stats *ret_stats, struct err *e)
{
	struct archive *a = tarx_reader();
	int rv = -1;

	if (archive_read_open_fd(a, fd, TARX_BLOCK) != ARCHIVE_OK)
		err_set(e, "cannot read tar: %s", archive_error_string(a));
	else
		rv = tarx_extract_archive(a, NULL, dir, o, ret_stats, e);
	archive_read_free(a);
	return rv;
}

/* ---- filter ---- */

struct tarx_filter {
	struct archive *in, *out;
	struct tarx_src src;
	struct tarx_check c;
	struct buf obuf;		/* clean tar bytes not yet read */
	size_t ooff;
	enum { TF_HEADER, TF_DATA, TF_CLOSED, TF_FAILED } state;
	char *name, *link;
	la_int64_t data_off, data_size;	/* current entry */
	struct err err;			/* the failure, repeated on later reads */
};

static la_ssize_t tarx_filter_out(struct archive *a, void *arg, const void *data, size_t len)
{
	struct tarx_filter *f = arg;

	(void)a;
	if (f->ooff == f->obuf.len) {
		buf_reset(&f->obuf);
		f->ooff = 0;
	}
	if (buf_add(&f->obuf, data, len) < 0)
		return -1;
	return (la_ssize_t)len;
}

int tarx_filter_open(tarx_read_fn rd, void *arg, const struct tarx_opts *o, struct tarx_filter **ret, struct err *e)
{
	struct tarx_filter *f = xcalloc(1, sizeof(*f));

	f->in = tarx_reader();
	tarx_check_init(&f->c, o);
	buf_init(&f->obuf, TAR_FILTER_BUFFER_MAX);
	f->name = xmalloc(TARX_NAME_MAX);
	f->link = xmalloc(TARX_NAME_MAX);
	f->out = archive_write_new();
	if (!f->out)
		abort();
	if (archive_write_set_format_pax_restricted(f->out) != ARCHIVE_OK ||
	    archive_write_add_filter_none(f->out) != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(f->out, 1) != ARCHIVE_OK ||
	    archive_write_open(f->out, f, NULL, tarx_filter_out, NULL) != ARCHIVE_OK) {
		err_set(e, "cannot start a tar: %s", archive_error_string(f->out));
		goto fail;
	}
	if (tarx_open_src(f->in, &f->src, rd, arg, e) < 0)
		goto fail;
	*ret = f;
	return 0;
fail:
	tarx_filter_free(f);
	return -1;
}

static int tarx_filter_write_entry(struct tarx_filter *f, struct archive_entry *ae, enum tarx_kind kind,
				   struct err *e)
{
	struct archive_entry *out = archive_entry_new();
	int rv = -1;

	if (!out)
		abort();
	archive_entry_set_pathname(out, f->name);
	archive_entry_set_perm(out, archive_entry_perm(ae) & 01777);
	archive_entry_set_mtime(out, archive_entry_mtime(ae), 0);
	if (f->c.o.set_owner) {
		archive_entry_set_uid(out, f->c.o.uid);
		archive_entry_set_gid(out, f->c.o.gid);
	} else {
		archive_entry_set_uid(out, archive_entry_uid(ae));
		archive_entry_set_gid(out, archive_entry_gid(ae));
		if (archive_entry_uname(ae))
			archive_entry_set_uname(out, archive_entry_uname(ae));
		if (archive_entry_gname(ae))
			archive_entry_set_gname(out, archive_entry_gname(ae));
	}
	switch (kind) {
	case TARX_DIR:
		archive_entry_set_filetype(out, AE_IFDIR);
		break;
	case TARX_REG:
		archive_entry_set_filetype(out, AE_IFREG);
		archive_entry_set_size(out, archive_entry_size(ae));
		break;
	case TARX_SYMLINK:
		archive_entry_set_filetype(out, AE_IFLNK);
		archive_entry_set_symlink(out, f->link);
		break;
	case TARX_HARDLINK:
		archive_entry_set_filetype(out, AE_IFREG);
		archive_entry_set_hardlink(out, f->link);
		archive_entry_set_size(out, 0);
		break;
	}
	if (archive_write_header(f->out, out) != ARCHIVE_OK) {
		err_set(e, "tar entry '%s': cannot write: %s", f->name, archive_error_string(f->out));
		goto out;
	}
	rv = 0;
out:
	archive_entry_free(out);
	return rv;
}

/* Writes zeros up to offset `to` of the current entry (holes of sparse files). */
static int tarx_filter_zeros(struct tarx_filter *f, la_int64_t to, struct err *e)
{
	static const char zeros[4096];

	while (f->data_off < to) {
		size_t n = to - f->data_off > (la_int64_t)sizeof(zeros) ? sizeof(zeros) : (size_t)(to - f->data_off);

		if (archive_write_data(f->out, zeros, n) != (la_ssize_t)n)
			return err_set(e, "tar entry '%s': cannot write: %s", f->name, archive_error_string(f->out));
		f->data_off += (la_int64_t)n;
	}
	return 0;
}

/* Advances the filter by one header or one data block. */
static int tarx_filter_step(struct tarx_filter *f, struct err *e)
{
	struct archive_entry *ae;
	enum tarx_kind kind = TARX_REG;
	const void *blk;
	size_t len;
	la_int64_t off;
	int r;

	if (f->state == TF_HEADER) {
		r = archive_read_next_header(f->in, &ae);
		if (r == ARCHIVE_EOF) {
			if (archive_write_close(f->out) != ARCHIVE_OK)
				return err_set(e, "cannot finish the tar: %s", archive_error_string(f->out));
			f->state = TF_CLOSED;
			return 0;
		}
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
			return tarx_read_error(f->in, &f->src, e);
		r = tarx_check_entry(&f->c, ae, f->name, f->link, &kind, e);
		if (r < 0)
			return -1;
		if (r > 0)
			return 0;
		if (tarx_filter_write_entry(f, ae, kind, e) < 0)
			return -1;
		if (kind == TARX_REG && archive_entry_size(ae) > 0) {
			f->state = TF_DATA;
			f->data_off = 0;
			f->data_size = archive_entry_size(ae);
		}
		return 0;
	}
	/* TF_DATA */
	r = archive_read_data_block(f->in, &blk, &len, &off);
	if (r == ARCHIVE_EOF) {
		/* a sparse file may end in a hole */
		if (tarx_filter_zeros(f, f->data_size, e) < 0)
			return -1;
		f->state = TF_HEADER;
		return 0;
	}
	if (r != ARCHIVE_OK) {
		tarx_read_error(f->in, &f->src, e);
		return err_prefix(e, "tar entry '%s'", f->name);
	}
	if (off < f->data_off || tarx_filter_zeros(f, off, e) < 0)
		return err_set(e, "tar entry '%s': bad data offset", f->name);
	f->data_off = off + (la_int64_t)len;
	if (archive_write_data(f->out, blk, len) != (la_ssize_t)len)
		return err_set(e, "tar entry '%s': cannot write: %s", f->name, archive_error_string(f->out));
	return 0;
}

ssize_t tarx_filter_read(void *arg, void *buf, size_t len, struct err *e)
{
	struct tarx_filter *f = arg;
	size_t n;

	for (;;) {
		if (f->state == TF_FAILED)
			return err_set(e, "%s", f->err.msg);
		if (f->ooff < f->obuf.len) {
			n = f->obuf.len - f->ooff;
			if (n > len)
				n = len;
			memcpy(buf, f->obuf.data + f->ooff, n);
			f->ooff += n;
			return (ssize_t)n;
		}
		if (f->state == TF_CLOSED)
			return 0;
		if (tarx_filter_step(f, &f->err) < 0) {
			f->state = TF_FAILED;
			return err_set(e, "%s", f->err.msg);
		}
	}
}

void tarx_filter_stats(const struct tarx_filter *f, struct tarx_stats *ret)
{
	ret->entries = f->c.entries;
	ret->bytes = f->c.bytes;
}

void tarx_filter_free(struct tarx_filter *f)
{
	if (!f)
		return;
	if (f->in)
		archive_read_free(f->in);
	if (f->out)
		archive_write_free(f->out);
	free(f->src.block);
	tarx_set_clear(&f->c.symlinks);
	buf_release(&f->obuf);
	free(f->name);
	free(f->link);
	free(f);
}

int tarx_filter(tarx_read_fn rd, void *rarg, tarx_write_fn wr, void *warg, const struct tarx_opts *o,
		struct tarx_stats *ret_stats, struct err *e)
{
	struct tarx_filter *f = NULL;
	char *block = NULL;
	ssize_t n;
	int rv = -1;

	if (tarx_filter_open(rd, rarg, o, &f, e) < 0)
		return -1;
	block = xmalloc(TARX_BLOCK);
	while ((n = tarx_filter_read(f, block, TARX_BLOCK, e)) > 0)
		if (wr(warg, block, (size_t)n, e) < 0)
			goto out;
	if (n == 0)
		rv = 0;
out:
	if (ret_stats)
		tarx_filter_stats(f, ret_stats);
	free(block);
	tarx_filter_free(f);
	return rv;
}

/* ---- one file ---- */

int tarx_read_file(tarx_read_fn rd, void *arg, const char *name, size_t max, struct buf *out, int *ret_found,
		   struct err *e)
{
	struct archive *a = tarx_reader();
	struct tarx_src src = { 0 };
	struct tarx_check c;
	struct archive_entry *ae;
	char want[TARX_NAME_MAX], *got = xmalloc(TARX_NAME_MAX), *link = xmalloc(TARX_NAME_MAX);
	enum tarx_kind kind = TARX_REG;
	const void *blk;
	size_t len;
	la_int64_t off;
	int r, rv = -1;

	*ret_found = 0;
	buf_reset(out);
	tarx_check_init(&c, NULL);
	if (tarx_check_name(name, want, sizeof(want), e) < 0 || tarx_open_src(a, &src, rd, arg, e) < 0)
		goto out;
	for (;;) {
		r = archive_read_next_header(a, &ae);
		if (r == ARCHIVE_EOF)
			break;
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
			tarx_read_error(a, &src, e);
			goto out;
		}
		r = tarx_check_entry(&c, ae, got, link, &kind, e);
		if (r < 0)
			goto out;
		if (r > 0 || strcmp(got, want) || *ret_found)
			continue;
		if (kind != TARX_REG) {
			err_set(e, "'%s' in the tar is not a regular file", name);
			goto out;
		}
		if ((uint64_t)archive_entry_size(ae) > max) {
			err_set(e, "'%s' is larger than %zu bytes", name, max);
			goto out;
		}
		buf_reset(out);
		while ((r = archive_read_data_block(a, &blk, &len, &off)) == ARCHIVE_OK) {
			if (off != (la_int64_t)out->len || out->len + len > max || buf_add(out, blk, len) < 0) {
				err_set(e, "'%s' is larger than %zu bytes or sparse", name, max);
				goto out;
			}
		}
		if (r != ARCHIVE_EOF) {
			tarx_read_error(a, &src, e);
			goto out;
		}
		*ret_found = 1;
	}
	rv = 0;
out:
	if (rv < 0) {
		*ret_found = 0;
		buf_reset(out);
	}
	archive_read_free(a);
	free(src.block);
	tarx_set_clear(&c.symlinks);
	free(got);
	free(link);
	return rv;
}
