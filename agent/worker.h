/* worker: the daemon side of the build pipeline, on the event loop only: schedules
 * queued builds into child processes, records their outcome, posts commit statuses. */
#ifndef S2I_WORKER_H
#define S2I_WORKER_H

#include <event2/event.h>

#include "config.h"
#include "err.h"
#include "http.h"
#include "store.h"

/*
 * Each build runs in its own process (`s2i-agent __build ID`, cmd_build_child.c) in
 * its own process group: the job (build row + the repository's settings) is on its stdin,
 * its log goes to state_dir/logs/ID.log, its result comes back as JSON lines on
 * its stdout. A cancel is SIGTERM to the group; a hang past build_timeout +
 * KILL_GRACE_SECONDS is SIGKILL, then a `__cleanup` child removes its containers.
 * Commit statuses are rows in the store, posted by `__status` children (up to
 * STATUS_POSTERS at once, one at a time per repository, and a commit's statuses
 * in order), retried with backoff; they survive restarts.
 * Only the parent writes the database.
 */

struct worker;

/* cfg, st and h are borrowed (see worker_set_config). */
struct worker *worker_new(struct event_base *base, struct store *st, struct http *h,
			  const struct config *cfg);
/* Registers the HTTP hooks, recovers builds a crash left running (rerun once,
 * else errored), removes their containers, then starts scheduling. */
int worker_start(struct worker *w, struct err *e);
/* SIGHUP: running builds keep the settings they started with. */
void worker_set_config(struct worker *w, const struct config *cfg);
/* SIGTERM: no new build starts; running builds are canceled (their containers
 * removed) and put back in the queue, so the next start reruns them; log
 * streams are ended. */
void worker_stop(struct worker *w);
/* 1 while build or status processes or log streams are still active. */
int worker_busy(const struct worker *w);
/* Kills what is left (requeueing its builds) and frees. NULL is a no-op. */
void worker_free(struct worker *w);

#endif
