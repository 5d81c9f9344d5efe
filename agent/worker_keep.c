/* worker_keep: the daemon's retention passes (keep_builds, keep_days): when they run,
 * their slices through the group commit (WOP_KEEP), what they freed in the log. */
#include <stdlib.h>

#include <event2/event.h>
#include <jansson.h>

#include "limits.h"
#include "log.h"
#include "retain.h"
#include "worker_int.h"

static void worker_keep_slice(struct worker *w)
{
	struct wop *o = worker_op_new(WOP_KEEP, 0);

	worker_op_submit(w, o);
}

/* A pass starts unless one runs; the timer brings the next one. */
static void worker_keep_pass(struct worker *w)
{
	if (w->w_keep || w->w_stopping)
		return;
	w->w_keep = retain_policy_new(w->w_cfg, store_now_ms());
	w->w_keep_started = retain_clock_ms();
	w->w_keep_pass = (struct retain_tally){ 0, 0, 0 };
	worker_keep_slice(w);
}

static void worker_keep_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	worker_keep_pass(arg);
}

int worker_keep_start(struct worker *w)
{
	w->w_keep_ev = evtimer_new(w->w_base, worker_keep_cb, w);
	if (!w->w_keep_ev)
		return -1;
	event_active(w->w_keep_ev, EV_TIMEOUT, 0);
	return 0;
}

void worker_keep_now(struct worker *w)
{
	if (w->w_keep)
		w->w_keep_soon = 1;
	else
		worker_keep_pass(w);
}

void worker_keep_kick(struct worker *w)
{
	if (w->w_keep_ev && retain_clock_ms() - w->w_keep_ended >= RETAIN_GAP_MS)
		worker_keep_pass(w);
}

/* The logs the passes moved into the trash, unlinked by a child process: the unlinks
 * stay out of the writer's transactions, and so out of intake's fsyncs. */
static void worker_keep_sweep(struct worker *w)
{
	struct err e = ERR_INIT;
	struct wproc *p;
	json_t *job;
	char *dir;

	if (w->w_sweeping) {
		w->w_sweep_again = 1;
		return;
	}
	w->w_sweep_again = 0;
	dir = xasprintf("%s/" RETAIN_TRASH, w->w_logdir);
	job = json_pack("{ss}", "dir", dir);
	free(dir);
	p = worker_spawn(w, WK_SWEEP, "__sweep", NULL, job, -1, RETAIN_SWEEP_TIMEOUT, &e);
	json_decref(job);
	if (!p) {
		log_warn("retention: cannot empty the logs' trash: %s", e.msg);
		return;
	}
	event_del(p->p_out_ev);
	w->w_sweeping = 1;
}

void worker_keep_swept(struct wproc *p)
{
	struct worker *w = p->p_w;
	json_t *j = p->p_outbuf.len ? json_loads(p->p_outbuf.data, 0, NULL) : NULL;
	const char *msg = j ? json_string_value(json_object_get(j, "error")) : NULL;
	long long n = j ? json_integer_value(json_object_get(j, "files")) : 0;

	w->w_sweeping = 0;
	w->w_swept += n;
	if (msg || !j) {
		if (!w->w_stopping)
			log_warn("retention: cannot empty the logs' trash: %s",
				 msg ? msg : "the process failed");
	} else if (n) {
		log_info("retention: unlinked %lld logs from the trash in %lld ms", n,
			 (long long)json_integer_value(json_object_get(j, "ms")));
	}
	json_decref(j);
	if (w->w_sweep_again && !w->w_stopping)
		worker_keep_sweep(w);
}

static void worker_keep_end(struct worker *w, const char *err)
{
	struct retain_tally *t = &w->w_keep_pass;
	long long ms = retain_clock_ms() - w->w_keep_started;
	struct timeval tv = { RETAIN_INTERVAL_MS / 1000, 0 };

	if (err)
		log_error("retention: a pass stopped: %s", err);
	if (t->rows)
		log_info("retention: deleted %lld builds and %lld logs (%lld bytes) in %lld ms%s",
			 t->rows, t->logs, t->bytes, ms,
			 w->w_keep_more ? "; the rest at the next pass" : "");
	/* the first pass also empties what a stop or crash left in the trash */
	if ((t->logs || !w->w_keep_passes) && !w->w_stopping)
		worker_keep_sweep(w);
	retain_policy_free(w->w_keep);
	w->w_keep = NULL;
	if (!w->w_keep_more)
		retain_cursor_release(&w->w_keep_at);
	w->w_keep_ended = retain_clock_ms();
	w->w_keep_passes++;
	if (w->w_keep_soon) {
		w->w_keep_soon = 0;
		tv.tv_sec = 0;
	}
	if (w->w_keep_ev && !w->w_stopping)
		evtimer_add(w->w_keep_ev, &tv);
}

/* writer thread: one slice, in the group commit's transaction */
int worker_keep_run(struct store *st, struct wop *o, struct err *e)
{
	struct worker *w = o->o_w;
	int rc;

	o->o_keep = (struct retain_tally){ 0, 0, 0 };
	rc = retain_slice(st, w->w_keep, &w->w_keep_at, 0, RETAIN_SLICE_ROWS,
			  retain_clock_ms() + RETAIN_SLICE_MS, &o->o_keep, e);
	if (rc < 0)
		return -1;
	o->o_time = rc;		/* 1: the pass has more */
	return 0;
}

void worker_keep_done(struct worker *w, struct wop *o)
{
	retain_tally_add(&w->w_keep_pass, &o->o_keep);
	retain_tally_add(&w->w_keep_total, &o->o_keep);
	w->w_keep_more = o->o_time > 0;
	if (w->w_keep_more && !w->w_stopping &&
	    retain_clock_ms() - w->w_keep_started < RETAIN_PASS_MS) {
		worker_keep_slice(w);
		return;
	}
	worker_keep_end(w, NULL);
}

int worker_keep_failed(struct worker *w, struct wop *o, const char *err)
{
	(void)o;
	w->w_keep_more = 1;	/* the cursor moved on: the next pass starts where it was */
	worker_keep_end(w, err);
	return 0;
}

void worker_keep_free(struct worker *w)
{
	if (w->w_keep_ev)
		event_free(w->w_keep_ev);
	retain_policy_free(w->w_keep);
	retain_cursor_release(&w->w_keep_at);
}
