/* batch: the daemon's group commit. The loop gathers verified deliveries and the
 * pipeline's writes; one writer thread commits a whole batch per transaction (one
 * fsync), and while it waits for the disk the loop keeps reading into the next batch.
 * A third thread checkpoints the WAL, so no COMMIT waits for that (store_wal_manual). */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#include "batch.h"
#include "buf.h"
#include "digest.h"
#include "limits.h"

_Static_assert(STORE_DIGEST_LEN == DIGEST_SHA256_LEN, "a push's digest is a SHA-256");

struct batch_opitem {
	batch_op_fn bo_fn;
	batch_op_done_fn bo_done;
	void *bo_arg;
	int bo_yield;			/* never in one batch with deliveries (batch_op_yield) */
	int bo_failed;			/* out: undone alone (its savepoint) */
	char bo_err[ERR_MSG_MAX];
};

struct batch_set {
	struct batch_item *bs_items;
	size_t bs_n, bs_alloc;
	struct batch_opitem *bs_ops;
	size_t bs_nops, bs_opalloc;
	long long bs_room;		/* builds this batch may still queue */
	long long bs_delta[BUILD_NSTATES];	/* out: builds per state it changed */
	int bs_failed;
	char bs_err[ERR_MSG_MAX];
};

struct batch {
	struct event_base *q_base;
	struct store *q_store;		/* the writer thread's own connection */
	struct store *q_loop_store;	/* the loop's: gets the counts */
	pthread_t q_thread;
	int q_thread_started;
	long long q_prune_at;		/* the writer's: next prune of signed pushes (ms) */
	pthread_mutex_t q_mu;
	pthread_cond_t q_cv;
	pthread_cond_t q_ckpt_cv;
	struct store *q_ckpt_store;	/* the checkpoint thread's (SQLite only) */
	pthread_t q_ckpt_thread;
	int q_ckpt_started;
	int q_ckpt_wanted;		/* (mu) */
	int q_busy;			/* q_work belongs to the writer (mu) */
	int q_done;			/* the writer finished q_work (mu) */
	int q_quit;			/* (mu) */
	int q_yielded;			/* the last batch took deliveries before a yielding op */
	/* a shared store's counts, read by the writer (BATCH_COUNTS_MS) for the loop */
	int q_shared;
	int q_count_wanted;		/* (mu) */
	int q_counts_fresh;		/* q_counts not yet given to the loop's store (mu) */
	long long q_counts[BUILD_NSTATES];	/* (mu) */
	long long q_counts_at;		/* when the writer last counted (ms; mu) */
	struct event *q_ev_counts;
	int q_efd;			/* eventfd: writer -> loop */
	struct event *q_ev_done;
	struct event *q_ev_flush;
	struct batch_set q_gather;	/* the loop's */
	struct batch_set q_work;	/* the writer's while q_busy */
	batch_done_fn q_done_fn;
	batch_room_fn q_room_fn;
	void *q_arg;
};

/* ---------- writer thread ---------- */

/* Forgets the signed pushes older than REPLAY_KEEP_DAYS, in the batch's transaction
 * (the writer is the one connection that writes), at most once per
 * REPLAY_PRUNE_INTERVAL_MS unless the last prune had more to do. In a savepoint: a
 * failure is left for the next time, the batch goes on. Returns -1 only when SQLite
 * ended the transaction. */
static int batch_prune(struct store *st, long long *next_at)
{
	long long now = store_now_ms(), n = 0;
	struct err e = ERR_INIT;

	if (now < *next_at)
		return 0;
	if (store_savepoint(st, &e) < 0) {
		*next_at = now + REPLAY_PRUNE_INTERVAL_MS;
		return store_in_transaction(st) ? 0 : -1;
	}
	if (store_prune_pushes(st, now - REPLAY_KEEP_DAYS * 86400000LL, &n, &e) == 0 &&
	    store_savepoint_release(st, &e) == 0) {
		*next_at = n >= REPLAY_PRUNE_ROWS ? now : now + REPLAY_PRUNE_INTERVAL_MS;
		return 0;
	}
	if (!store_in_transaction(st))
		return -1;
	store_savepoint_rollback(st);
	*next_at = now + REPLAY_PRUNE_INTERVAL_MS;
	return 0;
}

/* Items [i, i + n) of w, all of which the queue has room for, through one
 * store_add_many (one round trip on PostgreSQL), or with commit one store_add_commit
 * (a transaction of their own). */
static int batch_add(struct store *st, struct batch_set *w, size_t i, size_t n, int commit,
		     struct err *e)
{
	struct store_add *a = xcalloc(n, sizeof(*a));
	size_t j;
	int rc;

	for (j = 0; j < n; j++) {
		struct batch_item *it = &w->bs_items[i + j];

		a[j].sa_build = &it->bi_build;
		a[j].sa_digest = it->bi_signed ? it->bi_digest : NULL;
	}
	rc = commit ? store_add_commit(st, a, n, e) : store_add_many(st, a, n, e);
	for (j = 0; rc == 0 && j < n; j++) {
		struct batch_item *it = &w->bs_items[i + j];

		it->bi_dup = a[j].sa_dup;
		it->bi_why = a[j].sa_why;
		it->bi_full = 0;
		if (!it->bi_dup)
			w->bs_room--;
		else if (it->bi_why == STORE_DUP_NONE)
			it->bi_why = STORE_DUP_DELIVERY;
	}
	free(a);
	return rc;
}

static void batch_commit(struct store *st, struct batch_set *w, long long *prune_at)
{
	struct err e = ERR_INIT;
	struct batch_item *it;
	size_t i, n;

	w->bs_failed = 0;
	w->bs_err[0] = '\0';
	for (i = 0; i < w->bs_n; i++) {
		it = &w->bs_items[i];
		it->bi_dup = 0;
		it->bi_full = 0;
		it->bi_why = STORE_DUP_NONE;
	}
	/* deliveries only, with room for all and no prune due: on a shared store the
	 * transaction is one round trip instead of three (BEGIN, adds, COMMIT) */
	if (store_shared(st) && w->bs_n && !w->bs_nops && (size_t)w->bs_room >= w->bs_n &&
	    store_now_ms() < *prune_at) {
		if (batch_add(st, w, 0, w->bs_n, 1, &e) < 0)
			goto fail;
		store_delta(st, w->bs_delta);
		return;
	}
	if (store_begin(st, &e) < 0)
		goto fail;
	for (i = 0; i < w->bs_n; i += n) {
		struct build *b;
		int rc;

		it = &w->bs_items[i];
		b = &it->bi_build;
		n = 1;
		if (w->bs_room <= 0) {
			/* full: a redelivery or a replay still gets its duplicate answer */
			if (it->bi_signed)
				rc = store_find_push(st, b, it->bi_digest, &it->bi_dup, &it->bi_why,
						     &e);
			else if (b->delivery)
				rc = store_find_delivery(st, b->repo, b->provider, b->delivery,
							 &it->bi_dup, &e);
			else
				rc = 1;
			if (rc < 0)
				goto fail;
			if (rc > 0)
				it->bi_full = 1;
			else if (it->bi_why == STORE_DUP_NONE)
				it->bi_why = STORE_DUP_DELIVERY;
			continue;
		}
		/* as many as there is room for, at once */
		n = w->bs_n - i < (size_t)w->bs_room ? w->bs_n - i : (size_t)w->bs_room;
		if (batch_add(st, w, i, n, 0, &e) < 0)
			goto fail;
	}
	if (w->bs_n && batch_prune(st, prune_at) < 0) {
		err_set(&e, "database '%s': the transaction ended while pruning signed pushes",
			store_path(st));
		goto fail;
	}
	for (i = 0; i < w->bs_nops; i++) {
		struct batch_opitem *o = &w->bs_ops[i];

		o->bo_failed = 0;
		if (store_savepoint(st, &e) < 0)
			goto fail;
		if (o->bo_fn(st, o->bo_arg, &e) == 0) {
			if (store_savepoint_release(st, &e) < 0)
				goto fail;
			continue;
		}
		if (!store_in_transaction(st))
			goto fail;	/* SQLite rolled the whole transaction back */
		store_savepoint_rollback(st);
		o->bo_failed = 1;
		memcpy(o->bo_err, e.msg, sizeof(o->bo_err));
		e = (struct err)ERR_INIT;
	}
	store_delta(st, w->bs_delta);
	if (store_commit(st, &e) < 0)
		goto fail;
	return;
fail:
	store_rollback(st);
	w->bs_failed = 1;
	memcpy(w->bs_err, e.msg, sizeof(w->bs_err));
}

/* After a commit: the WAL is copied back by the checkpoint thread once it is long
 * enough; past STORE_WAL_MAX_PAGES (that thread cannot keep up, or is stuck) the
 * writer does it itself, as SQLite would have, so the WAL stays bounded. Errors
 * are left for the next try: the commit itself succeeded. Called with q_mu held. */
static void batch_after_commit(struct batch *q)
{
	int frames = store_wal_frames(q->q_store), left;
	struct err e = ERR_INIT;

	if (frames >= STORE_WAL_MAX_PAGES) {
		pthread_mutex_unlock(&q->q_mu);
		store_checkpoint(q->q_store, &left, &e);
		pthread_mutex_lock(&q->q_mu);
	} else if (frames >= STORE_CHECKPOINT_PAGES && !q->q_ckpt_wanted) {
		q->q_ckpt_wanted = 1;
		pthread_cond_signal(&q->q_ckpt_cv);
	}
}

static void *batch_ckpt_thread(void *arg)
{
	struct batch *q = arg;
	struct err e;
	int left;

	/* background work: the loop and the writer go first for the CPU (Linux
	 * keeps a nice value per thread); failing that, it runs at theirs */
	(void)setpriority(PRIO_PROCESS, (id_t)gettid(), BATCH_CKPT_NICE);
	pthread_mutex_lock(&q->q_mu);
	for (;;) {
		while (!q->q_quit && !q->q_ckpt_wanted)
			pthread_cond_wait(&q->q_ckpt_cv, &q->q_mu);
		if (q->q_quit)
			break;
		q->q_ckpt_wanted = 0;
		pthread_mutex_unlock(&q->q_mu);
		/* errors: see batch_after_commit */
		e = (struct err)ERR_INIT;
		if (q->q_ckpt_store)
			store_checkpoint(q->q_ckpt_store, &left, &e);
		pthread_mutex_lock(&q->q_mu);
	}
	pthread_mutex_unlock(&q->q_mu);
	return NULL;
}

/* wakes the loop; a full counter only means it is awake already */
static void batch_wake_loop(struct batch *q)
{
	uint64_t one = 1;

	if (write(q->q_efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		abort();
}

/* The builds per state of a shared store, counted on the writer's connection after
 * its batch was answered (outside any transaction), for the loop to take. Called
 * and returns with q_mu held. */
static void batch_count(struct batch *q)
{
	long long c[BUILD_NSTATES];
	struct err e = ERR_INIT;
	int rc;

	q->q_count_wanted = 0;
	q->q_counts_at = store_now_ms();
	pthread_mutex_unlock(&q->q_mu);
	/* a failure (the database is away) keeps the last counts */
	rc = store_count_states(q->q_store, c, &e);
	pthread_mutex_lock(&q->q_mu);
	if (rc == 0) {
		memcpy(q->q_counts, c, sizeof(c));
		q->q_counts_fresh = 1;
		batch_wake_loop(q);
	}
}

static void *batch_thread(void *arg)
{
	struct batch *q = arg;

	pthread_mutex_lock(&q->q_mu);
	for (;;) {
		while (!q->q_quit && !(q->q_busy && !q->q_done) && !q->q_count_wanted)
			pthread_cond_wait(&q->q_cv, &q->q_mu);
		if (q->q_busy && !q->q_done) {
			pthread_mutex_unlock(&q->q_mu);
			batch_commit(q->q_store, &q->q_work, &q->q_prune_at);
			pthread_mutex_lock(&q->q_mu);
			if (!q->q_work.bs_failed)
				batch_after_commit(q);
			q->q_done = 1;
			pthread_cond_broadcast(&q->q_cv);
			batch_wake_loop(q);
			if (q->q_shared && store_now_ms() >= q->q_counts_at + BATCH_COUNTS_MS)
				q->q_count_wanted = 1;
			continue;
		}
		if (q->q_count_wanted && !q->q_quit) {
			batch_count(q);
			continue;
		}
		if (q->q_quit)
			break;
	}
	pthread_mutex_unlock(&q->q_mu);
	return NULL;
}

/* ---------- event loop side ---------- */

static void batch_set_release(struct batch_set *s)
{
	size_t i;

	for (i = 0; i < s->bs_n; i++)
		build_release(&s->bs_items[i].bi_build);
	s->bs_n = 0;
	s->bs_nops = 0;			/* their args belong to their callers */
}

/* The ops of from from index k on appended to to (and taken from from). */
static void batch_ops_move(struct batch_set *to, struct batch_set *from, size_t k)
{
	size_t i;

	for (i = k; i < from->bs_nops; i++) {
		if (to->bs_nops == to->bs_opalloc) {
			to->bs_opalloc = to->bs_opalloc ? to->bs_opalloc * 2 : 64;
			to->bs_ops = xrealloc(to->bs_ops, to->bs_opalloc * sizeof(*to->bs_ops));
		}
		to->bs_ops[to->bs_nops++] = from->bs_ops[i];
	}
	from->bs_nops = k;
}

/* Hands the gathered batch to the idle writer. A yielding op (a retention slice) and
 * deliveries never share a batch: a delivery would wait for the slice's work and
 * its heavier fsync on top of its own. When both wait, they take turns: the
 * deliveries with the ops queued before the yielding one, then the ops alone (the
 * deliveries that came meanwhile wait for that one batch), and so on. */
static void batch_handover(struct batch *q)
{
	struct batch_set t;
	size_t k;
	int split = 0;

	if ((!q->q_gather.bs_n && !q->q_gather.bs_nops) || q->q_busy)
		return;
	for (k = 0; k < q->q_gather.bs_nops && !q->q_gather.bs_ops[k].bo_yield; k++)
		;
	if (q->q_gather.bs_n && k < q->q_gather.bs_nops)
		split = q->q_yielded ? 2 : 1;
	q->q_yielded = split == 1;
	t = q->q_work;			/* empty: keeps its allocation for reuse */
	q->q_work = q->q_gather;
	q->q_gather = t;
	if (split == 1) {
		batch_ops_move(&q->q_gather, &q->q_work, k);
	} else if (split == 2) {	/* the deliveries wait: their arrays change sides */
		t.bs_items = q->q_gather.bs_items;
		t.bs_alloc = q->q_gather.bs_alloc;
		q->q_gather.bs_items = q->q_work.bs_items;
		q->q_gather.bs_alloc = q->q_work.bs_alloc;
		q->q_gather.bs_n = q->q_work.bs_n;
		q->q_work.bs_items = t.bs_items;
		q->q_work.bs_alloc = t.bs_alloc;
		q->q_work.bs_n = 0;
	}
	q->q_work.bs_room = q->q_room_fn(q->q_arg);
	pthread_mutex_lock(&q->q_mu);
	q->q_busy = 1;
	q->q_done = 0;
	pthread_cond_broadcast(&q->q_cv);
	pthread_mutex_unlock(&q->q_mu);
}

/* Gives the loop's store the writer's last counts, if new. */
static void batch_take_counts(struct batch *q)
{
	pthread_mutex_lock(&q->q_mu);
	if (q->q_counts_fresh) {
		store_give_counts(q->q_loop_store, q->q_counts);
		q->q_counts_fresh = 0;
	}
	pthread_mutex_unlock(&q->q_mu);
}

/* Every BATCH_COUNTS_MS on a shared store: an idle writer counts too, so that the
 * counts of an agent that gets no delivery follow the other agents' work. */
static void batch_counts_cb(evutil_socket_t fd, short what, void *arg)
{
	struct batch *q = arg;

	(void)fd;
	(void)what;
	pthread_mutex_lock(&q->q_mu);
	if (store_now_ms() >= q->q_counts_at + BATCH_COUNTS_MS) {
		q->q_count_wanted = 1;
		pthread_cond_broadcast(&q->q_cv);
	}
	pthread_mutex_unlock(&q->q_mu);
}

/* Reports the writer's finished batch, if any. Returns 1 when it did. */
static int batch_collect(struct batch *q)
{
	struct batch_set *w = &q->q_work;
	size_t i;
	int done;

	pthread_mutex_lock(&q->q_mu);
	done = q->q_busy && q->q_done;
	pthread_mutex_unlock(&q->q_mu);
	if (!done)
		return 0;
	if (!w->bs_failed)
		store_note_counts(q->q_loop_store, w->bs_delta);
	if (w->bs_n)
		q->q_done_fn(q->q_arg, w->bs_items, w->bs_n, w->bs_failed, w->bs_err);
	/* done callbacks may queue more ops: those go to q_gather */
	for (i = 0; i < w->bs_nops; i++) {
		struct batch_opitem *o = &w->bs_ops[i];

		o->bo_done(o->bo_arg, w->bs_failed || o->bo_failed,
			   w->bs_failed ? w->bs_err : o->bo_err);
	}
	batch_set_release(w);
	pthread_mutex_lock(&q->q_mu);
	q->q_busy = 0;
	q->q_done = 0;
	pthread_mutex_unlock(&q->q_mu);
	return 1;
}

static void batch_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct batch *q = arg;
	uint64_t n;

	(void)what;
	if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		return;
	if (q->q_shared)
		batch_take_counts(q);
	if (batch_collect(q) && (q->q_gather.bs_n || q->q_gather.bs_nops))
		/* let the loop read what is pending before committing the next batch */
		event_active(q->q_ev_flush, EV_WRITE, 0);
}

static void batch_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	batch_handover(arg);
}

void batch_push(struct batch *q, struct build *b, void *ctx)
{
	struct batch_set *g = &q->q_gather;
	struct batch_item *it;

	if (g->bs_n == g->bs_alloc) {
		g->bs_alloc = g->bs_alloc ? g->bs_alloc * 2 : 64;
		g->bs_items = xrealloc(g->bs_items, g->bs_alloc * sizeof(*g->bs_items));
	}
	it = &g->bs_items[g->bs_n++];
	memset(it, 0, sizeof(*it));
	it->bi_build = *b;
	it->bi_ctx = ctx;
	memset(b, 0, sizeof(*b));
	if (!q->q_busy && ((g->bs_n == 1 && !g->bs_nops) || g->bs_n >= HTTP_BATCH_MAX))
		event_active(q->q_ev_flush, EV_WRITE, 0);
}

void batch_push_signed(struct batch *q, struct build *b,
		       const unsigned char digest[STORE_DIGEST_LEN], void *ctx)
{
	struct batch_set *g = &q->q_gather;
	struct batch_item *it;

	batch_push(q, b, ctx);
	it = &g->bs_items[g->bs_n - 1];
	it->bi_signed = 1;
	memcpy(it->bi_digest, digest, STORE_DIGEST_LEN);
}

static void batch_op_add(struct batch *q, batch_op_fn fn, batch_op_done_fn done, void *arg,
			 int yield)
{
	struct batch_set *g = &q->q_gather;
	struct batch_opitem *o;

	if (g->bs_nops == g->bs_opalloc) {
		g->bs_opalloc = g->bs_opalloc ? g->bs_opalloc * 2 : 64;
		g->bs_ops = xrealloc(g->bs_ops, g->bs_opalloc * sizeof(*g->bs_ops));
	}
	o = &g->bs_ops[g->bs_nops++];
	memset(o, 0, sizeof(*o));
	o->bo_fn = fn;
	o->bo_done = done;
	o->bo_arg = arg;
	o->bo_yield = yield;
	if (!q->q_busy && g->bs_nops == 1 && !g->bs_n)
		event_active(q->q_ev_flush, EV_WRITE, 0);
}

void batch_op(struct batch *q, batch_op_fn fn, batch_op_done_fn done, void *arg)
{
	batch_op_add(q, fn, done, arg, 0);
}

void batch_op_yield(struct batch *q, batch_op_fn fn, batch_op_done_fn done, void *arg)
{
	batch_op_add(q, fn, done, arg, 1);
}

size_t batch_pending(const struct batch *q)
{
	return q->q_gather.bs_n + q->q_gather.bs_nops +
		(q->q_busy ? q->q_work.bs_n + q->q_work.bs_nops : 0);
}

void batch_drain(struct batch *q)
{
	for (;;) {
		if (q->q_busy) {
			pthread_mutex_lock(&q->q_mu);
			while (!q->q_done)
				pthread_cond_wait(&q->q_cv, &q->q_mu);
			pthread_mutex_unlock(&q->q_mu);
			batch_collect(q);
		} else if (q->q_gather.bs_n || q->q_gather.bs_nops) {
			batch_handover(q);
		} else {
			return;
		}
	}
}

struct batch *batch_new(struct event_base *base, const char *state_dir, struct store *loop_st,
			batch_done_fn done, batch_room_fn room, void *arg, struct err *e)
{
	struct batch *q = xcalloc(1, sizeof(*q));
	sigset_t all, old;
	int rc;

	q->q_base = base;
	q->q_loop_store = loop_st;
	q->q_done_fn = done;
	q->q_room_fn = room;
	q->q_arg = arg;
	q->q_efd = -1;
	pthread_mutex_init(&q->q_mu, NULL);
	pthread_cond_init(&q->q_cv, NULL);
	pthread_cond_init(&q->q_ckpt_cv, NULL);
	if (store_reopen(loop_st, state_dir, &q->q_store, e) < 0)
		goto fail;
	/* no connection of the daemon checkpoints inside a commit */
	store_wal_manual(q->q_store);
	store_wal_manual(loop_st);
	/* the checkpoint thread's connection, opened now: the daemon's descriptors
	 * are taken at start, so their count stays flat from then on, and one it
	 * cannot open stops the start rather than the first checkpoint */
	if (!store_shared(loop_st) &&
	    store_open_checkpointer(store_path(q->q_store), &q->q_ckpt_store, e) < 0)
		goto fail;
	q->q_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (q->q_efd < 0) {
		err_errno(e, "cannot create an eventfd");
		goto fail;
	}
	q->q_ev_done = event_new(base, q->q_efd, EV_READ | EV_PERSIST, batch_done_cb, q);
	q->q_ev_flush = event_new(base, -1, 0, batch_flush_cb, q);
	if (!q->q_ev_done || !q->q_ev_flush || event_add(q->q_ev_done, NULL) < 0) {
		err_set(e, "cannot create the batch events");
		goto fail;
	}
	q->q_shared = store_shared(loop_st);
	if (q->q_shared) {
		struct timeval every = { BATCH_COUNTS_MS / 1000, (BATCH_COUNTS_MS % 1000) * 1000 };
		long long c[BUILD_NSTATES];

		/* the first counts at start; from then on the writer's */
		if (store_count_states(loop_st, c, e) < 0)
			goto fail;
		store_give_counts(loop_st, c);
		q->q_counts_at = store_now_ms();
		q->q_ev_counts = event_new(base, -1, EV_PERSIST, batch_counts_cb, q);
		if (!q->q_ev_counts || event_add(q->q_ev_counts, &every) < 0) {
			err_set(e, "cannot create the batch events");
			goto fail;
		}
	}
	/* signals are the loop's business (libevent's signal events) */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&q->q_thread, NULL, batch_thread, q);
	if (!rc) {
		q->q_thread_started = 1;
		rc = pthread_create(&q->q_ckpt_thread, NULL, batch_ckpt_thread, q);
		q->q_ckpt_started = !rc;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		errno = rc;
		err_errno(e, "cannot start the database threads");
		goto fail;
	}
	return q;
fail:
	batch_free(q);
	return NULL;
}

void batch_free(struct batch *q)
{
	if (!q)
		return;
	if (q->q_thread_started) {
		batch_drain(q);
		pthread_mutex_lock(&q->q_mu);
		q->q_quit = 1;
		pthread_cond_broadcast(&q->q_cv);
		pthread_cond_broadcast(&q->q_ckpt_cv);
		pthread_mutex_unlock(&q->q_mu);
		pthread_join(q->q_thread, NULL);
		if (q->q_ckpt_started)
			pthread_join(q->q_ckpt_thread, NULL);
	}
	if (q->q_ev_done)
		event_free(q->q_ev_done);
	if (q->q_ev_flush)
		event_free(q->q_ev_flush);
	if (q->q_ev_counts)
		event_free(q->q_ev_counts);
	if (q->q_efd >= 0)
		close(q->q_efd);
	batch_set_release(&q->q_gather);
	batch_set_release(&q->q_work);
	free(q->q_gather.bs_items);
	free(q->q_work.bs_items);
	free(q->q_gather.bs_ops);
	free(q->q_work.bs_ops);
	store_free(q->q_ckpt_store);
	store_free(q->q_store);
	pthread_cond_destroy(&q->q_ckpt_cv);
	pthread_cond_destroy(&q->q_cv);
	pthread_mutex_destroy(&q->q_mu);
	free(q);
}
