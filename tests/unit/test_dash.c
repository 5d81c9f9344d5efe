/* Unit tests for dash: hostile build data stays text, the pages carry their structure,
 * the CSP hashes match the inline style and script, and Accept negotiation picks as browsers expect. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/evp.h>

#include "dash.h"

static const char hostile_msg[] =
	"<script>alert(\"x\")</script> & 'q'\nsecond line </pre><img src=x onerror=alert(1)>";
static const char hostile_msg_esc[] =
	"&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;q&#39;";

static json_t *build(long long id, const char *repo, const char *state, const char *msg)
{
	json_t *b = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "id", (json_int_t)id,
			      "repo", repo, "ref", "refs/heads/main",
			      "sha", "abcdef1234567890abcdef1234567890abcdef12", "state", state,
			      "created", "2026-01-02T03:04:05Z", "provider", "github", "delivery", "d-1");

	assert_non_null(b);
	if (msg)
		json_object_set_new(b, "message", json_string(msg));
	return b;
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;

	while ((hay = strstr(hay, needle))) {
		n++;
		hay++;
	}
	return n;
}

static char *render_index_notice(json_t *builds, const char *const *repos, time_t now,
				 const char *notice)
{
	struct dash_index d = { .builds = builds, .repos = repos, .public_url = "https://ci.example.com",
				.version = "0.1.0", .now = now, .notice = notice };
	struct buf out = BUF_INIT(DASH_PAGE_MAX);
	struct err e = ERR_INIT;

	assert_int_equal(dash_render_index(&d, &out, &e), 0);
	return buf_detach(&out, NULL);
}

static char *render_index(json_t *builds, const char *const *repos, time_t now)
{
	return render_index_notice(builds, repos, now, NULL);
}

/* Why builds wait (free space) stands under the header, escaped; none without it. */
static void test_notice(void **state)
{
	json_t *builds = json_array();
	char *page;

	(void)state;
	page = render_index_notice(builds, NULL, 0, "1.0 MiB free on '/var/<lib>', builds wait");
	assert_non_null(strstr(page, "<p class=\"notice\"><strong>1.0 MiB free on &#39;/var/&lt;lib&gt;&#39;, "
				"builds wait</strong></p>\n</header>"));
	free(page);
	page = render_index(builds, NULL, 0);
	assert_null(strstr(page, "class=\"notice\""));
	free(page);
	json_decref(builds);
}

static char *render_build(json_t *b, time_t now)
{
	struct buf out = BUF_INIT(DASH_PAGE_MAX);
	struct err e = ERR_INIT;

	assert_int_equal(dash_render_build(b, NULL, now, &out, &e), 0);
	return buf_detach(&out, NULL);
}

/* Refused deliveries: listed newest first as given, names and reasons escaped; left out
 * when there are none. */
static void test_refusals(void **state)
{
	json_t *refusals = json_pack("[{sI ss ss si ss}, {sI ss ss si ss}]",
				     "time", (json_int_t)1767225600, "repo", "<img src=x>", "provider", "generic",
				     "code", 404, "reason", "unknown repository",
				     "time", (json_int_t)1767225500, "repo", "web", "provider", "github",
				     "code", 401, "reason", "X-Hub-Signature-256 does not match the repo's secret");
	struct dash_index d = { .public_url = "https://ci.example.com", .version = "0.1.0", .now = 1767225601,
				.refusals = refusals, .nrefused = 7 };
	struct buf out = BUF_INIT(DASH_PAGE_MAX);
	struct err e = ERR_INIT;
	char *page, *first, *second;

	(void)state;
	assert_int_equal(dash_render_index(&d, &out, &e), 0);
	page = buf_detach(&out, NULL);
	assert_non_null(strstr(page, "<h2 id=\"refused\">Refused deliveries</h2>"));
	assert_non_null(strstr(page, "7 since the agent started; the last 2:"));
	assert_null(strstr(page, "<img"));
	first = strstr(page, "<code>&lt;img src=x&gt;</code></td><td>generic</td><td class=\"num\">404</td>");
	second = strstr(page, "<code>web</code></td><td>github</td><td class=\"num\">401</td>"
			      "<td class=\"msg\">X-Hub-Signature-256 does not match the repo&#39;s secret</td>");
	assert_non_null(first);
	assert_non_null(second);
	assert_true(first < second);
	assert_non_null(strstr(page, "<time datetime=\"2026-01-01T00:00:00Z\">2026-01-01 00:00:00 UTC</time>"));
	free(page);
	json_decref(refusals);
	/* none: no section */
	refusals = json_array();
	page = render_index(refusals, NULL, 0);
	assert_null(strstr(page, "Refused deliveries"));
	free(page);
	json_decref(refusals);
}

static void test_escape_table(void **state)
{
	static const struct {
		const char *in;
		size_t n;
		const char *out;
	} t[] = {
		{ "plain text", 10, "plain text" },
		{ "<b>", 3, "&lt;b&gt;" },
		{ "a&b", 3, "a&amp;b" },
		{ "\"'", 2, "&quot;&#39;" },
		{ "&amp;", 5, "&amp;amp;" },
		{ "tab\tnl\ncr\r", 10, "tab\tnl\ncr\r" },
		{ "nul\0x", 5, "nul\xef\xbf\xbdx" },
		{ "esc\x1b[1m", 7, "esc\xef\xbf\xbd[1m" },
		{ "del\x7f", 4, "del\xef\xbf\xbd" },
		{ "caf\xc3\xa9", 5, "caf\xc3\xa9" },
		{ "", 0, "" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct buf out = BUF_INIT(1024);

		assert_int_equal(dash_escape(&out, t[i].in, t[i].n), 0);
		assert_string_equal(out.data, t[i].out);
		buf_release(&out);
	}
}

static void test_escape_cap(void **state)
{
	struct buf out = BUF_INIT(8);

	(void)state;
	assert_int_equal(dash_escape(&out, "<<<", 3), -1);
	buf_release(&out);
}

/* Everything a push controls (message, author, ref, repo, reason, image, even
 * the state) must come out as text, never as markup. */
static void test_hostile_index(void **state)
{
	json_t *builds = json_array();
	json_t *b = build(7, "web", "failed", hostile_msg);
	char *page;

	(void)state;
	json_object_set_new(b, "author", json_string("\"><svg onload=alert(2)> <evil@example.com>"));
	json_object_set_new(b, "reason", json_string("<iframe src=//evil>"));
	json_object_set_new(b, "ref", json_string("refs/heads/<b>x</b>"));
	json_array_append_new(builds, b);
	json_array_append_new(builds, build(8, "<script>repo</script>", "\"><script>", NULL));
	page = render_index(builds, NULL, 0);
	assert_null(strstr(page, "<script"));
	assert_null(strstr(page, "<img"));
	assert_null(strstr(page, "<svg"));
	assert_null(strstr(page, "<iframe"));
	assert_null(strstr(page, "<b>x"));
	assert_non_null(strstr(page, hostile_msg_esc));
	assert_non_null(strstr(page, "&lt;iframe src=//evil&gt;"));
	assert_non_null(strstr(page, "&quot;&gt;&lt;svg onload=alert(2)&gt;</td>"));	/* mail dropped */
	assert_null(strstr(page, "evil@example.com"));
	assert_non_null(strstr(page, "&lt;script&gt;repo&lt;/script&gt;"));
	/* an unknown state gets the neutral class, its text escaped */
	assert_non_null(strstr(page, "class=\"st st-unknown\"><span aria-hidden=\"true\">?</span> &quot;&gt;&lt;script&gt;"));
	/* the first line only on the dashboard, the whole message in the title attribute */
	assert_non_null(strstr(page, "title=\"&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;q&#39;\nsecond line &lt;/pre&gt;"));
	assert_non_null(strstr(page, "&#39;q&#39;\xe2\x80\xa6</span>"));
	free(page);
	json_decref(builds);
}

static void test_hostile_build_page(void **state)
{
	json_t *b = build(7, "web", "running", hostile_msg);
	char *page;

	(void)state;
	json_object_set_new(b, "image", json_string("x\"><script>alert(3)</script>"));
	json_object_set_new(b, "author", json_string("A & B"));
	page = render_build(b, 0);
	assert_int_equal(count(page, "<script"), 1);		/* ours, and only ours */
	assert_int_equal(count(page, "</script>"), 1);
	assert_int_equal(count(page, "</pre>"), 1);
	assert_null(strstr(page, "<img"));
	assert_non_null(strstr(page, hostile_msg_esc));
	assert_non_null(strstr(page, "x&quot;&gt;&lt;script&gt;alert(3)&lt;/script&gt;"));
	assert_non_null(strstr(page, "<dt>Author</dt><dd>A &amp; B</dd>"));
	free(page);
	json_decref(b);
}

static void test_index_structure(void **state)
{
	json_t *builds = json_array(), *b;
	const char *repos[] = { "web", "api", "idle", NULL };
	char *page, *web, *api, *idle;

	(void)state;
	b = build(12, "api", "running", "Add health check");
	json_object_set_new(b, "started", json_string("2026-01-02T03:04:05Z"));
	json_object_set_new(b, "author", json_string("Ada Lovelace <ada@example.com>"));
	json_array_append_new(builds, b);
	b = build(11, "web", "succeeded", "Fix typo");
	json_object_set_new(b, "duration_ms", json_integer(1234));
	json_object_set_new(b, "retry_of", json_integer(3));
	json_array_append_new(builds, b);
	b = build(10, "api", "succeeded", "First");
	json_object_set_new(b, "duration_ms", json_integer(125000));
	json_object_set_new(b, "ref", json_string("refs/tags/v1.0"));
	json_array_append_new(builds, b);
	page = render_index(builds, repos, (time_t)1767323045 + 65);	/* started + 65 s */

	assert_true(strncmp(page, "<!DOCTYPE html>\n<html lang=\"en\">", 32) == 0);
	assert_non_null(strstr(page, "<title>s2i-agent builds</title>"));
	assert_non_null(strstr(page, "<meta http-equiv=\"refresh\""));		/* a build runs */
	assert_null(strstr(page, "<script"));
	assert_null(strstr(page, "http://"));	/* no external assets */
	assert_null(strstr(page, "https://cdn"));
	assert_non_null(strstr(page, "1 running \u00b7 2 succeeded"));
	/* a retry names the build it came from, linked; the others nothing */
	assert_non_null(strstr(page, "<a href=\"builds/11\">#11</a><br><span class=\"dim\">retry of "
				     "<a href=\"builds/3\">#3</a></span>"));
	assert_int_equal(count(page, "retry of"), 1);
	/* grouped per repository, the one with the newest build first, idle last */
	api = strstr(page, "<h2 id=\"repo-0\"><a href=\"?repo=api\">api</a></h2>");
	web = strstr(page, "<h2 id=\"repo-1\"><a href=\"?repo=web\">web</a></h2>");
	idle = strstr(page, "<h2 id=\"repo-2\"><a href=\"?repo=idle\">idle</a></h2>");
	assert_non_null(api);
	assert_non_null(web);
	assert_non_null(idle);
	assert_true(api < web && web < idle);
	assert_true(strstr(page, "href=\"builds/10\"") < web);	/* #10 sits under api */
	assert_non_null(strstr(page, "<a href=\"builds/12\">#12</a>"));
	assert_non_null(strstr(page, "class=\"st st-running\"><span aria-hidden=\"true\">\u25cf</span> running</span>"));
	assert_non_null(strstr(page, "class=\"st st-succeeded\"><span aria-hidden=\"true\">\u2713</span> succeeded</span>"));
	assert_non_null(strstr(page, "<code class=\"sha\" title=\"abcdef1234567890abcdef1234567890abcdef12\">abcdef1</code>"));
	assert_non_null(strstr(page, "<td class=\"cut\">Ada Lovelace</td>"));
	assert_non_null(strstr(page, ">1.2s<"));
	assert_non_null(strstr(page, ">2m 05s<"));
	assert_non_null(strstr(page, ">1m 05s<"));		/* running: now - started */
	/* a ref opens its branch's page */
	assert_non_null(strstr(page, "<td class=\"cut\"><a href=\"?repo=api&amp;ref=refs%2Ftags%2Fv1.0\">tag v1.0</a></td>"));
	assert_non_null(strstr(page, "<td class=\"cut\"><a href=\"?repo=web&amp;ref=refs%2Fheads%2Fmain\">main</a></td>"));
	/* relative times, the absolute one in the title */
	assert_non_null(strstr(page, "<time datetime=\"2026-01-02T03:04:05Z\" title=\"2026-01-02 03:04:05 UTC\">1 min ago</time>"));
	assert_non_null(strstr(page, "<th scope=\"col\">State</th>"));
	assert_non_null(strstr(page, "<th scope=\"col\">Image</th>"));
	/* every table has the same columns, whose widths the stylesheet sets */
	assert_int_equal(count(page, "<colgroup><col class=\"c-st\">"), 2);
	/* the webhook URL stays, builds or not */
	assert_non_null(strstr(page, "Webhook URL: <code>https://ci.example.com/hooks/idle</code></p>\n<p>No builds yet.</p>"));
	assert_non_null(strstr(page, "Webhook URL: <code>https://ci.example.com/hooks/web</code>"));
	assert_non_null(strstr(page, "Webhook URL: <code>https://ci.example.com/hooks/api</code>"));
	/* the state filter: plain links, "all" is the page shown */
	assert_non_null(strstr(page, "<a href=\"./\" aria-current=\"page\">all</a>"));
	assert_non_null(strstr(page, "<a href=\"?state=failed\">failed</a>"));
	assert_null(strstr(page, "Older builds"));
	assert_non_null(strstr(page, "s2i-agent 0.1.0"));
	assert_non_null(strstr(page, "<a href=\"metrics\">"));
	free(page);
	json_decref(builds);
}

/* A repository's branch page, filtered by state, second page: its title, links that
 * keep the filter, pagination both ways; the configured repositories without builds
 * and the refusals are the first page's. */
static void test_index_filtered(void **state)
{
	json_t *builds = json_array(), *b;
	const char *repos[] = { "web", "idle", NULL };
	struct dash_index d = { .repos = repos, .public_url = "https://ci.example.com", .now = 1767323045,
				.repo = "web", .ref = "refs/heads/feature/x y", .state = "failed",
				.before = 40, .older = 31 };
	struct buf out = BUF_INIT(DASH_PAGE_MAX);
	struct err e = ERR_INIT;
	json_t *refusals;
	char *page;

	(void)state;
	b = build(33, "web", "failed", "Break it");
	json_object_set_new(b, "ref", json_string("refs/heads/feature/x y"));
	json_object_set_new(b, "image", json_string("registry.example.com/web:feature-x-y"));
	json_array_append_new(builds, b);
	d.builds = builds;
	d.refusals = refusals = json_pack("[{sI ss ss si ss}]", "time", (json_int_t)1767323000, "repo", "x",
			       "provider", "generic", "code", 404, "reason", "unknown repository");
	assert_int_equal(dash_render_index(&d, &out, &e), 0);
	page = buf_detach(&out, NULL);
	assert_non_null(strstr(page, "<title>web refs/heads/feature/x y \u2014 s2i-agent builds</title>"));
	assert_non_null(strstr(page, "<a href=\"./\">\u2190 all repositories</a>"));
	assert_non_null(strstr(page, "<h1>Builds of web on <a href=\"?repo=web\" title=\"every ref\">feature/x y</a></h1>"));
	assert_non_null(strstr(page, "<a href=\"?repo=web&amp;ref=refs%2Fheads%2Ffeature%2Fx%20y&amp;state=failed\" "
				     "aria-current=\"page\">failed</a>"));
	assert_non_null(strstr(page, "<a href=\"?repo=web&amp;ref=refs%2Fheads%2Ffeature%2Fx%20y\">all</a>"));
	assert_non_null(strstr(page, "<a href=\"?repo=web&amp;ref=refs%2Fheads%2Ffeature%2Fx%20y&amp;state=failed\">"
				     "\u2190 Newest builds</a>"));
	assert_non_null(strstr(page, "<a href=\"?repo=web&amp;ref=refs%2Fheads%2Ffeature%2Fx%20y&amp;state=failed&amp;before=31\" "
				     "rel=\"next\">Older builds \u2192</a>"));
	assert_non_null(strstr(page, "<code title=\"registry.example.com/web:feature-x-y\">registry.example.com/web:feature-x-y</code>"));
	assert_non_null(strstr(page, "1 failed on this page"));
	assert_null(strstr(page, "hooks/idle"));		/* not this repository's page */
	assert_null(strstr(page, "Refused deliveries"));	/* the first page's */
	free(page);
	json_decref(refusals);
	json_decref(builds);
}

static void check_hash(const char *page, const char *open, const char *close);

static char *render_page(const struct dash_index *d)
{
	struct buf out = BUF_INIT(DASH_PAGE_MAX);
	struct err e = ERR_INIT;

	assert_int_equal(dash_render_index(d, &out, &e), 0);
	return buf_detach(&out, NULL);
}

/* A configured repository's page carries the hidden "build a ref" form (the newest
 * build's branch offered) and the script that runs it, whose hash is in the CSP; the
 * dashboard and an unconfigured repository's page have neither. */
static void test_index_build_form(void **state)
{
	json_t *builds = json_array(), *b;
	const char *repos[] = { "we\"b", "idle", NULL };
	struct dash_index d = { .repos = repos, .now = 1767323045, .repo = "we\"b" };
	char *page;

	(void)state;
	b = build(34, "we\"b", "succeeded", NULL);
	json_object_set_new(b, "ref", json_string("refs/tags/v1"));
	json_array_append_new(builds, b);
	b = build(33, "we\"b", "failed", NULL);
	json_object_set_new(b, "ref", json_string("refs/heads/rel<1>"));
	json_array_append_new(builds, b);
	d.builds = builds;
	page = render_page(&d);
	assert_non_null(strstr(page, "<div id=\"actions\" class=\"actions\" hidden data-repo=\"we&quot;b\">"
				     "<form id=\"build-ref\"><label for=\"ref\">Build a ref</label> <input id=\"ref\" required "));
	assert_non_null(strstr(page, " value=\"rel&lt;1&gt;\"> <button type=\"submit\" id=\"act-build\">Build</button>"
				     "<span id=\"act-msg\" role=\"status\"></span></form>\n<form id=\"signin\" hidden>"));
	assert_non_null(strstr(page, "<input type=\"password\" id=\"token\""));
	assert_int_equal(count(page, "<script>"), 1);
	check_hash(page, "<script>", "</script>");
	assert_non_null(strstr(page, "'repos/'+encodeURIComponent(repo)+'/builds'"));
	free(page);

	/* a branch's page offers that branch */
	d.ref = "refs/heads/feature/x";
	page = render_page(&d);
	assert_non_null(strstr(page, " value=\"feature/x\"> <button"));
	free(page);

	/* nothing known: an empty field */
	d.ref = NULL;
	d.builds = NULL;
	d.repo = "idle";
	page = render_page(&d);
	assert_non_null(strstr(page, "data-repo=\"idle\""));
	assert_non_null(strstr(page, " value=\"\"> <button"));
	free(page);

	/* not configured (a removed repository's old builds), and the whole dashboard */
	d.repo = "gone";
	page = render_page(&d);
	assert_null(strstr(page, "id=\"build-ref\""));
	assert_null(strstr(page, "<script"));
	free(page);
	d.repo = NULL;
	d.builds = builds;
	page = render_page(&d);
	assert_null(strstr(page, "id=\"build-ref\""));
	assert_null(strstr(page, "<script"));
	free(page);
	json_decref(builds);
}

/* Commit links from the payload's repository URL; a non-http(s) one links nothing. */
static void test_commit_links(void **state)
{
	static const struct {
		const char *clone_url, *provider, *want;
	} t[] = {
		{ "https://github.com/acme/web.git", "github",
		  "<a href=\"https://github.com/acme/web/commit/abcdef1234567890abcdef1234567890abcdef12\" rel=\"noopener noreferrer\">" },
		{ "https://gitlab.example.com/acme/web.git", "gitlab",
		  "<a href=\"https://gitlab.example.com/acme/web/-/commit/abcdef1234567890abcdef1234567890abcdef12\"" },
		{ "https://git.example.com/acme/web/", "gitea",
		  "<a href=\"https://git.example.com/acme/web/commit/abcdef1234567890abcdef1234567890abcdef12\"" },
		{ "https://git.example.com/a\"b<x>.git", "gitea",
		  "<a href=\"https://git.example.com/a&quot;b&lt;x&gt;/commit/abcdef" },
		{ "javascript:alert(1)//x.git", "github", NULL },
		{ "git@github.com:acme/web.git", "github", NULL },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		json_t *builds = json_array(), *b = build(5, "web", "succeeded", "x");
		char *page;

		json_object_set_new(b, "clone_url", json_string(t[i].clone_url));
		json_object_set_new(b, "provider", json_string(t[i].provider));
		json_array_append_new(builds, b);
		page = render_index(builds, NULL, 0);
		if (t[i].want) {
			assert_non_null(strstr(page, t[i].want));
		} else {
			assert_null(strstr(page, "/commit/"));
			assert_null(strstr(page, "javascript:"));
		}
		free(page);
		json_decref(builds);
	}
}

/* One duration everywhere: tenths rounded half up, as the build log prints them. */
static void test_durations(void **state)
{
	static const struct {
		long long ms;
		const char *want;
	} t[] = {
		{ 0, ">0.0s<" }, { 49, ">0.0s<" }, { 50, ">0.1s<" }, { 749, ">0.7s<" }, { 750, ">0.8s<" },
		{ 1250, ">1.3s<" }, { 59949, ">59.9s<" }, { 59950, ">1m 00s<" }, { 125000, ">2m 05s<" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		json_t *builds = json_array(), *b = build(5, "web", "succeeded", "x");
		char *page;

		json_object_set_new(b, "duration_ms", json_integer(t[i].ms));
		json_array_append_new(builds, b);
		page = render_index(builds, NULL, 0);
		if (!strstr(page, t[i].want))
			fail_msg("%lld ms: no %s", t[i].ms, t[i].want);
		free(page);
		json_decref(builds);
	}
}

static void test_index_idle_and_empty(void **state)
{
	json_t *builds = json_array();
	char *page;

	(void)state;
	page = render_index(builds, NULL, 0);
	assert_null(strstr(page, "http-equiv=\"refresh\""));
	assert_non_null(strstr(page, "No builds yet."));
	assert_non_null(strstr(page, "No repositories configured"));
	free(page);
	json_array_append_new(builds, build(1, "web", "canceled", NULL));
	page = render_index(builds, NULL, 0);
	assert_null(strstr(page, "http-equiv=\"refresh\""));	/* nothing active */
	assert_non_null(strstr(page, "1 canceled"));
	free(page);
	json_decref(builds);
}

static void test_build_structure(void **state)
{
	json_t *b = build(7, "web", "succeeded", "Fix typo\n\nLonger body.");
	char *page;

	(void)state;
	json_object_set_new(b, "image", json_string("registry.example.com/acme/web:main"));
	json_object_set_new(b, "duration_ms", json_integer(61000));
	json_object_set_new(b, "finished", json_string("2026-01-02T03:05:06Z"));
	json_object_set_new(b, "started", json_string("2026-01-02T03:04:07Z"));
	page = render_build(b, 0);
	assert_non_null(strstr(page, "<main data-build=\"7\" data-state=\"succeeded\">"));
	assert_non_null(strstr(page, "<title>succeeded \u2014 build #7 of web</title>"));
	assert_non_null(strstr(page, "<span id=\"state\" aria-live=\"polite\" class=\"st st-succeeded\">"));
	assert_non_null(strstr(page, "<a href=\"../\">"));
	assert_non_null(strstr(page, "<a href=\"7/log\""));
	assert_non_null(strstr(page, "<a href=\"../metrics\">"));
	assert_non_null(strstr(page, "<pre id=\"log\""));
	assert_non_null(strstr(page, "<p id=\"live\" role=\"status\">"));
	assert_non_null(strstr(page, "<dd id=\"duration\">1m 01s</dd>"));
	assert_non_null(strstr(page, "<dd id=\"image\"><code>registry.example.com/acme/web:main</code></dd>"));
	assert_non_null(strstr(page, "<dd id=\"finished\"><time datetime=\"2026-01-02T03:05:06Z\">"));
	assert_non_null(strstr(page, "<dd id=\"reason\">\u2014</dd>"));	/* placeholder the script fills */
	assert_non_null(strstr(page, "<dd class=\"full\">Fix typo\n\nLonger body.</dd>"));
	/* the repository's and the branch's pages */
	assert_non_null(strstr(page, "<a href=\"../?repo=web\">builds of web</a>"));
	assert_non_null(strstr(page, "<a href=\"../?repo=web&amp;ref=refs%2Fheads%2Fmain\">builds of main</a>"));
	/* the queue wait: started - created */
	assert_non_null(strstr(page, "<dt>Queued for</dt><dd>2.0s</dd>"));
	/* cancel and retry: hidden until the script shows them (they need it to send the
	 * token), the token asked in a form, never in a URL */
	assert_non_null(strstr(page, "<div id=\"actions\" class=\"actions\" hidden>"));
	assert_non_null(strstr(page, "data-act=\"cancel\""));
	assert_non_null(strstr(page, "data-act=\"retry\""));
	assert_non_null(strstr(page, "<input type=\"password\" id=\"token\""));
	assert_non_null(strstr(page, "sessionStorage.setItem(K,inp.value)"));
	assert_non_null(strstr(page, "h={Authorization:'Bearer '+t}"));
	assert_non_null(strstr(page, "fetch(q[0],{method:'POST',headers:h,"));
	assert_null(strstr(page, "token="));
	/* the script streams the log, then asks for JSON */
	assert_non_null(strstr(page, "'/log'+(fin[state]?'':'?follow=1')"));
	assert_non_null(strstr(page, "getReader()"));
	assert_non_null(strstr(page, "Accept:'application/json'"));
	assert_null(strstr(page, "http://"));
	assert_null(strstr(page, " style=\""));		/* the CSP allows no style attributes */
	free(page);
	json_decref(b);
}

/* A finished build's log in its page (no JavaScript needed): colour codes dropped,
 * markup escaped, a cut start said; "(no log)" for none; provenance of a retry. */
static void test_build_log_inline(void **state)
{
	json_t *b = build(9, "web", "failed", NULL);
	const char text[] = "step 1\n\x1b[1;31mred\x1b[0m <b>&</b>\n\x1b[?25lhidden cursor\n";
	struct dash_log log = { text, sizeof(text) - 1, 0 };
	struct buf out = BUF_INIT(DASH_PAGE_MAX);
	struct err e = ERR_INIT;
	char *page;

	(void)state;
	json_object_set_new(b, "retry_of", json_integer(4));
	assert_int_equal(dash_render_build(b, &log, 0, &out, &e), 0);
	page = buf_detach(&out, NULL);
	assert_non_null(strstr(page, "aria-label=\"build log\">step 1\nred &lt;b&gt;&amp;&lt;/b&gt;\n"
				     "hidden cursor\n</pre>"));
	assert_null(strstr(page, "\x1b"));
	assert_null(strstr(page, "Loading the log"));
	assert_null(strstr(page, "id=\"log-cut\""));
	assert_non_null(strstr(page, "<dt>Provenance</dt><dd id=\"retry-of\">retry of <a href=\"4\">#4</a></dd>"));
	free(page);

	log.skipped = 12345;
	assert_int_equal(dash_render_build(b, &log, 0, &out, &e), 0);
	page = buf_detach(&out, NULL);
	assert_non_null(strstr(page, "<p class=\"dim\" id=\"log-cut\">The first 12345 bytes"));
	free(page);

	log.len = 0;
	log.skipped = 0;
	assert_int_equal(dash_render_build(b, &log, 0, &out, &e), 0);
	page = buf_detach(&out, NULL);
	assert_non_null(strstr(page, "aria-label=\"build log\">(no log)</pre>"));
	free(page);
	json_decref(b);
	buf_release(&out);
}

static void test_build_errors(void **state)
{
	json_t *b = json_pack("{s:s}", "id", "7");
	struct buf out = BUF_INIT(DASH_PAGE_MAX), small = BUF_INIT(100);
	struct err e = ERR_INIT;

	(void)state;
	assert_int_equal(dash_render_build(b, NULL, 0, &out, &e), -1);
	assert_non_null(strstr(e.msg, "id"));
	json_decref(b);
	b = build(1, "web", "queued", NULL);
	assert_int_equal(dash_render_build(b, NULL, 0, &small, &e), -1);
	assert_non_null(strstr(e.msg, "larger than 100"));
	json_decref(b);
	buf_release(&out);
	buf_release(&small);
}

/* Extracts the text between open and close and checks dash_csp() lists its hash. */
static void check_hash(const char *page, const char *open, const char *close)
{
	const char *s = strstr(page, open), *end;
	unsigned char md[EVP_MAX_MD_SIZE], b64[128];
	unsigned int mdlen;
	char src[160];

	assert_non_null(s);
	s += strlen(open);
	end = strstr(s, close);
	assert_non_null(end);
	assert_int_equal(EVP_Digest(s, (size_t)(end - s), md, &mdlen, EVP_sha256(), NULL), 1);
	EVP_EncodeBlock(b64, md, (int)mdlen);
	snprintf(src, sizeof(src), "'sha256-%s'", (const char *)b64);
	assert_non_null(strstr(dash_csp(), src));
}

static void test_csp(void **state)
{
	json_t *b = build(3, "web", "running", NULL);
	char *page = render_build(b, 0);

	(void)state;
	assert_non_null(strstr(dash_csp(), "default-src 'none'"));
	assert_non_null(strstr(dash_csp(), "connect-src 'self'"));
	assert_null(strstr(dash_csp(), "unsafe-inline"));
	check_hash(page, "<script>", "</script>");
	check_hash(page, "<style>", "</style>");
	assert_ptr_equal(dash_csp(), dash_csp());
	free(page);
	json_decref(b);
}

static void test_negotiation(void **state)
{
	static const struct {
		const char *accept;
		int html;
	} t[] = {
		/* browsers */
		{ "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7", 1 },
		{ "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", 1 },
		{ "application/xhtml+xml", 1 },
		{ "TEXT/HTML", 1 },
		{ "text/*", 1 },
		{ "text/html;level=1", 1 },
		{ "application/json;q=0.5, text/html", 1 },
		{ " text/html ; q=0.9 , application/json ; q=0.8 ", 1 },
		/* API clients, curl, fetch() defaults */
		{ NULL, 0 },
		{ "", 0 },
		{ "*/*", 0 },
		{ "application/json", 0 },
		{ "application/json, text/plain, */*", 0 },
		{ "application/json, text/html", 0 },		/* a tie: JSON */
		{ "text/html;q=0.5, application/json", 0 },
		{ "text/html;q=0, */*", 0 },
		{ "text/html;q=0", 0 },
		{ "application/*, text/html;q=0.9", 0 },
		{ "text/plain", 0 },
		/* malformed: an invalid q drops its range */
		{ "text/html;q=2", 0 },
		{ "text/html;q=0.1234", 0 },
		{ "text/html;q=abc, */*;q=0.1", 0 },
		{ "*", 0 },
		{ ",,,;;;", 0 },
		{ "text/html;q=1.000", 1 },
		{ "text/html;q=1.001", 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (dash_prefers_html(t[i].accept) != t[i].html)
			fail_msg("Accept '%s': expected %s", t[i].accept ? t[i].accept : "(none)",
				 t[i].html ? "HTML" : "JSON");
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_notice),
		cmocka_unit_test(test_escape_table),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_index_filtered),
		cmocka_unit_test(test_index_build_form),
		cmocka_unit_test(test_commit_links),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_escape_cap),
		cmocka_unit_test(test_hostile_index),
		cmocka_unit_test(test_hostile_build_page),
		cmocka_unit_test(test_index_structure),
		cmocka_unit_test(test_index_idle_and_empty),
		cmocka_unit_test(test_build_structure),
		cmocka_unit_test(test_build_errors),
		cmocka_unit_test(test_build_log_inline),
		cmocka_unit_test(test_csp),
		cmocka_unit_test(test_negotiation),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
