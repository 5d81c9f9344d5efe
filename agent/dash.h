/* dash: the agent's HTML pages (the dashboard at GET /, the build page at GET /builds/ID)
 * rendered from build objects (README, "API and metrics"), and the Accept negotiation
 * between HTML and JSON. */
#ifndef S2I_DASH_H
#define S2I_DASH_H

#include <stddef.h>
#include <time.h>

#include <jansson.h>

#include "buf.h"
#include "err.h"

/* The Content-Type of every page rendered here. */
#define DASH_CONTENT_TYPE	"text/html; charset=utf-8"

/* What the dashboard shows. Builds are build objects (README, "API and metrics"),
 * optionally with "message" (commit message), "author" (string, "Name <mail>"
 * shows the name) and "clone_url" (the forge's repository URL from the payload: an
 * http(s) one links the commit). */
struct dash_index {
	const json_t *builds;		/* array, newest first; grouped per repository */
	const char *const *repos;	/* configured repository names, NULL-terminated,
					 * listed even without builds; NULL: none */
	const char *public_url;		/* for the webhook URL hint; NULL: relative */
	const char *version;		/* footer; NULL: none */
	time_t now;			/* running builds show now - started; 0: not shown */
	/* the last refused deliveries, newest first: objects {time (epoch seconds), repo
	 * (as sent), provider, code, reason}; NULL or empty: the section is left out */
	const json_t *refusals;
	unsigned long long nrefused;	/* every refusal since the start */
	/* What the page lists (GET /?repo=&ref=&state=&before=; NULL/0: no filter): its
	 * title, the state filter's links and the pagination carry them. older: the id to
	 * list on from ("Older builds", before=older); 0: these are the last. */
	const char *repo, *ref, *state;
	long long before, older;
	const char *notice;		/* why builds wait (free space), under the header;
					 * NULL: none */
};

/* Appends the dashboard page to out. Links are relative ("builds/7"), so the
 * agent works behind a reverse proxy under a path prefix. The page reloads
 * itself every DASH_REFRESH_SECONDS while a build is queued or running.
 * Returns -1 (out then holds a partial page) when out's cap is reached. */
int dash_render_index(const struct dash_index *d, struct buf *out, struct err *e);

/* A finished build's log as the page shows it without JavaScript: text[0..len) is
 * its end, skipped the bytes of its start left out (0: the whole log). */
struct dash_log {
	const char *text;
	size_t len;
	size_t skipped;
};

/* Appends the page of one build (object as GET /builds/ID answers). Its inline
 * script fetches "ID/log" (with ?follow=1 while the build is not final) into a
 * <pre>, then re-reads "ID" with Accept: application/json to show the final
 * state; it retries while the build is queued. With log (a finished build) the
 * <pre> holds that text already, colour codes dropped, so the page reads the
 * same without JavaScript. Relative URLs: serve it at /builds/ID. Returns -1
 * when the object has no integer "id" or out is full. */
int dash_render_build(const json_t *build, const struct dash_log *log, time_t now, struct buf *out,
		      struct err *e);

/* 1 when an Accept header prefers HTML (text/html or application/xhtml+xml)
 * strictly over application/json, by q-value and specificity (RFC 9110 §12.5.1).
 * Browsers get HTML; no header, an empty one, curl's any-type range and ties get JSON (0). */
int dash_prefers_html(const char *accept);

/* The Content-Security-Policy value to send with the pages: no external
 * assets, the inline style and script allowed by their SHA-256 hashes only,
 * fetch() to the same origin. Computed once; thread-safe. */
const char *dash_csp(void);

/* Appends n bytes of s escaped for HTML text and quoted attributes
 * (& < > " ' as entities; C0 controls other than tab/LF/CR and DEL as U+FFFD).
 * Returns -1 when out's cap is reached. */
int dash_escape(struct buf *out, const char *s, size_t n);

#endif
