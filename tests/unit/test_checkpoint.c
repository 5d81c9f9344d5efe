/* Unit tests for checkpoints off the commit path: a connection under
 * store_wal_manual never copies the WAL back inside its commits, store_checkpoint
 * from another connection does, and the WAL then starts over; the daemon's batch
 * runs those checkpoints on a thread of its own. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <event2/event.h>

#include "batch.h"
#include "buf.h"
#include "limits.h"
#include "store.h"
#include "storefixture.h"

static int ndeliveries;

static long long db_size(void)
{
	char path[512];
	struct stat sb;

	snprintf(path, sizeof(path), "%s/agent.db", sf_dir);
	assert_int_equal(stat(path, &sb), 0);
	return (long long)sb.st_size;
}

static void fill(struct build *b)
{
	char id[64];

	snprintf(id, sizeof(id), "ckpt-%d", ++ndeliveries);
	b->repo = xstrdup("web");
	b->ref = xstrdup("refs/heads/main");
	snprintf(b->sha, sizeof(b->sha), "%040d", ndeliveries);
	b->provider = xstrdup("github");
	b->delivery = xstrdup(id);
	b->message = xstrdup("a commit message long enough to fill pages a little faster");
}

/* one transaction of n deliveries */
static void commit_some(struct store *s, int n)
{
	struct err e = ERR_INIT;
	long long dup;
	int i;

	assert_int_equal(store_begin(s, &e), 0);
	for (i = 0; i < n; i++) {
		struct build b = BUILD_INIT;

		fill(&b);
		assert_int_equal(store_add_build(s, &b, &dup, &e), 0);
		assert_true(b.id > 0);
		build_release(&b);
	}
	assert_int_equal(store_commit(s, &e), 0);
}

static void test_manual(void **state)
{
	struct store *w = NULL, *other = NULL;
	struct err e = ERR_INIT;
	long long size0;
	int left = -1, frames;

	(void)state;
	assert_int_equal(store_open(sf_dir, &w, &e), 0);
	assert_int_equal(store_open(sf_dir, &other, &e), 0);
	store_wal_manual(w);
	commit_some(w, 1);
	size0 = db_size();
	/* well past the length at which SQLite would have checkpointed by itself */
	while (store_wal_frames(w) < 2 * STORE_CHECKPOINT_PAGES)
		commit_some(w, 20);
	assert_true(db_size() == size0);	/* nothing was copied back */
	/* another connection copies it all back; the writer's next commit starts over */
	assert_int_equal(store_checkpoint(other, &left, &e), 0);
	assert_int_equal(left, 0);
	assert_true(db_size() > size0);
	frames = store_wal_frames(w);
	commit_some(w, 1);
	assert_true(store_wal_frames(w) < 64);
	assert_true(store_wal_frames(w) < frames);
	store_free(other);
	store_free(w);
}

static void items_done(void *arg, struct batch_item *items, size_t n, int failed, const char *err)
{
	size_t *done = arg;

	(void)items;
	(void)err;
	assert_false(failed);
	*done += n;
}

static long long room(void *arg)
{
	(void)arg;
	return 1000000;
}

/* Through batch: deliveries go on past STORE_CHECKPOINT_PAGES (but not past
 * STORE_WAL_MAX_PAGES, where the writer would do it itself); the database file
 * grows, so the checkpoint thread ran. */
static void test_thread(void **state)
{
	struct event_base *base = event_base_new();
	struct store *loop = NULL;
	struct batch *q;
	struct err e = ERR_INIT;
	size_t done = 0, pushed = 0;
	long long size0;
	int i, waited;

	(void)state;
	assert_int_equal(store_open(sf_dir, &loop, &e), 0);
	q = batch_new(base, sf_dir, loop, items_done, room, &done, &e);
	assert_non_null(q);
	size0 = db_size();
	for (waited = 0; waited < 600 && db_size() == size0; waited++) {
		for (i = 0; i < 20; i++) {
			struct build b = BUILD_INIT;

			fill(&b);
			batch_push(q, &b, NULL);
			pushed++;
		}
		batch_drain(q);
		if (pushed > 20 * 400) {	/* enough WAL: now wait for the thread */
			struct timespec ts = { 0, 50 * 1000 * 1000 };

			nanosleep(&ts, NULL);
		}
	}
	assert_int_equal(done, pushed);
	assert_true(db_size() > size0);
	batch_free(q);
	store_free(loop);
	event_base_free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_manual, sf_remove_db),
		cmocka_unit_test_setup(test_thread, sf_remove_db),
	};

	return cmocka_run_group_tests(tests, sf_group_setup, sf_group_teardown);
}
