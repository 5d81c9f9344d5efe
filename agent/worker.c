/* worker: runs queued builds in child processes and records what they report, posts
 * commit statuses through short child processes, serves build logs; event loop only. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "batch.h"
#include "buf.h"
#include "child.h"
#include "forge.h"
#include "instance.h"
#include "jobwire.h"
#include "limits.h"
#include "log.h"
#include "s2i.h"
#include "worker.h"

/* the running binary, even after an upgrade replaced the file */
/* Children are this executable, by the path it was started from (resolved once:
 * under valgrind, /proc/self/exe itself would be valgrind's tool). */
#define WORKER_SELF	"/proc/self/exe"

enum wkind { WK_BUILD, WK_STATUS, WK_CLEANUP };

/* A child process of the pipeline. */
struct wproc {
	struct worker *p_w;
	enum wkind p_kind;
	pid_t p_pid;
	int p_out;			/* our end of its stdout, -1 once closed */
	struct event *p_out_ev;		/* builds: their lines are read as they come */
	struct buf p_outbuf;
	size_t p_parsed;		/* bytes of p_outbuf already handled as lines */
	struct event *p_timer;		/* backstop: SIGKILL when it fires */
	int p_exited;
	int p_wstatus;
	struct wproc *p_next;
	/* WK_BUILD */
	long long p_id;
	char *p_repo;
	char *p_ref;
	char p_sha[41];
	long p_timeout;
	char *p_log;
	char *p_cancel_reason;		/* we asked it to stop, and why */
	int p_timed_out;
	int p_killed;
	int p_requeue;			/* the agent is stopping: back to the queue */
	json_t *p_result;
	int p_recorded;			/* its outcome is decided (and being written) */
	int p_landed;			/* ... and on disk: the slot is free once it exited too */
	int p_attempt;			/* times it was started before */
	char *p_provider;
	char *p_error;			/* why it could not start (it never ran) */
	long long p_started_ms;		/* 0 until it is running on disk */
	/* WK_STATUS */
	long long p_status_id;
	int p_status_attempts;
	char *p_status_what;
	char *p_status_repo;		/* one post at a time per repository */
	char *p_status_forge;		/* scheme://host:port of the forge's API */
	/* WK_CLEANUP */
	int p_startup;
	json_t *p_job;			/* what it removes: tried again if it fails */
};

/* A GET /builds/ID/log?follow=1 being streamed. */
struct wfollow {
	struct worker *f_w;
	struct evhttp_request *f_req;
	struct evhttp_connection *f_conn;
	long long f_id;
	int f_fd;
	off_t f_off;
	struct event *f_timer;
	struct wfollow *f_next;
};

struct worker {
	struct event_base *w_base;
	struct store *w_store;
	char w_self[4096];		/* this executable (see WORKER_SELF) */
	struct http *w_http;
	const struct config *w_cfg;
	struct event *w_sigchld;
	struct event *w_kick;
	struct event *w_status_ev;
	struct wproc *w_procs;
	struct wfollow *w_follows;
	unsigned w_running;
	int w_ready;			/* start-up cleanup finished */
	int w_stopping;
	char *w_logdir;
	/* cleanups that failed (the engine was down), tried again with backoff */
	struct event *w_cleanup_ev;
	json_t *w_cleanup_ids, *w_cleanup_containers;
	long w_cleanup_delay;
	/* io.s2i-agent.owner of this agent's build containers (instance_id): a random
	 * id kept in state_dir rather than a hash of state_dir's path, since the same path
	 * on two hosts (or in two containers) sharing one engine would collide, and a
	 * moved or re-mounted state_dir would orphan the containers of its builds */
	char w_owner[INSTANCE_ID_MAX];
	struct event *w_queued_ev;	/* handles w_new once per loop pass */
	struct build *w_new;		/* builds queued since (id, repo, ref, sha, state) */
	size_t w_nnew, w_newalloc;
	unsigned w_nops;		/* writes of ours in the group commit */
	struct wop *w_retry;		/* writes the database refused, tried again later */
};

enum wop_kind {
	WOP_QUEUED,			/* new builds: queued statuses, supersede older queued ones */
	WOP_START,			/* queued -> running, before its process starts */
	WOP_PID,			/* its process */
	WOP_SHA,			/* the commit a ref resolved to */
	WOP_FINISH,			/* a started build's end (o_proc) */
	WOP_REQUEUE,			/* running -> queued (the agent stops) */
	WOP_CLOSE,			/* a build ended without running (cancel, recovery) */
	WOP_STATUS_DONE,		/* a commit status row posted (o_id: the row) */
	WOP_STATUS_RETRY,
	WOP_ADD				/* a manual build (retry, POST /repos/NAME/builds) */
};

/*
 * A write of the worker's. It goes through the intake's group commit (batch.h): the
 * writer thread runs it in the next transaction, so under a burst of deliveries the
 * worker adds no fsync of its own and never blocks the loop on the disk. What depends
 * on it happens in worker_op_done, once it is on disk: a process starts after its
 * build is running, a status is posted after its row, the next build of a repository
 * starts after the previous one's end. While queued it belongs to the writer thread
 * (worker_op_run may touch only the op), else to the loop.
 */
struct wop {
	struct worker *o_w;
	enum wop_kind o_kind;
	long long o_id;			/* the build (the status row for WOP_STATUS_*) */
	struct wproc *o_proc;		/* START, FINISH, REQUEUE, STATUS_*: loop only */
	struct evhttp_request *o_req;	/* CLOSE, ADD: the request, answered once on disk */
	struct build o_build;		/* ADD: the build to queue (id set once on disk) */
	enum build_state o_state;	/* FINISH, CLOSE */
	char *o_reason;			/* FINISH, CLOSE, REQUEUE; STATUS_RETRY: the error */
	char *o_image, *o_image_id;
	long long o_time;		/* FINISH, CLOSE: its end; STATUS_RETRY: next_at; ADD: retried id */
	long long o_pid;
	char o_sha[41];
	char *o_log;			/* the build log, and a line for it written before */
	char *o_line;			/* the COMMIT (once), when the state changed or */
	int o_line_always;		/* always */
	int o_logged;
	const char *o_st_state;		/* a commit status queued with the change */
	char *o_st_desc;
	char *o_st_queued;		/* SHA: a queued status before it */
	/* WOP_QUEUED: new builds of one repository and ref, oldest first */
	char *o_repo, *o_ref;
	long long *o_ids;
	char **o_descs;			/* their queued statuses (NULL: none) */
	size_t o_n;
	int o_supersede;		/* cancel the queued builds older than the newest */
	int o_status_on;		/* with statuses */
	long long *o_canceled;		/* out */
	size_t o_ncanceled;
	int o_rc;			/* out: 1 when nothing changed */
	int o_tries;			/* failed so far */
	struct event *o_retry;
	struct wop *o_next;		/* in w_retry */
};

static void worker_kick(struct worker *w);
static void worker_status_kick(struct worker *w, long long delay_ms);
static void worker_proc_free(struct wproc *p);
static void worker_cleanup_later(struct worker *w, json_t *job);
static void worker_op_submit(struct worker *w, struct wop *o);
static void worker_queued(void *ctx, const struct build *b);
static void worker_reply_queued(struct worker *w, struct evhttp_request *req, long long id);

/* ---------- small helpers ---------- */

static char *worker_log_path(const struct worker *w, long long id)
{
	return xasprintf("%s/%lld.log", w->w_logdir, id);
}

/* Appends a line to a build log (creating it); -1 with errno. Thread-safe: the
 * writer thread writes the lines of its ops. */
static int worker_append_line(const char *path, const char *text)
{
	char line[LOG_LINE_MAX];
	int fd, n, rc = -1, saved;

	n = snprintf(line, sizeof(line) - 1, "%s", text);
	if (n < 0)
		n = 0;
	if ((size_t)n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd < 0)
		return -1;
	if (write(fd, line, (size_t)n) == n)
		rc = 0;
	saved = errno;
	close(fd);
	errno = saved;
	return rc;
}

/* Appends one line of the agent's own to a build log (creating it). */
static void worker_log_line(const struct worker *w, long long id, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void worker_log_line(const struct worker *w, long long id, const char *fmt, ...)
{
	char line[LOG_LINE_MAX];
	char *path = worker_log_path(w, id);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (worker_append_line(path, line) < 0)
		log_warn("build %lld: cannot write its log '%s': %s", id, path, strerror(errno));
	free(path);
}

/* The job of a child: JSON in an unlinked file, given as its stdin (any size, and
 * writing it cannot block the loop on a full pipe). */
static int worker_job_fd(const struct worker *w, json_t *job, struct err *e)
{
	char *s = json_dumps(job, JSON_COMPACT);
	char *tmpl = NULL;
	size_t len, off = 0;
	ssize_t n;
	int fd;

	if (!s)
		return err_set(e, "cannot render a job");
	len = strlen(s);
	fd = open(w->w_cfg->state_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0) {
		tmpl = xasprintf("%s/job.XXXXXX", w->w_cfg->state_dir);
		fd = mkostemp(tmpl, O_CLOEXEC);
		if (fd >= 0)
			unlink(tmpl);
	}
	if (fd < 0) {
		err_errno(e, "cannot create a job file in '%s'", w->w_cfg->state_dir);
		goto out;
	}
	while (off < len) {
		n = write(fd, s + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err_errno(e, "cannot write a job file in '%s'", w->w_cfg->state_dir);
			close(fd);
			fd = -1;
			goto out;
		}
		off += (size_t)n;
	}
	lseek(fd, 0, SEEK_SET);
out:
	free(tmpl);
	free(s);
	return fd;
}

static void worker_set_str(json_t *o, const char *k, const char *v)
{
	if (v && *v)
		json_object_set_new(o, k, json_string(v));
}

static void worker_set_strv(json_t *o, const char *k, const struct strv *v)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < v->n; i++)
		json_array_append_new(a, json_string(v->items[i]));
	json_object_set_new(o, k, a);
}

static void worker_out_cb(evutil_socket_t fd, short what, void *arg);
static void worker_build_record(struct wproc *p);
static void worker_timer_cb(evutil_socket_t fd, short what, void *arg);

/* A child of kind, in w_procs; its process starts with worker_proc_start. */
static struct wproc *worker_proc_new(struct worker *w, enum wkind kind)
{
	struct wproc *p = xcalloc(1, sizeof(*p));

	p->p_w = w;
	p->p_kind = kind;
	p->p_out = -1;
	buf_init(&p->p_outbuf, WORKER_RESULT_MAX);
	p->p_timer = evtimer_new(w->w_base, worker_timer_cb, p);
	p->p_next = w->w_procs;
	w->w_procs = p;
	return p;
}

/* Starts `s2i-agent NAME ARG` for p with job on stdin, stdout to us, stderr to errfd. */
static int worker_proc_start(struct wproc *p, const char *name, const char *arg, json_t *job,
			     int errfd, long timeout_s, struct err *e)
{
	struct worker *w = p->p_w;
	const char *argv[] = { w->w_self, name, arg, NULL };
	struct child c = CHILD_INIT;
	struct timeval tv = { timeout_s, 0 };
	int in;

	in = worker_job_fd(w, job, e);
	if (in < 0)
		return -1;
	c.argv = argv;
	c.in = in;
	c.out = CHILD_PIPE;
	c.err = errfd >= 0 ? errfd : CHILD_INHERIT;
	c.new_pgrp = 1;
	c.block_term = p->p_kind == WK_BUILD;	/* the build process unblocks them */
	if (child_start(&c, e) < 0) {
		close(in);
		return -1;
	}
	close(in);
	p->p_pid = c.pid;
	p->p_out = c.out_fd;
	fcntl(p->p_out, F_SETFL, fcntl(p->p_out, F_GETFL) | O_NONBLOCK);
	p->p_out_ev = event_new(w->w_base, p->p_out, EV_READ | EV_PERSIST, worker_out_cb, p);
	if (p->p_out_ev)
		event_add(p->p_out_ev, NULL);
	if (p->p_timer && timeout_s > 0)
		evtimer_add(p->p_timer, &tv);
	return 0;
}

static void worker_proc_unlink(struct wproc *p);

/* A child process of kind in w_procs, or NULL (nothing left behind). */
static struct wproc *worker_spawn(struct worker *w, enum wkind kind, const char *name,
				  const char *arg, json_t *job, int errfd, long timeout_s,
				  struct err *e)
{
	struct wproc *p = worker_proc_new(w, kind);

	if (worker_proc_start(p, name, arg, job, errfd, timeout_s, e) < 0) {
		worker_proc_unlink(p);
		worker_proc_free(p);
		return NULL;
	}
	return p;
}

static void worker_proc_unlink(struct wproc *p)
{
	struct wproc **pp;

	for (pp = &p->p_w->w_procs; *pp; pp = &(*pp)->p_next)
		if (*pp == p) {
			*pp = p->p_next;
			break;
		}
}

static void worker_proc_free(struct wproc *p)
{
	if (!p)
		return;
	if (p->p_out_ev)
		event_free(p->p_out_ev);
	if (p->p_timer)
		event_free(p->p_timer);
	if (p->p_out >= 0)
		close(p->p_out);
	buf_release(&p->p_outbuf);
	free(p->p_repo);
	free(p->p_ref);
	free(p->p_log);
	free(p->p_cancel_reason);
	free(p->p_status_what);
	free(p->p_status_repo);
	free(p->p_status_forge);
	free(p->p_provider);
	free(p->p_error);
	json_decref(p->p_result);
	json_decref(p->p_job);
	free(p);
}

/* The process group of p (it leads its own), and p itself if setpgid lost a race. */
static void worker_proc_signal(struct wproc *p, int sig)
{
	if (p->p_exited || p->p_pid <= 0)	/* never kill(0) or kill(-0): that is us */
		return;
	kill(-p->p_pid, sig);
	kill(p->p_pid, sig);
}

/* ---------- statuses ---------- */

static const struct repo_conf *worker_repo(const struct worker *w, const char *name)
{
	return name ? config_repo(w->w_cfg, name) : NULL;
}

/* 1 when a build of repo at sha gets commit statuses. */
static int worker_status_on(const struct worker *w, const char *repo)
{
	const struct repo_conf *rc = worker_repo(w, repo);

	return rc && rc->status != STATUS_NONE;
}

static int worker_status_want(const struct worker *w, const char *repo, const char *sha)
{
	return worker_status_on(w, repo) && sha && *sha;
}

/* The description of a commit status for build id in state (a SPEC build state).
 * Pure: the writer thread calls it too. */
static char *worker_status_desc(long long id, enum build_state state, const char *reason,
				long long duration_ms)
{
	switch (state) {
	case BUILD_QUEUED:
		return xasprintf("Build %lld queued", id);
	case BUILD_RUNNING:
		return xasprintf("Build %lld running", id);
	case BUILD_SUCCEEDED:
		return xasprintf("Build %lld succeeded in %llds", id, (duration_ms + 500) / 1000);
	default:
		return reason && *reason ?
			xasprintf("Build %lld %s: %s", id, store_state_name(state), reason) :
			xasprintf("Build %lld %s", id, store_state_name(state));
	}
}

/* Queues the status for state with the op's change (if the repository posts any). */
static void worker_op_status(const struct worker *w, struct wop *o, const char *repo,
			     const char *sha, enum build_state state, const char *reason,
			     long long duration_ms)
{
	if (!worker_status_want(w, repo, sha))
		return;
	o->o_st_state = store_state_name(state);
	free(o->o_st_desc);
	o->o_st_desc = worker_status_desc(o->o_id, state, reason, duration_ms);
}

/* ---------- writes (through the group commit) ---------- */

static struct wop *worker_op_new(enum wop_kind kind, long long id)
{
	struct wop *o = xcalloc(1, sizeof(*o));

	o->o_kind = kind;
	o->o_id = id;
	return o;
}

static void worker_op_free(struct wop *o)
{
	size_t i;

	if (!o)
		return;
	if (o->o_retry)
		event_free(o->o_retry);
	free(o->o_reason);
	free(o->o_image);
	free(o->o_image_id);
	free(o->o_log);
	free(o->o_line);
	free(o->o_st_desc);
	free(o->o_st_queued);
	free(o->o_repo);
	free(o->o_ref);
	for (i = 0; i < o->o_n; i++)
		free(o->o_descs[i]);
	free(o->o_descs);
	free(o->o_ids);
	free(o->o_canceled);
	build_release(&o->o_build);
	free(o);
}

/* Writer thread: the queued builds of the op's repository and ref older than its
 * newest build are canceled (superseded). */
static int worker_op_supersede(struct store *st, struct wop *o, struct err *e)
{
	struct store_filter f = STORE_FILTER_INIT;
	struct build_list l = BUILD_LIST_INIT;
	long long newest = o->o_ids[o->o_n - 1];
	char reason[64], *desc;
	size_t i;
	int rc;

	snprintf(reason, sizeof(reason), "superseded by build %lld", newest);
	f.repo = o->o_repo;
	f.ref = o->o_ref;
	f.state = BUILD_QUEUED;
	f.oldest_first = 1;
	f.limit = BUILDS_LIST_MAX;
	f.before_id = newest;
	if (store_list_builds(st, &f, &l, e) < 0)
		return -1;
	o->o_canceled = xcalloc(l.n + 1, sizeof(*o->o_canceled));
	for (i = 0; i < l.n; i++) {
		struct build *b = &l.items[i];

		rc = store_set_finished(st, b->id, BUILD_CANCELED, reason, NULL, NULL, e);
		if (rc < 0)
			goto fail;
		if (rc > 0)
			continue;
		if (o->o_status_on && b->sha[0]) {
			desc = worker_status_desc(b->id, BUILD_CANCELED, reason, 0);
			rc = store_status_add(st, b->id, store_state_name(BUILD_CANCELED), desc, e);
			free(desc);
			if (rc < 0)
				goto fail;
		}
		o->o_canceled[o->o_ncanceled++] = b->id;
	}
	build_list_release(&l);
	/* no log file for each: a burst of pushes cancels as many builds, and creating
	 * a file costs more than the rest of the write; their log is told from the
	 * database (worker_log_told) */
	return 0;
fail:
	build_list_release(&l);
	return -1;
}

/* Writer thread: the state of build id, -1 on error. */
static int worker_op_state(struct store *st, long long id, struct err *e)
{
	struct build b = BUILD_INIT;
	int rc = store_get_build(st, id, &b, e);

	if (rc > 0)
		err_set(e, "build %lld: no such build", id);
	rc = rc == 0 ? (int)b.state : -1;
	build_release(&b);
	return rc;
}

/* Writer thread (batch_op_fn). */
static int worker_op_run(struct store *st, void *arg, struct err *e)
{
	struct wop *o = arg;
	size_t i;
	int rc = 0;

	o->o_rc = 0;
	switch (o->o_kind) {
	case WOP_QUEUED:
		free(o->o_canceled);
		o->o_canceled = NULL;
		o->o_ncanceled = 0;
		for (i = 0; i < o->o_n; i++) {
			if (!o->o_descs[i])
				continue;
			/* a build that ended or was canceled meanwhile gets no queued
			 * status; one already started still does (its start can land
			 * in the same commit, ahead of this) */
			if ((rc = worker_op_state(st, o->o_ids[i], e)) < 0)
				return -1;
			if ((rc == BUILD_QUEUED || rc == BUILD_RUNNING) &&
			    store_status_add(st, o->o_ids[i], "queued", o->o_descs[i], e) < 0)
				return -1;
		}
		rc = 0;
		if (o->o_supersede && worker_op_supersede(st, o, e) < 0)
			return -1;
		break;
	case WOP_START:
		rc = store_set_running(st, o->o_id, 0, o->o_log, e);
		break;
	case WOP_PID:
		rc = store_set_pid(st, o->o_id, o->o_pid, e);
		break;
	case WOP_SHA:
		rc = store_set_sha(st, o->o_id, o->o_sha, e);
		if (rc == 0 && o->o_st_desc) {
			/* its statuses, unless it ended meanwhile (this was refused) */
			if ((rc = worker_op_state(st, o->o_id, e)) < 0)
				return -1;
			if (rc != BUILD_RUNNING) {
				free(o->o_st_desc);
				o->o_st_desc = NULL;
			} else if (o->o_st_queued &&
				   store_status_add(st, o->o_id, "queued", o->o_st_queued, e) < 0) {
				return -1;
			}
			rc = 0;
		}
		break;
	case WOP_FINISH:
	case WOP_CLOSE:
		rc = store_set_finished_at(st, o->o_id, o->o_state, o->o_reason, o->o_image,
					   o->o_image_id, o->o_time, e);
		break;
	case WOP_REQUEUE:
		rc = store_requeue(st, o->o_id, o->o_reason, e);
		break;
	case WOP_STATUS_DONE:
		rc = store_status_done(st, o->o_id, e);
		break;
	case WOP_STATUS_RETRY:
		rc = store_status_retry(st, o->o_id, o->o_time, o->o_reason, e);
		break;
	case WOP_ADD: {
		long long dup = 0;

		rc = store_add_build(st, &o->o_build, &dup, e);
		o->o_id = o->o_build.id;
		break;
	}
	}
	if (rc < 0)
		return -1;
	if (rc == 0 && o->o_st_desc &&
	    store_status_add(st, o->o_id, o->o_st_state, o->o_st_desc, e) < 0)
		return -1;
	o->o_rc = rc;
	/* before the COMMIT: whoever sees the new state finds its line in the log */
	if (o->o_line && !o->o_logged && (rc == 0 || o->o_line_always))
		o->o_logged = worker_append_line(o->o_log, o->o_line) == 0;
	return 0;
}

static void worker_op_done(void *arg, int failed, const char *err);

static void worker_op_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wop *o = arg;
	struct wop **pp;

	(void)fd;
	(void)what;
	for (pp = &o->o_w->w_retry; *pp; pp = &(*pp)->o_next)
		if (*pp == o) {
			*pp = o->o_next;
			break;
		}
	o->o_next = NULL;
	worker_op_submit(o->o_w, o);
}

/* The database refused o (disk full?): o stays in memory and is tried again, after
 * WORKER_WRITE_RETRY_MIN_MS doubling up to WORKER_WRITE_RETRY_MAX_MS. Returns the delay. */
static long worker_op_retry(struct wop *o)
{
	struct worker *w = o->o_w;
	long delay = WORKER_WRITE_RETRY_MIN_MS;
	struct timeval tv;
	int i;

	for (i = 0; i < o->o_tries && delay < WORKER_WRITE_RETRY_MAX_MS; i++)
		delay *= 2;
	if (delay > WORKER_WRITE_RETRY_MAX_MS)
		delay = WORKER_WRITE_RETRY_MAX_MS;
	o->o_tries++;
	if (!o->o_retry)
		o->o_retry = evtimer_new(w->w_base, worker_op_retry_cb, o);
	tv.tv_sec = delay / 1000;
	tv.tv_usec = (delay % 1000) * 1000;
	o->o_next = w->w_retry;
	w->w_retry = o;
	evtimer_add(o->o_retry, &tv);
	return delay;
}

static void worker_op_submit(struct worker *w, struct wop *o)
{
	o->o_w = w;
	w->w_nops++;
	batch_op(http_batch(w->w_http), worker_op_run, worker_op_done, o);
}

static void worker_status_done(struct wproc *p)
{
	struct worker *w = p->p_w;
	const char *outcome = NULL, *msg = NULL;
	struct wop *o;
	json_t *j = NULL, *v;
	long http_code = 0, retry_after = 0, delay;
	unsigned long rnd = 0;

	if (p->p_outbuf.len)
		j = json_loads(p->p_outbuf.data, 0, NULL);
	if (j) {
		outcome = json_string_value(json_object_get(j, "outcome"));
		msg = json_string_value(json_object_get(j, "error"));
		if ((v = json_object_get(j, "http_code")))
			http_code = (long)json_integer_value(v);
		if ((v = json_object_get(j, "retry_after")))
			retry_after = (long)json_integer_value(v);
	}
	if (!outcome) {
		outcome = "retry";
		msg = "status process ended without an answer";
	}
	if (!strcmp(outcome, "done")) {
		log_info("%s posted (HTTP %ld)", p->p_status_what, http_code);
		o = worker_op_new(WOP_STATUS_DONE, p->p_status_id);
	} else if (!strcmp(outcome, "retry") && p->p_status_attempts + 1 < STATUS_MAX_ATTEMPTS) {
		if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != (ssize_t)sizeof(rnd))
			rnd = (unsigned long)time(NULL);
		delay = forge_backoff((unsigned)p->p_status_attempts + 1, retry_after, rnd);
		log_warn("%s: %s; retry in %lds", p->p_status_what, msg ? msg : "failed", delay);
		o = worker_op_new(WOP_STATUS_RETRY, p->p_status_id);
		o->o_time = store_now_ms() + delay * 1000;
		o->o_reason = msg ? xstrdup(msg) : NULL;
	} else {
		log_error("%s: %s; giving up after %d attempts", p->p_status_what,
			  msg ? msg : "failed", p->p_status_attempts + 1);
		o = worker_op_new(WOP_STATUS_DONE, p->p_status_id);
	}
	json_decref(j);
	/* the post is over once the row's new state is on disk: until then p stays
	 * in w_procs, holding the row and its repository (worker_status_posters) */
	o->o_proc = p;
	worker_op_submit(w, o);
}

/* What the status posts in flight hold: all of them, how many go to forge, and
 * whether row_id or repo is among them. */
struct wposters {
	unsigned all, forge;
	int row, repo;
};

static void worker_status_posters(const struct worker *w, long long row_id, const char *repo,
				  const char *forge, struct wposters *ret)
{
	const struct wproc *p;

	memset(ret, 0, sizeof(*ret));
	for (p = w->w_procs; p; p = p->p_next) {
		if (p->p_kind != WK_STATUS)
			continue;
		ret->all++;
		if (p->p_status_id == row_id)
			ret->row = 1;
		if (repo && p->p_status_repo && !strcmp(p->p_status_repo, repo))
			ret->repo = 1;
		if (forge && p->p_status_forge && !strcmp(p->p_status_forge, forge))
			ret->forge++;
	}
}

/* scheme://host[:port] of url: the forge a post goes to. Caller frees. */
static char *worker_url_origin(const char *url)
{
	const char *p = strstr(url, "://");

	p = p ? p + 3 : url;
	return xstrndup(url, (size_t)(p - url) + strcspn(p, "/?#"));
}

static int worker_status_drop(struct worker *w, const struct status_row *row)
{
	struct err e = ERR_INIT;

	if (store_status_done(w->w_store, row->id, &e) < 0) {
		log_error("%s", e.msg);
		return -2;
	}
	return 0;
}

/* Starts the post of row in a child: 1 started, 0 dropped or put off (the row
 * changed: look again), -1 not now (its repository or forge has posts in flight),
 * -2 the store refused to drop it, or no process can start (disk full?): look
 * again later. */
static int worker_status_start(struct worker *w, const struct status_row *row)
{
	const struct repo_conf *rc;
	struct forge_request r = FORGE_REQUEST_INIT;
	struct build b = BUILD_INIT;
	struct forge_build fb;
	struct wposters pw;
	struct err e = ERR_INIT;
	struct wproc *p;
	const char *payload;
	char *forge = NULL;
	json_t *job;
	int ret = 0;

	if (store_get_build(w->w_store, row->build_id, &b, &e) != 0 ||
	    !(rc = worker_repo(w, b.repo)) || rc->status == STATUS_NONE) {
		log_warn("build %lld: commit status '%s' dropped: the build or its "
			 "repository's status setting is gone", row->build_id, row->state);
		ret = worker_status_drop(w, row);
		goto out;
	}
	fb.id = b.id;
	fb.sha = b.sha;
	fb.ref = b.ref;
	fb.state = row->state;
	fb.description = row->description;
	payload = rc->status == STATUS_GITLAB && b.project_id ? b.project_id : b.repo_full_name;
	if (forge_request_build(rc, &fb, w->w_cfg->public_url, payload, &r, &e) < 0) {
		log_error("build %lld: commit status '%s' dropped: %s", b.id, row->state, e.msg);
		ret = worker_status_drop(w, row);
		goto out;
	}
	forge = worker_url_origin(r.url);
	worker_status_posters(w, row->id, b.repo, forge, &pw);
	if (pw.repo || pw.forge >= STATUS_POSTERS_PER_FORGE) {
		ret = -1;
		goto out;
	}
	job = json_object();
	json_object_set_new(job, "kind", json_integer(r.kind));
	json_object_set_new(job, "url", json_string(r.url));
	worker_set_strv(job, "headers", &r.headers);
	json_object_set_new(job, "body", json_string(r.body));
	worker_set_str(job, "state", r.state);
	worker_set_str(job, "repo", r.repo);
	worker_set_str(job, "token", r.token);
	json_object_set_new(job, "timeout", json_integer(r.timeout));
	json_object_set_new(job, "connect_timeout", json_integer(r.connect_timeout));
	p = worker_spawn(w, WK_STATUS, "__status", NULL, job, -1,
			 r.timeout + KILL_GRACE_SECONDS, &e);
	json_decref(job);
	if (!p) {
		/* no write: the database is likely as full as the directory */
		log_error("build %lld: cannot post a commit status: %s", b.id, e.msg);
		ret = -2;
		goto out;
	}
	event_del(p->p_out_ev);		/* a few bytes: read when it exits */
	p->p_status_id = row->id;
	p->p_status_attempts = row->attempts;
	p->p_status_what = xasprintf("build %lld: commit status '%s' (%s)", b.id, row->state,
				     r.state ? r.state : "");
	p->p_status_repo = xstrdup(b.repo);
	p->p_status_forge = forge;
	forge = NULL;
	ret = 1;
out:
	free(forge);
	forge_request_release(&r);
	build_release(&b);
	return ret;
}

/* Posts due statuses in children, up to STATUS_POSTERS at once. Only the first
 * waiting status of a commit is a candidate and it stays in the store until its
 * post is over, so a commit's statuses go out one after the other, in order,
 * while other repositories' posts go on beside a hanging one. */
static void worker_status_post(struct worker *w)
{
	struct status_row *rows = NULL;
	struct wposters pw;
	struct err e = ERR_INIT;
	long long now, wake;
	size_t n = 0, i;
	int again = 1, stuck = 0, r;

	while (again && !w->w_stopping) {
		again = 0;
		wake = 0;
		worker_status_posters(w, 0, NULL, NULL, &pw);
		if (pw.all >= STATUS_POSTERS)
			break;		/* the next one to end looks again */
		if (!rows)
			rows = xcalloc(STATUS_SCAN_MAX, sizeof(*rows));
		if (store_status_heads(w->w_store, STATUS_SCAN_MAX, rows, &n, &e) < 0) {
			log_error("%s", e.msg);
			break;
		}
		now = store_now_ms();
		for (i = 0; i < n; i++) {
			worker_status_posters(w, rows[i].id, NULL, NULL, &pw);
			if (pw.row)
				continue;	/* being posted */
			if (rows[i].next_at > now) {
				wake = rows[i].next_at;	/* sorted: none after it is due */
				break;
			}
			if (pw.all >= STATUS_POSTERS)
				break;
			if (rows[i].repo) {
				worker_status_posters(w, 0, rows[i].repo, NULL, &pw);
				if (pw.repo)
					continue;	/* its repository's post ends first */
			}
			r = worker_status_start(w, &rows[i]);
			if (r == 0)
				again = 1;	/* a row went: its commit may have a next one */
			else if (r == -2)
				stuck = 1;
		}
		for (i = 0; i < n; i++)
			status_row_release(&rows[i]);
		n = 0;
		if (stuck) {	/* not again at once: that would spin on the same row */
			worker_status_kick(w, WORKER_RETRY_SECONDS * 1000LL);
			break;
		}
		if (wake && !again)
			worker_status_kick(w, wake - now);
	}
	free(rows);
}

static void worker_status_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	worker_status_post(arg);
}

static void worker_status_kick(struct worker *w, long long delay_ms)
{
	struct timeval tv;

	if (!w->w_status_ev || w->w_stopping)
		return;
	if (delay_ms > (long long)STATUS_RETRY_MAX * 1000)
		delay_ms = (long long)STATUS_RETRY_MAX * 1000;
	tv.tv_sec = (time_t)(delay_ms / 1000);
	tv.tv_usec = (suseconds_t)(delay_ms % 1000) * 1000;
	/* an earlier wake-up wins over a later one already armed */
	if (evtimer_pending(w->w_status_ev, NULL) && delay_ms > 0) {
		struct timeval left;

		evtimer_pending(w->w_status_ev, &left);
		if (evutil_timercmp(&left, &tv, <))
			return;
	}
	evtimer_add(w->w_status_ev, &tv);
}

/* ---------- cleanup processes ---------- */

/* Removes the containers of builds ids (by label) and the containers named; takes
 * both arrays. A failure (the engine is down) is tried again later. */
static void worker_cleanup_spawn(struct worker *w, json_t *ids, json_t *containers, int startup)
{
	struct err e = ERR_INIT;
	struct wproc *p;
	json_t *job = json_object();

	json_object_set_new(job, "ids", ids);
	json_object_set_new(job, "containers", containers);
	json_object_set_new(job, "owner", json_string(w->w_owner));
	if (startup)
		json_object_set_new(job, "count_unowned", json_true());
	json_object_set_new(job, "engine", json_string(w->w_cfg->engine));
	worker_set_str(job, "tls_ca", w->w_cfg->tls_ca);
	worker_set_str(job, "tls_cert", w->w_cfg->tls_cert);
	worker_set_str(job, "tls_key", w->w_cfg->tls_key);
	p = worker_spawn(w, WK_CLEANUP, "__cleanup", NULL, job, -1, WORKER_CLEANUP_TIMEOUT, &e);
	if (!p) {
		log_error("cannot remove the containers of %zu builds: %s",
			  json_array_size(ids) + json_array_size(containers), e.msg);
		worker_cleanup_later(w, job);
		json_decref(job);
		if (startup) {
			w->w_ready = 1;
			worker_kick(w);
		}
		return;
	}
	event_del(p->p_out_ev);
	p->p_startup = startup;
	p->p_job = job;
}

static void worker_cleanup_start(struct worker *w, const long long *ids, size_t n, int startup)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < n; i++)
		json_array_append_new(a, json_integer(ids[i]));
	worker_cleanup_spawn(w, a, json_array(), startup);
}

static void worker_cleanup_merge(json_t **into, json_t *from)
{
	json_t *v, *have;
	size_t i, k;

	if (!*into)
		*into = json_array();
	json_array_foreach(from, i, v) {
		json_array_foreach(*into, k, have)
			if (json_equal(have, v))
				break;
		if (k == json_array_size(*into))
			json_array_append(*into, v);
	}
}

/* What is still to remove, in state_dir (WORKER_CLEANUP_FILE), so that an agent
 * restarted before the engine came back removes it too; no file when nothing is. */
static void worker_cleanup_save(const struct worker *w)
{
	char *path = xasprintf("%s/%s", w->w_cfg->state_dir, WORKER_CLEANUP_FILE);
	char *tmp = xasprintf("%s.tmp", path);
	json_t *j;

	if (!json_array_size(w->w_cleanup_ids) && !json_array_size(w->w_cleanup_containers)) {
		if (unlink(path) < 0 && errno != ENOENT)
			log_warn("cannot remove '%s': %s", path, strerror(errno));
		goto out;
	}
	j = json_object();
	if (w->w_cleanup_ids)
		json_object_set(j, "ids", w->w_cleanup_ids);
	if (w->w_cleanup_containers)
		json_object_set(j, "containers", w->w_cleanup_containers);
	if (json_dump_file(j, tmp, JSON_COMPACT) < 0 || rename(tmp, path) < 0)
		log_warn("cannot record the containers still to remove in '%s'", path);
	json_decref(j);
out:
	free(tmp);
	free(path);
}

/* Records what job (its "ids" and "containers") was to remove, for the next try or
 * the next start. */
static void worker_cleanup_keep(struct worker *w, json_t *job)
{
	worker_cleanup_merge(&w->w_cleanup_ids, json_object_get(job, "ids"));
	worker_cleanup_merge(&w->w_cleanup_containers, json_object_get(job, "containers"));
	worker_cleanup_save(w);
}

/* Keeps what job was to remove for the next try, WORKER_RETRY_SECONDS doubling up to
 * WORKER_CLEANUP_RETRY_MAX later (sooner when a build shows the engine is back). */
static void worker_cleanup_later(struct worker *w, json_t *job)
{
	struct timeval tv = { 0, 0 };

	if (w->w_stopping || !w->w_cleanup_ev)
		return;
	worker_cleanup_keep(w, job);
	if (evtimer_pending(w->w_cleanup_ev, NULL))
		return;
	w->w_cleanup_delay = w->w_cleanup_delay ? w->w_cleanup_delay * 2 : WORKER_RETRY_SECONDS;
	if (w->w_cleanup_delay > WORKER_CLEANUP_RETRY_MAX)
		w->w_cleanup_delay = WORKER_CLEANUP_RETRY_MAX;
	tv.tv_sec = w->w_cleanup_delay;
	log_warn("removing build containers again in %lds", w->w_cleanup_delay);
	evtimer_add(w->w_cleanup_ev, &tv);
}

static void worker_cleanup_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	json_t *ids = w->w_cleanup_ids, *containers = w->w_cleanup_containers;

	(void)fd;
	(void)what;
	if (w->w_stopping || (!ids && !containers))
		return;
	w->w_cleanup_ids = w->w_cleanup_containers = NULL;
	worker_cleanup_spawn(w, ids ? ids : json_array(), containers ? containers : json_array(), 0);
}

static void worker_cleanup_done(struct wproc *p)
{
	struct worker *w = p->p_w;
	json_t *j = p->p_outbuf.len ? json_loads(p->p_outbuf.data, 0, NULL) : NULL;
	const char *msg = j ? json_string_value(json_object_get(j, "error")) : NULL;
	long long n = j ? json_integer_value(json_object_get(j, "removed")) : 0;

	if (w->w_stopping && p->p_killed) {
		/* stopped by worker_stop, which kept its job for the next start */
	} else if (msg || !j) {
		log_error("cannot remove build containers: %s", msg ? msg : "cleanup process failed");
		worker_cleanup_later(w, p->p_job);
	} else {
		w->w_cleanup_delay = 0;
		worker_cleanup_save(w);		/* what is still pending, if anything */
	}
	if (n)
		log_info("removed %lld containers left by builds", n);
	if (p->p_startup && j && json_integer_value(json_object_get(j, "unowned")) > 0)
		log_warn("left alone %lld build containers without the %s label (made by an "
			 "older version: whose they are is unknown); remove them with docker rm "
			 "once no agent or `s2i-agent build` uses them",
			 (long long)json_integer_value(json_object_get(j, "unowned")), S2I_OWNER_LABEL);
	json_decref(j);
	if (p->p_startup) {
		w->w_ready = 1;
		worker_kick(w);
	}
}

/* ---------- builds ---------- */

static void worker_build_json_conf(const struct worker *w, const struct repo_conf *rc, json_t *job)
{
	const struct config *c = w->w_cfg;

	worker_set_str(job, "state_dir", c->state_dir);
	worker_set_str(job, "owner", w->w_owner);
	worker_set_str(job, "engine", c->engine);
	worker_set_str(job, "tls_ca", c->tls_ca);
	worker_set_str(job, "tls_cert", c->tls_cert);
	worker_set_str(job, "tls_key", c->tls_key);
	worker_set_str(job, "registry_auth_file", c->registry_auth_file);
	json_object_set_new(job, "build_timeout", json_integer(c->build_timeout));
	json_object_set_new(job, "repo", jobwire_repo_to_json(rc));
}

static struct wproc *worker_find_build(const struct worker *w, long long id)
{
	struct wproc *p;

	for (p = w->w_procs; p; p = p->p_next)
		if (p->p_kind == WK_BUILD && p->p_id == id)
			return p;
	return NULL;
}

static int worker_repo_busy(const struct worker *w, const char *repo)
{
	struct wproc *p;

	for (p = w->w_procs; p; p = p->p_next)
		if (p->p_kind == WK_BUILD && !strcmp(p->p_repo, repo))
			return 1;
	return 0;
}

/* Closes a build that never ran (a cancel by request, start-up recovery): its end
 * goes through the group commit; req, if any, is answered once it is on disk. */
static void worker_close_build(struct worker *w, const struct build *b, enum build_state state,
			       const char *reason, struct evhttp_request *req)
{
	struct wop *o = worker_op_new(WOP_CLOSE, b->id);

	o->o_state = state;
	o->o_reason = xstrdup(reason);
	o->o_time = store_now_ms();
	o->o_req = req;
	o->o_log = worker_log_path(w, b->id);
	o->o_line = xasprintf("==> build %lld %s: %s", b->id, store_state_name(state), reason);
	worker_op_status(w, o, b->repo, b->sha, state, reason, 0);
	worker_op_submit(w, o);
}

static void worker_cancel_proc(struct wproc *p, const char *reason)
{
	struct timeval tv = { KILL_GRACE_SECONDS, 0 };

	if (p->p_cancel_reason || p->p_exited)
		return;
	p->p_cancel_reason = xstrdup(reason);
	if (!p->p_pid)
		return;		/* not started yet: it will not be */
	worker_proc_signal(p, SIGTERM);
	/* it removes its containers and answers; if it does not, SIGKILL */
	evtimer_add(p->p_timer, &tv);
}

static void worker_build_record(struct wproc *p);

/* Takes a worker slot for queued build b: it is marked running on disk, then its
 * process starts (worker_build_spawn). */
static void worker_build_start(struct worker *w, const struct build *b)
{
	struct wproc *p = worker_proc_new(w, WK_BUILD);
	struct wop *o;

	p->p_id = b->id;
	p->p_repo = xstrdup(b->repo);
	p->p_ref = xstrdup(b->ref ? b->ref : "");
	snprintf(p->p_sha, sizeof(p->p_sha), "%s", b->sha);
	p->p_provider = b->provider ? xstrdup(b->provider) : NULL;
	p->p_attempt = b->attempt;
	p->p_log = worker_log_path(w, b->id);
	w->w_running++;
	if (!worker_repo(w, b->repo)) {
		/* closed without running, through the same path as a build's end */
		p->p_error = xstrdup("the repository is no longer configured");
		p->p_exited = 1;
		worker_build_record(p);
		return;
	}
	o = worker_op_new(WOP_START, b->id);
	o->o_proc = p;
	o->o_log = xstrdup(p->p_log);
	worker_op_status(w, o, b->repo, b->sha, BUILD_RUNNING, NULL, 0);
	worker_op_submit(w, o);
}

/* The build is running on disk: starts its process; -1 with e set if it cannot. */
static int worker_build_spawn(struct wproc *p, struct err *e)
{
	struct worker *w = p->p_w;
	const struct repo_conf *rc = worker_repo(w, p->p_repo);
	struct wop *o;
	char idstr[32];
	json_t *job, *jb;
	int logfd, rv;

	if (!rc)
		return err_set(e, "the repository is no longer configured");
	logfd = open(p->p_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW |
		     (p->p_attempt == 0 ? O_TRUNC : 0), 0640);
	if (logfd < 0)
		return err_errno(e, "cannot open the build log '%s'", p->p_log);
	job = json_object();
	jb = json_object();
	json_object_set_new(jb, "id", json_integer(p->p_id));
	worker_set_str(jb, "repo", p->p_repo);
	worker_set_str(jb, "ref", p->p_ref);
	worker_set_str(jb, "sha", p->p_sha);
	json_object_set_new(jb, "attempt", json_integer(p->p_attempt + 1));
	worker_set_str(jb, "provider", p->p_provider);
	json_object_set_new(job, "build", jb);
	json_object_set_new(job, "parent", json_integer(getpid()));
	json_object_set_new(job, "log_max", json_integer(BUILD_LOG_MAX));
	worker_build_json_conf(w, rc, job);
	snprintf(idstr, sizeof(idstr), "%lld", p->p_id);
	p->p_timeout = w->w_cfg->build_timeout;
	rv = worker_proc_start(p, "__build", idstr, job, logfd,
			       p->p_timeout > 0 ? p->p_timeout + KILL_GRACE_SECONDS : 0, e);
	json_decref(job);
	close(logfd);
	if (rv < 0) {
		err_prefix(e, "cannot start the build process");
		return -1;
	}
	/* recovery uses it to kill an orphan; not worth waiting for */
	o = worker_op_new(WOP_PID, p->p_id);
	o->o_pid = p->p_pid;
	worker_op_submit(w, o);
	log_info("build %lld: started '%s' %s %.12s (pid %d, attempt %d)", p->p_id, p->p_repo,
		 p->p_ref, *p->p_sha ? p->p_sha : "(to resolve)", (int)p->p_pid, p->p_attempt + 1);
	return 0;
}

/* Frees p's slot once its process is gone and its end is on disk. */
static void worker_build_final(struct wproc *p)
{
	struct worker *w = p->p_w;

	if (!p->p_exited || !p->p_landed)
		return;
	worker_proc_unlink(p);
	w->w_running--;
	worker_proc_free(p);
	worker_kick(w);
}

/* WOP_START on disk (rc 1: the build was no longer queued). */
static void worker_build_started(struct wproc *p, int rc)
{
	struct worker *w = p->p_w;
	struct err e = ERR_INIT;

	if (rc > 0) {
		log_debug("build %lld: no longer queued, not started", p->p_id);
		p->p_exited = 1;
		p->p_recorded = 1;
		p->p_landed = 1;
		worker_build_final(p);
		return;
	}
	p->p_started_ms = store_now_ms();
	if (w->w_stopping)
		p->p_requeue = 1;
	if (w->w_stopping || p->p_cancel_reason) {
		p->p_exited = 1;
		worker_build_record(p);
		return;
	}
	if (worker_build_spawn(p, &e) < 0) {
		p->p_error = xstrdup(e.msg);
		p->p_exited = 1;
		worker_build_record(p);
	}
}

/* A line the build process printed: {"sha": ...} once resolved, {"result": {...}} at the end. */
static void worker_build_line(struct wproc *p, const char *line)
{
	struct worker *w = p->p_w;
	json_t *j = json_loads(line, 0, NULL), *v;
	const char *sha;
	struct wop *o;

	if (!j || !json_is_object(j)) {
		log_warn("build %lld: unexpected output from the build process", p->p_id);
		json_decref(j);
		return;
	}
	if ((sha = json_string_value(json_object_get(j, "sha"))) && strlen(sha) == 40 &&
	    !p->p_sha[0]) {
		snprintf(p->p_sha, sizeof(p->p_sha), "%s", sha);
		log_info("build %lld: %s resolved to %.12s", p->p_id, p->p_ref, sha);
		/* a manual build of a ref: its commit is known only now, so its
		 * statuses start now, with the same sequence as any other build */
		o = worker_op_new(WOP_SHA, p->p_id);
		snprintf(o->o_sha, sizeof(o->o_sha), "%s", sha);
		if (worker_status_want(w, p->p_repo, p->p_sha))
			o->o_st_queued = worker_status_desc(p->p_id, BUILD_QUEUED, NULL, 0);
		worker_op_status(w, o, p->p_repo, p->p_sha, BUILD_RUNNING, NULL, 0);
		worker_op_submit(w, o);
	}
	if ((v = json_object_get(j, "result")) && json_is_object(v) && !p->p_result) {
		p->p_result = json_incref(v);
		worker_build_record(p);
	}
	json_decref(j);
}
static int worker_proc_read(struct wproc *p)
{
	char chunk[4096];
	ssize_t n;
	char *nl;

	if (p->p_out < 0)
		return 1;
	for (;;) {
		n = read(p->p_out, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return 0;	/* EAGAIN */
		if (n == 0)
			break;
		/* past the cap the rest is dropped: results are small */
		buf_add(&p->p_outbuf, chunk, (size_t)n);
		if (p->p_kind != WK_BUILD)
			continue;
		while ((nl = memchr(p->p_outbuf.data + p->p_parsed, '\n',
				    p->p_outbuf.len - p->p_parsed))) {
			*nl = '\0';
			worker_build_line(p, p->p_outbuf.data + p->p_parsed);
			*nl = '\n';
			p->p_parsed = (size_t)(nl - p->p_outbuf.data) + 1;
		}
	}
	if (p->p_out_ev)
		event_del(p->p_out_ev);
	close(p->p_out);
	p->p_out = -1;
	return 1;
}

static void worker_out_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	worker_proc_read(arg);
}

static void worker_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wproc *p = arg;

	(void)fd;
	(void)what;
	if (p->p_exited)
		return;
	if (p->p_kind == WK_BUILD && !p->p_cancel_reason) {
		p->p_timed_out = 1;
		log_warn("build %lld: still running after %lds, killing it", p->p_id,
			 p->p_timeout + KILL_GRACE_SECONDS);
	} else if (p->p_kind == WK_BUILD) {
		log_warn("build %lld: did not stop within %ds, killing it", p->p_id,
			 KILL_GRACE_SECONDS);
	} else {
		log_warn("%s process %d: timed out, killing it",
			 p->p_kind == WK_STATUS ? "status" : "cleanup", (int)p->p_pid);
	}
	p->p_killed = 1;
	worker_proc_signal(p, SIGKILL);
}

/* Records the outcome: as soon as the result line arrives (the process may take a
 * moment more to exit), else once it exited without one. */
/* Decides the outcome: as soon as the result line arrives (the process may take a
 * moment more to exit), else once it exited without one; then writes it (WOP_FINISH
 * or WOP_REQUEUE). Until that is on disk the build keeps its slot and stays
 * `running` on disk; a refused write is kept and tried again (worker_op_done). */
static void worker_build_record(struct wproc *p)
{
	struct worker *w = p->p_w;
	enum build_state state = BUILD_ERRORED;
	const char *reason = NULL, *image = NULL, *image_id = NULL, *s;
	char why[ERR_MSG_MAX];
	long long now = store_now_ms(), dur;
	struct wop *o;
	int st;

	if (p->p_recorded)
		return;
	p->p_recorded = 1;
	if (p->p_result) {
		s = json_string_value(json_object_get(p->p_result, "outcome"));
		st = s ? store_state_parse(s) : -1;
		if (st >= 0 && store_state_final((enum build_state)st))
			state = (enum build_state)st;
		reason = json_string_value(json_object_get(p->p_result, "reason"));
		image = json_string_value(json_object_get(p->p_result, "image"));
		image_id = json_string_value(json_object_get(p->p_result, "image_id"));
		if (state == BUILD_CANCELED && p->p_cancel_reason)
			reason = p->p_cancel_reason;
		if (state != BUILD_SUCCEEDED)
			image_id = NULL;
	} else if (p->p_cancel_reason) {
		state = BUILD_CANCELED;
		reason = p->p_cancel_reason;
	} else if (p->p_error) {
		reason = p->p_error;
	} else if (WIFSIGNALED(p->p_wstatus)) {
		snprintf(why, sizeof(why), "build process died: signal %d", WTERMSIG(p->p_wstatus));
		reason = why;
	} else {
		snprintf(why, sizeof(why), "build process exited with status %d and no result",
			 WIFEXITED(p->p_wstatus) ? WEXITSTATUS(p->p_wstatus) : -1);
		reason = why;
	}
	if (p->p_timed_out) {
		state = BUILD_FAILED;
		snprintf(why, sizeof(why), "the build timed out after %lds", p->p_timeout);
		reason = why;
	}
	if (p->p_requeue && (state == BUILD_CANCELED || !p->p_result)) {
		log_info("build %lld: stopped, back in the queue for the next start", p->p_id);
		o = worker_op_new(WOP_REQUEUE, p->p_id);
		o->o_proc = p;
		o->o_reason = xstrdup("agent stopped during the build");
		o->o_log = xstrdup(p->p_log);
		o->o_line = xasprintf("==> build %lld interrupted: the agent is stopping; "
				      "it runs again at the next start", p->p_id);
		o->o_line_always = 1;
		worker_op_submit(w, o);
		return;
	}
	dur = p->p_started_ms ? now - p->p_started_ms : 0;
	o = worker_op_new(WOP_FINISH, p->p_id);
	o->o_proc = p;
	o->o_state = state;
	o->o_reason = reason ? xstrdup(reason) : NULL;
	o->o_image = image ? xstrdup(image) : NULL;
	o->o_image_id = image_id ? xstrdup(image_id) : NULL;
	o->o_time = now;
	o->o_log = xstrdup(p->p_log);
	o->o_line_always = 1;
	if (state == BUILD_SUCCEEDED && w->w_cleanup_ev && evtimer_pending(w->w_cleanup_ev, NULL)) {
		struct timeval tv0 = { 0, 0 };

		w->w_cleanup_delay = 0;
		evtimer_add(w->w_cleanup_ev, &tv0);	/* the engine answers again */
	}
	if (state == BUILD_SUCCEEDED) {
		log_info("build %lld: succeeded: %s %s in %.1fs", p->p_id, image ? image : "(untagged)",
			 image_id ? image_id : "", dur / 1000.0);
		o->o_line = xasprintf("==> build %lld succeeded in %.1fs: %s %s", p->p_id,
				      dur / 1000.0, image ? image : "(untagged)", image_id ? image_id : "");
	} else {
		log_info("build %lld: %s: %s", p->p_id, store_state_name(state),
			 reason ? reason : "(no reason)");
		o->o_line = xasprintf("==> build %lld %s: %s", p->p_id, store_state_name(state),
				      reason ? reason : "(no reason)");
	}
	worker_op_status(w, o, p->p_repo, p->p_sha, state, reason, dur);
	worker_op_submit(w, o);
}

/* The build's process exited (or never started). */
static void worker_build_exited(struct wproc *p)
{
	struct worker *w = p->p_w;

	worker_build_record(p);
	/* without a result (or killed), its containers may be left behind; with one, those
	 * it could not remove itself (the engine had stopped) are listed */
	if (p->p_pid > 0 && (!p->p_result || p->p_timed_out || p->p_killed) && !w->w_stopping)
		worker_cleanup_start(w, &p->p_id, 1, 0);
	else if (p->p_result && json_array_size(json_object_get(p->p_result, "containers")) &&
		 !w->w_stopping)
		worker_cleanup_spawn(w, json_array(),
				     json_deep_copy(json_object_get(p->p_result, "containers")), 0);
	else if (p->p_result && json_array_size(json_object_get(p->p_result, "containers")))
		worker_cleanup_keep(w, p->p_result);	/* stopping: removed at the next start */
	worker_build_final(p);
}

static void worker_proc_exited(struct wproc *p)
{
	worker_proc_read(p);
	switch (p->p_kind) {
	case WK_BUILD:
		worker_build_exited(p);		/* freed once its end is on disk */
		return;
	case WK_STATUS:
		worker_status_done(p);		/* freed once its row is updated on disk */
		return;
	case WK_CLEANUP:
		worker_proc_unlink(p);
		worker_cleanup_done(p);
		worker_proc_free(p);
		return;
	}
}

static void worker_sigchld_cb(evutil_socket_t sig, short what, void *arg)
{
	struct worker *w = arg;
	struct wproc *p, *next;
	int st;
	pid_t r;

	(void)sig;
	(void)what;
	for (p = w->w_procs; p; p = next) {
		next = p->p_next;
		if (p->p_exited || p->p_pid <= 0)	/* gone, or its end is being written */
			continue;
		do {
			r = waitpid(p->p_pid, &st, WNOHANG);
		} while (r < 0 && errno == EINTR);
		if (r == p->p_pid || (r < 0 && errno == ECHILD)) {
			p->p_exited = 1;
			p->p_wstatus = r == p->p_pid ? st : 0;
			worker_proc_exited(p);
			/* the list may have changed (new children): start over */
			next = w->w_procs;
		}
	}
}

/* ---------- the writes' outcomes ---------- */

static void worker_op_done(void *arg, int failed, const char *err)
{
	struct wop *o = arg;
	struct worker *w = o->o_w;
	struct wproc *p = o->o_proc;
	long delay;
	size_t i;

	w->w_nops--;
	if (failed && o->o_kind == WOP_CLOSE && o->o_req) {
		log_error("build %lld: cannot record the cancel: %s", o->o_id, err);
		http_reply_error(o->o_req, 503, "cannot record the cancel, try again");
		worker_op_free(o);
		return;
	}
	if (failed && o->o_kind == WOP_ADD) {
		log_error("repo '%s': cannot queue a manual build: %s", o->o_build.repo, err);
		http_reply_error(o->o_req, 500, "cannot queue the build");
		worker_op_free(o);
		return;
	}
	if (failed) {
		switch (o->o_kind) {
		case WOP_START:
			/* the build stays queued: the scheduler tries again later */
			log_error("build %lld: cannot start: %s; next try in %ds", o->o_id, err,
				  WORKER_RETRY_SECONDS);
			worker_proc_unlink(p);
			w->w_running--;
			worker_proc_free(p);
			{
				struct timeval tv = { WORKER_RETRY_SECONDS, 0 };

				event_add(w->w_kick, &tv);	/* not at once: no spin */
			}
			break;
		case WOP_PID:
			log_warn("build %lld: cannot record its process: %s", o->o_id, err);
			break;
		case WOP_REQUEUE:
			/* left `running`: the next start reruns or closes it */
			log_error("build %lld: cannot put it back in the queue: %s", o->o_id, err);
			p->p_landed = 1;
			worker_build_final(p);
			break;
		default:	/* it must land */
			delay = worker_op_retry(o);
			if (o->o_kind == WOP_FINISH)
				log_error("build %lld: ended (%s) but that cannot be recorded: %s; it "
					  "stays 'running' until it is, next try in %.1fs", o->o_id,
					  store_state_name(o->o_state), err, delay / 1000.0);
			else
				log_error("build %lld: cannot record a change: %s; next try in %.1fs",
					  o->o_id, err, delay / 1000.0);
			return;		/* o lives on in w_retry */
		}
		worker_op_free(o);
		return;
	}
	if (o->o_tries)
		log_info("build %lld: recorded after %d refused tries", o->o_id, o->o_tries);
	switch (o->o_kind) {
	case WOP_QUEUED:
		for (i = 0; i < o->o_ncanceled; i++)
			log_info("build %lld: canceled: superseded by build %lld", o->o_canceled[i],
				 o->o_ids[o->o_n - 1]);
		worker_kick(w);
		break;
	case WOP_START:
		worker_build_started(p, o->o_rc);
		break;
	case WOP_PID:
	case WOP_SHA:
		break;
	case WOP_FINISH:
	case WOP_REQUEUE:
		p->p_landed = 1;
		worker_build_final(p);
		break;
	case WOP_CLOSE:
		if (o->o_rc == 0)
			log_info("build %lld: %s: %s", o->o_id, store_state_name(o->o_state),
				 o->o_reason);
		if (o->o_req && o->o_rc == 0)
			http_reply_json(o->o_req, 202, json_pack("{sIss}", "build", (json_int_t)o->o_id,
								 "state", "canceled"));
		else if (o->o_req)
			http_reply_error(o->o_req, 409, "the build already ended");
		break;
	case WOP_STATUS_DONE:
	case WOP_STATUS_RETRY:
		worker_proc_unlink(p);
		worker_proc_free(p);
		break;
	case WOP_ADD:
		if (o->o_time)		/* a retry of that build */
			log_info("build %lld: queued as a retry of build %lld", o->o_id, o->o_time);
		else
			log_info("build %lld: queued by request '%s' %s %s", o->o_id, o->o_build.repo,
				 o->o_build.ref, o->o_build.sha);
		worker_reply_queued(w, o->o_req, o->o_id);
		worker_queued(w, &o->o_build);
		break;
	}
	if (o->o_st_desc || o->o_ncanceled || o->o_kind == WOP_QUEUED ||
	    o->o_kind == WOP_STATUS_DONE || o->o_kind == WOP_STATUS_RETRY)
		worker_status_kick(w, 0);
	worker_op_free(o);
}

/* ---------- scheduling ---------- */

/* Queued, but its queued status and superseding not yet handed to the writer
 * (worker_queued_cb runs later in this loop pass, then kicks the scheduler):
 * starting it first would put its start before them and lose that status. */
static int worker_is_new(const struct worker *w, long long id)
{
	size_t i;

	for (i = 0; i < w->w_nnew; i++)
		if (w->w_new[i].id == id)
			return 1;
	return 0;
}

static void worker_schedule(struct worker *w)
{
	struct store_filter f = STORE_FILTER_INIT;
	struct build_list l = BUILD_LIST_INIT;
	struct err e = ERR_INIT;
	size_t i;
	int started;

	if (!w->w_ready || w->w_stopping)
		return;
	f.state = BUILD_QUEUED;
	f.oldest_first = 1;
	f.limit = WORKER_SCAN_MAX;
	do {
		started = 0;
		if (w->w_running >= (unsigned)w->w_cfg->workers)
			break;
		/* what this connection reads may lag the writes in flight: a build
		 * canceled meanwhile is not started (WOP_START finds it no longer queued) */
		if (store_list_builds(w->w_store, &f, &l, &e) < 0) {
			log_error("cannot schedule builds: %s", e.msg);
			return;
		}
		for (i = 0; i < l.n; i++) {
			if (worker_repo_busy(w, l.items[i].repo) || worker_find_build(w, l.items[i].id) ||
			    worker_is_new(w, l.items[i].id))
				continue;
			worker_build_start(w, &l.items[i]);
			started = 1;
			break;
		}
		build_list_release(&l);
	} while (started);
}

static void worker_kick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	worker_schedule(arg);
}

static void worker_kick(struct worker *w)
{
	if (w->w_kick)
		event_active(w->w_kick, EV_TIMEOUT, 0);
}

/* The builds queued since the last pass, grouped by repository and ref: one write
 * per group queues their statuses and, with cancel_superseded, cancels the queued
 * builds older than the group's newest; running ones are stopped. */
static void worker_queued_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct build *bs = w->w_new;
	struct wop *o;
	struct wproc *p;
	const struct repo_conf *rc;
	char reason[64];
	size_t i, j, n = w->w_nnew;

	(void)fd;
	(void)what;
	w->w_new = NULL;
	w->w_nnew = w->w_newalloc = 0;
	for (i = 0; i < n; i++) {
		if (!bs[i].repo)
			continue;	/* in an earlier group */
		rc = worker_repo(w, bs[i].repo);
		o = worker_op_new(WOP_QUEUED, 0);
		o->o_repo = xstrdup(bs[i].repo);
		o->o_ref = xstrdup(bs[i].ref);
		o->o_ids = xcalloc(n - i, sizeof(*o->o_ids));
		o->o_descs = xcalloc(n - i, sizeof(*o->o_descs));
		for (j = i; j < n; j++) {
			if (!bs[j].repo || strcmp(bs[j].repo, o->o_repo) || strcmp(bs[j].ref, o->o_ref))
				continue;
			o->o_ids[o->o_n] = bs[j].id;
			if (bs[j].state == BUILD_QUEUED && worker_status_want(w, bs[j].repo, bs[j].sha))
				o->o_descs[o->o_n] = worker_status_desc(bs[j].id, BUILD_QUEUED, NULL, 0);
			o->o_n++;
			if (j > i)
				build_release(&bs[j]);	/* repo = NULL: done */
		}
		o->o_id = o->o_ids[o->o_n - 1];
		o->o_supersede = rc && rc->cancel_superseded && *o->o_ref;
		o->o_status_on = worker_status_on(w, o->o_repo);
		if (o->o_supersede) {
			snprintf(reason, sizeof(reason), "superseded by build %lld", o->o_id);
			for (p = w->w_procs; p; p = p->p_next)
				if (p->p_kind == WK_BUILD && !p->p_recorded && p->p_id < o->o_id &&
				    !strcmp(p->p_repo, o->o_repo) && !strcmp(p->p_ref, o->o_ref)) {
					log_info("build %lld: canceling, %s", p->p_id, reason);
					worker_cancel_proc(p, reason);
				}
		}
		build_release(&bs[i]);
		if (!o->o_supersede) {
			for (j = 0; j < o->o_n && !o->o_descs[j]; j++)
				;
			if (j == o->o_n) {	/* nothing to write */
				worker_op_free(o);
				continue;
			}
		}
		worker_op_submit(w, o);
	}
	free(bs);
	/* now, not once the writes landed: a start goes into the same commit, after
	 * them (a build they cancel is found no longer queued and not started) */
	worker_kick(w);
}

/* A build was committed as queued (by intake's batch or an admin request): handled
 * with the others of this loop pass (worker_queued_cb). */
static void worker_queued(void *ctx, const struct build *b)
{
	struct worker *w = ctx;
	struct build *c;

	if (w->w_nnew == w->w_newalloc) {
		w->w_newalloc = w->w_newalloc ? w->w_newalloc * 2 : 64;
		w->w_new = xrealloc(w->w_new, w->w_newalloc * sizeof(*w->w_new));
	}
	c = &w->w_new[w->w_nnew++];
	memset(c, 0, sizeof(*c));
	c->id = b->id;
	c->repo = xstrdup(b->repo);
	c->ref = xstrdup(b->ref ? b->ref : "");
	snprintf(c->sha, sizeof(c->sha), "%s", b->sha);
	c->state = b->state;
	if (w->w_queued_ev)
		event_active(w->w_queued_ev, EV_TIMEOUT, 0);
}

/* ---------- HTTP: logs ---------- */

static void worker_follow_free(struct wfollow *f, int end)
{
	struct wfollow **pp;

	for (pp = &f->f_w->w_follows; *pp; pp = &(*pp)->f_next)
		if (*pp == f) {
			*pp = f->f_next;
			break;
		}
	if (f->f_conn)
		evhttp_connection_set_closecb(f->f_conn, NULL, NULL);
	if (end)
		evhttp_send_reply_end(f->f_req);
	if (f->f_timer)
		event_free(f->f_timer);
	if (f->f_fd >= 0)
		close(f->f_fd);
	free(f);
}

static void worker_follow_closed(struct evhttp_connection *conn, void *arg)
{
	struct wfollow *f = arg;

	(void)conn;
	f->f_conn = NULL;
	worker_follow_free(f, 0);
}

/* 1 when the build can write no more to its log. */
static int worker_build_over(struct worker *w, long long id)
{
	struct build b = BUILD_INIT;
	int over;

	if (worker_find_build(w, id))
		return 0;
	if (store_get_build(w->w_store, id, &b, NULL) != 0)
		return 1;
	over = store_state_final(b.state);
	build_release(&b);
	return over;
}

/* The log of a build that ended without running and has no log file (superseded
 * while queued): its outcome line, as the agent writes it; NULL otherwise. */
static char *worker_log_told(struct worker *w, long long id)
{
	struct build b = BUILD_INIT;
	char *line = NULL;

	if (store_get_build(w->w_store, id, &b, NULL) != 0)
		return NULL;
	if (store_state_final(b.state) && b.attempt == 0)
		line = xasprintf("==> build %lld %s: %s\n", id, store_state_name(b.state),
				 b.reason ? b.reason : "(no reason)");
	build_release(&b);
	return line;
}

/* n bytes of fd at off into out (a local file: this does not wait on anyone). */
static int worker_read_at(int fd, off_t off, size_t n, struct evbuffer *out)
{
	char *b = xmalloc(n);
	size_t got = 0;
	ssize_t r;

	while (got < n) {
		r = pread(fd, b + got, n - got, off + (off_t)got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	if (got == n)
		evbuffer_add(out, b, n);
	free(b);
	return got == n ? 0 : -1;
}

static void worker_follow_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wfollow *f = arg;
	struct worker *w = f->f_w;
	struct timeval tv = { 0, WORKER_LOG_POLL_MS * 1000 };
	struct bufferevent *bev = f->f_conn ? evhttp_connection_get_bufferevent(f->f_conn) : NULL;
	struct evbuffer *chunk;
	struct stat sb;
	int over;
	char *path, *told;

	(void)fd;
	(void)what;
	/* decided before reading, so the bytes written before the end are all sent */
	over = worker_build_over(w, f->f_id);
	if (bev && evbuffer_get_length(bufferevent_get_output(bev)) > WORKER_LOG_BACKLOG) {
		evtimer_add(f->f_timer, &tv);
		return;
	}
	if (f->f_fd < 0) {
		path = worker_log_path(w, f->f_id);
		f->f_fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		free(path);
		if (f->f_fd < 0 && over && (told = worker_log_told(w, f->f_id))) {
			chunk = evbuffer_new();
			if (chunk) {
				evbuffer_add(chunk, told, strlen(told));
				evhttp_send_reply_chunk(f->f_req, chunk);
				evbuffer_free(chunk);
			}
			free(told);
			worker_follow_free(f, 1);
			return;
		}
	}
	if (f->f_fd >= 0 && fstat(f->f_fd, &sb) == 0) {
		if (sb.st_size < f->f_off)	/* a rerun started the log over */
			f->f_off = 0;
		if (sb.st_size > f->f_off) {
			size_t n = (size_t)(sb.st_size - f->f_off);

			if (n > WORKER_LOG_CHUNK)
				n = WORKER_LOG_CHUNK;
			chunk = evbuffer_new();
			if (chunk && worker_read_at(f->f_fd, f->f_off, n, chunk) == 0) {
				f->f_off += (off_t)n;
				evhttp_send_reply_chunk(f->f_req, chunk);
			}
			if (chunk)
				evbuffer_free(chunk);
			if (f->f_off < sb.st_size) {
				tv.tv_usec = 0;
				evtimer_add(f->f_timer, &tv);
				return;
			}
		}
	}
	if (over || w->w_stopping) {
		worker_follow_free(f, 1);
		return;
	}
	evtimer_add(f->f_timer, &tv);
}

static int worker_query_flag(struct evhttp_request *req, const char *name)
{
	const char *q = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req)), *v;
	struct evkeyvalq kv;
	int on = 0;

	TAILQ_INIT(&kv);
	if (q && evhttp_parse_query_str(q, &kv) == 0 && (v = evhttp_find_header(&kv, name)))
		on = !strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "yes");
	evhttp_clear_headers(&kv);
	return on;
}

static void worker_http_log(void *ctx, struct evhttp_request *req, long long id,
			    const struct repo_conf *repo)
{
	struct worker *w = ctx;
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);
	struct evbuffer *body;
	struct wfollow *f;
	struct stat sb;
	char *path = worker_log_path(w, id), *told;
	int fd;

	(void)repo;
	evhttp_add_header(out, "Content-Type", "text/plain; charset=utf-8");
	evhttp_add_header(out, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(out, "Cache-Control", "no-store");
	if (worker_query_flag(req, "follow") && !w->w_stopping &&
	    evhttp_request_get_command(req) == EVHTTP_REQ_GET) {
		f = xcalloc(1, sizeof(*f));
		f->f_w = w;
		f->f_req = req;
		f->f_conn = evhttp_request_get_connection(req);
		f->f_id = id;
		f->f_fd = -1;
		f->f_timer = evtimer_new(w->w_base, worker_follow_cb, f);
		f->f_next = w->w_follows;
		w->w_follows = f;
		if (f->f_conn)
			evhttp_connection_set_closecb(f->f_conn, worker_follow_closed, f);
		evhttp_send_reply_start(req, 200, "OK");
		worker_follow_cb(-1, 0, f);
		free(path);
		return;
	}
	body = evbuffer_new();
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0 && fstat(fd, &sb) == 0 && sb.st_size > 0) {
		/* evbuffer owns fd from here and sends it with sendfile */
		if (evbuffer_add_file(body, fd, 0, sb.st_size) < 0)
			close(fd);
	} else if (fd >= 0) {
		close(fd);
	} else if ((told = worker_log_told(w, id))) {
		evbuffer_add(body, told, strlen(told));
		free(told);
	}
	evhttp_send_reply(req, 200, "OK", body);
	evbuffer_free(body);
	free(path);
}

/* ---------- HTTP: admin ---------- */

static void worker_reply_queued(struct worker *w, struct evhttp_request *req, long long id)
{
	char *url = xasprintf("%s/builds/%lld", w->w_cfg->public_url, id);

	http_reply_json(req, 202, json_pack("{sIss}", "build", (json_int_t)id, "url", url));
	free(url);
}

static void worker_http_cancel(void *ctx, struct evhttp_request *req, long long id,
			       const struct repo_conf *repo)
{
	struct worker *w = ctx;
	struct build b = BUILD_INIT;
	struct err e = ERR_INIT;
	struct wproc *p;
	char msg[128];

	(void)repo;
	if (store_get_build(w->w_store, id, &b, &e) != 0) {
		http_reply_error(req, 404, "no such build");
		return;
	}
	if ((p = worker_find_build(w, id)) && !p->p_recorded) {
		log_info("build %lld: canceling by request", id);
		worker_cancel_proc(p, "canceled by request");
		http_reply_json(req, 202, json_pack("{sIssss}", "build", (json_int_t)id, "state",
						    "running", "cancel", "requested"));
	} else if (b.state == BUILD_QUEUED) {
		/* answered once on disk */
		worker_close_build(w, &b, BUILD_CANCELED, "canceled by request", req);
	} else {
		snprintf(msg, sizeof(msg), "build %lld is already %s", id, store_state_name(b.state));
		http_reply_error(req, 409, msg);
	}
	build_release(&b);
}

/* Queues a manual build (of from's commit for a retry) through the group commit;
 * req is answered 202 once it is on disk. */
static void worker_add_manual(struct worker *w, const char *repo, const char *ref, const char *sha,
			      const struct build *from, struct evhttp_request *req)
{
	struct wop *o = worker_op_new(WOP_ADD, 0);
	struct build nb = BUILD_INIT;

	nb.repo = xstrdup(repo);
	nb.ref = xstrdup(ref ? ref : "");
	snprintf(nb.sha, sizeof(nb.sha), "%s", sha ? sha : "");
	nb.provider = xstrdup("manual");
	if (from) {
		nb.message = from->message ? xstrdup(from->message) : NULL;
		nb.author = from->author ? xstrdup(from->author) : NULL;
		nb.repo_full_name = from->repo_full_name ? xstrdup(from->repo_full_name) : NULL;
		nb.project_id = from->project_id ? xstrdup(from->project_id) : NULL;
		nb.clone_url = from->clone_url ? xstrdup(from->clone_url) : NULL;
		o->o_time = from->id;	/* for the log line */
	}
	o->o_build = nb;
	o->o_req = req;
	worker_op_submit(w, o);
}

static void worker_http_retry(void *ctx, struct evhttp_request *req, long long id,
			      const struct repo_conf *repo)
{
	struct worker *w = ctx;
	struct build b = BUILD_INIT;
	struct err e = ERR_INIT;

	(void)repo;
	if (w->w_stopping) {
		http_reply_error(req, 503, "shutting down");
		return;
	}
	if (store_get_build(w->w_store, id, &b, &e) != 0) {
		http_reply_error(req, 404, "no such build");
		return;
	}
	if (!worker_repo(w, b.repo))
		http_reply_error(req, 409, "the build's repository is no longer configured");
	else
		worker_add_manual(w, b.repo, b.ref, b.sha, &b, req);	/* answered once on disk */
	build_release(&b);
}

static int worker_is_hex40(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return i == 40;
}

static void worker_http_build(void *ctx, struct evhttp_request *req, long long id,
			      const struct repo_conf *repo)
{
	struct worker *w = ctx;
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	const char *ref = NULL, *sha = NULL;
	char *full = NULL;
	json_error_t je;
	json_t *j = NULL;

	(void)id;
	if (w->w_stopping) {
		http_reply_error(req, 503, "shutting down");
		return;
	}
	if (len > WORKER_BODY_MAX) {
		http_reply_error(req, 413, "body too large");
		return;
	}
	j = json_loadb((const char *)evbuffer_pullup(in, (ev_ssize_t)len), len, 0, &je);
	if (!j || !json_is_object(j)) {
		http_reply_error(req, 400, "expected a JSON object {\"ref\": ...} or {\"sha\": ...}");
		goto out;
	}
	ref = json_string_value(json_object_get(j, "ref"));
	sha = json_string_value(json_object_get(j, "sha"));
	if ((json_object_get(j, "ref") && !ref) || (json_object_get(j, "sha") && !sha) ||
	    (!ref && !sha) || (ref && (!*ref || strlen(ref) > REF_MAX)) ||
	    (sha && !worker_is_hex40(sha))) {
		http_reply_error(req, 400, "expected \"ref\" (a ref name) and/or \"sha\" (40 lowercase hex)");
		goto out;
	}
	if (ref && strncmp(ref, "refs/", 5))
		full = xasprintf("refs/heads/%s", ref);
	worker_add_manual(w, repo->name, full ? full : ref, sha, NULL, req);	/* answered once on disk */
out:
	free(full);
	json_decref(j);
}

/* ---------- start-up recovery ---------- */

/* 1 when pid is a build process of ours for build id (left by a crashed agent). */
static int worker_is_orphan(long long pid, long long id)
{
	char path[64], cmd[256], want[64];
	ssize_t n;
	size_t wl;
	int fd;

	snprintf(path, sizeof(path), "/proc/%lld/cmdline", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, cmd, sizeof(cmd) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	cmd[n] = '\0';
	/* argv = WORKER_SELF "__build" ID */
	wl = (size_t)snprintf(want, sizeof(want), "__build%c%lld", '\0', id) + 1;
	n -= (ssize_t)strlen(cmd) + 1;
	return n >= (ssize_t)wl && !memcmp(cmd + strlen(cmd) + 1, want, wl);
}

static void worker_recover(struct worker *w)
{
	struct store_filter f = STORE_FILTER_INIT;
	struct build_list l = BUILD_LIST_INIT, q = BUILD_LIST_INIT;
	struct err e = ERR_INIT;
	long long *ids = NULL;
	size_t i, n = 0, waited;
	int alive;
	json_t *left;
	char *cpath;

	f.state = BUILD_RUNNING;
	f.oldest_first = 1;
	f.limit = BUILDS_LIST_MAX;
	if (store_list_builds(w->w_store, &f, &l, &e) < 0) {
		log_error("recovery: %s", e.msg);
		return;
	}
	/* a build process that outlived the agent would race its rerun */
	for (i = 0; i < l.n; i++)
		if (l.items[i].pid > 0 && worker_is_orphan(l.items[i].pid, l.items[i].id)) {
			log_warn("build %lld: killing its process %lld left by the previous run",
				 l.items[i].id, l.items[i].pid);
			kill(-(pid_t)l.items[i].pid, SIGKILL);
			kill((pid_t)l.items[i].pid, SIGKILL);
		}
	for (waited = 0; waited < WORKER_ORPHAN_WAIT_MS; waited += 20) {
		alive = 0;
		for (i = 0; i < l.n; i++)
			if (l.items[i].pid > 0 && worker_is_orphan(l.items[i].pid, l.items[i].id))
				alive = 1;
		if (!alive)
			break;
		usleep(20 * 1000);
	}
	for (i = 0; i < l.n; i++) {
		struct build *b = &l.items[i];

		if (b->attempt < WORKER_ATTEMPTS_MAX) {
			if (store_requeue(w->w_store, b->id, "agent restarted during the build", &e) < 0)
				log_error("build %lld: %s", b->id, e.msg);
			log_warn("build %lld: the agent restarted during the build; running it again",
				 b->id);
			worker_log_line(w, b->id, "==> the agent restarted during the build; "
					"it runs again");
		} else {
			worker_close_build(w, b, BUILD_ERRORED, "agent restarted during the build",
					   NULL);
		}
	}
	/* containers of builds that ran before: the recovered ones, and those a stop requeued */
	f.state = BUILD_QUEUED;
	if (store_list_builds(w->w_store, &f, &q, &e) < 0)
		log_error("recovery: %s", e.msg);
	ids = xcalloc(l.n + q.n + 1, sizeof(*ids));
	for (i = 0; i < l.n; i++)
		ids[n++] = l.items[i].id;
	for (i = 0; i < q.n; i++)
		if (q.items[i].attempt > 0 && !worker_find_build(w, q.items[i].id)) {
			size_t k;

			for (k = 0; k < n && ids[k] != q.items[i].id; k++)
				;
			if (k == n)
				ids[n++] = q.items[i].id;
		}
	/* and what a previous run could not remove (the engine was down) */
	cpath = xasprintf("%s/%s", w->w_cfg->state_dir, WORKER_CLEANUP_FILE);
	left = json_load_file(cpath, 0, NULL);
	if (n || left) {
		json_t *a = json_array(), *c = json_array();

		for (i = 0; i < n; i++)
			json_array_append_new(a, json_integer(ids[i]));
		worker_cleanup_merge(&a, json_object_get(left, "ids"));
		worker_cleanup_merge(&c, json_object_get(left, "containers"));
		worker_cleanup_spawn(w, a, c, 1);
	} else {
		w->w_ready = 1;
	}
	json_decref(left);
	free(cpath);
	free(ids);
	build_list_release(&l);
	build_list_release(&q);
}

/* ---------- life cycle ---------- */

struct worker *worker_new(struct event_base *base, struct store *st, struct http *h,
			  const struct config *cfg)
{
	struct worker *w = xcalloc(1, sizeof(*w));
	ssize_t n = readlink(WORKER_SELF, w->w_self, sizeof(w->w_self) - 1);

	if (n > 0 && w->w_self[0] == '/' && (size_t)n < sizeof(w->w_self) - 1)
		w->w_self[n] = '\0';
	else
		snprintf(w->w_self, sizeof(w->w_self), "%s", WORKER_SELF);
	w->w_base = base;
	w->w_store = st;
	w->w_http = h;
	w->w_cfg = cfg;
	return w;
}

void worker_set_config(struct worker *w, const struct config *cfg)
{
	if (!w)
		return;
	w->w_cfg = cfg;
	worker_kick(w);
	worker_status_kick(w, 0);
}

int worker_start(struct worker *w, struct err *e)
{
	w->w_logdir = xasprintf("%s/logs", w->w_cfg->state_dir);
	if (mkdir(w->w_logdir, 0750) < 0 && errno != EEXIST)
		return err_errno(e, "cannot create the log directory '%s'", w->w_logdir);
	if (instance_id(w->w_cfg->state_dir, w->w_owner, sizeof(w->w_owner), e) < 0)
		return err_prefix(e, "cannot set up this agent's instance id");
	w->w_sigchld = evsignal_new(w->w_base, SIGCHLD, worker_sigchld_cb, w);
	w->w_kick = event_new(w->w_base, -1, 0, worker_kick_cb, w);
	w->w_status_ev = evtimer_new(w->w_base, worker_status_cb, w);
	w->w_cleanup_ev = evtimer_new(w->w_base, worker_cleanup_retry_cb, w);
	w->w_queued_ev = event_new(w->w_base, -1, 0, worker_queued_cb, w);
	if (!w->w_sigchld || !w->w_kick || !w->w_status_ev || !w->w_cleanup_ev || !w->w_queued_ev ||
	    evsignal_add(w->w_sigchld, NULL) < 0)
		return err_set(e, "cannot set up the build workers");
	http_set_queued_hook(w->w_http, worker_queued, w);
	http_set_ext(w->w_http, HTTP_EXT_LOG, worker_http_log, w);
	http_set_ext(w->w_http, HTTP_EXT_CANCEL, worker_http_cancel, w);
	http_set_ext(w->w_http, HTTP_EXT_RETRY, worker_http_retry, w);
	http_set_ext(w->w_http, HTTP_EXT_BUILD, worker_http_build, w);
	worker_recover(w);
	worker_kick(w);
	worker_status_kick(w, 0);
	return 0;
}

void worker_stop(struct worker *w)
{
	struct wproc *p;
	int kept = 0;

	if (!w || w->w_stopping)
		return;
	w->w_stopping = 1;
	if (w->w_status_ev)
		evtimer_del(w->w_status_ev);
	if (w->w_cleanup_ev)
		evtimer_del(w->w_cleanup_ev);
	for (p = w->w_procs; p; p = p->p_next) {
		if (p->p_kind == WK_BUILD) {
			p->p_requeue = 1;
			worker_cancel_proc(p, "the agent is stopping");
		} else if (p->p_kind == WK_STATUS) {
			/* the row stays: it is posted again at the next start */
			p->p_killed = 1;
			worker_proc_signal(p, SIGKILL);
		} else if (p->p_kind == WK_CLEANUP && !p->p_exited) {
			/* its job goes to cleanup.json, done again at the next start: an engine
			 * that does not answer must not hold the stop until the drain ends */
			worker_cleanup_merge(&w->w_cleanup_ids, json_object_get(p->p_job, "ids"));
			worker_cleanup_merge(&w->w_cleanup_containers,
					     json_object_get(p->p_job, "containers"));
			kept = 1;
			p->p_killed = 1;
			worker_proc_signal(p, SIGKILL);
		}
	}
	if (kept)
		worker_cleanup_save(w);
	while (w->w_follows)
		worker_follow_free(w->w_follows, 1);
}

int worker_busy(const struct worker *w)
{
	return w && (w->w_procs || w->w_follows || w->w_nops || w->w_retry || w->w_nnew);
}

void worker_free(struct worker *w)
{
	struct err e = ERR_INIT;
	struct wproc *p;
	struct wop *o;
	int st;

	if (!w)
		return;
	w->w_stopping = 1;
	/* our writes still in the group commit report to us: let them land first */
	if (w->w_nops && w->w_http)
		batch_drain(http_batch(w->w_http));
	while ((o = w->w_retry)) {
		w->w_retry = o->o_next;
		log_error("build %lld: stopping with a change the database refused: it is lost",
			  o->o_id);
		worker_op_free(o);
	}
	if (w->w_nnew)
		log_warn("stopping with %zu queued builds not handed to the workers yet "
			 "(their queued statuses are not posted)", w->w_nnew);
	while ((p = w->w_procs)) {
		w->w_procs = p->p_next;
		if (!p->p_exited && p->p_pid > 0) {
			kill(-p->p_pid, SIGKILL);
			kill(p->p_pid, SIGKILL);
			while (waitpid(p->p_pid, &st, 0) < 0 && errno == EINTR)
				;
		}
		if (p->p_kind == WK_BUILD && store_requeue(w->w_store, p->p_id,
							   "agent stopped during the build", &e) < 0)
			log_error("build %lld: %s", p->p_id, e.msg);
		worker_proc_free(p);
	}
	while (w->w_follows)
		worker_follow_free(w->w_follows, 0);
	if (w->w_sigchld)
		event_free(w->w_sigchld);
	if (w->w_kick)
		event_free(w->w_kick);
	if (w->w_status_ev)
		event_free(w->w_status_ev);
	if (w->w_cleanup_ev)
		event_free(w->w_cleanup_ev);
	json_decref(w->w_cleanup_ids);
	json_decref(w->w_cleanup_containers);
	if (w->w_queued_ev)
		event_free(w->w_queued_ev);
	while (w->w_nnew)
		build_release(&w->w_new[--w->w_nnew]);
	free(w->w_new);
	free(w->w_logdir);
	free(w);
}
