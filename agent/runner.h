/* runner: what the daemon's child processes share: the job protocol, the image name */
/* The children are the hidden commands `__build`, `__status` and `__cleanup`
 * (cmd_*_child.c, worker.h and cmds.h). */
#ifndef S2I_RUNNER_H
#define S2I_RUNNER_H

#include <jansson.h>

#include "buf.h"
#include "config.h"

/* The job protocol: the daemon writes a job, one JSON object, to the child's stdin;
 * the child answers with JSON lines on stdout (runner_print). */

/* Closes every fd but 0, 1 and 2: a listening socket of the agent must not outlive
 * it in a build. */
void runner_close_fds(void);
/* The job of the hidden command name read from stdin (at most WORKER_JOB_MAX bytes).
 * NULL, after saying on stderr that name is serve's internal command, when it is not
 * an object or argc (the command's name included) is not nargs. */
json_t *runner_read_job(const char *name, int argc, int nargs);
/* Prints j as one line on stdout and frees it. */
void runner_print(json_t *j);
/* A string member of o, NULL when absent or empty; _dup a copy; _strv pushes the
 * strings of the array member k onto out. */
const char *runner_str(const json_t *o, const char *k);
char *runner_dup(const json_t *o, const char *k);
void runner_strv(const json_t *o, const char *k, struct strv *out);

/* The number of the pull/merge request whose head ref is ref (refs/pull/N/head,
 * refs/merge-requests/N/head), else 0. */
long long runner_pr_number(const char *ref);
/* The tag template a build of ref uses: pr_tag (default CONFIG_DEFAULT_PR_TAG) for a
 * request's ref, else tag (default CONFIG_DEFAULT_TAG). */
const char *runner_tag_template(const struct repo_conf *r, const char *ref);

/* The image name from a repository's tag template (s2i-agent.conf(5) tag): {repo} {branch} {tag}
 * {sha} {short_sha} {build}, and {pr} the request's number (empty for other refs). {branch} is the ref's short name (the branch, or the tag
 * of a tag push), {tag} the tag name of a tag push, else empty. Values are made valid
 * for where they land: lowercase [a-z0-9._-] in the name, [A-Za-z0-9_.-] (at most 128)
 * in the tag, other characters become '-'; a tag left empty is "latest". Caller frees. */
char *runner_expand_tag(const char *tmpl, const char *repo, const char *ref, const char *sha,
			long long id);

#endif
