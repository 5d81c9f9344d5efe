/* s2i_container: a build's containers — create, attach and run, upload a tar, read a
 * file, resolve a user, remove; and the removal by label that the daemon's cleanups use. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "s2i_int.h"
#include "s2iparse.h"
#include "tarx.h"

/* Reads a small file of a (created) container through the archive API. 1 if absent. */
int s2i_container_file(struct s2i_ctx *c, const char *id, const char *path, size_t max,
		       struct buf *out, struct err *e)
{
	struct engine_stream *st = NULL;
	const char *base = strrchr(path, '/');
	int found = 0, rc;

	base = base ? base + 1 : path;
	if (engine_archive_open(c->eng, id, path, &st, e) < 0)
		return engine_status(c->eng) == 404 ? 1 : -1;
	rc = tarx_read_file(engine_stream_read, st, base, max, out, &found, e);
	engine_stream_free(st);
	/* the answer's status arrives with the first read */
	if (rc < 0 && engine_status(c->eng) == 404)
		return 1;
	if (rc < 0)
		return -1;
	return found ? 0 : 1;
}

/* uid/gid of user in container id: numeric users need no lookup. */
int s2i_resolve_user(struct s2i_ctx *c, const char *id, const char *user, long *ret_uid,
		     long *ret_gid, struct err *e)
{
	struct buf passwd = BUF_INIT(S2I_PASSWD_MAX), group = BUF_INIT(S2I_PASSWD_MAX);
	const char *colon = strchr(user, ':');
	int need_passwd, need_group, rc = -1;

	need_passwd = *user && !isdigit((unsigned char)*user);
	need_group = colon && colon[1] && !isdigit((unsigned char)colon[1]);
	if (need_passwd && s2i_container_file(c, id, "/etc/passwd", S2I_PASSWD_MAX, &passwd, e) < 0)
		goto out;
	if (need_group && s2i_container_file(c, id, "/etc/group", S2I_PASSWD_MAX, &group, e) < 0)
		goto out;
	rc = s2iparse_user_ids(user, need_passwd ? passwd.data : NULL, need_group ? group.data : NULL,
			       ret_uid, ret_gid, e);
out:
	buf_release(&passwd);
	buf_release(&group);
	return rc;
}

int s2i_create(struct s2i_ctx *c, const char *image, const char *user, const char *cmd,
	       const struct strv *env, char **ret_id, struct err *e)
{
	const char *argv[2] = { cmd, NULL };

	return s2i_create_argv(c, image, user, cmd ? argv : NULL, env, &c->o->volumes, ret_id, e);
}

int s2i_create_argv(struct s2i_ctx *c, const char *image, const char *user,
		    const char *const *argv, const struct strv *env, const struct strv *binds,
		    char **ret_id, struct err *e)
{
	const struct s2i_opts *o = c->o;
	struct engine_create p = ENGINE_CREATE_INIT;
	const char *no_entrypoint[1] = { NULL };
	const char *labels[3] = { c->build_label, c->owner_label, NULL };

	p.image = image;
	p.cmd = argv;
	p.entrypoint = no_entrypoint;
	p.entrypoint_set = 1;		/* scripts run directly, whatever the image's ENTRYPOINT */
	p.user = user;
	p.env = env ? (const char *const *)env->items : NULL;
	p.labels = labels;
	p.network_mode = o->network;
	p.cap_drop = o->cap_drop.n ? (const char *const *)o->cap_drop.items : NULL;
	p.binds = binds && binds->n ? (const char *const *)binds->items : NULL;
	p.extra_hosts = o->add_hosts.n ? (const char *const *)o->add_hosts.items : NULL;
	if (engine_container_create(c->eng, &p, ret_id, e) < 0) {
		s2i_engine_outcome(c);
		return err_prefix(e, "cannot create a container of '%s'", image);
	}
	strv_push(&c->containers, *ret_id);
	return 0;
}

void s2i_remove_containers(struct s2i_ctx *c)
{
	size_t i;

	if (!c->eng)
		return;
	/* cleanup must run even after a cancel or a timeout, but not wait forever on an
	 * engine that hangs: what is left is reported in r->left */
	engine_set_cancel(c->eng, NULL);
	engine_set_deadline(c->eng, engine_clock_ms() + (int64_t)S2I_CLEANUP_TIMEOUT * 1000);
	for (i = c->containers.n; i-- > 0;) {
		struct err e = ERR_INIT;

		if (engine_container_remove(c->eng, c->containers.items[i], 1, 1, &e) < 0) {
			/* e names the container */
			if (engine_status(c->eng) == ENGINE_TIMED_OUT)
				s2i_step(c, S2I_LOG_WARN, "%s: the container engine did not answer "
					 "within %ds", e.msg, S2I_CLEANUP_TIMEOUT);
			else
				s2i_step(c, S2I_LOG_WARN, "%s", e.msg);
			strv_push(&c->r->left, c->containers.items[i]);
		}
	}
	strv_clear(&c->containers);
}

/* The detached cleanup's work: what the build listed, then every container and volume
 * still carrying the build's labels (one whose create answered after a failure), tried
 * again each second while something stays and the deadline allows. */
static void s2i_cleanup_detached_run(struct s2i_ctx *c)
{
	const char *owner = strchr(c->owner_label, '=') + 1;
	int64_t deadline = engine_clock_ms() + (int64_t)S2I_CLEANUP_DETACHED_TIMEOUT * 1000;
	size_t i;

	engine_set_cancel(c->eng, NULL);
	engine_set_deadline(c->eng, deadline);
	for (i = c->containers.n; i-- > 0;) {
		struct err e = ERR_INIT;

		engine_container_remove(c->eng, c->containers.items[i], 1, 1, &e);
	}
	for (;;) {
		struct err e = ERR_INIT;

		if (s2i_remove_build_containers(c->eng, c->build_id, owner, NULL, &e) == 0 ||
		    engine_clock_ms() + 1000 >= deadline)
			break;
		sleep(1);
	}
}

int s2i_cleanup_detach(struct s2i_ctx *c)
{
	struct sigaction ign;
	pid_t pid, inner;
	int status, fd;

	if (!c->eng)
		return -1;
	if (!c->containers.n && !c->secrets_volume)
		return 0;
	fflush(NULL);		/* nothing buffered is written twice */
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		/* the middle process ends at once: the cleanup is nobody's child */
		inner = fork();
		if (inner != 0)
			_exit(inner < 0 ? 1 : 0);
		setsid();
		memset(&ign, 0, sizeof(ign));
		ign.sa_handler = SIG_IGN;
		sigaction(SIGINT, &ign, NULL);
		sigaction(SIGHUP, &ign, NULL);
		sigaction(SIGPIPE, &ign, NULL);
		/* the caller's pipes end with the result; no lock of the caller stays held */
		fd = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (fd >= 0) {
			dup2(fd, STDIN_FILENO);
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
		}
		close_range(3, ~0u, 0);
		s2i_cleanup_detached_run(c);
		_exit(0);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return -1;
	strv_clear(&c->containers);
	free(c->secrets_volume);
	c->secrets_volume = NULL;
	return 0;
}

void s2i_drop_container(struct s2i_ctx *c, const char *id)
{
	struct err e = ERR_INIT;
	size_t i;

	/* after a call the engine did not answer, not another wait here: the removal at
	 * the end has a deadline of its own */
	if (engine_unreachable(c->eng) || engine_container_remove(c->eng, id, 1, 1, &e) < 0)
		return;		/* still listed: tried again (and reported) at the end */
	for (i = 0; i < c->containers.n; i++) {
		if (!strcmp(c->containers.items[i], id)) {
			free(c->containers.items[i]);
			memmove(&c->containers.items[i], &c->containers.items[i + 1],
				(c->containers.n - i) * sizeof(char *));
			c->containers.n--;
			break;
		}
	}
}

/* Starts a created container, streams its output to the log, waits. The output comes
 * through an attach made before the start: nothing is lost however fast the script
 * is, and no log driver is involved (Podman's logs?follow can end early). */
int s2i_run(struct s2i_ctx *c, const char *id, const char *what, int *ret_code, struct err *e)
{
	struct engine_stream *st = NULL;
	char chunk[16384];
	ssize_t n;
	int rc = -1;

	if (engine_attach_open(c->eng, id, s2i_on_output, c, &st, e) < 0) {
		s2i_engine_outcome(c);
		return err_prefix(e, "%s", what);
	}
	if (engine_container_start(c->eng, id, e) < 0) {
		s2i_engine_outcome(c);
		err_prefix(e, "cannot start %s", what);
		goto out;
	}
	while ((n = engine_stream_read(st, chunk, sizeof(chunk), e)) > 0)
		s2i_on_output(c, ENGINE_STDOUT, chunk, (size_t)n, e);
	s2i_lines_flush(c);
	if (n < 0) {
		s2i_engine_outcome(c);
		err_prefix(e, "%s", what);
		goto out;
	}
	if (engine_container_wait(c->eng, id, 0, ret_code, e) < 0) {
		s2i_engine_outcome(c);
		err_prefix(e, "%s", what);
		goto out;
	}
	rc = 0;
out:
	s2i_lines_flush(c);
	engine_stream_free(st);
	return rc;
}

static ssize_t s2i_fd_read(void *arg, void *p, size_t len, struct err *e)
{
	int fd = *(int *)arg;
	ssize_t n;

	do
		n = read(fd, p, len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return err_errno(e, "cannot read the tar pipe");
	return n;
}

/* Uploads a tar produced by fill (in srctar's writer thread) into dir of container id;
 * so NULL: every entry owned by the assemble user. */
int s2i_upload_opts(struct s2i_ctx *c, const char *id, const char *dir,
		    const struct srctar_opts *so, srctar_fill_fn fill, void *arg, struct err *e)
{
	struct srctar_opts own = SRCTAR_OPTS_INIT;
	struct srctar_pipe *pipe = NULL;
	struct err we = ERR_INIT;
	int fd = -1, rc;

	own.uid = (uid_t)c->uid;
	own.gid = (gid_t)c->gid;
	if (srctar_pipe_start(so ? so : &own, fill, arg, &fd, &pipe, e) < 0)
		return -1;
	rc = engine_archive_put(c->eng, id, dir, s2i_fd_read, &fd, e);
	if (rc < 0)
		s2i_engine_outcome(c);
	/* the writer's own error explains a broken upload best */
	if (srctar_pipe_finish(pipe, &we) < 0 && rc == 0) {
		*e = we;
		rc = -1;
	} else if (rc < 0 && we.msg[0] && !strstr(we.msg, "Broken pipe") && !strstr(we.msg, "EPIPE")) {
		*e = we;
	}
	if (rc < 0 && engine_status(c->eng) == 404)
		err_prefix(e, "directory '%s' does not exist in the image", dir);
	return rc;
}

int s2i_upload(struct s2i_ctx *c, const char *id, const char *dir, srctar_fill_fn fill,
	       void *arg, struct err *e)
{
	return s2i_upload_opts(c, id, dir, NULL, fill, arg, e);
}

/* Removes the volumes carrying every one of labels (a build's secrets volume). */
static int s2i_remove_labelled_volumes(struct engine *eng, const char *const *labels,
				       struct err *e)
{
	struct strv names = STRV_INIT;
	size_t i;
	int rc = -1;

	if (engine_volume_list(eng, labels, &names, e) == 0) {
		rc = 0;
		for (i = 0; i < names.n; i++)
			if (engine_volume_remove(eng, names.items[i], e) < 0)
				rc = -1;
	}
	strv_clear(&names);
	return rc;
}

/* Removes the containers carrying every one of labels (NULL-terminated), then the
 * volumes carrying them: once no container uses them (one in use stays, for the next
 * try). */
static int s2i_remove_labelled(struct engine *eng, const char *const *labels, size_t *ret_n,
			       struct err *e)
{
	struct strv ids = STRV_INIT;
	size_t i, n = 0;
	int rc = -1;

	if (engine_container_list_all(eng, labels, &ids, e) == 0) {
		rc = 0;
		for (i = 0; i < ids.n; i++) {
			if (engine_container_remove(eng, ids.items[i], 1, 1, e) < 0)
				rc = -1;
			else
				n++;
		}
	}
	if (rc == 0)
		rc = s2i_remove_labelled_volumes(eng, labels, e);
	if (ret_n)
		*ret_n = n;
	strv_clear(&ids);
	return rc;
}

int s2i_remove_build_containers(struct engine *eng, const char *build_id, const char *owner,
				size_t *ret_n, struct err *e)
{
	const char *labels[3];
	char *bl, *ol;
	int rc;

	if (ret_n)
		*ret_n = 0;
	if (!build_id || !*build_id || !owner || !*owner)
		return err_set(e, "cannot remove build containers without a build id and an owner");
	bl = xasprintf("%s=%s", S2I_BUILD_LABEL, build_id);
	ol = xasprintf("%s=%s", S2I_OWNER_LABEL, owner);
	labels[0] = bl;
	labels[1] = ol;
	labels[2] = NULL;
	rc = s2i_remove_labelled(eng, labels, ret_n, e);
	free(bl);
	free(ol);
	return rc;
}

int s2i_remove_owned_containers(struct engine *eng, const char *owner, size_t *ret_n,
				struct err *e)
{
	const char *labels[2];
	char *ol;
	int rc;

	if (ret_n)
		*ret_n = 0;
	if (!owner || !*owner)
		return err_set(e, "cannot remove build containers without an owner");
	ol = xasprintf("%s=%s", S2I_OWNER_LABEL, owner);
	labels[0] = ol;
	labels[1] = NULL;
	rc = s2i_remove_labelled(eng, labels, ret_n, e);
	free(ol);
	return rc;
}

static int s2i_strv_has(const struct strv *v, const char *s)
{
	size_t i;

	for (i = 0; i < v->n; i++)
		if (!strcmp(v->items[i], s))
			return 1;
	return 0;
}

int s2i_count_unowned(struct engine *eng, size_t *ret_n, struct err *e)
{
	struct strv ids = STRV_INIT, empty = STRV_INIT, owned = STRV_INIT;
	size_t i, n = 0;
	int rc = -1;

	/* "k=" matches the empty value only: those containers run images we built */
	if (engine_container_list(eng, S2I_BUILD_LABEL, &ids, e) < 0 ||
	    engine_container_list(eng, S2I_BUILD_LABEL "=", &empty, e) < 0 ||
	    engine_container_list(eng, S2I_OWNER_LABEL, &owned, e) < 0)
		goto out;
	for (i = 0; i < ids.n; i++)
		if (!s2i_strv_has(&empty, ids.items[i]) && !s2i_strv_has(&owned, ids.items[i]))
			n++;
	rc = 0;
out:
	if (ret_n)
		*ret_n = n;
	strv_clear(&ids);
	strv_clear(&empty);
	strv_clear(&owned);
	return rc;
}
