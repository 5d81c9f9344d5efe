/* Unit tests for worker_status: commit status descriptions, who gets them, the post timer. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <event2/event.h>

#include "buf.h"
#include "limits.h"
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

static void noop_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

/* When the post timer fires, in ms from now. */
static long long fires_in_ms(struct worker *w)
{
	struct timeval at, now;

	assert_true(evtimer_pending(w->w_status_ev, &at));
	assert_int_equal(event_base_gettimeofday_cached(w->w_base, &now), 0);
	return ((long long)at.tv_sec - now.tv_sec) * 1000 + (at.tv_usec - now.tv_usec) / 1000;
}

/* lo <= v <= hi, signed (cmocka's assert_in_range is unsigned); a few ms of slack above:
 * libevent maps its monotonic clock to the time of day */
#define assert_fires_in(w, lo, hi) do { \
		long long ms_ = fires_in_ms(w); \
		if (ms_ < (lo) || ms_ > (hi) + 5) \
			fail_msg("fires in %lld ms, not in [%lld, %lld]", ms_, (long long)(lo), \
				 (long long)(hi)); \
	} while (0)

/* A wake-up already armed for earlier is kept; "now" always wins; the wait is capped. */
static void test_kick(void **state)
{
	struct config cfg = { .nrepos = 0 };
	struct event_base *base = event_base_new();
	struct worker *w = worker_new(base, NULL, NULL, &cfg);

	(void)state;
	w->w_status_ev = evtimer_new(base, noop_cb, NULL);
	worker_status_kick(w, (long long)STATUS_RETRY_MAX * 1000 * 10);
	assert_fires_in(w, STATUS_RETRY_MAX * 1000 - 100, STATUS_RETRY_MAX * 1000);
	worker_status_kick(w, 2000);
	assert_fires_in(w, 1900, 2000);
	worker_status_kick(w, 60000);		/* later: the armed one stays */
	assert_fires_in(w, 1900, 2000);
	worker_status_kick(w, 1000);		/* sooner: it replaces it */
	assert_fires_in(w, 900, 1000);
	worker_status_kick(w, 0);
	assert_fires_in(w, -100, 0);
	worker_status_kick(w, 500);
	assert_fires_in(w, -100, 0);
	w->w_stopping = 1;			/* stopping: no post is armed any more */
	evtimer_del(w->w_status_ev);
	worker_status_kick(w, 0);
	assert_false(evtimer_pending(w->w_status_ev, NULL));
	worker_free(w);
	event_base_free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_desc),
		cmocka_unit_test(test_want),
		cmocka_unit_test(test_kick),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
