/* dash_int: what dash.c and dash_index.c share and nobody else sees: the page being
 * written and the helpers that write into it. Include only from agent/dash*.c. */
#ifndef S2I_DASH_INT_H
#define S2I_DASH_INT_H

#include <stddef.h>
#include <time.h>

#include <jansson.h>

#include "buf.h"
#include "err.h"

struct dash_state {
	const char *name;
	const char *symbol;	/* decorative: the word is always there too */
};

#define DASH_NSTATES 6
extern const struct dash_state dash_states[DASH_NSTATES];

/* A page under construction: appends stop counting once one fails. */
struct dash_page {
	struct buf *out;
	int failed;
};

void dash_put(struct dash_page *p, const char *s);
void dash_putf(struct dash_page *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s escaped (dash_escape); NULL puts nothing */
void dash_esc(struct dash_page *p, const char *s);
void dash_escn(struct dash_page *p, const char *s, size_t n);
/* o[key] when a string, else NULL */
const char *dash_str(const json_t *o, const char *key);
int dash_nonempty(const char *s);
void dash_author(struct dash_page *p, const json_t *b);
const struct dash_state *dash_state_of(const char *state);
int dash_is_final(const char *state);
void dash_badge(struct dash_page *p, const char *state, const char *id);
time_t dash_parse_time(const char *s);
void dash_time(struct dash_page *p, const char *s);
void dash_duration_ms(struct dash_page *p, long long ms);
void dash_duration(struct dash_page *p, const json_t *b, time_t now);
void dash_ref(struct dash_page *p, const char *ref);
void dash_subject(struct dash_page *p, const char *msg);
void dash_short_sha(struct dash_page *p, const char *sha);
/* An href to the dashboard at base ("" from /, "../" from /builds/ID) listing repo,
 * ref, state before the build before (NULL/0: not filtered), escaped for an attribute */
void dash_href(struct dash_page *p, const char *base, const char *repo, const char *ref,
	       const char *state, long long before);
/* The short sha, linked to the commit on the forge when b has an http(s) clone_url */
void dash_commit(struct dash_page *p, const json_t *b);
/* "retry of #N" (N linked, base + N) when b is a retry; nothing otherwise. */
void dash_retry_of(struct dash_page *p, const json_t *b, const char *base);
void dash_agent(struct dash_page *p, const json_t *b);
/* An RFC 3339 time as "3 min ago" (the absolute time in its title); now 0: absolute */
void dash_ago(struct dash_page *p, const char *s, time_t now);
/* How long b waited in the queue (started - created, or now - created while queued),
 * ms; -1 when unknown */
long long dash_wait_ms(const json_t *b, time_t now);
void dash_head(struct dash_page *p, const char *title, int refresh);
void dash_foot(struct dash_page *p, const char *version, const char *up);
/* The admin token's sign-in form, hidden until the script needs the token; it goes
 * inside <div id="actions">, which holds the actions and <span id="act-msg"> */
void dash_signin(struct dash_page *p);
/* The pages' one inline script (its hash is in dash_csp): follows a build page's log,
 * and runs the admin actions of the page's #actions */
void dash_script_tag(struct dash_page *p);
int dash_done(struct dash_page *p, struct err *e);

#endif
