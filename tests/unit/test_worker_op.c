/* Unit tests for worker_op: the worker's writes of each kind against the store fixture,
 * and a status post pass whose reads the database fails. */
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

#include <event2/event.h>
#include <sqlite3.h>

#include "batch.h"
#include "buf.h"
#include "store.h"
#include "storefixture.h"
#include "worker_int.h"

#define SHA_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SHA_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

/* "web" posts commit statuses and cancels superseded builds; "quiet" does neither. */
static struct repo_conf rc_web, rc_quiet;
static struct repo_conf *repos[] = { &rc_web, &rc_quiet };
static struct config cfg;
static char logdir[256], case_log[256];

struct fx {
	struct event_base *base;
	struct store *st;
	struct worker *w;
};

static int group_setup(void **state)
{
	if (sf_group_setup(state) < 0)
		return -1;
	snprintf(logdir, sizeof(logdir), "%s/logs", sf_dir);
	snprintf(case_log, sizeof(case_log), "%s/case.log", sf_dir);
	rc_web.name = "web";
	rc_web.status = STATUS_GITHUB;
	rc_web.cancel_superseded = 1;
	rc_quiet.name = "quiet";
	rc_quiet.status = STATUS_NONE;
	cfg.state_dir = sf_dir;
	cfg.public_url = "http://agent.test";
	cfg.workers = 2;
	cfg.repos = repos;
	cfg.nrepos = sizeof(repos) / sizeof(repos[0]);
	return mkdir(logdir, 0750);
}

static int group_teardown(void **state)
{
	rmdir(logdir);
	return sf_group_teardown(state);
}

/* A fresh database and a worker on it, without HTTP (no w_http, no w_batch). */
static int setup(void **state)
{
	struct fx *f = xcalloc(1, sizeof(*f));
	struct err e = ERR_INIT;

	sf_remove_db(state);
	unlink(case_log);
	f->base = event_base_new();
	if (!f->base || store_open(sf_dir, &f->st, &e) < 0)
		return -1;
	f->w = worker_new(f->base, f->st, NULL, &cfg);
	f->w->w_logdir = xstrdup(logdir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	worker_free(f->w);
	store_free(f->st);
	event_base_free(f->base);
	free(f);
	unlink(case_log);
	return 0;
}

/* A build of repo at ref (with a commit or not), brought to state. */
static long long mkbuild(struct store *st, const char *repo, const char *ref, const char *sha,
			 enum build_state state)
{
	struct build b = BUILD_INIT;
	struct err e = ERR_INIT;
	long long dup = 0, id;

	b.repo = xstrdup(repo);
	b.ref = xstrdup(ref);
	snprintf(b.sha, sizeof(b.sha), "%s", sha ? sha : "");
	b.provider = xstrdup("github");
	assert_int_equal(store_add_build(st, &b, &dup, &e), 0);
	id = b.id;
	build_release(&b);
	if (state != BUILD_QUEUED && state != BUILD_CANCELED)
		assert_int_equal(store_set_running(st, id, 0, NULL, &e), 0);
	if (store_state_final(state))
		assert_int_equal(store_set_finished(st, id, state, "earlier", NULL, NULL, &e), 0);
	return id;
}

static struct build getbuild(struct store *st, long long id)
{
	struct build b = BUILD_INIT;
	struct err e = ERR_INIT;

	assert_int_equal(store_get_build(st, id, &b, &e), 0);
	return b;
}

static enum build_state state_of(struct store *st, long long id)
{
	struct build b = getbuild(st, id);
	enum build_state s = b.state;

	build_release(&b);
	return s;
}

/* The commit statuses waiting for build id, "state:description" joined by ';'
 * (through a connection of its own, as the next start would see them). */
static char *statuses(long long id)
{
	char *path = xasprintf("%s/agent.db", sf_dir);
	struct buf out = BUF_INIT(4096);
	sqlite3 *db = NULL;
	sqlite3_stmt *q = NULL;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT state, description FROM statuses "
					    "WHERE build_id = ?1 ORDER BY id", -1, &q, NULL),
			 SQLITE_OK);
	sqlite3_bind_int64(q, 1, id);
	while (sqlite3_step(q) == SQLITE_ROW)
		buf_addf(&out, "%s%s:%s", out.len ? ";" : "", sqlite3_column_text(q, 0),
			 sqlite3_column_text(q, 1));
	sqlite3_finalize(q);
	sqlite3_close(db);
	free(path);
	return buf_detach(&out, NULL);
}

static void assert_statuses(long long id, const char *want)
{
	char *got = statuses(id);

	assert_string_equal(got, want);
	free(got);
}

/* 1 when path holds line (as a line of its own). */
static int log_has(const char *path, const char *line)
{
	char text[4096], *want;
	FILE *fp = fopen(path, "r");
	size_t n;
	int has;

	if (!fp)
		return 0;
	n = fread(text, 1, sizeof(text) - 1, fp);
	fclose(fp);
	text[n] = '\0';
	want = xasprintf("%s\n", line);
	has = strstr(text, want) != NULL;
	free(want);
	return has;
}

/* ---------- the writer's half of each kind ---------- */

struct run_case {
	const char *name;
	const char *sha;		/* the build's commit before (NULL: not known yet) */
	enum build_state from;
	enum wop_kind kind;
	enum build_state to;		/* FINISH, CLOSE: the end it records */
	int status;			/* queue the commit status of `to` (or running) with it */
	int line_always;		/* its log line is written even when nothing changed */
	int want_rc;			/* o_rc: 1 when nothing changed */
	enum build_state want;
	const char *want_statuses;
	int want_logged;
};

static const struct run_case run_cases[] = {
	{ "start a queued build", SHA_A, BUILD_QUEUED, WOP_START, 0, 1, 0,
	  0, BUILD_RUNNING, "running:Build 1 running", 1 },
	{ "start a build canceled meanwhile", SHA_A, BUILD_CANCELED, WOP_START, 0, 1, 0,
	  1, BUILD_CANCELED, "", 0 },
	{ "its process, running", SHA_A, BUILD_RUNNING, WOP_PID, 0, 0, 0,
	  0, BUILD_RUNNING, "", 1 },
	{ "its process, no longer running", SHA_A, BUILD_SUCCEEDED, WOP_PID, 0, 0, 0,
	  1, BUILD_SUCCEEDED, "", 0 },
	{ "a ref resolved: queued and running statuses", NULL, BUILD_RUNNING, WOP_SHA, 0, 1, 0,
	  0, BUILD_RUNNING, "queued:Build 1 queued;running:Build 1 running", 1 },
	{ "a ref resolved after the build ended: no statuses", NULL, BUILD_CANCELED, WOP_SHA, 0,
	  1, 0, 0, BUILD_CANCELED, "", 1 },
	{ "a commit known already", SHA_A, BUILD_RUNNING, WOP_SHA, 0, 1, 0,
	  1, BUILD_RUNNING, "", 0 },
	{ "a build's end", SHA_A, BUILD_RUNNING, WOP_FINISH, BUILD_FAILED, 1, 1,
	  0, BUILD_FAILED, "failed:Build 1 failed: boom", 1 },
	{ "an end without a commit: no status", NULL, BUILD_RUNNING, WOP_FINISH, BUILD_ERRORED,
	  1, 1, 0, BUILD_ERRORED, "", 1 },
	{ "an end recorded twice: its line still", SHA_A, BUILD_SUCCEEDED, WOP_FINISH,
	  BUILD_FAILED, 1, 1, 1, BUILD_SUCCEEDED, "", 1 },
	{ "close a queued build", SHA_A, BUILD_QUEUED, WOP_CLOSE, BUILD_CANCELED, 1, 0,
	  0, BUILD_CANCELED, "canceled:Build 1 canceled: boom", 1 },
	{ "close a build that ended", SHA_A, BUILD_SUCCEEDED, WOP_CLOSE, BUILD_CANCELED, 1, 0,
	  1, BUILD_SUCCEEDED, "", 0 },
	{ "requeue a running build", SHA_A, BUILD_RUNNING, WOP_REQUEUE, 0, 0, 1,
	  0, BUILD_QUEUED, "", 1 },
	{ "requeue a build that ended", SHA_A, BUILD_FAILED, WOP_REQUEUE, 0, 0, 1,
	  1, BUILD_FAILED, "", 1 },
};

static void test_run_kinds(void **state)
{
	struct fx *f = *state;
	struct err e = ERR_INIT;
	size_t i;

	for (i = 0; i < sizeof(run_cases) / sizeof(run_cases[0]); i++) {
		const struct run_case *c = &run_cases[i];
		struct wop *o;
		struct build b;
		long long id;

		print_message("%s\n", c->name);
		id = mkbuild(f->st, "web", "refs/heads/main", c->sha, c->from);
		assert_int_equal(id, 1);
		o = worker_op_new(c->kind, id);
		o->o_state = c->to;
		o->o_reason = xstrdup("boom");
		o->o_image = xstrdup("web:main");
		o->o_time = store_now_ms();
		o->o_pid = 4242;
		snprintf(o->o_sha, sizeof(o->o_sha), "%s", SHA_B);
		o->o_log = xstrdup(case_log);
		o->o_line = xstrdup("==> a line of its own");
		o->o_line_always = c->line_always;
		if (c->kind == WOP_SHA)
			o->o_st_queued = worker_status_desc(id, BUILD_QUEUED, NULL, 0);
		if (c->status)
			worker_op_status(f->w, o, "web", c->kind == WOP_SHA ? SHA_B : c->sha,
					 c->to ? c->to : BUILD_RUNNING, "boom", 0);
		assert_int_equal(worker_op_run(f->st, o, &e), 0);
		assert_int_equal(o->o_rc, c->want_rc);
		assert_int_equal(o->o_logged, c->want_logged);
		assert_int_equal(log_has(case_log, "==> a line of its own"), c->want_logged);
		b = getbuild(f->st, id);
		assert_int_equal(b.state, c->want);
		if (c->kind == WOP_PID)
			assert_int_equal(b.pid, c->want_rc ? 0 : 4242);
		if (c->kind == WOP_SHA)
			assert_string_equal(b.sha, c->sha ? c->sha : SHA_B);
		if (c->kind == WOP_START && !c->want_rc)
			assert_int_equal(b.attempt, 1);
		if (c->kind == WOP_FINISH && !c->want_rc)
			assert_string_equal(b.reason, "boom");
		build_release(&b);
		assert_statuses(id, c->want_statuses);
		worker_op_free(o);
		/* a fresh database for the next case: its build is build 1 again */
		assert_int_equal(teardown(state), 0);
		assert_int_equal(setup(state), 0);
		f = *state;
	}
}

/* New builds of one ref: their queued statuses, and the older queued ones canceled. */
static void test_run_queued(void **state)
{
	struct fx *f = *state;
	struct err e = ERR_INIT;
	long long old, ended, b1, b2, other, quiet;
	struct wop *o;

	old = mkbuild(f->st, "web", "refs/heads/main", SHA_A, BUILD_QUEUED);
	ended = mkbuild(f->st, "web", "refs/heads/main", SHA_A, BUILD_CANCELED);
	b1 = mkbuild(f->st, "web", "refs/heads/main", SHA_A, BUILD_QUEUED);
	b2 = mkbuild(f->st, "web", "refs/heads/main", SHA_B, BUILD_QUEUED);
	other = mkbuild(f->st, "web", "refs/heads/dev", SHA_A, BUILD_QUEUED);
	quiet = mkbuild(f->st, "quiet", "refs/heads/main", SHA_A, BUILD_QUEUED);

	o = worker_op_new(WOP_QUEUED, b2);
	o->o_repo = xstrdup("web");
	o->o_ref = xstrdup("refs/heads/main");
	o->o_ids = xcalloc(3, sizeof(*o->o_ids));
	o->o_descs = xcalloc(3, sizeof(*o->o_descs));
	o->o_ids[o->o_n] = ended;	/* canceled before its status was written: none */
	o->o_descs[o->o_n++] = worker_status_desc(ended, BUILD_QUEUED, NULL, 0);
	o->o_ids[o->o_n] = b1;
	o->o_descs[o->o_n++] = worker_status_desc(b1, BUILD_QUEUED, NULL, 0);
	o->o_ids[o->o_n++] = b2;	/* no desc: its repository posted none */
	o->o_supersede = 1;
	o->o_status_on = 1;
	assert_int_equal(worker_op_run(f->st, o, &e), 0);
	assert_int_equal(o->o_rc, 0);

	assert_int_equal(o->o_ncanceled, 2);
	assert_int_equal(o->o_canceled[0], old);
	assert_int_equal(o->o_canceled[1], b1);
	assert_int_equal(state_of(f->st, old), BUILD_CANCELED);
	assert_int_equal(state_of(f->st, b1), BUILD_CANCELED);
	assert_int_equal(state_of(f->st, b2), BUILD_QUEUED);
	assert_int_equal(state_of(f->st, other), BUILD_QUEUED);
	assert_int_equal(state_of(f->st, quiet), BUILD_QUEUED);
	assert_statuses(old, "canceled:Build 1 canceled: superseded by build 4");
	assert_statuses(ended, "");
	assert_statuses(b1, "queued:Build 3 queued;canceled:Build 3 canceled: superseded by build 4");
	assert_statuses(b2, "");
	assert_statuses(other, "");

	/* run again (a retry after a refused commit): nothing is canceled twice */
	assert_int_equal(worker_op_run(f->st, o, &e), 0);
	assert_int_equal(o->o_ncanceled, 0);
	worker_op_free(o);
}

static void test_run_add(void **state)
{
	struct fx *f = *state;
	struct err e = ERR_INIT;
	struct wop *o = worker_op_new(WOP_ADD, 0);
	struct build b;

	mkbuild(f->st, "web", "refs/heads/main", SHA_A, BUILD_SUCCEEDED);
	o->o_build.repo = xstrdup("web");
	o->o_build.ref = xstrdup("refs/heads/main");
	snprintf(o->o_build.sha, sizeof(o->o_build.sha), "%s", SHA_B);
	o->o_build.provider = xstrdup("manual");
	assert_int_equal(worker_op_run(f->st, o, &e), 0);
	assert_int_equal(o->o_id, 2);
	assert_int_equal(o->o_build.id, 2);
	b = getbuild(f->st, 2);
	assert_int_equal(b.state, BUILD_QUEUED);
	assert_string_equal(b.provider, "manual");
	assert_string_equal(b.sha, SHA_B);
	build_release(&b);
	worker_op_free(o);
}

/* A status row posted goes; one to retry waits with its error. */
static void test_run_status_rows(void **state)
{
	struct fx *f = *state;
	struct err e = ERR_INIT;
	struct status_row rows[4];
	long long id = mkbuild(f->st, "web", "refs/heads/main", SHA_A, BUILD_RUNNING);
	long long later = store_now_ms() + 60000;
	size_t n = 0, i;
	struct wop *o;

	assert_int_equal(store_status_add(f->st, id, "queued", "Build 1 queued", &e), 0);
	assert_int_equal(store_status_add(f->st, id, "running", "Build 1 running", &e), 0);
	assert_int_equal(store_status_heads(f->st, 4, rows, &n, &e), 0);
	assert_int_equal(n, 1);

	o = worker_op_new(WOP_STATUS_RETRY, rows[0].id);
	o->o_time = later;
	o->o_reason = xstrdup("HTTP 502");
	assert_int_equal(worker_op_run(f->st, o, &e), 0);
	worker_op_free(o);
	status_row_release(&rows[0]);
	assert_int_equal(store_status_heads(f->st, 4, rows, &n, &e), 0);
	assert_int_equal(n, 1);
	assert_string_equal(rows[0].state, "queued");
	assert_int_equal(rows[0].attempts, 1);
	assert_int_equal(rows[0].next_at, later);
	assert_string_equal(rows[0].last_error, "HTTP 502");

	o = worker_op_new(WOP_STATUS_DONE, rows[0].id);
	assert_int_equal(worker_op_run(f->st, o, &e), 0);
	worker_op_free(o);
	for (i = 0; i < n; i++)
		status_row_release(&rows[i]);
	assert_statuses(id, "running:Build 1 running");
}

/* ---------- the loop's half: on disk ---------- */

/* A build's process in w's table, as worker_build_start leaves it. */
static struct wproc *mkproc(struct worker *w, enum wkind kind, long long id, int exited)
{
	struct wproc *p = worker_proc_new(w, kind);

	if (kind == WK_BUILD) {
		p->p_build.b_id = id;
		p->p_build.b_repo = xstrdup("web");
		p->p_build.b_ref = xstrdup("refs/heads/main");
		p->p_build.b_log = worker_log_path(w, id);
		p->p_build.b_recorded = 1;
		w->w_running++;
	} else if (kind == WK_STATUS) {
		p->p_status.s_row = id;
		p->p_status.s_repo = xstrdup("web");
	}
	p->p_exited = exited;
	return p;
}

static struct wop *mkop(struct worker *w, enum wop_kind kind, long long id, struct wproc *p)
{
	struct wop *o = worker_op_new(kind, id);

	o->o_w = w;
	o->o_proc = p;
	w->w_nops++;		/* as worker_op_submit counts it */
	return o;
}

/* A build's end on disk frees its slot, once its process is gone too. */
static void test_done_finish(void **state)
{
	struct fx *f = *state;
	struct worker *w = f->w;
	struct wproc *p = mkproc(w, WK_BUILD, 1, 0);

	worker_op_done(mkop(w, WOP_FINISH, 1, p), 0, NULL);
	assert_int_equal(w->w_nops, 0);
	assert_ptr_equal(w->w_procs, p);	/* still running: it keeps the slot */
	assert_int_equal(p->p_build.b_landed, 1);
	assert_int_equal(w->w_running, 1);
	p->p_exited = 1;
	worker_build_final(p);
	assert_null(w->w_procs);
	assert_int_equal(w->w_running, 0);

	p = mkproc(w, WK_BUILD, 2, 1);
	worker_op_done(mkop(w, WOP_REQUEUE, 2, p), 0, NULL);
	assert_null(w->w_procs);
	assert_int_equal(w->w_running, 0);
}

/* A start that found its build no longer queued gives the slot back at once. */
static void test_done_start_not_queued(void **state)
{
	struct fx *f = *state;
	struct worker *w = f->w;
	struct wproc *p = mkproc(w, WK_BUILD, 1, 0);
	struct wop *o = mkop(w, WOP_START, 1, p);

	p->p_build.b_recorded = 0;
	o->o_rc = 1;
	worker_op_done(o, 0, NULL);
	assert_null(w->w_procs);
	assert_int_equal(w->w_running, 0);
	assert_int_equal(w->w_nops, 0);
}

/* A status row's new state on disk ends its post: the row and repository are free. */
static void test_done_status(void **state)
{
	struct fx *f = *state;
	struct worker *w = f->w;
	struct wproc *p = mkproc(w, WK_STATUS, 7, 1);

	worker_op_done(mkop(w, WOP_STATUS_RETRY, 7, p), 0, NULL);
	assert_null(w->w_procs);
	p = mkproc(w, WK_STATUS, 8, 1);
	worker_op_done(mkop(w, WOP_STATUS_DONE, 8, p), 0, NULL);
	assert_null(w->w_procs);
	assert_int_equal(w->w_nops, 0);
	assert_int_equal(w->w_running, 0);
}

/* ---------- a status post pass the database fails ---------- */

static void noop_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

/* Changes the schema behind the store's back (sql on a connection of its own), so that
 * the statements naming what it changes fail: a read the database refuses. */
static void break_schema(const char *sql)
{
	char *path = xasprintf("%s/agent.db", sf_dir);
	sqlite3 *db = NULL;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	free(path);
}

/* A status whose build cannot be read (the database failed, the build is not gone)
 * stays queued, and the pass looks again later; and so when the waiting statuses
 * cannot be read at all. A dropped status is one its commit never gets. */
static void test_post_read_fails(void **state)
{
	struct fx *f = *state;
	struct worker *w = f->w;
	struct err e = ERR_INIT;
	long long id = mkbuild(f->st, "web", "refs/heads/main", SHA_A, BUILD_SUCCEEDED);

	assert_int_equal(store_status_add(f->st, id, "succeeded", "Build 1 succeeded in 1s", &e), 0);
	w->w_status_ev = evtimer_new(f->base, noop_cb, NULL);
	/* the build's read names every column; the pass's own list names none of these */
	break_schema("ALTER TABLE builds RENAME COLUMN clone_url TO clone_url_gone");
	worker_status_cb(-1, 0, w);
	assert_statuses(id, "succeeded:Build 1 succeeded in 1s");
	assert_true(evtimer_pending(w->w_status_ev, NULL));
	assert_null(w->w_procs);

	evtimer_del(w->w_status_ev);
	break_schema("ALTER TABLE statuses RENAME COLUMN last_error TO last_error_gone");
	worker_status_cb(-1, 0, w);
	assert_true(evtimer_pending(w->w_status_ev, NULL));
	assert_null(w->w_procs);
}

/* ---------- the loop's half: refused ---------- */

struct failed_case {
	enum wop_kind kind;
	enum wkind proc;		/* the process it holds, if any */
	int has_proc;
	int kept;			/* tried again (in w_retry) */
	int slot_kept;			/* its process still holds a worker slot */
};

static const struct failed_case failed_cases[] = {
	{ WOP_QUEUED, 0, 0, 1, 0 },
	{ WOP_START, WK_BUILD, 1, 0, 0 },	/* stays queued, scheduled again later */
	{ WOP_PID, 0, 0, 0, 0 },		/* not worth another try */
	{ WOP_SHA, 0, 0, 1, 0 },
	{ WOP_FINISH, WK_BUILD, 1, 1, 1 },	/* must land: keeps its slot meanwhile */
	{ WOP_REQUEUE, WK_BUILD, 1, 0, 0 },	/* left running: the next start sees to it */
	{ WOP_CLOSE, 0, 0, 1, 0 },		/* recovery's close (no request) must land */
	{ WOP_STATUS_DONE, WK_STATUS, 1, 1, 1 },
	{ WOP_STATUS_RETRY, WK_STATUS, 1, 1, 1 },
};

static void test_failed_kinds(void **state)
{
	struct fx *f = *state;
	size_t i;

	for (i = 0; i < sizeof(failed_cases) / sizeof(failed_cases[0]); i++) {
		const struct failed_case *c = &failed_cases[i];
		struct worker *w = f->w;
		struct wproc *p = c->has_proc ? mkproc(w, c->proc, 1, 1) : NULL;
		struct wop *o = mkop(w, c->kind, 1, p);

		print_message("kind %d\n", (int)c->kind);
		worker_op_done(o, 1, "database or disk is full");
		assert_int_equal(w->w_nops, 0);
		if (c->kept) {
			assert_ptr_equal(w->w_retry, o);
			assert_int_equal(o->o_tries, 1);
			assert_non_null(o->o_retry);
			assert_true(evtimer_pending(o->o_retry, NULL));
		} else {
			assert_null(w->w_retry);
		}
		assert_int_equal(w->w_procs != NULL, c->slot_kept);
		if (c->proc == WK_BUILD)
			assert_int_equal(w->w_running, (unsigned)c->slot_kept);
		/* what is left is freed with the worker (its refused change lost) */
		assert_int_equal(teardown(state), 0);
		assert_int_equal(setup(state), 0);
		f = *state;
	}
}

/* When o's retry timer fires, in ms (libevent reports the time it expires at). */
static long long retry_at_ms(const struct wop *o)
{
	struct timeval at;

	assert_true(evtimer_pending(o->o_retry, &at));
	return (long long)at.tv_sec * 1000 + at.tv_usec / 1000;
}

/* A refused op is tried again later and later, doubling up to the cap. */
static void test_failed_backoff(void **state)
{
	struct fx *f = *state;
	struct worker *w = f->w;
	struct wop *o = mkop(w, WOP_SHA, 1, NULL);
	long long first, at;
	int i;

	worker_op_done(o, 1, "disk full");
	first = retry_at_ms(o);
	for (i = 1; i <= 10; i++) {
		w->w_retry = NULL;	/* as its timer takes it out to submit it again */
		w->w_nops++;
		worker_op_done(o, 1, "disk full");
		at = retry_at_ms(o);
		if (i == 1)	/* 1 s instead of 0.5 s */
			assert_in_range(at - first, 400, 700);
		if (i == 2)	/* 2 s */
			assert_in_range(at - first, 1400, 1700);
	}
	assert_int_equal(o->o_tries, 11);
	/* capped: WORKER_WRITE_RETRY_MAX_MS instead of WORKER_WRITE_RETRY_MIN_MS */
	assert_in_range(at - first, WORKER_WRITE_RETRY_MAX_MS - WORKER_WRITE_RETRY_MIN_MS - 100,
			WORKER_WRITE_RETRY_MAX_MS - WORKER_WRITE_RETRY_MIN_MS + 200);
	assert_ptr_equal(w->w_retry, o);	/* freed with the worker */
}

/* ---------- through the group commit ---------- */

static void items_done(void *arg, struct batch_item *items, size_t n, int failed,
		       const char *err)
{
	(void)arg;
	(void)items;
	(void)n;
	(void)failed;
	(void)err;
}

static long long room(void *arg)
{
	(void)arg;
	return 100;
}

/* A build's end submitted as the daemon does: written by the writer thread, then its
 * slot freed on the loop, the log line and the commit status on disk. */
static void test_submit_finish(void **state)
{
	struct fx *f = *state;
	struct worker *w = f->w;
	struct err e = ERR_INIT;
	long long id = mkbuild(f->st, "web", "refs/heads/main", SHA_A, BUILD_RUNNING);
	struct wproc *p = mkproc(w, WK_BUILD, id, 1);
	struct batch *q = batch_new(f->base, sf_dir, f->st, items_done, room, NULL, &e);
	struct wop *o;
	char *log;
	int spins;

	assert_non_null(q);
	w->w_batch = q;
	o = worker_op_new(WOP_FINISH, id);
	o->o_proc = p;
	o->o_state = BUILD_SUCCEEDED;
	o->o_image = xstrdup("web:main");
	o->o_time = store_now_ms();
	o->o_log = xstrdup(p->p_build.b_log);
	o->o_line = xstrdup("==> build 1 succeeded");
	o->o_line_always = 1;
	worker_op_status(w, o, "web", SHA_A, BUILD_SUCCEEDED, NULL, 1500);
	worker_op_submit(w, o);
	assert_int_equal(w->w_nops, 1);
	for (spins = 0; w->w_nops && spins < 1000; spins++)
		event_base_loop(f->base, EVLOOP_ONCE);
	assert_int_equal(w->w_nops, 0);
	assert_null(w->w_procs);
	assert_int_equal(w->w_running, 0);
	assert_int_equal(state_of(f->st, id), BUILD_SUCCEEDED);
	assert_statuses(id, "succeeded:Build 1 succeeded in 2s");
	log = worker_log_path(w, id);
	assert_true(log_has(log, "==> build 1 succeeded"));
	unlink(log);
	free(log);
	worker_free(w);		/* before the batch it reports to */
	f->w = NULL;
	batch_free(q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_run_kinds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_queued, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_add, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_status_rows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_done_finish, setup, teardown),
		cmocka_unit_test_setup_teardown(test_done_start_not_queued, setup, teardown),
		cmocka_unit_test_setup_teardown(test_done_status, setup, teardown),
		cmocka_unit_test_setup_teardown(test_post_read_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_kinds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_backoff, setup, teardown),
		cmocka_unit_test_setup_teardown(test_submit_finish, setup, teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
