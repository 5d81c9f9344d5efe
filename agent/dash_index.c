/* dash_index: the dashboard at GET /: builds grouped per repository, the configured
 * repositories without builds, and the refused deliveries. */
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

static void dash_row(struct dash_page *p, const json_t *b, time_t now)
{
	const json_t *id = json_object_get(b, "id");

	dash_put(p, "<tr><td>");
	dash_badge(p, dash_str(b, "state"), NULL);
	dash_put(p, "</td><td class=\"num\">");
	if (json_is_integer(id))
		dash_putf(p, "<a href=\"builds/%lld\">#%lld</a>", (long long)json_integer_value(id),
			  (long long)json_integer_value(id));
	else
		dash_put(p, "?");
	dash_put(p, "</td><td>");
	dash_ref(p, dash_str(b, "ref"));
	dash_put(p, "</td><td>");
	dash_short_sha(p, dash_str(b, "sha"));
	dash_put(p, "</td><td class=\"msg\">");
	dash_subject(p, dash_str(b, "message"));
	/* why a build did not succeed belongs next to what it built */
	if (dash_nonempty(dash_str(b, "reason")) && dash_is_final(dash_str(b, "state")) &&
	    strcmp(dash_str(b, "state"), "succeeded")) {
		dash_put(p, " <span class=\"dim\">(");
		dash_esc(p, dash_str(b, "reason"));
		dash_put(p, ")</span>");
	}
	dash_put(p, "</td><td>");
	dash_author(p, b);
	dash_put(p, "</td><td class=\"num\">");
	dash_duration(p, b, now);
	dash_put(p, "</td><td>");
	dash_time(p, dash_str(b, "created"));
	dash_put(p, "</td></tr>\n");
}

static void dash_repo_section(struct dash_page *p, const struct dash_index *d, const char *repo,
			      size_t nsection)
{
	size_t i, rows = 0;
	const json_t *b;

	dash_putf(p, "<section aria-labelledby=\"repo-%zu\">\n<h2 id=\"repo-%zu\">", nsection, nsection);
	dash_esc(p, repo);
	dash_put(p, "</h2>\n");
	json_array_foreach(d->builds, i, b) {
		const char *r = dash_str(b, "repo");

		if (strcmp(r ? r : "", repo))
			continue;
		if (!rows++)
			dash_put(p, "<table>\n<thead><tr><th scope=\"col\">State</th>"
				 "<th scope=\"col\" class=\"num\">Build</th><th scope=\"col\">Ref</th>"
				 "<th scope=\"col\">Commit</th><th scope=\"col\">Message</th>"
				 "<th scope=\"col\">Author</th><th scope=\"col\" class=\"num\">Duration</th>"
				 "<th scope=\"col\">Created</th></tr></thead>\n<tbody>\n");
		dash_row(p, b, d->now);
	}
	if (rows) {
		dash_put(p, "</tbody>\n</table>\n");
	} else {
		dash_put(p, "<p class=\"dim\">No builds yet. Webhook URL: <code>");
		dash_esc(p, d->public_url ? d->public_url : "");
		dash_put(p, "/hooks/");
		dash_esc(p, repo);
		dash_put(p, "</code></p>\n");
	}
	dash_put(p, "</section>\n");
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
	dash_put(p, "<table>\n<thead><tr><th scope=\"col\">Time</th><th scope=\"col\">Repository</th>"
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
	int active = 0, any = 0;

	for (i = 0; i < nbuilds; i++) {
		const struct dash_state *s = dash_state_of(dash_str(json_array_get(d->builds, i), "state"));

		if (s)
			counts[s - dash_states]++;
		if (s && !dash_is_final(s->name))
			active = 1;
	}
	dash_head(&p, "s2i-agent builds", active);
	dash_put(&p, "<header>\n<h1>s2i-agent builds</h1>\n<p class=\"dim\">");
	for (k = 0; k < sizeof(counts) / sizeof(counts[0]); k++) {
		if (!counts[k])
			continue;
		dash_putf(&p, "%s%zu %s", any ? " \u00b7 " : "", counts[k], dash_states[k].name);
		any = 1;
	}
	if (!any)
		dash_put(&p, "No builds yet.");
	if (active)
		dash_putf(&p, " (this page reloads every %d seconds while builds run)", DASH_REFRESH_SECONDS);
	dash_put(&p, "</p>\n</header>\n<main>\n");

	/* Repositories in the order of their newest build, then configured ones without builds. */
	for (i = 0; i < nbuilds; i++) {
		const char *r = dash_str(json_array_get(d->builds, i), "repo");

		if (dash_repo_seen(d->builds, i, r ? r : ""))
			continue;
		dash_repo_section(&p, d, r ? r : "", nsection++);
	}
	for (i = 0; d->repos && d->repos[i]; i++) {
		int seen = 0;

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
	if (!nsection)
		dash_put(&p, "<p>No repositories configured: add a <code>[repo \"NAME\"]</code> section to the "
			 "configuration (see <code>man s2i-agent.conf</code>).</p>\n");
	dash_refusals(&p, d);
	dash_put(&p, "</main>\n");
	dash_foot(&p, d->version, "");
	dash_put(&p, "</body>\n</html>\n");
	return dash_done(&p, e);
}
