/* worker_op: the worker's writes through the group commit: one {run, done, failed} per kind. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <jansson.h>

#include "batch.h"
#include "buf.h"
#include "http.h"
#include "limits.h"
#include "log.h"
#include "worker_int.h"

/*
 * A kind of op in three halves:
 * - run, on the writer thread, inside the transaction: the change, through st and
 *   what o owns only. 0 when it changed something, 1 when there was nothing to
 *   change (the build had moved on), -1 with e set. The commit status queued with
 *   the change (o_st_desc) and the build log line (o_line) are written after it,
 *   by worker_op_run, for every kind.
 * - done, on the loop, once it is on disk (NULL: nothing follows).
 * - failed, on the loop, when the database undid it: 1 when o was kept to be tried
 *   again (worker_op_retry), 0 when it can go.
 */
struct wop_type {
	int (*run)(struct store *st, struct wop *o, struct err *e);
	void (*done)(struct worker *w, struct wop *o);
	int (*failed)(struct worker *w, struct wop *o, const char *err);
};

static long worker_op_retry(struct wop *o);

struct wop *worker_op_new(enum wop_kind kind, long long id)
{
	struct wop *o = xcalloc(1, sizeof(*o));

	o->o_kind = kind;
	o->o_id = id;
	o->o_sent = retain_clock_ms();
	return o;
}

void worker_op_free(struct wop *o)
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
	for (i = 0; o->o_descs && i < o->o_n; i++)	/* RENEW's o_n counts o_ids only */
		free(o->o_descs[i]);
	free(o->o_descs);
	free(o->o_ids);
	free(o->o_fences);
	free(o->o_held);
	free(o->o_canceled);
	build_release(&o->o_build);
	free(o);
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

/* The failed half of a change that must land: tried again until it does. */
static int worker_op_failed_retry(struct worker *w, struct wop *o, const char *err)
{
	long delay = worker_op_retry(o);

	(void)w;
	log_error("build %lld: cannot record a change: %s; next try in %.1fs", o->o_id, err,
		  delay / 1000.0);
	return 1;
}

/* ---------- WOP_QUEUED: new builds of one repository and ref ---------- */

/* The queued builds of the op's repository and ref older than its newest build are
 * canceled (superseded); with no build, every queued one, for o_reason (a request
 * was closed). */
static int worker_op_supersede(struct store *st, struct wop *o, struct err *e)
{
	struct store_filter f = STORE_FILTER_INIT;
	struct build_list l = BUILD_LIST_INIT;
	long long newest = o->o_n ? o->o_ids[o->o_n - 1] : 0;
	char reason[128], *desc;
	size_t i;
	int rc;

	if (o->o_n)
		snprintf(reason, sizeof(reason), "superseded by build %lld", newest);
	else
		snprintf(reason, sizeof(reason), "%s", o->o_reason ? o->o_reason : "canceled");
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

/* Their queued statuses, and with o_supersede the older queued builds canceled. */
static int worker_op_queued_run(struct store *st, struct wop *o, struct err *e)
{
	size_t i;
	int state;

	free(o->o_canceled);
	o->o_canceled = NULL;
	o->o_ncanceled = 0;
	for (i = 0; i < o->o_n; i++) {
		if (!o->o_descs[i])
			continue;
		/* a build that ended or was canceled meanwhile gets no queued status; one
		 * already started still does (its start can land in the same commit,
		 * ahead of this) */
		if ((state = worker_op_state(st, o->o_ids[i], e)) < 0)
			return -1;
		if ((state == BUILD_QUEUED || state == BUILD_RUNNING) &&
		    store_status_add_queued(st, o->o_ids[i], o->o_descs[i], e) < 0)
			return -1;
	}
	if (o->o_supersede && worker_op_supersede(st, o, e) < 0)
		return -1;
	return 0;
}

static void worker_op_queued_done(struct worker *w, struct wop *o)
{
	size_t i;

	for (i = 0; i < o->o_ncanceled; i++)
		if (o->o_n)
			log_info("build %lld: canceled: superseded by build %lld", o->o_canceled[i],
				 o->o_ids[o->o_n - 1]);
		else
			log_info("build %lld: canceled: %s", o->o_canceled[i], o->o_reason);
	worker_kick(w);
	worker_status_kick(w, 0);
}

/* ---------- WOP_START: queued -> running, before its process starts ---------- */

/* With o_image, the image name its ref makes: a build of a ref that does not own
 * it is refused (o_reason), in the same commit that starts it. */
static int worker_op_start_run(struct store *st, struct wop *o, struct err *e)
{
	char *owner = NULL;
	int rc, claim;

	/* one start time for the database and the build's own "succeeded in" line */
	o->o_time = store_now_ms();
	rc = store_claim(st, o->o_id, o->o_log, o->o_time, &o->o_fence, e);

	free(o->o_reason);
	o->o_reason = NULL;
	/* a fleet: another agent queued it, and its queued status may not be written
	 * yet; it goes ahead of the running one */
	if (rc == 0 && o->o_st_queued && store_status_add_queued(st, o->o_id, o->o_st_queued, e) < 0)
		return -1;
	if (rc != 0 || !o->o_image)
		return rc;
	if ((claim = store_claim_tag(st, o->o_repo, o->o_image, o->o_ref, o->o_id, &owner, e)) < 0)
		return -1;
	if (claim > 0)
		o->o_reason = xasprintf("image '%s' belongs to %s, which built it first: %s "
					"maps to the same name; rename the ref, or give the "
					"repository a tag template that tells them apart",
					o->o_image, owner, o->o_ref);
	free(owner);
	return 0;
}

/* its process starts now (or not: no longer queued, canceled, stopping, refused) */
static void worker_op_start_done(struct worker *w, struct wop *o)
{
	if (o->o_reason && !o->o_rc && !o->o_proc->p_build.b_error) {
		o->o_proc->p_build.b_error = o->o_reason;
		o->o_reason = NULL;
	}
	o->o_proc->p_build.b_started_ms = o->o_time;
	if (!o->o_rc)
		w->w_claimed++;
	o->o_proc->p_build.b_fence = o->o_fence;
	o->o_proc->p_build.b_lease_from = o->o_sent;
	worker_build_started(o->o_proc, o->o_rc);
}

/* The build stays queued: the scheduler tries again later, not at once (no spin). */
static int worker_op_start_failed(struct worker *w, struct wop *o, const char *err)
{
	struct timeval tv = { WORKER_RETRY_SECONDS, 0 };
	struct wproc *p = o->o_proc;

	log_error("build %lld: cannot start: %s; next try in %ds", o->o_id, err,
		  WORKER_RETRY_SECONDS);
	worker_proc_unlink(p);
	w->w_running--;
	worker_proc_free(p);
	if (w->w_kick)
		event_add(w->w_kick, &tv);
	return 0;
}

/* ---------- WOP_PID: its process, for recovery to kill an orphan ---------- */

static int worker_op_pid_run(struct store *st, struct wop *o, struct err *e)
{
	return store_set_pid(st, o->o_id, o->o_pid, e);
}

/* not worth another try */
static int worker_op_pid_failed(struct worker *w, struct wop *o, const char *err)
{
	(void)w;
	log_warn("build %lld: cannot record its process: %s", o->o_id, err);
	return 0;
}

/* ---------- WOP_SHA: the commit a manual build's ref resolved to ---------- */

/* Its queued and running statuses go with it, unless it ended meanwhile. */
static int worker_op_sha_run(struct store *st, struct wop *o, struct err *e)
{
	int rc = store_set_sha(st, o->o_id, o->o_sha, e), state;

	if (rc != 0 || !o->o_st_desc)
		return rc;
	if ((state = worker_op_state(st, o->o_id, e)) < 0)
		return -1;
	if (state != BUILD_RUNNING) {
		free(o->o_st_desc);
		o->o_st_desc = NULL;
	} else if (o->o_st_queued &&
		   store_status_add(st, o->o_id, "queued", o->o_st_queued, e) < 0) {
		return -1;
	}
	return 0;
}

/* ---------- WOP_FINISH: a started build's end ---------- */

static int worker_op_finish_run(struct store *st, struct wop *o, struct err *e)
{
	int rc = store_set_finished_at(st, o->o_id, o->o_state, o->o_reason, o->o_image,
				       o->o_image_id, o->o_time, e);

	/* the commit the build fetched, for builds whose payload did not say (hooks,
	 * manual builds): what a payload said is kept */
	if (rc >= 0 && (o->o_build.message || o->o_build.author) &&
	    store_set_commit_info(st, o->o_id, o->o_build.message, o->o_build.author, e) < 0)
		return -1;
	return rc;
}

/* Its slot is free once its process is gone too. */
static void worker_op_landed(struct worker *w, struct wop *o)
{
	o->o_proc->p_build.b_landed = 1;
	worker_follow_wake(w, o->o_id);
	worker_build_final(o->o_proc);
}

/* It must land: until it does the build keeps its slot and stays `running`. */
static int worker_op_finish_failed(struct worker *w, struct wop *o, const char *err)
{
	long delay = worker_op_retry(o);

	(void)w;
	log_error("build %lld: ended (%s) but that cannot be recorded: %s; it stays 'running' "
		  "until it is, next try in %.1fs", o->o_id, store_state_name(o->o_state), err,
		  delay / 1000.0);
	return 1;
}

/* ---------- WOP_REQUEUE: running -> queued, the agent stops ---------- */

static int worker_op_requeue_run(struct store *st, struct wop *o, struct err *e)
{
	return store_requeue(st, o->o_id, o->o_reason, e);
}

/* Its done is WOP_FINISH's (worker_op_landed): the slot is free. Refused, it is left
 * `running`: the next start reruns or closes it. */
static int worker_op_requeue_failed(struct worker *w, struct wop *o, const char *err)
{
	log_error("build %lld: cannot put it back in the queue: %s", o->o_id, err);
	worker_op_landed(w, o);
	return 0;
}

/* ---------- WOP_CLOSE: a build ended without running (cancel, recovery) ---------- */

/* WOP_FINISH's write of a final state. A cancel by request of a build seen queued asks
 * first for the cancel on a shared store: another agent may have started it since. */
static int worker_op_close_run(struct store *st, struct wop *o, struct err *e)
{
	if (o->o_req && store_cancel_ask(st, o->o_id, e) < 0)
		return -1;
	return worker_op_finish_run(st, o, e);
}

static void worker_op_close_done(struct worker *w, struct wop *o)
{
	(void)w;
	if (o->o_rc == 0)
		log_info("build %lld: %s: %s", o->o_id, store_state_name(o->o_state), o->o_reason);
	if (o->o_req && o->o_rc == 0)
		http_reply_json(o->o_req, 202, json_pack("{sIss}", "build", (json_int_t)o->o_id,
							 "state", "canceled"));
	else if (o->o_req)
		http_reply_error(o->o_req, 409, "the build already ended");
}

/* A cancel by request is refused to its client; recovery's must land. */
static int worker_op_close_failed(struct worker *w, struct wop *o, const char *err)
{
	if (!o->o_req)
		return worker_op_failed_retry(w, o, err);
	log_error("build %lld: cannot record the cancel: %s", o->o_id, err);
	http_reply_error(o->o_req, 503, "cannot record the cancel, try again");
	return 0;
}

/* ---------- WOP_ADD: a manual build (retry, POST /repos/NAME/builds) ---------- */

static int worker_op_add_run(struct store *st, struct wop *o, struct err *e)
{
	long long dup = 0;
	int rc = store_add_build(st, &o->o_build, &dup, e);

	o->o_id = o->o_build.id;
	return rc;
}

static void worker_op_add_done(struct worker *w, struct wop *o)
{
	if (o->o_time)		/* a retry of that build */
		log_info("build %lld: queued as a retry of build %lld", o->o_id, o->o_time);
	else
		log_info("build %lld: queued by request '%s' %s %s", o->o_id, o->o_build.repo,
			 o->o_build.ref, o->o_build.sha);
	worker_reply_queued(w, o->o_req, o->o_id);
	worker_queued(w, &o->o_build);
}

static int worker_op_add_failed(struct worker *w, struct wop *o, const char *err)
{
	(void)w;
	log_error("repo '%s': cannot queue a manual build: %s", o->o_build.repo, err);
	http_reply_error(o->o_req, 500, "cannot queue the build");
	return 0;
}

/* ---------- WOP_STATUS_DONE, WOP_STATUS_RETRY: a commit status post is over ---------- */

static int worker_op_status_done_run(struct store *st, struct wop *o, struct err *e)
{
	return store_status_done(st, o->o_id, o->o_claim, e);
}

static int worker_op_status_retry_run(struct store *st, struct wop *o, struct err *e)
{
	return store_status_retry(st, o->o_id, o->o_claim, o->o_time, o->o_reason, e);
}

/* Its process leaves the table, freeing the row and its repository for the next post. */
static void worker_op_status_posted(struct worker *w, struct wop *o)
{
	worker_proc_unlink(o->o_proc);
	worker_proc_free(o->o_proc);
	worker_status_kick(w, 0);
}

/* ---------- the table, and the halves batch calls ---------- */

static const struct wop_type worker_op_types[WOP_NKINDS] = {
	[WOP_QUEUED] = { worker_op_queued_run, worker_op_queued_done, worker_op_failed_retry },
	[WOP_START] = { worker_op_start_run, worker_op_start_done, worker_op_start_failed },
	[WOP_PID] = { worker_op_pid_run, NULL, worker_op_pid_failed },
	[WOP_SHA] = { worker_op_sha_run, NULL, worker_op_failed_retry },
	[WOP_FINISH] = { worker_op_finish_run, worker_op_landed, worker_op_finish_failed },
	[WOP_REQUEUE] = { worker_op_requeue_run, worker_op_landed, worker_op_requeue_failed },
	[WOP_CLOSE] = { worker_op_close_run, worker_op_close_done, worker_op_close_failed },
	[WOP_STATUS_DONE] = { worker_op_status_done_run, worker_op_status_posted,
			      worker_op_failed_retry },
	[WOP_STATUS_RETRY] = { worker_op_status_retry_run, worker_op_status_posted,
			       worker_op_failed_retry },
	[WOP_ADD] = { worker_op_add_run, worker_op_add_done, worker_op_add_failed },
	[WOP_KEEP] = { worker_keep_run, worker_keep_done, worker_keep_failed },
	[WOP_RENEW] = { worker_renew_run, worker_renew_done, worker_renew_failed },
	[WOP_TAKE] = { worker_take_run, worker_take_done, worker_take_failed },
	[WOP_LOG] = { worker_ship_run, worker_ship_done, worker_ship_failed },
	[WOP_CANCEL] = { worker_cancel_run, worker_cancel_done, worker_cancel_failed },
};

/* batch_op_fn */
int worker_op_run(struct store *st, void *arg, struct err *e)
{
	struct wop *o = arg;
	int rc;

	o->o_rc = 0;
	/* a write for a build run under a lease (shared store): refused, with its
	 * status and log line, once another agent took the build over */
	if (o->o_fence && o->o_kind != WOP_START && o->o_kind != WOP_TAKE) {
		rc = store_fence_check(st, o->o_id, o->o_fence, e);
		if (rc < 0)
			return -1;
		o->o_fenced = rc;
		if (rc > 0) {
			o->o_rc = 1;
			return 0;
		}
	}
	rc = worker_op_types[o->o_kind].run(st, o, e);
	if (rc < 0)
		return -1;
	if (rc == 0 && o->o_st_desc &&
	    store_status_add(st, o->o_id, o->o_st_state, o->o_st_desc, e) < 0)
		return -1;
	o->o_rc = rc;
	/* before the COMMIT: whoever sees the new state finds its line in the log */
	if (o->o_line && !o->o_logged && (rc == 0 || o->o_line_always))
		o->o_logged = worker_append_line(o->o_log, o->o_line) == 0;
	/* a shared store: the whole log in the COMMIT that ends the build, so whoever
	 * sees it ended has read all of it */
	if (o->o_ship && o->o_kind != WOP_LOG && worker_ship(st, o, 0, e) < 0)
		return -1;
	return 0;
}

/* batch_op_done_fn */
void worker_op_done(void *arg, int failed, const char *err)
{
	struct wop *o = arg;
	struct worker *w = o->o_w;
	const struct wop_type *t = &worker_op_types[o->o_kind];

	w->w_nops--;
	if (failed) {
		if (!t->failed(w, o, err))
			worker_op_free(o);
		return;		/* else o lives on in w_retry */
	}
	if (o->o_tries)
		log_info("build %lld: recorded after %d refused tries", o->o_id, o->o_tries);
	if (o->o_fenced)
		log_warn("build %lld: not recorded: another agent took it over (its fencing "
			 "number moved on)", o->o_id);
	if (t->done)
		t->done(w, o);
	if (o->o_st_desc)
		worker_status_kick(w, 0);
	worker_op_free(o);
}

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

void worker_op_submit(struct worker *w, struct wop *o)
{
	o->o_w = w;
	w->w_nops++;
	/* a retention slice takes up to RETAIN_SLICE_MS: deliveries do not wait in it */
	if (o->o_kind == WOP_KEEP)
		batch_op_yield(w->w_batch, worker_op_run, worker_op_done, o);
	else
		batch_op(w->w_batch, worker_op_run, worker_op_done, o);
}
