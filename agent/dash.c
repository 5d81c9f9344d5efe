/* dash: renders the dashboard and build pages from build objects, and negotiates HTML vs JSON.
 * Everything that comes from the database goes through dash_escape; the pages load nothing external. */
#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>


#include "dash.h"
#include "codec.h"
#include "digest.h"
#include "limits.h"

#define DASH_STR2(x) #x
#define DASH_STR(x) DASH_STR2(x)

/* One stylesheet for both pages; classes only (no style attributes), so the
 * CSP can allow exactly this text by its hash. Colours meet WCAG AA contrast
 * on the page background and every state also carries a symbol and a word. */
static const char dash_style[] =
	":root{color-scheme:light dark;--fg:#1f1f1f;--bg:#fff;--dim:#5f6368;--line:#d0d0d0;"
	"--ok:#116329;--bad:#b3261e;--err:#8a4600;--run:#0b57d0;--wait:#5f6368}"
	"@media (prefers-color-scheme:dark){:root{--fg:#e8e8e8;--bg:#161616;--dim:#a8adb3;"
	"--line:#3a3a3a;--ok:#6dd58c;--bad:#ff8a80;--err:#ffb74d;--run:#8ab4f8;--wait:#b0b4b9}}"
	"body{font:15px/1.45 system-ui,sans-serif;color:var(--fg);background:var(--bg);"
	"margin:0 auto;max-width:75rem;padding:0 1rem 2rem}"
	"a{color:var(--run)}h1{font-size:1.4rem;margin:1rem 0 .3rem}h2{font-size:1.15rem;margin:1.6rem 0 .4rem}"
	".dim,footer{color:var(--dim)}footer{margin-top:2rem;font-size:.9em}"
	"table{border-collapse:collapse;width:100%}"
	"th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid var(--line);vertical-align:top}"
	"th{font-weight:600;font-size:.9em;color:var(--dim)}"
	"code,.sha,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}"
	".st{display:inline-block;padding:0 .55em;border:1px solid;border-radius:1em;font-weight:600;white-space:nowrap}"
	".st-succeeded{color:var(--ok)}.st-failed{color:var(--bad)}.st-errored{color:var(--err)}"
	".st-running{color:var(--run)}.st-queued,.st-canceled,.st-unknown{color:var(--wait)}"
	".msg{overflow-wrap:anywhere}.num{text-align:right;white-space:nowrap}time{white-space:nowrap}"
	"dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:1rem 0}"
	"dt{color:var(--dim)}dd{margin:0;overflow-wrap:anywhere}.full{white-space:pre-wrap}"
	"pre#log{background:#111;color:#e8e8e8;padding:1rem;border-radius:.3rem;white-space:pre-wrap;"
	"overflow-wrap:anywhere;min-height:4rem}"
	"#live{min-height:1.4em;color:var(--dim)}";

/* The build page's script: reads the log (live while the build runs) with a
 * streaming fetch, then the build's JSON for the final state. Constant text:
 * per-page data comes from the data-build/data-state attributes of <main>. */
static const char dash_script[] =
	"(function(){'use strict';"
	"var m=document.querySelector('main[data-build]');if(!m||!window.fetch||!window.TextDecoder)return;"
	"var id=m.getAttribute('data-build'),state=m.getAttribute('data-state');"
	"var fin={succeeded:1,failed:1,errored:1,canceled:1};"
	"var sym={queued:'\\u25cb',running:'\\u25cf',succeeded:'\\u2713',failed:'\\u2717',errored:'!',canceled:'\\u2298'};"
	"var pre=document.getElementById('log'),live=document.getElementById('live'),txt=document.createTextNode('');"
	"function say(s){live.textContent=s;}"
	"function sleep(ms){return new Promise(function(r){setTimeout(r,ms);});}"
	"function atEnd(){var d=document.documentElement;return window.innerHeight+window.scrollY>=d.scrollHeight-48;}"
	"function add(s){var e=atEnd();txt.appendData(s.replace(/\\u001b\\[[0-9;?]*[A-Za-z]/g,''));"
	"if(e)window.scrollTo(0,document.documentElement.scrollHeight);}"
	"function pad(n){return n<10?'0'+n:''+n;}"
	"function dur(ms){var s=ms/1000;if(s<60)return s.toFixed(1)+'s';var mi=Math.floor(s/60);"
	"if(mi<60)return mi+'m '+pad(Math.floor(s%60))+'s';return Math.floor(mi/60)+'h '+pad(mi%60)+'m';}"
	"function tm(t){return t?t.replace('T',' ').replace(/(\\.\\d+)?Z$/,' UTC'):'';}"
	"function set(k,v){var e=document.getElementById(k);if(e&&v!==undefined&&v!==null&&v!=='')e.textContent=v;}"
	"async function refresh(){"
	"var r=await fetch(id,{headers:{Accept:'application/json'},cache:'no-store'});if(!r.ok)return;"
	"var b=await r.json();if(!b||typeof b.state!=='string')return;state=b.state;"
	"var e=document.getElementById('state');e.className='st st-'+(sym[state]?state:'unknown');"
	"e.firstChild.textContent=sym[state]||'?';e.lastChild.data=' '+state;"
	"set('started',tm(b.started));set('finished',tm(b.finished));"
	"if(typeof b.duration_ms==='number')set('duration',dur(b.duration_ms));"
	"set('image',b.image);set('image_id',b.image_id);set('reason',b.reason);"
	"document.title=document.title.replace(/^\\S+/,state);}"
	"async function follow(){"
	"var r=await fetch(id+'/log'+(fin[state]?'':'?follow=1'),{cache:'no-store'});"
	"if(!r.ok||!r.body)return false;"
	"if(txt.parentNode!==pre){pre.textContent='';pre.appendChild(txt);}txt.data='';"
	"var rd=r.body.getReader(),dec=new TextDecoder();"
	"for(;;){var c=await rd.read();if(c.done)break;add(dec.decode(c.value,{stream:true}));}"
	"add(dec.decode());return true;}"
	"async function run(){for(;;){var ok=false;"
	"say(fin[state]?'loading the log\\u2026':'following the log live\\u2026');"
	"try{ok=await follow();await refresh();}catch(x){say('connection lost, retrying\\u2026');}"
	"if(fin[state]){if(!ok&&txt.parentNode!==pre)pre.textContent='(no log)';say('build '+state);return;}"
	"if(!ok)say('waiting for the build to start\\u2026');"
	"await sleep(" DASH_STR(DASH_FOLLOW_RETRY_MS) ");}}"
	"run();})();";

struct dash_state {
	const char *name;
	const char *symbol;	/* decorative: the word is always there too */
};

static const struct dash_state dash_states[] = {
	{ "queued", "\u25cb" },
	{ "running", "\u25cf" },
	{ "succeeded", "\u2713" },
	{ "failed", "\u2717" },
	{ "errored", "!" },
	{ "canceled", "\u2298" },
};

/* A page under construction: appends stop counting once one fails. */
struct dash_page {
	struct buf *out;
	int failed;
};

static void dash_put(struct dash_page *p, const char *s)
{
	if (!p->failed && buf_addstr(p->out, s) < 0)
		p->failed = 1;
}

static void dash_putf(struct dash_page *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void dash_putf(struct dash_page *p, const char *fmt, ...)
{
	va_list ap;

	if (p->failed)
		return;
	va_start(ap, fmt);
	if (buf_vaddf(p->out, fmt, ap) < 0)
		p->failed = 1;
	va_end(ap);
}

static void dash_esc(struct dash_page *p, const char *s)
{
	if (!p->failed && s && dash_escape(p->out, s, strlen(s)) < 0)
		p->failed = 1;
}

static void dash_escn(struct dash_page *p, const char *s, size_t n)
{
	if (!p->failed && dash_escape(p->out, s, n) < 0)
		p->failed = 1;
}

int dash_escape(struct buf *out, const char *s, size_t n)
{
	size_t i, start = 0;
	const char *rep;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		switch (c) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '"': rep = "&quot;"; break;
		case '\'': rep = "&#39;"; break;
		case '\t': case '\n': case '\r': continue;
		default:
			if (c >= 0x20 && c != 0x7f)
				continue;
			rep = "\xef\xbf\xbd";	/* U+FFFD: controls have no place in a page */
		}
		if (buf_add(out, s + start, i - start) < 0 || buf_addstr(out, rep) < 0)
			return -1;
		start = i + 1;
	}
	return buf_add(out, s + start, n - start);
}

static const char *dash_str(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

static int dash_nonempty(const char *s)
{
	return s && *s;
}

/* "Name <mail>" shows as "Name"; an object {"name": …} as its name. */
static void dash_author(struct dash_page *p, const json_t *b)
{
	const json_t *v = json_object_get(b, "author");
	const char *s = NULL, *lt;

	if (json_is_string(v))
		s = json_string_value(v);
	else if (json_is_object(v))
		s = dash_str(v, "name");
	if (!s)
		return;
	lt = strstr(s, " <");
	dash_escn(p, s, lt && lt != s ? (size_t)(lt - s) : strlen(s));
}

static const struct dash_state *dash_state_of(const char *state)
{
	size_t i;

	for (i = 0; state && i < sizeof(dash_states) / sizeof(dash_states[0]); i++)
		if (!strcmp(state, dash_states[i].name))
			return &dash_states[i];
	return NULL;
}

static int dash_is_final(const char *state)
{
	return state && (!strcmp(state, "succeeded") || !strcmp(state, "failed") ||
			 !strcmp(state, "errored") || !strcmp(state, "canceled"));
}

/* The state badge: symbol (hidden from screen readers) and word. An id makes
 * it the live region the build page's script updates. */
static void dash_badge(struct dash_page *p, const char *state, const char *id)
{
	const struct dash_state *s = dash_state_of(state);

	dash_put(p, "<span");
	if (id)
		dash_putf(p, " id=\"%s\" aria-live=\"polite\"", id);
	dash_putf(p, " class=\"st st-%s\"><span aria-hidden=\"true\">%s</span> ",
		  s ? s->name : "unknown", s ? s->symbol : "?");
	dash_esc(p, state ? state : "unknown");
	dash_put(p, "</span>");
}

/* Parses the RFC 3339 times the agent writes ("2026-01-02T03:04:05Z", with
 * optional fraction) as UTC; anything else is 0. */
static time_t dash_parse_time(const char *s)
{
	struct tm tm;
	const char *rest;

	if (!s)
		return 0;
	memset(&tm, 0, sizeof(tm));
	rest = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!rest)
		return 0;
	return timegm(&tm);
}

/* <time datetime="…">2026-01-02 03:04:05 UTC</time>, or the text as-is. */
static void dash_time(struct dash_page *p, const char *s)
{
	size_t n;

	if (!dash_nonempty(s)) {
		dash_put(p, "\u2014");
		return;
	}
	dash_put(p, "<time datetime=\"");
	dash_esc(p, s);
	dash_put(p, "\">");
	n = strlen(s);
	if (n >= 20 && s[10] == 'T' && s[n - 1] == 'Z' && dash_parse_time(s)) {
		dash_escn(p, s, 10);
		dash_put(p, " ");
		dash_escn(p, s + 11, 8);
		dash_put(p, " UTC");
	} else {
		dash_esc(p, s);
	}
	dash_put(p, "</time>");
}

static void dash_duration_ms(struct dash_page *p, long long ms)
{
	long long s, m;

	if (ms < 0)
		ms = 0;
	s = ms / 1000;
	m = s / 60;
	if (ms < 60000)
		dash_putf(p, "%lld.%llds", ms / 1000, (ms % 1000) / 100);
	else if (m < 60)
		dash_putf(p, "%lldm %02llds", m, s % 60);
	else
		dash_putf(p, "%lldh %02lldm", m / 60, m % 60);
}

/* duration_ms when the build has one; for a running build now - started. */
static void dash_duration(struct dash_page *p, const json_t *b, time_t now)
{
	const json_t *v = json_object_get(b, "duration_ms");
	time_t started;

	if (json_is_integer(v)) {
		dash_duration_ms(p, (long long)json_integer_value(v));
		return;
	}
	if (json_is_real(v)) {
		dash_duration_ms(p, (long long)json_real_value(v));
		return;
	}
	started = dash_parse_time(dash_str(b, "started"));
	if (now && started && now >= started && !dash_is_final(dash_str(b, "state"))) {
		dash_duration_ms(p, (long long)(now - started) * 1000);
		return;
	}
	dash_put(p, "\u2014");
}

/* refs/heads/main -> main, refs/tags/v1 -> tag v1, anything else as-is. */
static void dash_ref(struct dash_page *p, const char *ref)
{
	if (!ref) {
		dash_put(p, "\u2014");
		return;
	}
	if (!strncmp(ref, "refs/heads/", 11)) {
		dash_esc(p, ref + 11);
	} else if (!strncmp(ref, "refs/tags/", 10)) {
		dash_put(p, "tag ");
		dash_esc(p, ref + 10);
	} else {
		dash_esc(p, ref);
	}
}

/* First line of the commit message, cut at DASH_SUBJECT_MAX bytes on a UTF-8
 * boundary; the whole message goes into the title attribute. */
static void dash_subject(struct dash_page *p, const char *msg)
{
	size_t n;
	int cut = 0;

	if (!msg)
		return;
	n = strcspn(msg, "\r\n");
	if (n > DASH_SUBJECT_MAX) {
		n = DASH_SUBJECT_MAX;
		while (n > 0 && ((unsigned char)msg[n] & 0xc0) == 0x80)
			n--;
		cut = 1;
	}
	dash_put(p, "<span title=\"");
	dash_esc(p, msg);
	dash_put(p, "\">");
	dash_escn(p, msg, n);
	if (cut || msg[strcspn(msg, "\r\n")])
		dash_put(p, "\u2026");
	dash_put(p, "</span>");
}

static void dash_short_sha(struct dash_page *p, const char *sha)
{
	if (!sha) {
		dash_put(p, "\u2014");
		return;
	}
	dash_put(p, "<code class=\"sha\" title=\"");
	dash_esc(p, sha);
	dash_put(p, "\">");
	dash_escn(p, sha, strnlen(sha, DASH_SHORT_SHA));
	dash_put(p, "</code>");
}

static void dash_head(struct dash_page *p, const char *title, int refresh)
{
	dash_put(p, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
		 "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
		 "<meta name=\"referrer\" content=\"no-referrer\">\n");
	if (refresh)
		dash_putf(p, "<meta http-equiv=\"refresh\" content=\"%d\">\n", DASH_REFRESH_SECONDS);
	dash_put(p, "<link rel=\"icon\" href=\"data:,\">\n<title>");
	dash_esc(p, title);
	dash_put(p, "</title>\n<style>");
	dash_put(p, dash_style);
	dash_put(p, "</style>\n</head>\n<body>\n");
}

/* up: "" on the dashboard, "../" on a build page (links stay relative). */
static void dash_foot(struct dash_page *p, const char *version, const char *up)
{
	dash_put(p, "<footer>s2i-agent");
	if (version) {
		dash_put(p, " ");
		dash_esc(p, version);
	}
	dash_putf(p, " \u00b7 <a href=\"%sbuilds\">builds as JSON</a> \u00b7 <a href=\"%smetrics\">metrics</a>"
		  " \u00b7 <a href=\"%shealthz\">health</a></footer>\n", up, up, up);
}

static int dash_done(struct dash_page *p, struct err *e)
{
	if (p->failed)
		return err_set(e, "page larger than %zu bytes", p->out->max);
	return 0;
}

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
	dash_put(&p, "</p>\n");
	if (d->notice && *d->notice) {
		dash_put(&p, "<p class=\"notice\"><strong>");
		dash_esc(&p, d->notice);
		dash_put(&p, "</strong></p>\n");
	}
	dash_put(&p, "</header>\n<main>\n");

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
	dash_put(&p, "</main>\n");
	dash_foot(&p, d->version, "");
	dash_put(&p, "</body>\n</html>\n");
	return dash_done(&p, e);
}

/* A <dt>/<dd> pair; id names the <dd> the script updates (empty -> "—"). */
static void dash_field(struct dash_page *p, const char *label, const char *id, const char *value,
		       int code)
{
	dash_putf(p, "<dt>%s</dt><dd", label);
	if (id)
		dash_putf(p, " id=\"%s\"", id);
	dash_put(p, ">");
	if (dash_nonempty(value)) {
		if (code)
			dash_put(p, "<code>");
		dash_esc(p, value);
		if (code)
			dash_put(p, "</code>");
	} else {
		dash_put(p, "\u2014");
	}
	dash_put(p, "</dd>\n");
}

static void dash_time_field(struct dash_page *p, const char *label, const char *id, const char *value)
{
	dash_putf(p, "<dt>%s</dt><dd id=\"%s\">", label, id);
	dash_time(p, value);
	dash_put(p, "</dd>\n");
}

int dash_render_build(const json_t *build, time_t now, struct buf *out, struct err *e)
{
	struct dash_page p = { out, 0 };
	const json_t *idv = json_object_get(build, "id");
	const char *state = dash_str(build, "state"), *repo = dash_str(build, "repo");
	const char *msg = dash_str(build, "message");
	const struct dash_state *st = dash_state_of(state);
	long long id;
	char title[256];

	if (!json_is_integer(idv))
		return err_set(e, "build object without an integer id");
	id = (long long)json_integer_value(idv);
	/* The script rewrites the title's first word with the state. */
	snprintf(title, sizeof(title), "%s \u2014 build #%lld of %.100s", st ? st->name : "unknown", id,
		 repo ? repo : "?");
	dash_head(&p, title, 0);
	dash_putf(&p, "<main data-build=\"%lld\" data-state=\"%s\">\n", id, st ? st->name : "unknown");
	dash_put(&p, "<p><a href=\"../\">\u2190 all builds</a></p>\n");
	dash_putf(&p, "<h1>Build #%lld of ", id);
	dash_esc(&p, repo ? repo : "?");
	dash_put(&p, " ");
	dash_badge(&p, state, "state");
	dash_put(&p, "</h1>\n<dl>\n");
	dash_field(&p, "Repository", NULL, repo, 0);
	dash_field(&p, "Ref", NULL, dash_str(build, "ref"), 1);
	dash_field(&p, "Commit", NULL, dash_str(build, "sha"), 1);
	if (msg) {
		dash_put(&p, "<dt>Message</dt><dd class=\"full\">");
		dash_esc(&p, msg);
		dash_put(&p, "</dd>\n");
	}
	if (json_object_get(build, "author")) {
		dash_put(&p, "<dt>Author</dt><dd>");
		dash_author(&p, build);
		dash_put(&p, "</dd>\n");
	}
	dash_time_field(&p, "Created", "created", dash_str(build, "created"));
	dash_time_field(&p, "Started", "started", dash_str(build, "started"));
	dash_time_field(&p, "Finished", "finished", dash_str(build, "finished"));
	dash_put(&p, "<dt>Duration</dt><dd id=\"duration\">");
	dash_duration(&p, build, now);
	dash_put(&p, "</dd>\n");
	dash_field(&p, "Image", "image", dash_str(build, "image"), 1);
	dash_field(&p, "Image ID", "image_id", dash_str(build, "image_id"), 1);
	dash_field(&p, "Reason", "reason", dash_str(build, "reason"), 0);
	dash_field(&p, "Provider", NULL, dash_str(build, "provider"), 0);
	dash_field(&p, "Delivery", NULL, dash_str(build, "delivery"), 1);
	dash_put(&p, "</dl>\n");
	dash_putf(&p, "<h2>Log <a href=\"%lld/log\" class=\"dim\">(plain text)</a></h2>\n", id);
	dash_put(&p, "<p id=\"live\" role=\"status\"></p>\n");
	dash_put(&p, "<pre id=\"log\" tabindex=\"0\" aria-label=\"build log\">");
	dash_putf(&p, "Loading the log\u2026 (without JavaScript: open <a href=\"%lld/log\">the plain "
		  "text log</a>)</pre>\n", id);
	dash_put(&p, "</main>\n<script>");
	dash_put(&p, dash_script);
	dash_put(&p, "</script>\n");
	dash_foot(&p, NULL, "../");
	dash_put(&p, "</body>\n</html>\n");
	return dash_done(&p, e);
}

/* Accept negotiation. Each media range gets its q in thousandths (invalid q:
 * the range is ignored); a type's weight comes from its most specific match. */
struct dash_match {
	int spec;	/* 0 none, 1 * / *, 2 type/ *, 3 exact */
	int q;
};

static int dash_parse_q(const char *s, size_t n, int *ret)
{
	int q = 0, digits = 0;
	size_t i = 0;

	if (n == 0 || (s[0] != '0' && s[0] != '1'))
		return -1;
	q = (s[0] - '0') * 1000;
	i = 1;
	if (i < n) {
		int scale = 100;

		if (s[i] != '.')
			return -1;
		for (i++; i < n; i++) {
			if (!isdigit((unsigned char)s[i]) || ++digits > 3)
				return -1;
			q += (s[i] - '0') * scale;
			scale /= 10;
		}
	}
	if (q > 1000)
		return -1;
	*ret = q;
	return 0;
}

static void dash_trim(const char **s, size_t *n)
{
	while (*n && (**s == ' ' || **s == '\t')) {
		(*s)++;
		(*n)--;
	}
	while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
		(*n)--;
}

/* Weighs one media range (with parameters) against type/subtype. */
static void dash_weigh(const char *range, size_t n, const char *type, struct dash_match *m)
{
	const char *semi = memchr(range, ';', n), *slash;
	const char *mt = range;
	size_t mtn = semi ? (size_t)(semi - range) : n, tn = strcspn(type, "/");
	int q = 1000, spec;

	dash_trim(&mt, &mtn);
	while (semi) {		/* parameters: only q matters */
		const char *par = semi + 1, *next;
		size_t pn;

		next = memchr(par, ';', n - (size_t)(par - range));
		pn = next ? (size_t)(next - par) : n - (size_t)(par - range);
		dash_trim(&par, &pn);
		if (pn >= 2 && (par[0] == 'q' || par[0] == 'Q') && par[1] == '=') {
			const char *v = par + 2;
			size_t vn = pn - 2;

			dash_trim(&v, &vn);
			if (dash_parse_q(v, vn, &q) < 0)
				return;
		}
		semi = next;
	}
	slash = memchr(mt, '/', mtn);
	if (!slash)
		return;
	if (mtn == 3 && !memcmp(mt, "*/*", 3))
		spec = 1;
	else if ((size_t)(slash - mt) == tn && !strncasecmp(mt, type, tn) && mtn == tn + 2 && slash[1] == '*')
		spec = 2;
	else if (mtn == strlen(type) && !strncasecmp(mt, type, mtn))
		spec = 3;
	else
		return;
	if (spec > m->spec) {
		m->spec = spec;
		m->q = q;
	} else if (spec == m->spec && q > m->q) {
		m->q = q;
	}
}

static int dash_weight(const char *accept, const char *type)
{
	struct dash_match m = { 0, 0 };
	const char *s = accept;

	while (*s) {
		size_t n = strcspn(s, ",");

		dash_weigh(s, n, type, &m);
		s += n;
		if (*s == ',')
			s++;
	}
	return m.spec ? m.q : 0;
}

int dash_prefers_html(const char *accept)
{
	int html, xhtml, json;

	if (!accept || !*accept || strlen(accept) > DASH_ACCEPT_MAX)
		return 0;
	html = dash_weight(accept, "text/html");
	xhtml = dash_weight(accept, "application/xhtml+xml");
	json = dash_weight(accept, "application/json");
	if (xhtml > html)
		html = xhtml;
	return html > json;
}

static pthread_once_t dash_csp_once = PTHREAD_ONCE_INIT;
static char dash_csp_value[512];

/* 'sha256-<base64>' of a text, as CSP hash sources are written. */
static void dash_hash_source(const char *text, char *out, size_t outlen)
{
	unsigned char md[DIGEST_SHA256_LEN];
	char b64[4 * ((DIGEST_SHA256_LEN + 2) / 3) + 1];

	digest_sha256(text, strlen(text), md);
	if (codec_base64_encode(md, sizeof(md), b64, sizeof(b64)) < 0) {
		snprintf(out, outlen, "'none'");	/* fails closed: the page then has no style/script */
		return;
	}
	snprintf(out, outlen, "'sha256-%s'", b64);
}

static void dash_csp_init(void)
{
	char style[128], script[128];

	dash_hash_source(dash_style, style, sizeof(style));
	dash_hash_source(dash_script, script, sizeof(script));
	snprintf(dash_csp_value, sizeof(dash_csp_value),
		 "default-src 'none'; style-src %s; script-src %s; connect-src 'self'; img-src data:; "
		 "base-uri 'none'; form-action 'none'; frame-ancestors 'none'", style, script);
}

const char *dash_csp(void)
{
	pthread_once(&dash_csp_once, dash_csp_init);
	return dash_csp_value;
}
