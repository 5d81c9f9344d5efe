/* s2i_dockerfile: --as-dockerfile PATH, the build written as a Dockerfile and its context
 * (upload/src, upload/scripts beside it) for BuildKit, buildah or kaniko, as s2i does. */
/* The same image as our build, as far as a Dockerfile can say it: FROM the builder, the
 * labels and environment of the build, the source and scripts owned by the assemble
 * user under the destination, assemble run as that user, the run script as CMD and the
 * builder's USER back. RUN and CMD are in exec form, like our image's Cmd (s2i writes
 * shell form, which needs /bin/sh). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "s2i_int.h"
#include "tarx.h"

int s2i_dockerfile_check(const struct s2i_opts *o, struct err *e)
{
	const char *what = o->incremental ? "--incremental" : o->runtime_image ? "--runtime-image" :
			   o->inject.n ? "--inject" : o->build_env.n || o->build_env_file ? "--build-env" :
			   o->build_secrets.n ? "--build-secret" : o->push ? "--push" : NULL;

	if (!o->as_dockerfile || !*o->as_dockerfile)
		return err_set(e, "--as-dockerfile needs a path");
	if (what)
		return err_set(e, "--as-dockerfile cannot write what %s does", what);
	return 0;
}

/* A Dockerfile string: in double quotes, with '\', '"' and '$' (which LABEL and ENV
 * would expand) escaped. -1 for a newline, which no instruction can hold. */
static int s2i_df_quote(struct buf *b, const char *s, size_t n)
{
	size_t i;

	buf_addch(b, '"');
	for (i = 0; i < n; i++) {
		if (s[i] == '\n' || s[i] == '\r')
			return -1;
		if (s[i] == '\\' || s[i] == '"' || s[i] == '$')
			buf_addch(b, '\\');
		buf_addch(b, s[i]);
	}
	buf_addch(b, '"');
	return 0;
}

/* INSTR "k"="v" \ ... for "k=v" items */
static int s2i_df_pairs(struct buf *b, const char *instr, const struct strv *kv, struct err *e)
{
	size_t i;

	for (i = 0; i < kv->n; i++) {
		const char *p = kv->items[i], *eq = strchr(p, '=');

		if (!eq)
			continue;
		if (i)
			buf_addstr(b, " \\\n      ");
		else
			buf_addf(b, "%s ", instr);
		/* ENV names are plain words (checked); LABEL keys may hold anything */
		if (!strcmp(instr, "ENV"))
			buf_add(b, p, (size_t)(eq - p));
		if (!strcmp(instr, "ENV") || s2i_df_quote(b, p, (size_t)(eq - p)) == 0) {
			buf_addch(b, '=');
			if (s2i_df_quote(b, eq + 1, strlen(eq + 1)) == 0)
				continue;
		}
		return err_set(e, "%s '%.*s': a value with a line break cannot go into a "
			       "Dockerfile", instr, (int)(eq - p), p);
	}
	if (kv->n)
		buf_addch(b, '\n');
	return 0;
}

/* ["path"] */
static void s2i_df_exec(struct buf *b, const char *instr, const char *path)
{
	buf_addf(b, "%s [", instr);
	s2i_df_quote(b, path, strlen(path));
	buf_addstr(b, "]\n");
}

static int s2i_df_text(struct s2i_ctx *c, struct buf *b, struct err *e)
{
	const struct engine_image *img = &c->builder;
	struct strv labels = STRV_INIT;
	char *assemble = s2i_script_path(c, SC_ASSEMBLE, c->dest);
	char *run = s2i_script_path(c, SC_RUN, c->dest);
	int rc = -1, i;

	s2i_labels(c, &labels);
	buf_addstr(b, "# written by s2i-agent build --as-dockerfile\nFROM ");
	buf_addstr(b, c->o->builder);
	buf_addch(b, '\n');
	if (s2i_df_pairs(b, "LABEL", &labels, e) < 0 || s2i_df_pairs(b, "ENV", &c->env, e) < 0)
		goto out;
	buf_addf(b, "# the source and the scripts, owned by the assemble user\n"
		 "COPY --chown=%ld:%ld upload/src %s/src\n", c->uid, c->gid, c->dest);
	/* as s2i: scripts/ only when a script is not in the image */
	for (i = 0; i < SC_N; i++)
		if (c->scripts[i].found && !c->scripts[i].in_image && i != SC_ASSEMBLE_RUNTIME) {
			buf_addf(b, "COPY --chown=%ld:%ld upload/scripts %s/scripts\n", c->uid,
				 c->gid, c->dest);
			break;
		}
	buf_addf(b, "USER %s\n", *c->user ? c->user : "0");
	s2i_df_exec(b, "RUN", assemble);
	if (img->user && *img->user && strcmp(img->user, c->user))
		buf_addf(b, "USER %s\n", img->user);
	s2i_df_exec(b, "CMD", run);
	rc = 0;
out:
	strv_clear(&labels);
	free(assemble);
	free(run);
	return rc;
}

/* mkdir -p of the Dockerfile's directory */
static int s2i_df_mkdirs(const char *dir, struct err *e)
{
	char *p = xstrdup(dir), *s;
	int rc = 0;

	for (s = p + 1; rc == 0; s++) {
		char ch = *s;

		if (ch && ch != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			rc = err_errno(e, "cannot create '%s'", p);
		*s = ch;
		if (!ch)
			break;
	}
	free(p);
	return rc;
}

int s2i_dockerfile(struct s2i_ctx *c, struct err *e)
{
	const struct s2i_opts *o = c->o;
	struct s2i_fill_main f = { c, 0, NULL, 0, ERR_INIT };
	struct srctar_opts so = SRCTAR_OPTS_INIT;
	struct tarx_opts xo = TARX_OPTS_INIT;
	struct srctar_pipe *pipe = NULL;
	struct buf text = BUF_INIT(S2I_DOCKERFILE_MAX);
	struct err we = ERR_INIT;
	char *dir = xstrdup(o->as_dockerfile), *slash, *upload = NULL, *id = NULL;
	int fd = -1, rc = -1, wfd;

	slash = strrchr(dir, '/');
	if (slash == dir)
		dir[1] = '\0';
	else if (slash)
		*slash = '\0';
	else
		strcpy(dir, ".");
	/* a named user is looked up in the image's /etc/passwd, through a container that
	 * never starts */
	if (strspn(c->user, "0123456789:") != strlen(c->user) &&
	    s2i_create(c, c->builder.id, c->user, NULL, NULL, &id, e) < 0)
		goto out;
	if (s2i_resolve_user(c, id, c->user, &c->uid, &c->gid, e) < 0) {
		err_prefix(e, "builder image '%s'", o->builder);
		goto out;
	}
	if (s2i_df_text(c, &text, e) < 0 || s2i_df_mkdirs(dir, e) < 0)
		goto out;
	upload = xasprintf("%s/upload", dir);
	if (mkdir(upload, 0755) < 0) {
		err_errno(e, "cannot create '%s'%s", upload,
			  errno == EEXIST ? " (the context of an earlier --as-dockerfile? remove it)" : "");
		goto out;
	}
	s2i_step(c, S2I_LOG_STEP, "--> writing the context into %s", upload);
	so.uid = (uid_t)c->uid;
	so.gid = (gid_t)c->gid;
	xo.entry_max = xo.total_max = S2I_DOCKERFILE_CONTEXT_MAX;
	if (srctar_pipe_start(&so, s2i_fill_main, &f, &fd, &pipe, e) < 0)
		goto out;
	rc = tarx_extract_fd(fd, upload, &xo, NULL, e);
	if (srctar_pipe_finish(pipe, &we) < 0 && rc == 0) {
		*e = we;
		rc = -1;
	}
	if (rc < 0) {
		err_prefix(e, "cannot write the context into '%s'", upload);
		goto out;
	}
	rc = -1;
	wfd = open(o->as_dockerfile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (wfd < 0 || xwrite_full(wfd, text.data, text.len) < 0) {
		err_errno(e, "cannot write '%s'", o->as_dockerfile);
		if (wfd >= 0)
			close(wfd);
		goto out;
	}
	if (close(wfd) < 0) {
		err_errno(e, "cannot write '%s'", o->as_dockerfile);
		goto out;
	}
	s2i_step(c, S2I_LOG_STEP, "--> wrote %s", o->as_dockerfile);
	rc = 0;
out:
	free(id);
	free(upload);
	free(dir);
	buf_release(&text);
	return rc;
}
