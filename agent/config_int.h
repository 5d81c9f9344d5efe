/* config_int: config's key table as jobwire.c sees it; for config.c and jobwire.c only */
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

#endif
