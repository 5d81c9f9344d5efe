/* Unit tests for instance: the agent's id in state_dir (the io.s2i-agent.owner value). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "buf.h"
#include "instance.h"
#include "limits.h"

static char *mkdir_tmp(void)
{
	char tmpl[] = "/tmp/test_instance.XXXXXX";
	char *d = mkdtemp(tmpl);

	assert_non_null(d);
	return strdup(d);
}

static void rm_dir(char *dir)
{
	char *p = xasprintf("%s/%s", dir, S2I_INSTANCE_ID_FILE);

	unlink(p);
	free(p);
	assert_int_equal(rmdir(dir), 0);	/* no temporary file left behind */
	free(dir);
}

static void test_created_once(void **state)
{
	char *dir = mkdir_tmp(), *path = xasprintf("%s/%s", dir, S2I_INSTANCE_ID_FILE);
	char a[INSTANCE_ID_MAX], b[INSTANCE_ID_MAX];
	struct err e = ERR_INIT;
	struct stat st;
	size_t i;

	(void)state;
	assert_int_equal(instance_id(dir, a, sizeof(a), &e), 0);
	assert_int_equal(strlen(a), 32);
	for (i = 0; i < 32; i++)
		assert_true(isxdigit((unsigned char)a[i]));
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* stable: read back, not made again */
	assert_int_equal(instance_id(dir, b, sizeof(b), &e), 0);
	assert_string_equal(a, b);
	free(path);
	rm_dir(dir);
}

static void test_distinct_dirs(void **state)
{
	char *d1 = mkdir_tmp(), *d2 = mkdir_tmp();
	char a[INSTANCE_ID_MAX], b[INSTANCE_ID_MAX];
	struct err e = ERR_INIT;

	(void)state;
	assert_int_equal(instance_id(d1, a, sizeof(a), &e), 0);
	assert_int_equal(instance_id(d2, b, sizeof(b), &e), 0);
	assert_string_not_equal(a, b);
	rm_dir(d1);
	rm_dir(d2);
}

/* processes racing on a fresh state_dir all end up with the same id */
static void test_concurrent_agree(void **state)
{
	char *dir = mkdir_tmp(), *out = xasprintf("%s.out", dir);
	char mine[INSTANCE_ID_MAX], line[INSTANCE_ID_MAX + 8];
	struct err e = ERR_INIT;
	pid_t kids[8];
	FILE *f;
	int i, status, n = 0;

	(void)state;
	for (i = 0; i < 8; i++) {
		kids[i] = fork();
		assert_true(kids[i] >= 0);
		if (kids[i] == 0) {
			char id[INSTANCE_ID_MAX];
			int fd;

			if (instance_id(dir, id, sizeof(id), &e) < 0)
				_exit(1);
			fd = open(out, O_WRONLY | O_APPEND | O_CREAT, 0600);
			if (fd < 0 || dprintf(fd, "%s\n", id) < 0)
				_exit(1);
			_exit(0);
		}
	}
	for (i = 0; i < 8; i++) {
		assert_int_equal(waitpid(kids[i], &status, 0), kids[i]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	assert_int_equal(instance_id(dir, mine, sizeof(mine), &e), 0);
	f = fopen(out, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		assert_string_equal(line, mine);
		n++;
	}
	fclose(f);
	assert_int_equal(n, 8);
	unlink(out);
	free(out);
	rm_dir(dir);
}

static void test_bad_file(void **state)
{
	char *dir = mkdir_tmp(), *path = xasprintf("%s/%s", dir, S2I_INSTANCE_ID_FILE);
	char id[INSTANCE_ID_MAX];
	struct err e = ERR_INIT;
	FILE *f = fopen(path, "w");

	(void)state;
	assert_non_null(f);
	fputs("not an id\n", f);
	fclose(f);
	assert_int_equal(instance_id(dir, id, sizeof(id), &e), -1);
	assert_non_null(strstr(e.msg, "instance id"));
	/* a missing state_dir is an error too */
	assert_int_equal(instance_id("/nonexistent/s2i-agent-test", id, sizeof(id), &e), -1);
	free(path);
	rm_dir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_created_once),
		cmocka_unit_test(test_distinct_dirs),
		cmocka_unit_test(test_concurrent_agree),
		cmocka_unit_test(test_bad_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
