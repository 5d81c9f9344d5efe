/* worker_listen: a fleet's wake-ups. On a shared store the builds and commit
 * statuses any agent queues are announced (store_listen, PostgreSQL's LISTEN/NOTIFY):
 * the scheduler and the status posts run when one is, rather than on a timer; so do
 * the readers of a log of a build running elsewhere, and a cancel asked through
 * another agent (worker_ship.c). A listening connection lost (the server restarted)
 * is made again every WORKER_RETRY_SECONDS until it is back. */
#include <event2/event.h>

#include "limits.h"
#include "log.h"
#include "worker_int.h"

static void worker_listen_drop(struct worker *w)
{
	if (w->w_listen_ev) {
		event_free(w->w_listen_ev);
		w->w_listen_ev = NULL;
	}
	store_free(w->w_listener);
	w->w_listener = NULL;
}

static void worker_listen_later(struct worker *w)
{
	struct timeval tv = { WORKER_RETRY_SECONDS, 0 };

	worker_listen_drop(w);
	if (!w->w_stopping)
		evtimer_add(w->w_listen_retry, &tv);
}

static void worker_listen_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	int rc = store_notified(w->w_listener, worker_heard, w);

	(void)fd;
	(void)what;
	if (rc < 0) {
		log_warn("database: lost the connection that hears of queued builds; "
			 "listening again in %ds", WORKER_RETRY_SECONDS);
		worker_listen_later(w);
	} else {
		if (rc & 1)	/* builds queued */
			worker_kick(w);
		if (rc & 4)	/* commit statuses queued */
			worker_status_kick(w, 0);
		if (rc & 2)
			worker_lease_scan(w);	/* a build claimed: its lease to watch */
	}
}

static void worker_listen_open(struct worker *w)
{
	struct err e = ERR_INIT;

	if (store_listen(w->w_store, &w->w_listener, &e) < 0) {
		log_warn("database: cannot listen for queued builds: %s; next try in %ds", e.msg,
			 WORKER_RETRY_SECONDS);
		worker_listen_later(w);
		return;
	}
	if (!w->w_listener)
		return;		/* SQLite: nobody else queues builds */
	w->w_listen_ev = event_new(w->w_base, store_listen_fd(w->w_listener), EV_READ | EV_PERSIST,
				   worker_listen_cb, w);
	if (!w->w_listen_ev || event_add(w->w_listen_ev, NULL) < 0) {
		log_warn("cannot watch the database for queued builds; next try in %ds",
			 WORKER_RETRY_SECONDS);
		worker_listen_later(w);
		return;
	}
	/* what was queued, or claimed, and the cancels asked, while nobody listened */
	worker_kick(w);
	worker_status_kick(w, 0);
	worker_lease_scan(w);
	worker_cancel_sweep(w);
}

static void worker_listen_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	worker_listen_open(arg);
}

int worker_listen_start(struct worker *w)
{
	if (!store_shared(w->w_store))
		return 0;
	w->w_listen_retry = evtimer_new(w->w_base, worker_listen_retry_cb, w);
	if (!w->w_listen_retry)
		return -1;
	worker_listen_open(w);
	return 0;
}

void worker_listen_free(struct worker *w)
{
	worker_listen_drop(w);
	if (w->w_listen_retry) {
		event_free(w->w_listen_retry);
		w->w_listen_retry = NULL;
	}
}
