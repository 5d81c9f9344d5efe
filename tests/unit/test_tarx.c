/* Unit tests for tarx: malicious tars crafted with libarchive are refused with a
 * message naming the entry and leave nothing outside the destination; good tars
 * extract exactly; the filter renames and re-checks; one file can be read out. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>

#include "child.h"
#include "tarx.h"

enum { F = 1, D, L, H, CHR, BLK, FIFO, SOCK };

struct ent {
	int kind;
	const char *name;
	const char *data;	/* file content; symlink or hardlink target */
	unsigned mode;		/* 0: 0644 / 0755 */
	int64_t size;		/* header size override for F (data is then generated) */
};

static char root[64];		/* per-test scratch: root/dest is where we extract */
static char dest[128];

static la_ssize_t to_buf(struct archive *a, void *arg, const void *data, size_t len)
{
	(void)a;
	return buf_add(arg, data, len) < 0 ? -1 : (la_ssize_t)len;
}

static void tar_make(struct buf *out, const struct ent *ents, size_t n)
{
	struct archive *a = archive_write_new();
	size_t i;

	archive_write_set_format_pax_restricted(a);
	archive_write_open(a, out, NULL, to_buf, NULL);
	for (i = 0; i < n; i++) {
		const struct ent *t = &ents[i];
		struct archive_entry *ae = archive_entry_new();
		int64_t size = 0;

		archive_entry_set_pathname(ae, t->name);
		archive_entry_set_uid(ae, 1234);
		archive_entry_set_gid(ae, 5678);
		switch (t->kind) {
		case F:
			archive_entry_set_filetype(ae, AE_IFREG);
			size = t->size ? t->size : (int64_t)strlen(t->data ? t->data : "");
			break;
		case D: archive_entry_set_filetype(ae, AE_IFDIR); break;
		case L: archive_entry_set_filetype(ae, AE_IFLNK); archive_entry_set_symlink(ae, t->data); break;
		case H: archive_entry_set_filetype(ae, AE_IFREG); archive_entry_set_hardlink(ae, t->data); break;
		case CHR: archive_entry_set_filetype(ae, AE_IFCHR); archive_entry_set_rdev(ae, makedev(1, 3)); break;
		case BLK: archive_entry_set_filetype(ae, AE_IFBLK); archive_entry_set_rdev(ae, makedev(8, 0)); break;
		case FIFO: archive_entry_set_filetype(ae, AE_IFIFO); break;
		case SOCK: archive_entry_set_filetype(ae, AE_IFSOCK); break;
		}
		archive_entry_set_perm(ae, t->mode ? t->mode : (t->kind == D ? 0755 : 0644));
		archive_entry_set_size(ae, size);
		assert_int_equal(archive_write_header(a, ae), ARCHIVE_OK);
		if (t->kind == F && size) {
			if (t->size) {
				char block[4096];
				int64_t left = size;

				memset(block, 'z', sizeof(block));
				while (left > 0) {
					size_t k = left > (int64_t)sizeof(block) ? sizeof(block) : (size_t)left;

					assert_int_equal(archive_write_data(a, block, k), (la_ssize_t)k);
					left -= (int64_t)k;
				}
			} else {
				assert_int_equal(archive_write_data(a, t->data, (size_t)size), (la_ssize_t)size);
			}
		}
		archive_entry_free(ae);
	}
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
}

struct mem {
	const char *p;
	size_t len, off, piece;
};

static ssize_t mem_read(void *arg, void *buf, size_t len, struct err *e)
{
	struct mem *m = arg;
	size_t n = m->len - m->off;

	(void)e;
	if (n > len)
		n = len;
	if (m->piece && n > m->piece)
		n = m->piece;
	memcpy(buf, m->p + m->off, n);
	m->off += n;
	return (ssize_t)n;
}

static int extract(const struct ent *ents, size_t n, const struct tarx_opts *o, struct err *e)
{
	struct buf t = BUF_INIT(64 * 1024 * 1024);
	struct mem m;
	int rv;

	tar_make(&t, ents, n);
	m = (struct mem){ t.data, t.len, 0, 1000 };
	rv = tarx_extract(mem_read, &m, dest, o, NULL, e);
	buf_release(&t);
	return rv;
}

static int setup(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "/tmp/test-tarx.XXXXXX");
	if (!mkdtemp(root))
		return -1;
	snprintf(dest, sizeof(dest), "%s/dest", root);
	return mkdir(dest, 0755);
}

static int teardown(void **state)
{
	const char *argv[] = { "rm", "-rf", root, NULL };
	struct err e = ERR_INIT;

	(void)state;
	return child_run(argv, &e);
}

static char *slurp(const char *rel)
{
	char path[512];
	struct buf b = BUF_INIT(64 * 1024 * 1024);
	char tmp[4096];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dest, rel);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	while ((n = read(fd, tmp, sizeof(tmp))) > 0)
		buf_add(&b, tmp, (size_t)n);
	close(fd);
	return buf_detach(&b, NULL);
}

static int exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* Only the expected names are in root (dest and nothing else). */
static void assert_nothing_outside(void)
{
	char p[256];

	snprintf(p, sizeof(p), "%s/evil", root);
	assert_false(exists(p));
	snprintf(p, sizeof(p), "%s/outside", root);
	assert_false(exists(p));
	assert_false(exists("/tmp/evil-from-test-tarx"));
}

/* ---- good tars ---- */

static void test_good_extract(void **state)
{
	static const struct ent t[] = {
		{ D, ".", NULL, 0755, 0 },
		{ D, "app", NULL, 0750, 0 },
		{ F, "./app/run.sh", "#!/bin/sh\necho hi\n", 0755, 0 },
		{ F, "app//conf/settings.ini", "a=1\n", 0600, 0 },	/* parent implied */
		{ L, "app/current", "run.sh", 0777, 0 },
		{ L, "app/conf/up", "../run.sh", 0777, 0 },
		{ H, "app/run-again.sh", "app/run.sh", 0, 0 },
		{ F, "app/suid", "x", 04755, 0 },
		{ F, "empty", "", 0644, 0 },
	};
	struct tarx_stats st;
	struct buf tb = BUF_INIT(1 << 20);
	struct mem m;
	struct err e = ERR_INIT;
	struct stat a, b;
	char p[256], link[64], *s;
	ssize_t n;

	(void)state;
	tar_make(&tb, t, sizeof(t) / sizeof(t[0]));
	m = (struct mem){ tb.data, tb.len, 0, 1 };	/* one byte at a time */
	if (tarx_extract(mem_read, &m, dest, NULL, &st, &e) < 0)
		fail_msg("%s", e.msg);
	buf_release(&tb);
	assert_int_equal(st.entries, 9);
	s = slurp("app/run.sh");
	assert_string_equal(s, "#!/bin/sh\necho hi\n");
	free(s);
	s = slurp("app/conf/settings.ini");
	assert_string_equal(s, "a=1\n");
	free(s);
	s = slurp("empty");
	assert_string_equal(s, "");
	free(s);

	snprintf(p, sizeof(p), "%s/app/run.sh", dest);
	assert_int_equal(stat(p, &a), 0);
	assert_int_equal(a.st_mode & 07777, 0755);
	snprintf(p, sizeof(p), "%s/app/conf/settings.ini", dest);
	assert_int_equal(stat(p, &b), 0);
	assert_int_equal(b.st_mode & 07777, 0600);
	snprintf(p, sizeof(p), "%s/app", dest);
	assert_int_equal(stat(p, &b), 0);
	assert_int_equal(b.st_mode & 07777, 0750);
	/* setuid is never applied */
	snprintf(p, sizeof(p), "%s/app/suid", dest);
	assert_int_equal(stat(p, &b), 0);
	assert_int_equal(b.st_mode & 07777, 0755);
	/* owners are not applied: the files are ours */
	assert_int_equal(b.st_uid, getuid());

	snprintf(p, sizeof(p), "%s/app/current", dest);
	n = readlink(p, link, sizeof(link) - 1);
	assert_true(n > 0);
	link[n] = 0;
	assert_string_equal(link, "run.sh");
	snprintf(p, sizeof(p), "%s/app/run-again.sh", dest);
	assert_int_equal(stat(p, &b), 0);
	snprintf(p, sizeof(p), "%s/app/run.sh", dest);
	assert_int_equal(stat(p, &a), 0);
	assert_int_equal(a.st_ino, b.st_ino);

	/* extracting the same tar again replaces files, keeps directories */
	assert_int_equal(extract(t, sizeof(t) / sizeof(t[0]), NULL, &e), 0);
}

static void test_extract_fd_and_rename(void **state)
{
	static const struct ent t[] = {
		{ D, "src", NULL, 0, 0 },
		{ F, "src/a.txt", "A", 0, 0 },
		{ F, "src/lib/b.txt", "B", 0, 0 },
		{ F, "other/c.txt", "C", 0, 0 },
	};
	struct tarx_opts o = TARX_OPTS_INIT;
	struct buf tb = BUF_INIT(1 << 20);
	struct err e = ERR_INIT;
	char p[256], *s;
	int fd;

	(void)state;
	tar_make(&tb, t, 4);
	snprintf(p, sizeof(p), "%s/in.tar", root);
	fd = open(p, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, tb.data, tb.len), (ssize_t)tb.len);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	o.rename_from = "src";
	o.rename_to = "";
	o.prefix = "artifacts";
	if (tarx_extract_fd(fd, dest, &o, NULL, &e) < 0)
		fail_msg("%s", e.msg);
	close(fd);
	buf_release(&tb);
	s = slurp("artifacts/a.txt");
	assert_string_equal(s, "A");
	free(s);
	s = slurp("artifacts/lib/b.txt");
	assert_string_equal(s, "B");
	free(s);
	s = slurp("artifacts/other/c.txt");
	assert_string_equal(s, "C");
	free(s);
}

/* ---- malicious tars ---- */

struct bad {
	const char *what;
	struct ent ents[3];
	size_t n;
	const char *expect;	/* in the message */
};

static void test_malicious(void **state)
{
	static const struct bad cases[] = {
		{ "absolute", { { F, "/tmp/evil-from-test-tarx", "x", 0, 0 } }, 1, "'/tmp/evil-from-test-tarx': absolute path" },
		{ "dotdot", { { F, "../evil", "x", 0, 0 } }, 1, "'../evil': path leaves" },
		{ "dotdot inside", { { F, "a/../../evil", "x", 0, 0 } }, 1, "'a/../../evil': path leaves" },
		{ "dotdot harmless-looking", { { F, "a/b/../c", "x", 0, 0 } }, 1, "'a/b/../c': path leaves" },
		{ "symlink up", { { L, "l", "../outside", 0, 0 } }, 1, "'l': symlink target '../outside' leaves" },
		{ "symlink deep up", { { L, "d/e/l", "../../../outside", 0, 0 } }, 1, "leaves the destination" },
		{ "symlink absolute", { { L, "l", "/etc", 0, 0 } }, 1, "'l': symlink to an absolute path" },
		{ "symlink climb after name", { { L, "l", "x/../../outside", 0, 0 } }, 1, "has '..' after a name" },
		{ "through symlink",
		  { { D, "sub", NULL, 0, 0 }, { L, "l", "sub", 0, 0 }, { F, "l/evil", "x", 0, 0 } }, 3,
		  "'l/evil': path goes through a symlink" },
		{ "chained symlinks",
		  { { L, "d/s", "..", 0, 0 }, { L, "x", "d/s/..", 0, 0 } }, 2, "has '..' after a name" },
		{ "hardlink outside", { { H, "h", "../../etc/passwd", 0, 0 } }, 1, "'../../etc/passwd': path leaves" },
		{ "hardlink absolute", { { H, "h", "/etc/passwd", 0, 0 } }, 1, "absolute path" },
		{ "hardlink to symlink",
		  { { L, "a/b/l", "../../x", 0, 0 }, { H, "m", "a/b/l", 0, 0 } }, 2, "'m': hardlink to a symlink" },
		{ "char device", { { CHR, "dev/null", NULL, 0, 0 } }, 1, "'dev/null': device node refused" },
		{ "block device", { { BLK, "sda", NULL, 0, 0 } }, 1, "'sda': device node refused" },
		{ "fifo", { { FIFO, "pipe", NULL, 0, 0 } }, 1, "'pipe': fifo refused" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct err e = ERR_INIT;

		if (extract(cases[i].ents, cases[i].n, NULL, &e) == 0)
			fail_msg("case '%s' was accepted", cases[i].what);
		if (!strstr(e.msg, cases[i].expect))
			fail_msg("case '%s': message '%s' lacks '%s'", cases[i].what, e.msg, cases[i].expect);
		assert_nothing_outside();
	}
}

static void test_existing_symlink_on_disk(void **state)
{
	static const struct ent t[] = { { F, "pre/evil", "x", 0, 0 } };
	struct err e = ERR_INIT;
	char p[256], target[256];

	(void)state;
	/* a symlink already in the destination is never followed */
	snprintf(target, sizeof(target), "%s/outside", root);
	assert_int_equal(mkdir(target, 0755), 0);
	snprintf(p, sizeof(p), "%s/pre", dest);
	assert_int_equal(symlink(target, p), 0);
	assert_int_equal(extract(t, 1, NULL, &e), -1);
	assert_non_null(strstr(e.msg, "'pre' on disk is not a directory"));
	snprintf(p, sizeof(p), "%s/outside/evil", root);
	assert_false(exists(p));
}

static void test_limits(void **state)
{
	static const struct ent big[] = { { F, "big", NULL, 0, 10001 } };
	static const struct ent two[] = { { F, "a", NULL, 0, 6000 }, { F, "b", NULL, 0, 6000 } };
	struct ent many[3] = { { F, "1", "x", 0, 0 }, { F, "2", "x", 0, 0 }, { F, "3", "x", 0, 0 } };
	struct tarx_opts o = TARX_OPTS_INIT;
	struct err e = ERR_INIT;

	(void)state;
	o.entry_max = 10000;
	assert_int_equal(extract(big, 1, &o, &e), -1);
	assert_non_null(strstr(e.msg, "'big': 10001 bytes, more than the 10000 allowed"));
	o.entry_max = 0;
	o.total_max = 10000;
	assert_int_equal(extract(two, 2, &o, &e), -1);
	assert_non_null(strstr(e.msg, "'b': the tar exceeds 10000 bytes in total"));
	o.total_max = 0;
	o.entries_max = 2;
	assert_int_equal(extract(many, 3, &o, &e), -1);
	assert_non_null(strstr(e.msg, "more than 2 entries"));
	o.entries_max = 3;
	assert_int_equal(extract(many, 3, &o, &e), 0);
}

static void test_garbage_and_truncated(void **state)
{
	static const struct ent t[] = { { F, "f", NULL, 0, 100000 } };
	struct buf tb = BUF_INIT(1 << 20);
	struct mem m;
	struct err e = ERR_INIT;
	char junk[2048];

	(void)state;
	memset(junk, 'j', sizeof(junk));
	m = (struct mem){ junk, sizeof(junk), 0, 0 };
	assert_int_equal(tarx_extract(mem_read, &m, dest, NULL, NULL, &e), -1);
	/* an empty stream is an empty tar (save-artifacts that prints nothing) */
	m = (struct mem){ junk, 0, 0, 0 };
	assert_int_equal(tarx_extract(mem_read, &m, dest, NULL, NULL, &e), 0);
	tar_make(&tb, t, 1);
	m = (struct mem){ tb.data, 5000, 0, 0 };
	assert_int_equal(tarx_extract(mem_read, &m, dest, NULL, NULL, &e), -1);
	assert_non_null(strstr(e.msg, "'f'"));
	buf_release(&tb);
}

static ssize_t failing_read(void *arg, void *buf, size_t len, struct err *e)
{
	(void)arg; (void)buf; (void)len;
	return err_set(e, "the engine went away");
}

static void test_reader_error_passes_through(void **state)
{
	struct err e = ERR_INIT;
	struct buf out = BUF_INIT(100);
	int found = 1;

	(void)state;
	assert_int_equal(tarx_extract(failing_read, NULL, dest, NULL, NULL, &e), -1);
	assert_non_null(strstr(e.msg, "the engine went away"));
	assert_int_equal(tarx_read_file(failing_read, NULL, "x", 10, &out, &found, &e), -1);
	assert_non_null(strstr(e.msg, "the engine went away"));
	assert_int_equal(found, 0);
}

/* ---- filter ---- */

struct listing {
	struct buf names;
};

static void list_tar(const struct buf *tb, struct buf *names)
{
	struct archive *a = archive_read_new();
	struct archive_entry *ae;

	archive_read_support_format_tar(a);
	assert_int_equal(archive_read_open_memory(a, tb->data, tb->len), ARCHIVE_OK);
	while (archive_read_next_header(a, &ae) == ARCHIVE_OK) {
		const char *hl = archive_entry_hardlink(ae), *sl = archive_entry_symlink(ae);

		buf_addf(names, "%s", archive_entry_pathname(ae));
		if (hl)
			buf_addf(names, "=>%s", hl);
		else if (sl)
			buf_addf(names, "->%s", sl);
		else if (archive_entry_filetype(ae) == AE_IFREG) {
			char data[64] = { 0 };

			archive_read_data(a, data, sizeof(data) - 1);
			buf_addf(names, "[%s]", data);
		}
		buf_addf(names, " %ld:%ld %o|", (long)archive_entry_uid(ae), (long)archive_entry_gid(ae),
			 (unsigned)archive_entry_perm(ae));
	}
	archive_read_free(a);
}

static int write_buf(void *arg, const void *data, size_t len, struct err *e)
{
	return buf_add(arg, data, len) < 0 ? err_set(e, "too big") : 0;
}

static void test_filter(void **state)
{
	static const struct ent t[] = {
		{ D, "./", NULL, 0, 0 },
		{ D, "opt/app", NULL, 0, 0 },
		{ F, "opt/app/app.bin", "BIN", 04711, 0 },
		{ L, "opt/app/link", "app.bin", 0, 0 },
		{ H, "opt/app/hard", "opt/app/app.bin", 0, 0 },
		{ F, "top.txt", "TOP", 0, 0 },
	};
	struct tarx_opts o = TARX_OPTS_INIT;
	struct buf in = BUF_INIT(1 << 20), out = BUF_INIT(1 << 20), names = BUF_INIT(1 << 16);
	struct tarx_stats st;
	struct mem m;
	struct err e = ERR_INIT;

	(void)state;
	tar_make(&in, t, sizeof(t) / sizeof(t[0]));

	/* strip "opt", rename "app" to "deploy", prefix "artifacts"; top.txt has
	 * no component left after the strip and is dropped */
	o.strip_components = 1;
	o.rename_from = "app";
	o.rename_to = "deploy";
	o.prefix = "artifacts";
	m = (struct mem){ in.data, in.len, 0, 333 };
	if (tarx_filter(mem_read, &m, write_buf, &out, &o, &st, &e) < 0)
		fail_msg("%s", e.msg);
	list_tar(&out, &names);
	assert_string_equal(names.data,
			    "artifacts/deploy/ 1234:5678 755|"
			    "artifacts/deploy/app.bin[BIN] 1234:5678 711|"
			    "artifacts/deploy/link->app.bin 1234:5678 644|"
			    "artifacts/deploy/hard=>artifacts/deploy/app.bin 1234:5678 644|");
	assert_int_equal(st.entries, 6);

	/* owners replaced, pull-style reads of any size */
	o = (struct tarx_opts)TARX_OPTS_INIT;
	o.set_owner = 1;
	o.uid = 1001;
	o.gid = 0;
	{
		struct tarx_filter *f = NULL;
		char piece[7];
		ssize_t n;

		m = (struct mem){ in.data, in.len, 0, 0 };
		assert_int_equal(tarx_filter_open(mem_read, &m, &o, &f, &e), 0);
		buf_reset(&out);
		while ((n = tarx_filter_read(f, piece, sizeof(piece), &e)) > 0)
			buf_add(&out, piece, (size_t)n);
		assert_int_equal(n, 0);
		tarx_filter_free(f);
	}
	buf_reset(&names);
	list_tar(&out, &names);
	assert_non_null(strstr(names.data, "opt/app/app.bin[BIN] 1001:0 711|"));
	assert_non_null(strstr(names.data, "top.txt[TOP] 1001:0 644|"));
	buf_release(&in);
	buf_release(&out);
	buf_release(&names);
}

static void test_filter_refuses(void **state)
{
	static const struct ent t[] = {
		{ F, "ok.txt", "fine", 0, 0 },
		{ CHR, "dev/zero", NULL, 0, 0 },
	};
	static const struct ent esc[] = { { L, "a", "../../x", 0, 0 } };
	struct buf in = BUF_INIT(1 << 20), out = BUF_INIT(1 << 20);
	struct tarx_filter *f = NULL;
	struct mem m;
	struct err e = ERR_INIT;
	char blk[512];

	(void)state;
	tar_make(&in, t, 2);
	m = (struct mem){ in.data, in.len, 0, 0 };
	assert_int_equal(tarx_filter(mem_read, &m, write_buf, &out, NULL, NULL, &e), -1);
	assert_non_null(strstr(e.msg, "'dev/zero': device node refused"));

	/* the pull-style filter keeps failing once failed */
	m = (struct mem){ in.data, in.len, 0, 0 };
	assert_int_equal(tarx_filter_open(mem_read, &m, NULL, &f, &e), 0);
	while (tarx_filter_read(f, blk, sizeof(blk), &e) > 0)
		;
	assert_int_equal(tarx_filter_read(f, blk, sizeof(blk), &e), -1);
	assert_non_null(strstr(e.msg, "device node"));
	tarx_filter_free(f);
	buf_release(&in);

	/* a prefix does not make an escaping symlink acceptable */
	{
		struct tarx_opts o = TARX_OPTS_INIT;

		o.prefix = "a/b";
		buf_init(&in, 1 << 20);
		tar_make(&in, esc, 1);
		m = (struct mem){ in.data, in.len, 0, 0 };
		assert_int_equal(tarx_filter(mem_read, &m, write_buf, &out, &o, NULL, &e), 0);
		o.prefix = NULL;
		m = (struct mem){ in.data, in.len, 0, 0 };
		assert_int_equal(tarx_filter(mem_read, &m, write_buf, &out, &o, NULL, &e), -1);
	}
	buf_release(&in);
	buf_release(&out);
}

/* ---- one file ---- */

static void test_read_file(void **state)
{
	static const struct ent t[] = {
		{ D, "tmp/.s2i", NULL, 0, 0 },
		{ F, "tmp/.s2i/image_metadata.json", "{\"labels\":[{\"k\":\"v\"}]}", 0, 0 },
		{ F, "tmp/other", "x", 0, 0 },
	};
	static const struct ent evil_after[] = {
		{ F, "image_metadata.json", "{}", 0, 0 },
		{ F, "../evil", "x", 0, 0 },
	};
	struct buf in = BUF_INIT(1 << 20), out = BUF_INIT(1 << 20);
	struct mem m;
	struct err e = ERR_INIT;
	int found = -1;

	(void)state;
	tar_make(&in, t, 3);
	m = (struct mem){ in.data, in.len, 0, 100 };
	assert_int_equal(tarx_read_file(mem_read, &m, "./tmp/.s2i/image_metadata.json", 4096, &out, &found, &e), 0);
	assert_int_equal(found, 1);
	assert_string_equal(out.data, "{\"labels\":[{\"k\":\"v\"}]}");

	m = (struct mem){ in.data, in.len, 0, 0 };
	assert_int_equal(tarx_read_file(mem_read, &m, "image_metadata.json", 4096, &out, &found, &e), 0);
	assert_int_equal(found, 0);
	assert_int_equal(out.len, 0);

	m = (struct mem){ in.data, in.len, 0, 0 };
	assert_int_equal(tarx_read_file(mem_read, &m, "tmp/.s2i/image_metadata.json", 10, &out, &found, &e), -1);
	assert_non_null(strstr(e.msg, "larger than 10 bytes"));

	m = (struct mem){ in.data, in.len, 0, 0 };
	assert_int_equal(tarx_read_file(mem_read, &m, "tmp/.s2i", 10, &out, &found, &e), -1);
	assert_non_null(strstr(e.msg, "not a regular file"));
	buf_release(&in);

	buf_init(&in, 1 << 20);
	tar_make(&in, evil_after, 2);
	m = (struct mem){ in.data, in.len, 0, 0 };
	assert_int_equal(tarx_read_file(mem_read, &m, "image_metadata.json", 100, &out, &found, &e), -1);
	assert_non_null(strstr(e.msg, "'../evil'"));
	assert_int_equal(found, 0);
	buf_release(&in);
	buf_release(&out);
}

/* ---- the pure checks ---- */

static void test_checks(void **state)
{
	static const struct { const char *in, *out; } names[] = {
		{ "a", "a" }, { "./a", "a" }, { "a/./b//c/", "a/b/c" }, { "..a/b..", "..a/b.." },
	};
	static const char *bad_names[] = { "/a", "..", "a/..", "./../a", "", ".", "./" };
	static const struct { const char *link, *target; int ok; } links[] = {
		{ "a", "b", 1 }, { "a/b", "../c", 1 }, { "a/b", "../../c", 0 }, { "a", "../a", 0 },
		{ "a/b/c", "../../x/y", 1 }, { "a", "/x", 0 }, { "a", "", 0 }, { "a", ".", 1 },
		{ "a/b", "./../c", 1 }, { "a/b", "c/../d", 0 }, { "a/b", "..", 1 },
	};
	char out[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct err e = ERR_INIT;

		assert_int_equal(tarx_check_name(names[i].in, out, sizeof(out), &e), 0);
		assert_string_equal(out, names[i].out);
	}
	for (i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
		struct err e = ERR_INIT;

		if (tarx_check_name(bad_names[i], out, sizeof(out), &e) == 0)
			fail_msg("name '%s' accepted", bad_names[i]);
	}
	for (i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		struct err e = ERR_INIT;
		int rv = tarx_check_symlink(links[i].link, links[i].target, &e);

		if ((rv == 0) != links[i].ok)
			fail_msg("symlink %s -> '%s': expected %s", links[i].link, links[i].target,
				 links[i].ok ? "ok" : "refused");
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_good_extract, setup, teardown),
		cmocka_unit_test_setup_teardown(test_extract_fd_and_rename, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malicious, setup, teardown),
		cmocka_unit_test_setup_teardown(test_existing_symlink_on_disk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_garbage_and_truncated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reader_error_passes_through, setup, teardown),
		cmocka_unit_test(test_filter),
		cmocka_unit_test(test_filter_refuses),
		cmocka_unit_test(test_read_file),
		cmocka_unit_test(test_checks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
