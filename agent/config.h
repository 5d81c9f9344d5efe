/* config: the agent.conf model (s2i-agent.conf(5)), loaded with inih and validated.
 * Every error is reported as "FILE:LINE: message"; secrets are read from files here. */
#ifndef S2I_CONFIG_H
#define S2I_CONFIG_H

#include <stddef.h>

#include "buf.h"
#include "err.h"

enum status_kind { STATUS_NONE, STATUS_GITHUB, STATUS_GITLAB, STATUS_GITEA };

/* Defaults after a successful config_load (limits.h has the constants):
 * [agent] listen CONFIG_DEFAULT_LISTEN, public_url "http://<listen>" (brackets
 * for IPv6), state_dir, engine, workers, build_timeout, max_body as in limits.h.
 * [repo] required: url, builder, secret_file. branches: every branch; tags: none;
 * tag CONFIG_DEFAULT_TAG ("{repo}:{branch}"); push, incremental, rm,
 * ignore_submodules: no; cancel_superseded: yes; status: none; status_context
 * CONFIG_DEFAULT_CONTEXT; status_api: https://api.github.com for github.com (or a
 * non-http url), else derived from url: GitHub Enterprise https://HOST/api/v3,
 * GitLab https://HOST/api/v4, Gitea/Forgejo https://HOST/api/v1. A status other
 * than none needs status_token_file. Every other string is NULL when unset.
 * Secret files (secret_file, *_token_file) and private files (tls_key,
 * ssh_key_file, registry_auth_file) with group/other permission bits are refused. */
struct repo_conf {
	char *name;
	int line;			/* where [repo "NAME"] stands */
	char *url;
	char *secret_file;
	char *secrets[SECRETS_PER_REPO];	/* read from secret_file */
	size_t nsecrets;
	struct strv branches;		/* globs; empty: every branch */
	struct strv tags;		/* globs; empty: no tag builds */
	char *builder;
	char *tag;			/* image name template */
	int push;
	int incremental;
	int cancel_superseded;
	char *context_dir;
	struct strv env;		/* NAME=VALUE */
	char *runtime_image;
	struct strv runtime_artifacts;	/* SRC:DST */
	enum status_kind status;
	char *status_api;
	char *status_repo;
	char *status_token_file;
	char *status_token;		/* read from status_token_file */
	char *status_context;
	char *git_token_file;
	char *git_token;
	char *ssh_key_file;
	char *known_hosts_file;
	/* s2i build flags as keys (s2i-agent.conf(5), s2i-agent(8) BUILD FLAGS); NULL or
	 * empty when unset */
	char *scripts_url;
	char *assemble_user;
	char *assemble_runtime_user;
	char *allowed_uids;
	char *pull_policy;
	char *incremental_pull_policy;
	char *runtime_pull_policy;
	char *network;
	struct strv cap_drop;
	struct strv exclude;
	struct strv inject;		/* SRC:DST */
	struct strv volume;
	struct strv add_host;
	char *environment_file;
	char *description;
	char *application_name;
	char *destination;
	char *callback_url;
	int ignore_submodules;
	int rm;				/* s2i --rm: remove the previous image of an incremental build */
	char *pull_requests;		/* no | same-repo | all, as written; NULL: no */
	char *pr_tag;			/* image name template of request builds */
	struct strv build_env;		/* NAME=VALUE for assemble only */
	char *build_env_file;		/* more of them, read by the build */
	struct strv build_secret_file;	/* NAME:PATH, /run/secrets/NAME during assemble */
	long keep_builds;		/* retention: [agent]'s when unset; 0: no limit */
	long keep_days;
	long min_free_space;		/* bytes a build needs free to start; [agent]'s when unset */
	struct strv run_on;		/* KEY=VALUE labels an agent needs to build it */
};

/* pull_requests = (s2i-agent.conf(5)): which pull/merge requests are built. */
enum pr_policy { PR_NO, PR_SAME_REPO, PR_ALL };
enum pr_policy config_pull_requests(const struct repo_conf *r);

struct config;
/* run_on = and labels = (s2i-agent.conf(5)): 1 when the agent's labels hold every
 * label the repository's run_on lists (none listed: any agent), else 0. */
int config_labels_match(const struct config *c, const struct repo_conf *r);
/* Its labels as written in the configuration, "k=v,k=v" ("" when none): caller frees. */
char *config_labels_str(const struct strv *labels);

struct config {
	char *path;
	char *listen_host;		/* without brackets for IPv6 */
	int listen_port;
	char *public_url;		/* no trailing slash */
	char *state_dir;
	char *engine;
	int state_dir_line, engine_line;	/* where they are set; 0: the default */
	char *tls_ca, *tls_cert, *tls_key;
	int workers;
	long build_timeout;		/* seconds */
	size_t max_body;		/* bytes */
	long queue_max;			/* queued builds before webhooks get 503 */
	char *registry_auth_file;
	char *admin_token_file;
	char *admin_token;		/* read from admin_token_file; NULL: admin disabled */
	int public_read;		/* -1: not set (private once published, http_access.c) */
	char *read_token_file;
	char *read_token;		/* read from read_token_file; NULL: none */
	char *database;			/* NULL or "sqlite": state_dir/agent.db; else a
					 * postgresql:// URL (store_connect) */
	char *database_password_file;
	char *database_password;	/* read from it; NULL: libpq's passfile */
	long keep_builds;		/* retention defaults of the repos (CONFIG_DEFAULT_KEEP_*) */
	long keep_days;
	long min_free_space;		/* bytes; 0: no check (CONFIG_DEFAULT_MIN_FREE) */
	long lease;			/* seconds a running build stays ours without a
					 * heartbeat, on a shared store (CONFIG_DEFAULT_LEASE) */
	struct strv labels;		/* KEY=VALUE: what this agent offers (run_on) */
	struct repo_conf **repos;
	size_t nrepos;
	/* "FILE:LINE: warning: message": what loads but may not work (an ssh_key_file this
	 * build's SSH layer signs with SHA-1 only, sshkey.h); check prints, serve logs them */
	struct strv warnings;
};

/* Loads and validates path. On failure every problem is appended to errors as
 * "FILE:LINE: message" (warnings among them as "FILE:LINE: warning: message") and -1 is
 * returned; *ret is untouched. On success the warnings are in (*ret)->warnings. */
int config_load(const char *path, struct config **ret, struct strv *errors);
void config_free(struct config *c);
struct repo_conf *config_repo(const struct config *c, const char *name);
void config_repo_free(struct repo_conf *r);

/* The name of the i-th [repo] key of the key table, NULL past the last one (jobwire.h
 * carries them in a build job). For tests. */
const char *config_repo_key_name(size_t i);

/* The path -c defaults to: $S2I_AGENT_CONFIG, else CONFIG_DEFAULT_PATH. */
const char *config_default_path(void);

/* "30m", "90s", "2h", "45" (seconds) -> seconds; "25MiB", "1k", "100" -> bytes. */
int config_parse_duration(const char *s, long *ret);
int config_parse_size(const char *s, size_t *ret);

/* Reads a secret file: refused when readable by group or others, when empty,
 * or when larger than SECRET_FILE_MAX. Up to max lines (trailing whitespace
 * stripped) go into out[]; *ret_n is their number. */
int config_read_secret(const char *path, char **out, size_t max, size_t *ret_n, struct err *e);

#endif
