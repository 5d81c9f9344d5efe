/* engine: what a caller is told when the engine is not there: its socket missing,
 * refusing, hanging up without an answer, or frozen (it takes the request and says
 * nothing: each kind of call gives up after its own limit, engine_set_timeouts) (fake
 * engines on unix sockets, forked), and that an answer afterwards clears
 * engine_unreachable(). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "engine.h"

enum fake {
	FAKE_HANGUP,	/* hangs up without an answer */
	FAKE_OK,	/* 200 "OK" */
	FAKE_SLOW,	/* 200 "OK" after a second */
	FAKE_SILENT,	/* frozen: keeps the connection, never answers */
	FAKE_STALL,	/* /version answered; other calls: 200 and a few body bytes, then silence */
	FAKE_BUSY,	/* as FAKE_STALL, but /_ping is answered: a long container wait */
	FAKE_ENDED,	/* as FAKE_BUSY, but a stream's body is one frame of "hello", and an
			 * inspect says the container exited: a stream left open after its end */
};

static char dir[64];

static char *sock_path(const char *name)
{
	static char p[4][256];
	static int i;

	i = (i + 1) % 4;
	snprintf(p[i], sizeof(p[i]), "%s/%s", dir, name);
	return p[i];
}

/* A socket bound at path; listening unless refuse. */
static int fake_socket(const char *path, int refuse)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	unlink(path);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	if (!refuse)
		assert_int_equal(listen(fd, 16), 0);
	return fd;
}

/* A forked engine on path, answering each request as mode says. */
static pid_t fake_engine(const char *path, enum fake mode)
{
	static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nOK";
	static const char version[] = "{\"ApiVersion\":\"1.41\",\"Version\":\"20.10.24\",\"Os\":\"linux\"}";
	static const char stall[] = "HTTP/1.1 200 OK\r\nContent-Type: application/x-tar\r\n"
				    "Connection: close\r\n\r\npartial";
	static const char frame[] = "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.raw-stream\r\n"
				    "Connection: close\r\n\r\n\x01\x00\x00\x00\x00\x00\x00\x05hello";
	static const char exited[] = "{\"Id\":\"abc123\",\"State\":{\"Status\":\"exited\",\"Running\":false}}";
	char answer[512];
	int fd = fake_socket(path, 0), c;
	char req[4096];
	size_t got;
	ssize_t n;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid > 0) {
		close(fd);
		return pid;
	}
	for (;;) {
		c = accept(fd, NULL, NULL);
		if (c < 0)
			_exit(0);
		got = 0;
		while (got < sizeof(req) - 1 && (n = read(c, req + got, sizeof(req) - 1 - got)) > 0) {
			got += (size_t)n;
			req[got] = '\0';
			if (strstr(req, "\r\n\r\n")) {
				if (mode == FAKE_SLOW)
					sleep(1);
				if ((mode == FAKE_OK || mode == FAKE_SLOW ||
				     ((mode == FAKE_BUSY || mode == FAKE_ENDED) && strstr(req, " /_ping "))) &&
				    write(c, ok, sizeof(ok) - 1) < 0)
					break;
				if ((mode == FAKE_BUSY || mode == FAKE_ENDED) && strstr(req, " /_ping "))
					break;
				if (mode == FAKE_ENDED && strstr(req, "/json ")) {
					snprintf(answer, sizeof(answer), "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n"
						 "Connection: close\r\n\r\n%s", strlen(exited), exited);
					if (write(c, answer, strlen(answer)) < 0)
						break;
					break;
				}
				if (mode == FAKE_ENDED && !strstr(req, " /version ")) {
					if (write(c, frame, sizeof(frame) - 1) < 0)
						break;
					break;
				}
				if ((mode == FAKE_STALL || mode == FAKE_BUSY || mode == FAKE_ENDED) &&
				    strstr(req, " /version ")) {
					snprintf(answer, sizeof(answer), "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n"
						 "Connection: close\r\n\r\n%s", strlen(version), version);
					if (write(c, answer, strlen(answer)) < 0)
						break;
				} else if ((mode == FAKE_STALL || mode == FAKE_BUSY) && write(c, stall, sizeof(stall) - 1) < 0) {
					break;
				}
				break;
			}
		}
		/* frozen: the connection stays open, silent (the process ends with the test) */
		if (mode == FAKE_SILENT || (mode == FAKE_STALL && !strstr(req, " /version ")) ||
		    ((mode == FAKE_BUSY || mode == FAKE_ENDED) && !strstr(req, " /version ") &&
		     !strstr(req, " /_ping ") && !strstr(req, "/json ")))
			continue;
		close(c);
	}
}

static void fake_stop(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* Limits of a second (frozen-engine tests), or the defaults. */
static void short_limits(struct engine *eng, int call_s, int slow_s, int idle_s, int probe_s)
{
	struct engine_timeouts t = { call_s, slow_s, idle_s, probe_s };

	engine_set_timeouts(eng, &t);
}

static struct engine *engine_at(const char *path)
{
	struct err e = ERR_INIT;
	char url[300];
	struct engine *eng;

	snprintf(url, sizeof(url), "unix://%s", path);
	eng = engine_new(url, NULL, &e);
	if (!eng)
		fail_msg("%s", e.msg);
	return eng;
}

/* The ping fails, says want (and the socket), and engine_unreachable() says it too. */
static void expect_down(struct engine *eng, const char *path, const char *want)
{
	struct err e = ERR_INIT;

	assert_int_equal(engine_ping(eng, &e), -1);
	assert_int_equal(engine_status(eng), ENGINE_NO_ANSWER);
	if (!strstr(e.msg, want) || !strstr(e.msg, path))
		fail_msg("'%s' lacks '%s' or the socket", e.msg, want);
	if (strstr(e.msg, "localhost") || strstr(e.msg, "port 80"))
		fail_msg("curl's words, not the user's: '%s'", e.msg);
	assert_non_null(engine_unreachable(eng));
	assert_non_null(strstr(e.msg, engine_unreachable(eng)));
}

/* The error says want. */
static void expect_msg(const struct err *e, const char *want)
{
	if (!strstr(e->msg, want))
		fail_msg("'%s' lacks '%s'", e->msg, want);
}

/* The call (its result rc) failed as a frozen engine: ENGINE_NO_ANSWER, saying want. */
static void expect_no_answer(struct engine *eng, long rc, const struct err *e, const char *want)
{
	assert_int_equal(rc, -1);
	assert_int_equal(engine_status(eng), ENGINE_NO_ANSWER);
	expect_msg(e, want);
}

/* The call (its result rc) failed as a timeout (ENGINE_TIMED_OUT), not an engine down. */
static void expect_timed_out(struct engine *eng, int rc)
{
	assert_int_equal(rc, -1);
	assert_int_equal(engine_status(eng), ENGINE_TIMED_OUT);
	assert_null(engine_unreachable(eng));
}

/* The ping is answered (200) and the engine is not unreachable. */
static void expect_up(struct engine *eng)
{
	struct err e = ERR_INIT;

	if (engine_ping(eng, &e) < 0)
		fail_msg("%s", e.msg);
	assert_int_equal(engine_status(eng), 200);
	assert_null(engine_unreachable(eng));
}

/* Reads st to its end; adds the bytes read to *got; returns the last read's result. */
static ssize_t drain(struct engine_stream *st, size_t *got, struct err *e)
{
	char chunk[64];
	ssize_t n;

	while ((n = engine_stream_read(st, chunk, sizeof(chunk), e)) > 0)
		*got += (size_t)n;
	return n;
}

static void test_missing_socket(void **state)
{
	const char *p = sock_path("missing.sock");
	struct engine *eng = engine_at(p);

	(void)state;
	expect_down(eng, p, "cannot reach the container engine at unix://");
	expect_down(eng, p, ": No such file or directory (is it running?)");
	engine_free(eng);
}

static void test_refused(void **state)
{
	const char *p = sock_path("stale.sock");
	int fd = fake_socket(p, 1);	/* bound, not listening: a dead engine's socket file */
	struct engine *eng = engine_at(p);

	(void)state;
	expect_down(eng, p, "cannot reach the container engine at unix://");
	expect_down(eng, p, ": Connection refused (is it running?)");
	engine_free(eng);
	close(fd);
}

static void test_hangup_then_back(void **state)
{
	const char *p = sock_path("flaky.sock");
	struct engine *eng = engine_at(p);
	pid_t pid;

	(void)state;
	pid = fake_engine(p, FAKE_HANGUP);
	expect_down(eng, p, "lost the connection to the container engine at unix://");
	fake_stop(pid);
	pid = fake_engine(p, FAKE_OK);
	expect_up(eng);
	fake_stop(pid);
	engine_free(eng);
}

/* A frozen engine: each control call gives up after call_s, says so in the user's
 * words with the socket, as ENGINE_NO_ANSWER (an errored build, not a timed-out one). */
static void test_frozen_call(void **state)
{
	const char *p = sock_path("frozen.sock");
	struct engine *eng = engine_at(p);
	struct err e = ERR_INIT;
	char want[400];
	pid_t pid;

	(void)state;
	pid = fake_engine(p, FAKE_SILENT);
	short_limits(eng, 1, 1, 1, 0);
	snprintf(want, sizeof(want), "the container engine at unix://%s did not answer within 1s", p);
	expect_down(eng, p, want);
	/* a versioned call: the version negotiation is the call that waits */
	expect_no_answer(eng, engine_container_start(eng, "abc123", &e), &e, want);
	assert_string_equal(engine_unreachable(eng), want);
	fake_stop(pid);
	engine_free(eng);
}

/* A slow but healthy engine within the limit: answered, nothing cut. */
static void test_slow_within_limit(void **state)
{
	const char *p = sock_path("slow.sock");
	struct engine *eng = engine_at(p);
	pid_t pid;

	(void)state;
	pid = fake_engine(p, FAKE_SLOW);
	short_limits(eng, 4, 4, 4, 0);
	expect_up(eng);
	fake_stop(pid);
	engine_free(eng);
}

static int count_bytes(void *arg, const void *data, size_t len, struct err *e)
{
	(void)data;
	(void)e;
	*(size_t *)arg += len;
	return 0;
}

/* A stream that stops moving: given up after idle_s without a byte, the bytes before
 * delivered; the whole-call limits do not cut it (they are far longer here). */
static void test_frozen_stream(void **state)
{
	const char *p = sock_path("stall.sock");
	struct engine *eng = engine_at(p);
	struct engine_stream *st = NULL;
	struct err e = ERR_INIT;
	char want[400];
	size_t got = 0;
	pid_t pid;

	(void)state;
	pid = fake_engine(p, FAKE_STALL);
	short_limits(eng, 30, 30, 1, 0);
	snprintf(want, sizeof(want), "the container engine at unix://%s stopped answering: nothing for 1s", p);
	expect_no_answer(eng, engine_archive_get(eng, "abc123", "/tmp", count_bytes, &got, &e), &e, want);
	assert_int_equal(got, 7);	/* "partial" */
	/* the pull-style stream: what came is read, then the silence ends it */
	if (engine_archive_open(eng, "abc123", "/tmp", &st, &e) < 0)
		fail_msg("%s", e.msg);
	got = 0;
	assert_int_equal(drain(st, &got, &e), -1);
	assert_int_equal(got, 7);
	expect_msg(&e, want);
	engine_stream_free(st);
	fake_stop(pid);
	engine_free(eng);
}

/* Waiting for a running container is not a control call: only its own timeout and the
 * deadline end it (ENGINE_TIMED_OUT), never the 1s call limit; a deadline passing
 * before a call's limit is a timeout too, not a frozen engine. */
static void test_wait_and_deadline(void **state)
{
	const char *p = sock_path("wait.sock");
	struct engine *eng = engine_at(p);
	struct err e = ERR_INIT;
	int code = 0;
	pid_t pid;

	(void)state;
	pid = fake_engine(p, FAKE_STALL);
	short_limits(eng, 1, 1, 1, 0);
	expect_timed_out(eng, engine_container_wait(eng, "abc123", 3, &code, &e));
	short_limits(eng, 30, 30, 30, 0);
	engine_set_deadline(eng, engine_clock_ms() + 500);
	expect_timed_out(eng, engine_container_start(eng, "abc123", &e));
	fake_stop(pid);
	engine_free(eng);
}

/* A container wait without a byte: after probe_s the engine is pinged; answered, the
 * wait goes on (here until its own timeout); unanswered within call_s, the engine is
 * frozen: the wait and an attach stream end with ENGINE_NO_ANSWER and say so. */
static void test_probe(void **state)
{
	const char *p = sock_path("probe.sock");
	struct engine *eng = engine_at(p);
	struct engine_stream *st = NULL;
	struct err e = ERR_INIT;
	char want[400];
	size_t got = 0;
	int code = 0;
	pid_t pid;

	(void)state;
	pid = fake_engine(p, FAKE_BUSY);
	short_limits(eng, 1, 1, 1, 1);
	expect_timed_out(eng, engine_container_wait(eng, "abc123", 4, &code, &e));
	fake_stop(pid);

	pid = fake_engine(p, FAKE_STALL);
	snprintf(want, sizeof(want), "the container engine at unix://%s did not answer within 1s", p);
	expect_no_answer(eng, engine_container_wait(eng, "abc123", 30, &code, &e), &e, want);
	assert_string_equal(engine_unreachable(eng), want);
	if (engine_attach_open(eng, "abc123", NULL, NULL, &st, &e) < 0)
		fail_msg("%s", e.msg);
	expect_no_answer(eng, drain(st, &got, &e), &e, want);
	engine_stream_free(st);
	fake_stop(pid);
	engine_free(eng);
}

/* A stream bound to a container (logs that follow, pulled or pushed; attach) that
 * the engine leaves open after the container ended (Podman 4.3 can hold a logs
 * follow so forever): a few seconds of silence and two inspects that say exited end
 * it as complete, with what it carried, long before the probe interval (30 s here)
 * and the deadline. Before, the end came only at the probe (logs, attach) or never
 * (pushed logs). */
static int count_out(void *arg, int stream, const void *data, size_t len, struct err *e)
{
	(void)stream;
	(void)data;
	(void)e;
	*(size_t *)arg += len;
	return 0;
}

static void test_stream_outlives_container(void **state)
{
	static const char *const what[] = { "logs", "attach", "pushed logs" };
	const char *p = sock_path("ended.sock");
	struct engine *eng = engine_at(p);
	struct engine_stream *st = NULL;
	struct err e = ERR_INIT;
	int64_t t0;
	size_t got;
	int k, rv;
	pid_t pid;

	(void)state;
	pid = fake_engine(p, FAKE_ENDED);
	short_limits(eng, 5, 5, 5, 30);
	for (k = 0; k < 3; k++) {
		engine_set_deadline(eng, engine_clock_ms() + 10000);
		t0 = engine_clock_ms();
		got = 0;
		if (k == 2) {
			rv = engine_container_logs(eng, "abc123", 1, count_out, &got, &e);
		} else {
			if ((k == 0 ? engine_logs_open(eng, "abc123", 1, NULL, NULL, &st, &e) :
				      engine_attach_open(eng, "abc123", NULL, NULL, &st, &e)) < 0)
				fail_msg("%s", e.msg);
			rv = (int)drain(st, &got, &e);
			engine_stream_free(st);
			st = NULL;
		}
		if (rv != 0)
			fail_msg("%s: %s", what[k], e.msg);
		assert_int_equal(got, 5);
		assert_int_equal(engine_status(eng), 200);
		if (engine_clock_ms() - t0 > 6000)
			fail_msg("%s: the stream ended only after %lld ms", what[k], (long long)(engine_clock_ms() - t0));
	}
	fake_stop(pid);
	engine_free(eng);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_engine_down.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	unlink(sock_path("stale.sock"));
	unlink(sock_path("flaky.sock"));
	unlink(sock_path("frozen.sock"));
	unlink(sock_path("slow.sock"));
	unlink(sock_path("ended.sock"));
	unlink(sock_path("stall.sock"));
	unlink(sock_path("wait.sock"));
	unlink(sock_path("probe.sock"));
	return rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_missing_socket),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_hangup_then_back),
		cmocka_unit_test(test_frozen_call),
		cmocka_unit_test(test_slow_within_limit),
		cmocka_unit_test(test_frozen_stream),
		cmocka_unit_test(test_wait_and_deadline),
		cmocka_unit_test(test_probe),
		cmocka_unit_test(test_stream_outlives_container),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, setup, teardown);
}
