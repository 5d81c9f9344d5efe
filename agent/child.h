/* child: the one way s2i-agent starts processes (argv arrays, never a shell).
 * After git's run-command: fill a struct child, child_start(), child_finish(). */
#ifndef S2I_CHILD_H
#define S2I_CHILD_H

#include <sys/types.h>

#include "err.h"

#define CHILD_INHERIT	(-1)	/* keep the parent's fd */
#define CHILD_NULL	(-2)	/* /dev/null */
#define CHILD_PIPE	(-3)	/* a pipe; the parent's end is in *_fd */

struct child {
	const char *const *argv;	/* argv[0] is searched in PATH */
	const char *const *env;		/* NULL: inherit the environment */
	const char *dir;		/* NULL: current directory */
	int in, out, err;		/* CHILD_* or an fd to dup into place */
	int new_pgrp;			/* own process group, so a kill reaches grandchildren */
	pid_t pid;
	int in_fd, out_fd, err_fd;	/* parent ends of CHILD_PIPE, else -1 */
	int block_term;			/* SIGTERM and SIGINT start blocked: a cancel sent while the
					 * program loads waits until it unblocks them (handled) */
};

#define CHILD_INIT { NULL, NULL, NULL, CHILD_INHERIT, CHILD_INHERIT, CHILD_INHERIT, 0, -1, -1, -1, -1, 0 }

int child_start(struct child *c, struct err *e);
/* Waits; fills *ret_status with the exit code, or 128+signal. Closes pipe ends. */
int child_finish(struct child *c, int *ret_status, struct err *e);
/* Start and finish; -1 with a message unless the exit code is 0. */
int child_run(const char *const *argv, struct err *e);

#endif
