/* child: fork/exec with explicit fds and O_CLOEXEC pipes.
 * The exec failure is reported back through a close-on-exec pipe, so a typo'd
 * program name is an error at start rather than a mysterious exit 127. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"

extern char **environ;

static int child_setup_fd(int want, int target, int *pipefd, int child_end_is_read)
{
	int fd;

	(void)child_end_is_read;
	if (want == CHILD_INHERIT)
		return 0;
	if (want == CHILD_NULL) {
		fd = open("/dev/null", O_RDWR);
		if (fd < 0)
			return -1;
	} else if (want == CHILD_PIPE) {
		fd = pipefd[child_end_is_read ? 0 : 1];
	} else {
		fd = want;
	}
	if (fd != target && dup2(fd, target) < 0)
		return -1;
	if (fd == target)
		fcntl(fd, F_SETFD, 0);
	return 0;
}

static void close_pair(int p[2])
{
	if (p[0] >= 0)
		close(p[0]);
	if (p[1] >= 0)
		close(p[1]);
	p[0] = p[1] = -1;
}

int child_start(struct child *c, struct err *e)
{
	int pin[2] = { -1, -1 }, pout[2] = { -1, -1 }, perr[2] = { -1, -1 };
	int report[2] = { -1, -1 };
	int child_errno = 0;
	ssize_t n;
	pid_t pid;

	c->in_fd = c->out_fd = c->err_fd = -1;
	if ((c->in == CHILD_PIPE && pipe2(pin, O_CLOEXEC) < 0) ||
	    (c->out == CHILD_PIPE && pipe2(pout, O_CLOEXEC) < 0) ||
	    (c->err == CHILD_PIPE && pipe2(perr, O_CLOEXEC) < 0) ||
	    pipe2(report, O_CLOEXEC) < 0) {
		err_errno(e, "cannot create pipe for '%s'", c->argv[0]);
		goto fail;
	}
	pid = fork();
	if (pid < 0) {
		err_errno(e, "cannot fork for '%s'", c->argv[0]);
		goto fail;
	}
	if (pid == 0) {
		sigset_t none;

		sigemptyset(&none);
		if (c->block_term) {
			sigaddset(&none, SIGTERM);
			sigaddset(&none, SIGINT);
		}
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		if (c->new_pgrp)
			setpgid(0, 0);
		if (child_setup_fd(c->in, 0, pin, 1) < 0 ||
		    child_setup_fd(c->out, 1, pout, 0) < 0 ||
		    child_setup_fd(c->err, 2, perr, 0) < 0 ||
		    (c->dir && chdir(c->dir) < 0)) {
			child_errno = errno;
			goto child_fail;
		}
		if (c->env)
			environ = (char **)(uintptr_t)c->env;
		execvp(c->argv[0], (char *const *)(uintptr_t)c->argv);
		child_errno = errno;
child_fail:
		if (write(report[1], &child_errno, sizeof(child_errno)) < 0)
			_exit(127);
		_exit(127);
	}
	close(report[1]);
	report[1] = -1;
	do {
		n = read(report[0], &child_errno, sizeof(child_errno));
	} while (n < 0 && errno == EINTR);
	close(report[0]);
	if (n == sizeof(child_errno)) {
		waitpid(pid, NULL, 0);
		errno = child_errno;
		err_errno(e, "cannot run '%s'", c->argv[0]);
		report[0] = -1;
		goto fail;
	}
	c->pid = pid;
	if (pin[0] >= 0) {
		close(pin[0]);
		c->in_fd = pin[1];
	}
	if (pout[1] >= 0) {
		close(pout[1]);
		c->out_fd = pout[0];
	}
	if (perr[1] >= 0) {
		close(perr[1]);
		c->err_fd = perr[0];
	}
	return 0;
fail:
	close_pair(pin);
	close_pair(pout);
	close_pair(perr);
	close_pair(report);
	return -1;
}

int child_finish(struct child *c, int *ret_status, struct err *e)
{
	int st;
	pid_t r;

	if (c->in_fd >= 0)
		close(c->in_fd);
	if (c->out_fd >= 0)
		close(c->out_fd);
	if (c->err_fd >= 0)
		close(c->err_fd);
	c->in_fd = c->out_fd = c->err_fd = -1;
	do {
		r = waitpid(c->pid, &st, 0);
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return err_errno(e, "cannot wait for '%s'", c->argv[0]);
	c->pid = -1;
	if (WIFEXITED(st))
		*ret_status = WEXITSTATUS(st);
	else if (WIFSIGNALED(st))
		*ret_status = 128 + WTERMSIG(st);
	else
		*ret_status = 255;
	return 0;
}

int child_run(const char *const *argv, struct err *e)
{
	struct child c = CHILD_INIT;
	int status;

	c.argv = argv;
	if (child_start(&c, e) < 0 || child_finish(&c, &status, e) < 0)
		return -1;
	if (status != 0)
		return err_set(e, "'%s' exited with status %d", argv[0], status);
	return 0;
}
