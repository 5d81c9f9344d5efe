/* worker_lease: a fleet's leases on its running builds: the heartbeat that renews
 * this agent's (WOP_RENEW), the build stopped when it finds one taken over or when
 * its lease runs out by our own clock (the watch), and the takeover of builds whose
 * lease ran out on another agent (WOP_TAKE), woken by a timer at the earliest expiry
 * or by the database's notifications. Nothing on SQLite, whose one agent holds every
 * build. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

/* ---------- the watch: a lease that runs out here ---------- */

/*
 * A build whose lease we could not renew in time is another agent's to take over at
 * its expiry: it must not go on here. The loop cannot be trusted to stop it, for it
 * may itself be waiting on the unreachable database (a read on the loop, through a
 * link that accepts and never answers), so a thread of its own does: it keeps each
 * watched build's deadline, by the monotonic clock from the start of the claim or
 * renewal that last landed, and at it SIGTERMs the build's process group (the build
 * removes its containers and exits, as on a cancel; SIGKILL KILL_GRACE_SECONDS
 * later). It touches nothing else: the loop learns of it when the process ends
 * (worker_lease_unwatch) and records nothing of that build.
 */
struct lease_watch_ent {
	long long le_id;
	pid_t le_pid;
	long long le_until;		/* retain_clock_ms: SIGTERM then */
	long long le_kill_at;		/* fired: SIGKILL then, 0 once sent */
	int le_fired;
};

struct lease_watch {
	pthread_mutex_t lw_mu;
	pthread_cond_t lw_cv;		/* on CLOCK_MONOTONIC */
	pthread_t lw_thread;
	int lw_quit;
	long long lw_keep;		/* ms a lease is held here after its renewal's start */
	struct lease_watch_ent *lw_ents;
	size_t lw_n, lw_alloc;
};

static void lease_watch_signal(pid_t pid, int sig)
{
	if (pid <= 0)		/* never kill(0) or kill(-0): that is us */
		return;
	kill(-pid, sig);
	kill(pid, sig);
}

/* The next time something is due, or -1; fires what is due by now. Locked. */
static long long lease_watch_pass(struct lease_watch *lw, long long now)
{
	struct lease_watch_ent *le;
	long long next = -1, t;
	size_t i;

	for (i = 0; i < lw->lw_n; i++) {
		le = &lw->lw_ents[i];
		if (!le->le_fired && now >= le->le_until) {
			le->le_fired = 1;
			le->le_kill_at = now + KILL_GRACE_SECONDS * 1000LL;
			lease_watch_signal(le->le_pid, SIGTERM);
		} else if (le->le_fired && le->le_kill_at && now >= le->le_kill_at) {
			le->le_kill_at = 0;
			lease_watch_signal(le->le_pid, SIGKILL);
		}
		t = le->le_fired ? le->le_kill_at : le->le_until;
		if (t && (next < 0 || t < next))
			next = t;
	}
	return next;
}

static void *lease_watch_main(void *arg)
{
	struct lease_watch *lw = arg;
	struct timespec ts;
	long long next;

	pthread_mutex_lock(&lw->lw_mu);
	while (!lw->lw_quit) {
		next = lease_watch_pass(lw, retain_clock_ms());
		if (next < 0) {
			pthread_cond_wait(&lw->lw_cv, &lw->lw_mu);
			continue;
		}
		ts.tv_sec = (time_t)(next / 1000);
		ts.tv_nsec = (long)(next % 1000) * 1000000;
		pthread_cond_timedwait(&lw->lw_cv, &lw->lw_mu, &ts);
	}
	pthread_mutex_unlock(&lw->lw_mu);
	return NULL;
}

static struct lease_watch_ent *lease_watch_find(struct lease_watch *lw, long long id)
{
	size_t i;

	for (i = 0; i < lw->lw_n; i++)
		if (lw->lw_ents[i].le_id == id)
			return &lw->lw_ents[i];
	return NULL;
}

void worker_lease_watch(struct worker *w, long long id, pid_t pid, long long from)
{
	struct lease_watch *lw = w->w_watch;
	struct lease_watch_ent *le;

	if (!lw || pid <= 0)
		return;
	pthread_mutex_lock(&lw->lw_mu);
	if (!(le = lease_watch_find(lw, id))) {
		if (lw->lw_n == lw->lw_alloc) {
			lw->lw_alloc = lw->lw_alloc ? lw->lw_alloc * 2 : 8;
			lw->lw_ents = xrealloc(lw->lw_ents, lw->lw_alloc * sizeof(*lw->lw_ents));
		}
		le = &lw->lw_ents[lw->lw_n++];
		memset(le, 0, sizeof(*le));
		le->le_id = id;
		le->le_until = from + lw->lw_keep;
	}
	le->le_pid = pid;
	/* a renewal that lands after the build was stopped revives nothing */
	if (!le->le_fired && from + lw->lw_keep > le->le_until)
		le->le_until = from + lw->lw_keep;
	pthread_cond_signal(&lw->lw_cv);
	pthread_mutex_unlock(&lw->lw_mu);
}

/* 1 when it had fired */
static int lease_watch_drop(struct lease_watch *lw, long long id)
{
	struct lease_watch_ent *le;
	int fired = 0;

	if (!lw)
		return 0;
	pthread_mutex_lock(&lw->lw_mu);
	if ((le = lease_watch_find(lw, id))) {
		fired = le->le_fired;
		*le = lw->lw_ents[--lw->lw_n];
	}
	pthread_mutex_unlock(&lw->lw_mu);
	return fired;
}

int worker_lease_unwatch(struct wproc *p)
{
	struct wproc_build *wb = &p->p_build;

	if (!lease_watch_drop(p->p_w->w_watch, wb->b_id) || wb->b_recorded)
		return 0;
	log_warn("build %lld: its lease ran out before this agent could renew it (no "
		 "renewal landed within the lease, %llds: the database out of reach, or this "
		 "agent paused); stopped it, recording nothing: another agent takes it over",
		 wb->b_id, (long long)p->p_w->w_cfg->lease);
	wb->b_recorded = 1;
	wb->b_landed = 1;
	/* its containers: removed by a cleanup once it exited, as after a cancel */
	if (!wb->b_cancel_reason)
		wb->b_cancel_reason = xstrdup("this agent's lease on the build ran out");
	return 1;
}

static int lease_watch_start(struct worker *w)
{
	struct lease_watch *lw = xcalloc(1, sizeof(*lw));
	pthread_condattr_t ca;
	int rc;

	lw->lw_keep = worker_lease_ms(w) - worker_lease_ms(w) / WORKER_LEASE_SAFETY_DIV;
	pthread_mutex_init(&lw->lw_mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&lw->lw_cv, &ca);
	pthread_condattr_destroy(&ca);
	if ((rc = pthread_create(&lw->lw_thread, NULL, lease_watch_main, lw))) {
		log_error("cannot start the lease watch: %s", strerror(rc));
		pthread_cond_destroy(&lw->lw_cv);
		pthread_mutex_destroy(&lw->lw_mu);
		free(lw);
		return -1;
	}
	w->w_watch = lw;
	return 0;
}

static void lease_watch_free(struct lease_watch *lw)
{
	if (!lw)
		return;
	pthread_mutex_lock(&lw->lw_mu);
	lw->lw_quit = 1;
	pthread_cond_signal(&lw->lw_cv);
	pthread_mutex_unlock(&lw->lw_mu);
	pthread_join(lw->lw_thread, NULL);
	pthread_cond_destroy(&lw->lw_cv);
	pthread_mutex_destroy(&lw->lw_mu);
	free(lw->lw_ents);
	free(lw);
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
	lease_watch_drop(p->p_w->w_watch, wb->b_id);	/* stopped below in any case */
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
		p = worker_find_build(w, o->o_ids[i]);
		if (o->o_held[i]) {
			/* held again from this renewal's start on */
			if (p && p->p_build.b_fence == o->o_fences[i] && !p->p_build.b_recorded) {
				p->p_build.b_lease_from = o->o_sent;
				worker_lease_watch(w, p->p_build.b_id, p->p_pid, o->o_sent);
			}
			continue;
		}
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
	if (lease_watch_start(w) < 0)
		return -1;
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
	lease_watch_free(w->w_watch);
	w->w_watch = NULL;
}
