/* Unit tests for s2iparse: environment files, uid ranges, metadata labels, passwd
 * lookups, mappings and scripts URLs, table-driven where the cases are many. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "s2i.h"
#include "limits.h"
#include "s2iparse.h"

static void test_env(void **state)
{
	const char *text =
		"# comment\n"
		"A=1\n"
		"  B = two words  \r\n"
		"\n"
		"NOEQUALS\n"
		"=novalue\n"
		"C=x=y\n"
		"   # indented comment\n"
		"// not a comment here=1\n"
		"A=again\n"
		"D=";
	struct strv v = STRV_INIT;

	(void)state;
	/* the source's .s2i/environment: every line in order */
	s2iparse_env(text, strlen(text), S2IPARSE_ENV_SOURCE, &v);
	assert_int_equal(v.n, 6);
	assert_string_equal(v.items[0], "A=1");
	assert_string_equal(v.items[1], "B=two words");
	assert_string_equal(v.items[2], "C=x=y");
	assert_string_equal(v.items[3], "// not a comment here=1");
	assert_string_equal(v.items[4], "A=again");
	assert_string_equal(v.items[5], "D=");
	strv_clear(&v);

	/* a -E file: '//' comments, one entry per name with the last value, in place */
	strv_push(&v, "A=from-before");
	s2iparse_env(text, strlen(text), S2IPARSE_ENV_FILE, &v);
	assert_int_equal(v.n, 5);
	assert_string_equal(v.items[0], "A=from-before");
	assert_string_equal(v.items[1], "A=again");
	assert_string_equal(v.items[2], "B=two words");
	assert_string_equal(v.items[3], "C=x=y");
	assert_string_equal(v.items[4], "D=");
	strv_clear(&v);
}

static void test_image_name(void **state)
{
	static const struct { const char *in, *want; } cases[] = {
		{ "python", "docker.io/library/python:latest" },
		{ "python:3.12", "docker.io/library/python:3.12" },
		{ "acme/web", "docker.io/acme/web:latest" },
		{ "s2i-agent-test/x-1-builder.base", "docker.io/s2i-agent-test/x-1-builder.base:latest" },
		{ "index.docker.io/acme/web:1", "docker.io/acme/web:1" },
		{ "registry.example.com/s2i/python:3.12", "registry.example.com/s2i/python:3.12" },
		{ "localhost:5000/app", "localhost:5000/app:latest" },
		{ "localhost/app", "localhost/app:latest" },
		{ "quay.io/a/b@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		  "quay.io/a/b@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" },
		{ "b@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		  "docker.io/library/b@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" },
		/* not references: kept as given */
		{ "b:1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		  "b:1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" },
		{ "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		  "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" },
		{ "Upper/Case", "Upper/Case" },
		{ "a//b", "a//b" },
		{ "a/", "a/" },
		{ "a:", "a:" },
		{ "a..b", "a..b" },
		{ "", "" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = s2iparse_image_name(cases[i].in);

		assert_string_equal(got, cases[i].want);
		free(got);
	}
}

static void test_env_check(void **state)
{
	struct err e = ERR_INIT;

	(void)state;
	assert_int_equal(s2iparse_env_check("A=1", &e), 0);
	assert_int_equal(s2iparse_env_check("A=", &e), 0);
	assert_int_equal(s2iparse_env_check("=1", &e), -1);
	assert_int_equal(s2iparse_env_check("A", &e), -1);
	assert_non_null(strstr(e.msg, "NAME=VALUE"));
}

static const struct {
	const char *spec, *user;
	int ok;		/* -2: the spec itself is invalid */
} uid_cases[] = {
	{ "1-", "1001", 0 },
	{ "1-", "0", -1 },
	{ "1-", "", -1 },		/* no USER: root */
	{ "1-", "app", -1 },		/* names are refused */
	{ "1-", "1001:0", 0 },
	{ "1-", "app:0", -1 },
	{ "1000-2000,3000", "1500", 0 },
	{ "1000-2000,3000", "3000", 0 },
	{ "1000-2000,3000", "2500", -1 },
	{ "1000-2000,3000", "999", -1 },
	{ "-100", "0", 0 },
	{ "-100", "101", -1 },
	{ "5", "5", 0 },
	{ "", "1", -2 },
	{ "a-b", "1", -2 },
	{ "10-5", "7", -2 },
	{ "1,", "1", -2 },
	{ "-", "1", -2 },
	{ "99999999999", "1", -2 },
};

static void test_uids(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(uid_cases) / sizeof(uid_cases[0]); i++) {
		struct s2iparse_uidrange *r = NULL;
		struct err e = ERR_INIT;
		size_t n = 0;
		int rc = s2iparse_uids(uid_cases[i].spec, &r, &n, &e);

		if (uid_cases[i].ok == -2) {
			assert_int_equal(rc, -1);
			continue;
		}
		assert_int_equal(rc, 0);
		rc = s2iparse_user_allowed(r, n, uid_cases[i].user, "image user", &e);
		if (rc != uid_cases[i].ok)
			fail_msg("case %zu: %s / '%s' gave %d (%s)", i, uid_cases[i].spec, uid_cases[i].user,
				 rc, e.msg);
		free(r);
	}
}

static void test_metadata(void **state)
{
	const char *ok = "{\"labels\": [{\"a\": \"1\"}, {\"b.c\": \"two\", \"d\": \"\"}]}";
	struct strv v = STRV_INIT;
	struct err e = ERR_INIT;

	(void)state;
	assert_int_equal(s2iparse_metadata_labels(ok, strlen(ok), &v, &e), 0);
	assert_int_equal(v.n, 3);
	assert_string_equal(v.items[0], "a=1");
	assert_string_equal(v.items[1], "b.c=two");
	assert_string_equal(v.items[2], "d=");
	strv_clear(&v);
	assert_int_equal(s2iparse_metadata_labels("{}", 2, &v, &e), 0);
	assert_int_equal(v.n, 0);
	assert_int_equal(s2iparse_metadata_labels("{\"labels\": {}}", 14, &v, &e), -1);
	assert_int_equal(s2iparse_metadata_labels("{\"labels\": [{\"a\": 1}]}", 22, &v, &e), -1);
	assert_int_equal(s2iparse_metadata_labels("[1", 2, &v, &e), -1);
	assert_int_equal(s2iparse_metadata_labels("{\"labels\": [{\"a=b\": \"1\"}]}", 26, &v, &e), -1);
	strv_clear(&v);
}

static void test_user_ids(void **state)
{
	const char *passwd = "root:x:0:0:root:/root:/bin/sh\napp:x:1001:0:app:/opt:/bin/sh\nweb:x:33:44::/:\n";
	const char *group = "root:x:0:\nwww:x:44:\n";
	struct err e = ERR_INIT;
	long uid, gid;

	(void)state;
	assert_int_equal(s2iparse_user_ids("app", passwd, NULL, &uid, &gid, &e), 0);
	assert_int_equal(uid, 1001);
	assert_int_equal(gid, 0);
	assert_int_equal(s2iparse_user_ids("web", passwd, NULL, &uid, &gid, &e), 0);
	assert_int_equal(uid, 33);
	assert_int_equal(gid, 44);
	assert_int_equal(s2iparse_user_ids("1001", NULL, NULL, &uid, &gid, &e), 0);
	assert_int_equal(uid, 1001);
	assert_int_equal(gid, 0);
	assert_int_equal(s2iparse_user_ids("33", passwd, NULL, &uid, &gid, &e), 0);
	assert_int_equal(gid, 44);
	assert_int_equal(s2iparse_user_ids("1001:7", NULL, NULL, &uid, &gid, &e), 0);
	assert_int_equal(gid, 7);
	assert_int_equal(s2iparse_user_ids("app:www", passwd, group, &uid, &gid, &e), 0);
	assert_int_equal(uid, 1001);
	assert_int_equal(gid, 44);
	assert_int_equal(s2iparse_user_ids("", NULL, NULL, &uid, &gid, &e), 0);
	assert_int_equal(uid, 0);
	assert_int_equal(s2iparse_user_ids("nobody", passwd, NULL, &uid, &gid, &e), -1);
	assert_non_null(strstr(e.msg, "nobody"));
	assert_int_equal(s2iparse_user_ids("app:nogroup", passwd, group, &uid, &gid, &e), -1);
	assert_int_equal(s2iparse_user_ids("app", NULL, NULL, &uid, &gid, &e), -1);
}

static void test_mappings(void **state)
{
	struct strv v = STRV_INIT;
	struct err e = ERR_INIT;
	char *s, *d;

	(void)state;
	assert_int_equal(s2iparse_mapping("/a/b:c", &s, &d, &e), 0);
	assert_string_equal(s, "/a/b");
	assert_string_equal(d, "c");
	free(s);
	free(d);
	assert_int_equal(s2iparse_mapping("/nocolon", &s, &d, &e), 0);
	assert_string_equal(s, "/nocolon");
	assert_string_equal(d, ".");
	free(s);
	free(d);
	assert_int_equal(s2iparse_mapping("", &s, &d, &e), -1);
	assert_int_equal(s2iparse_mapping(":x", &s, &d, &e), -1);
	assert_int_equal(s2iparse_mapping("x:", &s, &d, &e), -1);
	assert_int_equal(s2iparse_input_files("/opt/app.bin:.;/opt/lib:lib", &v, &e), 0);
	assert_int_equal(v.n, 2);
	assert_string_equal(v.items[1], "/opt/lib:lib");
	assert_int_equal(s2iparse_input_files("/opt/x:", &v, &e), -1);
	strv_clear(&v);
	assert_int_equal(s2iparse_runtime_artifact_check("/a", ".", &e), 0);
	assert_int_equal(s2iparse_runtime_artifact_check("a", ".", &e), -1);
	assert_int_equal(s2iparse_runtime_artifact_check("/a", "/b", &e), -1);
	assert_int_equal(s2iparse_runtime_artifact_check("/a", "../b", &e), -1);
}

static void test_scripts_url(void **state)
{
	enum s2iparse_url_kind k;
	struct err e = ERR_INIT;
	char *w;

	(void)state;
	assert_int_equal(s2iparse_scripts_url("image:///usr/libexec/s2i/", &k, &w, &e), 0);
	assert_int_equal(k, S2IPARSE_URL_IMAGE);
	assert_string_equal(w, "/usr/libexec/s2i");
	free(w);
	assert_int_equal(s2iparse_scripts_url("file:///tmp/x", &k, &w, &e), 0);
	assert_int_equal(k, S2IPARSE_URL_FILE);
	assert_string_equal(w, "/tmp/x");
	free(w);
	assert_int_equal(s2iparse_scripts_url("http://127.0.0.1:9/s/", &k, &w, &e), 0);
	assert_int_equal(k, S2IPARSE_URL_HTTP);
	assert_string_equal(w, "http://127.0.0.1:9/s");
	free(w);
	assert_int_equal(s2iparse_scripts_url("ftp://x", &k, &w, &e), -1);
	assert_int_equal(s2iparse_scripts_url("image://relative", &k, &w, &e), -1);
}

static void test_secret_name(void **state)
{
	static const struct { const char *name; int ok; } cases[] = {
		{ "token", 1 }, { "npm.rc", 1 }, { "a_b-c", 1 }, { "A9", 1 },
		{ "", 0 }, { ".hidden", 0 }, { "a/b", 0 }, { "a b", 0 }, { "..", 0 }, { "a:b", 0 },
	};
	char longname[S2I_SECRET_NAME_MAX + 2];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (s2iparse_secret_name_ok(cases[i].name, strlen(cases[i].name)) != cases[i].ok)
			fail_msg("'%s': want %d", cases[i].name, cases[i].ok);
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_false(s2iparse_secret_name_ok(longname, strlen(longname)));
	assert_true(s2iparse_secret_name_ok(longname, S2I_SECRET_NAME_MAX));
	/* only the first n characters count: NAME of NAME:PATH */
	assert_true(s2iparse_secret_name_ok("tok:/x", 3));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_env),
		cmocka_unit_test(test_image_name),
		cmocka_unit_test(test_env_check),
		cmocka_unit_test(test_uids),
		cmocka_unit_test(test_metadata),
		cmocka_unit_test(test_user_ids),
		cmocka_unit_test(test_mappings),
		cmocka_unit_test(test_scripts_url),
		cmocka_unit_test(test_secret_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
