/* Tests of engine against the real container engine that tests/deps starts
 * (dockerd; S2I_TEST_ENGINE=podman: tests/lib/podman.sh's). No skipping: an
 * absent engine is a failure. Images and containers are named after our pid and
 * removed at the end; the registry comes from tests/lib/registry.sh. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>

#include "child.h"
#include "engine.h"
#include "enginefixture.h"
#include "tarx.h"

#define BASE_IMAGE	"s2i-agent-test/base:latest"
#define BIG_SIZE	(8u * 1024 * 1024 + 123)	/* streamed upload, not a multiple of anything */

/* A static program for an image with no shell and no tar: each argument is an
 * action, "o:TEXT" print, "e:TEXT" print to stderr, "c:PATH" cat, "t:" is there
 * a tar?, "u:" uid, "W:PATH" wait (bounded) for PATH to exist, "s:N" sleep,
 * "x:N" exit N, "z:PATH" size or "absent", "B:" 300000 bytes of binary (invalid UTF-8) on stdout. */
static const char probe_src[] =
	"#include <stdio.h>\n#include <stdlib.h>\n#include <unistd.h>\n"
	"int main(int argc, char **argv) {\n"
	"  for (int i = 1; i < argc; i++) {\n"
	"    const char *v = argv[i] + 2; char b[4096]; size_t n; FILE *f; int k;\n"
	"    switch (argv[i][0]) {\n"
	"    case 'o': printf(\"%s\\n\", v); fflush(stdout); break;\n"
	"    case 'e': fprintf(stderr, \"%s\\n\", v); break;\n"
	"    case 'c': f = fopen(v, \"r\"); if (!f) { printf(\"cannot open %s\\n\", v); break; }\n"
	"      while ((n = fread(b, 1, sizeof b, f)) > 0) fwrite(b, 1, n, stdout); fclose(f); fflush(stdout); break;\n"
	"    case 't': printf(access(\"/bin/tar\", F_OK) && access(\"/usr/bin/tar\", F_OK) ? \"no tar\\n\" : \"tar present\\n\");"
	" fflush(stdout); break;\n"
	"    case 'u': printf(\"uid=%d\\n\", (int)getuid()); fflush(stdout); break;\n"
	"    case 'z': f = fopen(v, \"r\"); if (!f) { printf(\"absent\\n\"); fflush(stdout); break; }\n"
	"      fseek(f, 0, SEEK_END); printf(\"%ld\\n\", ftell(f)); fclose(f); fflush(stdout); break;\n"
	"    case 'W': for (k = 0; k < 1200 && access(v, F_OK); k++) usleep(50000);\n"
	"      if (access(v, F_OK)) { printf(\"gave up waiting\\n\"); fflush(stdout); } break;\n"
	"    case 's': sleep((unsigned)atoi(v)); break;\n"
	"    case 'B': for (k = 0; k < 300000; k++) putchar((k * 131 + k / 256) & 0xff); fflush(stdout); break;\n"
	"    case 'x': return atoi(v);\n"
	"    }\n  }\n  return 0;\n}\n";

static struct {
	struct engine *eng;
	char probe_image[128];
	char tmp[64];
	char label[64];			/* io.s2i-agent.build=... */
	struct strv containers;		/* to remove at the end */
	struct strv images;
	volatile sig_atomic_t cancel;
	int podman;
	char registry_script[512];	/* set while our registry runs */
	char registry_dir[256];
} g;

/* Stops the registry of test_push_registry, also when an assertion left it. */
static void registry_stop(void)
{
	const char *argv[] = { "bash", g.registry_script, "stop", g.registry_dir, NULL };
	struct err e = ERR_INIT;

	if (!g.registry_dir[0])
		return;
	if (child_run(argv, &e) < 0)
		fprintf(stderr, "cleanup: %s\n", e.msg);
	g.registry_dir[0] = 0;
}

/* ---- helpers ---- */

static void check(int rv, const struct err *e)
{
	if (rv < 0)
		fail_msg("%s", e->msg);
}

struct membuf {
	const char *data;
	size_t len, off;
};

static ssize_t mem_read(void *arg, void *buf, size_t len, struct err *e)
{
	struct membuf *m = arg;
	size_t n = m->len - m->off;

	(void)e;
	if (n > len)
		n = len;
	/* small pieces, to exercise chunking */
	if (n > 777)
		n = 777;
	memcpy(buf, m->data + m->off, n);
	m->off += n;
	return (ssize_t)n;
}

static la_ssize_t tar_to_buf(struct archive *a, void *arg, const void *data, size_t len)
{
	(void)a;
	return buf_add(arg, data, len) < 0 ? -1 : (la_ssize_t)len;
}

struct tar_ent {
	const char *name;
	mode_t type;
	unsigned mode;
	const char *content;		/* file data, or symlink target */
	size_t size;			/* 0: strlen(content) */
};

static void tar_build(struct buf *out, const struct tar_ent *ents, size_t n)
{
	struct archive *a = archive_write_new();
	size_t i;

	archive_write_set_format_pax_restricted(a);
	archive_write_open(a, out, NULL, tar_to_buf, NULL);
	for (i = 0; i < n; i++) {
		struct archive_entry *ae = archive_entry_new();
		size_t sz = ents[i].type == AE_IFREG ? (ents[i].size ? ents[i].size : strlen(ents[i].content)) : 0;

		archive_entry_set_pathname(ae, ents[i].name);
		archive_entry_set_filetype(ae, ents[i].type);
		archive_entry_set_perm(ae, ents[i].mode);
		archive_entry_set_size(ae, (la_int64_t)sz);
		if (ents[i].type == AE_IFLNK)
			archive_entry_set_symlink(ae, ents[i].content);
		assert_int_equal(archive_write_header(a, ae), ARCHIVE_OK);
		if (sz)
			assert_int_equal(archive_write_data(a, ents[i].content, sz), (la_ssize_t)sz);
		archive_entry_free(ae);
	}
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
}

static char *slurp(const char *path, size_t *ret_len)
{
	struct buf b = BUF_INIT(64 * 1024 * 1024);
	char tmp[65536];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	while ((n = read(fd, tmp, sizeof(tmp))) > 0)
		assert_int_equal(buf_add(&b, tmp, (size_t)n), 0);
	close(fd);
	return buf_detach(&b, ret_len);
}

/* The byte at offset i of the big generated file. */
static char big_byte(size_t i)
{
	return (char)('a' + (i * 7 + i / 4096) % 26);
}

struct big_src {
	size_t off, max_piece;
};

static ssize_t big_read(void *arg, void *buf, size_t len, struct err *e)
{
	struct big_src *s = arg;
	size_t i, n = BIG_SIZE - s->off;

	(void)e;
	if (n > len)
		n = len;
	if (n > s->max_piece)
		s->max_piece = n;
	for (i = 0; i < n; i++)
		((char *)buf)[i] = big_byte(s->off + i);
	s->off += n;
	return (ssize_t)n;
}

/* A tar whose content is generated as it is read: header, BIG_SIZE bytes, padding, end. */
struct gen_tar {
	char head[512];
	struct big_src big;
	size_t pos, total;
};

static void gen_tar_init(struct gen_tar *t, const char *name)
{
	struct buf b = BUF_INIT(1 << 20);
	struct archive *a = archive_write_new();
	struct archive_entry *ae = archive_entry_new();

	archive_write_set_format_ustar(a);
	archive_write_set_bytes_per_block(a, 0);
	archive_write_open(a, &b, NULL, tar_to_buf, NULL);
	archive_entry_set_pathname(ae, name);
	archive_entry_set_filetype(ae, AE_IFREG);
	archive_entry_set_perm(ae, 0644);
	archive_entry_set_size(ae, BIG_SIZE);
	assert_int_equal(archive_write_header(a, ae), ARCHIVE_OK);
	assert_true(b.len >= 512);
	memcpy(t->head, b.data, 512);
	archive_entry_free(ae);
	archive_write_free(a);	/* not closed: we only wanted the header */
	buf_release(&b);
	memset(&t->big, 0, sizeof(t->big));
	t->pos = 0;
	t->total = 512 + (BIG_SIZE + 511) / 512 * 512 + 1024;
}

static ssize_t gen_tar_read(void *arg, void *buf, size_t len, struct err *e)
{
	struct gen_tar *t = arg;
	char *out = buf;
	size_t done = 0;

	while (done < len && t->pos < t->total) {
		size_t n;

		if (t->pos < 512) {
			n = 512 - t->pos;
			if (n > len - done)
				n = len - done;
			memcpy(out + done, t->head + t->pos, n);
		} else if (t->pos < 512 + BIG_SIZE) {
			ssize_t got = big_read(&t->big, out + done, len - done < 512 + BIG_SIZE - t->pos ?
					       len - done : 512 + BIG_SIZE - t->pos, e);
			n = (size_t)got;
		} else {
			n = t->total - t->pos;
			if (n > len - done)
				n = len - done;
			memset(out + done, 0, n);
		}
		t->pos += n;
		done += n;
	}
	return (ssize_t)done;
}

struct output {
	struct buf out, err;
	const char *trigger;		/* on this stdout text, do the action once */
	int action;			/* 1: upload /tmp/go into container id; 2: raise cancel */
	const char *id;
	int fired;
};

#define OUTPUT_INIT { BUF_INIT(1 << 20), BUF_INIT(1 << 20), NULL, 0, NULL, 0 }

static int output_fn(void *arg, int stream, const void *data, size_t len, struct err *e)
{
	struct output *o = arg;
	struct buf *b = stream == ENGINE_STDERR ? &o->err : &o->out;

	if (buf_add(b, data, len) < 0)
		return err_set(e, "too much output");
	if (o->trigger && !o->fired && strstr(o->out.data, o->trigger)) {
		o->fired = 1;
		if (o->action == 1) {
			static const struct tar_ent go[] = { { "go", AE_IFREG, 0644, "go\n", 0 } };
			struct buf t = BUF_INIT(1 << 20);
			struct membuf m;
			int rv;

			tar_build(&t, go, 1);
			m = (struct membuf){ t.data, t.len, 0 };
			/* a second transfer on the same engine, from inside a callback */
			rv = engine_archive_put(g.eng, o->id, "/tmp", mem_read, &m, e);
			buf_release(&t);
			return rv;
		}
		if (o->action == 2)
			g.cancel = 1;
	}
	return 0;
}

static void output_release(struct output *o)
{
	buf_release(&o->out);
	buf_release(&o->err);
}

static char *create(const char *image, const char *const *cmd, const char *name_suffix)
{
	const char *labels[] = { g.label, "io.s2i-agent.test=engine-live", NULL };
	struct engine_create p = ENGINE_CREATE_INIT;
	struct err e = ERR_INIT;
	char name[128], *id = NULL;

	snprintf(name, sizeof(name), "s2i-agent-test-engine-%d-%s", (int)getpid(), name_suffix);
	p.name = name;
	p.image = image;
	p.cmd = cmd;
	p.labels = labels;
	p.network_mode = "none";
	check(engine_container_create(g.eng, &p, &id, &e), &e);
	strv_push(&g.containers, id);
	return id;
}

/* Runs cmd in image to completion: output and exit code. */
static int run(const char *image, const char *const *cmd, const char *suffix, struct output *o)
{
	struct err e = ERR_INIT;
	char *id = create(image, cmd, suffix);
	int code = -1;

	check(engine_container_start(g.eng, id, &e), &e);
	check(engine_container_logs(g.eng, id, 1, output_fn, o, &e), &e);
	check(engine_container_wait(g.eng, id, 60, &code, &e), &e);
	free(id);
	return code;
}

/* ---- setup: engine and the probe image ---- */

static int setup(void **state)
{
	const char *url = ef_engine_url();
	struct err e = ERR_INIT;
	char src[128], bin[128];
	const char *cc_argv[] = { "cc", "-static", "-O1", "-o", bin, src, NULL };
	struct buf t = BUF_INIT(64 * 1024 * 1024);
	struct membuf m;
	char *probe;
	size_t probe_len;
	FILE *f;

	(void)state;
	snprintf(g.tmp, sizeof(g.tmp), "/tmp/s2i-agent-engine-live.XXXXXX");
	if (!mkdtemp(g.tmp))
		return -1;
	snprintf(g.label, sizeof(g.label), "io.s2i-agent.build=engine-live-%d", (int)getpid());
	g.eng = engine_new_from_env(url, &e);
	if (!g.eng) {
		fprintf(stderr, "engine: %s\n", e.msg);
		return -1;
	}
	engine_set_cancel(g.eng, &g.cancel);

	snprintf(src, sizeof(src), "%s/probe.c", g.tmp);
	snprintf(bin, sizeof(bin), "%s/probe", g.tmp);
	f = fopen(src, "w");
	if (!f)
		return -1;
	fputs(probe_src, f);
	fclose(f);
	if (child_run(cc_argv, &e) < 0) {
		fprintf(stderr, "cannot build the probe: %s\n", e.msg);
		return -1;
	}
	probe = slurp(bin, &probe_len);
	{
		const struct tar_ent root[] = {
			{ "probe", AE_IFREG, 0755, probe, probe_len },
			{ "tmp", AE_IFDIR, 01777, NULL, 0 },
			{ "data", AE_IFDIR, 0777, NULL, 0 },
			{ "etc", AE_IFDIR, 0755, NULL, 0 },
			{ "etc/passwd", AE_IFREG, 0644, "root:x:0:0::/:/probe\napp:x:1001:0::/data:/probe\n", 0 },
			{ "etc/group", AE_IFREG, 0644, "root:x:0:\n", 0 },
		};
		const char *changes[] = { "ENV PATH=/", "WORKDIR /data", "LABEL io.s2i-agent.test=probe", NULL };

		tar_build(&t, root, sizeof(root) / sizeof(root[0]));
		snprintf(g.probe_image, sizeof(g.probe_image), "s2i-agent-test/engine-probe-%d:latest", (int)getpid());
		m = (struct membuf){ t.data, t.len, 0 };
		if (engine_image_import(g.eng, g.probe_image, changes, mem_read, &m, &e) < 0) {
			fprintf(stderr, "%s\n", e.msg);
			free(probe);
			buf_release(&t);
			return -1;
		}
		strv_push(&g.images, g.probe_image);
	}
	free(probe);
	buf_release(&t);
	return 0;
}

static int teardown(void **state)
{
	struct err e = ERR_INIT;
	char *argv[] = { "rm", "-rf", g.tmp, NULL };
	size_t i;

	(void)state;
	registry_stop();
	g.cancel = 0;
	engine_set_deadline(g.eng, 0);
	for (i = 0; i < g.containers.n; i++)
		if (engine_container_remove(g.eng, g.containers.items[i], 1, 1, &e) < 0)
			fprintf(stderr, "cleanup: %s\n", e.msg);
	for (i = g.images.n; i-- > 0;)
		if (engine_image_remove(g.eng, g.images.items[i], 1, 1, &e) < 0)
			fprintf(stderr, "cleanup: %s\n", e.msg);
	strv_clear(&g.containers);
	strv_clear(&g.images);
	engine_free(g.eng);
	child_run((const char *const *)argv, &e);
	return 0;
}

/* ---- tests ---- */

static void test_ping_version(void **state)
{
	struct engine_version v;
	struct err e = ERR_INIT;

	(void)state;
	check(engine_ping(g.eng, &e), &e);
	assert_int_equal(engine_status(g.eng), 200);
	check(engine_version(g.eng, &v, &e), &e);
	assert_true(v.api[0] == '1' && v.api[1] == '.');
	/* never above what we speak, never above what the server speaks, never below
	 * the server's floor (Docker 25+ refuses a client under it) */
	assert_true(strtol(v.api + 2, NULL, 10) <= strtol(ENGINE_API_MAX + 2, NULL, 10));
	assert_true(strtol(v.api + 2, NULL, 10) <= strtol(v.server_api + 2, NULL, 10));
	if (v.server_min_api[0])
		assert_true(strtol(v.api + 2, NULL, 10) >= strtol(v.server_min_api + 2, NULL, 10));
	/* the newest we speak when the server has it: 1.41 was a cap, not a choice */
	if (strtol(v.server_api + 2, NULL, 10) >= strtol(ENGINE_API_MAX + 2, NULL, 10))
		assert_string_equal(v.api, ENGINE_API_MAX);
	assert_true(v.version[0]);
	assert_string_equal(v.name, v.is_podman ? "Podman" : "Docker");
	fprintf(stderr, "engine %s %s, API %s (server %s to %s)\n", v.name, v.version, v.api,
		v.server_min_api[0] ? v.server_min_api : "?", v.server_api);
	g.podman = v.is_podman;
}

static void test_engine_absent(void **state)
{
	struct err e = ERR_INIT;
	struct engine *eng = engine_new("unix:///nonexistent/docker.sock", NULL, &e);

	(void)state;
	assert_non_null(eng);
	assert_int_equal(engine_ping(eng, &e), -1);
	assert_int_equal(engine_status(eng), ENGINE_NO_ANSWER);
	assert_non_null(strstr(e.msg, "/nonexistent/docker.sock"));
	engine_free(eng);
}

static void test_inspect_base(void **state)
{
	struct engine_image img = ENGINE_IMAGE_INIT;
	struct err e = ERR_INIT;
	size_t i;
	int path = 0;

	(void)state;
	check(engine_image_inspect(g.eng, BASE_IMAGE, &img, &e), &e);
	assert_true(!strncmp(img.id, "sha256:", 7));
	for (i = 0; i < img.env.n; i++)
		path |= !strcmp(img.env.items[i], "PATH=/bin");
	assert_true(path);
	assert_non_null(img.raw);
	assert_int_equal(engine_image_exists(g.eng, BASE_IMAGE, &e), 1);
	engine_image_release(&img);

	check(engine_image_inspect(g.eng, g.probe_image, &img, &e), &e);
	assert_string_equal(img.workdir, "/data");
	assert_string_equal(engine_image_label(&img, "io.s2i-agent.test"), "probe");
	assert_null(engine_image_label(&img, "nope"));
	engine_image_release(&img);
}

static void test_inspect_missing_and_pull_never(void **state)
{
	struct engine_image img = ENGINE_IMAGE_INIT;
	struct err e = ERR_INIT;
	char missing[128];

	(void)state;
	snprintf(missing, sizeof(missing), "s2i-agent-test/absent-%d:latest", (int)getpid());
	assert_int_equal(engine_image_inspect(g.eng, missing, &img, &e), -1);
	assert_int_equal(engine_status(g.eng), 404);
	assert_non_null(strstr(e.msg, missing));
	assert_int_equal(engine_image_exists(g.eng, missing, &e), 0);

	assert_int_equal(engine_image_ensure(g.eng, missing, PULL_NEVER, NULL, NULL, &img, &e), -1);
	assert_non_null(strstr(e.msg, "not found locally and pull policy is never"));
	assert_non_null(strstr(e.msg, missing));

	/* a missing image whose pull fails (a registry on a closed local port, no traffic
	 * leaves the machine) is named as missing first, the engine's words after */
	snprintf(missing, sizeof(missing), "127.0.0.1:1/s2i-agent-test/absent-%d:latest", (int)getpid());
	assert_int_equal(engine_image_ensure(g.eng, missing, PULL_IF_NOT_PRESENT, NULL, NULL, &img, &e), -1);
	assert_non_null(strstr(e.msg, "is not present locally; build or pull it, or check the name and "
				      "registry_auth_file (pulling it failed: "));
	assert_non_null(strstr(e.msg, missing));
	assert_true(!strncmp(e.msg, "image '", 7));

	/* if-not-present on a present image does not pull (no network here) */
	check(engine_image_ensure(g.eng, BASE_IMAGE, PULL_IF_NOT_PRESENT, NULL, NULL, &img, &e), &e);
	assert_true(!strncmp(img.id, "sha256:", 7));
	engine_image_release(&img);
}

static void test_upload_run_logs_wait(void **state)
{
	static const struct tar_ent in[] = {
		{ "in", AE_IFDIR, 0755, NULL, 0 },
		{ "in/hello.txt", AE_IFREG, 0644, "hello from the host\n", 0 },
		{ "in/sub/deep.txt", AE_IFREG, 0600, "deep\n", 0 },
	};
	const char *cmd[] = { "/probe", "c:/data/in/hello.txt", "e:to-stderr", "t:", "u:", "o:done", "x:3", NULL };
	struct output o = OUTPUT_INIT;
	struct buf t = BUF_INIT(1 << 20);
	struct err e = ERR_INIT;
	struct membuf m;
	struct gen_tar big;
	char *id;
	int code = -1;

	(void)state;
	id = create(g.probe_image, cmd, "run");
	tar_build(&t, in, 3);
	m = (struct membuf){ t.data, t.len, 0 };
	check(engine_archive_put(g.eng, id, "/data", mem_read, &m, &e), &e);
	buf_release(&t);
	/* a file larger than any buffer, generated while curl sends it */
	gen_tar_init(&big, "in/big.bin");
	check(engine_archive_put(g.eng, id, "/data", gen_tar_read, &big, &e), &e);
	assert_int_equal(big.pos, big.total);
	assert_true(big.big.max_piece <= 256 * 1024);

	/* uploading into a directory that does not exist: the engine's message
	 * (Docker: 404; Podman 4.3 creates the directory) */
	m = (struct membuf){ "", 0, 0 };
	if (!g.podman) {
		assert_int_equal(engine_archive_put(g.eng, id, "/no/such/dir", mem_read, &m, &e), -1);
		assert_int_equal(engine_status(g.eng), 404);
	}

	check(engine_container_start(g.eng, id, &e), &e);
	check(engine_container_logs(g.eng, id, 1, output_fn, &o, &e), &e);
	check(engine_container_wait(g.eng, id, 60, &code, &e), &e);
	assert_int_equal(code, 3);
	assert_string_equal(o.out.data, "hello from the host\nno tar\nuid=0\ndone\n");
	assert_string_equal(o.err.data, "to-stderr\n");

	/* logs again, without follow, after the end */
	output_release(&o);
	o = (struct output)OUTPUT_INIT;
	check(engine_container_logs(g.eng, id, 0, output_fn, &o, &e), &e);
	assert_string_equal(o.err.data, "to-stderr\n");
	output_release(&o);
	free(id);
}

struct failing_src {
	struct gen_tar t;
	size_t fail_after;
};

static ssize_t failing_read(void *arg, void *buf, size_t len, struct err *e)
{
	struct failing_src *f = arg;

	if (f->t.pos >= f->fail_after)
		return err_set(e, "tar entry 'x': refused by the filter");
	return gen_tar_read(&f->t, buf, len, e);
}

static void test_upload_reader_failure(void **state)
{
	/* A reader that fails mid-stream (e.g. tarx refusing an entry) aborts the
	 * upload with the reader's message. The engine extracts as it receives, so
	 * what came before stays, possibly a truncated file: a caller that must
	 * not keep a partial upload has to discard the container. */
	const char *cmd[] = { "/probe", "z:/data/partial.bin", NULL };
	struct failing_src f;
	struct output o = OUTPUT_INIT;
	struct err e = ERR_INIT;
	char *id;
	int code = -1;

	(void)state;
	id = create(g.probe_image, cmd, "readfail");
	gen_tar_init(&f.t, "partial.bin");
	f.fail_after = 3 * 1024 * 1024;
	assert_int_equal(engine_archive_put(g.eng, id, "/data", failing_read, &f, &e), -1);
	assert_non_null(strstr(e.msg, "refused by the filter"));
	assert_non_null(strstr(e.msg, "cannot upload into '/data'"));
	check(engine_container_start(g.eng, id, &e), &e);
	check(engine_container_logs(g.eng, id, 1, output_fn, &o, &e), &e);
	check(engine_container_wait(g.eng, id, 60, &code, &e), &e);
	fprintf(stderr, "after an aborted upload, partial.bin: %s", o.out.data);
	assert_true(!strcmp(o.out.data, "absent\n") || strtoul(o.out.data, NULL, 10) < BIG_SIZE);
	output_release(&o);
	free(id);
}

static void test_logs_stream_as_they_come(void **state)
{
	/* The probe prints "first" and waits for /tmp/go, which our logs callback
	 * uploads when it sees "first": only a streamed log can get "second". */
	const char *cmd[] = { "/probe", "o:first", "W:/tmp/go", "o:second", NULL };
	struct output o = OUTPUT_INIT;
	struct err e = ERR_INIT;
	char *id;
	int code = -1;

	(void)state;
	id = create(g.probe_image, cmd, "stream");
	o.trigger = "first";
	o.action = 1;
	o.id = id;
	check(engine_container_start(g.eng, id, &e), &e);
	check(engine_container_logs(g.eng, id, 1, output_fn, &o, &e), &e);
	check(engine_container_wait(g.eng, id, 60, &code, &e), &e);
	assert_int_equal(o.fired, 1);
	assert_string_equal(o.out.data, "first\nsecond\n");
	assert_int_equal(code, 0);
	output_release(&o);
	free(id);
}

static void test_download_and_extract(void **state)
{
	const char *cmd[] = { "/probe", "x:0", NULL };
	struct engine_stream *s = NULL;
	struct tarx_stats st;
	struct err e = ERR_INIT;
	struct buf t = BUF_INIT(1 << 20), file = BUF_INIT(1 << 20);
	static const struct tar_ent in[] = {
		{ "in", AE_IFDIR, 0755, NULL, 0 },
		{ "in/hello.txt", AE_IFREG, 0644, "hello from the host\n", 0 },
		{ "in/link", AE_IFLNK, 0777, "hello.txt", 0 },
	};
	struct membuf m;
	struct gen_tar big;
	char dir[128], path[256], *data;
	size_t len, i;
	int found = 0;
	char *id;

	(void)state;
	id = create(g.probe_image, cmd, "dl");
	tar_build(&t, in, 3);
	m = (struct membuf){ t.data, t.len, 0 };
	check(engine_archive_put(g.eng, id, "/data", mem_read, &m, &e), &e);
	gen_tar_init(&big, "in/big.bin");
	check(engine_archive_put(g.eng, id, "/data", gen_tar_read, &big, &e), &e);

	/* streamed download straight into tarx */
	snprintf(dir, sizeof(dir), "%s/dl", g.tmp);
	assert_int_equal(mkdir(dir, 0700), 0);
	check(engine_archive_open(g.eng, id, "/data/in", &s, &e), &e);
	check(tarx_extract(engine_stream_read, s, dir, NULL, &st, &e), &e);
	engine_stream_free(s);
	assert_int_equal(st.entries, 4);
	snprintf(path, sizeof(path), "%s/in/hello.txt", dir);
	data = slurp(path, &len);
	assert_string_equal(data, "hello from the host\n");
	free(data);
	snprintf(path, sizeof(path), "%s/in/big.bin", dir);
	data = slurp(path, &len);
	assert_int_equal(len, BIG_SIZE);
	for (i = 0; i < len; i++)
		if (data[i] != big_byte(i))
			fail_msg("big.bin differs at %zu", i);
	free(data);

	/* one file out of the archive */
	check(engine_archive_open(g.eng, id, "/data/in/hello.txt", &s, &e), &e);
	check(tarx_read_file(engine_stream_read, s, "hello.txt", 1024, &file, &found, &e), &e);
	engine_stream_free(s);
	assert_int_equal(found, 1);
	assert_string_equal(file.data, "hello from the host\n");

	/* a missing path: the engine's 404 message comes out of the stream */
	check(engine_archive_open(g.eng, id, "/data/nope", &s, &e), &e);
	assert_int_equal(tarx_extract(engine_stream_read, s, dir, NULL, NULL, &e), -1);
	engine_stream_free(s);
	assert_int_equal(engine_status(g.eng), 404);
	assert_non_null(strstr(e.msg, "/data/nope"));

	buf_release(&t);
	buf_release(&file);
	free(id);
}

/* One worker of test_files_after_exit: rounds of run-to-exit then read a file of the
 * image at once; exits 0, or 1 with the round that lost the file. */
static int files_after_exit_worker(int worker, int rounds)
{
	const char *labels[] = { g.label, "io.s2i-agent.test=engine-live", NULL };
	const char *cmd[] = { "/probe", "x:0", NULL };
	struct engine *eng;
	struct err e = ERR_INIT;
	int r, code, found, bad = 0;

	eng = engine_new_from_env(ef_engine_url(), &e);
	if (!eng)
		return 1;
	for (r = 0; r < rounds && !bad; r++) {
		struct engine_create p = ENGINE_CREATE_INIT;
		struct engine_stream *s = NULL;
		struct buf file = BUF_INIT(4096);
		char *id = NULL;

		p.image = g.probe_image;
		p.cmd = cmd;
		p.labels = labels;
		p.network_mode = "none";
		found = 0;
		if (engine_container_create(eng, &p, &id, &e) < 0 || engine_container_start(eng, id, &e) < 0 ||
		    engine_container_wait(eng, id, 60, &code, &e) < 0 ||
		    engine_archive_open(eng, id, "/etc/passwd", &s, &e) < 0 ||
		    tarx_read_file(engine_stream_read, s, "passwd", 4096, &file, &found, &e) < 0)
			bad = 1;
		else if (!found || !strstr(file.data, "app:x:1001"))
			bad = 1;
		if (bad)
			fprintf(stderr, "worker %d round %d: /etc/passwd %s %s\n", worker, r,
				found ? "read" : "not found", e.msg);
		engine_stream_free(s);
		buf_release(&file);
		if (id && engine_container_remove(eng, id, 1, 1, &e) < 0)
			fprintf(stderr, "cleanup: %s\n", e.msg);
		free(id);
	}
	engine_free(eng);
	return bad;
}

/* A file is there to read (and write) as soon as wait says the container exited, also
 * when the engine is busy: Podman's cleanup after the exit unmounted the container's
 * root under such a read about once in ten under this load (engine_container_settle).
 * Docker has no such cleanup: a few rounds of one worker show the same path works. */
static void test_files_after_exit(void **state)
{
	pid_t pids[4];
	int i, st, failed = 0, workers = g.podman ? 4 : 1;

	(void)state;
	for (i = 0; i < workers; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0)
			_exit(files_after_exit_worker(i, g.podman ? 15 : 3));
	}
	for (i = 0; i < workers; i++) {
		assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			failed++;
	}
	assert_int_equal(failed, 0);
}

static int to_buf(void *arg, const void *data, size_t len, struct err *e)
{
	return buf_add(arg, data, len) < 0 ? err_set(e, "too big") : 0;
}

static void test_archive_get_push_style(void **state)
{
	const char *cmd[] = { "/probe", NULL };
	static const struct tar_ent in[] = { { "f.txt", AE_IFREG, 0644, "content\n", 0 } };
	struct buf t = BUF_INIT(1 << 20), got = BUF_INIT(1 << 20), file = BUF_INIT(1024);
	struct err e = ERR_INIT;
	struct membuf m;
	int found = 0;
	char *id;

	(void)state;
	id = create(g.probe_image, cmd, "get");
	tar_build(&t, in, 1);
	m = (struct membuf){ t.data, t.len, 0 };
	check(engine_archive_put(g.eng, id, "/tmp", mem_read, &m, &e), &e);
	check(engine_archive_get(g.eng, id, "/tmp/f.txt", to_buf, &got, &e), &e);
	m = (struct membuf){ got.data, got.len, 0 };
	check(tarx_read_file(mem_read, &m, "f.txt", 1024, &file, &found, &e), &e);
	assert_int_equal(found, 1);
	assert_string_equal(file.data, "content\n");
	buf_release(&t);
	buf_release(&got);
	buf_release(&file);
	free(id);
}

static void test_container_to_container(void **state)
{
	/* artifacts from one container into another through the tarx filter, no disk */
	const char *cmd1[] = { "/probe", NULL };
	const char *cmd2[] = { "/probe", "c:/data/copied/hello.txt", "c:/data/copied/sub/deep.txt", NULL };
	static const struct tar_ent in[] = {
		{ "in/hello.txt", AE_IFREG, 0644, "artifact\n", 0 },
		{ "in/sub/deep.txt", AE_IFREG, 0644, "deep artifact\n", 0 },
	};
	struct tarx_opts o = TARX_OPTS_INIT;
	struct tarx_filter *f = NULL;
	struct engine_stream *s = NULL;
	struct output out = OUTPUT_INIT;
	struct buf t = BUF_INIT(1 << 20);
	struct err e = ERR_INIT;
	struct membuf m;
	char *src, *dst;
	int code = -1;

	(void)state;
	src = create(g.probe_image, cmd1, "c2c-src");
	dst = create(g.probe_image, cmd2, "c2c-dst");
	tar_build(&t, in, 2);
	m = (struct membuf){ t.data, t.len, 0 };
	check(engine_archive_put(g.eng, src, "/data", mem_read, &m, &e), &e);
	buf_release(&t);

	o.rename_from = "in";
	o.rename_to = "copied";
	check(engine_archive_open(g.eng, src, "/data/in", &s, &e), &e);
	check(tarx_filter_open(engine_stream_read, s, &o, &f, &e), &e);
	check(engine_archive_put(g.eng, dst, "/data", tarx_filter_read, f, &e), &e);
	tarx_filter_free(f);
	engine_stream_free(s);

	check(engine_container_start(g.eng, dst, &e), &e);
	check(engine_container_logs(g.eng, dst, 1, output_fn, &out, &e), &e);
	check(engine_container_wait(g.eng, dst, 60, &code, &e), &e);
	assert_string_equal(out.out.data, "artifact\ndeep artifact\n");
	output_release(&out);
	free(src);
	free(dst);
}

static void test_logs_pull_stream(void **state)
{
	/* stdout as a pull stream (save-artifacts style), stderr to a callback */
	const char *cmd[] = { "/probe", "o:line one", "e:diagnostic", "o:line two", NULL };
	struct output o = OUTPUT_INIT;
	struct engine_stream *s = NULL;
	struct buf got = BUF_INIT(1 << 20);
	struct err e = ERR_INIT;
	char tmp[3];
	ssize_t n;
	char *id;
	int code = -1;

	(void)state;
	id = create(g.probe_image, cmd, "pull");
	check(engine_container_start(g.eng, id, &e), &e);
	check(engine_logs_open(g.eng, id, 1, output_fn, &o, &s, &e), &e);
	while ((n = engine_stream_read(s, tmp, sizeof(tmp), &e)) > 0)
		assert_int_equal(buf_add(&got, tmp, (size_t)n), 0);
	check((int)n, &e);
	engine_stream_free(s);
	check(engine_container_wait(g.eng, id, 60, &code, &e), &e);
	assert_string_equal(got.data, "line one\nline two\n");
	assert_string_equal(o.err.data, "diagnostic\n");
	assert_int_equal(o.out.len, 0);
	buf_release(&got);
	output_release(&o);
	free(id);
}

static void test_attach_binary_stdout(void **state)
{
	/* save-artifacts style: a tar on stdout must arrive byte exact (the log
	 * driver would mangle it), stderr kept apart */
	const char *cmd[] = { "/probe", "e:before", "B:", "e:after", "x:0", NULL };
	struct output o = OUTPUT_INIT;
	struct engine_stream *s = NULL;
	struct buf got = BUF_INIT(1 << 20);
	struct err e = ERR_INIT;
	char tmp[1000];
	ssize_t n;
	size_t k;
	char *id;
	int code = -1;

	(void)state;
	id = create(g.probe_image, cmd, "attach");
	check(engine_attach_open(g.eng, id, output_fn, &o, &s, &e), &e);
	check(engine_container_start(g.eng, id, &e), &e);
	while ((n = engine_stream_read(s, tmp, sizeof(tmp), &e)) > 0)
		assert_int_equal(buf_add(&got, tmp, (size_t)n), 0);
	check((int)n, &e);
	engine_stream_free(s);
	check(engine_container_wait(g.eng, id, 60, &code, &e), &e);
	assert_int_equal(code, 0);
	assert_int_equal(got.len, 300000);
	for (k = 0; k < got.len; k++)
		if ((unsigned char)got.data[k] != ((k * 131 + k / 256) & 0xff))
			fail_msg("attach output differs at byte %zu", k);
	assert_string_equal(o.err.data, "before\nafter\n");

	/* attaching to a missing container: the engine's 404 */
	assert_int_equal(engine_attach_open(g.eng, "0123456789abcdef-missing", NULL, NULL, &s, &e), -1);
	assert_int_equal(engine_status(g.eng), 404);
	buf_release(&got);
	output_release(&o);
	free(id);
}

static void test_entrypoint_and_commit(void **state)
{
	const char *ep[] = { "/probe", "o:from-entrypoint", NULL };
	const char *args[] = { "o:arg", NULL };
	const char *run_cmd[] = { "/probe", "o:run script", "u:", NULL };
	const char *env[] = { "PATH=/", "APP_ENV=test", NULL };
	const char *labels[] = { "io.openshift.s2i.build.image=" BASE_IMAGE, "com.example.k=v=w", NULL };
	const char *empty[] = { NULL };
	const char *cleared_cmd[] = { "/probe", "o:cleared", NULL };
	struct engine_commit c = ENGINE_COMMIT_INIT;
	struct engine_create p = ENGINE_CREATE_INIT;
	struct engine_image img = ENGINE_IMAGE_INIT;
	struct output o = OUTPUT_INIT;
	struct err e = ERR_INIT;
	char name[128], repo[128], *id = NULL, *image_id = NULL;
	int code = -1;

	(void)state;
	/* entrypoint override on create */
	snprintf(name, sizeof(name), "s2i-agent-test-engine-%d-ep", (int)getpid());
	p.name = name;
	p.image = g.probe_image;
	p.entrypoint = ep;
	p.entrypoint_set = 1;
	p.cmd = args;
	p.network_mode = "none";
	p.labels = (const char *const[]){ g.label, NULL };
	check(engine_container_create(g.eng, &p, &id, &e), &e);
	strv_push(&g.containers, id);
	check(engine_container_start(g.eng, id, &e), &e);
	check(engine_container_logs(g.eng, id, 1, output_fn, &o, &e), &e);
	check(engine_container_wait(g.eng, id, 60, &code, &e), &e);
	assert_string_equal(o.out.data, "from-entrypoint\narg\n");
	output_release(&o);

	/* commit it with our config: Cmd, User, Env, Labels, Entrypoint kept */
	snprintf(repo, sizeof(repo), "s2i-agent-test/engine-commit-%d", (int)getpid());
	c.container = id;
	c.repo = repo;
	c.tag = "v1";
	c.cmd = run_cmd;
	c.user = "1001";
	c.env = env;
	c.labels = labels;
	c.workdir = "/tmp";
	check(engine_commit(g.eng, &c, &image_id, &e), &e);
	strv_pushf(&g.images, "%s:v1", repo);
	assert_true(!strncmp(image_id, "sha256:", 7));
	free(id);
	id = NULL;

	snprintf(name, sizeof(name), "%s:v1", repo);
	check(engine_image_inspect(g.eng, name, &img, &e), &e);
	assert_string_equal(img.id, image_id);
	assert_string_equal(img.user, "1001");
	assert_string_equal(img.workdir, "/tmp");
	assert_int_equal(img.cmd.n, 3);
	assert_string_equal(img.cmd.items[1], "o:run script");
	assert_int_equal(img.entrypoint.n, 2);
	assert_string_equal(engine_image_label(&img, "io.openshift.s2i.build.image"), BASE_IMAGE);
	assert_string_equal(engine_image_label(&img, "com.example.k"), "v=w");
	/* the image's own label survives; the container's build label is inherited */
	assert_string_equal(engine_image_label(&img, "io.s2i-agent.test"), "probe");
	assert_non_null(engine_image_label(&img, "io.s2i-agent.build"));
	{
		/* Podman adds TERM and container=podman to every container */
		size_t k;
		int app = 0;

		for (k = 0; k < img.env.n; k++)
			app |= !strcmp(img.env.items[k], "APP_ENV=test");
		assert_true(app);
		if (!g.podman)
			assert_int_equal(img.env.n, 2);
	}
	engine_image_release(&img);

	/* an empty entrypoint override clears the image's: cmd runs alone */
	p.image = name;
	p.entrypoint = empty;
	p.cmd = cleared_cmd;
	snprintf(name, sizeof(name), "s2i-agent-test-engine-%d-noep", (int)getpid());
	p.name = name;
	snprintf(name, sizeof(name), "%s:v1", repo);
	p.image = name;
	{
		char cname[128];

		snprintf(cname, sizeof(cname), "s2i-agent-test-engine-%d-noep", (int)getpid());
		p.name = cname;
		check(engine_container_create(g.eng, &p, &id, &e), &e);
	}
	strv_push(&g.containers, id);
	o = (struct output)OUTPUT_INIT;
	check(engine_container_start(g.eng, id, &e), &e);
	check(engine_container_logs(g.eng, id, 1, output_fn, &o, &e), &e);
	check(engine_container_wait(g.eng, id, 60, &code, &e), &e);
	assert_string_equal(o.out.data, "cleared\n");
	output_release(&o);
	free(id);

	/* and without any override, the committed entrypoint + cmd run as user 1001
	 * (the probe ignores its "/probe" argument) */
	o = (struct output)OUTPUT_INIT;
	code = run(name, NULL, "committed", &o);
	assert_int_equal(code, 0);
	assert_string_equal(o.out.data, "from-entrypoint\nrun script\nuid=1001\n");
	output_release(&o);
	free(image_id);
}

static void test_kill_timeout_cancel(void **state)
{
	const char *cmd[] = { "/probe", "o:tick", "W:/tmp/never", NULL };
	struct output o = OUTPUT_INIT;
	struct err e = ERR_INIT;
	char *id;
	int code = -1;

	(void)state;
	id = create(g.probe_image, cmd, "kill");
	check(engine_container_start(g.eng, id, &e), &e);
	/* starting a running container is not an error (304) */
	check(engine_container_start(g.eng, id, &e), &e);

	/* wait with a timeout on a container that does not end */
	assert_int_equal(engine_container_wait(g.eng, id, 1, &code, &e), -1);
	assert_int_equal(engine_status(g.eng), ENGINE_TIMED_OUT);
	assert_non_null(strstr(e.msg, "timed out"));

	/* the engine-wide deadline does the same */
	engine_set_deadline(g.eng, engine_clock_ms() + 500);
	assert_int_equal(engine_container_wait(g.eng, id, 0, &code, &e), -1);
	assert_int_equal(engine_status(g.eng), ENGINE_TIMED_OUT);
	engine_set_deadline(g.eng, 0);

	/* the cancel flag, raised from inside a streaming callback */
	o.trigger = "tick";
	o.action = 2;
	assert_int_equal(engine_container_logs(g.eng, id, 1, output_fn, &o, &e), -1);
	assert_int_equal(engine_status(g.eng), ENGINE_CANCELED);
	assert_non_null(strstr(e.msg, "canceled"));
	/* and raised before a call */
	assert_int_equal(engine_container_wait(g.eng, id, 0, &code, &e), -1);
	assert_int_equal(engine_status(g.eng), ENGINE_CANCELED);
	g.cancel = 0;

	check(engine_container_kill(g.eng, id, NULL, &e), &e);
	check(engine_container_wait(g.eng, id, 60, &code, &e), &e);
	assert_int_equal(code, 137);
	/* killing a stopped container is fine */
	check(engine_container_kill(g.eng, id, "SIGTERM", &e), &e);
	assert_int_equal(engine_container_kill(g.eng, id, "TERM; rm", &e), -1);
	output_release(&o);
	free(id);
}

static void test_list_remove(void **state)
{
	struct strv ids = STRV_INIT;
	struct err e = ERR_INIT;
	size_t i, j;
	int seen;

	(void)state;
	check(engine_container_list(g.eng, g.label, &ids, &e), &e);
	assert_true(ids.n >= 5);
	for (i = 0; i < g.containers.n; i++) {
		for (seen = 0, j = 0; j < ids.n; j++)
			seen |= !strcmp(ids.items[j], g.containers.items[i]);
		assert_true(seen);
	}
	for (i = 0; i < ids.n; i++)
		check(engine_container_remove(g.eng, ids.items[i], 1, 1, &e), &e);
	strv_clear(&ids);
	check(engine_container_list(g.eng, g.label, &ids, &e), &e);
	assert_int_equal(ids.n, 0);
	/* removing again: a missing container is not an error */
	check(engine_container_remove(g.eng, g.containers.items[0], 1, 1, &e), &e);
	assert_int_equal(engine_status(g.eng), 404);
	strv_clear(&g.containers);
}

/* ---- push to a registry with htpasswd auth ---- */

static char *kv(const char *text, const char *key)
{
	size_t kl = strlen(key);
	const char *p = text;

	while (p && *p) {
		if (!strncmp(p, key, kl) && p[kl] == '=')
			return xstrndup(p + kl + 1, strcspn(p + kl + 1, "\n"));
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return NULL;
}

static int lines(void *arg, const char *line, struct err *e)
{
	(void)e;
	return buf_addf(arg, "%s\n", line);
}

static void test_push_registry(void **state)
{
	const char *tests = getenv("TESTS_DIR") ? getenv("TESTS_DIR") : "tests";
	char script[512], ref[256], noauth[256], *addr = NULL, *dir = NULL, *auth = NULL, *digest = NULL;
	const char *argv[] = { "bash", script, "start", NULL };
	struct child c = CHILD_INIT;
	struct buf out = BUF_INIT(1 << 16), progress = BUF_INIT(1 << 20);
	struct engine_image img = ENGINE_IMAGE_INIT;
	struct err e = ERR_INIT;
	char tmp[4096];
	ssize_t n;
	int status = -1;

	(void)state;
	snprintf(script, sizeof(script), "%s/lib/registry.sh", tests);
	c.argv = argv;
	c.out = CHILD_PIPE;
	check(child_start(&c, &e), &e);
	while ((n = read(c.out_fd, tmp, sizeof(tmp))) > 0)
		buf_add(&out, tmp, (size_t)n);
	check(child_finish(&c, &status, &e), &e);
	assert_int_equal(status, 0);
	addr = kv(out.data, "REGISTRY_ADDR");
	dir = kv(out.data, "REGISTRY_DIR");
	auth = kv(out.data, "REGISTRY_AUTH_FILE");
	assert_non_null(dir);
	snprintf(g.registry_script, sizeof(g.registry_script), "%s", script);
	snprintf(g.registry_dir, sizeof(g.registry_dir), "%s", dir);
	assert_non_null(addr);
	assert_non_null(auth);

	snprintf(ref, sizeof(ref), "%s/s2i-agent-test/engine-%d:v1", addr, (int)getpid());
	check(engine_image_tag(g.eng, g.probe_image, ref, &e), &e);
	strv_push(&g.images, ref);

	/* without credentials the registry refuses, and we say so */
	if (engine_image_push(g.eng, ref, NULL, NULL, NULL, &e) == 0)
		fail_msg("push without credentials succeeded");
	assert_non_null(strstr(e.msg, "cannot push"));
	fprintf(stderr, "push without credentials: %s (status %d)\n", e.msg, engine_status(g.eng));

	check(engine_set_registry_auth(g.eng, auth, &e), &e);
	check(engine_image_push(g.eng, ref, lines, &progress, &digest, &e), &e);
	assert_non_null(digest);
	assert_true(!strncmp(digest, "sha256:", 7));
	assert_non_null(strstr(progress.data, "digest: sha256:"));

	/* pull it back: remove the tag, then pull with the credentials. Podman 4.3
	 * pulls only over HTTPS unless registries.conf lists the registry as
	 * insecure (its compat pull ignores tlsVerify), so not there. */
	if (g.podman)
		goto stop;
	check(engine_image_remove(g.eng, ref, 0, 0, &e), &e);
	assert_int_equal(engine_image_exists(g.eng, ref, &e), 0);
	check(engine_image_ensure(g.eng, ref, PULL_IF_NOT_PRESENT, NULL, NULL, &img, &e), &e);
	engine_image_release(&img);
	check(engine_image_ensure(g.eng, ref, PULL_ALWAYS, NULL, NULL, &img, &e), &e);
	engine_image_release(&img);

	/* a tag the registry does not have: the errorDetail of a 200 stream */
	snprintf(noauth, sizeof(noauth), "%s/s2i-agent-test/engine-%d:absent", addr, (int)getpid());
	assert_int_equal(engine_image_pull(g.eng, noauth, NULL, NULL, &e), -1);
	fprintf(stderr, "pull of a missing tag: %s (status %d)\n", e.msg, engine_status(g.eng));
	assert_non_null(strstr(e.msg, "cannot pull"));
stop:
	check(engine_set_registry_auth(g.eng, NULL, &e), &e);
	registry_stop();
	buf_release(&out);
	buf_release(&progress);
	free(addr);
	free(dir);
	free(auth);
	free(digest);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ping_version),
		cmocka_unit_test(test_engine_absent),
		cmocka_unit_test(test_inspect_base),
		cmocka_unit_test(test_inspect_missing_and_pull_never),
		cmocka_unit_test(test_upload_run_logs_wait),
		cmocka_unit_test(test_upload_reader_failure),
		cmocka_unit_test(test_logs_stream_as_they_come),
		cmocka_unit_test(test_download_and_extract),
		cmocka_unit_test(test_archive_get_push_style),
		cmocka_unit_test(test_files_after_exit),
		cmocka_unit_test(test_container_to_container),
		cmocka_unit_test(test_logs_pull_stream),
		cmocka_unit_test(test_attach_binary_stdout),
		cmocka_unit_test(test_entrypoint_and_commit),
		cmocka_unit_test(test_kill_timeout_cancel),
		cmocka_unit_test(test_list_remove),
		cmocka_unit_test(test_push_registry),
	};

	signal(SIGPIPE, SIG_IGN);
	/* S2I_TEST_ONLY=test_logs_pull_stream runs the tests that match (a pattern of
	 * cmocka's): one test again and again, to catch a rare engine race */
	if (getenv("S2I_TEST_ONLY"))
		cmocka_set_test_filter(getenv("S2I_TEST_ONLY"));
	return cmocka_run_group_tests(tests, setup, teardown);
}
