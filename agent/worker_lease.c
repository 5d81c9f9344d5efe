/* worker_lease: a fleet's leases on its running builds: the heartbeat that renews
 * this agent's (WOP_RENEW), the build stopped when it finds one taken over, and the
 * takeover of builds whose lease ran out on another agent (WOP_TAKE), woken by a
 * timer at the earliest expiry or by the database's notifications. Nothing on
 * SQLite, whose one agent holds every build. */
#include <stdlib.h>

#include <event2/event.h>

#include "limits.h"
#include "log.h"
#include "worker_int.h"

#define LEASE_REASON	"the agent running it stopped renewing its lease"

static long long worker_lease_ms(const struct worker *w)
{
	return (long long)w->w_cfg->lease * 1000;
}

static void worker_lease_arm(struct event *ev, long long ms)
{
	struct timeval tv;

	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	evtimer_add(ev, &tv);
}

/* ---------- the heartbeat ---------- */

/* A build of ours another agent took over: its process is stopped (it removes its
 * containers, as on a cancel; the cleanup after it removes what it left) and nothing
 * of it is recorded, its outcome and statuses being the new holder's. */
static void worker_lease_lost(struct wproc *p)
{
	struct wproc_build *wb = &p->p_build;

	log_warn("build %lld: another agent took it over (this agent's lease ran out); "
		 "stopping it, recording nothing", wb->b_id);
	wb->b_recorded = 1;
	wb->b_landed = 1;
	if (p->p_exited) {
		worker_build_final(p);
		return;
	}
	worker_cancel_proc(p, "another agent took the build over");
}

int worker_renew_run(struct store *st, struct wop *o, struct err *e)
{
	return store_lease_renew(st, o->o_ids, o->o_fences, o->o_n, o->o_held, e) < 0 ? -1 : 0;
}

void worker_renew_done(struct worker *w, struct wop *o)
{
	struct wproc *p;
	size_t i;

	w->w_renewing = 0;
	for (i = 0; i < o->o_n; i++) {
		if (o->o_held[i])
			continue;
		p = worker_find_build(w, o->o_ids[i]);
		/* what ended since was not lost: its end is fenced anyway */
		if (p && p->p_build.b_fence == o->o_fences[i] && !p->p_build.b_recorded)
			worker_lease_lost(p);
	}
}

int worker_renew_failed(struct worker *w, struct wop *o, const char *err)
{
	(void)o;
	w->w_renewing = 0;
	log_warn("cannot renew this agent's leases: %s; next try in %llds", err,
		 (long long)w->w_cfg->lease / 3);
	return 0;
}

/* Every third of the lease: the builds running here whose claim landed. */
static void worker_renew_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct wproc *p;
	struct wop *o;
	size_t n = 0;

	(void)fd;
	(void)what;
	/* on while the agent stops too: the builds it drains are still its own */
	worker_lease_arm(w->w_renew_ev, worker_lease_ms(w) / 3);
	if (w->w_renewing)
		return;		/* the last one has not landed: one at a time */
	for (p = w->w_procs; p; p = p->p_next)
		if (p->p_kind == WK_BUILD && p->p_build.b_fence && !p->p_build.b_recorded)
			n++;
	if (!n)
		return;
	o = worker_op_new(WOP_RENEW, 0);
	o->o_ids = xcalloc(n, sizeof(*o->o_ids));
	o->o_fences = xcalloc(n, sizeof(*o->o_fences));
	o->o_held = xcalloc(n, sizeof(*o->o_held));
	for (p = w->w_procs; p && o->o_n < n; p = p->p_next)
		if (p->p_kind == WK_BUILD && p->p_build.b_fence && !p->p_build.b_recorded) {
			o->o_ids[o->o_n] = p->p_build.b_id;
			o->o_fences[o->o_n++] = p->p_build.b_fence;
		}
	w->w_renewing = 1;
	worker_op_submit(w, o);
}

/* ---------- takeover ---------- */

int worker_take_run(struct store *st, struct wop *o, struct err *e)
{
	long long fence = 0;

	return store_take_over(st, o->o_id, o->o_fence, o->o_state, o->o_reason, &fence, e);
}

void worker_take_done(struct worker *w, struct wop *o)
{
	if (o->o_rc == 0 && o->o_state == BUILD_QUEUED)
		log_warn("build %lld: taken over: %s; it runs again", o->o_id, o->o_reason);
	else if (o->o_rc == 0)
		log_warn("build %lld: %s: %s", o->o_id, store_state_name(o->o_state), o->o_reason);
	worker_kick(w);
	worker_lease_scan(w);
}

/* a later scan finds it again if it still needs taking over */
int worker_take_failed(struct worker *w, struct wop *o, const char *err)
{
	(void)w;
	log_error("build %lld: cannot take it over: %s", o->o_id, err);
	return 0;
}

void worker_lease_take(struct worker *w, const struct build *b, const char *reason)
{
	struct wop *o = worker_op_new(WOP_TAKE, b->id);

	/* today's rule after a crash: run again once, then errored */
	o->o_state = b->attempt < WORKER_ATTEMPTS_MAX ? BUILD_QUEUED : BUILD_ERRORED;
	o->o_fence = b->fence;
	o->o_reason = xstrdup(reason);
	o->o_time = store_now_ms();
	o->o_log = worker_log_path(w, b->id);
	if (o->o_state == BUILD_QUEUED) {
		o->o_line = xasprintf("==> %s; it runs again", reason);
	} else {
		o->o_line = xasprintf("==> build %lld %s: %s", b->id,
				      store_state_name(o->o_state), reason);
		worker_op_status(w, o, b->repo, b->sha, o->o_state, reason, 0);
	}
	worker_op_submit(w, o);
}

void worker_lease_scan(struct worker *w)
{
	struct build_list l = BUILD_LIST_INIT;
	struct err e = ERR_INIT;
	long long next = -1;
	size_t i;

	if (!w->w_lease_ev || w->w_stopping)
		return;
	evtimer_del(w->w_lease_ev);
	if (store_lease_expired(w->w_store, WORKER_SCAN_MAX, &l, &next, &e) < 0) {
		log_error("cannot read the leases: %s; next look in %ds", e.msg,
			  WORKER_RETRY_SECONDS);
		worker_lease_arm(w->w_lease_ev, WORKER_RETRY_SECONDS * 1000LL);
		return;
	}
	for (i = 0; i < l.n; i++)
		/* ours while it runs here: the heartbeat renews it, or finds it lost */
		if (!worker_find_build(w, l.items[i].id))
			worker_lease_take(w, &l.items[i], LEASE_REASON);
	build_list_release(&l);
	/* a takeover's done scans again; until then, no more often than the heartbeat */
	if (l.n && (next < 0 || next > worker_lease_ms(w) / 3))
		next = worker_lease_ms(w) / 3;
	if (next >= 0)
		worker_lease_arm(w->w_lease_ev, next + WORKER_LEASE_MARGIN_MS);
}

static void worker_lease_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	worker_lease_scan(arg);
}

int worker_lease_start(struct worker *w)
{
	if (!store_shared(w->w_store))
		return 0;
	w->w_renew_ev = evtimer_new(w->w_base, worker_renew_cb, w);
	w->w_lease_ev = evtimer_new(w->w_base, worker_lease_cb, w);
	if (!w->w_renew_ev || !w->w_lease_ev)
		return -1;
	worker_lease_arm(w->w_renew_ev, worker_lease_ms(w) / 3);
	return 0;
}

void worker_lease_free(struct worker *w)
{
	if (w->w_renew_ev)
		event_free(w->w_renew_ev);
	if (w->w_lease_ev)
		event_free(w->w_lease_ev);
	w->w_renew_ev = w->w_lease_ev = NULL;
}
