/* s2i_inject: what a build adds to the builder container besides the source — the
 * environment (.s2i/environment, -e, -E) and the -i injections, emptied after assemble. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gitsrc.h"
#include "s2i_int.h"
#include "s2iparse.h"

/* The build environment in s2i's order: .s2i/environment, -e, then -E (s2i appends the
 * file's variables after the flags; the last of a name wins in the container). */
int s2i_build_env(struct s2i_ctx *c, struct err *e)
{
	struct buf b = BUF_INIT(S2I_ENV_FILE_MAX);
	size_t i;
	int rc;

	rc = gitsrc_read_file(c->src, ".s2i/environment", S2I_ENV_FILE_MAX, &b, NULL, e);
	if (rc < 0)
		return err_prefix(e, "cannot read .s2i/environment");
	if (rc == 0) {
		s2iparse_env(b.data, b.len, S2IPARSE_ENV_SOURCE, &c->env);
		s2i_step(c, S2I_LOG_STEP, "--> environment from .s2i/environment");
	}
	buf_release(&b);
	for (i = 0; i < c->o->env.n; i++)
		strv_push(&c->env, c->o->env.items[i]);
	if (c->o->environment_file) {
		if (s2i_read_local(c->o->environment_file, S2I_ENV_FILE_MAX, &b, e) < 0) {
			buf_release(&b);
			return err_prefix(e, "environment file");
		}
		s2iparse_env(b.data, b.len, S2IPARSE_ENV_FILE, &c->env);
		buf_release(&b);
	}
	return 0;
}

/* s2i's injections: a tar of the host files as they are owned there, files 0666 and
 * directories 0777 (so any assemble user can read and empty them), into the parent of
 * the destination; emptied in place after assemble. */
static void s2i_inject_opts(struct srctar_opts *so, int empty)
{
	*so = (struct srctar_opts)SRCTAR_OPTS_INIT;
	so->disk_owner = 1;
	so->file_mode = 0666;
	so->dir_mode = 0777;
	so->no_prefix_dirs = 1;
	so->empty_files = empty;
}

struct s2i_fill_inject {
	const char *src;	/* host path */
	const char *name;	/* entry name: of the file, or of the directory (its prefix) */
	int is_dir;
	const struct strv *names;	/* emptying: entry names ... */
	const struct strv *srcs;	/* ... and the host files they came from */
};

static int s2i_fill_inject(struct srctar *t, void *arg, struct err *e)
{
	struct s2i_fill_inject *f = arg;
	struct strv none = STRV_INIT;
	size_t i;

	if (f->names) {
		for (i = 0; i < f->names->n; i++)
			if (srctar_add_path(t, f->names->items[i], f->srcs->items[i], 0, e) < 0)
				return -1;
		return 0;
	}
	if (!f->is_dir)
		return srctar_add_path(t, f->name, f->src, 0, e);
	return srctar_add_dir(t, f->name, f->src, &none, e);
}

/* Lists the regular files under dir (relative names) for the truncation. */
static int s2i_list_files(const char *dir, const char *rel, struct strv *out, struct err *e)
{
	char *path = rel[0] ? xasprintf("%s/%s", dir, rel) : xstrdup(dir);
	struct dirent **ents = NULL;
	int n, i, rc = 0;

	n = scandir(path, &ents, NULL, alphasort);
	if (n < 0) {
		rc = err_errno(e, "cannot list '%s'", path);
		free(path);
		return rc;
	}
	for (i = 0; i < n; i++) {
		const char *nm = ents[i]->d_name;
		char *sub, *full;
		struct stat st;

		if (!strcmp(nm, ".") || !strcmp(nm, "..") || rc < 0) {
			free(ents[i]);
			continue;
		}
		sub = rel[0] ? xasprintf("%s/%s", rel, nm) : xstrdup(nm);
		full = xasprintf("%s/%s", dir, sub);
		if (lstat(full, &st) == 0) {
			if (S_ISDIR(st.st_mode))
				rc = s2i_list_files(dir, sub, out, e);
			else if (S_ISREG(st.st_mode))
				strv_push(out, sub);
		}
		free(full);
		free(sub);
		free(ents[i]);
	}
	free(ents);
	free(path);
	return rc;
}

static char *s2i_join(const char *dir, const char *rel)
{
	if (rel[0] == '/')
		return xstrdup(rel);
	if (!strcmp(rel, "."))
		return xstrdup(dir);
	return xasprintf("%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", rel);
}

/* -i SRC:DST: a file lands at DST, a directory's contents in DST (made when missing);
 * DST's parent must exist; relative DST is under the builder's WORKDIR, as in s2i. */
int s2i_inject(struct s2i_ctx *c, const char *id, struct err *e)
{
	const char *workdir = c->builder.workdir && *c->builder.workdir ? c->builder.workdir : "/";
	struct srctar_opts so;
	size_t i;

	s2i_inject_opts(&so, 0);
	for (i = 0; i < c->o->inject.n; i++) {
		struct s2i_fill_inject f = { NULL, NULL, 0, NULL, NULL };
		char *src = NULL, *dst = NULL, *abs = NULL, *dir = NULL, *slash;
		struct stat st;
		int rc = -1;

		if (s2iparse_mapping(c->o->inject.items[i], &src, &dst, e) < 0)
			goto next;
		abs = s2i_join(workdir, dst);
		while (strlen(abs) > 1 && abs[strlen(abs) - 1] == '/')
			abs[strlen(abs) - 1] = '\0';
		if (stat(src, &st) < 0) {
			err_errno(e, "injection '%s'", src);
			goto next;
		}
		f.src = src;
		slash = strrchr(abs, '/');
		dir = slash == abs ? xstrdup("/") : xstrndup(abs, (size_t)(slash - abs));
		f.name = slash + 1;
		if (S_ISDIR(st.st_mode)) {
			struct strv files = STRV_INIT;
			size_t j;

			if (s2i_list_files(src, "", &files, e) < 0) {
				strv_clear(&files);
				goto next;
			}
			for (j = 0; j < files.n; j++) {
				strv_pushf(&c->injected, "%s%s%s", abs, strcmp(abs, "/") ? "/" : "", files.items[j]);
				strv_pushf(&c->injected_src, "%s/%s", src, files.items[j]);
			}
			strv_clear(&files);
			f.is_dir = 1;
		} else if (S_ISREG(st.st_mode)) {
			if (!*f.name) {
				err_set(e, "injection '%s': '%s' is a directory", src, abs);
				goto next;
			}
			strv_push(&c->injected, abs);
			strv_push(&c->injected_src, src);
		} else {
			err_set(e, "injection '%s' is neither a file nor a directory", src);
			goto next;
		}
		rc = s2i_upload_opts(c, id, dir, &so, s2i_fill_inject, &f, e);
		if (rc < 0)
			err_prefix(e, "cannot inject '%s' into '%s'", src, abs);
		else
			s2i_step(c, S2I_LOG_STEP, "--> injected '%s' into '%s'", src, abs);
next:
		free(src);
		free(dst);
		free(abs);
		free(dir);
		if (rc < 0)
			return -1;
	}
	return 0;
}

/* After assemble: every injected file becomes empty (s2i truncates them so secrets do
 * not reach the image), written as zero-length files in place through the archive API
 * (the container has stopped; no shell or truncate binary needed), with the owner and
 * mode they were injected with. One upload per directory. */
int s2i_truncate_injected(struct s2i_ctx *c, const char *id, struct err *e)
{
	struct srctar_opts so;
	size_t i, j;
	char *done = xcalloc(c->injected.n + 1, 1);
	int rc = 0;

	s2i_inject_opts(&so, 1);
	for (i = 0; i < c->injected.n && rc == 0; i++) {
		struct strv names = STRV_INIT, srcs = STRV_INIT;
		struct s2i_fill_inject f = { NULL, NULL, 0, &names, &srcs };
		const char *p = c->injected.items[i], *slash = strrchr(p, '/');
		char *dir = slash == p ? xstrdup("/") : xstrndup(p, (size_t)(slash - p));

		if (done[i]) {
			free(dir);
			continue;
		}
		for (j = i; j < c->injected.n; j++) {
			const char *q = c->injected.items[j], *qs = strrchr(q, '/');
			size_t dl = slash == p ? 1 : (size_t)(slash - p);

			if (!done[j] && (size_t)(qs - q) == (slash == p ? 0 : dl) && !strncmp(q, p, dl)) {
				strv_push(&names, qs + 1);
				strv_push(&srcs, c->injected_src.items[j]);
				done[j] = 1;
			}
		}
		rc = s2i_upload_opts(c, id, dir, &so, s2i_fill_inject, &f, e);
		if (rc < 0)
			err_prefix(e, "cannot truncate injected files in '%s'", dir);
		free(dir);
		strv_clear(&names);
		strv_clear(&srcs);
	}
	free(done);
	return rc;
}
