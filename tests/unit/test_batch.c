/* Unit tests for batch: deliveries and ops committed together by the writer
 * thread, each reported once on disk and in order; an op that fails is undone
 * alone (its savepoint) and the others land; the loop's counts follow; a yielding op
 * (a retention slice) never shares a batch with deliveries, and they take turns. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <event2/event.h>

#include "batch.h"
#include "buf.h"
#include "store.h"
#include "storefixture.h"

struct seen {
	struct event_base *base;
	size_t items, ops_pending;
	long long ids[8], dups[8];
	enum store_dup why[8];
	int failed[8], order[8], norder;
	long long room;		/* builds the next batch may queue */
	struct batch *q;
	size_t push_at;		/* set: once this many items are answered, one more is pushed */
};

struct op {
	struct seen *sn;
	int slot;
	long long id;		/* the build it finishes */
	int fail;		/* writes, then returns -1 */
	int saw_state;		/* out: the state it read in the writer */
	size_t saw_items;	/* out: items answered when it ran */
};

static void items_done(void *arg, struct batch_item *items, size_t n, int failed, const char *err)
{
	struct seen *sn = arg;
	size_t i;

	(void)err;
	assert_false(failed);
	for (i = 0; i < n; i++) {
		sn->dups[sn->items] = items[i].bi_full ? -1 : items[i].bi_dup;
		sn->why[sn->items] = items[i].bi_why;
		sn->ids[sn->items++] = items[i].bi_build.id;
	}
	if (sn->push_at && sn->items == sn->push_at) {
		struct build b = BUILD_INIT;

		b.repo = xstrdup("web");
		b.ref = xstrdup("refs/heads/main");
		snprintf(b.sha, sizeof(b.sha), "%040d", 1);
		b.provider = xstrdup("github");
		b.delivery = xstrdup("pushed-when-answered");
		batch_push(sn->q, &b, sn);
	}
}

static long long room(void *arg)
{
	struct seen *sn = arg;

	return sn->room ? sn->room : 100;
}

static int op_run(struct store *st, void *arg, struct err *e)
{
	struct op *o = arg;
	struct build b = BUILD_INIT;

	/* the writer's connection sees the deliveries of its own transaction */
	assert_int_equal(store_get_build(st, o->id, &b, e), 0);
	o->saw_state = b.state;
	/* items_done ran before this batch was handed over, or after it ends */
	o->saw_items = o->sn->items;
	build_release(&b);
	if (store_set_finished(st, o->id, BUILD_CANCELED, "by a test", NULL, NULL, e) < 0)
		return -1;
	if (o->fail)
		return err_set(e, "op %d fails on purpose", o->slot);
	return 0;
}

static void op_done(void *arg, int failed, const char *err)
{
	struct op *o = arg;
	struct seen *sn = o->sn;

	sn->failed[o->slot] = failed;
	if (failed)
		assert_non_null(strstr(err, "on purpose"));
	sn->order[sn->norder++] = o->slot;
	if (--sn->ops_pending == 0)
		event_base_loopbreak(sn->base);
}

static void push(struct batch *q, const char *delivery, void *ctx)
{
	struct build b = BUILD_INIT;

	b.repo = xstrdup("web");
	b.ref = xstrdup("refs/heads/main");
	snprintf(b.sha, sizeof(b.sha), "%040d", 1);
	b.provider = xstrdup("github");
	b.delivery = xstrdup(delivery);
	batch_push(q, &b, ctx);
}

static void push_signed(struct batch *q, const char *delivery, int sha, int digest, void *ctx)
{
	unsigned char d[STORE_DIGEST_LEN];
	struct build b = BUILD_INIT;

	memset(d, 0, sizeof(d));
	d[0] = (unsigned char)digest;
	b.repo = xstrdup("web");
	b.ref = xstrdup("refs/heads/main");
	snprintf(b.sha, sizeof(b.sha), "%040d", sha);
	b.provider = xstrdup("github");
	b.delivery = xstrdup(delivery);
	batch_push_signed(q, &b, d, ctx);
}

/* The loop's base and store and a batch reporting into sn (zeroed first). */
static struct batch *open_batch(struct seen *sn, struct store **loop)
{
	struct err e = ERR_INIT;
	struct batch *q;

	memset(sn, 0, sizeof(*sn));
	sn->base = event_base_new();
	assert_int_equal(store_open(sf_dir, loop, &e), 0);
	q = batch_new(sn->base, sf_dir, *loop, items_done, room, sn, &e);
	assert_non_null(q);
	sn->q = q;
	return q;
}

static void close_batch(struct seen *sn, struct batch *q, struct store *loop)
{
	assert_int_equal(batch_pending(q), 0);
	batch_free(q);
	store_free(loop);
	event_base_free(sn->base);
}

/* Replays caught inside one batch (the first push is not committed yet when the
 * second is checked) and with the queue full (answered duplicate, not 503). */
static void test_replay(void **state)
{
	struct store *loop = NULL;
	struct batch *q;
	struct err e = ERR_INIT;
	struct seen sn;
	long long counts[BUILD_NSTATES];

	(void)state;
	q = open_batch(&sn, &loop);
	push_signed(q, "r-1", 1, 1, &sn);
	push_signed(q, "r-2", 1, 1, &sn);	/* replay of r-1 */
	push_signed(q, "r-3", 1, 2, &sn);	/* commit 1 is being built */
	push_signed(q, "r-4", 2, 3, &sn);	/* a new commit */
	batch_drain(q);
	assert_int_equal(sn.items, 4);
	assert_true(sn.ids[0] > 0);
	assert_int_equal(sn.dups[0], 0);
	assert_int_equal(sn.ids[1], 0);
	assert_int_equal(sn.dups[1], sn.ids[0]);
	assert_int_equal(sn.why[1], STORE_DUP_REPLAY);
	assert_int_equal(sn.dups[2], sn.ids[0]);
	assert_int_equal(sn.why[2], STORE_DUP_BUILT);
	assert_true(sn.ids[3] > sn.ids[0]);
	/* a full queue: replays are still duplicates, a new push is refused */
	sn.room = -1;
	push_signed(q, "r-5", 1, 1, &sn);
	push_signed(q, "r-6", 3, 4, &sn);
	push_signed(q, "r-4", 3, 5, &sn);
	batch_drain(q);
	assert_int_equal(sn.items, 7);
	assert_int_equal(sn.dups[4], sn.ids[0]);
	assert_int_equal(sn.why[4], STORE_DUP_REPLAY);
	assert_int_equal(sn.dups[5], -1);
	assert_int_equal(sn.dups[6], sn.ids[3]);
	assert_int_equal(sn.why[6], STORE_DUP_DELIVERY);
	assert_int_equal(store_count_states(loop, counts, &e), 0);
	assert_int_equal(counts[BUILD_QUEUED], 2);
	close_batch(&sn, q, loop);
}

static void test_ops(void **state)
{
	struct store *loop = NULL;
	struct batch *q;
	struct err e = ERR_INIT;
	struct seen sn;
	struct op ops[3];
	struct build b = BUILD_INIT;
	long long counts[BUILD_NSTATES];
	int i;

	(void)state;
	q = open_batch(&sn, &loop);
	/* three deliveries, one commit */
	push(q, "d-1", &sn);
	push(q, "d-2", &sn);
	push(q, "d-3", &sn);
	batch_drain(q);
	assert_int_equal(sn.items, 3);
	assert_int_equal(store_count_states(loop, counts, &e), 0);
	assert_int_equal(counts[BUILD_QUEUED], 3);
	/* three ops in one batch with a fourth delivery; the middle one fails */
	for (i = 0; i < 3; i++) {
		ops[i] = (struct op){ &sn, i, sn.ids[i], i == 1, -1, 0 };
		batch_op(q, op_run, op_done, &ops[i]);
		sn.ops_pending++;
	}
	push(q, "d-4", &sn);
	assert_int_equal(batch_pending(q), 4);
	event_base_dispatch(sn.base);
	assert_int_equal(sn.items, 4);
	assert_int_equal(sn.norder, 3);
	for (i = 0; i < 3; i++) {
		assert_int_equal(sn.order[i], i);	/* reported in order */
		assert_int_equal(ops[i].saw_state, BUILD_QUEUED);
	}
	assert_false(sn.failed[0]);
	assert_true(sn.failed[1]);
	assert_false(sn.failed[2]);
	/* on disk for the loop's connection: 1 and 3 canceled, 2 untouched */
	assert_int_equal(store_get_build(loop, sn.ids[0], &b, &e), 0);
	assert_int_equal(b.state, BUILD_CANCELED);
	build_release(&b);
	assert_int_equal(store_get_build(loop, sn.ids[1], &b, &e), 0);
	assert_int_equal(b.state, BUILD_QUEUED);
	build_release(&b);
	assert_int_equal(store_get_build(loop, sn.ids[2], &b, &e), 0);
	assert_int_equal(b.state, BUILD_CANCELED);
	build_release(&b);
	/* the loop's counts follow what the writer committed, not what it undid */
	assert_int_equal(store_count_states(loop, counts, &e), 0);
	assert_int_equal(counts[BUILD_QUEUED], 2);
	assert_int_equal(counts[BUILD_CANCELED], 2);
	close_batch(&sn, q, loop);
}

/* A yielding op queued with a delivery: the delivery commits (and is answered) first,
 * the op then in a batch of its own; with both waiting again right after, the op goes
 * first, the delivery after it. */
static void test_yield(void **state)
{
	struct store *loop = NULL;
	struct batch *q;
	struct seen sn;
	struct op ops[2];

	(void)state;
	q = open_batch(&sn, &loop);
	push(q, "y-1", &sn);
	batch_drain(q);
	assert_int_equal(sn.items, 1);
	/* queued before the delivery, it still waits for the delivery's batch */
	ops[0] = (struct op){ &sn, 0, sn.ids[0], 0, -1, 0 };
	batch_op_yield(q, op_run, op_done, &ops[0]);
	sn.ops_pending = 1;
	push(q, "y-2", &sn);
	event_base_dispatch(sn.base);
	assert_int_equal(ops[0].saw_items, 2);
	assert_int_equal(sn.items, 2);
	/* y-3 goes before the op; once it is answered y-4 comes: now the op's turn */
	ops[1] = (struct op){ &sn, 1, sn.ids[1], 0, -1, 0 };
	batch_op_yield(q, op_run, op_done, &ops[1]);
	sn.ops_pending = 1;
	push(q, "y-3", &sn);
	sn.push_at = 3;
	event_base_dispatch(sn.base);
	assert_int_equal(ops[1].saw_items, 3);
	batch_drain(q);
	assert_int_equal(sn.items, 4);
	assert_false(sn.failed[0]);
	assert_false(sn.failed[1]);
	close_batch(&sn, q, loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ops),
		cmocka_unit_test_setup(test_yield, sf_remove_db),
		cmocka_unit_test_setup(test_replay, sf_remove_db),
	};

	return cmocka_run_group_tests(tests, sf_group_setup, sf_group_teardown);
}
