/* batch: group commit of verified deliveries and of the pipeline's writes. A writer
 * thread with its own database connection commits one batch while the event loop
 * gathers the next. */
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
	int bi_signed;			/* in: a verified push, bi_digest set (batch_push_signed) */
	unsigned char bi_digest[STORE_DIGEST_LEN];
	enum store_dup bi_why;		/* out: why bi_dup (STORE_DUP_DELIVERY without a digest) */
};

/* Called on the event loop once a batch is on disk (failed = 0) or could not be
 * written (failed = 1, err says why; nothing of it is stored). The callee
 * answers each item; batch releases the items afterwards. */
typedef void (*batch_done_fn)(void *arg, struct batch_item *items, size_t n, int failed,
			      const char *err);
/* Before each commit, on the event loop: how many more builds may be queued. */
typedef long long (*batch_room_fn)(void *arg);

/* A write of the pipeline's (worker.c): runs on the writer thread, with the writer's
 * connection, inside the transaction of the next batch (after its deliveries), so it
 * shares their fsync. It may only touch st and what arg owns. Each op runs in a
 * savepoint: one that returns -1 is undone alone, unless SQLite ended the whole
 * transaction (a full disk), which then fails as a whole. */
typedef int (*batch_op_fn)(struct store *st, void *arg, struct err *e);
/* On the event loop, once the op is on disk (failed = 0) or undone (failed = 1, err
 * says why). */
typedef void (*batch_op_done_fn)(void *arg, int failed, const char *err);

struct batch;

/* Opens the writer's connection to state_dir's database and starts its thread.
 * loop_st, the loop's connection, gets the builds-per-state counts of every
 * commit (store_note_counts). */
struct batch *batch_new(struct event_base *base, const char *state_dir, struct store *loop_st,
			batch_done_fn done, batch_room_fn room, void *arg, struct err *e);
/* Takes b (left zeroed). The first item of a batch schedules its commit for
 * when the loop has read what arrived meanwhile. */
void batch_push(struct batch *q, struct build *b, void *ctx);
/* The same for a verified push: its commit goes through store_add_push, the replay
 * guard, with digest (webhook_verify_signed). */
void batch_push_signed(struct batch *q, struct build *b,
		       const unsigned char digest[STORE_DIGEST_LEN], void *ctx);
/* Queues an op for the next batch; ops run and report in the order they were queued. */
void batch_op(struct batch *q, batch_op_fn fn, batch_op_done_fn done, void *arg);
/* The same for an op that may take a few ms (a retention slice): it never shares a
 * batch with deliveries, which take turns with it (the ops queued after it wait
 * with it, so the order holds). */
void batch_op_yield(struct batch *q, batch_op_fn fn, batch_op_done_fn done, void *arg);
/* Items and ops pushed and not yet reported done. */
size_t batch_pending(const struct batch *q);
/* Commits and reports everything pushed, waiting for the writer (shutdown). */
void batch_drain(struct batch *q);
/* Drains, stops the thread. NULL is a no-op. */
void batch_free(struct batch *q);

#endif
