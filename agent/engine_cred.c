/* engine_cred: registry credentials kept by docker credential helpers: the credsStore
 * and credHelpers of a docker config.json, asked through `docker-credential-NAME get`. */
/* The protocol (docker/docker-credential-helpers): the server URL on stdin, a JSON
 * object {"ServerURL", "Username", "Secret"} on stdout, exit 0; a helper that has
 * nothing for the server says "credentials not found" and exits non-zero. Username
 * "<token>" makes Secret an identity token. What a helper prints is a secret: it is
 * never put in a message. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "child.h"
#include "engine_int.h"
#include "limits.h"

/* A helper's name becomes part of a program name looked up in PATH: no '/'. */
static int engine_cred_name_ok(const char *n)
{
	size_t i;

	for (i = 0; n[i]; i++)
		if (i >= ENGINE_CRED_NAME_MAX ||
		    !((n[i] >= 'a' && n[i] <= 'z') || (n[i] >= 'A' && n[i] <= 'Z') ||
		      (n[i] >= '0' && n[i] <= '9') || n[i] == '-' || n[i] == '_' || n[i] == '.'))
			return 0;
	return i > 0;
}

const char *engine_cred_helper(json_t *config, const char *registry, int (*same)(const char *key,
							      const char *registry))
{
	json_t *helpers = json_object_get(config, "credHelpers"), *v;
	const char *key, *name;

	json_object_foreach(helpers, key, v)
		if (same(key, registry) && json_is_string(v))
			return json_string_value(v);
	name = json_string_value(json_object_get(config, "credsStore"));
	return name && *name ? name : NULL;
}

static long long engine_cred_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The helper's stdout, at most ENGINE_CRED_OUTPUT_MAX bytes, until it closes it or
 * the deadline passes (-1, e set). */
static int engine_cred_read(int fd, struct buf *out, long long deadline, const char *prog,
			    struct err *e)
{
	char tmp[4096];
	struct pollfd p = { fd, POLLIN, 0 };
	ssize_t n;
	int left;

	for (;;) {
		left = (int)(deadline - engine_cred_now_ms());
		if (left <= 0)
			return err_set(e, "credential helper '%s' did not answer within %d s", prog,
				       ENGINE_CRED_TIMEOUT);
		if (poll(&p, 1, left) < 0) {
			if (errno == EINTR)
				continue;
			return err_errno(e, "credential helper '%s'", prog);
		}
		if (!p.revents)
			continue;
		n = read(fd, tmp, sizeof(tmp));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return err_errno(e, "cannot read from credential helper '%s'", prog);
		if (n == 0)
			return 0;
		if (buf_add(out, tmp, (size_t)n) < 0) {
			explicit_bzero(tmp, sizeof(tmp));
			return err_set(e, "credential helper '%s' printed more than %d bytes", prog,
				       ENGINE_CRED_OUTPUT_MAX);
		}
	}
}

int engine_cred_get(const char *helper, const char *server, char **ret_user, char **ret_secret,
		    struct err *e)
{
	struct child c = CHILD_INIT;
	struct buf out = BUF_INIT(ENGINE_CRED_OUTPUT_MAX);
	struct sigaction ign, old;
	char *prog = NULL;
	const char *argv[3];
	json_t *j = NULL;
	const char *user, *secret;
	int status = 0, rc = -1, started = 0;

	*ret_user = *ret_secret = NULL;
	if (!engine_cred_name_ok(helper))
		return err_set(e, "credential helper name '%s' is not a plain name", helper);
	prog = xasprintf("docker-credential-%s", helper);
	argv[0] = prog;
	argv[1] = "get";
	argv[2] = NULL;
	c.argv = argv;
	c.in = CHILD_PIPE;
	c.out = CHILD_PIPE;
	c.err = CHILD_NULL;		/* its messages may quote what it keeps */
	c.new_pgrp = 1;
	memset(&ign, 0, sizeof(ign));
	ign.sa_handler = SIG_IGN;
	sigemptyset(&ign.sa_mask);
	/* a helper that exits without reading its stdin must not kill us with SIGPIPE */
	sigaction(SIGPIPE, &ign, &old);
	if (child_start(&c, e) < 0) {
		err_prefix(e, "credential helper for '%s'", server);
		goto out;
	}
	started = 1;
	if (xwrite_full(c.in_fd, server, strlen(server)) < 0 && errno != EPIPE) {
		err_errno(e, "cannot write to credential helper '%s'", prog);
		goto out;
	}
	close(c.in_fd);
	c.in_fd = -1;
	if (engine_cred_read(c.out_fd, &out, engine_cred_now_ms() + ENGINE_CRED_TIMEOUT * 1000LL,
			     prog, e) < 0)
		goto out;
	started = 0;
	if (child_finish(&c, &status, e) < 0)
		goto out;
	if (status != 0) {
		/* the protocol's answer for a server it keeps nothing for */
		if (out.len && memmem(out.data, out.len, "credentials not found", 21)) {
			rc = 1;
			goto out;
		}
		err_set(e, "credential helper '%s' failed for '%s' (exit %d)", prog, server, status);
		goto out;
	}
	j = json_loadb(out.data ? out.data : "", out.len, 0, NULL);
	user = json_string_value(json_object_get(j, "Username"));
	secret = json_string_value(json_object_get(j, "Secret"));
	if (!user || !secret) {
		err_set(e, "credential helper '%s' answered for '%s' without Username and Secret",
			prog, server);
		goto out;
	}
	*ret_user = xstrdup(user);
	*ret_secret = xstrdup(secret);
	rc = 0;
out:
	if (started) {
		kill(-c.pid, SIGKILL);
		kill(c.pid, SIGKILL);
		child_finish(&c, &status, NULL);
	}
	sigaction(SIGPIPE, &old, NULL);
	if (j) {
		/* jansson keeps its own copies of the strings: gone with it, not wiped */
		json_decref(j);
	}
	if (out.data)
		explicit_bzero(out.data, out.len);
	buf_release(&out);
	free(prog);
	return rc;
}
