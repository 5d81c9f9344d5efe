/* Unit tests for store: builds, delivery idempotency, state changes and their
 * cached counts, commit statuses, reopening, the JSON build object, and the
 * columns a database of the first release gets on open; run on SQLite and again
 * on PostgreSQL (tests/run's unit/test_store@pg), where the fleet's own rules are
 * tested too: dedup across connections, password, schema version. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <pthread.h>
#include <stdint.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <sqlite3.h>

#include <libpq-fe.h>

#include "buf.h"
#include "limits.h"
#include "store.h"
#include "storefixture.h"

static void pg_exec(const char *sql);

static long long add(struct store *s, const char *repo, const char *ref, const char *delivery,
		     long long *dup)
{
	struct build b = BUILD_INIT;
	struct err e = ERR_INIT;
	long long id;

	b.repo = xstrdup(repo);
	b.ref = xstrdup(ref);
	snprintf(b.sha, sizeof(b.sha), "%040d", 7);
	b.provider = xstrdup("github");
	b.delivery = delivery ? xstrdup(delivery) : NULL;
	assert_int_equal(store_add_build(s, &b, dup, &e), 0);
	id = b.id;
	build_release(&b);
	return id;
}

static void test_add_get_dup(void **state)
{
	struct store *s = sf_store();
	struct build b = BUILD_INIT;
	struct err e = ERR_INIT;
	long long dup, id, id2, depth;

	(void)state;
	id = add(s, "web", "refs/heads/main", "d-1", &dup);
	assert_true(id > 0);
	assert_int_equal(dup, 0);
	/* the same delivery again: no new build, the first one is named */
	assert_int_equal(add(s, "web", "refs/heads/main", "d-1", &dup), 0);
	assert_int_equal(dup, id);
	/* the same id for another repo is another delivery */
	id2 = add(s, "api", "refs/heads/main", "d-1", &dup);
	assert_true(id2 > id);
	assert_int_equal(dup, 0);
	assert_int_equal(store_queue_depth(s, &depth, &e), 0);
	assert_int_equal(depth, 2);

	assert_int_equal(store_get_build(s, id, &b, &e), 0);
	assert_string_equal(b.repo, "web");
	assert_string_equal(b.delivery, "d-1");
	assert_int_equal(b.state, BUILD_QUEUED);
	assert_true(b.created > 0);
	build_release(&b);
	assert_int_equal(store_get_build(s, 999999, &b, &e), 1);
	store_free(s);
}

/* One push through the replay guard: the build id, 0 with *dup and *why when it
 * queued nothing. */
static long long push(struct store *s, const char *repo, const char *ref, int sha, int digest,
		      const char *delivery, long long *dup, enum store_dup *why)
{
	unsigned char d[STORE_DIGEST_LEN];
	struct build b = BUILD_INIT;
	struct err e = ERR_INIT;
	long long id;

	memset(d, 0, sizeof(d));
	d[0] = (unsigned char)digest;
	d[31] = (unsigned char)(digest >> 8);
	b.repo = xstrdup(repo);
	b.ref = xstrdup(ref);
	snprintf(b.sha, sizeof(b.sha), "%040d", sha);
	b.provider = xstrdup("github");
	b.delivery = xstrdup(delivery);
	if (store_add_push(s, &b, d, dup, why, &e) < 0)
		fail_msg("%s", e.msg);
	id = b.id;
	build_release(&b);
	return id;
}

/* Many at once (the group commit's store_add_many, one round trip on PostgreSQL):
 * each answered as alone, in order, seeing the ones before it. */
/* Many deliveries at once, in the caller's transaction (store_add_many) or in one
 * of their own (store_add_commit, commit). */
static void add_many_case(const char *repo, int commit)
{
	static const struct {
		const char *delivery;
		int sha, digest;	/* digest 0: a build that is no verified push */
		enum store_dup why;
	} in[] = {
		{ "m-1", 1, 1, STORE_DUP_NONE },
		{ "m-1", 2, 2, STORE_DUP_DELIVERY },	/* a delivery seen a moment before */
		{ "m-2", 1, 1, STORE_DUP_REPLAY },	/* m-1's body again */
		{ "m-3", 1, 3, STORE_DUP_BUILT },	/* another body for the ref's commit */
		{ "m-4", 4, 0, STORE_DUP_NONE },
		{ "m-4", 5, 0, STORE_DUP_DELIVERY },
		{ NULL, 6, 6, STORE_DUP_NONE },
	};
	enum { N = sizeof(in) / sizeof(in[0]) };
	unsigned char d[N][STORE_DIGEST_LEN];
	struct build b[N];
	struct store_add a[N];
	struct store *s = sf_store();
	struct err e = ERR_INIT;
	long long depth0, depth;
	size_t i;

	memset(a, 0, sizeof(a));
	memset(d, 0, sizeof(d));
	assert_int_equal(store_queue_depth(s, &depth0, &e), 0);
	for (i = 0; i < N; i++) {
		memset(&b[i], 0, sizeof(b[i]));
		b[i].repo = xstrdup(repo);
		b[i].ref = xstrdup("refs/heads/main");
		snprintf(b[i].sha, sizeof(b[i].sha), "%040d", in[i].sha);
		b[i].provider = xstrdup("github");
		b[i].delivery = in[i].delivery ? xstrdup(in[i].delivery) : NULL;
		d[i][0] = (unsigned char)in[i].digest;
		a[i].sa_build = &b[i];
		a[i].sa_digest = in[i].digest ? d[i] : NULL;
	}
	if (commit) {
		if (store_add_commit(s, a, N, &e) < 0)
			fail_msg("%s", e.msg);
		assert_false(store_in_transaction(s));
	} else {
		assert_int_equal(store_begin(s, &e), 0);
		if (store_add_many(s, a, N, &e) < 0)
			fail_msg("%s", e.msg);
		assert_int_equal(store_commit(s, &e), 0);
	}
	for (i = 0; i < N; i++) {
		assert_int_equal(a[i].sa_why, in[i].why);
		if (in[i].why == STORE_DUP_NONE) {
			assert_true(b[i].id > 0);
			assert_int_equal(a[i].sa_dup, 0);
		} else {
			assert_int_equal(b[i].id, 0);
		}
	}
	assert_int_equal(a[1].sa_dup, b[0].id);
	assert_int_equal(a[2].sa_dup, b[0].id);
	assert_int_equal(a[3].sa_dup, b[0].id);
	assert_int_equal(a[5].sa_dup, b[4].id);
	assert_true(b[0].id < b[4].id && b[4].id < b[6].id);
	store_free(s);
	/* committed: another connection counts them */
	s = sf_store();
	assert_int_equal(store_queue_depth(s, &depth, &e), 0);
	assert_int_equal(depth, depth0 + 3);
	for (i = 0; i < N; i++)
		build_release(&b[i]);
	store_free(s);
}

static void test_add_many(void **state)
{
	(void)state;
	add_many_case("many", 0);
	add_many_case("many-commit", 1);
}

/* store_add_commit writes nothing when one of its adds fails; on PostgreSQL it makes
 * a connection found lost (a restarted server) again and succeeds. */
static void test_add_commit_fails(void **state)
{
	struct store *s = sf_store();
	struct build b[2];
	struct store_add a[2];
	struct err e = ERR_INIT;
	long long depth0, depth;
	size_t i;

	(void)state;
	memset(a, 0, sizeof(a));
	assert_int_equal(store_queue_depth(s, &depth0, &e), 0);
	for (i = 0; i < 2; i++) {
		memset(&b[i], 0, sizeof(b[i]));
		b[i].repo = i ? NULL : xstrdup("fails");	/* NOT NULL */
		b[i].ref = xstrdup("refs/heads/main");
		snprintf(b[i].sha, sizeof(b[i].sha), "%040zu", i + 1);
		b[i].provider = xstrdup("github");
		b[i].delivery = xasprintf("fails-%zu", i);
		a[i].sa_build = &b[i];
	}
	assert_int_equal(store_add_commit(s, a, 2, &e), -1);
	assert_false(store_in_transaction(s));
	store_free(s);
	s = sf_store();
	assert_int_equal(store_queue_depth(s, &depth, &e), 0);
	assert_int_equal(depth, depth0);
	if (sf_pg_url()) {
		pg_exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
			"WHERE usename = 'agent' AND pid <> pg_backend_pid()");
		b[1].repo = xstrdup("fails");
		if (store_add_commit(s, a, 2, &e) < 0)
			fail_msg("%s", e.msg);
		assert_true(b[0].id > 0 && b[1].id > b[0].id);
		assert_int_equal(store_queue_depth(s, &depth, &e), 0);
		assert_int_equal(depth, depth0 + 2);
	}
	for (i = 0; i < 2; i++)
		build_release(&b[i]);
	store_free(s);
}


static void test_push_replay(void **state)
{
	struct store *s = sf_store();
	struct err e = ERR_INIT;
	struct build b = BUILD_INIT;
	unsigned char d[STORE_DIGEST_LEN];
	enum store_dup why;
	long long dup, a, bb, c, n, depth;

	(void)state;
	a = push(s, "web", "refs/heads/main", 1, 1, "x-1", &dup, &why);
	assert_true(a > 0);
	assert_int_equal(why, STORE_DUP_NONE);
	/* the same signed body under a new delivery id: a replay of build a */
	assert_int_equal(push(s, "web", "refs/heads/main", 1, 1, "x-2", &dup, &why), 0);
	assert_int_equal(dup, a);
	assert_int_equal(why, STORE_DUP_REPLAY);
	/* another body for the commit the ref is being built at: nothing to build */
	assert_int_equal(push(s, "web", "refs/heads/main", 1, 2, "x-3", &dup, &why), 0);
	assert_int_equal(dup, a);
	assert_int_equal(why, STORE_DUP_BUILT);
	/* ... and that body is remembered */
	assert_int_equal(push(s, "web", "refs/heads/main", 1, 2, "x-4", &dup, &why), 0);
	assert_int_equal(why, STORE_DUP_REPLAY);
	assert_int_equal(dup, a);
	/* the branch moves on; the first push replayed now would roll it back */
	bb = push(s, "web", "refs/heads/main", 2, 3, "x-5", &dup, &why);
	assert_true(bb > a);
	assert_int_equal(push(s, "web", "refs/heads/main", 1, 1, "x-6", &dup, &why), 0);
	assert_int_equal(dup, a);
	assert_int_equal(why, STORE_DUP_REPLAY);
	assert_int_equal(push(s, "web", "refs/heads/main", 1, 2, "x-7", &dup, &why), 0);
	assert_int_equal(why, STORE_DUP_REPLAY);
	/* a delivery id seen before stays a plain duplicate */
	assert_int_equal(push(s, "web", "refs/heads/main", 9, 9, "x-1", &dup, &why), 0);
	assert_int_equal(dup, a);
	assert_int_equal(why, STORE_DUP_DELIVERY);
	/* digests are per repo; the same commit on another ref builds */
	assert_true(push(s, "api", "refs/heads/main", 1, 1, "x-1", &dup, &why) > bb);
	assert_true(push(s, "web", "refs/heads/other", 2, 4, "x-8", &dup, &why) > bb);
	/* a canceled or failed build of the commit does not count as built */
	assert_int_equal(store_set_finished(s, bb, BUILD_CANCELED, "superseded", NULL, NULL, &e), 0);
	c = push(s, "web", "refs/heads/main", 2, 5, "x-9", &dup, &why);
	assert_true(c > bb);
	assert_int_equal(store_set_finished(s, c, BUILD_FAILED, "exit 1", NULL, NULL, &e), 0);
	c = push(s, "web", "refs/heads/main", 2, 6, "x-10", &dup, &why);
	assert_true(c > 0);
	assert_int_equal(store_queue_depth(s, &depth, &e), 0);
	assert_int_equal(depth, 4);
	/* the ref's newest build succeeded: its commit again builds nothing */
	assert_int_equal(store_set_running(s, c, 0, NULL, &e), 0);
	assert_int_equal(push(s, "web", "refs/heads/main", 2, 7, "x-13", &dup, &why), 0);
	assert_int_equal(why, STORE_DUP_BUILT);
	assert_int_equal(store_set_finished(s, c, BUILD_SUCCEEDED, NULL, "web:main", "sha256:1",
					    &e), 0);
	assert_int_equal(push(s, "web", "refs/heads/main", 2, 8, "x-14", &dup, &why), 0);
	assert_int_equal(why, STORE_DUP_BUILT);
	assert_int_equal(dup, c);
	/* read-only check: the same answers, nothing written */
	memset(d, 0, sizeof(d));
	d[0] = 1;
	b.repo = xstrdup("web");
	b.ref = xstrdup("refs/heads/main");
	snprintf(b.sha, sizeof(b.sha), "%040d", 7);
	b.provider = xstrdup("github");
	b.delivery = xstrdup("y-1");
	assert_int_equal(store_find_push(s, &b, d, &dup, &why, &e), 0);
	assert_int_equal(why, STORE_DUP_REPLAY);
	assert_int_equal(dup, a);
	d[0] = 77;
	assert_int_equal(store_find_push(s, &b, d, &dup, &why, &e), 1);
	build_release(&b);
	/* durable: another connection, after a reopen */
	store_free(s);
	s = sf_store();
	assert_int_equal(push(s, "web", "refs/heads/main", 1, 1, "x-11", &dup, &why), 0);
	assert_int_equal(why, STORE_DUP_REPLAY);
	assert_int_equal(dup, a);
	/* pruning by age: nothing is older than 0; everything is older than tomorrow */
	assert_int_equal(store_prune_pushes(s, 0, &n, &e), 0);
	assert_int_equal(n, 0);
	assert_int_equal(store_prune_pushes(s, store_now_ms() + 86400000LL, &n, &e), 0);
	assert_int_equal(n, 9);	/* web 1-8, api 1 */
	/* forgotten: the old push builds again (hence REPLAY_KEEP_DAYS) */
	assert_true(push(s, "web", "refs/heads/main", 1, 1, "x-12", &dup, &why) > 0);
	store_free(s);
}

static void test_states_and_counts(void **state)
{
	struct store *s = sf_store();
	struct build b = BUILD_INIT;
	struct err e = ERR_INIT;
	long long counts[BUILD_NSTATES], dup, id, depth0, depth;
	json_t *j;

	(void)state;
	assert_int_equal(store_queue_depth(s, &depth0, &e), 0);
	id = add(s, "web", "refs/heads/x", NULL, &dup);
	assert_int_equal(store_next_queued(s, &b, &e), 0);
	assert_true(b.id <= id);
	build_release(&b);
	assert_int_equal(store_set_running(s, id, 1234, "/tmp/log", &e), 0);
	assert_int_equal(store_set_running(s, id, 1234, NULL, &e), 1);	/* not queued any more */
	assert_int_equal(store_queue_depth(s, &depth, &e), 0);
	assert_int_equal(depth, depth0);
	assert_int_equal(store_requeue(s, id, "agent restarted", &e), 0);
	assert_int_equal(store_set_running(s, id, 1235, NULL, &e), 0);
	assert_int_equal(store_set_finished(s, id, BUILD_SUCCEEDED, NULL, "web:main", "sha256:ab",
					    &e), 0);
	assert_int_equal(store_set_finished(s, id, BUILD_FAILED, "late", NULL, NULL, &e), 1);
	assert_int_equal(store_set_finished(s, id, BUILD_RUNNING, NULL, NULL, NULL, &e), -1);
	assert_int_equal(store_get_build(s, id, &b, &e), 0);
	assert_int_equal(b.state, BUILD_SUCCEEDED);
	assert_int_equal(b.attempt, 2);
	assert_string_equal(b.log_path, "/tmp/log");
	assert_string_equal(b.reason, "agent restarted");
	j = store_build_json(&b);
	assert_string_equal(json_string_value(json_object_get(j, "state")), "succeeded");
	assert_string_equal(json_string_value(json_object_get(j, "image_id")), "sha256:ab");
	assert_true(json_is_integer(json_object_get(j, "duration_ms")));
	assert_int_equal(strlen(json_string_value(json_object_get(j, "created"))), 20);
	assert_true(json_is_null(json_object_get(j, "delivery")));
	json_decref(j);
	build_release(&b);

	/* the cached counts agree with the table after a reopen */
	assert_int_equal(store_count_states(s, counts, &e), 0);
	store_free(s);
	s = sf_store();
	{
		long long again[BUILD_NSTATES];

		assert_int_equal(store_count_states(s, again, &e), 0);
		assert_memory_equal(counts, again, sizeof(again));
	}
	store_free(s);
}

static void test_rollback(void **state)
{
	struct store *s = sf_store();
	struct err e = ERR_INIT;
	struct build b = BUILD_INIT;
	long long dup, id, d0, d1;

	(void)state;
	assert_int_equal(store_queue_depth(s, &d0, &e), 0);
	assert_int_equal(store_begin(s, &e), 0);
	id = add(s, "web", "refs/heads/rb", "rb-1", &dup);
	assert_int_equal(store_queue_depth(s, &d1, &e), 0);
	assert_int_equal(d1, d0 + 1);
	store_rollback(s);
	assert_int_equal(store_queue_depth(s, &d1, &e), 0);
	assert_int_equal(d1, d0);
	assert_int_equal(store_get_build(s, id, &b, &e), 1);
	/* the delivery was rolled back too: it can be queued again */
	assert_true(add(s, "web", "refs/heads/rb", "rb-1", &dup) > 0);
	store_free(s);
}

static void test_list(void **state)
{
	struct store_filter f = STORE_FILTER_INIT;
	struct build_list l = BUILD_LIST_INIT;
	struct store *s = sf_store();
	struct err e = ERR_INIT;
	long long dup, a, b;
	size_t i;

	(void)state;
	a = add(s, "list1", "refs/heads/main", NULL, &dup);
	b = add(s, "list1", "refs/heads/dev", NULL, &dup);
	add(s, "list2", "refs/heads/main", NULL, &dup);
	f.repo = "list1";
	assert_int_equal(store_list_builds(s, &f, &l, &e), 0);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.items[0].id, b);	/* newest first */
	assert_int_equal(l.items[1].id, a);
	build_list_release(&l);
	f.oldest_first = 1;
	f.limit = 1;
	assert_int_equal(store_list_builds(s, &f, &l, &e), 0);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.items[0].id, a);
	build_list_release(&l);
	f.limit = 0;
	f.ref = "refs/heads/dev";
	f.state = BUILD_QUEUED;
	assert_int_equal(store_list_builds(s, &f, &l, &e), 0);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.items[0].id, b);
	build_list_release(&l);
	f.state = BUILD_RUNNING;
	assert_int_equal(store_list_builds(s, &f, &l, &e), 0);
	assert_int_equal(l.n, 0);
	build_list_release(&l);
	for (i = 0; i < BUILD_NSTATES; i++)
		assert_int_equal(store_state_parse(store_state_name((enum build_state)i)), (int)i);
	assert_int_equal(store_state_parse("done"), -1);
	store_free(s);
}

/* The first waiting status of each commit, as the worker sees them: n rows. */
static size_t heads(struct store *s, struct status_row *rows, size_t max)
{
	struct err e = ERR_INIT;
	size_t n = 99;

	assert_int_equal(store_status_heads(s, max, rows, &n, &e), 0);
	assert_true(n <= max);
	return n;
}

static void release_rows(struct status_row *rows, size_t n)
{
	while (n > 0)
		status_row_release(&rows[--n]);
}

/* Claims r now and posts it (deletes it). */
static void claim_done(struct store *s, struct status_row *r)
{
	struct err e = ERR_INIT;

	assert_int_equal(store_status_claim(s, r, store_now_ms(), &e), 1);
	assert_int_equal(store_status_done(s, r->id, r->claim, &e), 0);
}

/* The one status due is build_id's, in state (or with description) unless NULL: posted. */
static void post_only_head(struct store *s, long long build_id, const char *state,
			   const char *description)
{
	struct status_row r[8];
	size_t n = heads(s, r, 8);

	assert_int_equal(n, 1);
	assert_int_equal(r[0].build_id, build_id);
	if (state)
		assert_string_equal(r[0].state, state);
	if (description)
		assert_string_equal(r[0].description, description);
	claim_done(s, &r[0]);
	release_rows(r, n);
}

static void test_statuses(void **state)
{
	struct status_row r[8];
	struct store *s = sf_store();
	struct err e = ERR_INIT;
	long long now = store_now_ms();
	size_t n;

	(void)state;
	/* builds 41 and 42 do not exist: each is a commit of its own */
	assert_int_equal(store_status_add(s, 41, "pending", "queued", &e), 0);
	assert_int_equal(store_status_add(s, 41, "success", "done", &e), 0);
	assert_int_equal(store_status_add(s, 42, "pending", NULL, &e), 0);
	n = heads(s, r, 8);
	assert_int_equal(n, 2);
	assert_int_equal(r[0].build_id, 41);
	assert_string_equal(r[0].state, "pending");
	assert_null(r[0].repo);
	assert_int_equal(r[1].build_id, 42);
	/* a failed post delays it and, with it, the later status of the same build */
	assert_int_equal(store_status_claim(s, &r[0], now, &e), 1);
	assert_int_equal(store_status_retry(s, r[0].id, r[0].claim, now + 60000, "502 bad gateway",
					    &e), 0);
	release_rows(r, n);
	n = heads(s, r, 8);
	assert_int_equal(n, 2);
	assert_int_equal(r[0].build_id, 42);
	assert_true(r[0].next_at <= store_now_ms());
	claim_done(s, &r[0]);
	assert_int_equal(r[1].build_id, 41);
	assert_int_equal(r[1].next_at, now + 60000);
	assert_int_equal(r[1].attempts, 1);
	assert_string_equal(r[1].last_error, "502 bad gateway");
	/* not due yet: not claimed (SQLite: the worker looks at next_at itself) */
	if (sf_pg_url())
		assert_int_equal(store_status_claim(s, &r[1], now, &e), 0);
	assert_int_equal(store_status_claim(s, &r[1], now + 60000, &e), 1);
	assert_int_equal(store_status_done(s, r[1].id, r[1].claim, &e), 0);
	release_rows(r, n);
	post_only_head(s, 41, "success", NULL);
	assert_int_equal(heads(s, r, 8), 0);
	store_free(s);
}

static long long add_at(struct store *s, const char *repo, int sha)
{
	struct build b = BUILD_INIT;
	struct err e = ERR_INIT;
	long long id, dup = 0;

	b.repo = xstrdup(repo);
	b.ref = xstrdup("refs/heads/main");
	if (sha >= 0)	/* else a ref not resolved yet */
		snprintf(b.sha, sizeof(b.sha), "%040d", sha);
	b.provider = xstrdup("manual");
	assert_int_equal(store_add_build(s, &b, &dup, &e), 0);
	id = b.id;
	build_release(&b);
	return id;
}

/* Two builds of one commit (a retry) share one order; other commits and other
 * repositories (the same sha elsewhere) do not wait for them. */
static void test_statuses_per_commit(void **state)
{
	struct status_row r[8];
	struct store *s = sf_store();
	struct err e = ERR_INIT;
	long long a1 = add_at(s, "alpha", 1), a2 = add_at(s, "alpha", 1);
	long long a3 = add_at(s, "alpha", 2), b1 = add_at(s, "beta", 1);
	long long manual = add_at(s, "alpha", -1);
	size_t n, i;

	(void)state;
	assert_int_equal(store_status_add(s, a1, "pending", "Build a1 running", &e), 0);
	assert_int_equal(store_status_add(s, a2, "pending", "Build a2 queued", &e), 0);
	assert_int_equal(store_status_add(s, a1, "success", "Build a1 succeeded", &e), 0);
	assert_int_equal(store_status_add(s, a3, "pending", "Build a3 queued", &e), 0);
	assert_int_equal(store_status_add(s, b1, "pending", "Build b1 queued", &e), 0);
	assert_int_equal(store_status_add(s, a2, "success", "Build a2 succeeded", &e), 0);
	/* the limit is honoured */
	n = heads(s, r, 2);
	assert_int_equal(n, 2);
	release_rows(r, n);
	n = heads(s, r, 8);
	assert_int_equal(n, 3);		/* alpha@1, alpha@2, beta@1 */
	assert_int_equal(r[0].build_id, a1);
	assert_string_equal(r[0].repo, "alpha");
	assert_int_equal(r[1].build_id, a3);
	assert_int_equal(r[2].build_id, b1);
	assert_string_equal(r[2].repo, "beta");
	for (i = 1; i < n; i++)
		claim_done(s, &r[i]);
	claim_done(s, &r[0]);
	release_rows(r, n);
	/* alpha@1 goes on in the order the statuses were queued, across its builds */
	post_only_head(s, a2, NULL, "Build a2 queued");
	post_only_head(s, a1, "success", NULL);
	post_only_head(s, a2, "success", NULL);
	/* builds whose commit is not known yet are not tied to each other */
	assert_int_equal(store_status_add(s, manual, "pending", "m1", &e), 0);
	assert_int_equal(store_status_add(s, manual + 1000, "pending", "gone", &e), 0);
	n = heads(s, r, 8);
	assert_int_equal(n, 2);
	for (i = 0; i < n; i++)
		claim_done(s, &r[i]);
	release_rows(r, n);
	assert_int_equal(heads(s, r, 8), 0);
	store_free(s);
}

/* Every connection that writes is synchronous=FULL in WAL mode: kill -9 cannot tell
 * NORMAL from FULL, a power loss can, so the setting itself is what is checked. */
static void test_durable_connections(void **state)
{
	struct store *s = NULL, *ck = NULL;
	struct err e = ERR_INIT;

	(void)state;
	assert_int_equal(store_open(sf_dir, &s, &e), 0);
	assert_int_equal(store_sync_mode(s), STORE_SYNC_FULL);
	assert_int_equal(store_open_checkpointer(store_path(s), &ck, &e), 0);
	assert_int_equal(store_sync_mode(ck), STORE_SYNC_FULL);
	store_free(ck);
	store_free(s);
}

/* agent.db and its WAL are the agent's own (0600) whatever the umask, an existing
 * readable one is made private, and a state directory anyone may write is refused. */
static void test_private_files(void **state)
{
	struct store *s = NULL;
	struct err e = ERR_INIT;
	struct stat sb;
	char path[600], dir[600];
	mode_t old = umask(022);

	(void)state;
	assert_int_equal(store_open(sf_dir, &s, &e), 0);
	snprintf(path, sizeof(path), "%s/agent.db", sf_dir);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	snprintf(path, sizeof(path), "%s/agent.db-wal", sf_dir);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	store_free(s);
	s = NULL;

	snprintf(path, sizeof(path), "%s/agent.db", sf_dir);
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(store_open(sf_dir, &s, &e), 0);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	store_free(s);
	s = NULL;

	snprintf(dir, sizeof(dir), "%s/open", sf_dir);
	assert_int_equal(mkdir(dir, 0700), 0);
	assert_int_equal(chmod(dir, 0777), 0);
	assert_int_equal(store_open(dir, &s, &e), -1);
	assert_non_null(strstr(e.msg, "writable by every user"));
	snprintf(path, sizeof(path), "%s/agent.db", dir);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(rmdir(dir), 0);
	umask(old);
}

/* The first ref to claim an image name owns it, per repository, across reopens. */
static void test_claim_tag(void **state)
{
	struct store *s = sf_store();
	struct err e = ERR_INIT;
	char *owner = NULL;

	(void)state;
	assert_int_equal(store_claim_tag(s, "web", "web:release-1.0", "refs/heads/release-1.0", 1,
					 &owner, &e), 0);
	assert_int_equal(store_claim_tag(s, "web", "web:release-1.0", "refs/heads/release-1.0", 2,
					 &owner, &e), 0);
	assert_null(owner);
	/* another repository's name is its own */
	assert_int_equal(store_claim_tag(s, "api", "web:release-1.0", "refs/heads/release/1.0", 3,
					 &owner, &e), 0);
	store_free(s);
	s = sf_store();
	assert_int_equal(store_claim_tag(s, "web", "web:release-1.0", "refs/heads/release/1.0", 4,
					 &owner, &e), 1);
	assert_string_equal(owner, "refs/heads/release-1.0");
	free(owner);
	store_free(s);
}

/* A database from before builds.untrusted gets the column; request builds keep
 * theirs, and the build object shows the request's number. */
/* A database as the first release left it (no columns added since), build 1 in it. */
static void first_release_db(const char *path)
{
	sqlite3 *db = NULL;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
		"CREATE TABLE builds (id INTEGER PRIMARY KEY AUTOINCREMENT,"
		" repo TEXT NOT NULL, ref TEXT NOT NULL, sha TEXT NOT NULL, before_sha TEXT,"
		" state TEXT NOT NULL DEFAULT 'queued', reason TEXT, image TEXT, image_id TEXT,"
		" created INTEGER NOT NULL, started INTEGER, finished INTEGER,"
		" provider TEXT NOT NULL, delivery TEXT, message TEXT, author TEXT,"
		" repo_full_name TEXT, project_id TEXT, clone_url TEXT,"
		" attempt INTEGER NOT NULL DEFAULT 0, pid INTEGER, log_path TEXT);"
		"INSERT INTO builds (repo, ref, sha, created, provider) VALUES"
		" ('web', 'refs/heads/main', '0000000000000000000000000000000000000007', 1, 'github');"
		"PRAGMA user_version = 1;", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static void test_untrusted_and_migration(void **state)
{
	struct build b = BUILD_INIT;
	struct err e = ERR_INIT;
	struct store *s;
	long long dup, id;
	json_t *j;
	char *path = xasprintf("%s/agent.db", sf_dir);

	(void)state;
	first_release_db(path);
	s = sf_store();
	assert_int_equal(store_get_build(s, 1, &b, &e), 0);
	assert_int_equal(b.untrusted, 0);
	build_release(&b);

	b.repo = xstrdup("web");
	b.ref = xstrdup("refs/pull/12/head");
	snprintf(b.sha, sizeof(b.sha), "%040d", 8);
	b.provider = xstrdup("github");
	b.untrusted = 1;
	assert_int_equal(store_add_build(s, &b, &dup, &e), 0);
	id = b.id;
	build_release(&b);
	assert_int_equal(store_get_build(s, id, &b, &e), 0);
	assert_int_equal(b.untrusted, 1);
	j = store_build_json(&b);
	assert_int_equal(json_integer_value(json_object_get(j, "pr")), 12);
	assert_true(json_is_true(json_object_get(j, "untrusted")));
	json_decref(j);
	build_release(&b);
	/* the fetched commit's subject and author fill what a payload did not give */
	assert_int_equal(store_set_commit_info(s, 1, "subject", "Someone", &e), 0);
	assert_int_equal(store_set_commit_info(s, 1, "other", "Else", &e), 0);
	assert_int_equal(store_get_build(s, 1, &b, &e), 0);
	assert_string_equal(b.message, "subject");
	assert_string_equal(b.author, "Someone");
	build_release(&b);
	/* reopening an up-to-date database changes nothing */
	store_free(s);
	s = sf_store();
	assert_int_equal(store_get_build(s, id, &b, &e), 0);
	assert_int_equal(b.untrusted, 1);
	j = store_build_json(&b);
	build_release(&b);
	assert_int_equal(store_get_build(s, 1, &b, &e), 0);
	json_decref(j);
	j = store_build_json(&b);
	assert_null(json_object_get(j, "pr"));
	assert_null(json_object_get(j, "untrusted"));
	json_decref(j);
	build_release(&b);
	store_free(s);
	free(path);
}

/* A first-release database gets builds.retry_of on open (its builds: none, JSON
 * null); a retry records the build it came from, across reopening. */
static void test_retry_of(void **state)
{
	struct build b = BUILD_INIT;
	struct err e = ERR_INIT;
	struct store *s;
	long long dup;
	json_t *j;
	char *path = xasprintf("%s/agent.db", sf_dir);

	(void)state;
	first_release_db(path);
	s = sf_store();
	assert_int_equal(store_get_build(s, 1, &b, &e), 0);
	assert_int_equal(b.retry_of, 0);
	j = store_build_json(&b);
	assert_true(json_is_null(json_object_get(j, "retry_of")));
	json_decref(j);
	build_release(&b);

	b.repo = xstrdup("web");
	b.ref = xstrdup("refs/heads/main");
	snprintf(b.sha, sizeof(b.sha), "%040d", 7);
	b.provider = xstrdup("manual");
	b.retry_of = 1;
	assert_int_equal(store_add_build(s, &b, &dup, &e), 0);
	assert_int_equal(b.id, 2);
	build_release(&b);
	store_free(s);

	s = sf_store();
	assert_int_equal(store_get_build(s, 2, &b, &e), 0);
	assert_int_equal(b.retry_of, 1);
	j = store_build_json(&b);
	assert_int_equal(json_integer_value(json_object_get(j, "retry_of")), 1);
	json_decref(j);
	build_release(&b);
	store_free(s);
	free(path);
}

/* ---------- PostgreSQL only ---------- */

/* Runs sql on a connection of the test's own (not the store's). */
static void pg_exec(const char *sql)
{
	const char *keys[] = { "dbname", "password", NULL };
	const char *vals[] = { sf_pg_url(), NULL, NULL };
	PGconn *c;
	PGresult *r;

	char *pw = sf_pg_password();

	vals[1] = pw;
	c = PQconnectdbParams(keys, vals, 1);
	free(pw);
	assert_int_equal(PQstatus(c), CONNECTION_OK);
	r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
		fail_msg("%s: %s", sql, PQresultErrorMessage(r));
	PQclear(r);
	PQfinish(c);
}

/* The first column of sql's first row, as a number. */
static long long pg_value(const char *sql)
{
	const char *keys[] = { "dbname", "password", NULL };
	const char *vals[] = { sf_pg_url(), NULL, NULL };
	char *pw = sf_pg_password();
	long long v = -1;
	PGconn *c;
	PGresult *r;

	vals[1] = pw;
	c = PQconnectdbParams(keys, vals, 1);
	free(pw);
	assert_int_equal(PQstatus(c), CONNECTION_OK);
	r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) < 1)
		fail_msg("%s: %s", sql, PQresultErrorMessage(r));
	v = atoll(PQgetvalue(r, 0, 0));
	PQclear(r);
	PQfinish(c);
	return v;
}

/* store_count_states, read from the rows of changes, agrees with the builds
 * themselves after every kind of write: one build and a batch queued, started,
 * ended, requeued, updated and deleted by hand; folded by two agents in turn. */
static void pg_counts_agree(struct store *s)
{
	long long counts[BUILD_NSTATES];
	struct err e = ERR_INIT;
	char sql[128];
	int i;

	assert_int_equal(store_count_states(s, counts, &e), 0);
	for (i = 0; i < BUILD_NSTATES; i++) {
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM builds WHERE state = '%s'",
			 store_state_name((enum build_state)i));
		assert_int_equal(counts[i], pg_value(sql));
	}
}

static void test_pg_counts(void **state)
{
	struct store *s = sf_store(), *t = sf_store();
	struct build b[8];
	struct store_add a[8];
	struct err e = ERR_INIT;
	long long dup, id, depth;
	size_t i;

	(void)state;
	id = add(s, "count", "refs/heads/one", NULL, &dup);
	pg_counts_agree(s);
	memset(a, 0, sizeof(a));
	assert_int_equal(store_begin(s, &e), 0);
	for (i = 0; i < 8; i++) {
		memset(&b[i], 0, sizeof(b[i]));
		b[i].repo = xstrdup("count");
		b[i].ref = xasprintf("refs/heads/b%zu", i);
		snprintf(b[i].sha, sizeof(b[i].sha), "%040zu", i + 1);
		b[i].provider = xstrdup("github");
		a[i].sa_build = &b[i];
	}
	assert_int_equal(store_add_many(s, a, 8, &e), 0);
	assert_int_equal(store_commit(s, &e), 0);
	pg_counts_agree(t);
	assert_int_equal(store_set_running(s, id, 0, NULL, &e), 0);
	assert_int_equal(store_set_running(s, b[0].id, 0, NULL, &e), 0);
	assert_int_equal(store_set_finished(s, b[0].id, BUILD_FAILED, "x", NULL, NULL, &e), 0);
	assert_int_equal(store_requeue(s, id, "again", &e), 0);
	pg_counts_agree(s);
	pg_exec("UPDATE builds SET state = 'canceled' WHERE repo = 'count' AND ref LIKE '%b1'");
	pg_exec("UPDATE builds SET reason = 'no state change' WHERE repo = 'count'");
	pg_exec("DELETE FROM builds WHERE repo = 'count' AND ref IN ('refs/heads/b2', 'refs/heads/b3')");
	pg_counts_agree(t);
	pg_counts_agree(s);
	/* folded: one row per state at most */
	assert_true(pg_value("SELECT count(*) FROM build_counts") <= BUILD_NSTATES);
	assert_int_equal(store_queue_depth(s, &depth, &e), 0);
	assert_int_equal(depth, pg_value("SELECT count(*) FROM builds WHERE state = 'queued'"));
	for (i = 0; i < 8; i++)
		build_release(&b[i]);
	store_free(t);
	store_free(s);
}

/* A COMMIT is flushed, and the store knows it is shared. */
static void test_pg_durable(void **state)
{
	struct store *s = sf_store();

	(void)state;
	assert_int_equal(store_sync_mode(s), STORE_SYNC_FULL);
	assert_int_equal(store_shared(s), 1);
	assert_non_null(strstr(store_path(s), "postgresql://"));
	store_free(s);
}

/* The password never sits in the URL (it would be in logs, ps and check's output);
 * without the right one there is no store. */
static void test_pg_password(void **state)
{
	static const char *const inline_pw[] = {
		"postgresql://agent:hunter2@127.0.0.1:5432/s2i",
		"postgresql://agent@127.0.0.1:5432/s2i?password=hunter2",
	};
	struct store *s = NULL;
	struct err e = ERR_INIT;
	size_t i;

	(void)state;
	for (i = 0; i < 2; i++) {
		assert_int_equal(store_check_database(inline_pw[i], &e), -1);
		assert_non_null(strstr(e.msg, "database_password_file"));
		assert_null(strstr(e.msg, "hunter2"));
		assert_int_equal(store_connect(inline_pw[i], NULL, sf_dir, &s, &e), -1);
		assert_non_null(strstr(e.msg, "carries a password"));
	}
	assert_int_equal(store_check_database("sqlite", &e), 0);
	assert_int_equal(store_check_database(NULL, &e), 0);
	assert_int_equal(store_check_database(sf_pg_url(), &e), 0);
	assert_int_equal(store_check_database("mysql://db/x", &e), -1);
	assert_int_equal(store_check_database("postgresql://h/d?bogus=1", &e), -1);
	/* a wrong password (and no passfile: PGPASSFILE points nowhere) */
	setenv("PGPASSFILE", "/nonexistent", 1);
	assert_int_equal(store_connect(sf_pg_url(), "wrong", sf_dir, &s, &e), -1);
	assert_non_null(strstr(e.msg, "cannot connect"));
	assert_null(strstr(e.msg, "wrong"));
	assert_int_equal(store_connect(sf_pg_url(), NULL, sf_dir, &s, &e), -1);
	assert_null(s);
}

/* A schema newer than this agent's is refused, not written to. */
static void test_pg_schema_newer(void **state)
{
	struct store *s = sf_store();
	struct err e = ERR_INIT;

	(void)state;
	store_free(s);
	s = NULL;
	pg_exec("UPDATE s2i_schema SET version = version + 1");
	assert_int_equal(sf_open(&s, &e), -1);
	assert_non_null(strstr(e.msg, "newer than this agent's"));
	pg_exec("UPDATE s2i_schema SET version = version - 1");
	s = sf_store();
	store_free(s);
}

#define PG_OPENERS 6

static void *pg_opener(void *arg)
{
	struct err e = ERR_INIT;
	struct store *s = NULL;

	*(int *)arg = sf_open(&s, &e);
	if (*(int *)arg < 0)
		fprintf(stderr, "%s\n", e.msg);
	store_free(s);
	return NULL;
}

/* Agents starting together on an empty database: one creates the schema (under the
 * advisory lock), the others wait for it and use it. */
static void test_pg_migrate_together(void **state)
{
	pthread_t t[PG_OPENERS];
	int rc[PG_OPENERS], i;
	struct store *s;
	long long dup;

	(void)state;
	for (i = 0; i < PG_OPENERS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, pg_opener, &rc[i]), 0);
	for (i = 0; i < PG_OPENERS; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(rc[i], 0);
	}
	s = sf_store();
	assert_true(add(s, "web", "refs/heads/main", "m-1", &dup) > 0);
	store_free(s);
}

/* One agent's delivery, in a transaction not committed yet, and another's */
struct pg_racer {
	const char *delivery;
	int digest;			/* > 0: through the replay guard */
	long long id, dup;
	enum store_dup why;
	int rc;
};

/* On a thread of its own: no cmocka assertion here, r->rc says how it went. */
static void *pg_racer_run(void *arg)
{
	struct pg_racer *r = arg;
	unsigned char d[STORE_DIGEST_LEN] = { 0 };
	struct build b = BUILD_INIT;
	struct err e = ERR_INIT;
	struct store *s = NULL;

	r->rc = sf_open(&s, &e);
	if (r->rc < 0)
		return NULL;
	d[0] = (unsigned char)r->digest;
	b.repo = xstrdup("web");
	b.ref = xstrdup("refs/heads/race");
	snprintf(b.sha, sizeof(b.sha), "%040d", 5);
	b.provider = xstrdup("github");
	b.delivery = xstrdup(r->delivery);
	if (r->digest)
		r->rc = store_add_push(s, &b, d, &r->dup, &r->why, &e);
	else
		r->rc = store_add_build(s, &b, &r->dup, &e);
	if (r->rc < 0)
		fprintf(stderr, "%s\n", e.msg);
	r->id = b.id;
	build_release(&b);
	store_free(s);
	return NULL;
}

/* The other agent writes while a's transaction holds the same key: a commits (or
 * rolls back) once the other has had time to reach the key and wait on it. */
static void pg_race(struct store *a, struct pg_racer *r, int commit)
{
	struct err e = ERR_INIT;
	pthread_t t;

	assert_int_equal(pthread_create(&t, NULL, pg_racer_run, r), 0);
	usleep(300 * 1000);
	if (commit)
		assert_int_equal(store_commit(a, &e), 0);
	else
		store_rollback(a);
	pthread_join(t, NULL);
	assert_int_equal(r->rc, 0);
}

/* Two agents get the same delivery (or the same signed body under two delivery
 * ids) at once: the unique keys make one build of it, whichever read first; a
 * rolled back one leaves the delivery to the other. */
static void test_pg_fleet_dedup(void **state)
{
	struct store *a = sf_store();
	struct err e = ERR_INIT;
	struct pg_racer r = { "f-1", 0, 0, 0, STORE_DUP_NONE, 0 };
	enum store_dup why;
	long long id, dup;

	(void)state;
	assert_int_equal(store_begin(a, &e), 0);
	id = add(a, "web", "refs/heads/race", "f-1", &dup);
	assert_true(id > 0);
	pg_race(a, &r, 1);
	assert_int_equal(r.id, 0);
	assert_int_equal(r.dup, id);

	/* the same signed body, another delivery id: a replay of a's build */
	r = (struct pg_racer){ "f-3", 42, 0, 0, STORE_DUP_NONE, 0 };
	assert_int_equal(store_begin(a, &e), 0);
	id = push(a, "web", "refs/heads/race", 5, 42, "f-2", &dup, &why);
	assert_true(id > 0);
	pg_race(a, &r, 1);
	assert_int_equal(r.id, 0);
	assert_int_equal(r.dup, id);
	assert_int_equal(r.why, STORE_DUP_REPLAY);
	/* f-3 was not kept: it is free for a build of its own */
	assert_int_equal(store_find_delivery(a, "web", "github", "f-3", &dup, &e), 1);

	/* the first one rolls back: the second one queues the build */
	r = (struct pg_racer){ "f-4", 0, 0, 0, STORE_DUP_NONE, 0 };
	assert_int_equal(store_begin(a, &e), 0);
	id = add(a, "web", "refs/heads/race", "f-4", &dup);
	pg_race(a, &r, 0);
	assert_true(r.id > id);
	assert_int_equal(r.dup, 0);
	assert_int_equal(store_find_delivery(a, "web", "github", "f-4", &dup, &e), 0);
	assert_int_equal(dup, r.id);
	store_free(a);
}

/* The running builds of mine: those this agent started, not another agent's (a
 * restarting agent takes back only its own); a build nobody started is nobody's. */
static size_t mine(struct store *s, int state, long long *first)
{
	struct store_filter f = STORE_FILTER_INIT;
	struct build_list l = BUILD_LIST_INIT;
	struct err e = ERR_INIT;
	size_t n;

	f.repo = "mine";
	f.state = state;
	f.mine = 1;
	assert_int_equal(store_list_builds(s, &f, &l, &e), 0);
	n = l.n;
	if (n)
		*first = l.items[0].id;
	build_list_release(&l);
	return n;
}

static void test_pg_mine(void **state)
{
	struct store *a = sf_store(), *b = sf_store(), *a2 = NULL;
	struct err e = ERR_INIT;
	long long dup, ida, idb, got = 0;

	(void)state;
	store_set_agent(a, "agent-a");
	store_set_agent(b, "agent-b");
	ida = add(a, "mine", "refs/heads/a", NULL, &dup);
	idb = add(a, "mine", "refs/heads/b", NULL, &dup);
	add(b, "mine", "refs/heads/c", NULL, &dup);
	assert_int_equal(store_set_running(a, ida, 0, NULL, &e), 0);
	assert_int_equal(store_set_running(b, idb, 0, NULL, &e), 0);
	assert_int_equal(mine(a, BUILD_RUNNING, &got), 1);
	assert_int_equal(got, ida);
	assert_int_equal(mine(b, -1, &got), 1);
	assert_int_equal(got, idb);
	/* the writer's connection records the same agent */
	assert_int_equal(store_reopen(a, sf_dir, &a2, &e), 0);
	assert_int_equal(mine(a2, BUILD_RUNNING, &got), 1);
	assert_int_equal(got, ida);
	store_free(a2);
	/* a requeued build stays the one who ran it */
	assert_int_equal(store_requeue(b, idb, "agent restarted", &e), 0);
	assert_int_equal(mine(b, BUILD_QUEUED, &got), 1);
	assert_int_equal(got, idb);
	assert_int_equal(mine(b, BUILD_RUNNING, &got), 0);
	store_set_agent(a, NULL);
	assert_int_equal(mine(a, -1, &got), 0);
	store_free(a);
	store_free(b);
}

/* A database of version 1 (before builds.agent and s2i_add_build) is brought up to
 * date on open. */
static void test_pg_migrate_up(void **state)
{
	struct store *s;
	struct err e = ERR_INIT;
	long long dup, id, got = 0, counts[BUILD_NSTATES];

	(void)state;
	s = sf_store();
	/* there before the counts were kept: counted when they start */
	add(s, "old", "refs/heads/up", NULL, &dup);
	store_free(s);
	pg_exec("DROP TABLE build_counts; DROP TRIGGER builds_count_insert ON builds; "
		"DROP TRIGGER builds_count_delete ON builds; DROP TRIGGER builds_count_update ON builds; "
		"DROP FUNCTION s2i_count_insert; DROP FUNCTION s2i_count_change; "
		"DROP TABLE build_logs; "
		"ALTER TABLE builds DROP COLUMN agent, DROP COLUMN untrusted, DROP COLUMN retry_of, "
		"DROP COLUMN lease_until, DROP COLUMN fence, DROP COLUMN queued_status, "
		"DROP COLUMN cancel_at; "
		"ALTER TABLE statuses DROP COLUMN claimed_by, DROP COLUMN claim_until, "
		"DROP COLUMN claim, DROP COLUMN unsure; "
		"DROP FUNCTION s2i_add_build; DROP TABLE agents; UPDATE s2i_schema SET version = 1");
	s = sf_store();
	store_set_agent(s, "agent-up");
	id = add(s, "mine", "refs/heads/up", NULL, &dup);
	assert_int_equal(store_set_running(s, id, 0, NULL, &e), 0);
	assert_int_equal(mine(s, BUILD_RUNNING, &got), 1);
	assert_int_equal(got, id);
	assert_int_equal(store_count_states(s, counts, &e), 0);
	assert_int_equal(counts[BUILD_QUEUED], 1);
	assert_int_equal(counts[BUILD_RUNNING], 1);
	store_free(s);
}

/* What a listening connection heard (store_heard_fn). */
struct heard {
	int log, cancel;
	long long id;
};

static void heard_fn(void *arg, enum store_heard what, long long id)
{
	struct heard *h = arg;

	if (what == STORE_HEARD_LOG)
		h->log++;
	else
		h->cancel++;
	h->id = id;
}

/* Waits (at most 5 s) until l hears of something, then what it heard into *h. */
static void heard_wait(struct store *l, struct heard *h)
{
	struct pollfd pfd = { store_listen_fd(l), POLLIN, 0 };
	int i;

	memset(h, 0, sizeof(*h));
	for (i = 0; i < 50 && !h->log && !h->cancel; i++) {
		if (poll(&pfd, 1, 100) < 0)
			break;
		assert_true(store_notified(l, heard_fn, h) >= 0);
	}
}

/* What store_notified said l heard (bits or'ed) until it heard nothing for 300 ms. */
static int heard_bits(struct store *l)
{
	struct pollfd pfd = { store_listen_fd(l), POLLIN, 0 };
	int rc, got = 0;

	while (poll(&pfd, 1, 300) > 0) {
		rc = store_notified(l, NULL, NULL);
		assert_true(rc >= 0);
		got |= rc;
	}
	return got;
}

/* A build queued wakes the schedulers and not the status posters, a commit status
 * queued the posters only: an agent does not read the outbox for every delivery. */
static void test_pg_heard_kinds(void **state)
{
	struct store *s = sf_store(), *l = NULL;
	struct err e = ERR_INIT;
	long long dup, id;

	(void)state;
	assert_int_equal(store_listen(s, &l, &e), 0);
	assert_non_null(l);
	heard_bits(l);
	id = add(s, "heard", "refs/heads/main", NULL, &dup);
	assert_int_equal(heard_bits(l), 1);
	assert_int_equal(store_status_add(s, id, "queued", "waiting", &e), 0);
	assert_int_equal(heard_bits(l), 4);
	assert_int_equal(store_begin(s, &e), 0);
	add(s, "heard", "refs/heads/other", NULL, &dup);
	assert_int_equal(store_status_add(s, id, "running", "building", &e), 0);
	assert_int_equal(store_commit(s, &e), 0);
	assert_int_equal(heard_bits(l), 1 | 4);
	store_free(l);
	store_free(s);
}

/* Forgets what l heard until it hears nothing for 300 ms. */
static void heard_quiet(struct store *l)
{
	struct pollfd pfd = { store_listen_fd(l), POLLIN, 0 };
	struct heard h;

	while (poll(&pfd, 1, 300) > 0)
		assert_true(store_notified(l, heard_fn, &h) >= 0);
}

/* The bytes of build id's log from pos on, read as a reader does (max a read). */
static char *log_text(struct store *s, long long id, struct store_log_pos *pos, size_t max)
{
	struct buf b = BUF_INIT(1 << 20);
	struct err e = ERR_INIT;
	int rc;

	while ((rc = store_log_read(s, id, pos, max, &b, &e)) == 0)
		;
	assert_int_equal(rc, 1);
	return buf_detach(&b, NULL);
}

/* A build's log in the store: appended in chunks by one agent, read whole or from
 * where a reader stopped by another, attempt after attempt; its end read alone;
 * bounded per build; the readers woken at the COMMIT; gone with its build. */
static void test_pg_log(void **state)
{
	struct store *a = sf_store(), *b = sf_store(), *l = NULL;
	struct store_log_pos pos = STORE_LOG_POS_INIT, pos2 = STORE_LOG_POS_INIT;
	struct buf tail = BUF_INIT(1 << 20);
	struct err e = ERR_INIT;
	struct heard h;
	long long dup, id, other, n = -1;
	size_t skipped = 0;
	char *t, sql[256];

	(void)state;
	id = add(a, "logs", "refs/heads/main", NULL, &dup);
	other = add(a, "logs", "refs/heads/other", NULL, &dup);
	assert_int_equal(store_set_running(a, id, 0, NULL, &e), 0);
	assert_int_equal(store_listen(b, &l, &e), 0);
	assert_non_null(l);
	assert_int_equal(store_log_stored(a, id, 1, &n, &e), 0);
	assert_int_equal(n, 0);
	assert_int_equal(store_log_read(b, id, &pos, 1024, &tail, &e), 1);
	/* a batch of lines is one chunk, and the listeners hear of it once committed */
	assert_int_equal(store_begin(a, &e), 0);
	assert_int_equal(store_log_append(a, id, 1, 0, "one\ntwo\n", 8, &e), 0);
	assert_int_equal(store_log_append(a, other, 1, 0, "elsewhere\n", 10, &e), 0);
	assert_int_equal(store_log_append(a, id, 1, 8, "three\n", 6, &e), 0);
	assert_int_equal(store_commit(a, &e), 0);
	heard_wait(l, &h);
	assert_true(h.log >= 1);
	assert_int_equal(h.cancel, 0);
	assert_int_equal(store_log_stored(a, id, 1, &n, &e), 0);
	assert_int_equal(n, 14);
	/* the same offset twice adds nothing */
	assert_int_equal(store_log_append(a, id, 1, 8, "three\n", 6, &e), 1);
	/* read by another agent: all of it, or a chunk at a time (max 1), from where
	 * the last read stopped */
	t = log_text(b, id, &pos, 1 << 20);
	assert_string_equal(t, "one\ntwo\nthree\n");
	free(t);
	assert_int_equal(store_log_read(b, id, &pos2, 1, &tail, &e), 0);
	assert_string_equal(tail.data, "one\ntwo\n");
	buf_reset(&tail);
	/* a second attempt's lines follow the first's */
	assert_int_equal(store_log_append(a, id, 2, 0, "again\n", 6, &e), 0);
	t = log_text(b, id, &pos, 1 << 20);
	assert_string_equal(t, "again\n");
	free(t);
	t = log_text(b, id, &pos2, 1);
	assert_string_equal(t, "three\nagain\n");
	free(t);
	assert_int_equal(pos.attempt, 2);
	assert_int_equal(pos.off, 6);
	/* the end alone: the last 8 bytes, and how many come before them */
	assert_int_equal(store_log_tail(b, id, 8, &tail, &skipped, &e), 0);
	assert_int_equal(tail.len, 8);
	assert_memory_equal(tail.data, "e\nagain\n", 8);
	assert_int_equal(skipped, 12);
	buf_reset(&tail);
	assert_int_equal(store_log_tail(b, id, 1 << 20, &tail, &skipped, &e), 0);
	assert_string_equal(tail.data, "one\ntwo\nthree\nagain\n");
	assert_int_equal(skipped, 0);
	buf_reset(&tail);
	/* bounded per build: a row that stands for a log at its cap, less 3 bytes */
	snprintf(sql, sizeof(sql), "INSERT INTO build_logs VALUES (%lld, 3, 0, %lld, 'x')", id,
		 STORE_LOG_MAX - 20 - 3);
	pg_exec(sql);
	assert_int_equal(store_log_append(a, id, 4, 0, "four", 4, &e), 1);
	assert_int_equal(store_log_append(a, id, 4, 0, "fou", 3, &e), 0);
	assert_int_equal(store_log_append(a, id, 4, 3, "r", 1, &e), 1);
	/* ended: the readers hear of it */
	heard_quiet(l);
	assert_int_equal(store_set_finished(a, id, BUILD_SUCCEEDED, NULL, NULL, NULL, &e), 0);
	heard_wait(l, &h);
	assert_true(h.log >= 1);
	assert_int_equal(h.id, id);
	/* pruned: its log goes with it, the other build's stays */
	assert_int_equal(store_keep_delete(b, id, &e), 0);
	assert_int_equal(store_log_stored(a, id, 1, &n, &e), 0);
	assert_int_equal(n, 0);
	pos = (struct store_log_pos)STORE_LOG_POS_INIT;
	assert_int_equal(store_log_read(b, id, &pos, 1024, &tail, &e), 1);
	assert_int_equal(store_log_tail(b, id, 1024, &tail, &skipped, &e), 1);
	t = log_text(b, other, &pos, 1024);
	assert_string_equal(t, "elsewhere\n");
	free(t);
	buf_release(&tail);
	store_free(l);
	store_free(a);
	store_free(b);
}

/* A cancel asked through one agent of a build another runs: only a running build,
 * the agents hear of it at the COMMIT, and only the one running it finds it. */
static void test_pg_cancel(void **state)
{
	struct store *a = sf_store(), *b = sf_store(), *l = NULL;
	struct err e = ERR_INIT;
	struct heard h;
	long long dup, id, ids[4];
	size_t n = 9;

	(void)state;
	store_set_agent(a, "agent-a");
	store_set_agent(b, "agent-b");
	id = add(a, "cancel", "refs/heads/main", NULL, &dup);
	assert_int_equal(store_listen(a, &l, &e), 0);
	assert_int_equal(store_cancel_ask(b, id, &e), 1);	/* queued: not asked */
	assert_int_equal(store_set_running(a, id, 0, NULL, &e), 0);
	assert_int_equal(store_cancel_pending(a, ids, 4, &n, &e), 0);
	assert_int_equal(n, 0);
	assert_int_equal(store_begin(b, &e), 0);
	assert_int_equal(store_cancel_ask(b, id, &e), 0);
	assert_int_equal(store_commit(b, &e), 0);
	heard_wait(l, &h);
	assert_int_equal(h.cancel, 1);
	assert_int_equal(h.id, id);
	assert_int_equal(store_cancel_pending(a, ids, 4, &n, &e), 0);
	assert_int_equal(n, 1);
	assert_int_equal(ids[0], id);
	assert_int_equal(store_cancel_pending(b, ids, 4, &n, &e), 0);
	assert_int_equal(n, 0);
	assert_int_equal(store_set_finished(a, id, BUILD_CANCELED, "canceled by request", NULL,
					    NULL, &e), 0);
	assert_int_equal(store_cancel_pending(a, ids, 4, &n, &e), 0);
	assert_int_equal(n, 0);
	assert_int_equal(store_cancel_ask(b, id, &e), 1);
	store_free(l);
	store_free(a);
	store_free(b);
}

/* The queued builds of repo that may start now: how many, the first's id. */
static size_t runnable(struct store *s, const char *repo, long long *first)
{
	struct store_filter f = STORE_FILTER_INIT;
	struct build_list l = BUILD_LIST_INIT;
	struct err e = ERR_INIT;
	size_t n;

	f.repo = repo;
	f.runnable = 1;
	f.oldest_first = 1;
	assert_int_equal(store_list_builds(s, &f, &l, &e), 0);
	n = l.n;
	*first = n ? l.items[0].id : 0;
	build_list_release(&l);
	return n;
}

/* A repository's builds start one at a time and in push order across agents: the
 * scheduler sees only what may start, and a claim that lost a race changes nothing. */
static void test_pg_claim_order(void **state)
{
	struct store *a = sf_store(), *b = sf_store();
	struct err e = ERR_INIT;
	long long dup, x1, x2, y1, got, fence;

	(void)state;
	store_set_agent(a, "agent-a");
	store_set_agent(b, "agent-b");
	x1 = add(a, "ord", "refs/heads/main", NULL, &dup);
	x2 = add(a, "ord", "refs/heads/main", NULL, &dup);
	y1 = add(b, "ord2", "refs/heads/main", NULL, &dup);
	assert_int_equal(runnable(b, "ord", &got), 1);
	assert_int_equal(got, x1);
	/* the newer one waits for the older */
	assert_int_equal(store_claim(b, x2, NULL, store_now_ms(), &fence, &e), 1);
	assert_int_equal(store_begin(a, &e), 0);
	assert_int_equal(store_claim(a, x1, "/logs/x1", store_now_ms(), &fence, &e), 0);
	assert_int_equal(store_commit(a, &e), 0);
	/* x1 runs on a: nothing of ord may start, on any agent; ord2 may */
	assert_int_equal(runnable(b, "ord", &got), 0);
	assert_int_equal(store_claim(b, x2, NULL, store_now_ms(), &fence, &e), 1);
	assert_int_equal(store_claim(b, x1, NULL, store_now_ms(), &fence, &e), 1);
	assert_int_equal(store_claim(b, y1, NULL, store_now_ms(), &fence, &e), 0);
	/* x1 ends: x2 is next, wherever */
	assert_int_equal(store_set_finished(a, x1, BUILD_SUCCEEDED, NULL, NULL, NULL, &e), 0);
	assert_int_equal(runnable(a, "ord", &got), 1);
	assert_int_equal(got, x2);
	assert_int_equal(store_begin(b, &e), 0);
	assert_int_equal(store_claim(b, x2, NULL, store_now_ms(), &fence, &e), 0);
	assert_int_equal(store_commit(b, &e), 0);
	assert_int_equal(runnable(a, "ord", &got), 0);
	store_free(a);
	store_free(b);
}

/* The status outbox on a shared store: a row is claimed by one agent at a time; the
 * other agents see it due when the claim ends and take it over then; the end of a
 * claim taken over changes nothing (its token is old). */
static void test_pg_status_claim(void **state)
{
	struct store *a = sf_store(), *b = sf_store();
	struct status_row ra[4], rb[4];
	struct err e = ERR_INIT;
	long long now = store_now_ms(), ttl = STATUS_CLAIM_SECONDS * 1000LL, old;

	(void)state;
	store_set_agent(a, "agent-a");
	store_set_agent(b, "agent-b");
	/* a build id no other test's builds reach: its statuses are a commit alone */
	assert_int_equal(store_status_add(a, 900071, "pending", "Build 900071 running", &e), 0);
	assert_int_equal(store_status_add(a, 900071, "success", "Build 900071 succeeded", &e), 0);
	assert_int_equal(heads(a, ra, 4), 1);
	assert_int_equal(heads(b, rb, 4), 1);
	assert_int_equal(ra[0].id, rb[0].id);
	assert_int_equal(store_status_claim(a, &ra[0], now, &e), 1);
	assert_true(ra[0].claim > 0);
	assert_false(ra[0].taken_over);
	/* b read it before a claimed it: b's claim finds it held */
	assert_int_equal(store_status_claim(b, &rb[0], now, &e), 0);
	assert_int_equal(rb[0].claim, 0);
	release_rows(rb, 1);
	/* to b (and to a) it is due when a's claim ends; the next status waits for it */
	assert_int_equal(heads(b, rb, 4), 1);
	assert_int_equal(rb[0].id, ra[0].id);
	assert_true(rb[0].next_at >= now + ttl);
	/* a token that is not a's ends nothing */
	assert_int_equal(store_status_done(b, rb[0].id, 0, &e), 0);
	assert_int_equal(store_status_retry(b, rb[0].id, ra[0].claim + 1, now, "x", &e), 0);
	release_rows(rb, 1);
	assert_int_equal(heads(b, rb, 4), 1);
	assert_int_equal(rb[0].id, ra[0].id);
	assert_int_equal(rb[0].attempts, 0);
	/* a dies: once its claim has ended, b takes the row over */
	assert_int_equal(store_status_claim(b, &rb[0], now + ttl - 1, &e), 0);
	assert_int_equal(store_status_claim(b, &rb[0], now + ttl, &e), 1);
	assert_true(rb[0].claim > ra[0].claim);
	assert_true(rb[0].taken_over);
	/* a comes back late: its end of the post is fenced off */
	old = ra[0].claim;
	assert_int_equal(store_status_retry(a, ra[0].id, old, now, "late", &e), 0);
	assert_int_equal(store_status_done(a, ra[0].id, old, &e), 0);
	release_rows(ra, 1);
	assert_int_equal(heads(a, ra, 4), 1);
	assert_int_equal(ra[0].id, rb[0].id);
	assert_int_equal(ra[0].attempts, 0);
	release_rows(ra, 1);
	/* b's post fails: it is free again after its backoff, for any agent */
	assert_int_equal(store_status_retry(b, rb[0].id, rb[0].claim, now + ttl + 5000, "503", &e), 0);
	release_rows(rb, 1);
	assert_int_equal(heads(a, ra, 4), 1);
	assert_int_equal(ra[0].next_at, now + ttl + 5000);
	assert_int_equal(ra[0].attempts, 1);
	assert_int_equal(store_status_claim(a, &ra[0], now + ttl + 4999, &e), 0);
	assert_int_equal(store_status_claim(a, &ra[0], now + ttl + 5000, &e), 1);
	assert_int_equal(ra[0].attempts, 1);
	/* a's claim ended no one's, but the post a made before it died may be on the
	 * forge all the same: this post too asks the forge first */
	assert_true(ra[0].taken_over);
	assert_int_equal(store_status_done(a, ra[0].id, ra[0].claim, &e), 0);
	release_rows(ra, 1);
	/* then the commit's next status */
	assert_int_equal(heads(b, rb, 4), 1);
	assert_string_equal(rb[0].state, "success");
	claim_done(b, &rb[0]);
	release_rows(rb, 1);
	assert_int_equal(heads(a, ra, 4), 0);
	store_free(a);
	store_free(b);
}

/* The running builds whose lease ran out, as seen by s: how many; the first's id,
 * fence and attempt into *b (released by the caller); *next: ms to the next expiry. */
static size_t expired(struct store *s, struct build *b, long long *next)
{
	struct build_list l = BUILD_LIST_INIT;
	struct err e = ERR_INIT;
	size_t n;

	assert_int_equal(store_lease_expired(s, 16, &l, next, &e), 0);
	n = l.n;
	if (n) {
		*b = l.items[0];
		memset(&l.items[0], 0, sizeof(l.items[0]));
	}
	build_list_release(&l);
	return n;
}

/* Leases: a claim holds a build for the lease with a new fencing number; its agent
 * renews it; once it runs out another agent takes the build over (run again, the
 * second time errored), which moves the number on: the stale holder can neither
 * renew nor write; push order holds through it; an agent takes back its own at once. */
static void test_pg_lease(void **state)
{
	struct store *a = sf_store(), *b = sf_store();
	struct build got = BUILD_INIT;
	struct err e = ERR_INIT;
	long long dup, x, y, f1, f2, f3, fy, fz, next, first, ids[1];
	int held[1];

	(void)state;
	store_set_agent(a, "lease-a");
	store_set_agent(b, "lease-b");
	store_set_lease(a, 60000);
	store_set_lease(b, 60000);
	x = add(a, "ls", "refs/heads/main", NULL, &dup);
	y = add(a, "ls", "refs/heads/main", NULL, &dup);
	assert_int_equal(store_begin(a, &e), 0);
	assert_int_equal(store_claim(a, x, NULL, store_now_ms(), &f1, &e), 0);
	assert_int_equal(store_commit(a, &e), 0);
	assert_true(f1 > 0);
	/* held: nothing to take over, the next expiry within the lease */
	assert_int_equal(expired(b, &got, &next), 0);
	assert_true(next > 0 && next <= 60000);
	assert_int_equal(store_take_over(b, x, f1, BUILD_QUEUED, "lease", &f2, &e), 1);
	ids[0] = x;
	assert_int_equal(store_lease_renew(a, ids, &f1, 1, held, &e), 0);
	assert_int_equal(held[0], 1);
	/* only its own agent renews it */
	assert_int_equal(store_lease_renew(b, ids, &f1, 1, held, &e), 0);
	assert_int_equal(held[0], 0);
	/* a short lease, not renewed in time: it runs out */
	store_set_lease(a, 1);
	assert_int_equal(store_lease_renew(a, ids, &f1, 1, held, &e), 0);
	assert_int_equal(held[0], 1);
	usleep(30 * 1000);
	assert_int_equal(expired(b, &got, &next), 1);
	assert_int_equal(got.id, x);
	assert_int_equal(got.fence, f1);
	assert_int_equal(got.attempt, 1);
	/* other tests' builds run with long leases */
	assert_true(next == -1 || next > 1000);
	build_release(&got);
	/* the holder may write while nobody took it over ... */
	assert_int_equal(store_begin(a, &e), 0);
	assert_int_equal(store_fence_check(a, x, f1, &e), 0);
	assert_int_equal(store_commit(a, &e), 0);
	/* ... not once someone did; two agents racing: one wins */
	assert_int_equal(store_take_over(b, x, f1, BUILD_QUEUED, "lease ran out", &f2, &e), 0);
	assert_int_equal(f2, f1 + 1);
	assert_int_equal(store_take_over(a, x, f1, BUILD_QUEUED, "lease ran out", &f3, &e), 1);
	assert_int_equal(store_begin(a, &e), 0);
	assert_int_equal(store_fence_check(a, x, f1, &e), 1);
	store_rollback(a);
	assert_int_equal(store_lease_renew(a, ids, &f1, 1, held, &e), 0);
	assert_int_equal(held[0], 0);
	assert_int_equal(store_get_build(b, x, &got, &e), 0);
	assert_int_equal(got.state, BUILD_QUEUED);
	assert_string_equal(got.reason, "lease ran out");
	assert_int_equal(got.started, 0);
	build_release(&got);
	/* push order: the build taken over runs before the newer one */
	assert_int_equal(runnable(b, "ls", &first), 1);
	assert_int_equal(first, x);
	assert_int_equal(store_claim(b, y, NULL, store_now_ms(), &fy, &e), 1);
	store_set_lease(b, 1);
	assert_int_equal(store_claim(b, x, NULL, store_now_ms(), &f3, &e), 0);
	assert_int_equal(f3, f2 + 1);
	usleep(30 * 1000);
	/* the second time its lease runs out it ends */
	assert_int_equal(expired(a, &got, &next), 1);
	assert_int_equal(got.attempt, 2);
	build_release(&got);
	assert_int_equal(store_take_over(a, x, f3, BUILD_ERRORED, "lease ran out twice", &f2, &e),
			 0);
	assert_int_equal(store_get_build(b, x, &got, &e), 0);
	assert_int_equal(got.state, BUILD_ERRORED);
	assert_true(got.finished > 0);
	build_release(&got);
	assert_int_equal(expired(a, &got, &next), 0);
	/* an agent's own build (its restart) is taken back before its lease runs out,
	 * by that agent only */
	store_set_lease(a, 60000);
	assert_int_equal(store_claim(a, y, NULL, store_now_ms(), &fy, &e), 0);
	assert_int_equal(store_take_over(b, y, fy, BUILD_QUEUED, "restart", &fz, &e), 1);
	assert_int_equal(store_take_over(a, y, fy, BUILD_QUEUED, "restart", &fz, &e), 0);
	assert_int_equal(fz, fy + 1);
	store_free(a);
	store_free(b);
}

/* A fleet's agents: each records itself and its labels; those heard of lately that
 * run builds are read back, an agent gone quiet or with no workers is not. */
static void test_pg_agents(void **state)
{
	struct store *a = sf_store(), *b = sf_store();
	struct strv live = STRV_INIT;
	struct err e = ERR_INIT;

	(void)state;
	store_set_agent(a, "agent-a");
	store_set_agent(b, "agent-b");
	assert_int_equal(store_agent_seen(a, "arch=amd64,disk=ssd", 2, &e), 0);
	assert_int_equal(store_agent_seen(b, "arch=arm64", 0, &e), 0);
	assert_int_equal(store_agents(b, 30000, &live, &e), 0);
	assert_int_equal(live.n, 1);
	assert_string_equal(live.items[0], "arch=amd64,disk=ssd");
	strv_clear(&live);
	/* b starts building, a's labels change: the last word counts */
	assert_int_equal(store_agent_seen(b, "arch=arm64", 1, &e), 0);
	assert_int_equal(store_agent_seen(a, "arch=amd64", 2, &e), 0);
	assert_int_equal(store_agents(a, 30000, &live, &e), 0);
	assert_int_equal(live.n, 2);
	assert_string_equal(live.items[0], "arch=amd64");
	assert_string_equal(live.items[1], "arch=arm64");
	strv_clear(&live);
	/* a has not been heard of for a minute */
	pg_exec("UPDATE agents SET seen = seen - 60000 WHERE id = 'agent-a'");
	assert_int_equal(store_agents(b, 30000, &live, &e), 0);
	assert_int_equal(live.n, 1);
	assert_string_equal(live.items[0], "arch=arm64");
	strv_clear(&live);
	store_free(a);
	store_free(b);
}

/* Agents claiming the outbox at the same moment: each claims what it finds due,
 * on its own connection, over and over until nothing is left. */
#define CLAIM_ROWS	60
struct claimer {
	struct store *c_store;
	long long c_got[CLAIM_ROWS];
	size_t c_n;
	int c_failed;
};

static void *claimer_run(void *arg)
{
	struct claimer *c = arg;
	struct status_row r[CLAIM_ROWS];
	struct err e = ERR_INIT;
	size_t n, i, due;
	int rounds, rc;

	for (rounds = 0; rounds < 1000 && !c->c_failed; rounds++) {
		if (store_status_heads(c->c_store, CLAIM_ROWS, r, &n, &e) < 0) {
			c->c_failed = 1;
			break;
		}
		/* every row is tried, also those shown held (as a late agent would); a
		 * claimed row is kept ("posted" forever), so none comes due twice */
		for (i = 0, due = 0; i < n; i++) {
			due += r[i].next_at <= store_now_ms();
			rc = store_status_claim(c->c_store, &r[i], store_now_ms(), &e);
			if (rc < 0 || (rc == 1 && c->c_n == CLAIM_ROWS))
				c->c_failed = 1;
			else if (rc == 1)
				c->c_got[c->c_n++] = r[i].id;
		}
		release_rows(r, n);
		if (!due)
			break;		/* all held */
	}
	return NULL;
}

static void test_pg_status_claim_race(void **state)
{
	struct claimer c[3] = { { .c_store = NULL } };
	struct store *s = sf_store();
	struct err e = ERR_INIT;
	pthread_t t[3];
	int seen[CLAIM_ROWS] = { 0 };
	long long first = 0;
	size_t i, k, total = 0;
	struct status_row r[1];

	(void)state;
	/* builds that do not exist: each row a commit of its own, so all are due */
	for (i = 0; i < CLAIM_ROWS; i++)
		assert_int_equal(store_status_add(s, 9000 + (long long)i, "pending", NULL, &e), 0);
	assert_int_equal(heads(s, r, 1), 1);
	first = r[0].id;
	release_rows(r, 1);
	for (k = 0; k < 3; k++) {
		c[k].c_store = sf_store();
		assert_int_equal(pthread_create(&t[k], NULL, claimer_run, &c[k]), 0);
	}
	for (k = 0; k < 3; k++)	/* all of them before any assert jumps out */
		pthread_join(t[k], NULL);
	for (k = 0; k < 3; k++) {
		assert_false(c[k].c_failed);
		for (i = 0; i < c[k].c_n; i++) {
			long long at = c[k].c_got[i] - first;

			assert_true(at >= 0 && at < CLAIM_ROWS);
			seen[at]++;
		}
		total += c[k].c_n;
		store_free(c[k].c_store);
	}
	/* every row claimed, and by one connection only */
	for (i = 0; i < CLAIM_ROWS; i++)
		assert_int_equal(seen[i], 1);
	assert_int_equal(total, CLAIM_ROWS);
	store_free(s);
}

/* Retention's picks and deletes (store_keep_*): never a build that has not ended, the
 * newest of its ref or one with a commit status still to post; by count and by age;
 * paged by id; a deleted build takes its delivery id and its state count along. */
static void test_keep(void **state)
{
	struct store *s = sf_store();
	struct store_keep k = { "kp", 2, 0, 0 };
	struct build b = BUILD_INIT;
	struct err e = ERR_INIT;
	long long ids[8], m1, m2, m3, m4, d1, q1, dup, c0[BUILD_NSTATES], c1[BUILD_NSTATES];
	char *repo = NULL;
	size_t n;

	(void)state;
	m1 = add(s, "kp", "refs/heads/main", "k-1", &dup);
	m2 = add(s, "kp", "refs/heads/main", "k-2", &dup);
	m3 = add(s, "kp", "refs/heads/main", "k-3", &dup);
	d1 = add(s, "kp", "refs/heads/dev", "k-4", &dup);
	m4 = add(s, "kp", "refs/heads/main", "k-5", &dup);
	q1 = add(s, "kq", "refs/heads/main", "k-6", &dup);
	add(s, "kq", "refs/heads/main", "k-7", &dup);
	assert_int_equal(store_set_finished_at(s, m1, BUILD_SUCCEEDED, NULL, NULL, NULL, 1000, &e), 0);
	assert_int_equal(store_set_finished_at(s, m2, BUILD_FAILED, "x", NULL, NULL, 1000, &e), 0);
	assert_int_equal(store_set_finished_at(s, m3, BUILD_CANCELED, "x", NULL, NULL, 5000, &e), 0);
	assert_int_equal(store_set_finished_at(s, d1, BUILD_SUCCEEDED, NULL, NULL, NULL, 1000, &e), 0);
	assert_int_equal(store_set_finished_at(s, q1, BUILD_ERRORED, "x", NULL, NULL, 1000, &e), 0);
	assert_int_equal(store_status_add(s, m2, "failure", "m2 failed", &e), 0);

	/* the repositories of the builds, in order */
	assert_int_equal(store_keep_next_repo(s, "", &repo, &e), 0);
	assert_string_equal(repo, "kp");
	free(repo);
	assert_int_equal(store_keep_next_repo(s, "kp", &repo, &e), 0);
	assert_string_equal(repo, "kq");
	free(repo);
	repo = NULL;
	assert_int_equal(store_keep_next_repo(s, "kq", &repo, &e), 1);
	assert_null(repo);

	/* keep 2: m3 and older may go; m2 has a status to post, d1 is dev's newest */
	assert_int_equal(store_keep_pick(s, &k, ids, 8, &n, &e), 0);
	assert_int_equal(n, 2);
	assert_int_equal(ids[0], m1);
	assert_int_equal(ids[1], m3);
	assert_int_equal(store_keep_pick(s, &k, ids, 1, &n, &e), 0);
	assert_int_equal(n, 1);
	assert_int_equal(ids[0], m1);
	k.after_id = m1;
	assert_int_equal(store_keep_pick(s, &k, ids, 8, &n, &e), 0);
	assert_int_equal(n, 1);
	assert_int_equal(ids[0], m3);
	/* by age only: what ended before 2000 */
	k.keep_builds = 0;
	k.after_id = 0;
	k.finished_before = 2000;
	assert_int_equal(store_keep_pick(s, &k, ids, 8, &n, &e), 0);
	assert_int_equal(n, 1);
	assert_int_equal(ids[0], m1);
	/* more to keep than there are builds: none */
	k.keep_builds = 50;
	k.finished_before = 0;
	assert_int_equal(store_keep_pick(s, &k, ids, 8, &n, &e), 0);
	assert_int_equal(n, 0);

	/* deleting: the build, its delivery id and its count go; twice is a no-op */
	assert_int_equal(store_count_states(s, c0, &e), 0);
	assert_int_equal(store_keep_delete(s, m1, &e), 0);
	assert_int_equal(store_get_build(s, m1, &b, &e), 1);
	assert_int_equal(store_find_delivery(s, "kp", "github", "k-1", &dup, &e), 1);
	assert_int_equal(store_find_delivery(s, "kp", "github", "k-3", &dup, &e), 0);
	assert_int_equal(store_count_states(s, c1, &e), 0);
	assert_int_equal(c1[BUILD_SUCCEEDED], c0[BUILD_SUCCEEDED] - 1);
	assert_int_equal(c1[BUILD_QUEUED], c0[BUILD_QUEUED]);
	assert_int_equal(store_keep_delete(s, m1, &e), 1);
	/* a build that has not ended is never deleted */
	assert_int_equal(store_keep_delete(s, m4, &e), 1);
	assert_int_equal(store_get_build(s, m4, &b, &e), 0);
	assert_int_equal(b.state, BUILD_QUEUED);
	build_release(&b);
	store_free(s);
}

/* the tests of both stores */
#define STORE_TESTS_COMMON \
	cmocka_unit_test(test_add_get_dup), \
	cmocka_unit_test_setup(test_push_replay, sf_remove_db), \
	cmocka_unit_test_setup(test_add_many, sf_remove_db), \
	cmocka_unit_test(test_add_commit_fails), \
	cmocka_unit_test(test_states_and_counts), \
	cmocka_unit_test(test_rollback), \
	cmocka_unit_test(test_list), \
	cmocka_unit_test(test_statuses), \
	cmocka_unit_test(test_statuses_per_commit), \
	cmocka_unit_test(test_claim_tag), \
	cmocka_unit_test_setup(test_keep, sf_remove_db)

int main(void)
{
	const struct CMUnitTest pg_tests[] = {
		STORE_TESTS_COMMON,
		cmocka_unit_test(test_pg_durable),
		cmocka_unit_test(test_pg_counts),
		cmocka_unit_test(test_pg_heard_kinds),
		cmocka_unit_test(test_pg_schema_newer),
		cmocka_unit_test(test_pg_fleet_dedup),
		cmocka_unit_test(test_pg_mine),
		cmocka_unit_test(test_pg_claim_order),
		cmocka_unit_test(test_pg_log),
		cmocka_unit_test(test_pg_cancel),
		cmocka_unit_test_setup(test_pg_status_claim, sf_remove_db),
		cmocka_unit_test_setup(test_pg_status_claim_race, sf_remove_db),
		cmocka_unit_test_setup(test_pg_agents, sf_remove_db),
		cmocka_unit_test(test_pg_lease),
		cmocka_unit_test_setup(test_pg_migrate_up, sf_remove_db),
		cmocka_unit_test_setup(test_pg_migrate_together, sf_remove_db),
		cmocka_unit_test(test_pg_password),
	};
	const struct CMUnitTest tests[] = {
		STORE_TESTS_COMMON,
		cmocka_unit_test(test_durable_connections),
		cmocka_unit_test(test_private_files),
		cmocka_unit_test_setup(test_untrusted_and_migration, sf_remove_db),
		cmocka_unit_test_setup(test_retry_of, sf_remove_db),
	};

	if (sf_pg_url())
		return cmocka_run_group_tests(pg_tests, sf_group_setup, sf_group_teardown);
	return cmocka_run_group_tests(tests, sf_group_setup, sf_group_teardown);
}
