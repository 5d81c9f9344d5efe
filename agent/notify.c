/* notify: `s2i-agent notify`, the client git hooks run (s2i-agent(8) COMMANDS): one
 * signed generic event per `OLD NEW REF` line, with --follow each build's log and state. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "buf.h"
#include "cmds.h"
#include "config.h"
#include "ctlesc.h"
#include "err.h"
#include "forge.h"
#include "codec.h"
#include "digest.h"
#include "httpc.h"
#include "limits.h"
#include "notify.h"

/* Every message is one line on the pusher's terminal: a ref, a URL or an
 * agent's answer in it cannot move the cursor, set the title or reorder text. */
void notify_say(const char *fmt, ...)
{
	char msg[NOTIFY_SAY_MAX], out[CTLESC_MAX(NOTIFY_SAY_MAX)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ctlesc(out, sizeof(out), msg, strlen(msg), 0);
	fprintf(stderr, "s2i-agent: %s\n", out);
	fflush(stderr);
}

/* ---- input ---- */

static int notify_is_sha(const char *s, size_t n)
{
	return n == 40 && str_is_hex(s, n);
}

/* The rules of git check-ref-format, for a full ref under refs/. */
static const char *notify_ref_problem(const char *ref)
{
	size_t n = strlen(ref);
	const char *c;

	if (strncmp(ref, "refs/", 5) || n == 5)
		return "does not start with refs/";
	if (n > REF_MAX)
		return "is too long";
	for (c = ref; *c; c++) {
		if ((unsigned char)*c < 0x20 || *c == 0x7f || strchr(" ~^:?*[\\", *c))
			return "holds a character git does not allow in a ref";
	}
	if (strstr(ref, "..") || strstr(ref, "@{") || strstr(ref, "//") || strstr(ref, "/."))
		return "is not a valid ref name";
	if (ref[n - 1] == '/' || ref[n - 1] == '.' || (n >= 5 && !strcmp(ref + n - 5, ".lock")) ||
	    strstr(ref, ".lock/"))
		return "is not a valid ref name";
	return NULL;
}

/* Reads and checks every line before anything is posted: a malformed line
 * means the caller is not git, and half a push should not be announced. */
int notify_read_refs(FILE *in, struct notify_ref **ret, size_t *ret_n)
{
	struct notify_ref *refs = NULL;
	size_t n = 0, alloc = 0, cap = REF_MAX + 100, len;
	char *line = NULL, *sp1, *sp2;
	size_t lsz = 0;
	ssize_t got;
	long lineno = 0;
	const char *why;
	int rv = -1;

	while ((got = getline(&line, &lsz, in)) != -1) {
		lineno++;
		len = (size_t)got;
		if ((size_t)got > cap) {
			notify_say("stdin line %ld: longer than %zu bytes", lineno, cap);
			goto out;
		}
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (len == 0)
			continue;
		if (memchr(line, '\0', len)) {
			notify_say("stdin line %ld: holds a NUL byte", lineno);
			goto out;
		}
		sp1 = strchr(line, ' ');
		sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
		if (!sp1 || !sp2) {
			notify_say("stdin line %ld: expected 'OLD NEW REF'", lineno);
			goto out;
		}
		if (!notify_is_sha(line, (size_t)(sp1 - line)) ||
		    !notify_is_sha(sp1 + 1, (size_t)(sp2 - sp1 - 1))) {
			notify_say("stdin line %ld: OLD and NEW must be 40 hexadecimal digits", lineno);
			goto out;
		}
		why = notify_ref_problem(sp2 + 1);
		if (why) {
			notify_say("stdin line %ld: ref '%.*s' %s", lineno, 200, sp2 + 1, why);
			goto out;
		}
		if (n == NOTIFY_MAX_REFS) {
			notify_say("stdin: more than %d refs", NOTIFY_MAX_REFS);
			goto out;
		}
		if (n == alloc) {
			alloc = alloc ? alloc * 2 : 16;
			refs = xrealloc(refs, alloc * sizeof(*refs));
		}
		memset(&refs[n], 0, sizeof(refs[n]));
		memcpy(refs[n].old, line, 40);
		memcpy(refs[n].new, sp1 + 1, 40);
		for (len = 0; len < 40; len++) {
			refs[n].old[len] = (char)tolower((unsigned char)refs[n].old[len]);
			refs[n].new[len] = (char)tolower((unsigned char)refs[n].new[len]);
		}
		refs[n].ref = xstrdup(sp2 + 1);
		n++;
	}
	if (ferror(in)) {
		notify_say("cannot read stdin: %s", strerror(errno));
		goto out;
	}
	*ret = refs;
	*ret_n = n;
	refs = NULL;
	n = 0;
	rv = 0;
out:
	while (n > 0)
		free(refs[--n].ref);
	free(refs);
	free(line);
	return rv;
}

/* ---- HTTP ---- */

/* One request through httpc: POST body when body is non-NULL, else GET. 0 with
 * a->code set when an answer came (any code), -1 on a network error with e
 * saying which request failed. */
static int notify_http(const char *url, const char *body, char *const *headers,
		       struct httpc_answer *a, struct err *e)
{
	struct httpc_req r = HTTPC_REQ_INIT;

	r.url = url;
	r.body = body;
	r.headers = headers;
	r.timeout = NOTIFY_TIMEOUT;
	r.connect_timeout = NOTIFY_CONNECT_TIMEOUT;
	r.body_max = NOTIFY_ANSWER_MAX;
	if (httpc_perform(&r, a, e) < 0) {
		err_prefix(e, "%s %s", body ? "POST" : "GET", url);
		return -1;
	}
	return 0;
}

/* What the agent said, for a message: its "error"/"message", else the body's start. */
static void notify_answer_text(const struct httpc_answer *a, char *out, size_t outsz)
{
	json_t *j = json_loadb(a->body.data, a->body.len, 0, NULL);
	const char *s = NULL;
	size_t i, o = 0;

	if (j && json_is_object(j)) {
		s = json_string_value(json_object_get(j, "error"));
		if (!s)
			s = json_string_value(json_object_get(j, "message"));
		if (!s)
			s = json_string_value(json_object_get(j, "reason"));
	}
	if (!s)
		s = a->body.data;
	for (i = 0; s[i] && o + 1 < outsz && i < 300; i++)
		out[o++] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? ' ' : s[i];
	while (o > 0 && out[o - 1] == ' ')
		o--;
	out[o] = '\0';
	json_decref(j);
}

static void notify_random_hex(char *out, size_t nbytes)
{
	unsigned char r[32];
	size_t i;

	if (nbytes > sizeof(r))
		nbytes = sizeof(r);
	if (getrandom(r, nbytes, 0) != (ssize_t)nbytes) {
		/* no entropy source: still unique per process and moment */
		unsigned long long x = (unsigned long long)time(NULL) ^ ((unsigned long long)getpid() << 32);

		for (i = 0; i < nbytes; i++) {
			x = x * 6364136223846793005ULL + 1442695040888963407ULL;
			r[i] = (unsigned char)(x >> 56);
		}
	}
	codec_hex_encode(r, nbytes, out);
}

/* ---- one event ---- */

/* Posts the event for r and says what happened. 0: queued, duplicate or
 * ignored (r->build set when there is a build); -1: it did not get through. */
int notify_post(const char *base, const char *repo, const char *secret,
		       struct notify_ref *r)
{
	struct httpc_answer a = HTTPC_ANSWER_INIT;
	unsigned char mac[DIGEST_SHA256_LEN];
	char hex[2 * DIGEST_SHA256_LEN + 1], rid[33], text[400], retry_after[64];
	struct strv hl = STRV_INIT;
	struct err e = ERR_INIT;
	json_t *body = NULL, *ans = NULL, *v;
	char *data = NULL, *url = NULL;
	long wait;
	struct timespec now;
	int attempt, rv = -1;

	/* pushed_at and a nonce (the request id) make every event's signed body its own:
	 * the agent refuses a body it has seen as a replay, and A->B, B->A, A->B repeats */
	notify_random_hex(rid, 16);
	clock_gettime(CLOCK_REALTIME, &now);
	body = json_pack("{s:s, s:s, s:s, s:I, s:s}", "ref", r->ref, "before", r->old, "after",
			 r->new, "pushed_at", (json_int_t)now.tv_sec * 1000 + now.tv_nsec / 1000000,
			 "nonce", rid);
	data = body ? json_dumps(body, JSON_COMPACT) : NULL;
	if (!data) {
		notify_say("%s: error: cannot encode the event (is the ref valid UTF-8?)", r->ref);
		goto out;
	}
	url = xasprintf("%s/hooks/%s", base, repo);
	strv_push(&hl, "Content-Type: application/json");
	strv_pushf(&hl, "X-Request-Id: %s", rid);
	strv_push(&hl, "User-Agent: s2i-agent/" S2I_AGENT_VERSION);
	if (secret) {
		digest_hmac_sha256(secret, strlen(secret), data, strlen(data), mac);
		codec_hex_encode(mac, sizeof(mac), hex);
		strv_pushf(&hl, "X-Hub-Signature-256: sha256=%s", hex);
	}
	for (attempt = 0;; attempt++) {
		/* the same X-Request-Id each time: the agent drops a repeat it has seen */
		if (notify_http(url, data, hl.items, &a, &e) < 0) {
			if (attempt >= NOTIFY_RETRIES) {
				notify_say("%s: error: %s", r->ref, e.msg);
				goto out;
			}
			wait = 1;	/* an agent restarting is back within seconds */
			notify_say("%s: %s; trying again in %lds", r->ref, e.msg, wait);
			sleep((unsigned)wait);
			continue;
		}
		if (a.code != 503 || attempt >= NOTIFY_RETRIES)
			break;
		if (!httpc_header(a.headers.items, "Retry-After", retry_after, sizeof(retry_after)) ||
		    forge_parse_retry_after(retry_after, time(NULL), &wait) < 0)
			wait = 1L << attempt;
		if (wait > NOTIFY_RETRY_AFTER_MAX)
			wait = NOTIFY_RETRY_AFTER_MAX;
		if (wait < 1)
			wait = 1;
		notify_answer_text(&a, text, sizeof(text));
		notify_say("%s: agent busy (503%s%s); trying again in %lds", r->ref,
			   text[0] ? ": " : "", text, wait);
		sleep((unsigned)wait);
	}
	ans = json_loadb(a.body.data, a.body.len, 0, NULL);
	if (a.code == 202 && (v = json_object_get(ans, "build")) && json_is_integer(v)) {
		r->build = json_integer_value(v);
		v = json_object_get(ans, "url");
		if (json_is_string(v))
			notify_say("%s: queued build %lld (%s)", r->ref, r->build, json_string_value(v));
		else
			notify_say("%s: queued build %lld", r->ref, r->build);
		rv = 0;
	} else if (a.code == 200 && (v = json_object_get(ans, "duplicate")) && json_is_integer(v)) {
		r->build = json_integer_value(v);
		notify_say("%s: already queued as build %lld", r->ref, r->build);
		rv = 0;
	} else if (a.code == 200 && (v = json_object_get(ans, "ignored"))) {
		notify_say("%s: ignored: %s", r->ref, json_is_string(v) ? json_string_value(v) : "");
		rv = 0;
	} else {
		notify_answer_text(&a, text, sizeof(text));
		notify_say("%s: error: %s answered %ld%s%s", r->ref, url, a.code,
			   text[0] ? ": " : "", text);
	}
out:
	r->posted = rv == 0;
	json_decref(body);
	json_decref(ans);
	free(data);
	free(url);
	strv_clear(&hl);
	httpc_answer_release(&a);
	return rv;
}

/* ---- following a build ---- */

/*
 * Bytes at the end of p[0..n) that may begin an escape or a character the
 * next write completes: an ESC [ digits-and-';' not yet ended by 'm' (a colour
 * ctlesc lets through once whole), or a UTF-8 character cut short. Escaped
 * now, they would show as \x1b[3 and 1m, or as \xe2 and two stray bytes.
 */
static size_t notify_esc_cut(const char *p, size_t n)
{
	const unsigned char *u = (const unsigned char *)p;
	size_t i, k, need;

	for (i = n; i > 0 && n - i < NOTIFY_ESC_HOLD - 1; i--) {
		if (p[i - 1] != '\033')
			continue;
		for (k = i; k < n; k++)
			if (!(k == i ? p[k] == '[' : (p[k] >= '0' && p[k] <= '9') || p[k] == ';'))
				break;
		if (k == n)
			return n - i + 1;
		break;
	}
	for (k = 1; k <= 3 && k <= n; k++) {
		if ((u[n - k] & 0xc0) == 0x80)
			continue;
		need = u[n - k] >= 0xf0 ? 4 : u[n - k] >= 0xe0 ? 3 : u[n - k] >= 0xc0 ? 2 : 1;
		return need > k ? k : 0;
	}
	return 0;
}

char *notify_esc(struct notify_esc *x, const char *p, size_t n, int end, size_t *ret_len)
{
	size_t len = x->nheld + n, keep;
	char *in = xmalloc(len + 1), *out;

	memcpy(in, x->held, x->nheld);
	memcpy(in + x->nheld, p, n);
	keep = end ? 0 : notify_esc_cut(in, len);
	out = xmalloc(CTLESC_MAX(len - keep));
	*ret_len = ctlesc(out, CTLESC_MAX(len - keep), in, len - keep, CTLESC_KEEP_NL | CTLESC_KEEP_SGR);
	memcpy(x->held, in + len - keep, keep);
	x->nheld = keep;
	free(in);
	return out;
}

struct notify_stream {
	size_t seen;			/* bytes of the log received in this stream */
	size_t printed;			/* bytes of the log taken so far, over all streams */
	int last_nl;
	struct notify_esc esc;		/* the start of a sequence the next bytes finish */
};

static void notify_show(struct notify_stream *s, const char *p, size_t n, int end)
{
	size_t len;
	char *out = notify_esc(&s->esc, p, n, end, &len);

	if (len > 0) {
		fwrite(out, 1, len, stderr);
		fflush(stderr);
		s->last_nl = out[len - 1] == '\n';
	}
	free(out);
}

static int notify_on_log(void *arg, const char *p, size_t n)
{
	struct notify_stream *s = arg;
	size_t skip = 0;

	/* a stream after a reconnect starts at the beginning: skip what is shown */
	if (s->seen < s->printed)
		skip = s->printed - s->seen < n ? s->printed - s->seen : n;
	s->seen += n;
	if (n > skip) {
		s->printed += n - skip;
		notify_show(s, p + skip, n - skip, 0);
	}
	return 0;
}

/*
 * Streams the log once. 0 when the agent answered: the stream ended, the log
 * is not there yet (an error code), or the agent cut a stream that sat idle
 * (its HTTP timeout ends a follow of a build still queued); -1 when no answer
 * came at all, the only case that counts towards losing the agent.
 */
static int notify_stream_log(const char *url, struct notify_stream *s, char *const *headers)
{
	struct httpc_req r = HTTPC_REQ_INIT;
	struct httpc_answer a = HTTPC_ANSWER_INIT;
	struct err e = ERR_INIT;
	int rv;

	s->seen = 0;
	r.url = url;
	r.headers = headers;
	r.connect_timeout = NOTIFY_CONNECT_TIMEOUT;
	r.fail_on_error = 1;	/* an error page is not log text */
	r.sink = notify_on_log;
	r.sink_arg = s;
	rv = httpc_perform(&r, &a, &e) == 0 || a.code > 0 ? 0 : -1;
	httpc_answer_release(&a);
	return rv;
}

static int notify_final(const char *state)
{
	return !strcmp(state, "succeeded") || !strcmp(state, "failed") ||
	       !strcmp(state, "errored") || !strcmp(state, "canceled");
}

/* Shows build id's log as it grows, then its final state. 0: succeeded,
 * 1: another final state, -1: the agent was lost or the build is unknown. */
int notify_follow(const char *base, long long id)
{
	struct httpc_answer a = HTTPC_ANSWER_INIT;
	struct notify_stream s = { 0, 0, 1, NOTIFY_ESC_INIT };
	char *const hl[] = { "User-Agent: s2i-agent/" S2I_AGENT_VERSION, NULL };
	struct err e = ERR_INIT;
	char *log_url = xasprintf("%s/builds/%lld/log?follow=1", base, id);
	char *build_url = xasprintf("%s/builds/%lld", base, id);
	time_t lost_since = 0;
	json_t *j = NULL;
	const char *state, *reason;
	char text[400];
	size_t before;
	int rv = -1, reached;

	for (;;) {
		before = s.printed;
		reached = notify_stream_log(log_url, &s, hl) == 0;
		if (reached && notify_http(build_url, NULL, hl, &a, &e) == 0) {
			lost_since = 0;
			if (a.code == 404) {
				notify_say("build %lld: not found", id);
				goto out;
			}
			json_decref(j);
			j = json_loadb(a.body.data, a.body.len, 0, NULL);
			state = json_string_value(json_object_get(j, "state"));
			if (a.code != 200 || !state) {
				notify_answer_text(&a, text, sizeof(text));
				notify_say("build %lld: %s answered %ld%s%s", id, build_url, a.code,
					   text[0] ? ": " : "", text);
				goto out;
			}
			if (notify_final(state)) {
				notify_show(&s, "", 0, 1);
				if (!s.last_nl)
					fputc('\n', stderr);
				reason = json_string_value(json_object_get(j, "reason"));
				if (reason && *reason)
					notify_say("build %lld %s: %s", id, state, reason);
				else
					notify_say("build %lld %s", id, state);
				rv = strcmp(state, "succeeded") ? 1 : 0;
				goto out;
			}
		} else {
			if (!lost_since)
				lost_since = time(NULL);
			if (time(NULL) - lost_since > NOTIFY_FOLLOW_LOST) {
				notify_say("build %lld: lost the agent at %s", id, base);
				goto out;
			}
		}
		if (s.printed == before)
			sleep(1);	/* the log did not grow: do not spin */
	}
out:
	json_decref(j);
	httpc_answer_release(&a);
	free(log_url);
	free(build_url);
	return rv;
}
