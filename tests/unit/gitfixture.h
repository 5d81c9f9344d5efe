/* gitfixture: real git repositories for the gitsrc and srctar tests, made with the git
 * CLI through child.h in a mkdtemp directory: a work tree with an upstream bare repo,
 * branches, an annotated tag, a submodule (relative URL), a symlink, an executable.
 * The code is in gitfixture.c (the Makefile links it into every unit test). */
#ifndef S2I_TEST_GITFIXTURE_H
#define S2I_TEST_GITFIXTURE_H

#include <stddef.h>
#include <sys/types.h>

#include "buf.h"
#include "err.h"

struct gitfix {
	char root[256];
	char work[300];		/* work tree of main (origin = up/main.git) */
	char upmain[300];	/* bare upstream of main */
	char upsub[300];	/* bare upstream of the submodule */
	char subwork[300];	/* work tree of the submodule */
	char url[320];		/* file:// URL of up/main.git */
};

/* The repositories, made by gf_setup (or gf_group_setup, cmocka's group setup). */
extern struct gitfix gf;

int gf_setup(void);
int gf_teardown(void);
int gf_group_setup(void **state);
int gf_group_teardown(void **state);

/* Runs git with args in dir (NULL-terminated varargs); a failure aborts. */
void gf_git(const char *dir, ...);
/* Output of git (first line, trimmed) into out. */
void gf_git_out(char *out, size_t outsz, const char *dir, ...);
/* Writes dir/name (parent directories made) with mode. */
void gf_write(const char *dir, const char *name, const char *text, mode_t mode);
void gf_rm_rf(const char *dir);
/* A fixed author, committer and dates; no system or global git config. */
void gf_env(void);

/* Resets the peak RSS (VmHWM) to the current RSS, so a later reading
 * (cmds_vmhwm_kb, cmds.h) is about what ran in between. */
void gf_vmhwm_reset(void);

/* 1 when s is one of v's items. */
int gf_has(const struct strv *v, const char *s);

#endif
