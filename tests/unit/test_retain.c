/* Unit tests for retain (and the store_keep_* queries under it): which builds a
 * retention pass deletes, by count and by age, what it always keeps, their logs,
 * deliveries and state counts, dry runs, and slices that stop and resume. */
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
#include "config.h"
#include "limits.h"
#include "retain.h"
#include "store.h"
#include "storefixture.h"

#define DAY	86400000LL
#define NOW	(1000 * DAY)
#define MAXB	16

/* One build of a case: oldest first, so its id is its index + 1. */
struct tb {
	const char *repo, *ref;
	enum build_state state;
	int days_ago;			/* when it finished (final states) */
	int status;			/* a commit status still to post */
};

struct tcase {
	const char *name;
	long keep_builds, keep_days;	/* repo "web"'s rules */
	long other_builds, other_days;	/* any other repository's */
	struct tb b[MAXB];
	const char *kept;		/* ids kept, "1,2,": in order */
};

#define OK	BUILD_SUCCEEDED
#define BAD	BUILD_FAILED
#define M	"refs/heads/main"
#define D	"refs/heads/dev"

static const struct tcase cases[] = {
	{ "by count: newest of each ref always kept", 2, 0, 0, 0,
	  { { "web", M, OK, 9, 0 }, { "web", M, BAD, 8, 0 }, { "web", D, OK, 7, 0 },
	    { "web", M, OK, 6, 0 }, { "web", M, OK, 5, 0 }, { "web", M, OK, 4, 0 } },
	  "3,5,6," },
	{ "by count: unfinished builds kept", 1, 0, 0, 0,
	  { { "web", M, BUILD_QUEUED, 0, 0 }, { "web", M, BUILD_RUNNING, 0, 0 },
	    { "web", M, BUILD_CANCELED, 3, 0 }, { "web", M, BUILD_ERRORED, 2, 0 },
	    { "web", M, OK, 1, 0 } },
	  "1,2,5," },
	{ "by age", 0, 10, 0, 0,
	  { { "web", M, OK, 30, 0 }, { "web", M, BAD, 11, 0 }, { "web", M, OK, 9, 0 },
	    { "web", D, OK, 40, 0 }, { "web", M, OK, 1, 0 } },
	  "3,4,5," },
	{ "either rule deletes", 3, 10, 0, 0,
	  { { "web", M, OK, 5, 0 }, { "web", M, OK, 4, 0 }, { "web", M, OK, 20, 0 },
	    { "web", M, OK, 3, 0 }, { "web", M, OK, 2, 0 } },
	  "4,5," },
	{ "both rules off: nothing", 0, 0, 0, 0,
	  { { "web", M, OK, 500, 0 }, { "web", M, OK, 400, 0 }, { "web", M, OK, 1, 0 } },
	  "1,2,3," },
	{ "a status still to post keeps its build", 1, 0, 0, 0,
	  { { "web", M, OK, 5, 1 }, { "web", M, OK, 4, 0 }, { "web", M, OK, 3, 0 } },
	  "1,3," },
	{ "repositories apart, unknown ones by [agent]'s rules", 1, 0, 2, 0,
	  { { "web", M, OK, 5, 0 }, { "api", M, OK, 5, 0 }, { "api", M, OK, 4, 0 },
	    { "web", M, OK, 4, 0 }, { "api", M, OK, 3, 0 }, { "api", M, OK, 2, 0 },
	    { "old", M, OK, 2, 0 }, { "old", M, OK, 1, 0 } },
	  "4,5,6,7,8," },
};

static void log_path(char *out, size_t n, long long id)
{
	snprintf(out, n, "%s/logs/%lld.log", sf_dir, id);
}

/* The builds of c with their logs (id bytes each) and deliveries. */
static size_t setup_case(struct store *s, const struct tcase *c)
{
	struct err e = ERR_INIT;
	char path[512];
	size_t i;

	snprintf(path, sizeof(path), "%s/logs", sf_dir);
	mkdir(path, 0750);
	for (i = 0; i < MAXB && c->b[i].repo; i++) {
		struct build b = BUILD_INIT;
		long long dup = 0;
		FILE *f;

		b.repo = xstrdup(c->b[i].repo);
		b.ref = xstrdup(c->b[i].ref);
		snprintf(b.sha, sizeof(b.sha), "%040zu", i);
		b.provider = xstrdup("github");
		b.delivery = xasprintf("d-%zu", i);
		assert_int_equal(store_add_build(s, &b, &dup, &e), 0);
		assert_int_equal(b.id, (long long)i + 1);
		build_release(&b);
		if (c->b[i].state != BUILD_QUEUED)
			assert_int_equal(store_set_running(s, (long long)i + 1, 0, NULL, &e), 0);
		if (store_state_final(c->b[i].state))
			assert_int_equal(store_set_finished_at(s, (long long)i + 1, c->b[i].state,
							       NULL, NULL, NULL,
							       NOW - c->b[i].days_ago * DAY, &e), 0);
		if (c->b[i].status)
			assert_int_equal(store_status_add(s, (long long)i + 1, "success", "x", &e), 0);
		log_path(path, sizeof(path), (long long)i + 1);
		assert_non_null(f = fopen(path, "w"));
		fprintf(f, "%*s", (int)i + 1, "");
		fclose(f);
	}
	return i;
}

static void policy_of(const struct tcase *c, struct retain_policy *p, struct retain_rule *web)
{
	memset(p, 0, sizeof(*p));
	web->repo = (char *)"web";
	web->keep_builds = c->keep_builds;
	web->keep_days = c->keep_days;
	p->rules = web;
	p->nrules = 1;
	p->other.keep_builds = c->other_builds;
	p->other.keep_days = c->other_days;
	p->logdir = xasprintf("%s/logs", sf_dir);
	p->trashdir = xasprintf("%s/logs/" RETAIN_TRASH, sf_dir);
	p->now_ms = NOW;
}

/* "1,3," of the builds that are still there; the logs go with the rows */
static char *survivors(struct store *s, size_t n)
{
	struct buf o = BUF_INIT(4096);
	struct err e = ERR_INIT;
	char path[512];
	size_t i;

	for (i = 1; i <= n; i++) {
		struct build b = BUILD_INIT;
		int rc = store_get_build(s, (long long)i, &b, &e);

		assert_true(rc >= 0);
		log_path(path, sizeof(path), (long long)i);
		assert_int_equal(access(path, F_OK) == 0, rc == 0);
		if (rc == 0)
			buf_addf(&o, "%zu,", i);
		build_release(&b);
	}
	return buf_detach(&o, NULL);
}

static void clear_case(size_t n)
{
	char path[512];
	size_t i;

	for (i = 1; i <= n; i++) {
		log_path(path, sizeof(path), (long long)i);
		unlink(path);
	}
	snprintf(path, sizeof(path), "%s/logs", sf_dir);
	rmdir(path);
	sf_remove_db(NULL);
}

static size_t count_list(const char *l)
{
	size_t n = 0;

	while ((l = strchr(l, ','))) {
		n++;
		l++;
	}
	return n;
}

static int in_list(const char *l, long long id)
{
	char *end;

	while (*l) {
		if (strtoll(l, &end, 10) == id)
			return 1;
		l = end + 1;
	}
	return 0;
}

static long long total(struct store *s)
{
	long long counts[BUILD_NSTATES], n = 0;
	int i;

	store_count_states(s, counts, NULL);
	for (i = 0; i < BUILD_NSTATES; i++)
		n += counts[i];
	return n;
}

static void test_rules(void **state)
{
	size_t k;

	(void)state;
	for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		const struct tcase *c = &cases[k];
		struct retain_cursor cur = RETAIN_CURSOR_INIT;
		struct retain_tally dry = { 0, 0, 0 }, t = { 0, 0, 0 };
		struct retain_policy p;
		struct retain_rule web;
		struct store *s = sf_store();
		struct err e = ERR_INIT;
		size_t n = setup_case(s, c);
		long long before = total(s), id, files = -1;
		char *got;
		int rc;

		policy_of(c, &p, &web);
		/* a dry run deletes nothing and counts what the real one frees */
		assert_int_equal(retain_slice(s, &p, &cur, 1, 1000, 0, &dry, &e), 0);
		assert_null(cur.repo);
		assert_int_equal(total(s), before);
		assert_int_equal(count_list(got = survivors(s, n)), n);
		free(got);
		assert_int_equal(retain_slice(s, &p, &cur, 0, 1000, 0, &t, &e), 0);
		got = survivors(s, n);
		if (strcmp(got, c->kept) != 0)
			fail_msg("%s: kept %s, expected %s", c->name, got, c->kept);
		assert_int_equal(t.rows, dry.rows);
		assert_int_equal(t.logs, t.rows);
		assert_int_equal(t.bytes, dry.bytes);
		assert_int_equal(total(s), before - t.rows);
		/* the logs wait in the trash, out of the transaction's way, until emptied */
		assert_int_equal(retain_trash_empty(p.trashdir, &files), 0);
		assert_int_equal(files, t.logs);
		assert_int_equal(retain_trash_empty(p.trashdir, &files), 0);
		assert_int_equal(files, 0);
		/* a deleted build's delivery is forgotten, a kept one's is not */
		for (id = 1; id <= (long long)n; id++) {
			char d[32];
			long long found = 0;

			snprintf(d, sizeof(d), "d-%lld", id - 1);
			rc = store_find_delivery(s, c->b[id - 1].repo, "github", d, &found, &e);
			assert_int_equal(rc, in_list(got, id) ? 0 : 1);
		}
		free(got);
		/* a second pass finds nothing more */
		t = (struct retain_tally){ 0, 0, 0 };
		assert_int_equal(retain_slice(s, &p, &cur, 0, 1000, 0, &t, &e), 0);
		assert_int_equal(t.rows, 0);
		free(p.logdir);
	free(p.trashdir);
		store_free(s);
		clear_case(n);
	}
}

/* One row per slice: it stops at max_rows and at its deadline, and the next slice
 * goes on where it stopped, across repositories, to the same end. */
static void test_slices(void **state)
{
	const struct tcase *c = &cases[6];	/* three repositories */
	struct retain_cursor cur = RETAIN_CURSOR_INIT;
	struct retain_tally t = { 0, 0, 0 };
	struct retain_policy p;
	struct retain_rule web;
	struct store *s = sf_store();
	struct err e = ERR_INIT;
	size_t n = setup_case(s, c), slices = 0;
	char *got;
	int rc;

	(void)state;
	policy_of(c, &p, &web);
	do {
		rc = retain_slice(s, &p, &cur, 0, 1, 0, &t, &e);
		assert_true(rc >= 0);
		slices++;
	} while (rc > 0 && slices < 100);
	assert_int_equal(rc, 0);
	assert_true(slices > 3);		/* 3 rows, one a slice, plus the end */
	assert_int_equal(t.rows, 3);
	got = survivors(s, n);
	assert_string_equal(got, c->kept);
	free(got);
	free(p.logdir);
	free(p.trashdir);
	store_free(s);
	clear_case(n);

	/* a deadline already past: one row, then the slice gives back */
	s = sf_store();
	n = setup_case(s, &cases[0]);
	policy_of(&cases[0], &p, &web);
	t = (struct retain_tally){ 0, 0, 0 };
	assert_int_equal(retain_slice(s, &p, &cur, 0, 1000, retain_clock_ms() - 1, &t, &e), 1);
	assert_int_equal(t.rows, 1);
	assert_int_equal(retain_slice(s, &p, &cur, 0, 1000, 0, &t, &e), 0);
	assert_int_equal(t.rows, 3);
	free(p.logdir);
	free(p.trashdir);
	store_free(s);
	clear_case(n);
}

/* [repo] keys inherit [agent]'s, and the policy copies them. */
static void test_policy(void **state)
{
	char path[512];
	struct strv errors = STRV_INIT;
	struct config *c = NULL;
	struct retain_policy *p;
	FILE *f;

	(void)state;
	snprintf(path, sizeof(path), "%s/agent.conf", sf_dir);
	assert_non_null(f = fopen(path, "w"));
	fprintf(f, "[agent]\nstate_dir = %s\nkeep_days = 0\n"
		"[repo \"a\"]\nurl = /srv/a.git\nbuilder = b\nsecret_file = %s/s\nkeep_builds = 7\n"
		"[repo \"b\"]\nurl = /srv/b.git\nbuilder = b\nsecret_file = %s/s\nkeep_days = 3\n",
		sf_dir, sf_dir, sf_dir);
	fclose(f);
	snprintf(path, sizeof(path), "%s/s", sf_dir);
	assert_non_null(f = fopen(path, "w"));
	fputs("0123456789abcdef0123\n", f);
	fclose(f);
	chmod(path, 0600);
	snprintf(path, sizeof(path), "%s/agent.conf", sf_dir);
	if (config_load(path, &c, &errors) < 0)
		fail_msg("%s", errors.items[0]);
	p = retain_policy_new(c, NOW);
	assert_int_equal(p->nrules, 2);
	assert_string_equal(p->rules[0].repo, "a");
	assert_int_equal(p->rules[0].keep_builds, 7);
	assert_int_equal(p->rules[0].keep_days, 0);
	assert_int_equal(p->rules[1].keep_builds, CONFIG_DEFAULT_KEEP_BUILDS);
	assert_int_equal(p->rules[1].keep_days, 3);
	assert_int_equal(p->other.keep_builds, CONFIG_DEFAULT_KEEP_BUILDS);
	assert_int_equal(p->other.keep_days, 0);
	retain_policy_free(p);
	config_free(c);
	unlink(path);
	snprintf(path, sizeof(path), "%s/s", sf_dir);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_rules, sf_remove_db),
		cmocka_unit_test_setup(test_slices, sf_remove_db),
		cmocka_unit_test(test_policy),
	};

	return cmocka_run_group_tests(tests, sf_group_setup, sf_group_teardown);
}
