/* Unit tests for jprune: what is kept and dropped, and that every malformed
 * document is refused (the validation jansson would otherwise have done). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>

#include "jprune.h"

static const char *const keep[] = { "ref", "after", "repository", "full_name", "commits",
				    "id", "message", NULL };

static void test_prune(void **state)
{
	static const struct { const char *in, *out; } t[] = {
		{ "{}", "{}" },
		{ " [ ] ", "[]" },
		{ "{\"ref\": \"refs/heads/main\", \"zen\": \"x\"}", "{\"ref\":\"refs/heads/main\"}" },
		{ "{\"zen\": {\"ref\": 1}, \"after\": null}", "{\"after\":null}" },
		{ "{\"a\":1,\"b\":2}", "{}" },
		{ "{\"repository\": {\"full_name\": \"a/b\", \"owner\": {\"x\": 1}, \"size\": 12}}",
		  "{\"repository\":{\"full_name\":\"a/b\"}}" },
		{ "{\"commits\": [{\"id\": \"1\", \"url\": \"u\"}, {\"message\": \"m\\n\\u00e9\"}, 3, true]}",
		  "{\"commits\":[{\"id\":\"1\"},{\"message\":\"m\\n\\u00e9\"},3,true]}" },
		{ "{\"r\\u0065f\": 1, \"ref\": -1.5e+3}", "{\"ref\":-1.5e+3}" },
		{ "{\"ref\": \"a\", \"ref\": \"b\"}", "{\"ref\":\"a\",\"ref\":\"b\"}" },
		{ "\"just a string\"", "\"just a string\"" },
		{ "0", "0" },
		/* strings longer than one 16-byte step, escapes and quotes past it */
		{ "{\"ref\": \"0123456789abcdef0123456789\\\"x\\\\0123456789abcdef\"}",
		  "{\"ref\":\"0123456789abcdef0123456789\\\"x\\\\0123456789abcdef\"}" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct buf out = BUF_INIT(strlen(t[i].in) + 1);
		struct err e = ERR_INIT;

		if (jprune(t[i].in, strlen(t[i].in), keep, &out, &e) < 0)
			fail_msg("%s: %s", t[i].in, e.msg);
		assert_string_equal(out.data, t[i].out);
		assert_true(out.len <= strlen(t[i].in));
		buf_release(&out);
	}
}

static void test_invalid(void **state)
{
	static const char *const bad[] = {
		"", " ", "{", "}", "[1,]", "[,1]", "{\"a\" 1}", "{\"a\":}", "{\"a\":1,}", "{,}",
		"{a:1}", "'x'", "\"abc", "\"a\\x\"", "\"\\u12g4\"", "\"tab\there\"", "01", "-", "1.",
		"1e", ".5", "+1", "tru", "nul", "True", "{} {}", "[1] x", "{\"a\":[1,2}", "[\"a\":1]",
		"{\"ref\": \"ok\", \"zen\": [1, 2,]}",	/* an error inside a dropped member */
		"\"0123456789abcdef0123\001456789\"",		/* a control character past 16 bytes */
		"\"0123456789abcdef0123456789abcdef",		/* unterminated, long */
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct buf out = BUF_INIT(strlen(bad[i]) + 1);
		struct err e = ERR_INIT;

		if (jprune(bad[i], strlen(bad[i]), keep, &out, &e) == 0)
			fail_msg("accepted: '%s'", bad[i]);
		assert_non_null(strstr(e.msg, "at byte"));
		buf_release(&out);
	}
}

static void test_depth(void **state)
{
	struct buf doc = BUF_INIT(1 << 20), out = BUF_INIT(1 << 20);
	struct err e = ERR_INIT;
	int i;

	(void)state;
	for (i = 0; i < JPRUNE_DEPTH_MAX; i++)
		buf_addch(&doc, '[');
	for (i = 0; i < JPRUNE_DEPTH_MAX; i++)
		buf_addch(&doc, ']');
	assert_int_equal(jprune(doc.data, doc.len, keep, &out, &e), 0);
	buf_reset(&doc);
	buf_reset(&out);
	for (i = 0; i < 100000; i++)
		buf_addch(&doc, '[');
	assert_int_equal(jprune(doc.data, doc.len, keep, &out, &e), -1);
	assert_non_null(strstr(e.msg, "nesting"));
	buf_release(&doc);
	buf_release(&out);
}

/* The pruned real payloads parse to the same kept values. */
static void test_fixtures(void **state)
{
	static const char *const files[] = {
		"github-push.json", "gitlab-push-hook.json", "gitea-push.json",
		"github-push-force.json",
	};
	char path[4096];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		struct buf out = BUF_INIT(1 << 20);
		struct err e = ERR_INIT;
		json_error_t je;
		json_t *full, *pruned;
		char *data;
		long n;
		FILE *f;

		snprintf(path, sizeof(path), "%s/fixtures/webhooks/%s",
			 getenv("TESTS_DIR") ? getenv("TESTS_DIR") : "tests", files[i]);
		f = fopen(path, "rb");
		assert_non_null(f);
		fseek(f, 0, SEEK_END);
		n = ftell(f);
		rewind(f);
		data = malloc((size_t)n);
		assert_int_equal(fread(data, 1, (size_t)n, f), (size_t)n);
		fclose(f);
		assert_int_equal(jprune(data, (size_t)n, keep, &out, &e), 0);
		assert_true(out.len < (size_t)n / 2);
		full = json_loadb(data, (size_t)n, 0, &je);
		pruned = json_loadb(out.data, out.len, 0, &je);
		assert_non_null(full);
		assert_non_null(pruned);
		assert_true(json_equal(json_object_get(full, "ref"), json_object_get(pruned, "ref")));
		assert_true(json_equal(json_object_get(full, "after"), json_object_get(pruned, "after")));
		assert_null(json_object_get(pruned, "before"));
		json_decref(full);
		json_decref(pruned);
		free(data);
		buf_release(&out);
	}
}

/* Reading the output in place: members, repeated keys, arrays, and values
 * whose strings hold quotes, brackets and commas. */
static void test_read(void **state)
{
	static const char in[] =
		"{\"ref\": \"a\", \"repository\": {\"id\": 7, \"full_name\": \"x]}\\\"{,\"},"
		" \"commits\": [{\"id\": \"c1\"}, [1, [2]], \"s,]\", -3e2, {\"message\": null}],"
		" \"ref\": \"b\", \"after\": true}";
	struct buf out = BUF_INIT(sizeof(in));
	struct err e = ERR_INIT;
	const char *end, *v, *c;

	(void)state;
	assert_int_equal(jprune(in, strlen(in), keep, &out, &e), 0);
	end = out.data + out.len;
	/* the last of a repeated key, as JSON libraries read it */
	v = jprune_get(out.data, end, "ref");
	assert_non_null(v);
	assert_int_equal(jprune_skip(v, end) - v, 3);
	assert_memory_equal(v, "\"b\"", 3);
	v = jprune_get(out.data, end, "after");
	assert_memory_equal(v, "true", 4);
	assert_ptr_equal(jprune_skip(v, end), end - 1);
	v = jprune_get(jprune_get(out.data, end, "repository"), end, "full_name");
	assert_memory_equal(v, "\"x]}\\\"{,\"", 9);
	assert_int_equal(jprune_skip(v, end) - v, 9);
	assert_null(jprune_get(out.data, end, "zen"));
	assert_null(jprune_get(out.data, end, "re"));
	c = jprune_get(out.data, end, "commits");
	assert_int_equal(jprune_count(c, end), 5);
	assert_memory_equal(jprune_get(jprune_at(c, end, 0), end, "id"), "\"c1\"", 4);
	v = jprune_at(c, end, 1);
	assert_int_equal(jprune_count(v, end), 2);
	assert_int_equal(jprune_count(jprune_at(v, end, 1), end), 1);
	assert_memory_equal(jprune_at(c, end, 2), "\"s,]\"", 5);
	v = jprune_at(c, end, 3);
	assert_int_equal(jprune_skip(v, end) - v, 4);
	assert_memory_equal(jprune_get(jprune_at(c, end, 4), end, "message"), "null", 4);
	assert_null(jprune_at(c, end, 5));
	/* not an object / not an array */
	assert_null(jprune_get(c, end, "id"));
	assert_null(jprune_at(out.data, end, 0));
	assert_int_equal(jprune_count(out.data, end), 0);
	assert_null(jprune_get(NULL, end, "ref"));
	buf_release(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prune),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_fixtures),
		cmocka_unit_test(test_read),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
