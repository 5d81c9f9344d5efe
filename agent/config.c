/* config: loads agent.conf (s2i-agent.conf(5)) with inih into struct config, checks every
 * key against one table, reads the secret files and reports all errors at once. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ini.h>

#include "config.h"
#include "config_int.h"
#include "pull.h"
#include "s2iparse.h"
#include "store.h"
#include "sshkey.h"

const char *config_default_path(void)
{
	const char *p = getenv(CONFIG_ENV);

	return p && *p ? p : CONFIG_DEFAULT_PATH;
}

/* --- secret files ------------------------------------------------------- */

int config_read_secret(const char *path, char **out, size_t max, size_t *ret_n, struct err *e)
{
	char data[SECRET_FILE_MAX + 1];
	size_t len = 0, n = 0, i;
	ssize_t got;
	struct stat st;
	char *line, *next;
	int fd, ret = -1;

	fd = xopen_regular(path, 0, &st, e);
	if (fd < 0)
		return -1;
	if (st.st_mode & 077) {
		err_set(e, "'%s' is readable by group or others (mode %04o); chmod 600 it",
			path, (unsigned)(st.st_mode & 07777));
		goto out;
	}
	got = xread_full(fd, data, sizeof(data));
	if (got < 0) {
		err_errno(e, "cannot read '%s'", path);
		goto out;
	}
	len = (size_t)got;
	if (len > SECRET_FILE_MAX) {
		err_set(e, "'%s' is larger than %d bytes", path, SECRET_FILE_MAX);
		goto out;
	}
	if (memchr(data, '\0', len)) {
		err_set(e, "'%s' contains a NUL byte", path);
		goto out;
	}
	data[len] = '\0';
	for (line = data; line && *line; line = next) {
		size_t l;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		l = strlen(line);
		while (l > 0 && isspace((unsigned char)line[l - 1]))
			line[--l] = '\0';
		if (l == 0)
			continue;
		if (n == max) {
			err_set(e, "'%s' holds more than %zu secret%s (one per line)", path, max,
				max == 1 ? "" : "s");
			goto out;
		}
		out[n++] = xstrdup(line);
	}
	if (n == 0) {
		err_set(e, "'%s' is empty", path);
		goto out;
	}
	*ret_n = n;
	ret = 0;
out:
	if (ret < 0)
		for (i = 0; i < n; i++) {
			explicit_bzero(out[i], strlen(out[i]));
			free(out[i]);
			out[i] = NULL;
		}
	explicit_bzero(data, sizeof(data));
	close(fd);
	return ret;
}

/* --- the key table ------------------------------------------------------ */

enum cfg_type {
	K_STR,		/* any text */
	K_WORD,		/* text without whitespace (image names, users) */
	K_HTTPURL,	/* http(s) URL, trailing '/' removed */
	K_BOOL,
	K_DURATION,
	K_LEASE,	/* a duration from CONFIG_LEASE_MIN to CONFIG_LEASE_MAX */
	K_SIZE,
	K_WORKERS,
	K_COUNT,	/* positive integer (long), up to CONFIG_COUNT_MAX */
	K_KEEP,		/* whole number (long) from 0, up to CONFIG_COUNT_MAX; 0: off */
	K_FREE,		/* a size (long) or 0: off */
	K_LISTEN,
	K_ENGINE,
	K_DATABASE,	/* sqlite or a postgresql:// URL without a password */
	K_TOKEN,	/* file holding one secret, read into off2 */
	K_SECRETS,	/* secret_file: up to SECRETS_PER_REPO secrets */
	K_PRIVATE,	/* path of a private file the agent hands on (keys, auth) */
	K_REPO_URL,
	K_GLOBS,	/* repeatable, whitespace-separated globs */
	K_TEMPLATE,
	K_PRTEMPLATE,	/* K_TEMPLATE plus {pr} */
	K_PRS,		/* pull_requests */
	K_SECRETPAIR,	/* repeatable NAME:PATH of a private file */
	K_STATUS,
	K_PULL,
	K_ENV,		/* repeatable NAME=VALUE */
	K_ARTIFACT,	/* repeatable /abs/src[:rel/dst] */
	K_PAIR,		/* repeatable A:B */
	K_LIST,		/* repeatable, one item per line */
	K_CAPS,		/* repeatable, comma or space separated capability names */
	K_LABELS,	/* repeatable, comma or space separated KEY=VALUE */
	K_UIDS,
	K_SCRIPTS,
	K_ABSPATH,
	K_RELPATH,
};

enum cfg_sect { SECT_AGENT = 1, SECT_REPO = 2 };

/* One row per key: how agent.conf spells it, how a build job's JSON spells it (the
 * field's name, jobwire.c), its type and where it lives. Parsing, freeing,
 * the build job and its parsing in the build process are all driven by this table. */
struct cfg_key {
	const char *name;
	const char *json;
	enum cfg_sect sect;
	enum cfg_type type;
	size_t off;
	size_t off2;		/* K_TOKEN: where the secret goes */
};

#define A(n, t)		{ #n, #n, SECT_AGENT, t, offsetof(struct config, n), 0 }
#define AT(n, t, s)	{ #n, #n, SECT_AGENT, t, offsetof(struct config, n), offsetof(struct config, s) }
#define R(n, t)		{ #n, #n, SECT_REPO, t, offsetof(struct repo_conf, n), 0 }
#define RF(k, n, t)	{ k, #n, SECT_REPO, t, offsetof(struct repo_conf, n), 0 }
#define RT(n, t, s)	{ #n, #n, SECT_REPO, t, offsetof(struct repo_conf, n), offsetof(struct repo_conf, s) }

static const struct cfg_key cfg_keys[] = {
	{ "listen", "listen", SECT_AGENT, K_LISTEN, 0, 0 },
	A(public_url, K_HTTPURL),
	A(state_dir, K_STR),
	A(engine, K_ENGINE),
	A(tls_ca, K_STR),
	A(tls_cert, K_STR),
	A(tls_key, K_PRIVATE),
	A(workers, K_WORKERS),
	A(build_timeout, K_DURATION),
	A(max_body, K_SIZE),
	A(queue_max, K_COUNT),
	A(registry_auth_file, K_PRIVATE),
	AT(admin_token_file, K_TOKEN, admin_token),
	A(public_read, K_BOOL),
	AT(read_token_file, K_TOKEN, read_token),
	A(database, K_DATABASE),
	AT(database_password_file, K_TOKEN, database_password),
	A(keep_builds, K_KEEP),
	A(keep_days, K_KEEP),
	A(min_free_space, K_FREE),
	A(lease, K_LEASE),
	A(labels, K_LABELS),

	R(url, K_REPO_URL),
	R(secret_file, K_SECRETS),
	R(branches, K_GLOBS),
	R(tags, K_GLOBS),
	R(builder, K_WORD),
	R(tag, K_TEMPLATE),
	R(push, K_BOOL),
	R(incremental, K_BOOL),
	R(cancel_superseded, K_BOOL),
	R(context_dir, K_RELPATH),
	R(env, K_ENV),
	R(runtime_image, K_WORD),
	RF("runtime_artifact", runtime_artifacts, K_ARTIFACT),
	R(status, K_STATUS),
	R(status_api, K_HTTPURL),
	R(status_repo, K_WORD),
	RT(status_token_file, K_TOKEN, status_token),
	R(status_context, K_STR),
	RT(git_token_file, K_TOKEN, git_token),
	R(ssh_key_file, K_PRIVATE),
	R(known_hosts_file, K_STR),
	R(scripts_url, K_SCRIPTS),
	R(assemble_user, K_WORD),
	R(assemble_runtime_user, K_WORD),
	R(allowed_uids, K_UIDS),
	R(pull_policy, K_PULL),
	R(incremental_pull_policy, K_PULL),
	R(runtime_pull_policy, K_PULL),
	R(network, K_WORD),
	R(cap_drop, K_CAPS),
	R(exclude, K_LIST),
	R(inject, K_PAIR),
	R(volume, K_PAIR),
	R(add_host, K_PAIR),
	R(environment_file, K_STR),
	R(description, K_STR),
	R(application_name, K_STR),
	R(destination, K_ABSPATH),
	R(callback_url, K_HTTPURL),
	R(ignore_submodules, K_BOOL),
	R(rm, K_BOOL),
	R(pull_requests, K_PRS),
	R(pr_tag, K_PRTEMPLATE),
	R(build_env, K_ENV),
	R(build_env_file, K_PRIVATE),
	R(build_secret_file, K_SECRETPAIR),
	R(keep_builds, K_KEEP),
	R(keep_days, K_KEEP),
	R(min_free_space, K_FREE),
	R(run_on, K_LABELS),
};

#define NKEYS (sizeof(cfg_keys) / sizeof(cfg_keys[0]))

const char *const config_status_names[STATUS_GITEA + 1] = { "none", "github", "gitlab", "gitea" };

/* --- parser state ------------------------------------------------------- */

struct cfg_error {
	int line;
	int warn;	/* a warning: reported, but the configuration loads */
	char *msg;
};

enum cfg_where { IN_NONE, IN_AGENT, IN_REPO, IN_BAD };

struct cfg_state {
	const char *path;
	struct config *c;
	struct cfg_error *errs;
	size_t nerrs, aerrs;
	/* the reader's position in the file */
	const char *data;
	size_t len, pos;
	int lineno;
	/* the section the current line belongs to */
	enum cfg_where where;
	struct repo_conf *repo;
	int agent_seen[NKEYS];		/* line a key was set on, 0 if not */
	int (*repo_seen)[NKEYS];	/* the same per repo, parallel to c->repos */
	int *seen;			/* the current section's row */
};

static void cfg_report(struct cfg_state *st, int line, int warn, const char *msg)
{
	if (st->nerrs == st->aerrs) {
		st->aerrs = st->aerrs ? 2 * st->aerrs : 16;
		st->errs = xrealloc(st->errs, st->aerrs * sizeof(*st->errs));
	}
	st->errs[st->nerrs].line = line;
	st->errs[st->nerrs].warn = warn;
	st->errs[st->nerrs].msg = xstrdup(msg);
	st->nerrs++;
}

static void cfg_error(struct cfg_state *st, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void cfg_error(struct cfg_state *st, int line, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	if (!msg)
		abort();
	cfg_report(st, line, 0, msg);
	free(msg);
}

static int cfg_has_error_on(const struct cfg_state *st, int line)
{
	size_t i;

	for (i = 0; i < st->nerrs; i++)
		if (st->errs[i].line == line && !st->errs[i].warn)
			return 1;
	return 0;
}

static void cfg_set_str(char **dst, const char *v)
{
	free(*dst);
	*dst = xstrdup(v);
}

static void cfg_free_secret(char **s)
{
	if (*s) {
		explicit_bzero(*s, strlen(*s));
		free(*s);
		*s = NULL;
	}
}

/* --- the handler -------------------------------------------------------- */

/* A key the SSH layer cannot use is named here rather than by a failed fetch: an
 * error when it can never work (encrypted: s2i-agent.conf(5) has no passphrase key),
 * a warning when some servers take it (RSA signs with SHA-1 only in this build; an
 * older sshd accepts it). */
static void cfg_ssh_key(struct cfg_state *st, int line, const char *path)
{
	char msg[ERR_MSG_MAX];

	switch (sshkey_check(path, msg, sizeof(msg))) {
	case SSHKEY_OK:
		return;
	case SSHKEY_WARN:
		cfg_report(st, line, 1, msg);
		return;
	case SSHKEY_UNUSABLE:
		cfg_report(st, line, 0, msg);
		return;
	}
}

static const char *cfg_sect_label(const struct cfg_state *st, char *buf, size_t n)
{
	if (st->where == IN_REPO)
		snprintf(buf, n, "[repo \"%s\"]", st->repo->name);
	else
		snprintf(buf, n, "[agent]");
	return buf;
}

/* --- one parser per kind of value ----------------------------------------- */

/* What a parser gets: the value, its key, the field it goes to (base + k->off), the
 * struct that holds it, and the state for what reports on its own. */
struct cfg_val {
	struct cfg_state *st;
	const struct cfg_key *k;
	void *base;
	void *field;
	const char *v;
};

/* A parser stores a->v in its field and returns NULL, or returns why the value is
 * refused ("expected ..."), which cfg_apply reports as "invalid value for 'KEY': WHY".
 * A refusal worded otherwise (a secret file that cannot be read, too many values) the
 * parser reports itself and returns CFG_SAID. */
typedef const char *cfg_parse_fn(const struct cfg_val *a);

static const char cfg_said[] = "";
#define CFG_SAID	cfg_said

#define CFG_STRING_(x)	#x
#define CFG_STRING(x)	CFG_STRING_(x)

static const char *cfg_parse_str(const struct cfg_val *a)
{
	cfg_set_str(a->field, a->v);
	return NULL;
}

static const char *cfg_parse_word(const struct cfg_val *a)
{
	if (cfg_has_space(a->v))
		return "must not contain whitespace";
	cfg_set_str(a->field, a->v);
	return NULL;
}

static const char *cfg_parse_http_url(const struct cfg_val *a)
{
	char *u;
	size_t n;

	if (!cfg_is_http_url(a->v))
		return "expected an http:// or https:// URL";
	if (cfg_url_has_password(a->v))
		return "must not contain a password";
	u = xstrdup(a->v);
	n = strlen(u);
	while (n > 0 && u[n - 1] == '/')
		u[--n] = '\0';
	free(*(char **)a->field);
	*(char **)a->field = u;
	return NULL;
}

static const char *cfg_parse_bool(const struct cfg_val *a)
{
	return cfg_bool(a->v, a->field) < 0 ? "expected yes or no" : NULL;
}

static const char *cfg_parse_duration(const struct cfg_val *a)
{
	long secs;

	if (config_parse_duration(a->v, &secs) < 0 || secs <= 0)
		return "expected a duration like 90s, 30m, 2h or 1h30m";
	*(long *)a->field = secs;
	return NULL;
}

static const char *cfg_parse_lease(const struct cfg_val *a)
{
	long secs;

	if (config_parse_duration(a->v, &secs) < 0 || secs < CONFIG_LEASE_MIN ||
	    secs > CONFIG_LEASE_MAX)
		return "expected a duration from " CFG_STRING(CONFIG_LEASE_MIN) "s to "
			CFG_STRING(CONFIG_LEASE_MAX) "s, like 60s or 2m";
	*(long *)a->field = secs;
	return NULL;
}

static const char *cfg_parse_size(const struct cfg_val *a)
{
	size_t n;

	if (config_parse_size(a->v, &n) < 0 || n == 0)
		return "expected a size like 512k, 25MiB or 1G";
	*(size_t *)a->field = n;
	return NULL;
}

/* an int from 0 to CONFIG_MAX_WORKERS */
static const char *cfg_parse_workers(const struct cfg_val *a)
{
	int n;

	/* 0: builds are queued but none runs (an intake-only agent) */
	if (!strcmp(a->v, "0"))
		n = 0;
	else if (cfg_port(a->v, &n) < 0 || n > CONFIG_MAX_WORKERS)
		return "expected a number from 0 to " CFG_STRING(CONFIG_MAX_WORKERS);
	*(int *)a->field = n;
	return NULL;
}

/* a whole number from min up to CONFIG_COUNT_MAX into a long */
static const char *cfg_parse_whole(const struct cfg_val *a, long min, const char *why)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(a->v, &end, 10);
	if (errno || end == a->v || *end || n < min || n > CONFIG_COUNT_MAX)
		return why;
	*(long *)a->field = n;
	return NULL;
}

static const char *cfg_parse_count(const struct cfg_val *a)
{
	return cfg_parse_whole(a, 1, "expected a positive whole number");
}

static const char *cfg_parse_keep(const struct cfg_val *a)
{
	return cfg_parse_whole(a, 0, "expected a whole number (0: no limit)");
}

static const char *cfg_parse_free(const struct cfg_val *a)
{
	size_t n = 0;

	if (strcmp(a->v, "0") && (config_parse_size(a->v, &n) < 0 || n == 0 || n > (size_t)(~0UL >> 1)))
		return "expected a size like 512MiB or 2G (0: no check)";
	*(long *)a->field = (long)n;
	return NULL;
}

static const char *cfg_parse_listen(const struct cfg_val *a)
{
	struct config *c = a->st->c;
	const char *why = NULL;
	char *host;
	int port;

	if (cfg_listen(a->v, &host, &port, &why) < 0)
		return why;
	free(c->listen_host);
	c->listen_host = host;
	c->listen_port = port;
	return NULL;
}

static const char *cfg_parse_engine(const struct cfg_val *a)
{
	const char *v = a->v, *why = NULL;

	if (strncmp(v, "unix:///", 8) == 0 && !cfg_has_space(v)) {
		cfg_set_str(a->field, v);
		return NULL;
	}
	if (strncmp(v, "tcp://", 6) == 0) {
		char *host = NULL;
		int port;

		if (cfg_listen(v + 6, &host, &port, &why) == 0) {
			free(host);
			cfg_set_str(a->field, v);
			return NULL;
		}
	}
	return "expected unix:///path/to/socket or tcp://host:port";
}

/* sqlite, or a postgresql:// URL; its password belongs in database_password_file
 * (the message of a refused URL does not repeat it) */
static const char *cfg_parse_database(const struct cfg_val *a)
{
	struct err e = ERR_INIT;

	if (store_check_database(a->v, &e) < 0) {
		cfg_error(a->st, a->st->lineno, "invalid value for '%s': %s", a->k->name, e.msg);
		return CFG_SAID;
	}
	cfg_set_str(a->field, a->v);
	return NULL;
}

/*
 * A path key whose file is not there: a secret typed where its file's path
 * belongs is the likely mistake, and the error must not print it (logs, a
 * terminal, a CI page), so the value is not echoed.
 */
static int cfg_no_such_file(const struct cfg_val *a)
{
	struct stat sb;

	if (stat(a->v, &sb) == 0 || (errno != ENOENT && errno != ENOTDIR && errno != ENAMETOOLONG))
		return 0;
	cfg_error(a->st, a->st->lineno, "the value of %s is not a path to an existing file "
		  "(the value is not shown: it may be a secret); give the path of the file", a->k->name);
	return 1;
}

/*
 * Webhook secrets and the admin token guard the agent from anyone who can
 * reach its port: a one-character secret is a typo or a placeholder, and a
 * short one can be guessed offline from a single signed delivery.
 */
static int cfg_secrets_long_enough(const struct cfg_val *a, char *const *sec, size_t n)
{
	size_t i, len;

	for (i = 0; i < n; i++) {
		len = strlen(sec[i]);
		if (len >= SECRET_MIN_LEN)
			continue;
		cfg_error(a->st, a->st->lineno, "%s: line %zu of '%s' is %zu character%s long, shorter than "
			  "%d; put a random one there (openssl rand -hex 32)", a->k->name, i + 1, a->v, len,
			  len == 1 ? "" : "s", SECRET_MIN_LEN);
		return 0;
	}
	return 1;
}

static void cfg_free_secrets(char **sec, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		cfg_free_secret(&sec[i]);
}

/* the path of a file holding one secret, read into the field at k->off2; the
 * admin token must be as long as a webhook secret, a forge's token is the forge's */
static const char *cfg_parse_token_file(const struct cfg_val *a)
{
	struct err e = ERR_INIT;
	char *tok[1] = { NULL };
	size_t n = 0;

	cfg_set_str(a->field, a->v);
	if (cfg_no_such_file(a))
		return CFG_SAID;
	if (config_read_secret(a->v, tok, 1, &n, &e) < 0) {
		cfg_error(a->st, a->st->lineno, "%s: %s", a->k->name, e.msg);
		return CFG_SAID;
	}
	if ((!strcmp(a->k->name, "admin_token_file") || !strcmp(a->k->name, "read_token_file")) &&
	    !cfg_secrets_long_enough(a, tok, n)) {
		cfg_free_secrets(tok, n);
		return CFG_SAID;
	}
	cfg_free_secret(FIELD(a->base, a->k->off2, char *));
	*FIELD(a->base, a->k->off2, char *) = tok[0];
	return NULL;
}

/* secret_file: up to SECRETS_PER_REPO secrets, into the repository's secrets[] */
static const char *cfg_parse_secret_file(const struct cfg_val *a)
{
	struct repo_conf *r = a->st->repo;
	char *sec[SECRETS_PER_REPO] = { NULL };
	struct err e = ERR_INIT;
	size_t n = 0, i;

	cfg_set_str(a->field, a->v);
	if (cfg_no_such_file(a))
		return CFG_SAID;
	if (config_read_secret(a->v, sec, SECRETS_PER_REPO, &n, &e) < 0) {
		cfg_error(a->st, a->st->lineno, "%s: %s", a->k->name, e.msg);
		return CFG_SAID;
	}
	if (!cfg_secrets_long_enough(a, sec, n)) {
		cfg_free_secrets(sec, n);
		return CFG_SAID;
	}
	for (i = 0; i < SECRETS_PER_REPO; i++) {
		cfg_free_secret(&r->secrets[i]);
		r->secrets[i] = sec[i];
	}
	r->nsecrets = n;
	return NULL;
}

/* the path of a private file the agent hands on (keys, registry auth) */
/* a->v names a regular file only its owner may read; CFG_SAID (reported) if not */
static const char *cfg_check_private_file(const struct cfg_val *a)
{
	struct stat sb;

	if (cfg_no_such_file(a))
		return CFG_SAID;
	if (stat(a->v, &sb) < 0) {
		cfg_error(a->st, a->st->lineno, "%s: cannot read '%s': %s", a->k->name, a->v,
				  strerror(errno));
		return CFG_SAID;
	}
	if (!S_ISREG(sb.st_mode)) {	/* a FIFO would block whoever reads it */
		cfg_error(a->st, a->st->lineno, "%s: '%s' is not a regular file", a->k->name, a->v);
		return CFG_SAID;
	}
	if (sb.st_mode & 077) {
		cfg_error(a->st, a->st->lineno, "%s: '%s' is readable by group or others (mode %04o); chmod 600 it",
			  a->k->name, a->v, (unsigned)(sb.st_mode & 07777));
		return CFG_SAID;
	}
	return NULL;
}

static const char *cfg_parse_private_file(const struct cfg_val *a)
{
	const char *why = cfg_check_private_file(a);

	if (why)
		return why;
	cfg_set_str(a->field, a->v);
	if (!strcmp(a->k->name, "ssh_key_file"))
		cfg_ssh_key(a->st, a->st->lineno, a->v);
	return NULL;
}

static const char *cfg_parse_repo_url(const struct cfg_val *a)
{
	const char *why = cfg_check_repo_url(a->v);

	if (!why)
		cfg_set_str(a->field, a->v);
	return why;
}

static const char *cfg_parse_template(const struct cfg_val *a)
{
	const char *bad = NULL, *why = cfg_check_template(a->v, a->k->type == K_PRTEMPLATE, &bad);
	int n;

	if (why && bad) {
		n = (int)strcspn(bad, "}") + (strchr(bad, '}') ? 1 : 0);
		cfg_error(a->st, a->st->lineno, "invalid value for '%s': unknown placeholder '%.*s'%s; "
			  "use {repo} {branch} {tag} {sha} {short_sha} {build}%s", a->k->name,
			  n > 32 ? 32 : n, bad, n > 32 ? "..." : "",
			  a->k->type == K_PRTEMPLATE ? " {pr}" : "");
		return CFG_SAID;
	}
	if (!why)
		cfg_set_str(a->field, a->v);
	return why;
}

static const char *const cfg_pr_names[] = { "no", "same-repo", "all" };

/* kept as written, like pull_policy: the build job hands the word on */
static const char *cfg_parse_prs(const struct cfg_val *a)
{
	size_t i;

	for (i = 0; i < sizeof(cfg_pr_names) / sizeof(cfg_pr_names[0]); i++)
		if (!strcmp(a->v, cfg_pr_names[i])) {
			cfg_set_str(a->field, a->v);
			return NULL;
		}
	return "expected no, same-repo or all";
}

int config_labels_match(const struct config *c, const struct repo_conf *r)
{
	size_t i, j;

	for (i = 0; i < r->run_on.n; i++) {
		for (j = 0; j < c->labels.n && strcmp(c->labels.items[j], r->run_on.items[i]); j++)
			;
		if (j == c->labels.n)
			return 0;
	}
	return 1;
}

char *config_labels_str(const struct strv *labels)
{
	struct buf b = BUF_INIT(CONFIG_FILE_MAX);
	size_t i;

	for (i = 0; i < labels->n; i++)
		buf_addf(&b, "%s%s", i ? "," : "", labels->items[i]);
	return buf_detach(&b, NULL);
}

enum pr_policy config_pull_requests(const struct repo_conf *r)
{
	if (r->pull_requests && !strcmp(r->pull_requests, "all"))
		return PR_ALL;
	if (r->pull_requests && !strcmp(r->pull_requests, "same-repo"))
		return PR_SAME_REPO;
	return PR_NO;
}

static const char *cfg_parse_status(const struct cfg_val *a)
{
	enum status_kind *s = a->field;
	const char *v = a->v;

	if (strcmp(v, "github") == 0)
		*s = STATUS_GITHUB;
	else if (strcmp(v, "gitlab") == 0)
		*s = STATUS_GITLAB;
	else if (strcmp(v, "gitea") == 0 || strcmp(v, "forgejo") == 0)
		*s = STATUS_GITEA;
	else if (strcmp(v, "none") == 0)
		*s = STATUS_NONE;
	else
		return "expected github, gitlab, gitea or none";
	return NULL;
}

/* kept as written: the build job hands the name on, the build parses it again */
static const char *cfg_parse_pull(const struct cfg_val *a)
{
	enum pull_policy p;

	if (pull_policy_parse(a->v, &p) < 0)
		return "expected " PULL_POLICY_NAMES;
	cfg_set_str(a->field, a->v);
	return NULL;
}

static const char *cfg_parse_uids(const struct cfg_val *a)
{
	if (!cfg_uids_ok(a->v))
		return "expected uid ranges like 1-, 1000-2000 or 0,1000-";
	cfg_set_str(a->field, a->v);
	return NULL;
}

static const char *cfg_parse_scripts_url(const struct cfg_val *a)
{
	const char *v = a->v;

	if (cfg_has_space(v) || (strncmp(v, "image://", 8) != 0 && strncmp(v, "file://", 7) != 0 &&
				 !cfg_is_http_url(v)))
		return "expected an image://, file://, http:// or https:// URL";
	cfg_set_str(a->field, v);
	return NULL;
}

static const char *cfg_parse_abs_path(const struct cfg_val *a)
{
	if (a->v[0] != '/')
		return "expected an absolute path";
	cfg_set_str(a->field, a->v);
	return NULL;
}

static const char *cfg_parse_rel_path(const struct cfg_val *a)
{
	if (!cfg_relpath_ok(a->v))
		return "expected a relative path without '..'";
	cfg_set_str(a->field, a->v);
	return NULL;
}

/* --- repeatable keys: each line adds to a list ---------------------------- */

/* Adds n bytes of v (all of it when n is -1) to the key's list, up to CONFIG_MAX_VALUES;
 * what names the items in the error ("values", "globs"). */
static const char *cfg_list_add(const struct cfg_val *a, const char *v, ssize_t n, const char *what)
{
	struct strv *sv = a->field;

	if (sv->n >= CONFIG_MAX_VALUES) {
		cfg_error(a->st, a->st->lineno, "'%s': more than %d %s", a->k->name, CONFIG_MAX_VALUES, what);
		return CFG_SAID;
	}
	strv_push_nodup(sv, n < 0 ? xstrdup(v) : xstrndup(v, (size_t)n));
	return NULL;
}

/* whitespace-separated globs; an empty value adds none */
static const char *cfg_parse_globs(const struct cfg_val *a)
{
	const char *p = a->v, *why;

	while (*p) {
		size_t n;

		p += strspn(p, " \t");
		n = strcspn(p, " \t");
		if (!n)
			break;
		if ((why = cfg_list_add(a, p, (ssize_t)n, "globs")))
			return why;
		p += n;
	}
	return NULL;
}

/* comma or space separated capability names */
static const char *cfg_parse_caps(const struct cfg_val *a)
{
	const char *p = a->v, *why;

	while (*p) {
		size_t n, i;

		p += strspn(p, " \t,");
		n = strcspn(p, " \t,");
		if (!n)
			break;
		for (i = 0; i < n; i++)
			if (!isalnum((unsigned char)p[i]) && p[i] != '_')
				return "expected capability names like KILL,MKNOD";
		if ((why = cfg_list_add(a, p, (ssize_t)n, "values")))
			return why;
		p += n;
	}
	return NULL;
}

static int cfg_label_char(char ch)
{
	return isalnum((unsigned char)ch) || ch == '.' || ch == '_' || ch == '-' || ch == '/';
}

/* KEY=VALUE labels, comma or space separated; one value per key */
static const char *cfg_parse_labels(const struct cfg_val *a)
{
	const struct strv *sv = a->field;
	const char *p = a->v, *why;
	size_t n, i, j, k;

	while (*p) {
		p += strspn(p, " \t,");
		n = strcspn(p, " \t,");
		if (!n)
			break;
		for (i = 0; i < n && cfg_label_char(p[i]); i++)
			;
		if (!i || i + 1 >= n || p[i] != '=')
			return "expected KEY=VALUE labels like arch=amd64,disk=ssd (letters, "
			       "digits, '.', '_', '-', '/')";
		for (j = i + 1; j < n; j++)
			if (!cfg_label_char(p[j]))
				return "expected KEY=VALUE labels like arch=amd64,disk=ssd (letters, "
				       "digits, '.', '_', '-', '/')";
		for (k = 0; k < sv->n && strncmp(sv->items[k], p, i + 1); k++)
			;
		if (k < sv->n && (strlen(sv->items[k]) != n || strncmp(sv->items[k], p, n))) {
			cfg_error(a->st, a->st->lineno, "'%s': two values for label '%.*s'",
				  a->k->name, (int)i, p);
			return CFG_SAID;
		}
		if (k == sv->n && (why = cfg_list_add(a, p, (ssize_t)n, "labels")))
			return why;
		p += n;
	}
	return NULL;
}

static const char *cfg_parse_env(const struct cfg_val *a)
{
	const char *eq = strchr(a->v, '=');

	if (!eq || !cfg_env_name_ok(a->v, (size_t)(eq - a->v)))
		return "expected NAME=VALUE";
	return cfg_list_add(a, a->v, -1, "values");
}

/* /abs/src[:rel/dst] */
static const char *cfg_parse_artifact(const struct cfg_val *a)
{
	const char *v = a->v, *colon = strchr(v, ':');

	if (v[0] != '/' || colon == v + 1 || (colon && (!colon[1] || !cfg_relpath_ok(colon + 1))))
		return "expected /absolute/source[:relative/destination]";
	return cfg_list_add(a, v, -1, "values");
}

/* A:B */
static const char *cfg_parse_pair(const struct cfg_val *a)
{
	const char *v = a->v, *colon = strchr(v, ':');

	if (!colon || colon == v || !colon[1])
		return "expected SOURCE:DESTINATION";
	return cfg_list_add(a, v, -1, "values");
}

/* build_secret_file = NAME:PATH, PATH a private file (read by the build, at its start) */
static const char *cfg_parse_secret_pair(const struct cfg_val *a)
{
	const char *colon = strchr(a->v, ':'), *why;
	struct cfg_val path = *a;

	if (!colon || !s2iparse_secret_name_ok(a->v, (size_t)(colon - a->v)) || !colon[1])
		return "expected NAME:PATH, NAME of letters, digits, '.', '_' and '-' not "
		       "starting with '.'";
	path.v = colon + 1;
	if ((why = cfg_check_private_file(&path)))
		return why;
	return cfg_list_add(a, a->v, -1, "values");
}

/* one item per line, as written */
static const char *cfg_parse_list(const struct cfg_val *a)
{
	return cfg_list_add(a, a->v, -1, "values");
}

/* --- the kinds of value --------------------------------------------------- */

/* How each kind is parsed, how its value is held in its struct, and whether the
 * key may stand on several lines (each adding to a list). Indexed by enum cfg_type. */
static const struct cfg_kind {
	cfg_parse_fn *parse;
	enum cfg_store store;
	int repeatable;
} cfg_kinds[] = {
	[K_STR]		= { cfg_parse_str, ST_STR, 0 },
	[K_WORD]	= { cfg_parse_word, ST_STR, 0 },
	[K_HTTPURL]	= { cfg_parse_http_url, ST_STR, 0 },
	[K_BOOL]	= { cfg_parse_bool, ST_BOOL, 0 },
	[K_DURATION]	= { cfg_parse_duration, ST_OTHER, 0 },
	[K_LEASE]	= { cfg_parse_lease, ST_OTHER, 0 },
	[K_SIZE]	= { cfg_parse_size, ST_OTHER, 0 },
	[K_WORKERS]	= { cfg_parse_workers, ST_OTHER, 0 },
	[K_COUNT]	= { cfg_parse_count, ST_OTHER, 0 },
	[K_KEEP]	= { cfg_parse_keep, ST_LONG, 0 },
	[K_FREE]	= { cfg_parse_free, ST_LONG, 0 },
	[K_LISTEN]	= { cfg_parse_listen, ST_OTHER, 0 },
	[K_ENGINE]	= { cfg_parse_engine, ST_STR, 0 },
	[K_DATABASE]	= { cfg_parse_database, ST_STR, 0 },
	[K_TOKEN]	= { cfg_parse_token_file, ST_STR, 0 },
	[K_SECRETS]	= { cfg_parse_secret_file, ST_STR, 0 },
	[K_PRIVATE]	= { cfg_parse_private_file, ST_STR, 0 },
	[K_REPO_URL]	= { cfg_parse_repo_url, ST_STR, 0 },
	[K_GLOBS]	= { cfg_parse_globs, ST_STRV, 1 },
	[K_TEMPLATE]	= { cfg_parse_template, ST_STR, 0 },
	[K_PRTEMPLATE]	= { cfg_parse_template, ST_STR, 0 },
	[K_PRS]		= { cfg_parse_prs, ST_STR, 0 },
	[K_SECRETPAIR]	= { cfg_parse_secret_pair, ST_STRV, 1 },
	[K_STATUS]	= { cfg_parse_status, ST_STATUS, 0 },
	[K_PULL]	= { cfg_parse_pull, ST_STR, 0 },
	[K_ENV]		= { cfg_parse_env, ST_STRV, 1 },
	[K_ARTIFACT]	= { cfg_parse_artifact, ST_STRV, 1 },
	[K_PAIR]	= { cfg_parse_pair, ST_STRV, 1 },
	[K_LIST]	= { cfg_parse_list, ST_STRV, 1 },
	[K_CAPS]	= { cfg_parse_caps, ST_STRV, 1 },
	[K_LABELS]	= { cfg_parse_labels, ST_STRV, 1 },
	[K_UIDS]	= { cfg_parse_uids, ST_STR, 0 },
	[K_SCRIPTS]	= { cfg_parse_scripts_url, ST_STR, 0 },
	[K_ABSPATH]	= { cfg_parse_abs_path, ST_STR, 0 },
	[K_RELPATH]	= { cfg_parse_rel_path, ST_STR, 0 },
};

static int cfg_repeatable(enum cfg_type t)
{
	return cfg_kinds[t].repeatable;
}

static enum cfg_store cfg_store(enum cfg_type t)
{
	return cfg_kinds[t].store;
}

/* Applies one key = value; errors go to st with the current line. */
static void cfg_apply(struct cfg_state *st, const struct cfg_key *k, const char *v)
{
	void *base = k->sect == SECT_AGENT ? (void *)st->c : (void *)st->repo;
	struct cfg_val a = { st, k, base, (char *)base + k->off, v };
	const char *why;

	if (!*v && k->type != K_GLOBS) {
		cfg_error(st, st->lineno, "'%s' needs a value", k->name);
		return;
	}
	if (cfg_has_ctrl(v)) {
		cfg_error(st, st->lineno, "'%s': value contains control characters", k->name);
		return;
	}
	why = cfg_kinds[k->type].parse(&a);
	if (why && why != CFG_SAID)
		cfg_error(st, st->lineno, "invalid value for '%s': %s", k->name, why);
}

/* The edit distance (insert, delete, substitute, swap two neighbours) between a and b,
 * capped: anything above CONFIG_SUGGEST_MAX_DISTANCE is that plus one. */
static size_t cfg_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j, d[CONFIG_KEY_NAME_MAX + 1][CONFIG_KEY_NAME_MAX + 1];

	if (la > CONFIG_KEY_NAME_MAX || lb > CONFIG_KEY_NAME_MAX)
		return CONFIG_SUGGEST_MAX_DISTANCE + 1;
	for (i = 0; i <= la; i++)
		d[i][0] = i;
	for (j = 0; j <= lb; j++)
		d[0][j] = j;
	for (i = 1; i <= la; i++) {
		for (j = 1; j <= lb; j++) {
			size_t best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);

			if (d[i - 1][j] + 1 < best)
				best = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < best)
				best = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < best)
				best = d[i - 2][j - 2] + 1;
			d[i][j] = best;
		}
	}
	return d[la][lb] > CONFIG_SUGGEST_MAX_DISTANCE ? CONFIG_SUGGEST_MAX_DISTANCE + 1 : d[la][lb];
}

/* "unknown key", with what was probably meant: the nearest key of this section, else
 * the same key in the other section */
static void cfg_unknown_key(struct cfg_state *st, enum cfg_sect want, const char *name, const char *label)
{
	size_t i, d, best = CONFIG_SUGGEST_MAX_DISTANCE + 1;
	const char *near = NULL;

	for (i = 0; i < NKEYS; i++) {
		if (cfg_keys[i].sect != want)
			continue;
		d = cfg_distance(name, cfg_keys[i].name);
		/* a short name is only near another when one letter differs */
		if (d < best && (d == 1 || strlen(name) > 4)) {
			best = d;
			near = cfg_keys[i].name;
		}
	}
	if (near) {
		cfg_error(st, st->lineno, "unknown key '%s' in %s; did you mean '%s'?", name, label, near);
		return;
	}
	for (i = 0; i < NKEYS; i++)
		if (cfg_keys[i].sect != want && !strcmp(cfg_keys[i].name, name)) {
			cfg_error(st, st->lineno, "unknown key '%s' in %s; it belongs in %s", name, label,
				  want == SECT_AGENT ? "a [repo \"NAME\"] section" : "[agent]");
			return;
		}
	cfg_error(st, st->lineno, "unknown key '%s' in %s; s2i-agent.conf(5) lists the keys", name, label);
}

static int cfg_handler(void *user, const char *section, const char *name, const char *value)
{
	struct cfg_state *st = user;
	enum cfg_sect want;
	int *seen;
	char label[REPO_NAME_MAX + 16];
	size_t i;

	(void)section;	/* the reader tracks sections itself, with their lines */
	if (st->where == IN_BAD)
		return 1;	/* the section header was reported already */
	if (st->where == IN_NONE) {
		cfg_error(st, st->lineno, "key '%s' outside of a section; start with [agent] or [repo \"NAME\"]",
			  name);
		return 1;
	}
	want = st->where == IN_AGENT ? SECT_AGENT : SECT_REPO;
	seen = st->seen;
	for (i = 0; i < NKEYS; i++)
		if (cfg_keys[i].sect == want && strcmp(cfg_keys[i].name, name) == 0)
			break;
	if (i == NKEYS) {
		cfg_unknown_key(st, want, name, cfg_sect_label(st, label, sizeof(label)));
		return 1;
	}
	/* where check's findings about the directory and the engine point */
	if (want == SECT_AGENT && !strcmp(name, "state_dir"))
		st->c->state_dir_line = st->lineno;
	if (want == SECT_AGENT && !strcmp(name, "engine"))
		st->c->engine_line = st->lineno;
	if (strlen(value) > CONFIG_VALUE_MAX) {
		cfg_error(st, st->lineno, "value of '%s' is longer than %d bytes", name, CONFIG_VALUE_MAX);
		return 1;
	}
	if (seen[i] && !cfg_repeatable(cfg_keys[i].type)) {
		cfg_error(st, st->lineno, "duplicate key '%s' (first set on line %d)", name, seen[i]);
		return 1;
	}
	if (!seen[i])
		seen[i] = st->lineno;
	cfg_apply(st, &cfg_keys[i], value);
	return 1;
}

/* --- sections, seen by the reader --------------------------------------- */

static int cfg_repo_name_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > REPO_NAME_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '.' && s[i] != '_' && s[i] != '-')
			return 0;
	/* "." and ".." would make odd paths under state_dir */
	return !(n <= 2 && strspn(s, ".") == n);
}

/* Every list the key table holds starts empty. */
struct repo_conf *config_repo_new(char *name)
{
	struct repo_conf *r = xcalloc(1, sizeof(*r));
	size_t i;

	for (i = 0; i < NKEYS; i++)
		if (cfg_keys[i].sect == SECT_REPO && cfg_store(cfg_keys[i].type) == ST_STRV)
			*FIELD(r, cfg_keys[i].off, struct strv) = (struct strv)STRV_INIT;
	r->name = name;
	r->cancel_superseded = 1;
	r->status = STATUS_NONE;
	r->keep_builds = r->keep_days = -1;	/* [agent]'s, at the end of loading */
	r->min_free_space = -1;
	return r;
}

static void cfg_section(struct cfg_state *st, const char *s, size_t n)
{
	size_t i;

	while (n > 0 && isspace((unsigned char)*s)) {
		s++;
		n--;
	}
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	st->where = IN_BAD;
	st->repo = NULL;
	if (n == 5 && memcmp(s, "agent", 5) == 0) {
		st->where = IN_AGENT;
		st->seen = st->agent_seen;
		return;
	}
	if (n >= 4 && memcmp(s, "repo", 4) == 0 && (n == 4 || isspace((unsigned char)s[4]))) {
		const char *q = s + 4, *end = s + n, *name;
		struct repo_conf *r;
		size_t len;

		while (q < end && isspace((unsigned char)*q))
			q++;
		if (q >= end || *q != '"' || end[-1] != '"' || end - q < 2) {
			cfg_error(st, st->lineno, "invalid section [%.*s]: expected [repo \"NAME\"]", (int)n, s);
			return;
		}
		name = q + 1;
		len = (size_t)(end - 1 - name);
		if (!cfg_repo_name_ok(name, len)) {
			cfg_error(st, st->lineno,
				  "invalid repo name \"%.*s\": use 1 to %d letters, digits, '.', '_' or '-'",
				  (int)(len > 200 ? 200 : len), name, REPO_NAME_MAX);
			return;
		}
		for (i = 0; i < st->c->nrepos; i++)
			if (strlen(st->c->repos[i]->name) == len && memcmp(st->c->repos[i]->name, name, len) == 0) {
				cfg_error(st, st->lineno, "duplicate repo \"%.*s\" (first defined on line %d)",
					  (int)len, name, st->c->repos[i]->line);
				return;
			}
		if (st->c->nrepos >= CONFIG_MAX_REPOS) {
			cfg_error(st, st->lineno, "more than %d repos", CONFIG_MAX_REPOS);
			return;
		}
		r = config_repo_new(xstrndup(name, len));
		r->line = st->lineno;
		st->c->repos = xrealloc(st->c->repos, (st->c->nrepos + 1) * sizeof(*st->c->repos));
		st->repo_seen = xrealloc(st->repo_seen, (st->c->nrepos + 1) * sizeof(*st->repo_seen));
		memset(st->repo_seen[st->c->nrepos], 0, sizeof(*st->repo_seen));
		st->seen = st->repo_seen[st->c->nrepos];
		st->c->repos[st->c->nrepos++] = r;
		st->repo = r;
		st->where = IN_REPO;
		return;
	}
	cfg_error(st, st->lineno, "unknown section [%.*s]", (int)(n > 200 ? 200 : n), s);
}

/* Mirrors inih's view of a line to find sections (inih tells its handler
 * nothing about them) and to report every syntax error, not just the first. */
static void cfg_classify(struct cfg_state *st, const char *line, size_t n)
{
	const char *p = line, *end = line + n, *q;

	if (st->lineno == 1 && n >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
		p += 3;
	while (p < end && isspace((unsigned char)*p))
		p++;
	while (end > p && isspace((unsigned char)end[-1]))
		end--;
	if (p == end || *p == ';' || *p == '#')
		return;
	if (*p == '[') {
		/* inih ends the header at ']' or an inline comment (" ;") */
		for (q = p + 1; q < end && *q != ']'; q++)
			if (*q == ';' && isspace((unsigned char)q[-1]))
				break;
		if (q >= end || *q != ']') {
			cfg_error(st, st->lineno, "syntax error: section header without ']'");
			st->where = IN_BAD;
			return;
		}
		cfg_section(st, p + 1, (size_t)(q - p - 1));
		return;
	}
	for (q = p; q < end && *q != '=' && *q != ':'; q++)
		if (*q == ';' && q > p && isspace((unsigned char)q[-1]))
			break;
	if (q >= end || (*q != '=' && *q != ':'))
		cfg_error(st, st->lineno, "syntax error: expected 'key = value'");
}

static char *cfg_reader(char *str, int num, void *stream)
{
	struct cfg_state *st = stream;
	const char *line, *nl;
	size_t n, take;

	if (st->pos >= st->len)
		return NULL;
	line = st->data + st->pos;
	nl = memchr(line, '\n', st->len - st->pos);
	n = nl ? (size_t)(nl - line) : st->len - st->pos;
	st->pos += n + (nl ? 1 : 0);
	st->lineno++;
	if (n > CONFIG_LINE_MAX || n + 2 > (size_t)num) {
		cfg_error(st, st->lineno, "line longer than %d bytes", CONFIG_LINE_MAX);
		take = 0;
	} else if (memchr(line, '\0', n)) {
		cfg_error(st, st->lineno, "line contains a NUL byte");
		take = 0;
	} else {
		take = n;
		cfg_classify(st, line, n);
	}
	memcpy(str, line, take);
	str[take] = '\n';
	str[take + 1] = '\0';
	return str;
}

/* --- after parsing: required keys and defaults --------------------------- */

/* "https://host[:port]/..." -> "https://host[:port]" + suffix, or NULL */
static char *cfg_api_from_url(const char *url, const char *suffix)
{
	const char *scheme, *host, *end, *at;

	if (strncmp(url, "https://", 8) == 0)
		scheme = "https://";
	else if (strncmp(url, "http://", 7) == 0)
		scheme = "http://";
	else
		return NULL;
	host = url + strlen(scheme);
	end = host + strcspn(host, "/?#");
	/* drop a user name (https://oauth2@host/...) */
	at = memchr(host, '@', (size_t)(end - host));
	if (at)
		host = at + 1;
	if (end == host)
		return NULL;
	return xasprintf("%s%.*s%s", scheme, (int)(end - host), host, suffix);
}

static int cfg_key_index(const char *name, enum cfg_sect sect)
{
	size_t i;

	for (i = 0; i < NKEYS; i++)
		if (cfg_keys[i].sect == sect && strcmp(cfg_keys[i].name, name) == 0)
			return (int)i;
	abort();
}

static void cfg_finish_repo(struct cfg_state *st, struct repo_conf *r, const int *seen)
{
	static const char *required[] = { "url", "builder", "secret_file" };
	size_t i;

	/* a key that was present with a bad value has been reported already */
	for (i = 0; i < sizeof(required) / sizeof(required[0]); i++)
		if (!seen[cfg_key_index(required[i], SECT_REPO)])
			cfg_error(st, r->line, "repo \"%s\": missing required key '%s'", r->name, required[i]);
	if (!r->tag)
		r->tag = xstrdup(CONFIG_DEFAULT_TAG);
	if (!r->status_context)
		r->status_context = xstrdup(CONFIG_DEFAULT_CONTEXT);
	/* alone on SQLite, no other agent could build it */
	if (!config_labels_match(st->c, r) &&
	    (!st->c->database || !strcmp(st->c->database, "sqlite")))
		cfg_error(st, seen[cfg_key_index("run_on", SECT_REPO)], "repo \"%s\": run_on: this agent "
			  "lacks a label it lists and, on SQLite, no other agent builds it; "
			  "add it to [agent] labels or remove it", r->name);
	if (r->status == STATUS_NONE)
		return;
	if (!seen[cfg_key_index("status_token_file", SECT_REPO)])
		cfg_error(st, r->line, "repo \"%s\": status = %s needs 'status_token_file'", r->name,
			  config_status_names[r->status]);
	if (r->status_api || !r->url)
		return;
	/* GitHub: api.github.com, or https://HOST/api/v3 for GitHub Enterprise */
	if (r->status == STATUS_GITHUB) {
		if (strncmp(r->url, "https://github.com/", 19) == 0 || !cfg_is_http_url(r->url))
			r->status_api = xstrdup(CONFIG_DEFAULT_GITHUB_API);
		else
			r->status_api = cfg_api_from_url(r->url, "/api/v3");
	} else {
		r->status_api = cfg_api_from_url(r->url, r->status == STATUS_GITLAB ? "/api/v4" : "/api/v1");
	}
	if (!r->status_api)
		cfg_error(st, r->line, "repo \"%s\": status = %s needs 'status_api' (url is not http(s))",
			  r->name, config_status_names[r->status]);
}

static void cfg_finish(struct cfg_state *st)
{
	struct config *c = st->c;
	size_t i;

	if (!c->listen_host) {
		const char *why = NULL;

		if (cfg_listen(CONFIG_DEFAULT_LISTEN, &c->listen_host, &c->listen_port, &why) < 0)
			abort();
	}
	if (!c->public_url)
		c->public_url = xasprintf(strchr(c->listen_host, ':') ? "http://[%s]:%d" : "http://%s:%d",
					  c->listen_host, c->listen_port);
	if (!c->state_dir)
		c->state_dir = xstrdup(CONFIG_DEFAULT_STATE);
	if (!c->engine)
		c->engine = xstrdup(CONFIG_DEFAULT_ENGINE);
	for (i = 0; i < c->nrepos; i++) {
		cfg_finish_repo(st, c->repos[i], st->repo_seen[i]);
		if (c->repos[i]->keep_builds < 0)
			c->repos[i]->keep_builds = c->keep_builds;
		if (c->repos[i]->keep_days < 0)
			c->repos[i]->keep_days = c->keep_days;
		if (c->repos[i]->min_free_space < 0)
			c->repos[i]->min_free_space = c->min_free_space;
	}
}

/* --- loading ------------------------------------------------------------ */

static int cfg_read_file(const char *path, char **ret, size_t *ret_len, struct err *e)
{
	char *data = NULL;
	size_t len = 0;
	ssize_t got;
	int fd;

	fd = xopen_regular(path, 0, NULL, e);
	if (fd < 0)
		return -1;
	data = xmalloc(CONFIG_FILE_MAX + 1);
	got = xread_full(fd, data, CONFIG_FILE_MAX + 1);
	if (got < 0) {
		err_errno(e, "cannot read");
		goto fail;
	}
	len = (size_t)got;
	if (len > CONFIG_FILE_MAX) {
		err_set(e, "larger than %d bytes", CONFIG_FILE_MAX);
		goto fail;
	}
	close(fd);
	data[len] = '\0';
	*ret = data;
	*ret_len = len;
	return 0;
fail:
	free(data);
	close(fd);
	return -1;
}

int config_load(const char *path, struct config **ret, struct strv *errors)
{
	struct cfg_state st;
	struct config *c;
	struct err e = ERR_INIT;
	char *data = NULL;
	size_t len = 0, i, nfatal = 0;
	int rc, ret_code = -1;

	if (cfg_read_file(path, &data, &len, &e) < 0) {
		/* no line to point at; say how to choose another file */
		strv_pushf(errors, "%s: %s; choose the configuration with -c FILE or $%s", path, e.msg,
			   CONFIG_ENV);
		return -1;
	}
	c = xcalloc(1, sizeof(*c));
	c->path = xstrdup(path);
	c->warnings = (struct strv)STRV_INIT;
	c->workers = CONFIG_DEFAULT_WORKERS;
	c->build_timeout = CONFIG_DEFAULT_TIMEOUT;
	c->max_body = CONFIG_DEFAULT_MAX_BODY;
	c->queue_max = QUEUE_MAX;
	c->public_read = -1;
	c->keep_builds = CONFIG_DEFAULT_KEEP_BUILDS;
	c->keep_days = CONFIG_DEFAULT_KEEP_DAYS;
	c->min_free_space = CONFIG_DEFAULT_MIN_FREE;
	c->lease = CONFIG_DEFAULT_LEASE;

	memset(&st, 0, sizeof(st));
	st.path = path;
	st.c = c;
	st.data = data;
	st.len = len;
	st.where = IN_NONE;
	/* Debian's inih takes its options at run time: long lines are ours to
	 * reject (CONFIG_LINE_MAX), and an indented line is a line of its own
	 * rather than the continuation of a value. */
	ini_max_line = CONFIG_LINE_MAX + 3;
	ini_allow_multiline = false;
	rc = ini_parse_stream(cfg_reader, &st, cfg_handler, &st);
	if (rc < 0)
		cfg_error(&st, 0, "cannot parse (out of memory)");
	else if (rc > 0 && !cfg_has_error_on(&st, rc))
		cfg_error(&st, rc, "syntax error");
	cfg_finish(&st);

	for (i = 0; i < st.nerrs; i++)
		nfatal += !st.errs[i].warn;
	if (st.nerrs) {
		/* by line (insertion sort: stable, so one line's errors keep their order);
		 * warnings go with the errors, or into c->warnings when there is none */
		struct cfg_error *sorted = xmalloc(st.nerrs * sizeof(*sorted));
		size_t j;

		memcpy(sorted, st.errs, st.nerrs * sizeof(*sorted));
		for (i = 1; i < st.nerrs; i++) {
			struct cfg_error x = sorted[i];

			for (j = i; j > 0 && sorted[j - 1].line > x.line; j--)
				sorted[j] = sorted[j - 1];
			sorted[j] = x;
		}
		for (i = 0; i < st.nerrs; i++) {
			strv_pushf(nfatal ? errors : &c->warnings, "%s:%d: %s%s", path, sorted[i].line,
				   sorted[i].warn ? "warning: " : "", sorted[i].msg);
			free(sorted[i].msg);
		}
		free(sorted);
	}
	if (nfatal) {
		config_free(c);
		goto out;
	}
	*ret = c;
	ret_code = 0;
out:
	free(st.errs);
	free(st.repo_seen);
	free(data);
	return ret_code;
}

struct repo_conf *config_repo(const struct config *c, const char *name)
{
	size_t i;

	if (!c || !name)
		return NULL;
	for (i = 0; i < c->nrepos; i++)
		if (strcmp(c->repos[i]->name, name) == 0)
			return c->repos[i];
	return NULL;
}

/* Frees every field the key table describes, so a new key cannot leak. */
static void cfg_free_fields(void *base, enum cfg_sect sect)
{
	size_t i;

	for (i = 0; i < NKEYS; i++) {
		const struct cfg_key *k = &cfg_keys[i];

		if (k->sect != sect)
			continue;
		switch (cfg_store(k->type)) {
		case ST_STRV:
			strv_clear(FIELD(base, k->off, struct strv));
			break;
		case ST_STR:
			if (k->type == K_TOKEN)
				cfg_free_secret(FIELD(base, k->off2, char *));
			free(*FIELD(base, k->off, char *));
			break;
		case ST_BOOL:
		case ST_STATUS:
		case ST_LONG:
		case ST_OTHER:
			break;
		}
	}
}

void config_repo_free(struct repo_conf *r)
{
	size_t j;

	if (!r)
		return;
	cfg_free_fields(r, SECT_REPO);
	for (j = 0; j < SECRETS_PER_REPO; j++)
		cfg_free_secret(&r->secrets[j]);
	free(r->name);
	free(r);
}

void config_free(struct config *c)
{
	size_t i;

	if (!c)
		return;
	for (i = 0; i < c->nrepos; i++)
		config_repo_free(c->repos[i]);
	free(c->repos);
	cfg_free_fields(c, SECT_AGENT);
	free(c->listen_host);
	free(c->path);
	strv_clear(&c->warnings);
	free(c);
}

/* --- the [repo] keys, for the build job (jobwire.c) ------------------------ */

const char *config_repo_key_name(size_t i)
{
	struct config_repo_key k;

	return config_repo_key_at(i, &k) < 0 ? NULL : k.name;
}

int config_repo_key_at(size_t i, struct config_repo_key *ret)
{
	size_t j;

	for (j = 0; j < NKEYS; j++)
		if (cfg_keys[j].sect == SECT_REPO && i-- == 0) {
			ret->name = cfg_keys[j].name;
			ret->json = cfg_keys[j].json;
			ret->store = cfg_store(cfg_keys[j].type);
			ret->off = cfg_keys[j].off;
			return 0;
		}
	return -1;
}
