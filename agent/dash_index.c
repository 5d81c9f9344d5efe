/* dash_index: the dashboard at GET /: builds grouped per repository, the configured
 * repositories without builds, the refused deliveries, and on a repository's page the
 * form that builds a ref. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "dash.h"
#include "dash_int.h"
#include "limits.h"

/* Is name already among the first n builds' repositories? */
static int dash_repo_seen(const json_t *builds, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++) {
		const char *r = dash_str(json_array_get(builds, i), "repo");

		if (!strcmp(name, r ? r : ""))
			return 1;
	}
	return 0;
}

/* The columns, with the widths the stylesheet gives their classes: every repository's
 * table lines up with the others */
static const char dash_cols[] =
	"<colgroup><col class=\"c-st\"><col class=\"c-id\"><col class=\"c-ref\"><col class=\"c-sha\">"
	"<col class=\"c-msg\"><col class=\"c-img\"><col class=\"c-by\"><col class=\"c-dur\">"
	"<col class=\"c-at\"></colgroup>\n"
	"<thead><tr><th scope=\"col\">State</th><th scope=\"col\" class=\"num\">Build</th>"
	"<th scope=\"col\">Ref</th><th scope=\"col\">Commit</th><th scope=\"col\">Message</th>"
	"<th scope=\"col\">Image</th><th scope=\"col\">Author</th>"
	"<th scope=\"col\" class=\"num\">Duration</th><th scope=\"col\">Created</th></tr></thead>\n";

static void dash_row(struct dash_page *p, const json_t *b, const struct dash_index *d)
{
	const json_t *id = json_object_get(b, "id");
	const char *ref = dash_str(b, "ref"), *image = dash_str(b, "image");
	long long wait = dash_wait_ms(b, d->now);

	dash_put(p, "<tr><td>");
	dash_badge(p, dash_str(b, "state"), NULL);
	/* a fleet: the labels an agent needs to take it */
	if (dash_nonempty(dash_str(b, "run_on"))) {
		dash_put(p, "<br><span class=\"dim\">needs ");
		dash_esc(p, dash_str(b, "run_on"));
		if (json_is_false(json_object_get(b, "runs_here")))
			dash_put(p, " (not this agent)");
		dash_put(p, "</span>");
	}
	dash_put(p, "</td><td class=\"num\">");
	if (json_is_integer(id))
		dash_putf(p, "<a href=\"builds/%lld\">#%lld</a>", (long long)json_integer_value(id),
			  (long long)json_integer_value(id));
	else
		dash_put(p, "?");
	if (json_is_integer(json_object_get(b, "retry_of"))) {
		dash_put(p, "<br><span class=\"dim\">");
		dash_retry_of(p, b, "builds/");
		dash_put(p, "</span>");
	}
	dash_agent(p, b);
	dash_put(p, "</td><td class=\"cut\">");
	/* the ref opens the branch's page */
	if (dash_nonempty(ref)) {
		dash_put(p, "<a href=\"");
		dash_href(p, "", dash_str(b, "repo"), ref, NULL, 0);
		dash_put(p, "\">");
		dash_ref(p, ref);
		dash_put(p, "</a>");
	} else {
		dash_ref(p, ref);
	}
	dash_put(p, "</td><td>");
	dash_commit(p, b);
	dash_put(p, "</td><td class=\"msg\">");
	dash_subject(p, dash_str(b, "message"));
	/* why a build did not succeed belongs next to what it built */
	if (dash_nonempty(dash_str(b, "reason")) && dash_is_final(dash_str(b, "state")) &&
	    strcmp(dash_str(b, "state"), "succeeded")) {
		dash_put(p, " <span class=\"dim\">(");
		dash_esc(p, dash_str(b, "reason"));
		dash_put(p, ")</span>");
	}
	dash_put(p, "</td><td class=\"cut\">");
	if (dash_nonempty(image)) {
		dash_put(p, "<code title=\"");
		dash_esc(p, image);
		dash_put(p, "\">");
		dash_esc(p, image);
		dash_put(p, "</code>");
	} else {
		dash_put(p, "\u2014");
	}
	dash_put(p, "</td><td class=\"cut\">");
	dash_author(p, b);
	dash_put(p, "</td><td class=\"num\">");
	dash_duration(p, b, d->now);
	if (wait >= 1000) {
		dash_put(p, "<br><span class=\"dim\">waited ");
		dash_duration_ms(p, wait);
		dash_put(p, "</span>");
	}
	dash_put(p, "</td><td>");
	dash_ago(p, dash_str(b, "created"), d->now);
	dash_put(p, "</td></tr>\n");
}

static void dash_repo_section(struct dash_page *p, const struct dash_index *d, const char *repo,
			      size_t nsection)
{
	size_t i, rows = 0;
	const json_t *b;

	dash_putf(p, "<section aria-labelledby=\"repo-%zu\">\n<h2 id=\"repo-%zu\"><a href=\"", nsection,
		  nsection);
	dash_href(p, "", repo, NULL, NULL, 0);
	dash_put(p, "\">");
	dash_esc(p, repo);
	dash_put(p, "</a></h2>\n");
	/* where to point the forge, whether or not builds came already */
	dash_put(p, "<p class=\"dim\">Webhook URL: <code>");
	dash_esc(p, d->public_url ? d->public_url : "");
	dash_put(p, "/hooks/");
	dash_esc(p, repo);
	dash_put(p, "</code></p>\n");
	json_array_foreach(d->builds, i, b) {
		const char *r = dash_str(b, "repo");

		if (strcmp(r ? r : "", repo))
			continue;
		if (!rows++) {
			dash_put(p, "<table>\n");
			dash_put(p, dash_cols);
			dash_put(p, "<tbody>\n");
		}
		dash_row(p, b, d);
	}
	if (rows)
		dash_put(p, "</tbody>\n</table>\n");
	else
		dash_put(p, d->state || d->before ? "<p>No builds here.</p>\n" : "<p>No builds yet.</p>\n");
	dash_put(p, "</section>\n");
}

/* The ref the build form offers: the page's branch, else the branch of the repository's
 * newest build listed; NULL: none known */
static const char *dash_default_ref(const struct dash_index *d)
{
	const char *ref = d->ref;
	size_t i;

	for (i = 0; !ref && json_is_array(d->builds) && i < json_array_size(d->builds); i++) {
		const json_t *b = json_array_get(d->builds, i);
		const char *r = dash_str(b, "repo");

		if (r && !strcmp(r, d->repo) && dash_str(b, "ref") && !strncmp(dash_str(b, "ref"), "refs/heads/", 11))
			ref = dash_str(b, "ref");
	}
	if (ref && !strncmp(ref, "refs/heads/", 11))
		ref += 11;
	return ref;
}

/* "Build a ref" on a configured repository's page, for holders of the admin token: the
 * script shows it and sends POST /repos/NAME/builds with the token (dash_signin) */
static int dash_build_form(struct dash_page *p, const struct dash_index *d)
{
	size_t i;

	for (i = 0; d->repos && d->repos[i] && strcmp(d->repos[i], d->repo); i++)
		;
	if (!d->repos || !d->repos[i])
		return 0;
	dash_put(p, "<div id=\"actions\" class=\"actions\" hidden data-repo=\"");
	dash_esc(p, d->repo);
	dash_put(p, "\"><form id=\"build-ref\"><label for=\"ref\">Build a ref</label> "
		 "<input id=\"ref\" required autocomplete=\"off\" spellcheck=\"false\" size=\"30\" "
		 "placeholder=\"branch, refs/tags/NAME or commit\" value=\"");
	dash_esc(p, dash_default_ref(d));
	dash_put(p, "\"> <button type=\"submit\" id=\"act-build\">Build</button>"
		 "<span id=\"act-msg\" role=\"status\"></span></form>\n");
	dash_signin(p);
	dash_put(p, "</div>\n");
	return 1;
}

/* "State: all · queued · …", links that keep the repository and ref; the one shown is
 * marked for assistive technology too. Plain links: they work without JavaScript. */
static void dash_filters(struct dash_page *p, const struct dash_index *d)
{
	size_t k;

	dash_put(p, "<nav aria-label=\"filter by state\" class=\"bar\">State: ");
	dash_put(p, "<a href=\"");
	dash_href(p, "", d->repo, d->ref, NULL, 0);
	dash_put(p, d->state ? "\">all</a>" : "\" aria-current=\"page\">all</a>");
	for (k = 0; k < DASH_NSTATES; k++) {
		dash_put(p, " \u00b7 <a href=\"");
		dash_href(p, "", d->repo, d->ref, dash_states[k].name, 0);
		dash_put(p, "\"");
		if (d->state && !strcmp(d->state, dash_states[k].name))
			dash_put(p, " aria-current=\"page\"");
		dash_putf(p, ">%s</a>", dash_states[k].name);
	}
	dash_put(p, "</nav>\n");
}

static void dash_pages(struct dash_page *p, const struct dash_index *d)
{
	if (!d->before && !d->older)
		return;
	dash_put(p, "<nav aria-label=\"pages\" class=\"bar\">");
	if (d->before) {
		dash_put(p, "<a href=\"");
		dash_href(p, "", d->repo, d->ref, d->state, 0);
		dash_put(p, "\">\u2190 Newest builds</a>");
	}
	if (d->before && d->older)
		dash_put(p, " \u00b7 ");
	if (d->older) {
		dash_put(p, "<a href=\"");
		dash_href(p, "", d->repo, d->ref, d->state, d->older);
		dash_put(p, "\" rel=\"next\">Older builds \u2192</a>");
	}
	dash_put(p, "</nav>\n");
}

/* Who was turned away at /hooks/: a misrouted webhook or a wrong secret shows here, not
 * only in the log. Never a body or a signature: the name as sent, the provider, why. */
static void dash_refusals(struct dash_page *p, const struct dash_index *d)
{
	const json_t *r;
	char when[32];
	struct tm tm;
	time_t t;
	size_t i;

	if (!json_is_array(d->refusals) || !json_array_size(d->refusals))
		return;
	dash_put(p, "<section aria-labelledby=\"refused\">\n<h2 id=\"refused\">Refused deliveries</h2>\n");
	dash_putf(p, "<p class=\"dim\">%llu since the agent started; the last %zu:</p>\n", d->nrefused,
		  json_array_size(d->refusals));
	dash_put(p, "<table class=\"auto\">\n<thead><tr><th scope=\"col\">Time</th><th scope=\"col\">Repository</th>"
		 "<th scope=\"col\">Provider</th><th scope=\"col\" class=\"num\">Answer</th>"
		 "<th scope=\"col\">Reason</th></tr></thead>\n<tbody>\n");
	json_array_foreach(d->refusals, i, r) {
		t = (time_t)json_integer_value(json_object_get(r, "time"));
		gmtime_r(&t, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		dash_put(p, "<tr><td>");
		dash_time(p, when);
		dash_put(p, "</td><td><code>");
		dash_esc(p, dash_str(r, "repo"));
		dash_put(p, "</code></td><td>");
		dash_esc(p, dash_str(r, "provider"));
		dash_putf(p, "</td><td class=\"num\">%lld</td><td class=\"msg\">",
			  (long long)json_integer_value(json_object_get(r, "code")));
		dash_esc(p, dash_str(r, "reason"));
		dash_put(p, "</td></tr>\n");
	}
	dash_put(p, "</tbody>\n</table>\n</section>\n");
}

int dash_render_index(const struct dash_index *d, struct buf *out, struct err *e)
{
	struct dash_page p = { out, 0 };
	size_t i, k, nsection = 0, counts[sizeof(dash_states) / sizeof(dash_states[0])] = { 0 };
	size_t nbuilds = json_is_array(d->builds) ? json_array_size(d->builds) : 0;
	const json_t *b;
	int active = 0, any = 0, form = 0;
	char title[400];

	for (i = 0; i < nbuilds; i++) {
		const struct dash_state *s = dash_state_of(dash_str(json_array_get(d->builds, i), "state"));

		if (s)
			counts[s - dash_states]++;
		if (s && !dash_is_final(s->name))
			active = 1;
	}
	if (d->repo)
		snprintf(title, sizeof(title), "%.100s%s%.200s \u2014 s2i-agent builds", d->repo,
			 d->ref ? " " : "", d->ref ? d->ref : "");
	else
		snprintf(title, sizeof(title), "s2i-agent builds");
	dash_head(&p, title, active);
	dash_put(&p, "<header>\n");
	if (d->repo) {
		dash_put(&p, "<p><a href=\"./\">\u2190 all repositories</a></p>\n<h1>Builds of ");
		dash_esc(&p, d->repo);
		if (d->ref) {
			dash_put(&p, " on <a href=\"");
			dash_href(&p, "", d->repo, NULL, NULL, 0);
			dash_put(&p, "\" title=\"every ref\">");
			dash_ref(&p, d->ref);
			dash_put(&p, "</a>");
		}
		dash_put(&p, "</h1>\n");
	} else {
		dash_put(&p, "<h1>s2i-agent builds</h1>\n");
	}
	dash_put(&p, "<p class=\"dim\">");
	for (k = 0; k < sizeof(counts) / sizeof(counts[0]); k++) {
		if (!counts[k])
			continue;
		dash_putf(&p, "%s%zu %s", any ? " \u00b7 " : "", counts[k], dash_states[k].name);
		any = 1;
	}
	if (!any)
		dash_put(&p, "No builds yet.");
	else if (d->older || d->before)
		dash_put(&p, " on this page");
	if (active)
		dash_putf(&p, " (this page reloads every %d seconds while builds run)", DASH_REFRESH_SECONDS);
	dash_put(&p, "</p>\n");
	dash_filters(&p, d);
	if (d->repo)
		form = dash_build_form(&p, d);
	if (d->notice && *d->notice) {
		dash_put(&p, "<p class=\"notice\"><strong>");
		dash_esc(&p, d->notice);
		dash_put(&p, "</strong></p>\n");
	}
	dash_put(&p, "</header>\n<main>\n");

	/* Repositories in the order of their newest build, then configured ones without
	 * builds (on the first, unfiltered page; a repository's page shows only its own). */
	for (i = 0; i < nbuilds; i++) {
		const char *r = dash_str(json_array_get(d->builds, i), "repo");

		if (dash_repo_seen(d->builds, i, r ? r : ""))
			continue;
		dash_repo_section(&p, d, r ? r : "", nsection++);
	}
	for (i = 0; d->repos && d->repos[i] && !d->before && (!d->state || d->repo); i++) {
		int seen = 0;

		if (d->repo && strcmp(d->repo, d->repos[i]))
			continue;
		json_array_foreach(d->builds, k, b) {
			const char *r = dash_str(b, "repo");

			if (r && !strcmp(r, d->repos[i])) {
				seen = 1;
				break;
			}
		}
		if (!seen)
			dash_repo_section(&p, d, d->repos[i], nsection++);
	}
	if (!nsection && (d->repo || d->state || d->before))
		dash_put(&p, "<p>No builds here.</p>\n");
	else if (!nsection)
		dash_put(&p, "<p>No repositories configured: add a <code>[repo \"NAME\"]</code> section to the "
			 "configuration (see <code>man s2i-agent.conf</code>).</p>\n");
	dash_pages(&p, d);
	if (!d->repo && !d->state && !d->before)
		dash_refusals(&p, d);
	dash_put(&p, "</main>\n");
	if (form)		/* the script only where it has something to do */
		dash_script_tag(&p);
	dash_foot(&p, d->version, "");
	dash_put(&p, "</body>\n</html>\n");
	return dash_done(&p, e);
}
