/* gitfixture: the repositories gitfixture.h describes, built with the git CLI through
 * child.h; linked into every unit test (libtestfix.a), used by test_gitsrc and test_srctar. */
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "child.h"
#include "gitfixture.h"

struct gitfix gf;

static void gf_die(const char *what, const char *msg)
{
	fprintf(stderr, "fixture: %s: %s\n", what, msg);
	abort();
}

/* Runs git with the args of ap in dir; a failure aborts. With out, the first line of
 * its output (trailing spaces trimmed) goes there. */
static void gf_run(const char *dir, char *out, size_t outsz, va_list ap)
{
	const char *argv[40];
	struct err e = ERR_INIT;
	struct child c = CHILD_INIT;
	int n = 0, status = -1;
	ssize_t r;
	size_t len = 0;

	argv[n++] = "git";
	argv[n++] = "-c";
	argv[n++] = "protocol.file.allow=always";
	while (n < 39 && (argv[n] = va_arg(ap, const char *)))
		n++;
	argv[n] = NULL;
	c.argv = argv;
	c.dir = dir;
	c.out = out ? CHILD_PIPE : CHILD_NULL;
	if (child_start(&c, &e) < 0)
		gf_die(argv[3], e.msg);
	while (out && len + 1 < outsz && (r = read(c.out_fd, out + len, outsz - 1 - len)) > 0)
		len += (size_t)r;
	if (child_finish(&c, &status, &e) < 0)
		gf_die(argv[3], e.msg);
	if (status != 0)
		gf_die(argv[3], "git failed");
	if (!out)
		return;
	out[len] = '\0';
	out[strcspn(out, "\n")] = '\0';
	while (out[0] && out[strlen(out) - 1] == ' ')
		out[strlen(out) - 1] = '\0';
}

void gf_git(const char *dir, ...)
{
	va_list ap;

	va_start(ap, dir);
	gf_run(dir, NULL, 0, ap);
	va_end(ap);
}

void gf_git_out(char *out, size_t outsz, const char *dir, ...)
{
	va_list ap;

	va_start(ap, dir);
	gf_run(dir, out, outsz, ap);
	va_end(ap);
}

void gf_write(const char *dir, const char *name, const char *text, mode_t mode)
{
	char path[1024];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	for (char *p = path + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		mkdir(path, 0755);
		*p = '/';
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		gf_die("write", path);
	fchmod(fd, mode);
	close(fd);
}

static int gf_rm_cb(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	remove(p);
	return 0;
}

void gf_rm_rf(const char *dir)
{
	nftw(dir, gf_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

void gf_env(void)
{
	setenv("GIT_AUTHOR_NAME", "A U Thor", 1);
	setenv("GIT_AUTHOR_EMAIL", "author@example.com", 1);
	setenv("GIT_COMMITTER_NAME", "C O Mitter", 1);
	setenv("GIT_COMMITTER_EMAIL", "committer@example.com", 1);
	setenv("GIT_AUTHOR_DATE", "Thu, 26 Nov 2026 15:45:33 +0100", 1);
	setenv("GIT_COMMITTER_DATE", "Thu, 26 Nov 2026 15:45:33 +0100", 1);
	setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
	setenv("GIT_CONFIG_GLOBAL", "/dev/null", 1);
	setenv("GIT_TERMINAL_PROMPT", "0", 1);
}

int gf_setup(void)
{
	char *tmp = getenv("TMPDIR");

	gf_env();
	snprintf(gf.root, sizeof(gf.root), "%s/s2i-gitfix-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(gf.root))
		gf_die("mkdtemp", gf.root);
	setenv("HOME", gf.root, 1);
	snprintf(gf.work, sizeof(gf.work), "%s/work", gf.root);
	snprintf(gf.subwork, sizeof(gf.subwork), "%s/subwork", gf.root);
	snprintf(gf.upmain, sizeof(gf.upmain), "%s/up/main.git", gf.root);
	snprintf(gf.upsub, sizeof(gf.upsub), "%s/up/sub.git", gf.root);
	snprintf(gf.url, sizeof(gf.url), "file://%s", gf.upmain);

	/* the submodule */
	gf_git(gf.root, "init", "-q", "-b", "main", gf.subwork, NULL);
	gf_write(gf.subwork, "lib.txt", "library\n", 0644);
	gf_write(gf.subwork, "bin/tool", "#!/bin/sh\n", 0755);
	gf_git(gf.subwork, "add", "-A", NULL);
	gf_git(gf.subwork, "commit", "-q", "-m", "sub: first", NULL);
	gf_git(gf.root, "clone", "-q", "--bare", gf.subwork, gf.upsub, NULL);

	/* main, pushed to its bare upstream; the submodule by relative URL */
	gf_git(gf.root, "init", "-q", "--bare", "-b", "main", gf.upmain, NULL);
	gf_git(gf.root, "init", "-q", "-b", "main", gf.work, NULL);
	gf_git(gf.work, "remote", "add", "origin", gf.upmain, NULL);
	gf_write(gf.work, "README.md", "hello\n", 0644);
	gf_write(gf.work, "run.sh", "#!/bin/sh\necho hi\n", 0755);
	gf_write(gf.work, "tmp.log", "log\n", 0644);
	gf_write(gf.work, "app/main.py", "print('hi')\n", 0644);
	gf_write(gf.work, "app/.s2i/bin/assemble", "#!/bin/sh\necho assemble\n", 0755);
	gf_write(gf.work, "app/.s2i/environment", "A=1\n# c\nB=two\n", 0644);
	{
		char l[400];

		snprintf(l, sizeof(l), "%s/link", gf.work);
		if (symlink("README.md", l) < 0)
			gf_die("symlink", l);
	}
	gf_git(gf.work, "submodule", "add", "-q", "../sub.git", "vendor/sub", NULL);
	gf_git(gf.work, "add", "-A", NULL);
	gf_git(gf.work, "commit", "-q", "-m", "first commit", "-m", "body text", NULL);
	gf_git(gf.work, "tag", "-a", "v1", "-m", "release 1", NULL);
	gf_git(gf.work, "checkout", "-q", "-b", "feature", NULL);
	gf_write(gf.work, "feature.txt", "feature\n", 0644);
	gf_git(gf.work, "add", "-A", NULL);
	gf_git(gf.work, "commit", "-q", "-m", "feature work", NULL);
	gf_git(gf.work, "checkout", "-q", "main", NULL);
	gf_write(gf.work, "README.md", "hello again\n", 0644);
	gf_git(gf.work, "commit", "-q", "-a", "-m",
	       "second commit with a very long subject line that certainly goes beyond eighty columns, yes", NULL);
	gf_git(gf.work, "push", "-q", "origin", "main", "feature", "v1", NULL);
	return 0;
}

int gf_teardown(void)
{
	if (gf.root[0])
		gf_rm_rf(gf.root);
	return 0;
}

/* Resets the peak RSS (VmHWM) to the current RSS, so a later reading is about what
 * ran in between. */
void gf_vmhwm_reset(void)
{
	int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);

	if (fd >= 0) {
		/* on a kernel without it the peak simply stays cumulative */
		ssize_t n = write(fd, "5", 1);

		(void)n;
		close(fd);
	}
}

int gf_group_setup(void **state)
{
	(void)state;
	return gf_setup();
}

int gf_group_teardown(void **state)
{
	(void)state;
	return gf_teardown();
}

int gf_has(const struct strv *v, const char *s)
{
	size_t i;

	for (i = 0; i < v->n; i++)
		if (!strcmp(v->items[i], s))
			return 1;
	return 0;
}
