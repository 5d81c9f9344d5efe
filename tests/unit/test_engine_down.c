/* engine: what a caller is told when the engine is not there: its socket missing,
 * refusing, or hanging up without an answer (fake engines on unix sockets, forked),
 * and that an answer afterwards clears engine_unreachable(). */
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

enum fake { FAKE_HANGUP, FAKE_OK };

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

/* A forked engine on path: reads each request, then hangs up without an answer (it
 * stopped mid-call), or answers 200 "OK". */
static pid_t fake_engine(const char *path, enum fake mode)
{
	static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nOK";
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
				if (mode == FAKE_OK && write(c, ok, sizeof(ok) - 1) < 0)
					break;
				break;
			}
		}
		close(c);
	}
}

static void fake_stop(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
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
	struct err e = ERR_INIT;
	pid_t pid;

	(void)state;
	pid = fake_engine(p, FAKE_HANGUP);
	expect_down(eng, p, "lost the connection to the container engine at unix://");
	fake_stop(pid);
	pid = fake_engine(p, FAKE_OK);
	if (engine_ping(eng, &e) < 0)
		fail_msg("%s", e.msg);
	assert_int_equal(engine_status(eng), 200);
	assert_null(engine_unreachable(eng));
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
	return rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_missing_socket),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_hangup_then_back),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, setup, teardown);
}
