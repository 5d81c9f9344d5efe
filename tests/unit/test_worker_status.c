/* Unit tests for worker_status: commit status descriptions and who gets them. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "buf.h"
#include "worker_int.h"

static void test_desc(void **state)
{
	static const struct {
		enum build_state state;
		const char *reason;
		long long ms;
		const char *want;
	} cases[] = {
		{ BUILD_QUEUED, "ignored", 0, "Build 7 queued" },
		{ BUILD_RUNNING, NULL, 0, "Build 7 running" },
		{ BUILD_SUCCEEDED, NULL, 0, "Build 7 succeeded in 0s" },
		{ BUILD_SUCCEEDED, NULL, 1499, "Build 7 succeeded in 1s" },
		{ BUILD_SUCCEEDED, NULL, 1500, "Build 7 succeeded in 2s" },
		{ BUILD_FAILED, "assemble exited with 1", 9000,
		  "Build 7 failed: assemble exited with 1" },
		{ BUILD_ERRORED, "", 0, "Build 7 errored" },
		{ BUILD_CANCELED, NULL, 0, "Build 7 canceled" },
		{ BUILD_CANCELED, "superseded by build 8", 0,
		  "Build 7 canceled: superseded by build 8" },
	};
	size_t i;
	char *d;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		d = worker_status_desc(7, cases[i].state, cases[i].reason, cases[i].ms);
		assert_string_equal(d, cases[i].want);
		free(d);
	}
}

/* Statuses go to repositories with a status setting, for builds whose commit is known. */
static void test_want(void **state)
{
	struct repo_conf web = { .name = "web", .status = STATUS_GITLAB };
	struct repo_conf quiet = { .name = "quiet", .status = STATUS_NONE };
	struct repo_conf *repos[] = { &web, &quiet };
	struct config cfg = { .repos = repos, .nrepos = 2 };
	struct worker *w = worker_new(NULL, NULL, NULL, &cfg);
	struct wop *o = worker_op_new(WOP_FINISH, 3);

	(void)state;
	assert_true(worker_status_on(w, "web"));
	assert_false(worker_status_on(w, "quiet"));
	assert_false(worker_status_on(w, "gone"));
	assert_false(worker_status_on(w, NULL));
	assert_true(worker_status_want(w, "web", "0123"));
	assert_false(worker_status_want(w, "web", ""));
	assert_false(worker_status_want(w, "web", NULL));
	assert_false(worker_status_want(w, "quiet", "0123"));

	worker_op_status(w, o, "quiet", "0123", BUILD_FAILED, "boom", 0);
	assert_null(o->o_st_desc);
	worker_op_status(w, o, "web", "0123", BUILD_RUNNING, NULL, 0);
	worker_op_status(w, o, "web", "0123", BUILD_FAILED, "boom", 0);	/* the last wins */
	assert_string_equal(o->o_st_state, "failed");
	assert_string_equal(o->o_st_desc, "Build 3 failed: boom");
	worker_op_free(o);
	worker_free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_desc),
		cmocka_unit_test(test_want),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
