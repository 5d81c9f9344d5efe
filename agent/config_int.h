/* config_int: config's key table as jobwire.c sees it, and config_value.c's checks;
 * for config*.c and jobwire.c only */
#ifndef S2I_CONFIG_INT_H
#define S2I_CONFIG_INT_H

#include <stddef.h>

#include "config.h"

/* How a key's value is held in its struct. */
enum cfg_store {
	ST_STR,		/* char *; a secret file's key: the file's path */
	ST_STRV,	/* struct strv */
	ST_BOOL,	/* int */
	ST_STATUS,	/* enum status_kind */
	ST_LONG,	/* long: a number both sections take (keep_builds) */
	ST_OTHER,	/* [agent] only: numbers, listen */
};

#define FIELD(base, off, type)	((type *)(void *)((char *)(base) + (off)))
#define CFIELD(base, off, type)	((type const *)(const void *)((const char *)(base) + (off)))

/* One [repo] key: how agent.conf spells it, how a build job spells it (its field's
 * name), how and where struct repo_conf holds it. */
struct config_repo_key {
	const char *name;
	const char *json;
	enum cfg_store store;
	size_t off;
};

/* The i-th [repo] key of the key table into *ret: 0, or -1 past the last one. */
int config_repo_key_at(size_t i, struct config_repo_key *ret);

/* A repository with its defaults, named name (taken over; may be NULL). */
struct repo_conf *config_repo_new(char *name);

/* The names of status = ..., indexed by enum status_kind. */
extern const char *const config_status_names[STATUS_GITEA + 1];

/* config_value.c: the syntax of values, pure checks (config_parse_duration and
 * config_parse_size are in config.h). The int ones return 1/0 or 0/-1 as named; the
 * cfg_check_* ones NULL, or why the value is refused. */
int cfg_has_space(const char *v);
int cfg_has_ctrl(const char *v);
int cfg_bool(const char *v, int *ret);				/* 0, or -1 */
int cfg_port(const char *p, int *ret);				/* 0, or -1 */
int cfg_listen(const char *v, char **ret_host, int *ret_port, const char **why);
int cfg_is_http_url(const char *v);
int cfg_url_has_password(const char *v);
const char *cfg_check_repo_url(const char *v);
int cfg_env_name_ok(const char *v, size_t n);
int cfg_relpath_ok(const char *v);
/* with_pr: pr_tag, whose templates also take {pr}; *ret_bad: where an unknown
 * placeholder starts, for the message to name it */
const char *cfg_check_template(const char *v, int with_pr, const char **ret_bad);
int cfg_uids_ok(const char *v);

#endif
