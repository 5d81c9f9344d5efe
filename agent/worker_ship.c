/* worker_ship: a build's log and its cancel on a shared store. The agent running a
 * build copies what its log file gains into the store (WOP_LOG every WORKER_LOG_SHIP_MS
 * through the group commit: one write per build and step, never one per line), and
 * the rest in the COMMIT that ends it, so any agent serves the log (worker_http.c),
 * live and after this one is gone. A cancel sent to another agent is asked through
 * the store (WOP_CANCEL, store_cancel_ask); the agent running the build hears it
 * (worker_listen.c) and stops the build as a cancel sent to it would. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "buf.h"
#include "http.h"
#include "limits.h"
#include "log.h"
#include "worker_int.h"

/* -1 when path cannot be read */
static long long worker_ship_size(const char *path)
{
	struct stat sb;

	if (stat(path, &sb) < 0)
		return errno == ENOENT ? 0 : -1;
	return (long long)sb.st_size;
}

void worker_ship_begin(struct wproc *p)
{
	struct wproc_build *wb = &p->p_build;

	if (!store_shared(p->p_w->w_store))
		return;
	/* a first attempt's log starts empty (worker_build_spawn truncates it); a rerun
	 * here appends to the one before, whose bytes are in the store already */
	if (wb->b_attempt == 0 && truncate(wb->b_log, 0) < 0 && errno != ENOENT)
		log_warn("build %lld: cannot empty its log '%s': %s", wb->b_id, wb->b_log,
			 strerror(errno));
	wb->b_log_base = wb->b_attempt == 0 ? 0 : worker_ship_size(wb->b_log);
	if (wb->b_log_base < 0)
		return;
	wb->b_ship = 1;
	wb->b_ship_seen = wb->b_log_base;
	worker_ship_arm(p->p_w);
}

void worker_ship_op(const struct wproc_build *wb, struct wop *o)
{
	if (!wb->b_ship)
		return;
	o->o_ship = 1;
	o->o_attempt = wb->b_attempt + 1;
	o->o_log_base = wb->b_log_base;
	if (!o->o_log)
		o->o_log = xstrdup(wb->b_log);
}

/* Writer thread: copies what o's log file holds past what the store has of its
 * attempt, at most max bytes (0: all of it); o_more says when more was left. */
int worker_ship(struct store *st, struct wop *o, size_t max, struct err *e)
{
	char *chunk = NULL;
	long long have;
	size_t done = 0;
	ssize_t n;
	int fd, rc = 0;

	o->o_more = 0;
	if (store_log_stored(st, o->o_id, o->o_attempt, &have, e) < 0)
		return -1;
	fd = open(o->o_log, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return 0;	/* no log (yet): nothing to copy */
	chunk = xmalloc(STORE_LOG_CHUNK_MAX);
	for (;;) {
		if (max && done >= max) {
			o->o_more = 1;
			break;
		}
		n = pread(fd, chunk, STORE_LOG_CHUNK_MAX, (off_t)(o->o_log_base + have));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		rc = store_log_append(st, o->o_id, o->o_attempt, have, chunk, (size_t)n, e);
		if (rc != 0)
			break;	/* -1, or 1: the build's log is at its cap in the store */
		have += n;
		done += (size_t)n;
	}
	free(chunk);
	close(fd);
	return rc < 0 ? -1 : 0;
}

/* ---------- WOP_LOG: a running build's new log bytes ---------- */

int worker_ship_run(struct store *st, struct wop *o, struct err *e)
{
	return worker_ship(st, o, WORKER_LOG_SHIP_MAX, e);
}

static void worker_ship_landed(struct worker *w, struct wop *o, int more)
{
	struct wproc *p = worker_find_build(w, o->o_id);

	if (!p)
		return;
	p->p_build.b_shipping = 0;
	if (more)
		p->p_build.b_ship_seen = -1;	/* the next step copies the rest */
}

void worker_ship_done(struct worker *w, struct wop *o)
{
	worker_ship_landed(w, o, o->o_more);
}

/* the next step copies it, or the build's end does */
int worker_ship_failed(struct worker *w, struct wop *o, const char *err)
{
	log_debug("build %lld: cannot copy its log to the database: %s", o->o_id, err);
	worker_ship_landed(w, o, 1);
	return 0;
}

static void worker_ship_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct wproc_build *wb;
	struct wproc *p;
	long long size;
	struct wop *o;
	int any = 0;

	(void)fd;
	(void)what;
	for (p = w->w_procs; p; p = p->p_next) {
		wb = &p->p_build;
		if (p->p_kind != WK_BUILD || !wb->b_ship || wb->b_recorded)
			continue;
		any = 1;
		if (wb->b_shipping || (size = worker_ship_size(wb->b_log)) <= wb->b_ship_seen)
			continue;
		o = worker_op_new(WOP_LOG, wb->b_id);
		worker_ship_op(wb, o);
		o->o_fence = wb->b_fence;	/* nothing more once another agent took it over */
		wb->b_shipping = 1;
		wb->b_ship_seen = size;
		worker_op_submit(w, o);
	}
	if (any)
		worker_ship_arm(w);
}

void worker_ship_arm(struct worker *w)
{
	struct timeval tv = { 0, WORKER_LOG_SHIP_MS * 1000 };

	if (w->w_ship_ev && !w->w_stopping && !evtimer_pending(w->w_ship_ev, NULL))
		evtimer_add(w->w_ship_ev, &tv);
}

int worker_ship_start(struct worker *w)
{
	if (!store_shared(w->w_store))
		return 0;
	w->w_ship_ev = evtimer_new(w->w_base, worker_ship_cb, w);
	return w->w_ship_ev ? 0 : -1;
}

void worker_ship_free(struct worker *w)
{
	if (w->w_ship_ev) {
		event_free(w->w_ship_ev);
		w->w_ship_ev = NULL;
	}
}

/* ---------- a cancel asked through another agent ---------- */

static void worker_cancel_heard(struct worker *w, long long id)
{
	struct wproc *p = worker_find_build(w, id);

	if (!p || p->p_build.b_recorded || p->p_build.b_cancel_reason)
		return;
	log_info("build %lld: canceling by request (through another agent)", id);
	worker_cancel_proc(p, "canceled by request");
}

void worker_heard(void *arg, enum store_heard what, long long id)
{
	struct worker *w = arg;

	if (what == STORE_HEARD_LOG)
		worker_follow_wake(w, id);
	else if (what == STORE_HEARD_CANCEL)
		worker_cancel_heard(w, id);
}

void worker_cancel_sweep(struct worker *w)
{
	long long ids[WORKER_CANCEL_SWEEP_MAX];
	struct err e = ERR_INIT;
	size_t i, n;

	if (store_cancel_pending(w->w_store, ids, WORKER_CANCEL_SWEEP_MAX, &n, &e) < 0) {
		log_warn("database: cannot read the cancels asked of this agent: %s", e.msg);
		return;
	}
	for (i = 0; i < n; i++)
		worker_cancel_heard(w, ids[i]);
}

/* ---------- WOP_CANCEL: asking the agent running a build to stop it ---------- */

int worker_cancel_run(struct store *st, struct wop *o, struct err *e)
{
	return store_cancel_ask(st, o->o_id, e);
}

void worker_cancel_done(struct worker *w, struct wop *o)
{
	(void)w;
	if (o->o_rc == 0)
		http_reply_json(o->o_req, 202, json_pack("{sIssss}", "build", (json_int_t)o->o_id,
							 "state", "running", "cancel", "requested"));
	else
		http_reply_error(o->o_req, 409, "the build is no longer running");
}

int worker_cancel_failed(struct worker *w, struct wop *o, const char *err)
{
	(void)w;
	log_error("build %lld: cannot ask for its cancel: %s", o->o_id, err);
	http_reply_error(o->o_req, 503, "cannot record the cancel, try again");
	return 0;
}

void worker_cancel_ask(struct worker *w, long long id, struct evhttp_request *req)
{
	struct wop *o = worker_op_new(WOP_CANCEL, id);

	o->o_req = req;
	worker_op_submit(w, o);
}
