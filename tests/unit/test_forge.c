/* Unit tests for forge: the exact status requests per provider and state,
 * repository derivation, descriptions, Retry-After, backoff and answer classes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "forge.h"

#define SHA "0123456789abcdef0123456789abcdef01234567"

/* ---- request building ---- */

struct req_case {
	const char *what;
	enum status_kind kind;
	const char *url;		/* repo url */
	const char *api;		/* status_api */
	const char *srepo;		/* status_repo */
	const char *context;
	const char *payload;		/* payload-derived repo */
	const char *public_url;
	long id;
	const char *ref;
	const char *state;
	const char *desc;
	/* expected */
	const char *want_url;
	const char *want_auth;		/* the auth header line */
	const char *want_body;
	const char *want_repo;
};

static const struct req_case req_cases[] = {
	{ "github default api from https url", STATUS_GITHUB,
	  "https://github.com/acme/web.git", NULL, NULL, NULL, NULL, "https://ci.example.com",
	  7, "refs/heads/main", "queued", NULL,
	  "https://api.github.com/repos/acme/web/statuses/" SHA, "Authorization: Bearer TOK",
	  "{\"state\":\"pending\",\"target_url\":\"https://ci.example.com/builds/7\","
	  "\"description\":\"build #7 queued\",\"context\":\"s2i-agent\"}", "acme/web" },
	{ "github running is pending", STATUS_GITHUB,
	  "git@github.com:acme/web.git", NULL, NULL, "ci/s2i", NULL, "https://ci.example.com/",
	  8, NULL, "running", "building",
	  "https://api.github.com/repos/acme/web/statuses/" SHA, "Authorization: Bearer TOK",
	  "{\"state\":\"pending\",\"target_url\":\"https://ci.example.com/builds/8\","
	  "\"description\":\"building\",\"context\":\"ci/s2i\"}", "acme/web" },
	{ "github succeeded", STATUS_GITHUB,
	  "https://github.com/acme/web", NULL, NULL, NULL, NULL, "http://127.0.0.1:8080",
	  9, NULL, "succeeded", "image built",
	  "https://api.github.com/repos/acme/web/statuses/" SHA, "Authorization: Bearer TOK",
	  "{\"state\":\"success\",\"target_url\":\"http://127.0.0.1:8080/builds/9\","
	  "\"description\":\"image built\",\"context\":\"s2i-agent\"}", "acme/web" },
	{ "github failed is failure", STATUS_GITHUB,
	  "ssh://git@github.com/acme/web.git", NULL, NULL, NULL, NULL, NULL,
	  10, NULL, "failed", "assemble exited 1",
	  "https://api.github.com/repos/acme/web/statuses/" SHA, "Authorization: Bearer TOK",
	  "{\"state\":\"failure\",\"description\":\"assemble exited 1\",\"context\":\"s2i-agent\"}",
	  "acme/web" },
	{ "github errored is error", STATUS_GITHUB,
	  "https://github.com/acme/web.git", NULL, NULL, NULL, NULL, NULL,
	  11, NULL, "errored", NULL,
	  "https://api.github.com/repos/acme/web/statuses/" SHA, "Authorization: Bearer TOK",
	  "{\"state\":\"error\",\"description\":\"build #11 errored\",\"context\":\"s2i-agent\"}",
	  "acme/web" },
	{ "github canceled is error", STATUS_GITHUB,
	  "https://github.com/acme/web.git", NULL, NULL, NULL, NULL, NULL,
	  12, NULL, "canceled", "superseded by build 13",
	  "https://api.github.com/repos/acme/web/statuses/" SHA, "Authorization: Bearer TOK",
	  "{\"state\":\"error\",\"description\":\"superseded by build 13\",\"context\":\"s2i-agent\"}",
	  "acme/web" },
	{ "github enterprise api from host", STATUS_GITHUB,
	  "https://ghe.example.com/acme/web.git", NULL, NULL, NULL, NULL, NULL,
	  1, NULL, "succeeded", "ok",
	  "https://ghe.example.com/api/v3/repos/acme/web/statuses/" SHA, "Authorization: Bearer TOK",
	  "{\"state\":\"success\",\"description\":\"ok\",\"context\":\"s2i-agent\"}", "acme/web" },
	{ "status_repo and status_api win", STATUS_GITHUB,
	  "/srv/git/web.git", "http://127.0.0.1:9999/", "other/repo", NULL, "pay/load", NULL,
	  1, NULL, "succeeded", "ok",
	  "http://127.0.0.1:9999/repos/other/repo/statuses/" SHA, "Authorization: Bearer TOK",
	  "{\"state\":\"success\",\"description\":\"ok\",\"context\":\"s2i-agent\"}", "other/repo" },
	{ "payload repo before url", STATUS_GITHUB,
	  "https://github.com/old/name.git", NULL, NULL, NULL, "new-owner/new.name", NULL,
	  1, NULL, "queued", "q",
	  "https://api.github.com/repos/new-owner/new.name/statuses/" SHA, "Authorization: Bearer TOK",
	  "{\"state\":\"pending\",\"description\":\"q\",\"context\":\"s2i-agent\"}", "new-owner/new.name" },
	{ "gitlab path is encoded, ref short", STATUS_GITLAB,
	  "https://gitlab.example.com/group/sub/proj.git", NULL, NULL, "ci/s2i", NULL,
	  "https://ci.example.com", 5, "refs/heads/main", "running", "building",
	  "https://gitlab.example.com/api/v4/projects/group%2Fsub%2Fproj/statuses/" SHA,
	  "PRIVATE-TOKEN: TOK",
	  "{\"state\":\"running\",\"ref\":\"main\",\"target_url\":\"https://ci.example.com/builds/5\","
	  "\"description\":\"building\",\"name\":\"ci/s2i\"}", "group/sub/proj" },
	{ "gitlab queued pending, project id from payload", STATUS_GITLAB,
	  "git@gitlab.example.com:group/proj.git", NULL, NULL, NULL, "42", NULL,
	  5, "refs/tags/v1.0", "queued", NULL,
	  "https://gitlab.example.com/api/v4/projects/42/statuses/" SHA, "PRIVATE-TOKEN: TOK",
	  "{\"state\":\"pending\",\"ref\":\"v1.0\",\"description\":\"build #5 queued\",\"name\":\"s2i-agent\"}",
	  "42" },
	{ "gitlab succeeded", STATUS_GITLAB,
	  "https://gitlab.com/g/p", NULL, NULL, NULL, NULL, NULL,
	  5, NULL, "succeeded", "ok",
	  "https://gitlab.com/api/v4/projects/g%2Fp/statuses/" SHA, "PRIVATE-TOKEN: TOK",
	  "{\"state\":\"success\",\"description\":\"ok\",\"name\":\"s2i-agent\"}", "g/p" },
	{ "gitlab failed", STATUS_GITLAB,
	  "https://gitlab.com/g/p", NULL, NULL, NULL, NULL, NULL,
	  5, NULL, "failed", "x",
	  "https://gitlab.com/api/v4/projects/g%2Fp/statuses/" SHA, "PRIVATE-TOKEN: TOK",
	  "{\"state\":\"failed\",\"description\":\"x\",\"name\":\"s2i-agent\"}", "g/p" },
	{ "gitlab errored is failed", STATUS_GITLAB,
	  "https://gitlab.com/g/p", NULL, NULL, NULL, NULL, NULL,
	  5, NULL, "errored", "x",
	  "https://gitlab.com/api/v4/projects/g%2Fp/statuses/" SHA, "PRIVATE-TOKEN: TOK",
	  "{\"state\":\"failed\",\"description\":\"x\",\"name\":\"s2i-agent\"}", "g/p" },
	{ "gitlab canceled", STATUS_GITLAB,
	  "https://gitlab.com/g/p", NULL, NULL, NULL, NULL, NULL,
	  5, NULL, "canceled", "x",
	  "https://gitlab.com/api/v4/projects/g%2Fp/statuses/" SHA, "PRIVATE-TOKEN: TOK",
	  "{\"state\":\"canceled\",\"description\":\"x\",\"name\":\"s2i-agent\"}", "g/p" },
	{ "gitea from ssh url with port", STATUS_GITEA,
	  "ssh://git@git.example.com:2222/acme/web.git", NULL, NULL, NULL, NULL, "https://ci.example.com",
	  3, NULL, "failed", "boom",
	  "https://git.example.com/api/v1/repos/acme/web/statuses/" SHA, "Authorization: token TOK",
	  "{\"state\":\"failure\",\"target_url\":\"https://ci.example.com/builds/3\","
	  "\"description\":\"boom\",\"context\":\"s2i-agent\"}", "acme/web" },
	{ "gitea http with port keeps it", STATUS_GITEA,
	  "http://user:pw@127.0.0.1:3000/acme/web.git/", NULL, NULL, NULL, NULL, NULL,
	  3, NULL, "running", "r",
	  "http://127.0.0.1:3000/api/v1/repos/acme/web/statuses/" SHA, "Authorization: token TOK",
	  "{\"state\":\"pending\",\"description\":\"r\",\"context\":\"s2i-agent\"}", "acme/web" },
	{ "gitea errored and canceled are error", STATUS_GITEA,
	  "https://codeberg.org/acme/web", NULL, NULL, NULL, NULL, NULL,
	  3, NULL, "canceled", "c",
	  "https://codeberg.org/api/v1/repos/acme/web/statuses/" SHA, "Authorization: token TOK",
	  "{\"state\":\"error\",\"description\":\"c\",\"context\":\"s2i-agent\"}", "acme/web" },
	{ "gitea takes its own word warning as is", STATUS_GITEA,
	  "https://codeberg.org/acme/web", NULL, NULL, NULL, NULL, NULL,
	  3, NULL, "warning", "w",
	  "https://codeberg.org/api/v1/repos/acme/web/statuses/" SHA, "Authorization: token TOK",
	  "{\"state\":\"warning\",\"description\":\"w\",\"context\":\"s2i-agent\"}", "acme/web" },
	{ "sha is lowercased", STATUS_GITEA,
	  "https://codeberg.org/acme/web", NULL, NULL, NULL, NULL, NULL,
	  3, NULL, "succeeded", "s",
	  "https://codeberg.org/api/v1/repos/acme/web/statuses/" SHA, "Authorization: token TOK",
	  "{\"state\":\"success\",\"description\":\"s\",\"context\":\"s2i-agent\"}", "acme/web" },
};

static void fill_conf(struct repo_conf *rc, enum status_kind kind, const char *url, const char *api,
		      const char *srepo, const char *ctx, const char *token)
{
	memset(rc, 0, sizeof(*rc));
	rc->name = (char *)(uintptr_t)"web";
	rc->status = kind;
	rc->url = (char *)(uintptr_t)url;
	rc->status_api = (char *)(uintptr_t)api;
	rc->status_repo = (char *)(uintptr_t)srepo;
	rc->status_context = (char *)(uintptr_t)ctx;
	rc->status_token = (char *)(uintptr_t)token;
}

static void test_request_table(void **state)
{
	size_t i, j;

	(void)state;
	for (i = 0; i < sizeof(req_cases) / sizeof(req_cases[0]); i++) {
		const struct req_case *c = &req_cases[i];
		struct forge_request r = FORGE_REQUEST_INIT;
		struct repo_conf rc;
		struct err e = ERR_INIT;
		struct forge_build b = { c->id, SHA, c->ref, c->state, c->desc };
		char upper[41];
		int found_auth = 0;

		if (!strcmp(c->what, "sha is lowercased")) {
			for (j = 0; j < 40; j++)
				upper[j] = (char)(SHA[j] >= 'a' ? SHA[j] - 32 : SHA[j]);
			upper[40] = '\0';
			b.sha = upper;
		}
		fill_conf(&rc, c->kind, c->url, c->api, c->srepo, c->context, "TOK");
		print_message("case: %s\n", c->what);
		if (forge_request_build(&rc, &b, c->public_url, c->payload, &r, &e) < 0)
			fail_msg("%s: %s", c->what, e.msg);
		assert_string_equal(r.url, c->want_url);
		assert_string_equal(r.body, c->want_body);
		assert_string_equal(r.repo, c->want_repo);
		assert_int_equal(r.timeout, STATUS_TIMEOUT);
		for (j = 0; j < r.headers.n; j++)
			if (!strcmp(r.headers.items[j], c->want_auth))
				found_auth = 1;
		assert_true(found_auth);
		/* the commit's statuses: the post's URL with commits/SHA/statuses */
		{
			const char *tail = strstr(c->want_url, "/statuses/");
			char *want;

			assert_non_null(tail);
			want = xasprintf(c->kind == STATUS_GITLAB ?
					 "%.*s/repository/commits/%s/statuses?all=true&per_page=100" :
					 c->kind == STATUS_GITHUB ?
					 "%.*s/commits/%s/statuses?per_page=100" :
					 "%.*s/commits/%s/statuses?limit=50",
					 (int)(tail - c->want_url), c->want_url, tail + 10);
			assert_string_equal(r.list_url, want);
			free(want);
		}
		forge_request_release(&r);
	}
}

static int has_header(const struct forge_request *r, const char *h)
{
	size_t i;

	for (i = 0; i < r->headers.n; i++)
		if (!strcmp(r->headers.items[i], h))
			return 1;
	return 0;
}

static void test_headers_exact(void **state)
{
	static const char *const gh[] = {
		"Accept: application/vnd.github+json", "Authorization: Bearer TOK",
		"X-GitHub-Api-Version: 2022-11-28", "User-Agent: s2i-agent/" S2I_AGENT_VERSION,
		"Content-Type: application/json", NULL };
	static const char *const gl[] = {
		"Accept: application/json", "PRIVATE-TOKEN: TOK",
		"User-Agent: s2i-agent/" S2I_AGENT_VERSION, "Content-Type: application/json", NULL };
	static const char *const gt[] = {
		"Accept: application/json", "Authorization: token TOK",
		"User-Agent: s2i-agent/" S2I_AGENT_VERSION, "Content-Type: application/json", NULL };
	const char *const *want[] = { gh, gl, gt };
	enum status_kind kinds[] = { STATUS_GITHUB, STATUS_GITLAB, STATUS_GITEA };
	struct forge_build b = { 1, SHA, NULL, "queued", NULL };
	size_t k, i;

	(void)state;
	for (k = 0; k < 3; k++) {
		struct forge_request r = FORGE_REQUEST_INIT;
		struct repo_conf rc;
		struct err e = ERR_INIT;

		fill_conf(&rc, kinds[k], "https://example.com/a/b.git", NULL, NULL, NULL, "TOK");
		assert_int_equal(forge_request_build(&rc, &b, NULL, NULL, &r, &e), 0);
		for (i = 0; want[k][i]; i++) {
			print_message("kind %zu header %s\n", k, want[k][i]);
			assert_true(has_header(&r, want[k][i]));
		}
		assert_int_equal(r.headers.n, i);
		forge_request_release(&r);
	}
}

struct bad_case {
	const char *what;
	enum status_kind kind;
	const char *url, *api, *srepo, *token, *sha, *state, *payload;
	const char *want_in_msg;
};

static const struct bad_case bad_cases[] = {
	{ "status none", STATUS_NONE, "https://github.com/a/b", NULL, NULL, "TOK", SHA, "queued", NULL, "off" },
	{ "no token", STATUS_GITHUB, "https://github.com/a/b", NULL, NULL, NULL, SHA, "queued", NULL, "no status token" },
	{ "token with newline", STATUS_GITHUB, "https://github.com/a/b", NULL, NULL, "T\nX-Evil: 1", SHA, "queued", NULL, "control" },
	{ "short sha", STATUS_GITHUB, "https://github.com/a/b", NULL, NULL, "TOK", "abc123", "queued", NULL, "not a commit id" },
	{ "gitea word on github", STATUS_GITHUB, "https://github.com/a/b", NULL, NULL, "TOK", SHA, "warning", NULL, "unknown build state" },
	{ "unknown state", STATUS_GITHUB, "https://github.com/a/b", NULL, NULL, "TOK", SHA, "done", NULL, "unknown build state" },
	{ "three segments on github", STATUS_GITHUB, "https://github.com/a/b/c", NULL, NULL, "TOK", SHA, "queued", NULL, "not owner/name" },
	{ "dotdot in status_repo", STATUS_GITEA, "https://x.org/a/b", NULL, "a/..", "TOK", SHA, "queued", NULL, "not owner/name" },
	{ "query in payload repo", STATUS_GITHUB, "https://github.com/a/b", NULL, NULL, "TOK", SHA, "queued", "a/b?x=1", "not owner/name" },
	{ "local url, no status_repo", STATUS_GITHUB, "/srv/git/web.git", NULL, NULL, "TOK", SHA, "queued", NULL, "no status_repo" },
	{ "gitea file url, no status_api", STATUS_GITEA, "file:///srv/git/web.git", NULL, "a/b", "TOK", SHA, "queued", NULL, "no status_api" },
	{ "gitlab single segment", STATUS_GITLAB, "https://gitlab.com/a/b", NULL, "proj", "TOK", SHA, "queued", NULL, "not a GitLab project" },
};

static void test_request_errors(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];
		struct forge_request r = FORGE_REQUEST_INIT;
		struct repo_conf rc;
		struct err e = ERR_INIT;
		struct forge_build b = { 1, c->sha, NULL, c->state, NULL };

		print_message("case: %s\n", c->what);
		fill_conf(&rc, c->kind, c->url, c->api, c->srepo, NULL, c->token);
		assert_int_equal(forge_request_build(&rc, &b, "https://ci", c->payload, &r, &e), -1);
		if (!strstr(e.msg, c->want_in_msg))
			fail_msg("%s: message '%s' lacks '%s'", c->what, e.msg, c->want_in_msg);
		assert_null(strstr(e.msg, "X-Evil"));
		assert_null(r.url);
	}
}

static void test_payload_repo(void **state)
{
	(void)state;
	assert_string_equal(forge_payload_repo(STATUS_GITLAB, "g/p", "42"), "42");
	assert_string_equal(forge_payload_repo(STATUS_GITLAB, "g/p", NULL), "g/p");
	assert_string_equal(forge_payload_repo(STATUS_GITLAB, "g/p", "x"), "g/p");
	assert_string_equal(forge_payload_repo(STATUS_GITHUB, "a/b", "42"), "a/b");
	assert_null(forge_payload_repo(STATUS_GITEA, "", NULL));
	assert_null(forge_payload_repo(STATUS_GITHUB, NULL, NULL));
}

/* ---- descriptions ---- */

static size_t count_cps(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

static char *rep(const char *unit, size_t n)
{
	size_t ul = strlen(unit), i;
	char *s = malloc(ul * n + 1);

	for (i = 0; i < n; i++)
		memcpy(s + i * ul, unit, ul);
	s[ul * n] = '\0';
	return s;
}

static void test_description(void **state)
{
	static const char *const units[] = { "a", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x9a\x80" };
	size_t u;
	char *in, *out, *want, *head;

	(void)state;
	for (u = 0; u < 4; u++) {
		/* exactly the limit: unchanged */
		in = rep(units[u], STATUS_DESCRIPTION_MAX);
		out = forge_description(in);
		assert_string_equal(out, in);
		free(in);
		free(out);
		/* one more: 139 characters and an ellipsis, on a character boundary */
		in = rep(units[u], STATUS_DESCRIPTION_MAX + 1);
		out = forge_description(in);
		head = rep(units[u], STATUS_DESCRIPTION_MAX - 1);
		want = malloc(strlen(head) + 4);
		sprintf(want, "%s\xe2\x80\xa6", head);
		assert_string_equal(out, want);
		assert_int_equal(count_cps(out), STATUS_DESCRIPTION_MAX);
		free(in);
		free(out);
		free(head);
		free(want);
	}
	/* a cut inside a run of blanks leaves none before the ellipsis */
	in = rep("ab  ", 60);		/* character 139 is a blank */
	out = forge_description(in);
	head = rep("ab  ", 34);
	want = malloc(strlen(head) + 10);
	sprintf(want, "%sab\xe2\x80\xa6", head);
	assert_string_equal(out, want);
	free(head);
	free(want);
	free(in);
	free(out);

	out = forge_description("  line one\nline\ttwo\r\n");
	assert_string_equal(out, "line one line two");
	free(out);
	out = forge_description("bad \xff byte \xc0\xaf overlong \xed\xa0\x80 surrogate \xe2\x82");
	assert_string_equal(out, "bad \xef\xbf\xbd byte \xef\xbf\xbd\xef\xbf\xbd overlong "
			    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd surrogate \xef\xbf\xbd\xef\xbf\xbd");
	free(out);
	out = forge_description("C1 \xc2\x85 and DEL \x7f");
	assert_string_equal(out, "C1   and DEL");
	free(out);
	out = forge_description(NULL);
	assert_string_equal(out, "");
	free(out);
}

static void test_description_in_body(void **state)
{
	struct forge_request r = FORGE_REQUEST_INIT;
	struct forge_build b = { 1, SHA, NULL, "failed", NULL };
	struct repo_conf rc;
	struct err e = ERR_INIT;
	char *d = rep("\xc3\xa9", 200), *want;

	(void)state;
	b.description = d;
	fill_conf(&rc, STATUS_GITHUB, "https://github.com/a/b", NULL, NULL, NULL, "TOK");
	assert_int_equal(forge_request_build(&rc, &b, NULL, NULL, &r, &e), 0);
	free(d);
	d = rep("\xc3\xa9", 139);
	want = malloc(strlen(d) + 100);
	sprintf(want, "{\"state\":\"failure\",\"description\":\"%s\xe2\x80\xa6\",\"context\":\"s2i-agent\"}", d);
	assert_string_equal(r.body, want);
	free(want);
	free(d);
	forge_request_release(&r);
}

/* ---- URLs ---- */

static void test_parse_url(void **state)
{
	static const struct { const char *url, *base, *host, *path; } ok[] = {
		{ "https://github.com/acme/web.git", "https://github.com", "github.com", "acme/web" },
		{ "https://github.com/acme/web", "https://github.com", "github.com", "acme/web" },
		{ "https://github.com/acme/web/", "https://github.com", "github.com", "acme/web" },
		{ "https://x-access-token:SECRET@github.com/acme/web.git", "https://github.com", "github.com", "acme/web" },
		{ "http://127.0.0.1:3000/acme/web.git", "http://127.0.0.1:3000", "127.0.0.1", "acme/web" },
		{ "https://[::1]:3000/acme/web", "https://[::1]:3000", "[::1]", "acme/web" },
		{ "git@github.com:acme/web.git", "https://github.com", "github.com", "acme/web" },
		{ "gitlab.example.com:group/sub/proj", "https://gitlab.example.com", "gitlab.example.com", "group/sub/proj" },
		{ "ssh://git@git.example.com:2222/acme/web.git", "https://git.example.com", "git.example.com", "acme/web" },
		{ "ssh://git.example.com/acme/web", "https://git.example.com", "git.example.com", "acme/web" },
		{ "git://git.example.com/acme/web.git", "https://git.example.com", "git.example.com", "acme/web" },
	};
	static const char *const bad[] = {
		"/srv/git/web.git", "./web", "file:///srv/git/web.git", "https://github.com",
		"https://github.com/", "git@github.com:", "", "C/dir:x", "ftp://x/a/b",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		char *base, *host, *path;
		struct err e = ERR_INIT;

		print_message("url %s\n", ok[i].url);
		if (forge_parse_url(ok[i].url, &base, &host, &path, &e) < 0)
			fail_msg("%s: %s", ok[i].url, e.msg);
		assert_string_equal(base, ok[i].base);
		assert_string_equal(host, ok[i].host);
		assert_string_equal(path, ok[i].path);
		free(base);
		free(host);
		free(path);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *base = NULL, *host = NULL, *path = NULL;
		struct err e = ERR_INIT;

		print_message("bad url %s\n", bad[i]);
		assert_int_equal(forge_parse_url(bad[i], &base, &host, &path, &e), -1);
		assert_null(base);
		assert_null(strstr(e.msg, "SECRET"));
	}
}

static void test_urlencode(void **state)
{
	char *s;

	(void)state;
	s = forge_urlencode("group/sub proj~x.y_z-1%");
	assert_string_equal(s, "group%2Fsub%20proj~x.y_z-1%25");
	free(s);
}

/* ---- Retry-After, backoff, classes ---- */

static void test_retry_after(void **state)
{
	/* Wed, 21 Oct 2015 07:28:00 GMT */
	const time_t when = 1445412480;
	static const struct { const char *v; long now_off; int rc; long want; } cases[] = {
		{ "2", 0, 0, 2 },
		{ " 120 ", 0, 0, 120 },
		{ "0", 0, 0, 0 },
		{ "Wed, 21 Oct 2015 07:28:00 GMT", -10, 0, 10 },
		{ "Wednesday, 21-Oct-15 07:28:00 GMT", -60, 0, 60 },
		{ "Wed Oct 21 07:28:00 2015", -5, 0, 5 },
		{ "Wed, 21 Oct 2015 07:28:00 GMT", 100, 0, 0 },
		{ "soon", 0, -1, 0 },
		{ "", 0, -1, 0 },
		{ "-5", 0, -1, 0 },
		{ "1.5", 0, -1, 0 },
		{ "99999999999999999999", 0, 0, 999999999L },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		long v = -42;

		print_message("retry-after '%s'\n", cases[i].v);
		assert_int_equal(forge_parse_retry_after(cases[i].v, when + cases[i].now_off, &v), cases[i].rc);
		if (cases[i].rc == 0)
			assert_int_equal(v, cases[i].want);
		else
			assert_int_equal(v, -42);
	}
}

static void test_backoff(void **state)
{
	static const struct { unsigned attempt; long ra; unsigned long rnd; long want; } cases[] = {
		{ 1, 0, 0, 1 }, { 1, 0, 1, 2 }, { 1, 0, 2, 1 },
		{ 0, 0, 1, 2 },
		{ 2, 0, 0, 2 }, { 2, 0, 2, 4 },
		{ 3, 0, 0, 4 }, { 3, 0, 4, 8 }, { 3, 0, 5, 4 },
		{ 11, 0, 0, 1024 }, { 11, 0, 1024, 2048 },
		{ 12, 0, 0, 1800 }, { 12, 0, 1800, 3600 },
		{ 400, 0, 123456789, 1800 + 123456789 % 1801 },
		{ 1, 10, 1, 10 }, { 3, 5, 4, 8 }, { 1, 99999, 0, STATUS_RETRY_MAX },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		print_message("backoff %u %ld %lu\n", cases[i].attempt, cases[i].ra, cases[i].rnd);
		assert_int_equal(forge_backoff(cases[i].attempt, cases[i].ra, cases[i].rnd), cases[i].want);
	}
	/* the bounds hold for any random number */
	for (i = 0; i < 1000; i++) {
		long d = forge_backoff(5, 0, (unsigned long)rand());

		assert_true(d >= 16 && d <= 32);
	}
}

static void test_classify(void **state)
{
	const time_t now = 1700000000;
	static char *const ra7[] = { "Retry-After: 7", NULL };
	static char *const ra_date[] = { "retry-after: Tue, 14 Nov 2023 22:13:40 GMT", NULL };
	static char *const rl[] = { "X-RateLimit-Limit: 5000", "x-ratelimit-remaining: 0",
				    "X-RateLimit-Reset: 1700000060", NULL };
	static char *const rl_gl[] = { "RateLimit-Remaining: 0", "RateLimit-Reset: 1700000030", NULL };
	static char *const rl_left[] = { "X-RateLimit-Remaining: 12", NULL };
	static const struct {
		enum status_kind kind;
		long code;
		char *const *h;
		const char *body;
		enum forge_outcome want;
		long want_ra;
		const char *want_msg;
	} cases[] = {
		{ STATUS_GITHUB, 201, NULL, "{}", FORGE_DONE, 0, "" },
		{ STATUS_GITHUB, 200, NULL, NULL, FORGE_DONE, 0, "" },
		{ STATUS_GITHUB, 500, NULL, "{\"message\":\"Server Error\"}", FORGE_RETRY, 0, "HTTP 500: Server Error" },
		{ STATUS_GITHUB, 502, NULL, "<html>bad\ngateway</html>", FORGE_RETRY, 0, "HTTP 502: <html>bad gateway</html>" },
		{ STATUS_GITHUB, 503, ra7, NULL, FORGE_RETRY, 7, "HTTP 503" },
		{ STATUS_GITHUB, 429, ra_date, NULL, FORGE_RETRY, 20, "HTTP 429" },
		{ STATUS_GITHUB, 429, NULL, NULL, FORGE_RETRY, 0, "HTTP 429" },
		{ STATUS_GITHUB, 408, NULL, NULL, FORGE_RETRY, 0, "HTTP 408" },
		{ STATUS_GITHUB, 0, NULL, NULL, FORGE_RETRY, 0, "HTTP 0" },
		{ STATUS_GITHUB, 403, rl, "{\"message\":\"API rate limit exceeded for user ID 1.\"}",
		  FORGE_RETRY, 60, "HTTP 403: API rate limit exceeded for user ID 1." },
		{ STATUS_GITHUB, 403, ra7, "{\"message\":\"You have exceeded a secondary rate limit.\"}",
		  FORGE_RETRY, 7, "HTTP 403: You have exceeded a secondary rate limit." },
		{ STATUS_GITLAB, 429, rl_gl, NULL, FORGE_RETRY, 30, "HTTP 429" },
		{ STATUS_GITHUB, 403, rl_left, "{\"message\":\"Resource not accessible by integration\"}",
		  FORGE_FAILED, 0, "HTTP 403: Resource not accessible by integration" },
		{ STATUS_GITHUB, 401, NULL, "{\"message\":\"Bad credentials\",\"documentation_url\":\"https://docs.github.com/rest\"}",
		  FORGE_FAILED, 0, "HTTP 401: Bad credentials" },
		{ STATUS_GITHUB, 404, NULL, "Not Found", FORGE_FAILED, 0, "HTTP 404: Not Found" },
		{ STATUS_GITHUB, 422, NULL,
		  "{\"message\":\"Validation Failed\",\"errors\":[{\"resource\":\"Status\",\"code\":\"custom\","
		  "\"field\":\"description\",\"message\":\"description is too long (maximum is 140 characters)\"}]}",
		  FORGE_FAILED, 0, "HTTP 422: Validation Failed: description is too long (maximum is 140 characters)" },
		{ STATUS_GITHUB, 422, NULL,
		  "{\"message\":\"Validation Failed\",\"errors\":[{\"resource\":\"Status\",\"code\":\"invalid\",\"field\":\"state\"},"
		  "{\"message\":\"x\"}]}",
		  FORGE_FAILED, 0, "HTTP 422: Validation Failed: state invalid; x" },
		{ STATUS_GITLAB, 400, NULL,
		  "{\"message\":\"Cannot transition status via :run from :running (Reason(s): Status cannot transition via \\\"run\\\")\"}",
		  FORGE_DONE, 0, "HTTP 400: Cannot transition status via :run from :running (Reason(s): Status cannot transition via \"run\")" },
		{ STATUS_GITLAB, 400, NULL, "{\"error\":\"state does not have a valid value\"}",
		  FORGE_FAILED, 0, "HTTP 400: state does not have a valid value" },
		{ STATUS_GITLAB, 404, NULL, "{\"message\":\"404 Project Not Found\"}",
		  FORGE_FAILED, 0, "HTTP 404: 404 Project Not Found" },
		{ STATUS_GITLAB, 400, NULL, "{\"message\":{\"name\":[\"is too long\"]}}",
		  FORGE_FAILED, 0, "HTTP 400: {\"name\":[\"is too long\"]}" },
		{ STATUS_GITHUB, 400, NULL, "{\"message\":\"Cannot transition status\"}",
		  FORGE_FAILED, 0, "HTTP 400: Cannot transition status" },
		{ STATUS_GITEA, 301, NULL, NULL, FORGE_FAILED, 0, "HTTP 301" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct forge_answer a;
		char msg[512];

		print_message("classify %zu: %ld\n", i, cases[i].code);
		forge_classify(cases[i].kind, cases[i].code, cases[i].h, cases[i].body, now, &a, msg, sizeof(msg));
		assert_int_equal(a.outcome, cases[i].want);
		assert_int_equal(a.retry_after, cases[i].want_ra);
		assert_int_equal(a.http_code, cases[i].code);
		assert_string_equal(msg, cases[i].want_msg);
	}
}

/* Which listed status is the one posted: GitHub's and Gitea's context, GitLab's
 * name; GitHub's state, GitLab's and Gitea's status; the description; the build
 * in target_url, whichever agent's address it starts with. */
static void test_status_listed(void **state)
{
	const char *gh = "{\"state\":\"success\",\"target_url\":\"http://a:1/builds/7\","
			 "\"description\":\"Build 7 succeeded in 3s\",\"context\":\"s2i-agent\"}";
	const char *gl = "{\"state\":\"running\",\"ref\":\"main\",\"target_url\":\"http://a:1/builds/7\","
			 "\"description\":\"Build 7 running\",\"name\":\"ci\"}";

	(void)state;
	assert_int_equal(forge_status_listed("[]", gh), 0);
	assert_int_equal(forge_status_listed("[{\"state\":\"success\",\"target_url\":\"http://b:2/builds/7\","
					     "\"description\":\"Build 7 succeeded in 3s\",\"context\":\"s2i-agent\"}]", gh), 1);
	/* another build, context, state or description: not it */
	assert_int_equal(forge_status_listed("[{\"state\":\"success\",\"target_url\":\"http://a:1/builds/17\","
					     "\"description\":\"Build 7 succeeded in 3s\",\"context\":\"s2i-agent\"}]", gh), 0);
	assert_int_equal(forge_status_listed("[{\"state\":\"success\",\"target_url\":\"http://a:1/builds/7\","
					     "\"description\":\"Build 7 succeeded in 3s\",\"context\":\"other\"}]", gh), 0);
	assert_int_equal(forge_status_listed("[{\"state\":\"pending\",\"target_url\":\"http://a:1/builds/7\","
					     "\"description\":\"Build 7 succeeded in 3s\",\"context\":\"s2i-agent\"}]", gh), 0);
	assert_int_equal(forge_status_listed("[{\"state\":\"success\",\"target_url\":\"http://a:1/builds/7\","
					     "\"description\":\"Build 7 running\",\"context\":\"s2i-agent\"}]", gh), 0);
	/* GitLab lists status and name; Gitea status and context */
	assert_int_equal(forge_status_listed("[{\"id\":1,\"status\":\"pending\",\"name\":\"ci\",\"target_url\":\"http://a:1/builds/7\","
					     "\"description\":\"Build 7 queued\"},{\"id\":2,\"status\":\"running\",\"name\":\"ci\","
					     "\"target_url\":\"http://a:1/builds/7\",\"description\":\"Build 7 running\"}]", gl), 1);
	assert_int_equal(forge_status_listed("[{\"id\":1,\"status\":\"success\",\"context\":\"s2i-agent\",\"target_url\":\"http://a:1/builds/7\","
					     "\"description\":\"Build 7 succeeded in 3s\"}]", gh), 1);
	/* no list (an error object, a cut answer): not known */
	assert_int_equal(forge_status_listed("{\"message\":\"Not Found\"}", gh), -1);
	assert_int_equal(forge_status_listed("[{\"state\":", gh), -1);
}

/* A post or a look at the list that cannot connect is a RETRY, and its message
 * names the request without the token, even where the API base itself carries it
 * (and without the base's userinfo). */
static void test_unreachable(void **state)
{
	static const struct {
		enum status_kind kind;
		const char *url, *api;
		int find;
		const char *want;
	} cases[] = {
		{ STATUS_GITHUB, "https://github.com/a/b", "http://u:pw@127.0.0.1:1/sEcReT-tok", 0,
		  "POST http://127.0.0.1:1/***/repos/a/b/statuses/" SHA },
		{ STATUS_GITHUB, "https://github.com/a/b", "http://u:pw@127.0.0.1:1/sEcReT-tok", 1,
		  "GET http://127.0.0.1:1/***/repos/a/b/commits/" SHA "/statuses?per_page=100" },
		{ STATUS_GITLAB, "https://gitlab.example/a/b", "http://127.0.0.1:1/sEcReT-tok/api/v4", 0,
		  "POST http://127.0.0.1:1/***/api/v4/projects/a%2Fb/statuses/" SHA },
		{ STATUS_GITLAB, "https://gitlab.example/a/b", "http://127.0.0.1:1/sEcReT-tok/api/v4", 1,
		  "GET http://127.0.0.1:1/***/api/v4/projects/a%2Fb/repository/commits/" SHA
		  "/statuses?all=true&per_page=100" },
		{ STATUS_GITEA, "https://git.example/a/b", "http://127.0.0.1:1/sEcReT-tok", 0,
		  "POST http://127.0.0.1:1/***/repos/a/b/statuses/" SHA },
		{ STATUS_GITEA, "https://git.example/a/b", "http://127.0.0.1:1/sEcReT-tok", 1,
		  "GET http://127.0.0.1:1/***/repos/a/b/commits/" SHA "/statuses?limit=50" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct forge_request r = FORGE_REQUEST_INIT;
		struct forge_build b = { 1, SHA, NULL, "queued", NULL };
		struct forge_answer a;
		struct repo_conf rc;
		struct err e = ERR_INIT;

		fill_conf(&rc, cases[i].kind, cases[i].url, cases[i].api, NULL, NULL, "sEcReT-tok");
		assert_int_equal(forge_request_build(&rc, &b, NULL, NULL, &r, &e), 0);
		r.connect_timeout = 2;
		r.timeout = 3;
		assert_int_equal(cases[i].find ? forge_find(&r, &a, &e) : forge_post(&r, &a, &e), -1);
		print_message("unreachable %zu: %s\n", i, e.msg);
		assert_int_equal(a.outcome, FORGE_RETRY);
		assert_int_equal(a.http_code, 0);
		assert_non_null(strstr(e.msg, cases[i].want));
		assert_null(strstr(e.msg, "sEcReT"));
		assert_null(strstr(e.msg, "pw@"));
		forge_request_release(&r);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_table),
		cmocka_unit_test(test_headers_exact),
		cmocka_unit_test(test_request_errors),
		cmocka_unit_test(test_payload_repo),
		cmocka_unit_test(test_description),
		cmocka_unit_test(test_description_in_body),
		cmocka_unit_test(test_parse_url),
		cmocka_unit_test(test_urlencode),
		cmocka_unit_test(test_retry_after),
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_status_listed),
		cmocka_unit_test(test_unreachable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
