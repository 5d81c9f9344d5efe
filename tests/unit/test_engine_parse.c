/* Unit tests for engine's pure parts: the stdout/stderr demultiplexer, the JSON
 * progress stream of pull/push, image references and X-Registry-Auth. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <cmocka.h>

#include "child.h"
#include "engine.h"
#include "limits.h"

/* ---- demux ---- */

struct collected {
	struct buf out, err;
	int calls;
	int fail_at;		/* fail on this call (1-based), 0: never */
};

static int collect(void *arg, int stream, const void *data, size_t len, struct err *e)
{
	struct collected *c = arg;

	if (++c->calls == c->fail_at)
		return err_set(e, "sink refused");
	assert_true(len > 0);
	assert_true(stream == ENGINE_STDOUT || stream == ENGINE_STDERR);
	return buf_add(stream == ENGINE_STDOUT ? &c->out : &c->err, data, len);
}

static void frame(struct buf *b, int stream, const char *payload, size_t n)
{
	unsigned char h[8] = { (unsigned char)stream, 0, 0, 0, (unsigned char)(n >> 24), (unsigned char)(n >> 16),
			       (unsigned char)(n >> 8), (unsigned char)n };

	assert_int_equal(buf_add(b, h, 8), 0);
	assert_int_equal(buf_add(b, payload, n), 0);
}

static void build_stream(struct buf *b)
{
	static char big[3000];

	memset(big, 'x', sizeof(big));
	frame(b, 1, "hello ", 6);
	frame(b, 2, "warning: oops\n", 14);
	frame(b, 1, "", 0);			/* empty frames happen */
	frame(b, 1, "world\n", 6);
	frame(b, 2, big, sizeof(big));		/* longer than any read */
	frame(b, 1, "end\n", 4);
}

static void test_demux_every_split(void **state)
{
	struct buf s = BUF_INIT(1 << 20);
	size_t cut, cut2;

	(void)state;
	build_stream(&s);
	/* Two cuts at every position pair would be slow under ASan; cut the
	 * small head at every byte pair and the whole stream at every byte once. */
	for (cut = 0; cut <= s.len; cut++) {
		struct collected c = { BUF_INIT(1 << 20), BUF_INIT(1 << 20), 0, 0 };
		struct engine_demux d = ENGINE_DEMUX_INIT;
		struct err e = ERR_INIT;

		assert_int_equal(engine_demux_feed(&d, s.data, cut, collect, &c, &e), 0);
		assert_int_equal(engine_demux_feed(&d, s.data + cut, s.len - cut, collect, &c, &e), 0);
		assert_int_equal(engine_demux_finish(&d, &e), 0);
		assert_string_equal(c.out.data, "hello world\nend\n");
		assert_int_equal(c.err.len, 14 + 3000);
		assert_memory_equal(c.err.data, "warning: oops\n", 14);
		buf_release(&c.out);
		buf_release(&c.err);
	}
	for (cut = 0; cut < 60; cut++) {
		for (cut2 = cut; cut2 < 60; cut2++) {
			struct collected c = { BUF_INIT(1 << 20), BUF_INIT(1 << 20), 0, 0 };
			struct engine_demux d = ENGINE_DEMUX_INIT;
			struct err e = ERR_INIT;

			assert_int_equal(engine_demux_feed(&d, s.data, cut, collect, &c, &e), 0);
			assert_int_equal(engine_demux_feed(&d, s.data + cut, cut2 - cut, collect, &c, &e), 0);
			assert_int_equal(engine_demux_feed(&d, s.data + cut2, s.len - cut2, collect, &c, &e), 0);
			assert_int_equal(engine_demux_finish(&d, &e), 0);
			assert_string_equal(c.out.data, "hello world\nend\n");
			buf_release(&c.out);
			buf_release(&c.err);
		}
	}
	buf_release(&s);
}

static void test_demux_byte_by_byte(void **state)
{
	struct buf s = BUF_INIT(1 << 20);
	struct collected c = { BUF_INIT(1 << 20), BUF_INIT(1 << 20), 0, 0 };
	struct engine_demux d = ENGINE_DEMUX_INIT;
	struct err e = ERR_INIT;
	size_t i;

	(void)state;
	build_stream(&s);
	for (i = 0; i < s.len; i++)
		assert_int_equal(engine_demux_feed(&d, s.data + i, 1, collect, &c, &e), 0);
	assert_int_equal(engine_demux_finish(&d, &e), 0);
	assert_string_equal(c.out.data, "hello world\nend\n");
	assert_int_equal(c.err.len, 14 + 3000);
	buf_release(&c.out);
	buf_release(&c.err);
	buf_release(&s);
}

static void test_demux_errors(void **state)
{
	struct buf s = BUF_INIT(1 << 20);
	struct collected c = { BUF_INIT(1 << 20), BUF_INIT(1 << 20), 0, 0 };
	struct engine_demux d = ENGINE_DEMUX_INIT;
	struct err e = ERR_INIT;
	static const unsigned char bad_stream[8] = { 3, 0, 0, 0, 0, 0, 0, 1 };
	static const unsigned char bad_pad[8] = { 1, 0, 1, 0, 0, 0, 0, 1 };

	(void)state;
	/* a TTY stream (raw text) is not multiplexed: refused, not misread */
	assert_int_equal(engine_demux_feed(&d, "hello world\n", 12, collect, &c, &e), -1);
	assert_non_null(strstr(e.msg, "malformed output stream"));
	d = (struct engine_demux)ENGINE_DEMUX_INIT;
	assert_int_equal(engine_demux_feed(&d, bad_stream, 8, collect, &c, &e), -1);
	d = (struct engine_demux)ENGINE_DEMUX_INIT;
	assert_int_equal(engine_demux_feed(&d, bad_pad, 8, collect, &c, &e), -1);

	/* truncated in the header, and in the payload */
	frame(&s, 1, "abcdef", 6);
	d = (struct engine_demux)ENGINE_DEMUX_INIT;
	assert_int_equal(engine_demux_feed(&d, s.data, 5, collect, &c, &e), 0);
	assert_int_equal(engine_demux_finish(&d, &e), -1);
	assert_non_null(strstr(e.msg, "middle of a frame"));
	d = (struct engine_demux)ENGINE_DEMUX_INIT;
	assert_int_equal(engine_demux_feed(&d, s.data, 10, collect, &c, &e), 0);
	assert_int_equal(engine_demux_finish(&d, &e), -1);

	/* the sink's failure stops the feed with its message */
	d = (struct engine_demux)ENGINE_DEMUX_INIT;
	c.calls = 0;
	c.fail_at = 1;
	assert_int_equal(engine_demux_feed(&d, s.data, s.len, collect, &c, &e), -1);
	assert_string_equal(e.msg, "sink refused");
	buf_release(&c.out);
	buf_release(&c.err);
	buf_release(&s);
}

/* ---- JSON progress stream ---- */

static int progress(void *arg, const char *line, struct err *e)
{
	struct buf *b = arg;

	(void)e;
	return buf_addf(b, "%s|", line);
}

/* What docker 20.10 sends for a pull that fails after starting (HTTP 200). */
static const char pull_fail[] =
	"{\"status\":\"Pulling from library/busybox\",\"id\":\"latest\"}\r\n"
	"{\"status\":\"Pulling fs layer\",\"progressDetail\":{},\"id\":\"a1b2c3\"}\r\n"
	"{\"status\":\"Downloading\",\"progressDetail\":{\"current\":100,\"total\":200},"
	"\"progress\":\"[=====>     ]\",\"id\":\"a1b2c3\"}\r\n"
	"{\"errorDetail\":{\"message\":\"unauthorized: authentication required\"},"
	"\"error\":\"unauthorized: authentication required\"}\r\n";

static const char push_ok[] =
	"{\"status\":\"The push refers to repository [127.0.0.1:5000/x]\"}\n"
	"{\"status\":\"Pushed\",\"progressDetail\":{},\"id\":\"d4e5\"}\n"
	"{\"status\":\"latest: digest: sha256:abcd size: 527\"}\n"
	"{\"progressDetail\":{},\"aux\":{\"Tag\":\"latest\",\"Digest\":\"sha256:abcd\",\"Size\":527}}\n";

static void test_jsonstream_every_split(void **state)
{
	size_t cut, n = strlen(pull_fail);

	(void)state;
	for (cut = 0; cut <= n; cut++) {
		struct buf lines = BUF_INIT(4096);
		struct engine_jsonstream js;
		struct err e = ERR_INIT;

		engine_jsonstream_init(&js, progress, &lines);
		assert_int_equal(engine_jsonstream_feed(&js, pull_fail, cut, &e), 0);
		assert_int_equal(engine_jsonstream_feed(&js, pull_fail + cut, n - cut, &e), 0);
		assert_int_equal(engine_jsonstream_finish(&js, &e), -1);
		assert_string_equal(e.msg, "unauthorized: authentication required");
		assert_string_equal(js.error, "unauthorized: authentication required");
		assert_int_equal(js.messages, 4);
		/* the progress bar update is not reported */
		assert_string_equal(lines.data, "latest: Pulling from library/busybox|a1b2c3: Pulling fs layer|");
		engine_jsonstream_release(&js);
		buf_release(&lines);
	}
}

static void test_jsonstream_byte_by_byte_push(void **state)
{
	struct buf lines = BUF_INIT(4096);
	struct engine_jsonstream js;
	struct err e = ERR_INIT;
	size_t i;

	(void)state;
	engine_jsonstream_init(&js, progress, &lines);
	for (i = 0; push_ok[i]; i++)
		assert_int_equal(engine_jsonstream_feed(&js, push_ok + i, 1, &e), 0);
	assert_int_equal(engine_jsonstream_finish(&js, &e), 0);
	assert_null(js.error);
	assert_string_equal(js.digest, "sha256:abcd");
	assert_int_equal(js.messages, 4);
	assert_non_null(strstr(lines.data, "d4e5: Pushed|"));
	engine_jsonstream_release(&js);
	buf_release(&lines);
}

static void test_jsonstream_podman_digest(void **state)
{
	static const char podman_push[] =
		"{\"status\":\"The push refers to repository [127.0.0.1:5000/x:v1]\"}\n"
		"{\"status\":\"v1: digest: sha256:ba1a size: 427\"}\n";
	struct engine_jsonstream js;
	struct err e = ERR_INIT;

	(void)state;
	engine_jsonstream_init(&js, NULL, NULL);
	assert_int_equal(engine_jsonstream_feed(&js, podman_push, strlen(podman_push), &e), 0);
	assert_int_equal(engine_jsonstream_finish(&js, &e), 0);
	assert_string_equal(js.digest, "sha256:ba1a");
	engine_jsonstream_release(&js);
}

static void test_jsonstream_shapes(void **state)
{
	struct engine_jsonstream js;
	struct err e = ERR_INIT;
	static const char no_newlines[] = "{\"status\":\"a\"}{\"status\":\"b\"}";
	static const char error_only[] = "{\"error\":\"manifest unknown\"}\n";

	(void)state;
	/* objects without separators are still understood (at the end) */
	engine_jsonstream_init(&js, NULL, NULL);
	assert_int_equal(engine_jsonstream_feed(&js, no_newlines, strlen(no_newlines), &e), 0);
	assert_int_equal(engine_jsonstream_finish(&js, &e), 0);
	assert_int_equal(js.messages, 2);
	engine_jsonstream_release(&js);

	/* "error" without errorDetail (podman) */
	engine_jsonstream_init(&js, NULL, NULL);
	assert_int_equal(engine_jsonstream_feed(&js, error_only, strlen(error_only), &e), 0);
	assert_int_equal(engine_jsonstream_finish(&js, &e), -1);
	assert_string_equal(e.msg, "manifest unknown");
	engine_jsonstream_release(&js);

	/* garbage is an error of the feed */
	engine_jsonstream_init(&js, NULL, NULL);
	assert_int_equal(engine_jsonstream_feed(&js, "{\"status\":}\n", 12, &e), -1);
	assert_non_null(strstr(e.msg, "malformed JSON"));
	engine_jsonstream_release(&js);

	/* a stream cut in the middle of a message */
	engine_jsonstream_init(&js, NULL, NULL);
	assert_int_equal(engine_jsonstream_feed(&js, "{\"status\":\"a\"}\n{\"sta", 20, &e), 0);
	assert_int_equal(engine_jsonstream_finish(&js, &e), -1);
	engine_jsonstream_release(&js);

	/* a JSON value that is not an object */
	engine_jsonstream_init(&js, NULL, NULL);
	assert_int_equal(engine_jsonstream_feed(&js, "[1]\n", 4, &e), -1);
	engine_jsonstream_release(&js);
}

static int refuse(void *arg, const char *line, struct err *e)
{
	(void)arg;
	return err_set(e, "progress sink refused '%s'", line);
}

static void test_jsonstream_callback_abort(void **state)
{
	struct engine_jsonstream js;
	struct err e = ERR_INIT;

	(void)state;
	engine_jsonstream_init(&js, refuse, NULL);
	assert_int_equal(engine_jsonstream_feed(&js, push_ok, strlen(push_ok), &e), -1);
	assert_non_null(strstr(e.msg, "progress sink refused"));
	engine_jsonstream_release(&js);
}

/* ---- references and auth ---- */

static void test_ref_split(void **state)
{
	static const struct { const char *ref, *name, *tag; } t[] = {
		{ "busybox", "busybox", "latest" },
		{ "busybox:1.36", "busybox", "1.36" },
		{ "127.0.0.1:5000/acme/web", "127.0.0.1:5000/acme/web", "latest" },
		{ "127.0.0.1:5000/acme/web:main", "127.0.0.1:5000/acme/web", "main" },
		{ "reg.example.com/a/b:v1.2", "reg.example.com/a/b", "v1.2" },
		{ "a@sha256:0123", "a@sha256:0123", NULL },
	};
	static const char *bad[] = { "", "a b", "a:", ":x", "a?x=1", "a#b", "a\n" };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char *n = NULL, *g = NULL;
		struct err e = ERR_INIT;

		assert_int_equal(engine_ref_split(t[i].ref, &n, &g, &e), 0);
		assert_string_equal(n, t[i].name);
		if (t[i].tag)
			assert_string_equal(g, t[i].tag);
		else
			assert_null(g);
		free(n);
		free(g);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *n = NULL, *g = NULL;
		struct err e = ERR_INIT;

		assert_int_equal(engine_ref_split(bad[i], &n, &g, &e), -1);
	}
}

static void test_ref_registry(void **state)
{
	static const struct { const char *ref, *reg; } t[] = {
		{ "busybox", "docker.io" },
		{ "library/busybox:1", "docker.io" },
		{ "acme/web", "docker.io" },
		{ "127.0.0.1:5000/acme/web:main", "127.0.0.1:5000" },
		{ "localhost/x", "localhost" },
		{ "quay.io/a/b", "quay.io" },
	};
	char out[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		engine_ref_registry(t[i].ref, out, sizeof(out));
		assert_string_equal(out, t[i].reg);
	}
}

/* base64url decode for checking the header */
static char *b64url_decode(const char *s)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	char *out = calloc(1, strlen(s) + 1);
	unsigned acc = 0;
	int bits = 0;
	size_t o = 0;

	for (; *s && *s != '='; s++) {
		const char *p = strchr(a, *s);

		assert_non_null(p);
		acc = (acc << 6) | (unsigned)(p - a);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (char)((acc >> bits) & 0xff);
		}
	}
	return out;
}

static void test_auth_header(void **state)
{
	/* "auth" is base64("user:p@ss?>>") -- chosen so the url alphabet matters */
	json_t *cfg = json_loads(
		"{\"auths\":{"
		"\"https://index.docker.io/v1/\":{\"auth\":\"aHViOmh1YnBhc3M=\"},"
		"\"127.0.0.1:5000\":{\"auth\":\"dXNlcjpwQHNzPz4+\"},"
		"\"http://reg.example.com/v2/\":{\"username\":\"u2\",\"password\":\"p2\"},"
		"\"broken.example.com\":{\"auth\":\"bm9jb2xvbg==\"}}}", 0, NULL);
	char *h = NULL, *dec;
	json_t *j;
	struct err e = ERR_INIT;

	(void)state;
	assert_non_null(cfg);
	assert_int_equal(engine_auth_header(cfg, "127.0.0.1:5000", &h, &e), 0);
	assert_non_null(h);
	assert_null(strpbrk(h, "+/"));
	dec = b64url_decode(h);
	j = json_loads(dec, 0, NULL);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "username")), "user");
	assert_string_equal(json_string_value(json_object_get(j, "password")), "p@ss?>>");
	assert_string_equal(json_string_value(json_object_get(j, "serveraddress")), "127.0.0.1:5000");
	json_decref(j);
	free(dec);
	free(h);

	assert_int_equal(engine_auth_header(cfg, "reg.example.com", &h, &e), 0);
	dec = b64url_decode(h);
	j = json_loads(dec, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(j, "username")), "u2");
	assert_string_equal(json_string_value(json_object_get(j, "password")), "p2");
	json_decref(j);
	free(dec);
	free(h);

	assert_int_equal(engine_auth_header(cfg, "docker.io", &h, &e), 0);
	dec = b64url_decode(h);
	assert_non_null(strstr(dec, "\"hub\""));
	free(dec);
	free(h);

	assert_int_equal(engine_auth_header(cfg, "other.example.com", &h, &e), 0);
	assert_null(h);
	assert_int_equal(engine_auth_header(cfg, "broken.example.com", &h, &e), -1);
	assert_non_null(strstr(e.msg, "user:password"));
	json_decref(cfg);
}

/* Writes an executable helper script name into dir. */
static void write_helper(const char *dir, const char *name, const char *body)
{
	char *path = xasprintf("%s/docker-credential-%s", dir, name);
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fprintf(f, "#!/bin/sh\n%s", body);
	fclose(f);
	assert_int_equal(chmod(path, 0700), 0);
	free(path);
}

static json_t *auth_of(json_t *cfg, const char *registry, int want_rc, struct err *e)
{
	char *h = NULL, *dec;
	json_t *j;

	assert_int_equal(engine_auth_header(cfg, registry, &h, e), want_rc);
	if (!h)
		return NULL;
	dec = b64url_decode(h);
	j = json_loads(dec, 0, NULL);
	assert_non_null(j);
	free(dec);
	free(h);
	return j;
}

/* credHelpers and credsStore run docker-credential-NAME get (helpers written for the
 * test, on PATH): the server on stdin, the answer's Username/Secret in the header;
 * "<token>" is an identity token; "credentials not found" is no credentials; a
 * failing, babbling or hanging helper is an error that never quotes its output. */
static void test_auth_helpers(void **state)
{
	char dir[] = "/tmp/s2i-agent-cred.XXXXXX", *path, *old_path;
	json_t *cfg, *j;
	struct err e = ERR_INIT;
	time_t t0;

	(void)state;
	assert_non_null(mkdtemp(dir));
	/* the server arrives on stdin without a newline */
	write_helper(dir, "store",
		     "[ \"$1\" = get ] || exit 9\nsrv=$(cat)\n"
		     "case $srv in\n"
		     "127.0.0.1:5000) echo '{\"ServerURL\":\"127.0.0.1:5000\",\"Username\":\"store-user\",\"Secret\":\"store-pass\"}' ;;\n"
		     "https://index.docker.io/v1/) echo '{\"ServerURL\":\"x\",\"Username\":\"hub-user\",\"Secret\":\"hub-pass\"}' ;;\n"
		     "*) echo 'credentials not found in native keychain'; exit 1 ;;\n"
		     "esac\n");
	write_helper(dir, "tok",
		     "read -r srv || true\n"
		     "echo '{\"ServerURL\":\"'\"$srv\"'\",\"Username\":\"<token>\",\"Secret\":\"id-token-1\"}'\n");
	write_helper(dir, "broken", "cat >/dev/null\necho 'HELPER-SECRET-OUTPUT'\necho 'HELPER-STDERR' >&2\nexit 3\n");
	write_helper(dir, "nojson", "cat >/dev/null\necho '{\"Username\":\"u\"}'\n");
	write_helper(dir, "slow", "exec sleep 30\n");
	old_path = xstrdup(getenv("PATH"));
	path = xasprintf("%s:%s", dir, old_path);
	setenv("PATH", path, 1);

	cfg = json_loads("{\"auths\":{\"127.0.0.1:5000\":{},\"ghcr.io\":{\"auth\":\"dTpw\"}},"
			 "\"credsStore\":\"store\","
			 "\"credHelpers\":{\"tok.example.com\":\"tok\",\"https://bad.example.com\":\"broken\","
			 "\"nojson.example.com\":\"nojson\",\"slow.example.com\":\"slow\","
			 "\"evil.example.com\":\"../../bin/x\",\"gone.example.com\":\"not-installed\"}}",
			 0, NULL);
	assert_non_null(cfg);
	j = auth_of(cfg, "127.0.0.1:5000", 0, &e);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "username")), "store-user");
	assert_string_equal(json_string_value(json_object_get(j, "password")), "store-pass");
	assert_string_equal(json_string_value(json_object_get(j, "serveraddress")), "127.0.0.1:5000");
	json_decref(j);
	j = auth_of(cfg, "docker.io", 0, &e);
	assert_string_equal(json_string_value(json_object_get(j, "username")), "hub-user");
	json_decref(j);
	/* the store has nothing for it: anonymous, and the file's entry is not used */
	assert_null(auth_of(cfg, "ghcr.io", 0, &e));
	j = auth_of(cfg, "tok.example.com", 0, &e);
	assert_string_equal(json_string_value(json_object_get(j, "identitytoken")), "id-token-1");
	assert_null(json_object_get(j, "username"));
	json_decref(j);
	assert_null(auth_of(cfg, "bad.example.com", -1, &e));
	assert_non_null(strstr(e.msg, "docker-credential-broken"));
	assert_non_null(strstr(e.msg, "exit 3"));
	assert_null(strstr(e.msg, "HELPER-"));
	assert_null(auth_of(cfg, "nojson.example.com", -1, &e));
	assert_non_null(strstr(e.msg, "without Username and Secret"));
	assert_null(auth_of(cfg, "evil.example.com", -1, &e));
	assert_non_null(strstr(e.msg, "not a plain name"));
	assert_null(auth_of(cfg, "gone.example.com", -1, &e));
	assert_non_null(strstr(e.msg, "docker-credential-not-installed"));
	t0 = time(NULL);
	assert_null(auth_of(cfg, "slow.example.com", -1, &e));
	assert_non_null(strstr(e.msg, "did not answer within"));
	assert_true(time(NULL) - t0 <= ENGINE_CRED_TIMEOUT + 3);
	json_decref(cfg);

	setenv("PATH", old_path, 1);
	free(old_path);
	free(path);
	{
		const char *rm[] = { "rm", "-rf", dir, NULL };

		assert_int_equal(child_run(rm, &e), 0);
	}
}

static void test_engine_new_urls(void **state)
{
	static const char *good[] = { "unix:///var/run/docker.sock", "/run/podman.sock", "tcp://127.0.0.1:2375",
				      "https://127.0.0.1:2376", "http://[::1]:2375" };
	static const char *bad[] = { "unix://relative.sock", "ftp://x", "tcp://", "docker.sock" };
	struct err e = ERR_INIT;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct engine *eng = engine_new(good[i], NULL, &e);

		assert_non_null(eng);
		engine_free(eng);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_null(engine_new(bad[i], NULL, &e));
		assert_non_null(strstr(e.msg, "engine URL"));
	}
	engine_free(NULL);
}

/* ---- API version negotiation ---- */

/* What Docker 20.10, 25, 28 and 29, Podman 4 and 5 report, and engines outside our
 * range on either side: the version spoken, or "" and the words of the refusal. */
static void test_api_pick(void **state)
{
	static const struct {
		const char *api, *min, *want, *msg;
	} cases[] = {
		{ "1.41", "1.12", "1.41", NULL },		/* Docker 20.10 */
		{ "1.44", "1.24", "1.44", NULL },		/* Docker 25 */
		{ "1.51", "1.24", "1.51", NULL },		/* Docker 28.5 */
		{ "1.51", "1.44", "1.51", NULL },		/* Docker 28.5, DOCKER_MIN_API_VERSION=1.44 */
		{ "1.52", "1.44", "1.51", NULL },		/* Docker 29: we speak our newest */
		{ "1.41", "", "1.41", NULL },			/* Podman 4.3: no MinAPIVersion */
		{ "1.41", NULL, "1.41", NULL },
		{ "1.9", "1.9", NULL, "speaks API 1.9 to 1.9, s2i-agent speaks 1.24 to 1.51: no version in common "
				     "(upgrade the engine)" },
		{ "1.23", "", NULL, "speaks API ? to 1.23, s2i-agent speaks 1.24 to 1.51" },
		{ "1.60", "1.52", NULL, "speaks API 1.52 to 1.60, s2i-agent speaks 1.24 to 1.51: no version in "
				       "common (upgrade s2i-agent)" },
		{ "1.60", "1.51", "1.51", NULL },		/* the floor is exactly our newest */
		{ "2.0", "1.50", "1.51", NULL },		/* a major above ours: our newest */
		{ "1.100", "1.24", "1.51", NULL },		/* minors compare as numbers */
		{ "", "", NULL, "no valid API version" },
		{ "one.two", "", NULL, "no valid API version ('one.two')" },
		{ "1.", "", NULL, "no valid API version" },
		{ "1.51", "1.x", NULL, "invalid minimum API version '1.x'" },
	};
	char out[16];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct err e = ERR_INIT;
		int rc = engine_api_pick(cases[i].api, cases[i].min, out, sizeof(out), &e);

		if (cases[i].want) {
			assert_int_equal(rc, 0);
			assert_string_equal(out, cases[i].want);
		} else {
			assert_int_equal(rc, -1);
			if (!strstr(e.msg, cases[i].msg))
				fail_msg("case %zu: '%s' lacks '%s'", i, e.msg, cases[i].msg);
		}
	}
	assert_int_equal(engine_api_pick(NULL, NULL, out, sizeof(out), &(struct err)ERR_INIT), -1);
}

/* ---- container label filters ---- */

static void test_label_filter(void **state)
{
	const char *one[] = { "io.s2i-agent.build", NULL };
	const char *both[] = { "io.s2i-agent.build=1", "io.s2i-agent.owner=0123abcd", NULL };
	const char *quote[] = { "k=a\"b", NULL };
	char *f;

	(void)state;
	f = engine_label_filter(one);
	assert_string_equal(f, "{\"label\":[\"io.s2i-agent.build\"]}");
	free(f);
	/* several labels in one "label" array: the engine ANDs them */
	f = engine_label_filter(both);
	assert_string_equal(f, "{\"label\":[\"io.s2i-agent.build=1\",\"io.s2i-agent.owner=0123abcd\"]}");
	free(f);
	f = engine_label_filter(quote);
	assert_string_equal(f, "{\"label\":[\"k=a\\\"b\"]}");
	free(f);
}

/* The data root the daemon measures for min_free_space, from /info answers. */
static void test_api_root_dir(void **state)
{
	static const struct {
		const char *body, *dir, *err;
	} cases[] = {
		{ "{\"ID\":\"x\",\"DockerRootDir\":\"/var/lib/docker\",\"Driver\":\"overlay2\"}",
		  "/var/lib/docker", NULL },
		{ "{\"DockerRootDir\":\"/home/u/.local/share/docker\"}", "/home/u/.local/share/docker", NULL },
		{ "{\"Driver\":\"overlay2\"}", NULL, "names no data root" },
		{ "{\"DockerRootDir\":\"relative\"}", NULL, "names no data root" },
		{ "{\"DockerRootDir\":7}", NULL, "names no data root" },
		{ "not json", NULL, "is not JSON" },
	};
	char out[64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct err e = ERR_INIT;
		int rc = engine_api_root_dir(cases[i].body, strlen(cases[i].body), out, sizeof(out), &e);

		if (cases[i].dir) {
			assert_int_equal(rc, 0);
			assert_string_equal(out, cases[i].dir);
		} else {
			assert_int_equal(rc, -1);
			assert_non_null(strstr(e.msg, cases[i].err));
		}
	}
	{
		struct err e = ERR_INIT;
		const char *b = "{\"DockerRootDir\":\"/var/lib/docker\"}";

		assert_int_equal(engine_api_root_dir(b, strlen(b), out, 8, &e), -1);
		assert_non_null(strstr(e.msg, "too long"));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_demux_every_split),
		cmocka_unit_test(test_demux_byte_by_byte),
		cmocka_unit_test(test_demux_errors),
		cmocka_unit_test(test_jsonstream_every_split),
		cmocka_unit_test(test_jsonstream_byte_by_byte_push),
		cmocka_unit_test(test_jsonstream_shapes),
		cmocka_unit_test(test_jsonstream_podman_digest),
		cmocka_unit_test(test_jsonstream_callback_abort),
		cmocka_unit_test(test_ref_split),
		cmocka_unit_test(test_ref_registry),
		cmocka_unit_test(test_auth_header),
		cmocka_unit_test(test_auth_helpers),
		cmocka_unit_test(test_engine_new_urls),
		cmocka_unit_test(test_label_filter),
		cmocka_unit_test(test_api_pick),
		cmocka_unit_test(test_api_root_dir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
