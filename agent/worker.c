/* worker: the pipeline's life cycle, its table of child processes, the scheduling of builds. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "batch.h"
#include "buf.h"
#include "child.h"
#include "http.h"
#include "instance.h"
#include "limits.h"
#include "log.h"
#include "worker_int.h"

/* ---------- build logs and child jobs ---------- */

char *worker_log_path(const struct worker *w, long long id)
{
	return xasprintf("%s/%lld.log", w->w_logdir, id);
}

/* Thread-safe: the writer thread writes the lines of its ops. */
int worker_append_line(const char *path, const char *text)
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

void worker_log_line(const struct worker *w, long long id, const char *fmt, ...)
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

void worker_set_str(json_t *o, const char *k, const char *v)
{
	if (v && *v)
		json_object_set_new(o, k, json_string(v));
}

const struct repo_conf *worker_repo(const struct worker *w, const char *name)
{
	return name ? config_repo(w->w_cfg, name) : NULL;
}

/* ---------- the process table ---------- */

static void worker_out_cb(evutil_socket_t fd, short what, void *arg);
static void worker_timer_cb(evutil_socket_t fd, short what, void *arg);

struct wproc *worker_proc_new(struct worker *w, enum wkind kind)
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

int worker_proc_start(struct wproc *p, const char *name, const char *arg, json_t *job,
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

struct wproc *worker_spawn(struct worker *w, enum wkind kind, const char *name,
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

void worker_proc_unlink(struct wproc *p)
{
	struct wproc **pp;

	for (pp = &p->p_w->w_procs; *pp; pp = &(*pp)->p_next)
		if (*pp == p) {
			*pp = p->p_next;
			break;
		}
}

void worker_proc_free(struct wproc *p)
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
	switch (p->p_kind) {
	case WK_BUILD:
		worker_build_release(&p->p_build);
		break;
	case WK_STATUS:
		worker_status_release(&p->p_status);
		break;
	case WK_CLEANUP:
		worker_cleanup_release(&p->p_cleanup);
		break;
	case WK_MIRROR:
		worker_mirror_release(&p->p_mirror);
		break;
	case WK_SWEEP:
		break;
	}
	free(p);
}

void worker_proc_signal(struct wproc *p, int sig)
{
	if (p->p_exited || p->p_pid <= 0)	/* never kill(0) or kill(-0): that is us */
		return;
	kill(-p->p_pid, sig);
	kill(p->p_pid, sig);
}

/* Reads what p printed; 1 once its stdout is closed, 0 when more may come. A build's
 * lines are handled as they come, the others' answer once they exit. */
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
	if (p->p_kind == WK_BUILD && !p->p_build.b_cancel_reason) {
		p->p_build.b_timed_out = 1;
		log_warn("build %lld: still running after %lds, killing it", p->p_build.b_id,
			 p->p_build.b_timeout + KILL_GRACE_SECONDS);
	} else if (p->p_kind == WK_BUILD) {
		log_warn("build %lld: did not stop within %ds, killing it", p->p_build.b_id,
			 KILL_GRACE_SECONDS);
	} else {
		log_warn("%s process %d: timed out, killing it", p->p_kind == WK_STATUS ? "status" :
			 p->p_kind == WK_MIRROR ? "mirror clean" :
			 p->p_kind == WK_SWEEP ? "log sweep" : "cleanup", (int)p->p_pid);
	}
	p->p_killed = 1;
	worker_proc_signal(p, SIGKILL);
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
	case WK_MIRROR:
		worker_proc_unlink(p);
		worker_mirror_done(p);
		worker_proc_free(p);
		return;
	case WK_SWEEP:
		worker_proc_unlink(p);
		worker_keep_swept(p);
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
	int started, full = 0;

	if (!w->w_ready || w->w_stopping)
		return;
	f.state = BUILD_QUEUED;
	f.oldest_first = 1;
	f.limit = WORKER_SCAN_MAX;
	/* a shared store leaves out repositories busy on other agents */
	f.runnable = 1;
	do {
		started = 0;
		if (w->w_running >= (unsigned)w->w_cfg->workers) {
			full = 1;
			break;
		}
		/* what this connection reads may lag the writes in flight: a build
		 * canceled meanwhile is not started (WOP_START finds it no longer queued) */
		if (store_list_builds(w->w_store, &f, &l, &e) < 0) {
			log_error("cannot schedule builds: %s", e.msg);
			return;
		}
		for (i = 0; i < l.n; i++) {
			if (worker_repo_busy(w, l.items[i].repo) || worker_find_build(w, l.items[i].id) ||
			    worker_is_new(w, l.items[i].id) || !worker_fleet_may_run(w, &l.items[i]) ||
			    worker_disk_hold(w, l.items[i].repo))
				continue;
			worker_build_start(w, &l.items[i]);
			started = 1;
			break;
		}
		build_list_release(&l);
	} while (started);
	if (!full)
		worker_disk_settle(w);
}

static void worker_kick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	worker_schedule(arg);
}

void worker_kick(struct worker *w)
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
				if (p->p_kind == WK_BUILD && !p->p_build.b_recorded &&
				    p->p_build.b_id < o->o_id && !strcmp(p->p_build.b_repo, o->o_repo) &&
				    !strcmp(p->p_build.b_ref, o->o_ref)) {
					log_info("build %lld: canceling, %s", p->p_build.b_id, reason);
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

/* A request was closed: its running builds are stopped now, its queued ones canceled
 * in one write (WOP_QUEUED without builds). */
void worker_closed(void *ctx, const char *repo, const char *ref, const char *reason)
{
	struct worker *w = ctx;
	struct wop *o;
	struct wproc *p;

	for (p = w->w_procs; p; p = p->p_next)
		if (p->p_kind == WK_BUILD && !p->p_build.b_recorded &&
		    !strcmp(p->p_build.b_repo, repo) && !strcmp(p->p_build.b_ref, ref)) {
			log_info("build %lld: canceling, %s", p->p_build.b_id, reason);
			worker_cancel_proc(p, reason);
		}
	o = worker_op_new(WOP_QUEUED, 0);
	o->o_repo = xstrdup(repo);
	o->o_ref = xstrdup(ref);
	o->o_reason = xstrdup(reason);
	o->o_supersede = 1;
	o->o_status_on = worker_status_on(w, repo);
	worker_op_submit(w, o);
}

/* Handled with the others of this loop pass (worker_queued_cb); by intake's batch or
 * an admin request. */
void worker_queued(void *ctx, const struct build *b)
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
	w->w_batch = h ? http_batch(h) : NULL;
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
	http_set_closed_hook(w->w_http, worker_closed, w);
	worker_http_hook(w);
	if (worker_lease_start(w) < 0)
		return err_set(e, "cannot set up the build workers");
	worker_recover(w);
	if (worker_listen_start(w) < 0 || worker_ship_start(w) < 0 || worker_fleet_start(w) < 0)
		return err_set(e, "cannot set up the build workers");
	if (worker_keep_start(w) < 0 || worker_disk_start(w) < 0 || worker_mirror_start(w) < 0)
		return err_set(e, "cannot set up the retention passes");
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
	if (w->w_keep_ev)
		evtimer_del(w->w_keep_ev);
	if (w->w_disk_ev)
		evtimer_del(w->w_disk_ev);
	if (w->w_mirror_ev)
		evtimer_del(w->w_mirror_ev);
	for (p = w->w_procs; p; p = p->p_next) {
		if (p->p_kind == WK_BUILD) {
			p->p_build.b_requeue = 1;
			worker_cancel_proc(p, "the agent is stopping");
		} else if (p->p_kind == WK_STATUS) {
			/* the row stays: it is posted again at the next start */
			p->p_killed = 1;
			worker_proc_signal(p, SIGKILL);
		} else if (p->p_kind == WK_CLEANUP && !p->p_exited) {
			/* its job goes to cleanup.json, done again at the next start: an engine
			 * that does not answer must not hold the stop until the drain ends */
			worker_cleanup_merge(&w->w_cleanup_ids,
					     json_object_get(p->p_cleanup.c_job, "ids"));
			worker_cleanup_merge(&w->w_cleanup_containers,
					     json_object_get(p->p_cleanup.c_job, "containers"));
			kept = 1;
			p->p_killed = 1;
			worker_proc_signal(p, SIGKILL);
		} else if (p->p_kind == WK_MIRROR || p->p_kind == WK_SWEEP) {
			/* safe to cut short: a repack deletes the old packs only after
			 * the new one is written; the trash waits for the next sweep */
			p->p_killed = 1;
			worker_proc_signal(p, SIGKILL);
		}
	}
	if (kept)
		worker_cleanup_save(w);
	worker_follow_end_all(w, 1);
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
	if (w->w_nops && w->w_batch)
		batch_drain(w->w_batch);
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
		if (p->p_kind == WK_BUILD && store_requeue(w->w_store, p->p_build.b_id,
							   "agent stopped during the build", &e) < 0)
			log_error("build %lld: %s", p->p_build.b_id, e.msg);
		worker_proc_free(p);
	}
	worker_follow_end_all(w, 0);
	if (w->w_sigchld)
		event_free(w->w_sigchld);
	if (w->w_kick)
		event_free(w->w_kick);
	if (w->w_status_ev)
		event_free(w->w_status_ev);
	if (w->w_cleanup_ev)
		event_free(w->w_cleanup_ev);
	worker_listen_free(w);
	worker_fleet_free(w);
	worker_lease_free(w);
	worker_ship_free(w);
	worker_keep_free(w);
	worker_disk_free_all(w);
	worker_mirror_free(w);
	worker_status_free(w);
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
