/* Unit tests for srctar: tars from git trees and directories read back with libarchive
 * (names, modes, links, owners, excludes, context dirs, submodules), the pipe bridge, and
 * the peak RSS while a large source streams. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>

#include "child.h"
#include "cmds.h"
#include "gitfixture.h"
#include "srctar.h"

/* ---- helpers ---- */

static int buf_sink(void *ctx, const void *p, size_t n)
{
	return buf_add(ctx, p, n);
}

static uint64_t counted;

static int fail_sink(void *ctx, const void *p, size_t n)
{
	(void)ctx;
	(void)p;
	(void)n;
	errno = EPIPE;
	return -1;
}

static int count_sink(void *ctx, const void *p, size_t n)
{
	(void)ctx;
	(void)p;
	counted += n;
	return 0;
}

/* One line per entry: "name mode uid:gid [-> link] [=content-if-small]". */
static void list_tar(const struct buf *tar, struct strv *out)
{
	struct archive *a = archive_read_new();
	struct archive_entry *ae;
	char data[64];

	archive_read_support_format_tar(a);
	assert_int_equal(archive_read_open_memory(a, tar->data, tar->len), ARCHIVE_OK);
	while (archive_read_next_header(a, &ae) == ARCHIVE_OK) {
		const char *link = archive_entry_symlink(ae);
		la_ssize_t n = 0;

		if (archive_entry_filetype(ae) == AE_IFREG && archive_entry_size(ae) < (la_int64_t)sizeof(data)) {
			n = archive_read_data(a, data, sizeof(data) - 1);
			assert_true(n >= 0);
			data[n] = '\0';
			data[strcspn(data, "\n")] = '\0';
		}
		strv_pushf(out, "%s %o %ld:%ld%s%s%s%s", archive_entry_pathname(ae),
			   (unsigned)archive_entry_mode(ae), (long)archive_entry_uid(ae),
			   (long)archive_entry_gid(ae), link ? " -> " : "", link ? link : "",
			   n > 0 ? " =" : "", n > 0 ? data : "");
	}
	assert_int_equal(archive_read_free(a), ARCHIVE_OK);
}

static int has_prefix(const struct strv *v, const char *s)
{
	size_t i;

	for (i = 0; i < v->n; i++)
		if (!strncmp(v->items[i], s, strlen(s)))
			return 1;
	return 0;
}

static int has_substr(const struct strv *v, const char *s)
{
	size_t i;

	for (i = 0; i < v->n; i++)
		if (strstr(v->items[i], s))
			return 1;
	return 0;
}

static void dump(const struct strv *v)
{
	size_t i;

	for (i = 0; i < v->n; i++)
		print_message("  %s\n", v->items[i]);
}

static struct gitsrc *open_resolved(const char *source, const char *ctx, int ignore_subs)
{
	struct gitsrc_opts o = GITSRC_OPTS_INIT;
	struct gitsrc *s = NULL;
	struct err e = ERR_INIT;

	o.context_dir = ctx;
	o.ignore_submodules = ignore_subs;
	if (gitsrc_open(source, &o, &s, &e) < 0 || gitsrc_resolve(s, NULL, NULL, &e) < 0)
		fail_msg("source '%s': %s", source, e.msg);
	return s;
}

/* Tar of a source with prefix "src", owner 1001:0, into *out. */
static void tar_source(struct gitsrc *s, const struct strv *exclude, struct buf *out)
{
	struct srctar_opts o = SRCTAR_OPTS_INIT;
	struct srctar *t = NULL;
	struct err e = ERR_INIT;

	o.uid = 1001;
	o.gid = 0;
	buf_init(out, 256u * 1024 * 1024);
	assert_int_equal(srctar_new(buf_sink, out, &o, &t, &e), 0);
	if (srctar_add_source(t, "src", s, exclude, &e) < 0 || srctar_finish(t, &e) < 0)
		fail_msg("tar: %s", e.msg);
	assert_int_equal(srctar_bytes(t), out->len);
	assert_int_equal(out->len % 10240, 0);
	srctar_free(t);
}

/* ---- tests ---- */

static void test_git_tree(void **state)
{
	struct strv l = STRV_INIT;
	struct buf tar;
	struct gitsrc *s;
	const char *sources[3] = { gf.work, gf.upmain, gf.url };
	int i;

	(void)state;
	for (i = 0; i < 3; i++) {
		s = open_resolved(sources[i], NULL, 0);
		tar_source(s, NULL, &tar);
		list_tar(&tar, &l);
		if (!gf_has(&l, "src/README.md 100644 1001:0 =hello again"))
			dump(&l);
		assert_true(gf_has(&l, "src/ 40755 1001:0"));
		assert_true(gf_has(&l, "src/README.md 100644 1001:0 =hello again"));
		assert_true(gf_has(&l, "src/run.sh 100755 1001:0 =#!/bin/sh"));
		assert_true(gf_has(&l, "src/link 120777 1001:0 -> README.md"));
		assert_true(gf_has(&l, "src/app/ 40755 1001:0"));
		assert_true(gf_has(&l, "src/app/.s2i/bin/assemble 100755 1001:0 =#!/bin/sh"));
		assert_true(gf_has(&l, "src/vendor/sub/lib.txt 100644 1001:0 =library"));
		assert_true(gf_has(&l, "src/vendor/sub/bin/tool 100755 1001:0 =#!/bin/sh"));
		assert_true(gf_has(&l, "src/tmp.log 100644 1001:0 =log"));
		assert_true(gf_has(&l, "src/.gitmodules 100644 1001:0 =[submodule \"vendor/sub\"]"));
		assert_false(has_substr(&l, ".git/"));
		assert_false(has_prefix(&l, "src/.git "));
		assert_false(has_prefix(&l, "src/feature.txt"));
		strv_clear(&l);
		buf_release(&tar);
		gitsrc_free(s);
	}
}

static void test_git_exclude_context(void **state)
{
	struct strv l = STRV_INIT, ex = STRV_INIT;
	struct buf tar;
	struct gitsrc *s;
	struct err e = ERR_INIT;

	(void)state;
	strv_push(&ex, "\\.log$");
	strv_push(&ex, "(^|/)vendor(/|$)");
	s = open_resolved(gf.work, NULL, 0);
	tar_source(s, &ex, &tar);
	list_tar(&tar, &l);
	assert_false(has_prefix(&l, "src/tmp.log"));
	assert_false(has_prefix(&l, "src/vendor"));
	assert_true(has_prefix(&l, "src/README.md"));
	strv_clear(&l);
	buf_release(&tar);
	gitsrc_free(s);

	s = open_resolved(gf.work, "app", 0);
	tar_source(s, NULL, &tar);
	list_tar(&tar, &l);
	assert_true(gf_has(&l, "src/main.py 100644 1001:0 =print('hi')"));
	assert_true(gf_has(&l, "src/.s2i/bin/assemble 100755 1001:0 =#!/bin/sh"));
	assert_false(has_prefix(&l, "src/README.md"));
	assert_false(has_prefix(&l, "src/app"));
	strv_clear(&l);
	buf_release(&tar);
	gitsrc_free(s);

	s = open_resolved(gf.upmain, NULL, 1);	/* --ignore-submodules */
	tar_source(s, NULL, &tar);
	list_tar(&tar, &l);
	assert_true(gf_has(&l, "src/vendor/sub/ 40755 1001:0"));
	assert_false(has_prefix(&l, "src/vendor/sub/lib.txt"));
	strv_clear(&l);
	buf_release(&tar);
	gitsrc_free(s);

	strv_clear(&ex);
	strv_push(&ex, "([");
	assert_int_equal(srctar_check_exclude(&ex, &e), -1);
	assert_non_null(strstr(e.msg, "(["));
	assert_int_equal(srctar_check_exclude(NULL, &e), 0);
	strv_clear(&ex);
}

static void make_plain(char *dir, size_t sz)
{
	char p[600];

	snprintf(dir, sz, "%s/plaintar", gf.root);
	gf_write(dir, "a.txt", "alpha\n", 0644);
	gf_write(dir, "bin/run", "#!/bin/sh\n", 0750);
	gf_write(dir, "sub/deep/file.txt", "deep\n", 0600);
	gf_write(dir, "build.log", "noise\n", 0644);
	gf_write(dir, ".git/config", "[core]\n", 0644);
	gf_write(dir, "sub/.git", "gitdir: ../x\n", 0644);	/* a submodule's .git file */
	snprintf(p, sizeof(p), "%s/escape", dir);
	assert_int_equal(symlink("/etc/passwd", p), 0);
	snprintf(p, sizeof(p), "%s/sub/up", dir);
	assert_int_equal(symlink("..", p), 0);
	snprintf(p, sizeof(p), "%s/fifo", dir);
	assert_int_equal(mkfifo(p, 0644), 0);
}

static void test_plain_dir(void **state)
{
	struct strv l = STRV_INIT, ex = STRV_INIT;
	struct buf tar;
	struct gitsrc *s;
	char dir[400];

	(void)state;
	make_plain(dir, sizeof(dir));
	s = open_resolved(dir, NULL, 0);
	assert_int_equal(gitsrc_kind(s), GITSRC_PLAIN);
	tar_source(s, NULL, &tar);
	list_tar(&tar, &l);
	if (!gf_has(&l, "src/a.txt 100644 1001:0 =alpha"))
		dump(&l);
	assert_true(gf_has(&l, "src/a.txt 100644 1001:0 =alpha"));
	assert_true(gf_has(&l, "src/bin/run 100750 1001:0 =#!/bin/sh"));
	assert_true(gf_has(&l, "src/sub/deep/file.txt 100600 1001:0 =deep"));
	assert_true(gf_has(&l, "src/escape 120777 1001:0 -> /etc/passwd"));	/* kept, not followed */
	assert_true(gf_has(&l, "src/sub/up 120777 1001:0 -> .."));
	assert_true(gf_has(&l, "src/build.log 100644 1001:0 =noise"));
	assert_false(has_substr(&l, ".git"));
	assert_false(has_substr(&l, "fifo"));
	assert_false(has_substr(&l, "root:"));
	strv_clear(&l);
	buf_release(&tar);
	gitsrc_free(s);

	/* excludes from --exclude; an empty list still never ships .git */
	strv_push(&ex, "\\.log$");
	s = open_resolved(dir, "sub", 0);
	tar_source(s, &ex, &tar);
	list_tar(&tar, &l);
	assert_true(gf_has(&l, "src/deep/file.txt 100600 1001:0 =deep"));
	assert_false(has_prefix(&l, "src/a.txt"));
	assert_false(has_substr(&l, ".git"));
	strv_clear(&l);
	buf_release(&tar);
	gitsrc_free(s);
	strv_clear(&ex);
	{
		struct strv none = STRV_INIT;

		s = open_resolved(dir, NULL, 0);
		tar_source(s, &none, &tar);
		list_tar(&tar, &l);
		assert_true(has_prefix(&l, "src/build.log"));
		assert_false(has_substr(&l, ".git"));
		strv_clear(&l);
		buf_release(&tar);
		gitsrc_free(s);
	}
	/* a context dir that is a link out of the source is refused */
	{
		struct gitsrc_opts o = GITSRC_OPTS_INIT;
		struct err e = ERR_INIT;
		char p[600];

		snprintf(p, sizeof(p), "%s/linkdir", dir);
		assert_int_equal(symlink("/etc", p), 0);
		o.context_dir = "linkdir";
		assert_int_equal(gitsrc_open(dir, &o, &s, &e), 0);
		assert_int_equal(gitsrc_resolve(s, NULL, NULL, &e), -1);
		gitsrc_free(s);
		unlink(p);
	}
}

/* .s2iignore (srcignore.h) in the source root, after the context dir: on disk and in a
 * git tree; a directory it names goes with all it holds; --exclude still applies. */
static void test_s2iignore(void **state)
{
	static const char ign[] = "# comment\n*.log\ncache\n*.txt\n!keep.txt\n";
	struct strv l = STRV_INIT;
	struct buf tar;
	struct gitsrc *s;
	char dir[400], repo[400];
	int pass;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/ignoretar", gf.root);
	snprintf(repo, sizeof(repo), "%s/ignorerepo", gf.root);
	for (pass = 0; pass < 2; pass++) {
		const char *d = pass ? repo : dir;

		gf_write(d, "app/.s2iignore", ign, 0644);
		gf_write(d, "app/run.sh", "run\n", 0755);
		gf_write(d, "app/x.log", "x\n", 0644);
		gf_write(d, "app/sub/y.log", "y\n", 0644);
		gf_write(d, "app/cache/deep/z.bin", "z\n", 0644);
		gf_write(d, "app/keep.txt", "k\n", 0644);
		gf_write(d, "app/drop.txt", "d\n", 0644);
		gf_write(d, ".s2iignore", "run.sh\napp\n", 0644);	/* not the context dir's */
		if (pass) {
			gf_git(repo, "init", "-q", "-b", "main", NULL);
			gf_git(repo, "add", "-A", NULL);
			gf_git(repo, "commit", "-q", "-m", "ignore", NULL);
		}
		s = open_resolved(d, "app", 0);
		assert_int_equal(gitsrc_kind(s), pass ? GITSRC_WORKTREE : GITSRC_PLAIN);
		tar_source(s, NULL, &tar);
		list_tar(&tar, &l);
		dump(&l);
		assert_true(has_prefix(&l, "src/run.sh "));
		assert_true(has_prefix(&l, "src/keep.txt "));
		assert_true(has_prefix(&l, "src/.s2iignore "));
		assert_true(has_prefix(&l, "src/sub/y.log "));	/* '*' stops at '/' */
		assert_false(has_prefix(&l, "src/x.log"));
		assert_false(has_prefix(&l, "src/drop.txt"));
		assert_false(has_substr(&l, "cache"));
		strv_clear(&l);
		buf_release(&tar);
		gitsrc_free(s);
	}
}

static void test_add_files(void **state)
{
	struct srctar_opts o = SRCTAR_OPTS_INIT;
	struct strv l = STRV_INIT;
	struct srctar *t = NULL;
	struct buf tar = BUF_INIT(1 << 20);
	struct err e = ERR_INIT;
	char path[400];

	(void)state;
	o.uid = 1001;
	o.gid = 1001;
	o.mtime = 1000000000;
	snprintf(path, sizeof(path), "%s/inject.txt", gf.root);
	gf_write(gf.root, "inject.txt", "injected\n", 0640);
	assert_int_equal(srctar_new(buf_sink, &tar, &o, &t, &e), 0);
	assert_int_equal(srctar_add_file(t, "scripts/assemble", 0755, "#!/bin/sh\nexit 0\n", 17, &e), 0);
	assert_int_equal(srctar_add_file(t, "scripts/run", 0755, "#!/bin/sh\n", 10, &e), 0);
	assert_int_equal(srctar_add_path(t, "etc/secret/inject.txt", path, 0, &e), 0);
	assert_int_equal(srctar_add_path(t, "etc/other.txt", path, 0600, &e), 0);
	assert_int_equal(srctar_add_dirent(t, "artifacts", 0755, &e), 0);
	assert_int_equal(srctar_add_file(t, "../evil", 0644, "x", 1, &e), -1);
	assert_non_null(strstr(e.msg, ".."));
	assert_int_equal(srctar_add_path(t, "x", "/nonexistent/file", 0, &e), -1);
	assert_non_null(strstr(e.msg, "/nonexistent/file"));
	assert_int_equal(srctar_finish(t, &e), 0);
	assert_int_equal(srctar_add_file(t, "late", 0644, "x", 1, &e), -1);
	srctar_free(t);
	list_tar(&tar, &l);
	dump(&l);
	assert_true(gf_has(&l, "scripts/ 40755 1001:1001"));
	assert_true(gf_has(&l, "scripts/assemble 100755 1001:1001 =#!/bin/sh"));
	assert_true(gf_has(&l, "scripts/run 100755 1001:1001 =#!/bin/sh"));
	assert_true(gf_has(&l, "etc/ 40755 1001:1001"));
	assert_true(gf_has(&l, "etc/secret/ 40755 1001:1001"));
	assert_true(gf_has(&l, "etc/secret/inject.txt 100640 1001:1001 =injected"));
	assert_true(gf_has(&l, "etc/other.txt 100600 1001:1001 =injected"));
	assert_true(gf_has(&l, "artifacts/ 40755 1001:1001"));
	assert_int_equal(l.n, 8);	/* each directory once */
	strv_clear(&l);
	buf_release(&tar);
}

/* A reader over memory: up to 700 bytes a read (tars straddle the reads), and an error
 * once fail_at bytes are gone when fail_at is set. */
struct mem_reader {
	const struct buf *b;
	size_t off, fail_at;
};

static ssize_t mem_read(void *arg, void *p, size_t len, struct err *e)
{
	struct mem_reader *r = arg;
	size_t n = r->b->len - r->off;

	if (r->fail_at && r->off >= r->fail_at)
		return err_set(e, "the stream broke at %zu", r->off);
	if (n > len)
		n = len;
	if (n > 700)
		n = 700;
	memcpy(p, r->b->data + r->off, n);
	r->off += n;
	return (ssize_t)n;
}

/* srctar_add_tar: another tar's entries as they are, after ours; a reader's failure is
 * told from a writer's. */
static void test_add_tar(void **state)
{
	struct srctar_opts o = SRCTAR_OPTS_INIT;
	struct strv l = STRV_INIT;
	struct srctar *t = NULL;
	struct buf in = BUF_INIT(1 << 20), tar = BUF_INIT(1 << 20);
	struct mem_reader r = { &in, 0, 0 };
	struct err e = ERR_INIT;
	char big[20000];
	int read_failed = -1;

	(void)state;
	/* the tar read: another owner, a link, a file larger than a read */
	o.uid = 7;
	o.gid = 8;
	memset(big, 'b', sizeof(big));
	assert_int_equal(srctar_new(buf_sink, &in, &o, &t, &e), 0);
	assert_int_equal(srctar_add_dirent(t, "artifacts/deps", 0700, &e), 0);
	assert_int_equal(srctar_add_file(t, "artifacts/deps/count", 0644, "3\n", 2, &e), 0);
	assert_int_equal(srctar_add_file(t, "artifacts/deps/big", 0600, big, sizeof(big), &e), 0);
	assert_int_equal(srctar_finish(t, &e), 0);
	srctar_free(t);

	o.uid = 1001;
	o.gid = 0;
	assert_int_equal(srctar_new(buf_sink, &tar, &o, &t, &e), 0);
	assert_int_equal(srctar_add_file(t, "src/app.sh", 0644, "echo\n", 5, &e), 0);
	assert_int_equal(srctar_add_tar(t, mem_read, &r, &read_failed, &e), 0);
	assert_int_equal(read_failed, 0);
	assert_int_equal(srctar_finish(t, &e), 0);
	srctar_free(t);
	list_tar(&tar, &l);
	dump(&l);
	assert_true(gf_has(&l, "src/app.sh 100644 1001:0 =echo"));
	assert_true(gf_has(&l, "artifacts/deps/ 40700 7:8"));
	assert_true(gf_has(&l, "artifacts/deps/count 100644 7:8 =3"));
	assert_true(has_prefix(&l, "artifacts/deps/big 100600 7:8"));
	assert_true(gf_has(&l, "artifacts/ 40755 7:8"));
	assert_int_equal(l.n, 6);	/* src/, src/app.sh, artifacts/, deps/, count, big */
	strv_clear(&l);

	/* the stream breaks in the middle: a read failure, with the reader's message */
	buf_reset(&tar);
	r.off = 0;
	r.fail_at = 2048;
	assert_int_equal(srctar_new(buf_sink, &tar, &o, &t, &e), 0);
	assert_int_equal(srctar_add_tar(t, mem_read, &r, &read_failed, &e), -1);
	assert_int_equal(read_failed, 1);
	assert_non_null(strstr(e.msg, "the stream broke at"));
	srctar_free(t);

	/* the writer fails (the engine went away): not a read failure */
	r.off = 0;
	r.fail_at = 0;
	assert_int_equal(srctar_new(fail_sink, NULL, &o, &t, &e), 0);
	assert_int_equal(srctar_add_tar(t, mem_read, &r, &read_failed, &e), -1);
	assert_int_equal(read_failed, 0);
	assert_non_null(strstr(e.msg, "cannot write the tar"));
	srctar_free(t);
	buf_release(&in);
	buf_release(&tar);
}

struct fill_ctx {
	const char *dir;
	size_t big;
};

static int fill_dir(struct srctar *t, void *ctx, struct err *e)
{
	struct fill_ctx *f = ctx;

	if (srctar_add_dir(t, "src", f->dir, NULL, e) < 0)
		return -1;
	if (f->big) {
		char *junk = xcalloc(1, f->big);
		int rc = srctar_add_file(t, "big.bin", 0644, junk, f->big, e);

		free(junk);
		return rc;
	}
	return 0;
}

static void test_pipe(void **state)
{
	struct srctar_pipe *p = NULL;
	struct fill_ctx f;
	struct strv l = STRV_INIT;
	struct buf tar = BUF_INIT(64u << 20);
	struct err e = ERR_INIT;
	char dir[400], chunk[4096];
	ssize_t n;
	int fd;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/plaintar", gf.root);
	f.dir = dir;
	f.big = 0;
	assert_int_equal(srctar_pipe_start(NULL, fill_dir, &f, &fd, &p, &e), 0);
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		assert_int_equal(buf_add(&tar, chunk, (size_t)n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(srctar_pipe_finish(p, &e), 0);
	list_tar(&tar, &l);
	assert_true(gf_has(&l, "src/a.txt 100644 0:0 =alpha"));
	strv_clear(&l);
	buf_release(&tar);

	/* the reader stops early: the writer fails with EPIPE, nothing hangs or dies */
	f.big = 8u << 20;
	assert_int_equal(srctar_pipe_start(NULL, fill_dir, &f, &fd, &p, &e), 0);
	assert_true(read(fd, chunk, sizeof(chunk)) > 0);
	assert_int_equal(srctar_pipe_finish(p, &e), -1);
	print_message("early stop: %s\n", e.msg);
	assert_non_null(strstr(e.msg, "cannot write the tar"));

	/* a failing fill is reported */
	f.dir = "/nonexistent/dir";
	f.big = 0;
	assert_int_equal(srctar_pipe_start(NULL, fill_dir, &f, &fd, &p, &e), 0);
	while (read(fd, chunk, sizeof(chunk)) > 0)
		;
	assert_int_equal(srctar_pipe_finish(p, &e), -1);
	assert_non_null(strstr(e.msg, "/nonexistent/dir"));
}

/* Writes total bytes as files of per bytes each under dir. */
static void make_big(const char *dir, size_t total, size_t per)
{
	char *data = xmalloc(per), name[64];
	size_t i, done = 0;

	for (i = 0; done < total; i++) {
		uint32_t x = (uint32_t)i * 2654435761u + (uint32_t)total;
		size_t k;

		/* distinct, half-compressible content per file: no deltas between files */
		for (k = 0; k < per; k++) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			data[k] = (k / 512) % 2 ? (char)x : (char)('a' + x % 26);
		}
		char path[600];
		int fd;

		snprintf(name, sizeof(name), "d%zu/f%zu.dat", i % 16, i);
		snprintf(path, sizeof(path), "%s/%s", dir, name);
		gf_write(dir, name, "", 0644);
		fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
		assert_true(fd >= 0);
		assert_int_equal(write(fd, data, per), (ssize_t)per);
		close(fd);
		done += per;
	}
	free(data);
}

static void test_big_rss(void **state)
{
	struct srctar_opts o = SRCTAR_OPTS_INIT;
	struct srctar *t = NULL;
	struct err e = ERR_INIT;
	struct gitsrc *s;
	char dir[400], gdir[400];
	long before, after;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/big", gf.root);
	make_big(dir, 200u << 20, 4u << 20);
	s = open_resolved(dir, NULL, 0);
	gf_vmhwm_reset();
	before = cmds_vmhwm_kb();
	counted = 0;
	assert_int_equal(srctar_new(count_sink, NULL, &o, &t, &e), 0);
	assert_int_equal(srctar_add_source(t, "src", s, NULL, &e), 0);
	assert_int_equal(srctar_finish(t, &e), 0);
	srctar_free(t);
	gitsrc_free(s);
	after = cmds_vmhwm_kb();
	print_message("directory: streamed %llu MB, VmHWM %ld kB before, %ld kB after\n",
		      (unsigned long long)(counted >> 20), before, after);
	assert_true(counted > (200u << 20));

	/* the same files committed to git (packed), streamed from the commit's tree */
	snprintf(gdir, sizeof(gdir), "%s/biggit", gf.root);
	gf_git(gf.root, "init", "-q", "-b", "main", gdir, NULL);
	make_big(gdir, 16u << 20, 1u << 20);
	{
		char sub[500];

		snprintf(sub, sizeof(sub), "%s/large", gdir);
		make_big(sub, 32u << 20, 32u << 20);	/* one 32 MB file */
	}
	gf_git(gdir, "add", "-A", NULL);
	gf_git(gdir, "commit", "-q", "-m", "big", NULL);
	gf_git(gdir, "gc", "-q", NULL);
	s = open_resolved(gdir, NULL, 0);
	gf_vmhwm_reset();
	before = cmds_vmhwm_kb();
	counted = 0;
	assert_int_equal(srctar_new(count_sink, NULL, &o, &t, &e), 0);
	if (srctar_add_source(t, "src", s, NULL, &e) < 0)
		fail_msg("%s", e.msg);
	assert_int_equal(srctar_finish(t, &e), 0);
	srctar_free(t);
	gitsrc_free(s);
	print_message("git tree (with a 32 MB blob): streamed %llu MB, VmHWM %ld kB before, %ld kB after\n",
		      (unsigned long long)(counted >> 20), before, cmds_vmhwm_kb());
	assert_true(counted > (48u << 20));
	gf_rm_rf(dir);
	gf_rm_rf(gdir);
}

/* Large blobs: undeltified ones are inflated from the pack in chunks, deltified ones come
 * through libgit2; both must arrive byte for byte. */
static void test_big_blobs(void **state)
{
	struct srctar_opts o = SRCTAR_OPTS_INIT;
	struct srctar *t = NULL;
	struct err e = ERR_INIT;
	struct gitsrc *s;
	struct buf tar;
	char dir[400], path[500];
	size_t size = 6u << 20, i;
	unsigned char *data = xmalloc(size);
	uint32_t x = 12345;
	int fd, found = 0;

	(void)state;
	for (i = 0; i < size; i++) {	/* half random, half text: some compression */
		x = x * 1103515245u + 12345u;
		data[i] = (i / 4096) % 2 ? (unsigned char)(x >> 16) : (unsigned char)('a' + i % 23);
	}
	snprintf(dir, sizeof(dir), "%s/bigblobs", gf.root);
	gf_git(gf.root, "init", "-q", "-b", "main", dir, NULL);
	snprintf(path, sizeof(path), "%s/one.bin", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_int_equal(write(fd, data, size), (ssize_t)size);
	close(fd);
	data[size / 2] ^= 0xff;		/* a near copy: packed as a delta of one.bin */
	snprintf(path, sizeof(path), "%s/two.bin", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_int_equal(write(fd, data, size), (ssize_t)size);
	close(fd);
	gf_git(dir, "add", "-A", NULL);
	gf_git(dir, "commit", "-q", "-m", "big blobs", NULL);
	gf_git(dir, "gc", "-q", NULL);
	s = open_resolved(dir, NULL, 0);
	buf_init(&tar, 64u << 20);
	assert_int_equal(srctar_new(buf_sink, &tar, &o, &t, &e), 0);
	if (srctar_add_source(t, "src", s, NULL, &e) < 0 || srctar_finish(t, &e) < 0)
		fail_msg("%s", e.msg);
	srctar_free(t);
	gitsrc_free(s);
	{
		struct archive *a = archive_read_new();
		struct archive_entry *ae;
		unsigned char *got = xmalloc(size);

		archive_read_support_format_tar(a);
		assert_int_equal(archive_read_open_memory(a, tar.data, tar.len), ARCHIVE_OK);
		while (archive_read_next_header(a, &ae) == ARCHIVE_OK) {
			const char *nm = archive_entry_pathname(ae);
			size_t off = 0;
			la_ssize_t n;

			if (strcmp(nm, "src/one.bin") && strcmp(nm, "src/two.bin"))
				continue;
			assert_int_equal(archive_entry_size(ae), size);
			while ((n = archive_read_data(a, got + off, size - off)) > 0)
				off += (size_t)n;
			assert_int_equal(off, size);
			if (!strcmp(nm, "src/one.bin"))
				data[size / 2] ^= 0xff;
			assert_memory_equal(got, data, size);
			if (!strcmp(nm, "src/one.bin"))
				data[size / 2] ^= 0xff;
			found++;
		}
		archive_read_free(a);
		free(got);
	}
	assert_int_equal(found, 2);
	buf_release(&tar);
	free(data);
	gf_rm_rf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_git_tree),
		cmocka_unit_test(test_git_exclude_context),
		cmocka_unit_test(test_plain_dir),
		cmocka_unit_test(test_s2iignore),
		cmocka_unit_test(test_add_files),
		cmocka_unit_test(test_add_tar),
		cmocka_unit_test(test_pipe),
		cmocka_unit_test(test_big_rss),
		cmocka_unit_test(test_big_blobs),
	};

	return cmocka_run_group_tests(tests, gf_group_setup, gf_group_teardown);
}
