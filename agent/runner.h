/* runner: the child processes of the daemon's pipeline (`__build`, `__status`,
 * `__cleanup`, see worker.h and cmds.h), and the image name template they expand. */
#ifndef S2I_RUNNER_H
#define S2I_RUNNER_H

/* The image name from a repository's tag template (SPEC §2): {repo} {branch} {tag}
 * {sha} {short_sha} {build}. {branch} is the ref's short name (the branch, or the tag
 * of a tag push), {tag} the tag name of a tag push, else empty. Values are made valid
 * for where they land: lowercase [a-z0-9._-] in the name, [A-Za-z0-9_.-] (at most 128)
 * in the tag, other characters become '-'; a tag left empty is "latest". Caller frees. */
char *runner_expand_tag(const char *tmpl, const char *repo, const char *ref, const char *sha,
			long long id);

#endif
