/* Unit tests for store: builds, delivery idempotency, state changes and their
 * cached counts, commit statuses, reopening, and the JSON build object. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "buf.h"
#include "store.h"
#include "storefixture.h"

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
	struct store *s = sf_open();
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

static void test_push_replay(void **state)
{
	struct store *s = sf_open();
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
	s = sf_open();
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
	struct store *s = sf_open();
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
	s = sf_open();
	{
		long long again[BUILD_NSTATES];

		assert_int_equal(store_count_states(s, again, &e), 0);
		assert_memory_equal(counts, again, sizeof(again));
	}
	store_free(s);
}

static void test_rollback(void **state)
{
	struct store *s = sf_open();
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
	struct store *s = sf_open();
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

/* The one status due is build_id's, in state (or with description) unless NULL: posted. */
static void post_only_head(struct store *s, long long build_id, const char *state,
			   const char *description)
{
	struct status_row r[8];
	struct err e = ERR_INIT;
	size_t n = heads(s, r, 8);

	assert_int_equal(n, 1);
	assert_int_equal(r[0].build_id, build_id);
	if (state)
		assert_string_equal(r[0].state, state);
	if (description)
		assert_string_equal(r[0].description, description);
	assert_int_equal(store_status_done(s, r[0].id, &e), 0);
	release_rows(r, n);
}

static void test_statuses(void **state)
{
	struct status_row r[8];
	struct store *s = sf_open();
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
	assert_int_equal(store_status_retry(s, r[0].id, now + 60000, "502 bad gateway", &e), 0);
	release_rows(r, n);
	n = heads(s, r, 8);
	assert_int_equal(n, 2);
	assert_int_equal(r[0].build_id, 42);
	assert_true(r[0].next_at <= store_now_ms());
	assert_int_equal(store_status_done(s, r[0].id, &e), 0);
	assert_int_equal(r[1].build_id, 41);
	assert_int_equal(r[1].next_at, now + 60000);
	assert_int_equal(r[1].attempts, 1);
	assert_string_equal(r[1].last_error, "502 bad gateway");
	assert_int_equal(store_status_done(s, r[1].id, &e), 0);
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
	struct store *s = sf_open();
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
		assert_int_equal(store_status_done(s, r[i].id, &e), 0);
	assert_int_equal(store_status_done(s, r[0].id, &e), 0);
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
		assert_int_equal(store_status_done(s, r[i].id, &e), 0);
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
	struct store *s = sf_open();
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
	s = sf_open();
	assert_int_equal(store_claim_tag(s, "web", "web:release-1.0", "refs/heads/release/1.0", 4,
					 &owner, &e), 1);
	assert_string_equal(owner, "refs/heads/release-1.0");
	free(owner);
	store_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_get_dup),
		cmocka_unit_test_setup(test_push_replay, sf_remove_db),
		cmocka_unit_test(test_states_and_counts),
		cmocka_unit_test(test_rollback),
		cmocka_unit_test(test_list),
		cmocka_unit_test(test_statuses),
		cmocka_unit_test(test_statuses_per_commit),
		cmocka_unit_test(test_durable_connections),
		cmocka_unit_test(test_private_files),
		cmocka_unit_test(test_claim_tag),
	};

	return cmocka_run_group_tests(tests, sf_group_setup, sf_group_teardown);
}
