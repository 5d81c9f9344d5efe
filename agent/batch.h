/* batch: group commit of verified deliveries. A writer thread with its own
 * database connection commits one batch while the event loop gathers the next. */
#ifndef S2I_BATCH_H
#define S2I_BATCH_H

#include <stddef.h>

#include <event2/event.h>

#include "err.h"
#include "store.h"

struct batch_item {
	struct build bi_build;		/* in: the build to queue; out: bi_build.id */
	void *bi_ctx;			/* the caller's (the HTTP request) */
	long long bi_dup;		/* out: > 0 when the delivery queued that build already */
	int bi_full;			/* out: refused, the queue was full */
};

/* Called on the event loop once a batch is on disk (failed = 0) or could not be
 * written (failed = 1, err says why; nothing of it is stored). The callee
 * answers each item; batch releases the items afterwards. */
typedef void (*batch_done_fn)(void *arg, struct batch_item *items, size_t n, int failed,
			      const char *err);
/* Before each commit, on the event loop: how many more builds may be queued. */
typedef long long (*batch_room_fn)(void *arg);

struct batch;

/* Opens the writer's connection to state_dir's database and starts its thread. */
struct batch *batch_new(struct event_base *base, const char *state_dir, batch_done_fn done,
			batch_room_fn room, void *arg, struct err *e);
/* Takes b (left zeroed). The first item of a batch schedules its commit for
 * when the loop has read what arrived meanwhile. */
void batch_push(struct batch *q, struct build *b, void *ctx);
/* Items pushed and not yet reported done. */
size_t batch_pending(const struct batch *q);
/* Commits and reports everything pushed, waiting for the writer (shutdown). */
void batch_drain(struct batch *q);
/* Drains, stops the thread. NULL is a no-op. */
void batch_free(struct batch *q);

#endif
