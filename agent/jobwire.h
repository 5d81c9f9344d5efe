/* jobwire: a repository's settings in a build job, daemon to build process, as JSON */
#ifndef S2I_JOBWIRE_H
#define S2I_JOBWIRE_H

#include <jansson.h>

#include "config.h"
#include "err.h"

/* Both ways, driven by config's key table: every [repo] key goes in under its field's
 * name (runtime_artifact as "runtime_artifacts"), plus "name"; unset strings are left
 * out, lists are arrays, booleans booleans, status its name. The secrets themselves
 * (secrets[], status_token, git_token) never go in: only the paths of their files.
 * from_json takes what it knows and leaves the defaults for what is missing; -1 only
 * when j is not an object. */
json_t *jobwire_repo_to_json(const struct repo_conf *r);
int jobwire_repo_from_json(const json_t *j, struct repo_conf **ret, struct err *e);

/* Whether the [repo] key named key (config_repo_key_name) holds the same value in a
 * and b: 0 for an unknown key. For the tests of the round trip. */
int jobwire_repo_key_equal(const struct repo_conf *a, const struct repo_conf *b, const char *key);

#endif
