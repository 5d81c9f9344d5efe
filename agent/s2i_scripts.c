/* s2i_scripts: finding the S2I scripts (--scripts-url, the source's .s2i/bin, the images'
 * scripts-url label) and fetching them from file:// and http(s):// URLs. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gitsrc.h"
#include "httpc.h"
#include "s2i_int.h"
#include "s2iparse.h"

const char *const s2i_script_names[SC_N] = {
	"assemble", "run", "save-artifacts", "assemble-runtime",
};

int s2i_read_local(const char *path, size_t max, struct buf *out, struct err *e)
{
	char chunk[8192];
	ssize_t n;
	int fd, rc = -1;

	fd = xopen_regular(path, 0, NULL, e);
	if (fd < 0)
		return -1;
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err_errno(e, "cannot read '%s'", path);
			goto out;
		}
		if (n == 0)
			break;
		if (out->len + (size_t)n > max || buf_add(out, chunk, (size_t)n) < 0) {
			err_set(e, "'%s' is larger than %zu bytes", path, max);
			goto out;
		}
	}
	rc = 0;
out:
	close(fd);
	return rc;
}


static int s2i_http_abort(void *arg)
{
	return s2i_canceled(arg);
}

/* GET url into out. Returns 0 (200), 1 (404/410), -1 otherwise. */
static int s2i_http_get(struct s2i_ctx *c, const char *url, size_t max, struct buf *out, struct err *e)
{
	struct httpc_req r = HTTPC_REQ_INIT;
	struct httpc_answer a = HTTPC_ANSWER_INIT;
	struct err he = ERR_INIT;
	int rc = -1;

	r.url = url;
	r.timeout = S2I_HTTP_TIMEOUT;
	r.connect_timeout = ENGINE_CONNECT_TIMEOUT;
	r.max_redirects = 5;
	r.body_max = max;
	r.body_max_fails = 1;
	r.abort = s2i_http_abort;
	r.abort_arg = c;
	if (httpc_perform(&r, &a, &he) < 0) {
		if (a.body_cut)
			err_set(e, "'%s' is larger than %zu bytes", url, max);
		else
			err_set(e, "cannot download '%s': %s", url, he.msg);
	} else if (a.code == 404 || a.code == 410) {
		rc = 1;
	} else if (a.code != 200) {
		err_set(e, "cannot download '%s': HTTP %ld", url, a.code);
	} else if (out->len + a.body.len > max || buf_add(out, a.body.data, a.body.len) < 0) {
		err_set(e, "'%s' is larger than %zu bytes", url, max);
	} else {
		rc = 0;
	}
	httpc_answer_release(&a);
	return rc;
}

/* Takes the scripts in mask that are still missing from url. Returns how many it
 * provided, or -1 on a malformed URL. */
/* The script name under where (an image path, a directory, an http(s) URL); s->found
 * when it is there (a download that fails is a warning). */
static void s2i_script_from(struct s2i_ctx *c, enum s2iparse_url_kind kind, const char *where,
			    const char *name, struct s2i_script *s)
{
	struct err we = ERR_INIT;
	char *path = xasprintf("%s/%s", where, name);
	int rc;

	switch (kind) {
	case S2IPARSE_URL_IMAGE:
		s->found = 1;
		s->in_image = 1;
		s->path = path;
		path = NULL;
		break;
	case S2IPARSE_URL_FILE:
		if (access(path, F_OK) == 0) {
			if (s2i_read_local(path, S2I_SCRIPT_MAX, &s->data, &we) < 0) {
				s2i_step(c, S2I_LOG_WARN, "cannot use %s script '%s': %s", name, path,
					 we.msg);
				buf_reset(&s->data);
			} else {
				s->found = 1;
			}
		}
		break;
	case S2IPARSE_URL_HTTP:
		rc = s2i_http_get(c, path, S2I_SCRIPT_MAX, &s->data, &we);
		if (rc < 0)
			s2i_step(c, S2I_LOG_WARN, "%s", we.msg);
		if (rc != 0)
			buf_reset(&s->data);
		else
			s->found = 1;
		break;
	}
	free(path);
}

int s2i_find_usage(struct s2i_ctx *c, struct s2i_script *ret, struct err *e)
{
	const struct s2i_opts *o = c->o;
	const char *url = o->scripts_url ? o->scripts_url : s2i_image_scripts_url(&c->builder);
	enum s2iparse_url_kind kind;
	char *where = NULL;

	if (!url)
		return err_set(e, "image '%s' has no io.openshift.s2i.scripts-url label: give "
			       "--scripts-url", o->builder);
	if (s2iparse_scripts_url(url, &kind, &where, e) < 0)
		return -1;
	s2i_script_from(c, kind, where, "usage", ret);
	free(where);
	if (!ret->found)
		return err_set(e, "no 'usage' script at '%s'", url);
	return 0;
}

static int s2i_scripts_from_url(struct s2i_ctx *c, const char *url, const char *from, unsigned mask,
				struct err *e)
{
	enum s2iparse_url_kind kind;
	char *where = NULL;
	int i, got = 0;

	if (s2iparse_scripts_url(url, &kind, &where, e) < 0)
		return -1;
	for (i = 0; i < SC_N; i++) {
		struct s2i_script *s = &c->scripts[i];

		if (s->found || !(mask & (1u << i)))
			continue;
		s2i_script_from(c, kind, where, s2i_script_names[i], s);
		if (s->found) {
			s->from = from;
			got++;
		}
		if (c->cancel && *c->cancel) {
			free(where);
			c->r->outcome = S2I_CANCELED;
			return err_set(e, "canceled");
		}
	}
	free(where);
	return got;
}

/* The scripts-url label of an image, else its deprecated STI_SCRIPTS_URL variable. */
const char *s2i_image_scripts_url(const struct engine_image *img)
{
	const char *v = engine_image_label(img, "io.openshift.s2i.scripts-url");
	size_t i;

	if (v && *v)
		return v;
	for (i = 0; i < img->env.n; i++)
		if (!strncmp(img->env.items[i], "STI_SCRIPTS_URL=", 16) && img->env.items[i][16])
			return img->env.items[i] + 16;
	return NULL;
}

int s2i_find_scripts(struct s2i_ctx *c, struct err *e)
{
	const struct s2i_opts *o = c->o;
	unsigned all = (1u << SC_N) - 1, builder_mask = all & ~(1u << SC_ASSEMBLE_RUNTIME);
	const char *url;
	int i, got;

	if (o->scripts_url) {
		got = s2i_scripts_from_url(c, o->scripts_url, "--scripts-url", all, e);
		if (got < 0)
			return -1;
		if (got == 0)
			return err_set(e, "could not download any scripts from URL '%s'", o->scripts_url);
	}
	for (i = 0; i < SC_N; i++) {
		struct s2i_script *s = &c->scripts[i];
		char *p;
		int rc;

		/* s2i looks for assemble-runtime only for a runtime image */
		if (s->found || (i == SC_ASSEMBLE_RUNTIME && !o->runtime_image))
			continue;
		p = xasprintf(".s2i/bin/%s", s2i_script_names[i]);
		rc = gitsrc_read_file(c->src, p, S2I_SCRIPT_MAX, &s->data, NULL, e);
		free(p);
		if (rc < 0)
			return err_prefix(e, "cannot read .s2i/bin/%s", s2i_script_names[i]);
		if (rc == 0) {
			s->found = 1;
			s->from_source = 1;
			s->from = "source .s2i/bin";
		} else {
			buf_reset(&s->data);
		}
	}
	url = s2i_image_scripts_url(&c->builder);
	if (url && s2i_scripts_from_url(c, url, "builder image", builder_mask, e) < 0)
		return err_prefix(e, "builder image '%s'", o->builder);
	if (o->runtime_image) {
		url = s2i_image_scripts_url(&c->runtime);
		if (url && s2i_scripts_from_url(c, url, "runtime image", 1u << SC_ASSEMBLE_RUNTIME, e) < 0)
			return err_prefix(e, "runtime image '%s'", o->runtime_image);
	}
	for (i = SC_ASSEMBLE; i <= SC_RUN; i++)
		if (!c->scripts[i].found)
			return err_set(e, "no '%s' script found: not in --scripts-url, the source's "
				       ".s2i/bin, nor image '%s' (label io.openshift.s2i.scripts-url)",
				       s2i_script_names[i], o->builder);
	for (i = 0; i < SC_N; i++)
		if (c->scripts[i].found)
			s2i_step(c, S2I_LOG_STEP, "--> %s: %s%s%s", s2i_script_names[i],
				 c->scripts[i].from, c->scripts[i].in_image ? " " : "",
				 c->scripts[i].in_image ? c->scripts[i].path : "");
	return 0;
}

/* Where a script runs from in a container whose external scripts are in dir/scripts. */
char *s2i_script_path(struct s2i_ctx *c, int which, const char *dir)
{
	const struct s2i_script *s = &c->scripts[which];

	if (s->in_image)
		return xstrdup(s->path);
	return xasprintf("%s%sscripts/%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/",
			 s2i_script_names[which]);
}

int s2i_fill_usage(struct srctar *t, void *arg, struct err *e)
{
	const struct s2i_script *s = arg;

	return srctar_add_file(t, "scripts/usage", 0755, s->data.data, s->data.len, e);
}

int s2i_fill_scripts(struct srctar *t, void *arg, struct err *e)
{
	struct s2i_fill_scripts *f = arg;
	int i;

	for (i = 0; i < SC_N; i++) {
		const struct s2i_script *s = &f->c->scripts[i];
		char name[64];

		if (!(f->mask & (1u << i)) || !s->found || s->in_image)
			continue;
		snprintf(name, sizeof(name), "scripts/%s", s2i_script_names[i]);
		if (srctar_add_file(t, name, 0755, s->data.data, s->data.len, e) < 0)
			return -1;
	}
	return 0;
}
