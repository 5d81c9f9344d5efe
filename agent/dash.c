/* dash: what the pages share (escaping, times, states, head and foot), the build page,
 * and the HTML vs JSON negotiation; the dashboard itself is in dash_index.c.
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
#include "dash_int.h"
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
	"table{table-layout:fixed}.c-st{width:8.5rem}.c-id{width:4.5rem}.c-ref{width:9rem}.c-sha{width:5.5rem}"
	".c-img{width:12rem}.c-by{width:8rem}.c-dur{width:6rem}.c-at{width:7.5rem}.c-msg{width:auto}"
	"table.auto{table-layout:auto}.cut{overflow:hidden;text-overflow:ellipsis;white-space:nowrap}.bar{margin:.4rem 0}"
	"[aria-current=page]{font-weight:700;color:var(--fg)}"
	".actions{margin:.6rem 0}.actions button,#signin button{font:inherit;margin-right:.5rem}"
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
	"function dur(ms){var s=Math.floor((ms+500)/1000);if(ms<59950)return (Math.floor((ms+50)/100)/10).toFixed(1)+'s';var mi=Math.floor(s/60);"
	"if(mi<60)return mi+'m '+pad(s%60)+'s';return Math.floor(mi/60)+'h '+pad(mi%60)+'m';}"
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
	"m.setAttribute('data-state',state);"
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
	"run();})();"
	/* The admin actions for holders of the admin token (cancel and retry on a build's
	 * page, build a ref on a repository's): the token is asked once in a form, kept in
	 * sessionStorage (this tab only), sent as a Bearer header, never in a URL. A
	 * cross-site page cannot set that header, so the actions need no CSRF token. */
	"(function(){'use strict';"
	"var m=document.querySelector('main[data-build]'),bar=document.getElementById('actions');"
	"if(!bar||!window.fetch||!window.sessionStorage)return;"
	"var id=m?m.getAttribute('data-build'):'',repo=bar.getAttribute('data-repo'),form=document.getElementById('signin'),"
	"inp=document.getElementById('token'),msg=document.getElementById('act-msg'),ref=document.getElementById('ref'),"
	"K='s2i-agent-admin-token',todo=null;"
	"var fin={succeeded:1,failed:1,errored:1,canceled:1},doing={cancel:'canceling',retry:'retrying',build:'queueing'};"
	"function show(){if(!m)return;var f=!!fin[m.getAttribute('data-state')];"
	"document.getElementById('act-cancel').hidden=f;document.getElementById('act-retry').hidden=!f;}"
	"function ask(a,why){todo=a;msg.textContent=why;form.hidden=false;inp.value='';inp.focus();}"
	/* a 40-hex value is a commit, anything else a ref (a bare name: a branch) */
	"function req(a){if(a!=='build')return [id+'/'+a,null];var v=ref.value.trim();"
	"return ['repos/'+encodeURIComponent(repo)+'/builds',JSON.stringify(/^[0-9a-f]{40}$/.test(v)?{sha:v}:{ref:v})];}"
	"async function act(a){var t=sessionStorage.getItem(K);if(!t){ask(a,'');return;}"
	"var q=req(a),h={Authorization:'Bearer '+t},r,b=null;if(q[1])h['Content-Type']='application/json';"
	"msg.textContent=doing[a]+'\u2026';"
	"try{r=await fetch(q[0],{method:'POST',headers:h,body:q[1],cache:'no-store'});}"
	"catch(x){msg.textContent='the agent did not answer';return;}"
	"try{b=await r.json();}catch(x){}"
	"if(r.status===401||r.status===403){sessionStorage.removeItem(K);"
	"ask(a,'the admin token was refused'+(b&&b.error?': '+b.error:''));return;}"
	"if(!r.ok){msg.textContent=(b&&b.error)||('HTTP '+r.status);return;}"
	"if(a!=='cancel'&&b&&b.build){location.href=(a==='build'?'builds/':'')+String(b.build);return;}"
	"msg.textContent='cancel requested';}"
	"bar.addEventListener('click',function(e){var a=e.target.getAttribute('data-act');if(a)act(a);});"
	"if(ref)document.getElementById('build-ref').addEventListener('submit',function(e){e.preventDefault();"
	"if(ref.value.trim())act('build');});"
	"form.addEventListener('submit',function(e){e.preventDefault();if(!inp.value)return;"
	"sessionStorage.setItem(K,inp.value);inp.value='';form.hidden=true;var a=todo;todo=null;if(a)act(a);});"
	"document.getElementById('signin-cancel').addEventListener('click',function(){"
	"form.hidden=true;todo=null;inp.value='';msg.textContent='';});"
	"if(m)new MutationObserver(show).observe(m,{attributes:true,attributeFilter:['data-state']});"
	"show();bar.hidden=false;})();";

const struct dash_state dash_states[DASH_NSTATES] = {
	{ "queued", "\u25cb" },
	{ "running", "\u25cf" },
	{ "succeeded", "\u2713" },
	{ "failed", "\u2717" },
	{ "errored", "!" },
	{ "canceled", "\u2298" },
};

void dash_put(struct dash_page *p, const char *s)
{
	if (!p->failed && buf_addstr(p->out, s) < 0)
		p->failed = 1;
}

void dash_putf(struct dash_page *p, const char *fmt, ...)
{
	va_list ap;

	if (p->failed)
		return;
	va_start(ap, fmt);
	if (buf_vaddf(p->out, fmt, ap) < 0)
		p->failed = 1;
	va_end(ap);
}

void dash_esc(struct dash_page *p, const char *s)
{
	if (!p->failed && s && dash_escape(p->out, s, strlen(s)) < 0)
		p->failed = 1;
}

void dash_escn(struct dash_page *p, const char *s, size_t n)
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

const char *dash_str(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

int dash_nonempty(const char *s)
{
	return s && *s;
}

/* "Name <mail>" shows as "Name"; an object {"name": …} as its name. */
void dash_author(struct dash_page *p, const json_t *b)
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

const struct dash_state *dash_state_of(const char *state)
{
	size_t i;

	for (i = 0; state && i < sizeof(dash_states) / sizeof(dash_states[0]); i++)
		if (!strcmp(state, dash_states[i].name))
			return &dash_states[i];
	return NULL;
}

int dash_is_final(const char *state)
{
	return state && (!strcmp(state, "succeeded") || !strcmp(state, "failed") ||
			 !strcmp(state, "errored") || !strcmp(state, "canceled"));
}

/* The state badge: symbol (hidden from screen readers) and word. An id makes
 * it the live region the build page's script updates. */
void dash_badge(struct dash_page *p, const char *state, const char *id)
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
time_t dash_parse_time(const char *s)
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
void dash_time(struct dash_page *p, const char *s)
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

void dash_duration_ms(struct dash_page *p, long long ms)
{
	long long s, m;

	if (ms < 0)
		ms = 0;
	s = (ms + 500) / 1000;	/* rounded as the tenths below */
	m = s / 60;
	/* tenths rounded half up, as the build log's "succeeded in" line and the page's
	 * script round them: one duration everywhere */
	if (ms < 59950)
		dash_putf(p, "%lld.%llds", (ms + 50) / 1000, (ms + 50) / 100 % 10);
	else if (m < 60)
		dash_putf(p, "%lldm %02llds", m, s % 60);
	else
		dash_putf(p, "%lldh %02lldm", m / 60, m % 60);
}

/* duration_ms when the build has one; for a running build now - started. */
void dash_duration(struct dash_page *p, const json_t *b, time_t now)
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
void dash_ref(struct dash_page *p, const char *ref)
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
void dash_subject(struct dash_page *p, const char *msg)
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

/* open (ending in title=") s" text s's first n characters close: s in full on hover */
static void dash_abbr(struct dash_page *p, const char *open, const char *text, const char *s,
		      size_t n, const char *close)
{
	dash_put(p, open);
	dash_esc(p, s);
	dash_put(p, "\">");
	dash_put(p, text);
	dash_escn(p, s, strnlen(s, n));
	dash_put(p, close);
}

void dash_short_sha(struct dash_page *p, const char *sha)
{
	if (!sha) {
		dash_put(p, "\u2014");
		return;
	}
	dash_abbr(p, "<code class=\"sha\" title=\"", "", sha, DASH_SHORT_SHA, "</code>");
}

/* One query parameter's value, percent-encoded (RFC 3986 unreserved kept) */
static void dash_urlenc(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~')
			buf_add(b, s, 1);
		else
			buf_addf(b, "%%%c%c", hex[c >> 4], hex[c & 15]);
	}
}

void dash_href(struct dash_page *p, const char *base, const char *repo, const char *ref,
	       const char *state, long long before)
{
	struct buf u = BUF_INIT(4 * REF_MAX + 256);
	const char *sep = "?";

	buf_addstr(&u, base);
	if (repo) {
		buf_addf(&u, "%srepo=", sep);
		dash_urlenc(&u, repo);
		sep = "&";
	}
	if (ref) {
		buf_addf(&u, "%sref=", sep);
		dash_urlenc(&u, ref);
		sep = "&";
	}
	if (state) {
		buf_addf(&u, "%sstate=", sep);
		dash_urlenc(&u, state);
		sep = "&";
	}
	if (before > 0)
		buf_addf(&u, "%sbefore=%lld", sep, before);
	if (!u.len)
		buf_addstr(&u, "./");
	dash_escn(p, u.data, u.len);
	buf_release(&u);
}

void dash_commit(struct dash_page *p, const json_t *b)
{
	const char *url = dash_str(b, "clone_url"), *sha = dash_str(b, "sha");
	const char *provider = dash_str(b, "provider");
	size_t n;

	if (!dash_nonempty(sha) || !url || (strncmp(url, "https://", 8) && strncmp(url, "http://", 7))) {
		dash_short_sha(p, sha);
		return;
	}
	n = strlen(url);
	if (n > 4 && !strcmp(url + n - 4, ".git"))
		n -= 4;
	while (n > 0 && url[n - 1] == '/')
		n--;
	dash_put(p, "<a href=\"");
	dash_escn(p, url, n);
	/* GitLab's commit pages live under /-/ */
	dash_put(p, provider && !strcmp(provider, "gitlab") ? "/-/commit/" : "/commit/");
	dash_esc(p, sha);
	dash_put(p, "\" rel=\"noopener noreferrer\">");
	dash_short_sha(p, sha);
	dash_put(p, "</a>");
}

/* "retry of #N", N linked (base: the way from the page to /builds/), when b is a retry. */
void dash_retry_of(struct dash_page *p, const json_t *b, const char *base)
{
	const json_t *from = json_object_get(b, "retry_of");
	long long n;

	if (!json_is_integer(from))
		return;
	n = (long long)json_integer_value(from);
	dash_putf(p, "retry of <a href=\"%s%lld\">#%lld</a>", base, n, n);
}

/* "on AGENT" under a build's number, when a fleet's agent started it: its id's start,
 * the whole id on hover (s2i_agent_agent_info in /metrics names the same) */
void dash_agent(struct dash_page *p, const json_t *b)
{
	const char *agent = dash_str(b, "agent");

	if (dash_nonempty(agent))
		dash_abbr(p, "<br><span class=\"dim\" title=\"agent ", "on ", agent, DASH_AGENT_SHOWN,
			  "</span>");
}

void dash_ago(struct dash_page *p, const char *s, time_t now)
{
	time_t t = dash_parse_time(s);
	long long d;

	if (!now || !t || now < t) {
		dash_time(p, s);
		return;
	}
	d = (long long)(now - t);
	dash_put(p, "<time datetime=\"");
	dash_esc(p, s);
	dash_put(p, "\" title=\"");
	dash_escn(p, s, 10);
	dash_put(p, " ");
	dash_escn(p, s + 11, 8);
	dash_put(p, " UTC\">");
	if (d < 60)
		dash_putf(p, "%llds ago", d);
	else if (d < 3600)
		dash_putf(p, "%lld min ago", d / 60);
	else if (d < 86400)
		dash_putf(p, "%lldh %02lldm ago", d / 3600, d / 60 % 60);
	else
		dash_putf(p, "%lld days ago", d / 86400);
	dash_put(p, "</time>");
}

long long dash_wait_ms(const json_t *b, time_t now)
{
	time_t created = dash_parse_time(dash_str(b, "created"));
	time_t started = dash_parse_time(dash_str(b, "started"));

	if (!created)
		return -1;
	if (started && started >= created)
		return (long long)(started - created) * 1000;
	/* still queued */
	if (now && now >= created && !started && !dash_is_final(dash_str(b, "state")))
		return (long long)(now - created) * 1000;
	return -1;
}

void dash_head(struct dash_page *p, const char *title, int refresh)
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
void dash_foot(struct dash_page *p, const char *version, const char *up)
{
	dash_put(p, "<footer>s2i-agent");
	if (version) {
		dash_put(p, " ");
		dash_esc(p, version);
	}
	dash_putf(p, " \u00b7 <a href=\"%sbuilds\">builds as JSON</a> \u00b7 <a href=\"%smetrics\">metrics</a>"
		  " \u00b7 <a href=\"%shealthz\">health</a></footer>\n", up, up, up);
}

void dash_signin(struct dash_page *p)
{
	dash_put(p, "<form id=\"signin\" hidden><label for=\"token\">Admin token</label> "
		 "<input type=\"password\" id=\"token\" autocomplete=\"off\" spellcheck=\"false\"> "
		 "<button type=\"submit\">Sign in</button>"
		 "<button type=\"button\" id=\"signin-cancel\">Never mind</button>"
		 "<span class=\"dim\"> (kept in this tab only)</span></form>");
}

void dash_script_tag(struct dash_page *p)
{
	dash_put(p, "<script>");
	dash_put(p, dash_script);
	dash_put(p, "</script>\n");
}

int dash_done(struct dash_page *p, struct err *e)
{
	if (p->failed)
		return err_set(e, "page larger than %zu bytes", p->out->max);
	return 0;
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

/* Log text into the page: escape sequences (ESC [ params letter) dropped as the
 * script drops them, the rest escaped. */
static void dash_log_text(struct dash_page *p, const char *s, size_t n)
{
	size_t i = 0, start = 0, j;

	while (i < n) {
		if (s[i] == '\x1b' && i + 1 < n && s[i + 1] == '[') {
			for (j = i + 2; j < n && ((s[j] >= '0' && s[j] <= '9') || s[j] == ';' || s[j] == '?'); j++)
				;
			if (j < n && ((s[j] >= 'A' && s[j] <= 'Z') || (s[j] >= 'a' && s[j] <= 'z'))) {
				dash_escn(p, s + start, i - start);
				i = start = j + 1;
				continue;
			}
		}
		i++;
	}
	dash_escn(p, s + start, n - start);
}

int dash_render_build(const json_t *build, const struct dash_log *log, time_t now, struct buf *out,
		      struct err *e)
{
	struct dash_page p = { out, 0 };
	const json_t *idv = json_object_get(build, "id");
	const char *state = dash_str(build, "state"), *repo = dash_str(build, "repo");
	const char *msg = dash_str(build, "message");
	const struct dash_state *st = dash_state_of(state);
	long long id, wait;
	char title[256];

	if (!json_is_integer(idv))
		return err_set(e, "build object without an integer id");
	id = (long long)json_integer_value(idv);
	/* The script rewrites the title's first word with the state. */
	snprintf(title, sizeof(title), "%s \u2014 build #%lld of %.100s", st ? st->name : "unknown", id,
		 repo ? repo : "?");
	dash_head(&p, title, 0);
	dash_putf(&p, "<main data-build=\"%lld\" data-state=\"%s\">\n", id, st ? st->name : "unknown");
	dash_put(&p, "<p><a href=\"../\">\u2190 all builds</a>");
	if (dash_nonempty(repo)) {
		dash_put(&p, " \u00b7 <a href=\"");
		dash_href(&p, "../", repo, NULL, NULL, 0);
		dash_put(&p, "\">builds of ");
		dash_esc(&p, repo);
		dash_put(&p, "</a>");
	}
	if (dash_nonempty(repo) && dash_nonempty(dash_str(build, "ref"))) {
		dash_put(&p, " \u00b7 <a href=\"");
		dash_href(&p, "../", repo, dash_str(build, "ref"), NULL, 0);
		dash_put(&p, "\">builds of ");
		dash_ref(&p, dash_str(build, "ref"));
		dash_put(&p, "</a>");
	}
	dash_put(&p, "</p>\n");
	dash_putf(&p, "<h1>Build #%lld of ", id);
	dash_esc(&p, repo ? repo : "?");
	dash_put(&p, " ");
	dash_badge(&p, state, "state");
	dash_put(&p, "</h1>\n<dl>\n");
	dash_field(&p, "Repository", NULL, repo, 0);
	dash_field(&p, "Ref", NULL, dash_str(build, "ref"), 1);
	dash_put(&p, "<dt>Commit</dt><dd>");
	dash_commit(&p, build);
	if (dash_nonempty(dash_str(build, "sha"))) {
		dash_put(&p, " <code>");
		dash_esc(&p, dash_str(build, "sha"));
		dash_put(&p, "</code>");
	}
	dash_put(&p, "</dd>\n");
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
	dash_put(&p, "<dt>Queued for</dt><dd>");
	wait = dash_wait_ms(build, now);
	if (wait >= 0)
		dash_duration_ms(&p, wait);
	else
		dash_put(&p, "\u2014");
	dash_put(&p, "</dd>\n<dt>Duration</dt><dd id=\"duration\">");
	dash_duration(&p, build, now);
	dash_put(&p, "</dd>\n");
	dash_field(&p, "Image", "image", dash_str(build, "image"), 1);
	dash_field(&p, "Image ID", "image_id", dash_str(build, "image_id"), 1);
	dash_field(&p, "Reason", "reason", dash_str(build, "reason"), 0);
	dash_field(&p, "Provider", NULL, dash_str(build, "provider"), 0);
	dash_field(&p, "Delivery", NULL, dash_str(build, "delivery"), 1);
	if (dash_nonempty(dash_str(build, "agent")))
		dash_field(&p, "Agent", "agent", dash_str(build, "agent"), 1);
	if (json_is_integer(json_object_get(build, "retry_of"))) {
		dash_put(&p, "<dt>Provenance</dt><dd id=\"retry-of\">");
		dash_retry_of(&p, build, "");
		dash_put(&p, "</dd>\n");
	}
	dash_put(&p, "</dl>\n");
	/* shown by the script: without it they could not send the token */
	dash_put(&p, "<div id=\"actions\" class=\"actions\" hidden>"
		 "<button type=\"button\" id=\"act-cancel\" data-act=\"cancel\">Cancel the build</button>"
		 "<button type=\"button\" id=\"act-retry\" data-act=\"retry\">Build this commit again</button>"
		 "<span id=\"act-msg\" role=\"status\"></span>\n");
	dash_signin(&p);
	dash_put(&p, "</div>\n");
	dash_putf(&p, "<h2>Log <a href=\"%lld/log\" class=\"dim\">(plain text)</a></h2>\n", id);
	dash_put(&p, "<p id=\"live\" role=\"status\"></p>\n");
	if (log && log->skipped)
		dash_putf(&p, "<p class=\"dim\" id=\"log-cut\">The first %zu bytes of the log are left "
			  "out here: <a href=\"%lld/log\">the plain text log</a> has them.</p>\n",
			  log->skipped, id);
	dash_put(&p, "<pre id=\"log\" tabindex=\"0\" aria-label=\"build log\">");
	if (log && log->len)
		dash_log_text(&p, log->text, log->len);
	else if (log)
		dash_put(&p, "(no log)");
	else
		dash_putf(&p, "Loading the log\u2026 (without JavaScript: open <a href=\"%lld/log\">the "
			  "plain text log</a>)", id);
	dash_put(&p, "</pre>\n");
	dash_put(&p, "</main>\n");
	dash_script_tag(&p);
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
