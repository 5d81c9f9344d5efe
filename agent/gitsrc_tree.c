/* gitsrc_tree: reading the resolved source: paths located across submodules, the tree
 * walked below the context dir, file contents streamed, single files read. */

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <git2.h>

#include "gitsrc_int.h"
#include "limits.h"

void gitsrc_loc_release(struct gitsrc_loc *l)
{
	git_tree_free(l->tree);
	git_tree_entry_free(l->te);
	memset(l, 0, sizeof(*l));
}

/* 0 found, 1 absent, -1 error. path is from the top of the repository. */
int gitsrc_locate(struct gitsrc *s, const char *path, struct gitsrc_loc *l, struct err *e)
{
	struct buf full = BUF_INIT(GITSRC_PATH_MAX);
	const char *p = path;
	int rc = 1;

	memset(l, 0, sizeof(*l));
	l->repo = s->repo;
	if (git_tree_dup(&l->tree, s->tree) < 0)
		return gitsrc_git_err(e, "cannot read tree%s%s", "", NULL);
	while (*p) {
		size_t n = strcspn(p, "/");
		git_tree_entry *te;
		char comp[256];

		if (n == 0) {
			p++;
			continue;
		}
		if (n >= sizeof(comp) || !l->tree)
			goto out;
		memcpy(comp, p, n);
		comp[n] = '\0';
		if (full.len)
			buf_addch(&full, '/');
		buf_add(&full, p, n);
		p += n;
		if (git_tree_entry_bypath(&te, l->tree, comp) < 0)
			goto out;
		if (git_tree_entry_filemode(te) == GIT_FILEMODE_TREE) {
			git_tree *sub = NULL;

			if (git_tree_lookup(&sub, l->repo, git_tree_entry_id(te)) < 0) {
				git_tree_entry_free(te);
				rc = gitsrc_git_err(e, "cannot read tree '%s'%s", full.data, NULL);
				goto out;
			}
			git_tree_entry_free(te);
			git_tree_free(l->tree);
			l->tree = sub;
		} else if (git_tree_entry_filemode(te) == GIT_FILEMODE_COMMIT) {
			struct gitsrc_sub *sm = gitsrc_sub_find(s, full.data);

			git_tree_entry_free(te);
			git_tree_free(l->tree);
			l->tree = NULL;
			if (!sm)
				goto out;
			l->repo = sm->repo;
			if (git_tree_dup(&l->tree, sm->tree) < 0) {
				rc = gitsrc_git_err(e, "cannot read tree '%s'%s", full.data, NULL);
				goto out;
			}
		} else {
			git_tree_free(l->tree);
			l->tree = NULL;
			l->te = te;
			while (*p == '/')
				p++;
			if (*p) {	/* a path below a file */
				gitsrc_loc_release(l);
				goto out;
			}
		}
	}
	rc = 0;
out:
	buf_release(&full);
	if (rc != 0)
		gitsrc_loc_release(l);
	return rc;
}

/* ---- walking ---- */

struct gitsrc_walker {
	struct gitsrc *s;
	gitsrc_walk_fn fn;
	void *ctx;
	struct buf full;	/* path from the top (submodule lookup) */
	size_t rel;		/* offset of the path relative to the context dir in full */
	int64_t count;
};

static int gitsrc_walk_tree(struct gitsrc_walker *w, git_repository *repo, git_tree *tree,
			    struct err *e)
{
	size_t i, n = git_tree_entrycount(tree), mark = w->full.len;
	git_odb *odb = NULL;
	int rc = 0;

	if (git_repository_odb(&odb, repo) < 0)
		return gitsrc_git_err(e, "cannot open the object database%s%s", "", NULL);
	for (i = 0; i < n && rc == 0; i++) {
		const git_tree_entry *te = git_tree_entry_byindex(tree, i);
		const char *name = git_tree_entry_name(te);
		git_filemode_t fm = git_tree_entry_filemode(te);
		struct gitsrc_entry ent;
		struct gitsrc_blob blob;
		git_tree *sub = NULL;
		git_repository *subrepo = repo;
		char *link = NULL;

		w->full.len = mark;
		w->full.data[mark] = '\0';
		if ((w->full.len && buf_addch(&w->full, '/') < 0) || buf_addstr(&w->full, name) < 0) {
			rc = err_set(e, "path too long under '%s'", w->full.data);
			break;
		}
		memset(&ent, 0, sizeof(ent));
		ent.path = w->full.data + w->rel;
		blob.repo = repo;
		git_oid_cpy(&blob.oid, git_tree_entry_id(te));
		ent.priv = &blob;
		switch (fm) {
		case GIT_FILEMODE_TREE:
		case GIT_FILEMODE_COMMIT:
			ent.mode = S_IFDIR | 0755;
			rc = w->fn(w->ctx, &ent, e);
			if (rc != 0) {
				rc = rc == 1 ? 0 : -1;
				continue;
			}
			if (fm == GIT_FILEMODE_TREE) {
				if (git_tree_lookup(&sub, repo, git_tree_entry_id(te)) < 0) {
					rc = gitsrc_git_err(e, "cannot read tree '%s'%s", w->full.data, NULL);
					break;
				}
			} else {
				struct gitsrc_sub *sm = w->s->ignore_submodules ? NULL :
							gitsrc_sub_find(w->s, w->full.data);

				if (!sm)
					continue;	/* ignored or unknown gitlink: empty dir */
				subrepo = sm->repo;
				if (git_tree_dup(&sub, sm->tree) < 0) {
					rc = gitsrc_git_err(e, "cannot read tree '%s'%s", w->full.data, NULL);
					break;
				}
			}
			rc = gitsrc_walk_tree(w, subrepo, sub, e);
			git_tree_free(sub);
			break;
		case GIT_FILEMODE_BLOB:
		case GIT_FILEMODE_BLOB_EXECUTABLE: {
			size_t len;
			git_object_t type;

			if (git_odb_read_header(&len, &type, odb, &blob.oid) < 0) {
				rc = gitsrc_git_err(e, "cannot read '%s'%s", w->full.data, NULL);
				break;
			}
			ent.mode = S_IFREG | (fm == GIT_FILEMODE_BLOB_EXECUTABLE ? 0755 : 0644);
			ent.size = len;
			rc = w->fn(w->ctx, &ent, e) < 0 ? -1 : 0;
			break;
		}
		case GIT_FILEMODE_LINK: {
			git_blob *b = NULL;
			git_object_size_t sz;

			if (git_blob_lookup(&b, repo, &blob.oid) < 0) {
				rc = gitsrc_git_err(e, "cannot read link '%s'%s", w->full.data, NULL);
				break;
			}
			sz = git_blob_rawsize(b);
			if (sz >= GITSRC_PATH_MAX) {
				git_blob_free(b);
				rc = err_set(e, "link target of '%s' is too long", w->full.data);
				break;
			}
			link = xstrndup(git_blob_rawcontent(b), (size_t)sz);
			git_blob_free(b);
			ent.mode = S_IFLNK | 0777;
			ent.size = strlen(link);
			ent.link = link;
			rc = w->fn(w->ctx, &ent, e) < 0 ? -1 : 0;
			free(link);
			break;
		}
		default:
			break;
		}
	}
	w->full.len = mark;
	w->full.data[mark] = '\0';
	git_odb_free(odb);
	return rc;
}

int gitsrc_walk(struct gitsrc *s, gitsrc_walk_fn fn, void *ctx, struct err *e)
{
	struct gitsrc_walker w;
	struct gitsrc_loc l;
	int rc;

	if (s->kind == GITSRC_PLAIN)
		return err_set(e, "source '%s' is not a git repository", s->path);
	if (!s->resolved)
		return err_set(e, "source '%s' has not been resolved", s->source);
	rc = gitsrc_locate(s, s->ctx, &l, e);
	if (rc != 0 || !l.tree) {
		gitsrc_loc_release(&l);
		return rc < 0 ? -1 : err_set(e, "context dir '%s' is not a directory in commit %s", s->ctx, s->id);
	}
	memset(&w, 0, sizeof(w));
	w.s = s;
	w.fn = fn;
	w.ctx = ctx;
	buf_init(&w.full, GITSRC_PATH_MAX);
	buf_addstr(&w.full, s->ctx);
	w.rel = *s->ctx ? strlen(s->ctx) + 1 : 0;
	rc = gitsrc_walk_tree(&w, l.repo, l.tree, e);
	buf_release(&w.full);
	gitsrc_loc_release(&l);
	return rc;
}

int gitsrc_entry_read(struct gitsrc *s, const struct gitsrc_entry *ent, gitsrc_sink_fn sink,
		      void *ctx, struct err *e)
{
	const struct gitsrc_blob *b = ent->priv;
	git_odb *odb = NULL;
	git_odb_stream *st = NULL;
	git_object_t type;
	size_t len;
	uint64_t done = 0;
	int rc = -1;

	(void)s;
	if (!S_ISREG(ent->mode) || !b)
		return err_set(e, "'%s' is not a regular file", ent->path);
	if (ent->size >= GITSRC_STREAM_MIN) {
		int r = gitsrc_pack_stream(b->repo, &b->oid, ent->size, ent->path, sink, ctx, e);

		if (r <= 0)
			return r;
	}
	if (git_repository_odb(&odb, b->repo) < 0)
		return gitsrc_git_err(e, "cannot open the object database for '%s'%s", ent->path, NULL);
	if (git_odb_open_rstream(&st, &len, &type, odb, &b->oid) == 0) {
		char *chunk = xmalloc(GITSRC_CHUNK);

		if (len != ent->size) {
			err_set(e, "'%s' changed size while reading", ent->path);
			free(chunk);
			goto out;
		}
		while (done < len) {
			int n = git_odb_stream_read(st, chunk, GITSRC_CHUNK);

			if (n < 0) {
				gitsrc_git_err(e, "cannot read '%s'%s", ent->path, NULL);
				free(chunk);
				goto out;
			}
			if (n == 0)
				break;
			if ((uint64_t)n > len - done)
				n = (int)(len - done);
			if (sink(ctx, chunk, (size_t)n, e) < 0) {
				free(chunk);
				goto out;
			}
			done += (uint64_t)n;
		}
		free(chunk);
	} else {
		git_odb_object *o = NULL;
		const char *data;

		if (git_odb_read(&o, odb, &b->oid) < 0) {
			gitsrc_git_err(e, "cannot read '%s'%s", ent->path, NULL);
			goto out;
		}
		len = git_odb_object_size(o);
		data = git_odb_object_data(o);
		if (len != ent->size) {
			git_odb_object_free(o);
			err_set(e, "'%s' changed size while reading", ent->path);
			goto out;
		}
		while (done < len) {
			size_t n = len - done > GITSRC_CHUNK ? GITSRC_CHUNK : (size_t)(len - done);

			if (sink(ctx, data + done, n, e) < 0) {
				git_odb_object_free(o);
				goto out;
			}
			done += n;
		}
		git_odb_object_free(o);
	}
	if (done != ent->size) {
		err_set(e, "'%s': short read (%llu of %llu bytes)", ent->path, (unsigned long long)done,
			(unsigned long long)ent->size);
		goto out;
	}
	rc = 0;
out:
	if (st)
		git_odb_stream_free(st);
	git_odb_free(odb);
	return rc;
}

/* ---- single files ---- */

static int gitsrc_read_disk(struct gitsrc *s, const char *rel, size_t max, struct buf *out,
			    unsigned *ret_mode, struct err *e)
{
	int dfd, fd = -1, rc = -1;
	char *path = *s->ctx ? xasprintf("%s/%s", s->ctx, rel) : xstrdup(rel);
	char *p = path, *slash;
	struct stat st;

	dfd = open(s->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		err_errno(e, "cannot open '%s'", s->path);
		free(path);
		return -1;
	}
	/* component by component, never following a link */
	while ((slash = strchr(p, '/'))) {
		int nfd;

		*slash = '\0';
		if (*p && strcmp(p, ".")) {
			if (!strcmp(p, "..")) {
				rc = 1;
				goto out;
			}
			nfd = openat(dfd, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (nfd < 0) {
				rc = (errno == ENOENT || errno == ENOTDIR || errno == ELOOP) ? 1 :
					err_errno(e, "cannot open '%s/%s'", s->path, path);
				goto out;
			}
			close(dfd);
			dfd = nfd;
		}
		p = slash + 1;
	}
	fd = openat(dfd, p, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		rc = (errno == ENOENT || errno == ENOTDIR || errno == ELOOP) ? 1 :
			err_errno(e, "cannot open '%s' in '%s'", rel, s->path);
		goto out;
	}
	if (fstat(fd, &st) < 0) {
		err_errno(e, "cannot stat '%s'", rel);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = 1;
		goto out;
	}
	if ((uint64_t)st.st_size > max) {
		err_set(e, "'%s' is larger than %zu bytes", rel, max);
		goto out;
	}
	for (;;) {
		char chunk[8192];
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err_errno(e, "cannot read '%s'", rel);
			goto out;
		}
		if (n == 0)
			break;
		if (buf_add(out, chunk, (size_t)n) < 0) {
			err_set(e, "'%s' is larger than %zu bytes", rel, max);
			goto out;
		}
	}
	if (ret_mode)
		*ret_mode = (st.st_mode & 0111) ? 0755 : 0644;
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	close(dfd);
	free(path);
	return rc;
}

int gitsrc_read_file(struct gitsrc *s, const char *path, size_t max, struct buf *out,
		     unsigned *ret_mode, struct err *e)
{
	struct gitsrc_loc l;
	git_blob *b = NULL;
	char *full;
	int rc;
	git_filemode_t fm;

	if (!s->resolved)
		return err_set(e, "source '%s' has not been resolved", s->source);
	if (s->kind == GITSRC_PLAIN)
		return gitsrc_read_disk(s, path, max, out, ret_mode, e);
	full = *s->ctx ? xasprintf("%s/%s", s->ctx, path) : xstrdup(path);
	rc = gitsrc_locate(s, full, &l, e);
	free(full);
	if (rc != 0)
		return rc;
	if (!l.te) {
		gitsrc_loc_release(&l);
		return 1;
	}
	fm = git_tree_entry_filemode(l.te);
	if (fm != GIT_FILEMODE_BLOB && fm != GIT_FILEMODE_BLOB_EXECUTABLE) {
		gitsrc_loc_release(&l);
		return 1;
	}
	if (git_blob_lookup(&b, l.repo, git_tree_entry_id(l.te)) < 0) {
		gitsrc_loc_release(&l);
		return gitsrc_git_err(e, "cannot read '%s'%s", path, NULL);
	}
	rc = 0;
	if (git_blob_rawsize(b) > max)
		rc = err_set(e, "'%s' is larger than %zu bytes", path, max);
	else if (buf_add(out, git_blob_rawcontent(b), (size_t)git_blob_rawsize(b)) < 0)
		rc = err_set(e, "'%s' does not fit in %zu bytes", path, out->max);
	else if (ret_mode)
		*ret_mode = fm == GIT_FILEMODE_BLOB_EXECUTABLE ? 0755 : 0644;
	git_blob_free(b);
	gitsrc_loc_release(&l);
	return rc;
}
