/* Unit tests for buf: the cap is enforced and the never-NULL rules hold; the
 * small helpers (whole writes, regular-file open, digit runs, pull policy). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "buf.h"
#include "err.h"
#include "pull.h"

static void test_cap(void **state)
{
	struct buf b = BUF_INIT(8);

	(void)state;
	assert_string_equal(b.data, "");
	assert_int_equal(buf_addstr(&b, "12345"), 0);
	assert_int_equal(buf_addstr(&b, "678"), 0);
	assert_int_equal(buf_addch(&b, '9'), -1);
	assert_int_equal(errno, EMSGSIZE);
	assert_string_equal(b.data, "12345678");
	assert_int_equal(b.len, 8);
	buf_release(&b);
	assert_string_equal(b.data, "");
	assert_int_equal(b.max, 8);
}

static void test_addf_long(void **state)
{
	struct buf b = BUF_INIT(10000);
	char *s;
	size_t n;

	(void)state;
	assert_int_equal(buf_addf(&b, "%0500d|%s", 7, "end"), 0);
	assert_int_equal(b.len, 504);
	s = buf_detach(&b, &n);
	assert_int_equal(n, 504);
	assert_string_equal(s + 500, "|end");
	free(s);
	assert_int_equal(b.len, 0);
	assert_int_equal(buf_addf(&b, "%09000d", 1), 0);
	assert_int_equal(buf_addf(&b, "%02000d", 1), -1);
	assert_int_equal(b.len, 9000);
	buf_release(&b);
}

static void test_strv(void **state)
{
	struct strv v = STRV_INIT, w = STRV_INIT;
	int i;

	(void)state;
	assert_null(v.items[0]);
	for (i = 0; i < 20; i++)
		strv_pushf(&v, "item%d", i);
	assert_int_equal(v.n, 20);
	assert_string_equal(v.items[19], "item19");
	assert_null(v.items[20]);
	strv_copy(&w, &v);
	strv_clear(&v);
	assert_int_equal(v.n, 0);
	assert_null(v.items[0]);
	assert_string_equal(w.items[3], "item3");
	strv_clear(&w);
}

static void test_str_is_digits(void **state)
{
	static const struct { const char *s; int want; } cases[] = {
		{ "0", 1 }, { "1234567890", 1 }, { "", 0 }, { "-1", 0 }, { "+1", 0 },
		{ "12a", 0 }, { " 12", 0 }, { "12 ", 0 }, { "\xd9\xa3", 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(str_is_digits(cases[i].s), cases[i].want);
}

/* A write larger than a socket's buffer comes back short: every byte still arrives. */
static void test_write_full(void **state)
{
	static char big[1 << 20], got[sizeof(big)];
	size_t n = 0;
	ssize_t r;
	pid_t pid;
	int sv[2];

	(void)state;
	memset(big, 'x', sizeof(big));
	big[sizeof(big) - 1] = 'y';
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(sv[0]);
		_exit(xwrite_full(sv[1], big, sizeof(big)) == 0 &&
		      xsend_full(sv[1], "end", 3) == 0 ? 0 : 1);
	}
	close(sv[1]);
	while ((r = read(sv[0], got + n, sizeof(got) - n)) > 0 && n + (size_t)r < sizeof(got))
		n += (size_t)r;
	assert_true(r > 0);
	n += (size_t)r;
	assert_int_equal(n, sizeof(big));
	assert_memory_equal(got, big, sizeof(big));
	assert_int_equal(xread_full(sv[0], got, 4), 3);
	assert_memory_equal(got, "end", 3);
	assert_int_equal(waitpid(pid, &(int){ 0 }, 0), pid);
	/* a closed peer is EPIPE, not a SIGPIPE that would end the test */
	assert_int_equal(xsend_full(sv[0], "z", 1), -1);
	assert_int_equal(errno, EPIPE);
	close(sv[0]);
	assert_int_equal(xwrite_full(-1, "z", 1), -1);
	assert_int_equal(errno, EBADF);
}

static void test_open_regular(void **state)
{
	char dir[] = "/tmp/test_buf.XXXXXX", path[64], link[80], fifo[80];
	struct err e = ERR_INIT;
	struct stat st;
	int fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/file", dir);
	snprintf(link, sizeof(link), "%s/link", dir);
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(xwrite_full(fd, "abc", 3), 0);
	close(fd);
	assert_int_equal(symlink(path, link), 0);

	fd = xopen_regular(path, 0, &st, &e);
	assert_true(fd >= 0);
	assert_int_equal(st.st_size, 3);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	close(fd);
	fd = xopen_regular(link, 0, NULL, &e);
	assert_true(fd >= 0);
	close(fd);

	assert_int_equal(xopen_regular(link, O_NOFOLLOW, NULL, &e), -1);
	assert_int_equal(errno, ELOOP);
	assert_non_null(strstr(e.msg, "cannot open '"));
	assert_int_equal(xopen_regular(dir, 0, NULL, &e), -1);
	assert_int_equal(errno, EINVAL);
	assert_true(!strcmp(e.msg + strlen(e.msg) - strlen("' is not a regular file"),
			    "' is not a regular file"));
	assert_int_equal(xopen_regular("/nonexistent/x", 0, NULL, &e), -1);
	assert_int_equal(errno, ENOENT);
	assert_string_equal(e.msg, "cannot open '/nonexistent/x': No such file or directory");

	/* a FIFO without a writer is refused at once, not waited on */
	assert_int_equal(xopen_regular(fifo, 0, NULL, &e), -1);
	assert_int_equal(errno, EINVAL);
	fd = xopen_regular(path, 0, NULL, &e);
	assert_true(fd >= 0);
	assert_false(fcntl(fd, F_GETFL) & O_NONBLOCK);
	close(fd);

	unlink(fifo);
	unlink(link);
	unlink(path);
	rmdir(dir);
}

static void test_pull_policy(void **state)
{
	static const struct { const char *s; int rc; enum pull_policy want; } cases[] = {
		{ "if-not-present", 0, PULL_IF_NOT_PRESENT }, { NULL, 0, PULL_IF_NOT_PRESENT },
		{ "always", 0, PULL_ALWAYS }, { "never", 0, PULL_NEVER },
		{ "Always", -1, PULL_NEVER }, { "", -1, PULL_NEVER }, { "ifnotpresent", -1, PULL_NEVER },
	};
	enum pull_policy p;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		p = PULL_NEVER;
		assert_int_equal(pull_policy_parse(cases[i].s, &p), cases[i].rc);
		assert_int_equal(p, cases[i].want);
		if (cases[i].rc == 0 && cases[i].s)
			assert_string_equal(pull_policy_name(p), cases[i].s);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cap),
		cmocka_unit_test(test_addf_long),
		cmocka_unit_test(test_strv),
		cmocka_unit_test(test_str_is_digits),
		cmocka_unit_test(test_write_full),
		cmocka_unit_test(test_open_regular),
		cmocka_unit_test(test_pull_policy),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
