/* worker_op: the worker's writes through the group commit, and what follows each. */
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

struct wop *worker_op_new(enum wop_kind kind, long long id)
{
	struct wop *o = xcalloc(1, sizeof(*o));

	o->o_kind = kind;
	o->o_id = id;
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
int worker_op_run(struct store *st, void *arg, struct err *e)
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
	batch_op(http_batch(w->w_http), worker_op_run, worker_op_done, o);
}

/* On the loop (batch_op_done_fn). */
void worker_op_done(void *arg, int failed, const char *err)
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
			p->p_build.b_landed = 1;
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
		p->p_build.b_landed = 1;
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
