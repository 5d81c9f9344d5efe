/* s2i_secrets: what only assemble may see (--build-env, --build-secret): files in a volume
 * of the build's own, mounted at /run/secrets in the assemble container and nowhere else. */
/* Why a volume: a commit takes the container's layer and config, and the engine merges
 * the container's Env into the image's (and records it as container_config), so neither
 * the container's Env nor its filesystem may hold them. A mounted volume is not part of
 * the layer; the variables are read from a file in it by `sh -c` in front of assemble
 * (only then is /bin/sh needed in the builder). The volume is removed with the build's
 * containers. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "s2i_int.h"
#include "s2iparse.h"

/* /run/secrets/.build-env: NAME='value' lines, read with set -a */
#define S2I_BUILD_ENV_FILE	".build-env"
static const char s2i_build_env_sh[] =
	"set -a && . " S2I_SECRETS_DIR "/" S2I_BUILD_ENV_FILE " && set +a && exec \"$0\"";


static int s2i_env_name_ok(const char *n, size_t len)
{
	size_t i;

	if (!len || isdigit((unsigned char)n[0]))
		return 0;
	for (i = 0; i < len; i++)
		if (!isalnum((unsigned char)n[i]) && n[i] != '_')
			return 0;
	return 1;
}

int s2i_secrets_check(const struct s2i_opts *o, struct err *e)
{
	size_t i;

	for (i = 0; i < o->build_secrets.n; i++) {
		const char *s = o->build_secrets.items[i], *colon = strchr(s, ':');
		struct stat st;

		if (!colon || !s2iparse_secret_name_ok(s, (size_t)(colon - s)))
			return err_set(e, "build secret '%.*s': expected NAME:PATH, NAME of letters, "
				       "digits, '.', '_' and '-' not starting with '.'",
				       colon ? (int)(colon - s) : (int)strlen(s), s);
		if (stat(colon + 1, &st) < 0)
			return err_errno(e, "build secret '%.*s': cannot read '%s'", (int)(colon - s), s,
					 colon + 1);
		if (!S_ISREG(st.st_mode))
			return err_set(e, "build secret '%.*s': '%s' is not a regular file",
				       (int)(colon - s), s, colon + 1);
		if (st.st_size > S2I_SECRET_FILE_MAX)
			return err_set(e, "build secret '%.*s': '%s' is larger than %d bytes",
				       (int)(colon - s), s, colon + 1, S2I_SECRET_FILE_MAX);
	}
	for (i = 0; i < o->build_env.n; i++) {
		const char *v = o->build_env.items[i], *eq = strchr(v, '=');

		if (!eq || !s2i_env_name_ok(v, (size_t)(eq - v)))
			return err_set(e, "build environment: expected NAME=VALUE, not '%.*s'",
				       eq ? (int)(eq - v) : 0, v);
	}
	return 0;
}

int s2i_secrets_prepare(struct s2i_ctx *c, struct err *e)
{
	const struct s2i_opts *o = c->o;
	struct buf file = BUF_INIT(S2I_ENV_FILE_MAX);
	char rnd[17];
	size_t i, from;

	strv_copy(&c->build_env, &o->build_env);
	from = c->build_env.n;
	if (o->build_env_file) {
		if (s2i_read_local(o->build_env_file, S2I_ENV_FILE_MAX, &file, e) < 0) {
			buf_release(&file);
			return err_prefix(e, "build_env_file");
		}
		s2iparse_env(file.data, file.len, S2IPARSE_ENV_FILE, &c->build_env);
		explicit_bzero(file.data, file.len);
		buf_release(&file);
	}
	for (i = from; i < c->build_env.n; i++) {
		const char *v = c->build_env.items[i], *eq = strchr(v, '=');

		/* the file's name and line: its values are not shown */
		if (!eq || !s2i_env_name_ok(v, (size_t)(eq - v)))
			return err_set(e, "build_env_file '%s': entry %zu is not NAME=VALUE",
				       o->build_env_file, i - from + 1);
	}
	if (!c->build_env.n && !o->build_secrets.n)
		return 0;
	s2i_random_id(rnd, sizeof(rnd));
	c->secrets_volume = xasprintf("s2i-agent-secrets-%s", rnd);
	return 0;
}

int s2i_create_assemble(struct s2i_ctx *c, const char *assemble, char **ret_id, struct err *e)
{
	const struct s2i_opts *o = c->o;
	struct strv binds = STRV_INIT;
	const char *argv[5];
	int rc;

	if (!c->secrets_volume)
		return s2i_create(c, c->builder.id, c->user, assemble, &c->env, ret_id, e);
	strv_copy(&binds, &o->volumes);
	strv_pushf(&binds, "%s:%s", c->secrets_volume, S2I_SECRETS_DIR);
	if (c->build_env.n) {
		argv[0] = "/bin/sh";
		argv[1] = "-c";
		argv[2] = s2i_build_env_sh;
		argv[3] = assemble;
		argv[4] = NULL;
	} else {
		argv[0] = assemble;
		argv[1] = NULL;
	}
	rc = s2i_create_argv(c, c->builder.id, c->user, argv, &c->env, &binds, ret_id, e);
	strv_clear(&binds);
	return rc;
}

/* value in single quotes for sh: ' becomes '\'' */
static void s2i_sh_quote(struct buf *b, const char *v)
{
	buf_addch(b, '\'');
	for (; *v; v++)
		if (*v == '\'')
			buf_addstr(b, "'\\''");
		else
			buf_addch(b, *v);
	buf_addch(b, '\'');
}

static int s2i_fill_secrets(struct srctar *t, void *arg, struct err *e)
{
	const struct s2i_ctx *c = arg;
	const struct s2i_opts *o = c->o;
	struct buf env = BUF_INIT(S2I_ENV_FILE_MAX);
	size_t i;
	int rc = 0;

	for (i = 0; i < o->build_secrets.n && rc == 0; i++) {
		const char *s = o->build_secrets.items[i], *colon = strchr(s, ':');
		char *name = xstrndup(s, (size_t)(colon - s));

		rc = srctar_add_path(t, name, colon + 1, 0400, e);
		free(name);
	}
	if (rc == 0 && c->build_env.n) {
		for (i = 0; i < c->build_env.n; i++) {
			const char *v = c->build_env.items[i], *eq = strchr(v, '=');

			buf_add(&env, v, (size_t)(eq - v) + 1);
			s2i_sh_quote(&env, eq + 1);
			buf_addch(&env, '\n');
		}
		if (env.len >= env.max - 1)
			rc = err_set(e, "the build environment takes more than %d bytes", S2I_ENV_FILE_MAX);
		else
			rc = srctar_add_file(t, S2I_BUILD_ENV_FILE, 0400, env.data, env.len, e);
	}
	if (env.len)
		explicit_bzero(env.data, env.len);
	buf_release(&env);
	return rc;
}

int s2i_secrets_upload(struct s2i_ctx *c, const char *id, struct err *e)
{
	struct srctar_opts so = SRCTAR_OPTS_INIT;

	if (!c->secrets_volume)
		return 0;
	so.uid = (uid_t)c->uid;
	so.gid = (gid_t)c->gid;
	/* the volume's top, owned by root: the entries alone */
	so.no_prefix_dirs = 1;
	if (s2i_upload_opts(c, id, S2I_SECRETS_DIR, &so, s2i_fill_secrets, c, e) < 0)
		return err_prefix(e, "cannot hand the build secrets over");
	return 0;
}

void s2i_secrets_remove(struct s2i_ctx *c)
{
	struct err e = ERR_INIT;
	size_t i;

	for (i = 0; i < c->build_env.n; i++)
		explicit_bzero(c->build_env.items[i], strlen(c->build_env.items[i]));
	strv_clear(&c->build_env);
	if (!c->secrets_volume)
		return;
	if (c->eng && engine_volume_remove(c->eng, c->secrets_volume, &e) < 0)
		s2i_step(c, S2I_LOG_WARN, "%s", e.msg);
	free(c->secrets_volume);
	c->secrets_volume = NULL;
}
