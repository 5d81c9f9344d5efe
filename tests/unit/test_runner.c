/* Unit tests for runner: the image name template of a repository's `tag` key
 * ({repo} {branch} {tag} {sha} {short_sha} {build}) and how values are made valid. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "runner.h"

#define SHA "0123456789abcdef0123456789abcdef01234567"

struct tag_case {
	const char *tmpl, *repo, *ref, *sha;
	long long id;
	const char *want;
};

static const struct tag_case tag_cases[] = {
	{ "{repo}:{branch}", "web", "refs/heads/main", SHA, 7, "web:main" },
	{ "registry.example.com/acme/web:{branch}", "web", "refs/heads/main", SHA, 7,
	  "registry.example.com/acme/web:main" },
	{ "registry.example.com:5000/acme/{repo}:{short_sha}", "Web", "refs/heads/x", SHA, 7,
	  "registry.example.com:5000/acme/web:0123456" },
	{ "app:{sha}", "web", "refs/heads/main", SHA, 7, "app:" SHA },
	{ "app:build-{build}", "web", "refs/heads/main", SHA, 42, "app:build-42" },
	/* a branch with '/' is a valid tag once the '/' is replaced */
	{ "{repo}:{branch}", "web", "refs/heads/release/1.2", SHA, 7, "web:release-1.2" },
	/* tag pushes: {branch} and {tag} are the tag name */
	{ "{repo}:{tag}", "web", "refs/tags/v1.0", SHA, 7, "web:v1.0" },
	{ "{repo}:{branch}", "web", "refs/tags/v1.0", SHA, 7, "web:v1.0" },
	/* {tag} of a branch push is empty: the tag becomes latest */
	{ "{repo}:{tag}", "web", "refs/heads/main", SHA, 7, "web:latest" },
	/* a tag may not start with '.' or '-' */
	{ "{repo}:{branch}", "web", "refs/heads/-x", SHA, 7, "web:_x" },
	/* uppercase stays in a tag, not in a name */
	{ "{repo}/{branch}:{branch}", "Web.App", "refs/heads/Feature", SHA, 7, "web.app/feature:Feature" },
	/* unknown placeholders and braces stay as written */
	{ "app:{nope}", "web", "refs/heads/main", SHA, 7, "app:{nope}" },
	/* no tag part at all */
	{ "{repo}", "web", "refs/heads/main", SHA, 7, "web" },
	/* a manual build of a sha (no ref) */
	{ "{repo}:{short_sha}", "web", NULL, SHA, 7, "web:0123456" },
	/* requests: {pr} is their number, empty elsewhere */
	{ "{repo}:pr-{pr}", "web", "refs/pull/12/head", SHA, 7, "web:pr-12" },
	{ "{repo}:mr-{pr}-{short_sha}", "web", "refs/merge-requests/3/head", SHA, 7, "web:mr-3-0123456" },
	{ "{repo}:pr-{pr}", "web", "refs/heads/main", SHA, 7, "web:pr-" },
	{ "{repo}:{pr}", "web", "refs/pull/12/merge", SHA, 7, "web:latest" },
};

static void test_pr_number(void **state)
{
	static const struct { const char *ref; long long n; } cases[] = {
		{ "refs/pull/1/head", 1 }, { "refs/pull/4711/head", 4711 },
		{ "refs/merge-requests/9/head", 9 }, { "refs/pull/0/head", 0 },
		{ "refs/pull/07/head", 0 }, { "refs/pull/7/merge", 0 }, { "refs/pull/7", 0 },
		{ "refs/pull/7/head/x", 0 }, { "refs/heads/pull/7/head", 0 }, { "refs/pull//head", 0 },
		{ "refs/pull/99999999999999999999/head", 0 }, { NULL, 0 },
	};
	struct repo_conf r;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (runner_pr_number(cases[i].ref) != cases[i].n)
			fail_msg("'%s': got %lld", cases[i].ref ? cases[i].ref : "(null)",
				 runner_pr_number(cases[i].ref));
	memset(&r, 0, sizeof(r));
	assert_string_equal(runner_tag_template(&r, "refs/pull/1/head"), "{repo}:pr-{pr}");
	assert_string_equal(runner_tag_template(&r, "refs/heads/main"), "{repo}:{branch}");
	r.tag = (char[]){ "t:{branch}" };
	r.pr_tag = (char[]){ "p:{pr}" };
	assert_string_equal(runner_tag_template(&r, "refs/merge-requests/1/head"), "p:{pr}");
	assert_string_equal(runner_tag_template(&r, "refs/tags/v1"), "t:{branch}");
}

static void test_expand_tag(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(tag_cases) / sizeof(tag_cases[0]); i++) {
		const struct tag_case *c = &tag_cases[i];
		char *got = runner_expand_tag(c->tmpl, c->repo, c->ref, c->sha, c->id);

		if (strcmp(got, c->want))
			fail_msg("case %zu '%s': got '%s', want '%s'", i, c->tmpl, got, c->want);
		free(got);
	}
}

static void test_long_tag_is_cut(void **state)
{
	char ref[400], *got, *colon;

	(void)state;
	memcpy(ref, "refs/heads/", 11);
	memset(ref + 11, 'a', 300);
	ref[311] = '\0';
	got = runner_expand_tag("{repo}:{branch}", "web", ref, SHA, 1);
	colon = strchr(got, ':');
	assert_non_null(colon);
	assert_int_equal(strlen(colon + 1), 128);
	free(got);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_expand_tag),
		cmocka_unit_test(test_long_tag_is_cut),
		cmocka_unit_test(test_pr_number),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
