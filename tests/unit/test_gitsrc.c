/* Unit tests for gitsrc against real repositories: kinds, refs (tags peeled), metadata,
 * mirrors with incremental fetches, submodules, context dirs, single files. */
#include <dirent.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <git2.h>


#include "child.h"
#include "gitfixture.h"
#include "gitsrc.h"
#include "knownhosts.h"

static struct gitsrc *open_ok(const char *source, const struct gitsrc_opts *o)
{
	struct gitsrc *s = NULL;
	struct err e = ERR_INIT;

	if (gitsrc_open(source, o, &s, &e) < 0)
		fail_msg("open '%s': %s", source, e.msg);
	return s;
}

static void resolve_ok(struct gitsrc *s, const char *ref, const char *sha)
{
	struct err e = ERR_INIT;

	if (gitsrc_resolve(s, ref, sha, &e) < 0)
		fail_msg("resolve '%s': %s", ref ? ref : "(null)", e.msg);
}

static void test_is_url(void **state)
{
	static const struct { const char *s; int url; } cases[] = {
		{ "https://github.com/acme/web.git", 1 }, { "http://h/x", 1 },
		{ "ssh://git@h:2222/x.git", 1 }, { "git@github.com:acme/web.git", 1 },
		{ "file:///srv/git/x.git", 1 }, { "git://h/x", 1 }, { "host:path", 1 },
		{ "/srv/git/x.git", 0 }, { "./dir", 0 }, { "dir/with:colon", 0 }, { "", 0 },
		{ "c:", 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(gitsrc_is_url(cases[i].s), cases[i].url);
}

static void test_kinds(void **state)
{
	char plain[400], empty[400];
	struct gitsrc *s;
	struct err e = ERR_INIT;

	(void)state;
	s = open_ok(gf.work, NULL);
	assert_int_equal(gitsrc_kind(s), GITSRC_WORKTREE);
	assert_true(gitsrc_is_git(s));
	gitsrc_free(s);
	s = open_ok(gf.upmain, NULL);
	assert_int_equal(gitsrc_kind(s), GITSRC_BARE);
	gitsrc_free(s);
	s = open_ok(gf.url, NULL);
	assert_int_equal(gitsrc_kind(s), GITSRC_REMOTE);
	gitsrc_free(s);

	snprintf(plain, sizeof(plain), "%s/plain", gf.root);
	gf_write(plain, "a.txt", "a\n", 0644);
	s = open_ok(plain, NULL);
	assert_int_equal(gitsrc_kind(s), GITSRC_PLAIN);
	assert_false(gitsrc_is_git(s));
	resolve_ok(s, NULL, NULL);
	assert_string_equal(gitsrc_info(s)->id, "");
	assert_int_equal(gitsrc_resolve(s, "main", NULL, &e), -1);
	assert_non_null(strstr(e.msg, "not a git repository"));
	gitsrc_free(s);

	/* a repository without commits is built from its files, like s2i */
	snprintf(empty, sizeof(empty), "%s/emptyrepo", gf.root);
	gf_git(gf.root, "init", "-q", empty, NULL);
	gf_write(empty, "x", "x\n", 0644);
	s = open_ok(empty, NULL);
	assert_int_equal(gitsrc_kind(s), GITSRC_PLAIN);
	gitsrc_free(s);

	/* a bare repository owned by another user (the git user's, read by the agent) */
	if (getuid() == 0) {
		char foreign[400], head[64];

		snprintf(foreign, sizeof(foreign), "%s/foreign.git", gf.root);
		gf_git(gf.root, "clone", "-q", "--bare", gf.upmain, foreign, NULL);
		gf_git_out(head, sizeof(head), gf.upmain, "rev-parse", "main", NULL);
		{
			const char *argv[] = { "chown", "-R", "65534:65534", foreign, NULL };

			assert_int_equal(child_run(argv, &e), 0);
		}
		s = open_ok(foreign, NULL);
		assert_int_equal(gitsrc_kind(s), GITSRC_BARE);
		resolve_ok(s, "main", NULL);
		assert_string_equal(gitsrc_info(s)->id, head);
		gitsrc_free(s);
	}

	assert_int_equal(gitsrc_open("/nonexistent/s2i-src", NULL, &s, &e), -1);
	assert_non_null(strstr(e.msg, "/nonexistent/s2i-src"));
}

static void test_refs_worktree(void **state)
{
	char head[64], v1[64], feat[64], abbrev[16];
	struct gitsrc *s;
	struct err e = ERR_INIT;

	(void)state;
	gf_git_out(head, sizeof(head), gf.work, "rev-parse", "HEAD", NULL);
	gf_git_out(v1, sizeof(v1), gf.work, "rev-parse", "v1^{commit}", NULL);
	gf_git_out(feat, sizeof(feat), gf.work, "rev-parse", "feature", NULL);
	s = open_ok(gf.work, NULL);
	resolve_ok(s, NULL, NULL);
	assert_string_equal(gitsrc_info(s)->id, head);
	assert_string_equal(gitsrc_info(s)->ref, "main");
	resolve_ok(s, "v1", NULL);		/* annotated tag peeled */
	assert_string_equal(gitsrc_info(s)->id, v1);
	assert_string_equal(gitsrc_info(s)->ref, "v1");
	resolve_ok(s, "refs/heads/feature", NULL);
	assert_string_equal(gitsrc_info(s)->id, feat);
	assert_string_equal(gitsrc_info(s)->ref, "feature");
	resolve_ok(s, feat, NULL);
	assert_string_equal(gitsrc_info(s)->id, feat);
	assert_string_equal(gitsrc_info(s)->ref, "HEAD");
	snprintf(abbrev, sizeof(abbrev), "%.8s", v1);
	resolve_ok(s, abbrev, NULL);
	assert_string_equal(gitsrc_info(s)->id, v1);
	resolve_ok(s, "main", feat);		/* an exact sha wins */
	assert_string_equal(gitsrc_info(s)->id, feat);
	assert_int_equal(gitsrc_resolve(s, "no-such-branch", NULL, &e), -1);
	assert_non_null(strstr(e.msg, "no-such-branch"));
	assert_int_equal(gitsrc_resolve(s, NULL, "0123456789012345678901234567890123456789", &e), -1);
	assert_non_null(strstr(e.msg, "0123456789012345678901234567890123456789"));
	assert_int_equal(gitsrc_resolve(s, NULL, "abc", &e), -1);
	gitsrc_free(s);

	s = open_ok(gf.upmain, NULL);
	resolve_ok(s, NULL, NULL);
	assert_string_equal(gitsrc_info(s)->id, head);
	resolve_ok(s, "v1", NULL);
	assert_string_equal(gitsrc_info(s)->id, v1);
	gitsrc_free(s);
}

static void test_metadata(void **state)
{
	char date[128], subject[200], author[200];
	const struct gitsrc_info *in;
	struct gitsrc *s;

	(void)state;
	gf_git_out(date, sizeof(date), gf.work, "log", "-1", "--format=%ad", NULL);
	gf_git_out(subject, sizeof(subject), gf.work, "log", "-1", "--format=%<(80,trunc)%s", NULL);
	gf_git_out(author, sizeof(author), gf.work, "log", "-1", "--format=%an <%ae>", NULL);
	s = open_ok(gf.work, NULL);
	resolve_ok(s, NULL, NULL);
	in = gitsrc_info(s);
	assert_string_equal(in->author, author);
	assert_string_equal(in->author, "A U Thor <author@example.com>");
	assert_string_equal(in->date, date);
	assert_string_equal(in->message, subject);
	assert_true(strlen(in->message) == 80);
	assert_string_equal(in->location, gf.upmain);	/* remote.origin.url */
	assert_int_equal(in->time, 1795704333);
	assert_int_equal(in->tz_minutes, 60);
	resolve_ok(s, "v1", NULL);
	assert_string_equal(gitsrc_info(s)->message, "first commit");
	gitsrc_free(s);
}

static void test_mirror_incremental(void **state)
{
	struct gitsrc_opts o = GITSRC_OPTS_INIT;
	char mirror[400], head[64], newhead[64];
	const struct gitsrc_fetch_stats *st;
	unsigned first;
	struct gitsrc *s;
	struct err e = ERR_INIT;

	(void)state;
	snprintf(mirror, sizeof(mirror), "%s/state/git/main.git", gf.root);
	o.mirror_dir = mirror;
	gf_git_out(head, sizeof(head), gf.work, "rev-parse", "HEAD", NULL);
	s = open_ok(gf.url, &o);
	assert_int_equal(gitsrc_kind(s), GITSRC_REMOTE);
	resolve_ok(s, "refs/heads/main", head);
	st = gitsrc_fetch_stats(s);
	first = st->objects;
	assert_true(st->fetches >= 1);
	assert_true(first > 5);
	assert_string_equal(gitsrc_info(s)->id, head);
	assert_string_equal(gitsrc_info(s)->ref, "main");
	assert_string_equal(gitsrc_info(s)->location, gf.url);
	gitsrc_free(s);

	/* the same sha again: nothing to fetch at all */
	s = open_ok(gf.url, &o);
	resolve_ok(s, "refs/heads/main", head);
	assert_int_equal(gitsrc_fetch_stats(s)->fetches, 0);
	gitsrc_free(s);

	/* one new commit: only its objects come over */
	gf_write(gf.work, "new.txt", "new\n", 0644);
	gf_git(gf.work, "add", "-A", NULL);
	gf_git(gf.work, "commit", "-q", "-m", "third", NULL);
	gf_git(gf.work, "push", "-q", "origin", "main", NULL);
	gf_git_out(newhead, sizeof(newhead), gf.work, "rev-parse", "HEAD", NULL);
	s = open_ok(gf.url, &o);
	resolve_ok(s, "main", NULL);
	st = gitsrc_fetch_stats(s);
	print_message("first fetch %u objects, incremental fetch %u objects\n", first, st->objects);
	assert_string_equal(gitsrc_info(s)->id, newhead);
	assert_int_equal(st->objects, 3);	/* commit, tree, blob */
	/* a tag is fetched and peeled by name */
	resolve_ok(s, "v1", NULL);
	assert_string_equal(gitsrc_info(s)->ref, "v1");
	assert_string_equal(gitsrc_info(s)->message, "first commit");
	assert_int_equal(gitsrc_resolve(s, "nope", NULL, &e), -1);
	assert_non_null(strstr(e.msg, "nope"));
	assert_non_null(strstr(e.msg, gf.url));
	gitsrc_free(s);

	/* the mirror is a real bare repository with the branch */
	gf_git_out(head, sizeof(head), mirror, "rev-parse", "refs/heads/main", NULL);
	assert_string_equal(head, newhead);
	/* back to the state the other tests expect */
	gf_git(gf.work, "reset", "-q", "--hard", "HEAD~1", NULL);
	gf_git(gf.work, "push", "-q", "-f", "origin", "main", NULL);
}

static void test_remote_temporary(void **state)
{
	struct gitsrc *s;
	char path[512], v1[64];
	struct stat st;

	(void)state;
	gf_git_out(v1, sizeof(v1), gf.work, "rev-parse", "v1^{commit}", NULL);
	s = open_ok(gf.url, NULL);
	resolve_ok(s, "v1", NULL);
	assert_string_equal(gitsrc_info(s)->id, v1);
	snprintf(path, sizeof(path), "%s", gitsrc_path(s));
	assert_int_equal(stat(path, &st), 0);
	gitsrc_free(s);
	assert_int_equal(stat(path, &st), -1);	/* the temporary clone is gone */
	/* default branch without a ref; full sha as --ref */
	s = open_ok(gf.url, NULL);
	resolve_ok(s, NULL, NULL);
	assert_string_equal(gitsrc_info(s)->ref, "main");
	resolve_ok(s, v1, NULL);
	assert_string_equal(gitsrc_info(s)->id, v1);
	gitsrc_free(s);
}

struct collect {
	struct strv paths;
};

static int collect_cb(void *ctx, const struct gitsrc_entry *ent, struct err *e)
{
	struct collect *c = ctx;

	(void)e;
	strv_pushf(&c->paths, "%s %o%s%s", ent->path, ent->mode, ent->link ? " -> " : "",
		   ent->link ? ent->link : "");
	return 0;
}

static void walk(struct gitsrc *s, struct collect *c)
{
	struct err e = ERR_INIT;

	c->paths = (struct strv)STRV_INIT;
	if (gitsrc_walk(s, collect_cb, c, &e) < 0)
		fail_msg("walk: %s", e.msg);
}

static void test_walk_submodules(void **state)
{
	struct gitsrc_opts o = GITSRC_OPTS_INIT;
	struct collect c;
	struct gitsrc *s;
	const char *sources[3] = { gf.work, gf.upmain, gf.url };
	int i;

	(void)state;
	for (i = 0; i < 3; i++) {
		s = open_ok(sources[i], NULL);
		resolve_ok(s, NULL, NULL);
		walk(s, &c);
		assert_true(gf_has(&c.paths, "README.md 100644"));
		assert_true(gf_has(&c.paths, "run.sh 100755"));
		assert_true(gf_has(&c.paths, "link 120777 -> README.md"));
		assert_true(gf_has(&c.paths, "app 40755"));
		assert_true(gf_has(&c.paths, "vendor/sub 40755"));
		assert_true(gf_has(&c.paths, "vendor/sub/lib.txt 100644"));
		assert_true(gf_has(&c.paths, "vendor/sub/bin/tool 100755"));
		assert_false(gf_has(&c.paths, "feature.txt 100644"));
		strv_clear(&c.paths);
		gitsrc_free(s);
	}
	o.ignore_submodules = 1;
	s = open_ok(gf.url, &o);
	resolve_ok(s, NULL, NULL);
	walk(s, &c);
	assert_true(gf_has(&c.paths, "vendor/sub 40755"));
	assert_false(gf_has(&c.paths, "vendor/sub/lib.txt 100644"));
	strv_clear(&c.paths);
	gitsrc_free(s);
}

static void test_context_dir(void **state)
{
	struct gitsrc_opts o = GITSRC_OPTS_INIT;
	struct buf b = BUF_INIT(4096);
	struct collect c;
	struct gitsrc *s;
	struct err e = ERR_INIT;
	unsigned mode = 0;

	(void)state;
	o.context_dir = "./app/";
	s = open_ok(gf.work, &o);
	resolve_ok(s, NULL, NULL);
	assert_string_equal(gitsrc_context_dir(s), "app");
	walk(s, &c);
	assert_true(gf_has(&c.paths, "main.py 100644"));
	assert_true(gf_has(&c.paths, ".s2i/bin/assemble 100755"));
	assert_false(gf_has(&c.paths, "README.md 100644"));
	strv_clear(&c.paths);
	assert_int_equal(gitsrc_read_file(s, ".s2i/bin/assemble", 4096, &b, &mode, &e), 0);
	assert_string_equal(b.data, "#!/bin/sh\necho assemble\n");
	assert_int_equal(mode, 0755);
	buf_reset(&b);
	assert_int_equal(gitsrc_read_file(s, ".s2i/environment", 4096, &b, &mode, &e), 0);
	assert_string_equal(b.data, "A=1\n# c\nB=two\n");
	assert_int_equal(mode, 0644);
	buf_reset(&b);
	assert_int_equal(gitsrc_read_file(s, ".s2i/bin/run", 4096, &b, NULL, &e), 1);
	assert_int_equal(gitsrc_read_file(s, ".s2i/bin/assemble", 4, &b, NULL, &e), -1);
	gitsrc_free(s);

	/* a file inside the submodule, through the top */
	s = open_ok(gf.upmain, NULL);
	resolve_ok(s, NULL, NULL);
	buf_reset(&b);
	assert_int_equal(gitsrc_read_file(s, "vendor/sub/lib.txt", 4096, &b, NULL, &e), 0);
	assert_string_equal(b.data, "library\n");
	gitsrc_free(s);

	/* context dir inside a submodule */
	o.context_dir = "vendor/sub/bin";
	s = open_ok(gf.upmain, &o);
	resolve_ok(s, NULL, NULL);
	walk(s, &c);
	assert_true(gf_has(&c.paths, "tool 100755"));
	assert_int_equal(c.paths.n, 1);
	strv_clear(&c.paths);
	gitsrc_free(s);

	o.context_dir = "nope";
	s = open_ok(gf.work, &o);
	assert_int_equal(gitsrc_resolve(s, NULL, NULL, &e), -1);
	assert_non_null(strstr(e.msg, "nope"));
	gitsrc_free(s);
	o.context_dir = "../etc";
	assert_int_equal(gitsrc_open(gf.work, &o, &s, &e), -1);
	assert_non_null(strstr(e.msg, ".."));

	/* plain directory: read from disk, links never followed */
	{
		char plain[400], l[500];

		snprintf(plain, sizeof(plain), "%s/plain2", gf.root);
		gf_write(plain, "app/.s2i/environment", "X=1\n", 0644);
		snprintf(l, sizeof(l), "%s/app/passwd", plain);
		assert_int_equal(symlink("/etc/passwd", l), 0);
		o.context_dir = "app";
		s = open_ok(plain, &o);
		resolve_ok(s, NULL, NULL);
		buf_reset(&b);
		assert_int_equal(gitsrc_read_file(s, ".s2i/environment", 4096, &b, NULL, &e), 0);
		assert_string_equal(b.data, "X=1\n");
		assert_int_equal(gitsrc_read_file(s, "passwd", 4096, &b, NULL, &e), 1);
		assert_int_equal(gitsrc_read_file(s, "../../etc/passwd", 4096, &b, NULL, &e), 1);
		gitsrc_free(s);
	}
	buf_release(&b);
}

/* known_hosts checks: the SSH certificate callback relies on these. */
static void test_known_hosts(void **state)
{
	/* the blob is arbitrary bytes: only equality matters */
	static const unsigned char key1[] = "\x00\x00\x00\x0bssh-ed25519\x00\x00\x00\x20"
		"0123456789abcdef0123456789abcdef";
	static const unsigned char key2[] = "\x00\x00\x00\x0bssh-ed25519\x00\x00\x00\x20"
		"ffffffffffffffffffffffffffffffff";
	char file[400], b64[128];
	struct knownhosts_key k1 = { key1, sizeof(key1) - 1, NULL }, k2 = { key2, sizeof(key2) - 1, NULL };
	struct err e = ERR_INIT;
	FILE *f;

	(void)state;
	/* base64 of key1 via openssl's encoder is overkill: compute with the shell-free way */
	{
		static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
		size_t i, n = sizeof(key1) - 1, o = 0;

		for (i = 0; i < n; i += 3) {
			unsigned v = (unsigned)key1[i] << 16 | (i + 1 < n ? (unsigned)key1[i + 1] << 8 : 0) |
				     (i + 2 < n ? key1[i + 2] : 0);

			b64[o++] = tbl[(v >> 18) & 63];
			b64[o++] = tbl[(v >> 12) & 63];
			b64[o++] = i + 1 < n ? tbl[(v >> 6) & 63] : '=';
			b64[o++] = i + 2 < n ? tbl[v & 63] : '=';
		}
		b64[o] = '\0';
	}
	snprintf(file, sizeof(file), "%s/known_hosts", gf.root);
	f = fopen(file, "w");
	assert_non_null(f);
	fprintf(f, "# comment\n\nother.example ssh-ed25519 %s\n", "AAAA");
	fprintf(f, "git.example,10.0.0.1 ssh-ed25519 %s\n", b64);
	fprintf(f, "[git.example]:2222 ssh-ed25519 %s\n", b64);
	fprintf(f, "*.wild.example ssh-ed25519 %s\n", b64);
	fclose(f);
	assert_int_equal(knownhosts_check(file, "git.example", 22, &k1, &e), 0);
	assert_int_equal(knownhosts_check(file, "10.0.0.1", 22, &k1, &e), 0);
	assert_int_equal(knownhosts_check(file, "git.example", 2222, &k1, &e), 0);
	assert_int_equal(knownhosts_check(file, "a.wild.example", 22, &k1, &e), 0);
	assert_int_equal(knownhosts_check(file, "git.example", 22, &k2, &e), -1);
	assert_non_null(strstr(e.msg, "does not match"));
	assert_int_equal(knownhosts_check(file, "unknown.example", 22, &k1, &e), -1);
	assert_non_null(strstr(e.msg, "not in known_hosts"));
	assert_int_equal(knownhosts_check(file, "git.example", 2200, &k1, &e), -1);
	assert_int_equal(knownhosts_check("/nonexistent/kh", "git.example", 22, &k1, &e), -1);
	assert_non_null(strstr(e.msg, "/nonexistent/kh"));
	/* a hashed entry as ssh-keygen -H writes it, and @revoked */
	{
		char out[512], line[1024];
		const char *argv[] = { "ssh-keygen", "-H", "-f", file, NULL };
		struct err e2 = ERR_INIT;

		if (access("/usr/bin/ssh-keygen", X_OK) == 0 && child_run(argv, &e2) == 0) {
			f = fopen(file, "r");
			assert_non_null(f);
			assert_non_null(fgets(out, sizeof(out), f));	/* hashing drops comments */
			fclose(f);
			assert_int_equal(knownhosts_check(file, "git.example", 22, &k1, &e), 0);
			assert_int_equal(knownhosts_check(file, "git.example", 2222, &k1, &e), 0);
			assert_int_equal(knownhosts_check(file, "nothere.example", 22, &k1, &e), -1);
		}
		f = fopen(file, "a");
		snprintf(line, sizeof(line), "@revoked * ssh-ed25519 %s\n", b64);
		fputs(line, f);
		fclose(f);
		assert_int_equal(knownhosts_check(file, "git.example", 22, &k1, &e), -1);
		assert_non_null(strstr(e.msg, "revoked"));
	}
}

static unsigned count_files(const char *dir, const char *suffix)
{
	struct dirent *d;
	unsigned n = 0;
	DIR *dh = opendir(dir);

	if (!dh)
		return 0;
	while ((d = readdir(dh)))
		if (d->d_name[0] != '.' && (!suffix || (strlen(d->d_name) > strlen(suffix) &&
			!strcmp(d->d_name + strlen(d->d_name) - strlen(suffix), suffix))))
			n++;
	closedir(dh);
	return n;
}

static unsigned count_loose(const char *objects)
{
	char dir[600];
	unsigned n = 0;
	int i;

	for (i = 0; i < 256; i++) {
		snprintf(dir, sizeof(dir), "%s/%02x", objects, i);
		n += count_files(dir, NULL);
	}
	return n;
}

static int has_object(const char *repo, const char *hex)
{
	git_repository *r = NULL;
	git_odb *odb = NULL;
	git_oid id;
	int yes;

	assert_int_equal(git_repository_open_bare(&r, repo), 0);
	assert_int_equal(git_repository_odb(&odb, r), 0);
	assert_int_equal(git_oid_fromstr(&id, hex), 0);
	yes = git_odb_exists(odb, &id);
	git_odb_free(odb);
	git_repository_free(r);
	return yes;
}

/* A mirror of many packs and loose objects becomes one pack of what its refs reach;
 * an object no ref reaches is gone, the history and a tag are whole. */
static void test_mirror_gc(void **state)
{
	struct gitsrc_gc_stats st;
	struct err e = ERR_INIT;
	char bare[400], objects[420], packdir[430], work[400], head[64], blob[64], tag[64];
	int i;

	(void)state;
	snprintf(bare, sizeof(bare), "%s/gc.git", gf.root);
	snprintf(objects, sizeof(objects), "%s/objects", bare);
	snprintf(packdir, sizeof(packdir), "%s/pack", objects);
	snprintf(work, sizeof(work), "%s/gcwork", gf.root);
	gf_git(gf.root, "init", "-q", "--bare", bare, NULL);
	gf_git(bare, "config", "receive.unpackLimit", "1", NULL);
	gf_git(gf.root, "clone", "-q", bare, work, NULL);
	for (i = 0; i < 6; i++) {
		char name[32];

		snprintf(name, sizeof(name), "f%d.txt", i);
		gf_write(work, name, name, 0644);
		gf_git(work, "add", "-A", NULL);
		gf_git(work, "commit", "-q", "-m", name, NULL);
		/* a pack per push, as fetches leave them */
		gf_git(work, "push", "-q", "origin", "HEAD:refs/heads/main", NULL);
	}
	gf_git(work, "tag", "-a", "-m", "tagged", "t1", NULL);
	gf_git(work, "push", "-q", "origin", "t1", NULL);
	gf_git_out(head, sizeof(head), work, "rev-parse", "HEAD", NULL);
	gf_git_out(tag, sizeof(tag), work, "rev-parse", "t1", NULL);
	gf_write(work, "lost.txt", "no ref reaches this\n", 0644);
	gf_git_out(blob, sizeof(blob), bare, "hash-object", "-w", "../gcwork/lost.txt", NULL);
	assert_true(count_files(packdir, ".pack") >= 6);
	assert_int_equal(count_loose(objects), 1);

	/* below the thresholds: left alone */
	assert_int_equal(gitsrc_gc(bare, 16, &st, &e), 1);
	assert_true(count_files(packdir, ".pack") >= 6);

	assert_int_equal(gitsrc_gc(bare, 0, &st, &e), 0);
	print_message("repacked %u packs and %u loose objects: %llu -> %llu bytes\n", st.packs, st.loose,
		      (unsigned long long)st.bytes_before, (unsigned long long)st.bytes_after);
	assert_true(st.packs >= 6);
	assert_int_equal(st.loose, 1);
	assert_true(st.bytes_after < st.bytes_before);
	assert_int_equal(count_files(packdir, ".pack"), 1);
	assert_int_equal(count_files(packdir, ".idx"), 1);
	assert_int_equal(count_loose(objects), 0);
	assert_false(has_object(bare, blob));
	assert_true(has_object(bare, head));
	assert_true(has_object(bare, tag));
	gf_git(bare, "fsck", "--no-dangling", "--strict", NULL);
	gf_git(bare, "log", "--oneline", "-n", "6", "main", NULL);

	/* again: the same one pack, nothing lost */
	assert_int_equal(gitsrc_gc(bare, 0, &st, &e), 0);
	assert_int_equal(count_files(packdir, ".pack"), 1);
	assert_true(has_object(bare, head));
	gf_rm_rf(work);
	gf_rm_rf(bare);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_is_url),
		cmocka_unit_test(test_kinds),
		cmocka_unit_test(test_refs_worktree),
		cmocka_unit_test(test_metadata),
		cmocka_unit_test(test_mirror_incremental),
		cmocka_unit_test(test_mirror_gc),
		cmocka_unit_test(test_remote_temporary),
		cmocka_unit_test(test_walk_submodules),
		cmocka_unit_test(test_context_dir),
		cmocka_unit_test(test_known_hosts),
	};
	int rc;

	rc = cmocka_run_group_tests(tests, gf_group_setup, gf_group_teardown);
	return rc;
}
