/* Unit tests for httpc: against a one-connection server on loopback, the
 * answer's code, headers and capped body, sinks, aborts, and refused URLs. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "httpc.h"

struct srv {
	pid_t pid;
	int port;
};

/* Serves one connection: reads the request head (and a short body), answers
 * with `answer` and closes. Returns the server's URL (caller frees). */
static char *srv_start(struct srv *s, const char *answer)
{
	struct sockaddr_in a = { 0 };
	socklen_t alen = sizeof(a);
	int fd, c;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
	s->port = ntohs(a.sin_port);
	s->pid = fork();
	assert_true(s->pid >= 0);
	if (s->pid > 0) {
		close(fd);
		return xasprintf("http://127.0.0.1:%d/", s->port);
	}
	c = accept(fd, NULL, NULL);
	if (c >= 0) {
		char req[8192];
		size_t n = 0;
		ssize_t r;

		while (n < sizeof(req) - 1 && (r = read(c, req + n, sizeof(req) - 1 - n)) > 0) {
			n += (size_t)r;
			req[n] = '\0';
			if (strstr(req, "\r\n\r\n") && (!strstr(req, "POST ") || strstr(req, "}")))
				break;
		}
		if (xwrite_full(c, answer, strlen(answer)) < 0)
			_exit(1);
		shutdown(c, SHUT_WR);
		while (read(c, req, sizeof(req)) > 0)
			;
	}
	_exit(0);
}

static void srv_stop(struct srv *s)
{
	kill(s->pid, SIGTERM);
	waitpid(s->pid, NULL, 0);
}

/* The next exchange: the previous server stopped, a new one answering. */
static void srv_next(struct srv *s, const char *answer, struct httpc_req *r, char **url)
{
	srv_stop(s);
	free(*url);
	*url = srv_start(s, answer);
	r->url = *url;
}

#define ANSWER(code, extra, body) \
	"HTTP/1.1 " code "\r\nContent-Length: " #body "\r\nConnection: close\r\n" extra "\r\n"

static void test_answer(void **state)
{
	static const char answer[] =
		"HTTP/1.1 403 Forbidden\r\nContent-Length: 10\r\nRetry-After:  7 \r\n"
		"Connection: close\r\n\r\n0123456789";
	struct httpc_req r = HTTPC_REQ_INIT;
	struct httpc_answer a = HTTPC_ANSWER_INIT;
	struct err e = ERR_INIT;
	char *const hdrs[] = { (char *)(uintptr_t)"X-Test: 1", NULL };
	char v[16];
	struct srv s;
	char *url;

	(void)state;
	url = srv_start(&s, answer);
	r.url = url;
	r.body = "{\"a\":1}";
	r.headers = hdrs;
	r.timeout = 10;
	r.body_max = 4;		/* cut, not failed */
	assert_int_equal(httpc_perform(&r, &a, &e), 0);
	assert_int_equal(a.code, 403);
	assert_string_equal(a.body.data, "0123");
	assert_true(a.body_cut);
	assert_string_equal(httpc_header(a.headers.items, "retry-after", v, sizeof(v)), "7");
	assert_null(httpc_header(a.headers.items, "Retry", v, sizeof(v)));
	assert_string_equal(httpc_header(a.headers.items, "Content-Length", v, 2), "1");

	srv_next(&s, answer, &r, &url);
	r.body = NULL;
	r.body_max_fails = 1;
	assert_int_equal(httpc_perform(&r, &a, &e), -1);
	assert_true(a.body_cut);
	assert_string_equal(e.msg, "the answer is larger than 4 bytes");

	srv_next(&s, answer, &r, &url);
	r.fail_on_error = 1;
	r.body_max = 100;
	assert_int_equal(httpc_perform(&r, &a, &e), -1);
	assert_int_equal(a.code, 403);
	srv_stop(&s);

	httpc_answer_release(&a);
	free(url);
}

static int sink_collect(void *arg, const char *p, size_t n)
{
	return buf_add(arg, p, n);
}

static int abort_always(void *arg)
{
	(void)arg;
	return 1;
}

static void test_sink_abort(void **state)
{
	struct httpc_req r = HTTPC_REQ_INIT;
	struct httpc_answer a = HTTPC_ANSWER_INIT;
	struct buf got = BUF_INIT(5);
	struct err e = ERR_INIT;
	struct srv s;
	char *url;

	(void)state;
	url = srv_start(&s, ANSWER("200 OK", "", 3) "abc");
	r.url = url;
	r.sink = sink_collect;
	r.sink_arg = &got;
	assert_int_equal(httpc_perform(&r, &a, &e), 0);
	assert_string_equal(got.data, "abc");
	assert_int_equal(a.body.len, 0);

	/* a sink that refuses ends the transfer */
	srv_next(&s, ANSWER("200 OK", "", 9) "abcdefghi", &r, &url);
	buf_reset(&got);
	assert_int_equal(httpc_perform(&r, &a, &e), -1);
	assert_string_equal(e.msg, "the answer could not be taken");

	srv_next(&s, ANSWER("200 OK", "", 3) "abc", &r, &url);
	r.sink = NULL;
	r.abort = abort_always;
	assert_int_equal(httpc_perform(&r, &a, &e), -1);
	assert_string_equal(e.msg, "canceled");
	srv_stop(&s);

	buf_release(&got);
	httpc_answer_release(&a);
	free(url);
}

/* Redirects are not followed unless asked, and never to another protocol. */
static void test_redirect(void **state)
{
	struct httpc_req r = HTTPC_REQ_INIT;
	struct httpc_answer a = HTTPC_ANSWER_INIT;
	struct err e = ERR_INIT;
	struct srv s;
	char *url;

	(void)state;
	url = srv_start(&s, ANSWER("302 Found", "Location: file:///etc/passwd\r\n", 0));
	r.url = url;
	r.body_max = 100;
	assert_int_equal(httpc_perform(&r, &a, &e), 0);
	assert_int_equal(a.code, 302);

	srv_next(&s, ANSWER("302 Found", "Location: file:///etc/passwd\r\n", 0), &r, &url);
	r.max_redirects = 5;
	assert_int_equal(httpc_perform(&r, &a, &e), -1);
	assert_int_equal(a.body.len, 0);
	srv_stop(&s);

	httpc_answer_release(&a);
	free(url);
}

static void test_refused(void **state)
{
	struct httpc_req r = HTTPC_REQ_INIT;
	struct httpc_answer a = HTTPC_ANSWER_INIT;
	struct err e = ERR_INIT;

	(void)state;
	r.url = "file:///etc/passwd";
	assert_int_equal(httpc_perform(&r, &a, &e), -1);
	assert_int_equal(a.code, 0);
	assert_false(a.setup_failed);
	print_message("file: %s\n", e.msg);

	r.url = "http://127.0.0.1:1/";
	r.connect_timeout = 2;
	assert_int_equal(httpc_perform(&r, &a, &e), -1);
	assert_int_equal(a.code, 0);
	assert_true(e.msg[0] != '\0');
	httpc_answer_release(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_answer),
		cmocka_unit_test(test_sink_abort),
		cmocka_unit_test(test_redirect),
		cmocka_unit_test(test_refused),
	};
	struct err e = ERR_INIT;
	int rc;

	if (httpc_global_init(&e) < 0)
		return 1;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	httpc_global_cleanup();
	return rc;
}
