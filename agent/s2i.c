/* s2i: the S2I build (README "How builds run") over the Engine API — scripts lookup, environment, users,
 * upload with the archive API before start, assemble, incremental and runtime phases, commit. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "engine.h"
#include "gitsrc.h"
#include "httpc.h"
#include "limits.h"
#include "s2i.h"
#include "s2iparse.h"
#include "srctar.h"
#include "tarx.h"

/* where assemble leaves labels for the image: s2i reads this path whatever the destination */
#define S2I_METADATA_PATH	"/tmp/.s2i/image_metadata.json"

/* ---- options and results ---- */

void s2i_opts_init(struct s2i_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->env = (struct strv)STRV_INIT;
	o->runtime_artifacts = (struct strv)STRV_INIT;
	o->inject = (struct strv)STRV_INIT;
	o->exclude = (struct strv)STRV_INIT;
	o->cap_drop = (struct strv)STRV_INIT;
	o->volumes = (struct strv)STRV_INIT;
	o->add_hosts = (struct strv)STRV_INIT;
}

void s2i_opts_release(struct s2i_opts *o)
{
	char **strs[] = {
		&o->source, &o->builder, &o->tag, &o->ref, &o->sha, &o->context_dir,
		&o->environment_file, &o->scripts_url, &o->runtime_image, &o->assemble_user,
		&o->assemble_runtime_user, &o->allowed_uids, &o->application_name,
		&o->description, &o->destination, &o->callback_url, &o->network,
		&o->engine_url, &o->engine_tls_ca, &o->engine_tls_cert, &o->engine_tls_key,
		&o->build_id, &o->owner, &o->registry_auth_file, &o->mirror_dir, &o->git_token_file,
		&o->ssh_key_file, &o->known_hosts_file, &o->source_location, &o->commit_ref,
	};
	size_t i;

	for (i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		free(*strs[i]);
		*strs[i] = NULL;
	}
	strv_clear(&o->env);
	strv_clear(&o->runtime_artifacts);
	strv_clear(&o->inject);
	strv_clear(&o->exclude);
	strv_clear(&o->cap_drop);
	strv_clear(&o->volumes);
	strv_clear(&o->add_hosts);
}

void s2i_result_release(struct s2i_result *r)
{
	free(r->image);
	r->image = NULL;
	free(r->push_digest);
	r->push_digest = NULL;
	strv_clear(&r->left);
}

/* ---- the build context ---- */

enum { SC_ASSEMBLE, SC_RUN, SC_SAVE_ARTIFACTS, SC_ASSEMBLE_RUNTIME, SC_N };

static const char *const s2i_script_names[SC_N] = {
	"assemble", "run", "save-artifacts", "assemble-runtime",
};

struct s2i_script {
	int found;
	int in_image;		/* run in place at path */
	char *path;		/* in_image: the path in the image */
	struct buf data;	/* else: the content, uploaded into <dir>/scripts/ */
	const char *from;	/* for the log */
	int from_source;	/* taken from the source's .s2i/bin */
};

/* Log output of one stream, cut into lines. */
struct s2i_lines {
	char line[LOG_LINE_MAX];
	size_t len;
};

struct s2i_ctx {
	const struct s2i_opts *o;
	struct s2i_result *r;
	s2i_log_fn log;
	void *log_arg;
	const volatile sig_atomic_t *cancel;
	struct engine *eng;
	struct gitsrc *src;
	char build_id[40];
	char *build_label;		/* "io.s2i-agent.build=<id>" */
	char *owner_label;		/* "io.s2i-agent.owner=<owner>" */
	struct strv containers;		/* every container created, removed at the end */
	struct engine_image builder;
	struct engine_image runtime;
	char *dest;
	char *user;			/* assemble user as given to the engine */
	long uid, gid;
	struct strv env;		/* build environment, "K=V" */
	struct s2i_script scripts[SC_N];
	struct strv meta_labels;	/* from image_metadata.json */
	struct strv injected;		/* files to truncate: absolute paths in the container */
	struct strv injected_src;	/* the host file of each */
	struct strv mappings;		/* runtime artifacts SRC:DST */
	struct s2i_lines out_lines, err_lines;
	char *prev_image;		/* id of the previous image of an incremental build */
	char *save_id;			/* its save-artifacts container, while it runs */
	struct engine_stream *save_st;	/* and that container's stdout */
	int quiet_scripts;
	int timed_out;
};

static void s2i_emit(struct s2i_ctx *c, enum s2i_log_kind kind, const char *line, size_t len)
{
	if (c->log)
		c->log(c->log_arg, kind, line, len);
}

static void s2i_step(struct s2i_ctx *c, enum s2i_log_kind kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void s2i_step(struct s2i_ctx *c, enum s2i_log_kind kind, const char *fmt, ...)
{
	char line[LOG_LINE_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line))
		n = sizeof(line) - 1;
	s2i_emit(c, kind, line, (size_t)n);
}

static void s2i_lines_feed(struct s2i_ctx *c, struct s2i_lines *l, enum s2i_log_kind kind,
			   const char *p, size_t n)
{
	while (n) {
		const char *nl = memchr(p, '\n', n);
		size_t take = nl ? (size_t)(nl - p) : n;

		if (take > sizeof(l->line) - 1 - l->len)
			take = sizeof(l->line) - 1 - l->len;
		memcpy(l->line + l->len, p, take);
		l->len += take;
		p += take;
		n -= take;
		if (nl && p == nl) {
			p++;
			n--;
		} else if (l->len < sizeof(l->line) - 1) {
			continue;	/* partial line, wait for more */
		}
		while (l->len && l->line[l->len - 1] == '\r')
			l->len--;
		l->line[l->len] = '\0';
		s2i_emit(c, kind, l->line, l->len);
		l->len = 0;
	}
}

static void s2i_lines_flush(struct s2i_ctx *c)
{
	if (c->out_lines.len) {
		c->out_lines.line[c->out_lines.len] = '\0';
		s2i_emit(c, S2I_LOG_STDOUT, c->out_lines.line, c->out_lines.len);
		c->out_lines.len = 0;
	}
	if (c->err_lines.len) {
		c->err_lines.line[c->err_lines.len] = '\0';
		s2i_emit(c, S2I_LOG_STDERR, c->err_lines.line, c->err_lines.len);
		c->err_lines.len = 0;
	}
}

/* engine_output_fn: a script's output to the log. */
static int s2i_on_output(void *arg, int stream, const void *data, size_t len, struct err *e)
{
	struct s2i_ctx *c = arg;

	(void)e;
	if (c->quiet_scripts)
		return 0;
	if (stream == ENGINE_STDERR)
		s2i_lines_feed(c, &c->err_lines, S2I_LOG_STDERR, data, len);
	else
		s2i_lines_feed(c, &c->out_lines, S2I_LOG_STDOUT, data, len);
	return 0;
}

/* Pull and push progress: the status lines, not every progress bar update. */
static int s2i_on_progress(void *arg, const char *line, struct err *e)
{
	struct s2i_ctx *c = arg;
	static const char *const noisy[] = {
		"Downloading", "Extracting", "Pushing", "Waiting", "Preparing", "Verifying Checksum",
	};
	size_t i;

	(void)e;
	for (i = 0; i < sizeof(noisy) / sizeof(noisy[0]); i++)
		if (strstr(line, noisy[i]))
			return 0;
	s2i_step(c, S2I_LOG_STEP, "    %s", line);
	return 0;
}

static int s2i_canceled(const struct s2i_ctx *c)
{
	return c->cancel && *c->cancel;
}

/* Classifies an engine failure: canceled, timed out (a failed build), else errored. */
static void s2i_engine_outcome(struct s2i_ctx *c)
{
	int st = engine_status(c->eng);

	if (st == ENGINE_CANCELED || (c->cancel && *c->cancel)) {
		c->r->outcome = S2I_CANCELED;
	} else if (st == ENGINE_TIMED_OUT) {
		c->r->outcome = S2I_FAILED;
		c->timed_out = 1;
	}
}

/* ---- small helpers ---- */

static void s2i_random_id(char *out, size_t n)
{
	unsigned char raw[8];
	size_t i;

	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		for (i = 0; i < sizeof(raw); i++)
			raw[i] = (unsigned char)((ts.tv_nsec >> (i * 3)) ^ (getpid() >> i));
	}
	for (i = 0; i < sizeof(raw) && 2 * i + 2 < n; i++)
		snprintf(out + 2 * i, 3, "%02x", raw[i]);
}

static int s2i_read_local(const char *path, size_t max, struct buf *out, struct err *e)
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

struct s2i_ctx;
static int s2i_canceled(const struct s2i_ctx *c);

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

/* ---- scripts lookup ---- */

/* Takes the scripts in mask that are still missing from url. Returns how many it
 * provided, or -1 on a malformed URL. */
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
		struct err we = ERR_INIT;
		char *path;
		int rc;

		if (s->found || !(mask & (1u << i)))
			continue;
		path = xasprintf("%s/%s", where, s2i_script_names[i]);
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
					s2i_step(c, S2I_LOG_WARN, "cannot use %s script '%s': %s",
						 s2i_script_names[i], path, we.msg);
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
static const char *s2i_image_scripts_url(const struct engine_image *img)
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

static int s2i_find_scripts(struct s2i_ctx *c, struct err *e)
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
static char *s2i_script_path(struct s2i_ctx *c, int which, const char *dir)
{
	const struct s2i_script *s = &c->scripts[which];

	if (s->in_image)
		return xstrdup(s->path);
	return xasprintf("%s%sscripts/%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/",
			 s2i_script_names[which]);
}

/* ---- environment, users ---- */

/* The build environment in s2i's order: .s2i/environment, -e, then -E (s2i appends the
 * file's variables after the flags; the last of a name wins in the container). */
static int s2i_build_env(struct s2i_ctx *c, struct err *e)
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

struct s2i_filebuf {
	struct buf *out;
	const char *name;
	int found;
};

/* Reads a small file of a (created) container through the archive API. 1 if absent. */
static int s2i_container_file(struct s2i_ctx *c, const char *id, const char *path, size_t max,
			      struct buf *out, struct err *e)
{
	struct engine_stream *st = NULL;
	const char *base = strrchr(path, '/');
	int found = 0, rc;

	base = base ? base + 1 : path;
	if (engine_archive_open(c->eng, id, path, &st, e) < 0)
		return engine_status(c->eng) == 404 ? 1 : -1;
	rc = tarx_read_file(engine_stream_read, st, base, max, out, &found, e);
	engine_stream_free(st);
	/* the answer's status arrives with the first read */
	if (rc < 0 && engine_status(c->eng) == 404)
		return 1;
	if (rc < 0)
		return -1;
	return found ? 0 : 1;
}

/* uid/gid of user in container id: numeric users need no lookup. */
static int s2i_resolve_user(struct s2i_ctx *c, const char *id, const char *user, long *ret_uid,
			    long *ret_gid, struct err *e)
{
	struct buf passwd = BUF_INIT(S2I_PASSWD_MAX), group = BUF_INIT(S2I_PASSWD_MAX);
	const char *colon = strchr(user, ':');
	int need_passwd, need_group, rc = -1;

	need_passwd = *user && !isdigit((unsigned char)*user);
	need_group = colon && colon[1] && !isdigit((unsigned char)colon[1]);
	if (need_passwd && s2i_container_file(c, id, "/etc/passwd", S2I_PASSWD_MAX, &passwd, e) < 0)
		goto out;
	if (need_group && s2i_container_file(c, id, "/etc/group", S2I_PASSWD_MAX, &group, e) < 0)
		goto out;
	rc = s2iparse_user_ids(user, need_passwd ? passwd.data : NULL, need_group ? group.data : NULL,
			       ret_uid, ret_gid, e);
out:
	buf_release(&passwd);
	buf_release(&group);
	return rc;
}

/* ---- containers ---- */

static int s2i_create(struct s2i_ctx *c, const char *image, const char *user, const char *cmd,
		      const struct strv *env, char **ret_id, struct err *e)
{
	const struct s2i_opts *o = c->o;
	struct engine_create p = ENGINE_CREATE_INIT;
	const char *argv[2] = { cmd, NULL };
	const char *no_entrypoint[1] = { NULL };
	const char *labels[3] = { c->build_label, c->owner_label, NULL };

	p.image = image;
	p.cmd = cmd ? argv : NULL;
	p.entrypoint = no_entrypoint;
	p.entrypoint_set = 1;		/* scripts run directly, whatever the image's ENTRYPOINT */
	p.user = user;
	p.env = env ? (const char *const *)env->items : NULL;
	p.labels = labels;
	p.network_mode = o->network;
	p.cap_drop = o->cap_drop.n ? (const char *const *)o->cap_drop.items : NULL;
	p.binds = o->volumes.n ? (const char *const *)o->volumes.items : NULL;
	p.extra_hosts = o->add_hosts.n ? (const char *const *)o->add_hosts.items : NULL;
	if (engine_container_create(c->eng, &p, ret_id, e) < 0) {
		s2i_engine_outcome(c);
		return err_prefix(e, "cannot create a container of '%s'", image);
	}
	strv_push(&c->containers, *ret_id);
	return 0;
}

static void s2i_remove_containers(struct s2i_ctx *c)
{
	size_t i;

	if (!c->eng)
		return;
	/* cleanup must run even after a cancel or a timeout, but not wait forever on an
	 * engine that hangs: what is left is reported in r->left */
	engine_set_cancel(c->eng, NULL);
	engine_set_deadline(c->eng, engine_clock_ms() + (int64_t)S2I_CLEANUP_TIMEOUT * 1000);
	for (i = c->containers.n; i-- > 0;) {
		struct err e = ERR_INIT;

		if (engine_container_remove(c->eng, c->containers.items[i], 1, 1, &e) < 0) {
			/* e names the container */
			if (engine_status(c->eng) == ENGINE_TIMED_OUT)
				s2i_step(c, S2I_LOG_WARN, "%s: the container engine did not answer "
					 "within %ds", e.msg, S2I_CLEANUP_TIMEOUT);
			else
				s2i_step(c, S2I_LOG_WARN, "%s", e.msg);
			strv_push(&c->r->left, c->containers.items[i]);
		}
	}
	strv_clear(&c->containers);
}

static void s2i_drop_container(struct s2i_ctx *c, const char *id)
{
	struct err e = ERR_INIT;
	size_t i;

	/* after a call the engine did not answer, not another wait here: the removal at
	 * the end has a deadline of its own */
	if (engine_unreachable(c->eng) || engine_container_remove(c->eng, id, 1, 1, &e) < 0)
		return;		/* still listed: tried again (and reported) at the end */
	for (i = 0; i < c->containers.n; i++) {
		if (!strcmp(c->containers.items[i], id)) {
			free(c->containers.items[i]);
			memmove(&c->containers.items[i], &c->containers.items[i + 1],
				(c->containers.n - i) * sizeof(char *));
			c->containers.n--;
			break;
		}
	}
}

/* Starts a created container, streams its output to the log, waits. The output comes
 * through an attach made before the start: nothing is lost however fast the script
 * is, and no log driver is involved (Podman's logs?follow can end early). */
static int s2i_run(struct s2i_ctx *c, const char *id, const char *what, int *ret_code, struct err *e)
{
	struct engine_stream *st = NULL;
	char chunk[16384];
	ssize_t n;
	int rc = -1;

	if (engine_attach_open(c->eng, id, s2i_on_output, c, &st, e) < 0) {
		s2i_engine_outcome(c);
		return err_prefix(e, "%s", what);
	}
	if (engine_container_start(c->eng, id, e) < 0) {
		s2i_engine_outcome(c);
		err_prefix(e, "cannot start %s", what);
		goto out;
	}
	while ((n = engine_stream_read(st, chunk, sizeof(chunk), e)) > 0)
		s2i_on_output(c, ENGINE_STDOUT, chunk, (size_t)n, e);
	s2i_lines_flush(c);
	if (n < 0) {
		s2i_engine_outcome(c);
		err_prefix(e, "%s", what);
		goto out;
	}
	if (engine_container_wait(c->eng, id, 0, ret_code, e) < 0) {
		s2i_engine_outcome(c);
		err_prefix(e, "%s", what);
		goto out;
	}
	rc = 0;
out:
	s2i_lines_flush(c);
	engine_stream_free(st);
	return rc;
}

static ssize_t s2i_fd_read(void *arg, void *p, size_t len, struct err *e)
{
	int fd = *(int *)arg;
	ssize_t n;

	do
		n = read(fd, p, len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return err_errno(e, "cannot read the tar pipe");
	return n;
}

/* Uploads a tar produced by fill (in srctar's writer thread) into dir of container id;
 * so NULL: every entry owned by the assemble user. */
static int s2i_upload_opts(struct s2i_ctx *c, const char *id, const char *dir,
			   const struct srctar_opts *so, srctar_fill_fn fill, void *arg, struct err *e)
{
	struct srctar_opts own = SRCTAR_OPTS_INIT;
	struct srctar_pipe *pipe = NULL;
	struct err we = ERR_INIT;
	int fd = -1, rc;

	own.uid = (uid_t)c->uid;
	own.gid = (gid_t)c->gid;
	if (srctar_pipe_start(so ? so : &own, fill, arg, &fd, &pipe, e) < 0)
		return -1;
	rc = engine_archive_put(c->eng, id, dir, s2i_fd_read, &fd, e);
	if (rc < 0)
		s2i_engine_outcome(c);
	/* the writer's own error explains a broken upload best */
	if (srctar_pipe_finish(pipe, &we) < 0 && rc == 0) {
		*e = we;
		rc = -1;
	} else if (rc < 0 && we.msg[0] && !strstr(we.msg, "Broken pipe") && !strstr(we.msg, "EPIPE")) {
		*e = we;
	}
	if (rc < 0 && engine_status(c->eng) == 404)
		err_prefix(e, "directory '%s' does not exist in the image", dir);
	return rc;
}

static int s2i_upload(struct s2i_ctx *c, const char *id, const char *dir, srctar_fill_fn fill,
		      void *arg, struct err *e)
{
	return s2i_upload_opts(c, id, dir, NULL, fill, arg, e);
}

struct s2i_fill_main {
	struct s2i_ctx *c;
	int with_artifacts;
};

/* The main upload: src/, scripts/, artifacts/ (an empty directory owned by the
 * assemble user, filled from the previous image). */
static int s2i_fill_main(struct srctar *t, void *arg, struct err *e)
{
	struct s2i_fill_main *f = arg;
	struct s2i_ctx *c = f->c;
	struct strv ex = STRV_INIT;
	int i, rc;

	/* s2i moves the scripts it takes from the source's .s2i/bin into scripts/: they are
	 * not in src/ (the rest of .s2i/bin is) */
	if (c->o->exclude.n)
		strv_copy(&ex, &c->o->exclude);
	else
		strv_push(&ex, SRCTAR_DEFAULT_EXCLUDE);
	for (i = 0; i < SC_N; i++)
		if (c->scripts[i].found && c->scripts[i].from_source)
			strv_pushf(&ex, "^\\.s2i/bin/%s$", s2i_script_names[i]);
	rc = srctar_add_source(t, "src", c->src, &ex, e);
	strv_clear(&ex);
	if (rc < 0)
		return -1;
	/* s2i's upload always has scripts/, even when every script is in the image */
	if (srctar_add_dirent(t, "scripts", 0755, e) < 0)
		return -1;
	for (i = 0; i < SC_N; i++) {
		const struct s2i_script *s = &c->scripts[i];
		char name[64];

		if (!s->found || s->in_image || i == SC_ASSEMBLE_RUNTIME)
			continue;
		snprintf(name, sizeof(name), "scripts/%s", s2i_script_names[i]);
		if (srctar_add_file(t, name, 0755, s->data.data, s->data.len, e) < 0)
			return -1;
	}
	/* s2i makes it as a private temporary directory */
	if (f->with_artifacts && srctar_add_dirent(t, "artifacts", 0700, e) < 0)
		return -1;
	return 0;
}

/* Scripts only (for save-artifacts in the previous image, assemble-runtime/run in the
 * runtime image). mask selects them. */
struct s2i_fill_scripts {
	struct s2i_ctx *c;
	unsigned mask;
};

static int s2i_fill_scripts(struct srctar *t, void *arg, struct err *e)
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

/* ---- injections ---- */

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
static int s2i_inject(struct s2i_ctx *c, const char *id, struct err *e)
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
static int s2i_truncate_injected(struct s2i_ctx *c, const char *id, struct err *e)
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

/* ---- incremental ---- */

/* Starts save-artifacts in the previous image, its stdout (a tar) held in an attach
 * stream: it runs while the builder container is made and the source uploaded, and
 * s2i_restore_finish streams it into the builder container. 0: started; -1: the
 * caller falls back to a clean build (after a cancel it stops). */
static int s2i_restore_start(struct s2i_ctx *c, struct err *e)
{
	const struct s2i_opts *o = c->o;
	struct engine_image prev = ENGINE_IMAGE_INIT;
	char *cmd = NULL;
	const char *user;
	int rc = -1;

	if (engine_image_ensure(c->eng, o->tag, o->incremental_pull_policy, s2i_on_progress, c, &prev, e) < 0) {
		s2i_engine_outcome(c);
		err_prefix(e, "no previous image");
		goto out;
	}
	if (!c->scripts[SC_SAVE_ARTIFACTS].found) {
		err_set(e, "no save-artifacts script");
		goto out;
	}
	free(c->prev_image);
	c->prev_image = xstrdup(prev.id);
	s2i_step(c, S2I_LOG_STEP, "--> saving artifacts of the previous image '%s' (%.19s)", o->tag, prev.id);
	/* s2i: the assemble user if given, else the previous image's user */
	user = o->assemble_user && *o->assemble_user ? c->user : prev.user;
	cmd = s2i_script_path(c, SC_SAVE_ARTIFACTS, c->dest);
	if (s2i_create(c, prev.id, user, cmd, &c->env, &c->save_id, e) < 0)
		goto out;
	if (!c->scripts[SC_SAVE_ARTIFACTS].in_image) {
		struct s2i_fill_scripts f = { c, 1u << SC_SAVE_ARTIFACTS };

		if (s2i_upload(c, c->save_id, c->dest, s2i_fill_scripts, &f, e) < 0)
			goto out;
	}
	if (engine_attach_open(c->eng, c->save_id, s2i_on_output, c, &c->save_st, e) < 0) {
		s2i_engine_outcome(c);
		goto out;
	}
	if (engine_container_start(c->eng, c->save_id, e) < 0) {
		s2i_engine_outcome(c);
		goto out;
	}
	rc = 0;
out:
	free(cmd);
	engine_image_release(&prev);
	return rc;
}

/* Drops the save-artifacts container and its stream. */
static void s2i_restore_end(struct s2i_ctx *c)
{
	s2i_lines_flush(c);
	engine_stream_free(c->save_st);
	c->save_st = NULL;
	if (c->save_id)
		s2i_drop_container(c, c->save_id);
	free(c->save_id);
	c->save_id = NULL;
}

/* Streams save-artifacts' tar through the defensive filter into <dest>/artifacts of the
 * builder container, then checks its exit code. 0: restored; -1: the caller falls back
 * to a clean build (after a cancel it stops). */
static int s2i_restore_finish(struct s2i_ctx *c, const char *builder_id, struct err *e)
{
	struct tarx_filter *filt = NULL;
	struct tarx_opts to = TARX_OPTS_INIT;
	struct tarx_stats stats = { 0, 0 };
	char *prefix = xstrdup("artifacts");
	int code = -1, rc = -1;

	to.prefix = prefix;
	to.set_owner = 1;
	to.uid = c->uid;
	to.gid = c->gid;
	if (tarx_filter_open(engine_stream_read, c->save_st, &to, &filt, e) < 0)
		goto out;
	if (engine_archive_put(c->eng, builder_id, c->dest, tarx_filter_read, filt, e) < 0) {
		s2i_engine_outcome(c);
		goto out;
	}
	tarx_filter_stats(filt, &stats);
	s2i_lines_flush(c);
	if (engine_container_wait(c->eng, c->save_id, 0, &code, e) < 0) {
		s2i_engine_outcome(c);
		goto out;
	}
	if (code != 0) {
		err_set(e, "save-artifacts exited with code %d", code);
		goto out;
	}
	s2i_step(c, S2I_LOG_STEP, "--> restored %llu artifact entries (%llu bytes)",
		 (unsigned long long)stats.entries, (unsigned long long)stats.bytes);
	rc = 0;
out:
	tarx_filter_free(filt);
	free(prefix);
	return rc;
}

/* ---- labels ---- */

static void s2i_label_set(struct strv *labels, const char *k, const char *v)
{
	size_t i, kl = strlen(k);

	if (!v || !*v)
		return;
	for (i = 0; i < labels->n; i++) {
		if (!strncmp(labels->items[i], k, kl) && labels->items[i][kl] == '=') {
			free(labels->items[i]);
			labels->items[i] = xasprintf("%s=%s", k, v);
			return;
		}
	}
	strv_pushf(labels, "%s=%s", k, v);
}

static void s2i_labels(struct s2i_ctx *c, struct strv *labels)
{
	const struct s2i_opts *o = c->o;
	const char *display = o->application_name && *o->application_name ? o->application_name : o->tag;
	char created[64];
	time_t now = time(NULL);
	struct tm tm;
	const char *location = o->source_location && *o->source_location ? o->source_location : NULL;
	char *builder;
	size_t i;

	gmtime_r(&now, &tm);
	strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", &tm);
	s2i_label_set(labels, "io.k8s.description", o->description);
	s2i_label_set(labels, "io.k8s.display-name", display);
	builder = s2iparse_image_name(o->builder);
	s2i_label_set(labels, "io.openshift.s2i.build.image", builder);
	free(builder);
	if (gitsrc_is_git(c->src)) {
		const struct gitsrc_info *gi = gitsrc_info(c->src);

		if (!location)
			location = gi->location;
		s2i_label_set(labels, "io.openshift.s2i.build.commit.author", gi->author);
		s2i_label_set(labels, "io.openshift.s2i.build.commit.date", gi->date);
		s2i_label_set(labels, "io.openshift.s2i.build.commit.id", gi->id);
		s2i_label_set(labels, "io.openshift.s2i.build.commit.ref",
			      o->commit_ref && *o->commit_ref ? o->commit_ref : gi->ref);
		s2i_label_set(labels, "io.openshift.s2i.build.commit.message", gi->message);
		s2i_label_set(labels, "org.opencontainers.image.revision", gi->id);
	}
	if (!location || !*location)
		location = o->source;
	s2i_label_set(labels, "io.openshift.s2i.build.source-location", location);
	s2i_label_set(labels, "io.openshift.s2i.build.source-context-dir", gitsrc_context_dir(c->src));
	s2i_label_set(labels, "org.opencontainers.image.source", location);
	s2i_label_set(labels, "org.opencontainers.image.created", created);
	for (i = 0; i < c->meta_labels.n; i++) {
		char *kv = xstrdup(c->meta_labels.items[i]), *eq = strchr(kv, '=');

		*eq = '\0';
		s2i_label_set(labels, kv, eq + 1);
		free(kv);
	}
	/* A commit keeps the container's labels; an empty value marks images (and the
	 * containers users run from them) as not ours to clean up, and keeps the owner
	 * (an agent's instance id) out of the image. */
	strv_pushf(labels, "%s=", S2I_BUILD_LABEL);
	strv_pushf(labels, "%s=", S2I_OWNER_LABEL);
}

static int s2i_read_metadata(struct s2i_ctx *c, const char *id, struct err *e)
{
	struct buf b = BUF_INIT(METADATA_MAX);
	char *path = xstrdup(S2I_METADATA_PATH);
	int rc;

	rc = s2i_container_file(c, id, path, METADATA_MAX, &b, e);
	if (rc == 0) {
		rc = s2iparse_metadata_labels(b.data, b.len, &c->meta_labels, e);
		if (rc == 0)
			s2i_step(c, S2I_LOG_STEP, "--> %zu label%s from %s", c->meta_labels.n,
				 c->meta_labels.n == 1 ? "" : "s", path);
	} else if (rc == 1) {
		rc = 0;
	}
	free(path);
	buf_release(&b);
	return rc;
}

/* Commits container id with base's USER and ENTRYPOINT and run_cmd. */
static int s2i_commit(struct s2i_ctx *c, const char *id, const struct engine_image *base,
		      const char *run_cmd, struct err *e)
{
	const struct s2i_opts *o = c->o;
	struct engine_commit cm = ENGINE_COMMIT_INIT;
	struct strv labels = STRV_INIT;
	const char *cmd[2] = { run_cmd, NULL };
	char *name = NULL, *tag = NULL, *image_id = NULL;
	size_t i, total = 0;
	int rc = -1;

	s2i_labels(c, &labels);
	for (i = 0; i < labels.n; i++)
		total += strlen(labels.items[i]);
	for (i = 0; i < base->label_keys.n; i++)
		total += strlen(base->label_keys.items[i]) + strlen(base->label_vals.items[i]);
	if (total > S2I_LABELS_MAX) {
		err_set(e, "the labels of the image take %zu bytes, more than %d", total, S2I_LABELS_MAX);
		goto out;
	}
	if (o->tag && engine_ref_split(o->tag, &name, &tag, e) < 0)
		goto out;
	cm.container = id;
	cm.repo = name;
	cm.tag = tag;
	cm.cmd = cmd;
	cm.entrypoint = (const char *const *)base->entrypoint.items;
	cm.entrypoint_set = 1;
	/* the base image's USER; an empty one keeps the container's (the assemble user), as
	 * s2i's commit does */
	if (base->user && *base->user)
		cm.user = base->user;
	cm.env = (const char *const *)c->env.items;
	cm.labels = (const char *const *)labels.items;
	if (engine_commit(c->eng, &cm, &image_id, e) < 0) {
		s2i_engine_outcome(c);
		err_prefix(e, "cannot commit the image");
		goto out;
	}
	snprintf(c->r->image_id, sizeof(c->r->image_id), "%s", image_id);
	rc = 0;
out:
	free(image_id);
	free(name);
	free(tag);
	strv_clear(&labels);
	return rc;
}

/* ---- runtime image ---- */

/* Copies every runtime artifact out of the builder container into the runtime
 * container's WORKDIR/DST: archive download → tarx filter → archive upload, streamed. */
static int s2i_copy_artifacts(struct s2i_ctx *c, const char *from, const char *to, const char *workdir,
			      const struct strv *mappings, long uid, long gid, struct err *e)
{
	size_t i;

	for (i = 0; i < mappings->n; i++) {
		struct engine_stream *st = NULL;
		struct tarx_filter *f = NULL;
		struct tarx_opts to_opts = TARX_OPTS_INIT;
		struct tarx_stats stats = { 0, 0 };
		char *src = NULL, *dst = NULL, *prefix = NULL;
		int rc = -1;

		if (s2iparse_mapping(mappings->items[i], &src, &dst, e) < 0 ||
		    s2iparse_runtime_artifact_check(src, dst, e) < 0)
			goto next;
		/* "./x/" → "x"; "." → top of WORKDIR */
		prefix = xstrdup(dst);
		while (!strncmp(prefix, "./", 2))
			memmove(prefix, prefix + 2, strlen(prefix + 2) + 1);
		while (*prefix && prefix[strlen(prefix) - 1] == '/')
			prefix[strlen(prefix) - 1] = '\0';
		if (!strcmp(prefix, "."))
			prefix[0] = '\0';
		to_opts.prefix = *prefix ? prefix : NULL;
		to_opts.set_owner = 1;
		to_opts.uid = uid;
		to_opts.gid = gid;
		if (engine_archive_open(c->eng, from, src, &st, e) < 0) {
			s2i_engine_outcome(c);
			err_prefix(e, "cannot copy runtime artifact '%s'", src);
			goto next;
		}
		if (tarx_filter_open(engine_stream_read, st, &to_opts, &f, e) < 0)
			goto next;
		if (engine_archive_put(c->eng, to, workdir, tarx_filter_read, f, e) < 0) {
			s2i_engine_outcome(c);
			err_prefix(e, "cannot copy runtime artifact '%s' into '%s'", src, workdir);
			goto next;
		}
		tarx_filter_stats(f, &stats);
		s2i_step(c, S2I_LOG_STEP, "--> copied '%s' to '%s/%s' (%llu entries, %llu bytes)", src,
			 strcmp(workdir, "/") ? workdir : "", prefix, (unsigned long long)stats.entries,
			 (unsigned long long)stats.bytes);
		rc = 0;
next:
		tarx_filter_free(f);
		engine_stream_free(st);
		free(src);
		free(dst);
		free(prefix);
		if (rc < 0)
			return -1;
	}
	return 0;
}

static int s2i_runtime_phase(struct s2i_ctx *c, const char *builder_id, struct err *e)
{
	const struct s2i_opts *o = c->o;
	const char *workdir = c->runtime.workdir && *c->runtime.workdir ? c->runtime.workdir : "/";
	const char *ruser = o->assemble_runtime_user && *o->assemble_runtime_user ?
			    o->assemble_runtime_user : c->runtime.user;
	char *id = NULL, *cmd = NULL, *run = NULL;
	long uid = 0, gid = 0;
	int code = 0, rc = -1, has_assemble_runtime = c->scripts[SC_ASSEMBLE_RUNTIME].found;

	s2i_step(c, S2I_LOG_STEP, "--> runtime image '%s' (%.19s), WORKDIR %s", o->runtime_image,
		 c->runtime.id, workdir);
	cmd = has_assemble_runtime ? s2i_script_path(c, SC_ASSEMBLE_RUNTIME, workdir) : NULL;
	if (s2i_create(c, c->runtime.id, ruser, cmd, &c->env, &id, e) < 0)
		goto out;
	if (s2i_resolve_user(c, id, ruser ? ruser : "", &uid, &gid, e) < 0) {
		err_prefix(e, "runtime image '%s'", o->runtime_image);
		goto out;
	}
	if (s2i_copy_artifacts(c, builder_id, id, workdir, &c->mappings, uid, gid, e) < 0)
		goto out;
	if (!c->scripts[SC_RUN].in_image ||
	    (has_assemble_runtime && !c->scripts[SC_ASSEMBLE_RUNTIME].in_image)) {
		struct s2i_fill_scripts f = { c, (1u << SC_RUN) | (1u << SC_ASSEMBLE_RUNTIME) };
		long save_uid = c->uid, save_gid = c->gid;

		c->uid = uid;
		c->gid = gid;
		rc = s2i_upload(c, id, workdir, s2i_fill_scripts, &f, e);
		c->uid = save_uid;
		c->gid = save_gid;
		if (rc < 0)
			goto out;
		rc = -1;
	}
	if (has_assemble_runtime) {
		s2i_step(c, S2I_LOG_STEP, "--> running assemble-runtime as '%s'", ruser && *ruser ? ruser : "root");
		if (s2i_run(c, id, "assemble-runtime", &code, e) < 0)
			goto out;
		if (code != 0) {
			c->r->outcome = S2I_FAILED;
			c->r->exit_status = code;
			err_set(e, "assemble-runtime exited with code %d", code);
			goto out;
		}
	}
	run = s2i_script_path(c, SC_RUN, workdir);
	s2i_step(c, S2I_LOG_STEP, "--> committing the runtime container");
	rc = s2i_commit(c, id, &c->runtime, run, e);
out:
	free(id);
	free(cmd);
	free(run);
	return rc;
}

/* The runtime artifact mappings, from -a or the runtime image's label, checked before
 * any container runs. */
static int s2i_runtime_mappings(struct s2i_ctx *c, struct err *e)
{
	const struct s2i_opts *o = c->o;
	size_t i;

	if (o->runtime_artifacts.n) {
		strv_copy(&c->mappings, &o->runtime_artifacts);
	} else {
		const char *label = engine_image_label(&c->runtime, "io.openshift.s2i.assemble-input-files");

		if (!label || !*label)
			return err_set(e, "no runtime artifacts to copy were specified (--runtime-artifact or "
				       "label io.openshift.s2i.assemble-input-files of '%s')", o->runtime_image);
		if (s2iparse_input_files(label, &c->mappings, e) < 0)
			return -1;
	}
	for (i = 0; i < c->mappings.n; i++) {
		char *src, *dst;
		int rc;

		if (s2iparse_mapping(c->mappings.items[i], &src, &dst, e) < 0)
			return -1;
		rc = s2iparse_runtime_artifact_check(src, dst, e);
		free(src);
		free(dst);
		if (rc < 0)
			return -1;
	}
	return 0;
}

/* ---- callback ---- */

static void s2i_callback(struct s2i_ctx *c, int success)
{
	struct strv labels = STRV_INIT;
	json_t *body = json_object(), *lab = json_object();
	static char *const hdrs[] = { "Content-Type: application/json", NULL };
	struct httpc_req r = HTTPC_REQ_INIT;
	struct httpc_answer a = HTTPC_ANSWER_INIT;
	struct err he = ERR_INIT;
	char *text = NULL;
	size_t i;

	json_object_set_new(body, "success", json_boolean(success));
	if (success) {
		s2i_labels(c, &labels);
		for (i = 0; i < labels.n; i++) {
			char *eq = strchr(labels.items[i], '=');

			*eq = '\0';
			if (strcmp(labels.items[i], S2I_BUILD_LABEL) &&
			    strcmp(labels.items[i], S2I_OWNER_LABEL))
				json_object_set_new(lab, labels.items[i], json_string(eq + 1));
		}
	}
	json_object_set_new(body, "labels", lab);
	text = json_dumps(body, JSON_COMPACT);
	if (!text) {
		s2i_step(c, S2I_LOG_WARN, "cannot send the callback to '%s'", c->o->callback_url);
		goto out;
	}
	r.url = c->o->callback_url;
	r.body = text;
	r.headers = hdrs;
	r.timeout = S2I_HTTP_TIMEOUT;
	r.connect_timeout = ENGINE_CONNECT_TIMEOUT;
	r.body_max = S2I_CALLBACK_BODY_MAX;	/* the rest of a longer answer is dropped */
	if (httpc_perform(&r, &a, &he) < 0)
		s2i_step(c, S2I_LOG_WARN, "callback to '%s' failed: %s", c->o->callback_url, he.msg);
	else if (a.code < 200 || a.code > 299)
		s2i_step(c, S2I_LOG_WARN, "callback to '%s' answered HTTP %ld", c->o->callback_url, a.code);
	else
		s2i_step(c, S2I_LOG_STEP, "--> callback to '%s' sent", c->o->callback_url);
out:
	httpc_answer_release(&a);
	free(text);
	json_decref(body);
	strv_clear(&labels);
}

/* ---- the build ---- */

static int s2i_check_users(struct s2i_ctx *c, struct err *e)
{
	const struct s2i_opts *o = c->o;
	struct s2iparse_uidrange *ranges = NULL;
	size_t n = 0;
	int rc = -1;

	if (!o->allowed_uids || !*o->allowed_uids)
		return 0;
	if (s2iparse_uids(o->allowed_uids, &ranges, &n, e) < 0)
		return err_prefix(e, "--allowed-uids");
	if (o->assemble_user && *o->assemble_user) {
		if (s2iparse_user_allowed(ranges, n, o->assemble_user, "assemble user", e) < 0)
			goto out;
	} else if (s2iparse_user_allowed(ranges, n, c->user, o->assemble_user ? "assemble user" :
					  "builder image user", e) < 0) {
		goto out;
	}
	if (o->runtime_image) {
		const char *ru = o->assemble_runtime_user && *o->assemble_runtime_user ?
				 o->assemble_runtime_user : c->runtime.user;

		if (s2iparse_user_allowed(ranges, n, ru ? ru : "", "runtime image user", e) < 0)
			goto out;
	}
	rc = 0;
out:
	free(ranges);
	return rc;
}

static int s2i_open_source(struct s2i_ctx *c, struct err *e)
{
	const struct s2i_opts *o = c->o;
	struct gitsrc_opts go = GITSRC_OPTS_INIT;

	go.mirror_dir = o->mirror_dir;
	go.context_dir = o->context_dir;
	go.token_file = o->git_token_file;
	go.ssh_key_file = o->ssh_key_file;
	go.known_hosts_file = o->known_hosts_file;
	go.ignore_submodules = o->ignore_submodules;
	if (gitsrc_open(o->source, &go, &c->src, e) < 0 ||
	    gitsrc_resolve(c->src, o->ref, o->sha, e) < 0)
		return err_prefix(e, "source '%s'", o->source);
	if (gitsrc_is_git(c->src)) {
		const struct gitsrc_info *gi = gitsrc_info(c->src);

		snprintf(c->r->commit, sizeof(c->r->commit), "%s", gi->id);
		s2i_step(c, S2I_LOG_STEP, "--> source '%s' at %.12s (%s): %s", o->source, gi->id, gi->ref,
			 gi->message);
	} else {
		s2i_step(c, S2I_LOG_STEP, "--> source '%s' (directory)", o->source);
	}
	return 0;
}

/* The log's first line: which engine, which version, which API we speak with it
 * (the negotiation happens here, so an engine out of our API range fails first). */
static int s2i_engine_line(struct s2i_ctx *c, struct err *e)
{
	struct engine_version v;

	if (engine_version(c->eng, &v, e) < 0) {
		/* no engine listening yet: the source is fetched all the same (a build can
		 * wait for a starting engine), and the first call that needs it says why */
		if (engine_refused(c->eng) && !(c->cancel && *c->cancel)) {
			/* not the build's reason unless a later call fails the same way */
			engine_forget_failure(c->eng);
			*e = (struct err)ERR_INIT;
			return 0;
		}
		s2i_engine_outcome(c);
		return -1;
	}
	s2i_step(c, S2I_LOG_STEP, "--> engine %s %s at %s, API %s (it speaks %s to %s)", v.name, v.version,
		 engine_address(c->eng), v.api, v.server_min_api[0] ? v.server_min_api : "?", v.server_api);
	return 0;
}

static int s2i_do_build(struct s2i_ctx *c, struct err *e)
{
	const struct s2i_opts *o = c->o;
	struct engine_tls tls = { o->engine_tls_ca, o->engine_tls_cert, o->engine_tls_key };
	const char *label_dest, *label_user;
	char *id = NULL, *assemble = NULL, *run = NULL;
	int code = 0, rc = -1, incremental = 0;

	if (o->exclude.n && srctar_check_exclude(&o->exclude, e) < 0)
		return err_prefix(e, "--exclude");
	if (o->engine_tls_cert || o->engine_tls_ca)
		c->eng = engine_new(o->engine_url, &tls, e);
	else
		c->eng = engine_new_from_env(o->engine_url, e);
	if (!c->eng)
		return -1;
	engine_set_cancel(c->eng, c->cancel);
	if (o->timeout > 0)
		engine_set_deadline(c->eng, engine_clock_ms() + (int64_t)o->timeout * 1000);
	if (o->registry_auth_file && engine_set_registry_auth(c->eng, o->registry_auth_file, e) < 0)
		return -1;
	if (s2i_engine_line(c, e) < 0)
		return -1;

	if (s2i_open_source(c, e) < 0)
		return -1;

	s2i_step(c, S2I_LOG_STEP, "--> builder image '%s' (pull policy %s)", o->builder,
		 pull_policy_name(o->pull_policy));
	if (engine_image_ensure(c->eng, o->builder, o->pull_policy, s2i_on_progress, c, &c->builder, e) < 0) {
		s2i_engine_outcome(c);
		return -1;
	}
	if (o->runtime_image) {
		s2i_step(c, S2I_LOG_STEP, "--> runtime image '%s' (pull policy %s)", o->runtime_image,
			 pull_policy_name(o->runtime_pull_policy));
		if (engine_image_ensure(c->eng, o->runtime_image, o->runtime_pull_policy, s2i_on_progress, c,
					&c->runtime, e) < 0) {
			s2i_engine_outcome(c);
			return -1;
		}
		if (s2i_runtime_mappings(c, e) < 0)
			return -1;
	}

	label_dest = engine_image_label(&c->builder, "io.openshift.s2i.destination");
	c->dest = xstrdup(o->destination && *o->destination ? o->destination :
			  label_dest && *label_dest ? label_dest : S2I_DEFAULT_DESTINATION);
	if (c->dest[0] != '/')
		return err_set(e, "destination '%s' is not an absolute path", c->dest);
	label_user = engine_image_label(&c->builder, "io.openshift.s2i.assemble-user");
	c->user = xstrdup(o->assemble_user && *o->assemble_user ? o->assemble_user :
			  label_user && *label_user ? label_user : c->builder.user ? c->builder.user : "");
	if (s2i_check_users(c, e) < 0)
		return -1;

	if (s2i_find_scripts(c, e) < 0)
		return -1;
	if (s2i_build_env(c, e) < 0)
		return -1;

	assemble = s2i_script_path(c, SC_ASSEMBLE, c->dest);
	/* save-artifacts first: the previous image's container runs while the builder
	 * container is made and the source goes in */
	if (o->incremental && o->tag) {
		struct err ie = ERR_INIT;

		if (s2i_restore_start(c, &ie) == 0) {
			incremental = 1;
		} else if (c->r->outcome == S2I_CANCELED || c->timed_out || engine_unreachable(c->eng)) {
			/* no clean build either: the engine is gone or does not answer */
			*e = ie;
			goto out;
		} else {
			s2i_step(c, S2I_LOG_WARN, "clean build will be performed: %s", ie.msg);
			s2i_restore_end(c);
		}
	}
	if (s2i_create(c, c->builder.id, c->user, assemble, &c->env, &id, e) < 0)
		goto out;
	if (s2i_resolve_user(c, id, c->user, &c->uid, &c->gid, e) < 0) {
		err_prefix(e, "builder image '%s'", o->builder);
		goto out;
	}
	{
		struct s2i_fill_main f = { c, incremental };

		if (s2i_upload(c, id, c->dest, s2i_fill_main, &f, e) < 0) {
			err_prefix(e, "cannot upload the source");
			goto out;
		}
	}
	if (incremental) {
		struct err ie = ERR_INIT;

		if (s2i_restore_finish(c, id, &ie) < 0) {
			incremental = 0;
			if (c->r->outcome == S2I_CANCELED || c->timed_out || engine_unreachable(c->eng)) {
				*e = ie;
				goto out;
			}
			s2i_step(c, S2I_LOG_WARN, "clean build will be performed: %s", ie.msg);
			s2i_restore_end(c);
			/* artifacts may be half uploaded: start over in a fresh container */
			s2i_drop_container(c, id);
			free(id);
			id = NULL;
			if (s2i_create(c, c->builder.id, c->user, assemble, &c->env, &id, e) < 0)
				goto out;
			{
				struct s2i_fill_main f = { c, 0 };

				if (s2i_upload(c, id, c->dest, s2i_fill_main, &f, e) < 0) {
					err_prefix(e, "cannot upload the source");
					goto out;
				}
			}
		}
		s2i_restore_end(c);
	}
	c->r->incremental = incremental;
	if (s2i_inject(c, id, e) < 0)
		goto out;

	s2i_step(c, S2I_LOG_STEP, "--> running %s as '%s'", assemble, *c->user ? c->user : "root");
	c->quiet_scripts = o->quiet;
	if (s2i_run(c, id, "assemble", &code, e) < 0)
		goto out;
	c->quiet_scripts = 0;
	if (code != 0) {
		c->r->outcome = S2I_FAILED;
		c->r->exit_status = code;
		err_set(e, "assemble exited with code %d", code);
		goto out;
	}
	if (c->injected.n && s2i_truncate_injected(c, id, e) < 0)
		goto out;
	if (s2i_read_metadata(c, id, e) < 0)
		goto out;

	if (o->runtime_image) {
		if (s2i_runtime_phase(c, id, e) < 0)
			goto out;
	} else {
		run = s2i_script_path(c, SC_RUN, c->dest);
		s2i_step(c, S2I_LOG_STEP, "--> committing%s%s", o->tag ? " " : "", o->tag ? o->tag : "");
		if (s2i_commit(c, id, &c->builder, run, e) < 0)
			goto out;
	}
	s2i_step(c, S2I_LOG_STEP, "--> built %s%s%s", o->tag ? o->tag : "", o->tag ? " " : "",
		 c->r->image_id);
	if (o->rm && c->prev_image && strcmp(c->prev_image, c->r->image_id)) {
		struct err re = ERR_INIT;

		if (engine_image_remove(c->eng, c->prev_image, 0, 1, &re) < 0)
			s2i_step(c, S2I_LOG_WARN, "cannot remove the previous image %.19s: %s", c->prev_image, re.msg);
		else
			s2i_step(c, S2I_LOG_STEP, "--> removed the previous image %.19s", c->prev_image);
	}
	if (o->push && o->tag) {
		char *digest = NULL;

		s2i_step(c, S2I_LOG_STEP, "--> pushing %s", o->tag);
		if (engine_image_push(c->eng, o->tag, s2i_on_progress, c, &digest, e) < 0) {
			s2i_engine_outcome(c);
			err_prefix(e, "cannot push '%s'", o->tag);
			goto out;
		}
		c->r->pushed = 1;
		c->r->push_digest = digest;
		s2i_step(c, S2I_LOG_STEP, "--> pushed %s%s%s", o->tag, digest ? " " : "", digest ? digest : "");
	}
	rc = 0;
out:
	free(id);
	free(assemble);
	free(run);
	return rc;
}

int s2i_build(const struct s2i_opts *o, s2i_log_fn log, void *log_arg,
	      const volatile sig_atomic_t *cancel, struct s2i_result *r, struct err *e)
{
	struct s2i_ctx c;
	int i, rc;

	memset(r, 0, sizeof(*r));
	r->outcome = S2I_ERRORED;
	r->exit_status = -1;
	r->image = o->tag ? xstrdup(o->tag) : NULL;
	r->left = (struct strv)STRV_INIT;
	memset(&c, 0, sizeof(c));
	c.o = o;
	c.r = r;
	c.log = log;
	c.log_arg = log_arg;
	c.cancel = cancel;
	c.containers = (struct strv)STRV_INIT;
	c.env = (struct strv)STRV_INIT;
	c.meta_labels = (struct strv)STRV_INIT;
	c.injected = (struct strv)STRV_INIT;
	c.injected_src = (struct strv)STRV_INIT;
	c.mappings = (struct strv)STRV_INIT;
	c.builder = (struct engine_image)ENGINE_IMAGE_INIT;
	c.runtime = (struct engine_image)ENGINE_IMAGE_INIT;
	for (i = 0; i < SC_N; i++)
		buf_init(&c.scripts[i].data, S2I_SCRIPT_MAX);
	if (o->build_id && *o->build_id)
		snprintf(c.build_id, sizeof(c.build_id), "%s", o->build_id);
	else
		s2i_random_id(c.build_id, sizeof(c.build_id));
	c.build_label = xasprintf("%s=%s", S2I_BUILD_LABEL, c.build_id);
	if (o->owner && *o->owner) {
		c.owner_label = xasprintf("%s=%s", S2I_OWNER_LABEL, o->owner);
	} else {
		char owner[S2I_OWNER_MAX];

		s2i_random_id(owner, sizeof(owner));
		c.owner_label = xasprintf("%s=cli-%s", S2I_OWNER_LABEL, owner);
	}

	if (!o->source || !o->builder) {
		rc = err_set(e, "a source and a builder image are needed");
	} else {
		rc = s2i_do_build(&c, e);
	}
	engine_stream_free(c.save_st);
	c.save_st = NULL;
	free(c.save_id);	/* still listed in c.containers: removed below */
	c.save_id = NULL;
	s2i_lines_flush(&c);
	if (rc == 0)
		r->outcome = S2I_SUCCEEDED;
	else if (cancel && *cancel)
		r->outcome = S2I_CANCELED;
	if (rc < 0 && c.timed_out)
		err_set(e, "the build timed out after %lds", o->timeout);
	if (rc < 0 && r->outcome == S2I_CANCELED)
		err_set(e, "the build was canceled");
	if (rc < 0 && r->outcome == S2I_ERRORED && engine_unreachable(c.eng)) {
		/* the engine first: a commit status shows ~140 characters of the reason */
		s2i_step(&c, S2I_LOG_STEP, "--> %s", e->msg);
		err_set(e, "%s", engine_unreachable(c.eng));
	}
	s2i_remove_containers(&c);
	if (o->callback_url && *o->callback_url && r->outcome != S2I_CANCELED)
		s2i_callback(&c, rc == 0);
	if (rc < 0)
		snprintf(r->reason, sizeof(r->reason), "%s", e->msg);

	for (i = 0; i < SC_N; i++) {
		free(c.scripts[i].path);
		buf_release(&c.scripts[i].data);
	}
	strv_clear(&c.env);
	strv_clear(&c.meta_labels);
	strv_clear(&c.injected);
	strv_clear(&c.injected_src);
	strv_clear(&c.mappings);
	engine_image_release(&c.builder);
	engine_image_release(&c.runtime);
	free(c.dest);
	free(c.user);
	free(c.prev_image);
	free(c.build_label);
	free(c.owner_label);
	gitsrc_free(c.src);
	engine_free(c.eng);
	return rc;
}

/* Removes the containers carrying every one of labels (NULL-terminated). */
static int s2i_remove_labelled(struct engine *eng, const char *const *labels, size_t *ret_n,
			       struct err *e)
{
	struct strv ids = STRV_INIT;
	size_t i, n = 0;
	int rc = -1;

	if (engine_container_list_all(eng, labels, &ids, e) == 0) {
		rc = 0;
		for (i = 0; i < ids.n; i++) {
			if (engine_container_remove(eng, ids.items[i], 1, 1, e) < 0)
				rc = -1;
			else
				n++;
		}
	}
	if (ret_n)
		*ret_n = n;
	strv_clear(&ids);
	return rc;
}

int s2i_remove_build_containers(struct engine *eng, const char *build_id, const char *owner,
				size_t *ret_n, struct err *e)
{
	const char *labels[3];
	char *bl, *ol;
	int rc;

	if (ret_n)
		*ret_n = 0;
	if (!build_id || !*build_id || !owner || !*owner)
		return err_set(e, "cannot remove build containers without a build id and an owner");
	bl = xasprintf("%s=%s", S2I_BUILD_LABEL, build_id);
	ol = xasprintf("%s=%s", S2I_OWNER_LABEL, owner);
	labels[0] = bl;
	labels[1] = ol;
	labels[2] = NULL;
	rc = s2i_remove_labelled(eng, labels, ret_n, e);
	free(bl);
	free(ol);
	return rc;
}

int s2i_remove_owned_containers(struct engine *eng, const char *owner, size_t *ret_n,
				struct err *e)
{
	const char *labels[2];
	char *ol;
	int rc;

	if (ret_n)
		*ret_n = 0;
	if (!owner || !*owner)
		return err_set(e, "cannot remove build containers without an owner");
	ol = xasprintf("%s=%s", S2I_OWNER_LABEL, owner);
	labels[0] = ol;
	labels[1] = NULL;
	rc = s2i_remove_labelled(eng, labels, ret_n, e);
	free(ol);
	return rc;
}

static int s2i_strv_has(const struct strv *v, const char *s)
{
	size_t i;

	for (i = 0; i < v->n; i++)
		if (!strcmp(v->items[i], s))
			return 1;
	return 0;
}

int s2i_count_unowned(struct engine *eng, size_t *ret_n, struct err *e)
{
	struct strv ids = STRV_INIT, empty = STRV_INIT, owned = STRV_INIT;
	size_t i, n = 0;
	int rc = -1;

	/* "k=" matches the empty value only: those containers run images we built */
	if (engine_container_list(eng, S2I_BUILD_LABEL, &ids, e) < 0 ||
	    engine_container_list(eng, S2I_BUILD_LABEL "=", &empty, e) < 0 ||
	    engine_container_list(eng, S2I_OWNER_LABEL, &owned, e) < 0)
		goto out;
	for (i = 0; i < ids.n; i++)
		if (!s2i_strv_has(&empty, ids.items[i]) && !s2i_strv_has(&owned, ids.items[i]))
			n++;
	rc = 0;
out:
	if (ret_n)
		*ret_n = n;
	strv_clear(&ids);
	strv_clear(&empty);
	strv_clear(&owned);
	return rc;
}
