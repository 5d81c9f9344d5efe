/* forge_post: the libcurl side of forge (commit statuses, s2i-agent.conf(5) status):
 * POSTing a built request through httpc and classifying the answer (Retry-After
 * dates need curl_getdate).
 * Kept apart from forge.c so the daemon, which only builds requests, does not link libcurl. */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "buf.h"
#include "forge.h"
#include "httpc.h"
#include "limits.h"

/* Appends a printable, bounded rendering of s to b. */
static void add_clean(struct buf *b, const char *s, size_t max)
{
	size_t i;

	for (i = 0; s[i] && i < max; i++)
		buf_addch(b, (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? ' ' : s[i]);
}

/* The forge's own words: GitHub/Gitea {"message", "errors":[{"message"}]},
 * GitLab {"message": string or object} or {"error": string}; else the body's start. */
static void answer_message(const char *body, struct buf *b)
{
	json_t *j = NULL, *m, *errs, *it;
	char *dump;
	size_t i;

	if (!body || !*body)
		return;
	j = json_loads(body, JSON_DISABLE_EOF_CHECK, NULL);
	if (!j || !json_is_object(j)) {
		add_clean(b, body, STATUS_MESSAGE_MAX);
		goto out;
	}
	m = json_object_get(j, "message");
	if (json_is_string(m)) {
		add_clean(b, json_string_value(m), STATUS_MESSAGE_MAX);
	} else if (m) {
		dump = json_dumps(m, JSON_COMPACT);
		if (dump)
			add_clean(b, dump, STATUS_MESSAGE_MAX);
		free(dump);
	} else if (json_is_string(json_object_get(j, "error"))) {
		add_clean(b, json_string_value(json_object_get(j, "error")), STATUS_MESSAGE_MAX);
	} else {
		add_clean(b, body, STATUS_MESSAGE_MAX);
	}
	errs = json_object_get(j, "errors");
	json_array_foreach(errs, i, it) {
		const char *em = json_string_value(json_object_get(it, "message"));
		const char *code = json_string_value(json_object_get(it, "code"));
		const char *field = json_string_value(json_object_get(it, "field"));

		buf_addstr(b, i ? "; " : ": ");
		if (em)
			add_clean(b, em, STATUS_MESSAGE_MAX);
		else if (code && field)
			buf_addf(b, "%s %s", field, code);
		else if (json_is_string(it))
			add_clean(b, json_string_value(it), STATUS_MESSAGE_MAX);
	}
out:
	json_decref(j);
}

void forge_classify(enum status_kind kind, long code, char *const *headers, const char *body,
		    time_t now, struct forge_answer *ret, char *msg, size_t msgsz)
{
	struct buf m = BUF_INIT(SIZE_MAX);
	char v[128], rem[64];
	long ra = 0, t;
	int limited = 0;
	char *end;

	ret->http_code = code;
	ret->retry_after = 0;
	if (msg && msgsz)
		msg[0] = '\0';
	if (code >= 200 && code < 300) {
		ret->outcome = FORGE_DONE;
		return;
	}
	if (httpc_header(headers, "Retry-After", v, sizeof(v)) &&
	    forge_parse_retry_after(v, now, &t) == 0)
		ra = t;
	if ((httpc_header(headers, "X-RateLimit-Remaining", rem, sizeof(rem)) ||
	     httpc_header(headers, "RateLimit-Remaining", rem, sizeof(rem))) && !strcmp(rem, "0")) {
		limited = 1;
		if (httpc_header(headers, "X-RateLimit-Reset", v, sizeof(v)) ||
		    httpc_header(headers, "RateLimit-Reset", v, sizeof(v))) {
			t = strtol(v, &end, 10);
			if (end != v && !*end && t > now && t - now > ra)
				ra = (long)(t - now);
		}
	}
	answer_message(body, &m);
	if (code == 0 || code >= 500 || code == 408 || code == 429 ||
	    (code == 403 && (limited || httpc_header(headers, "Retry-After", v, sizeof(v))))) {
		ret->outcome = FORGE_RETRY;
		ret->retry_after = ra;
	} else if (kind == STATUS_GITLAB && code == 400 && strstr(m.data, "Cannot transition status")) {
		/* GitLab refuses to set the state the status already has: a retry
		 * of a post that did arrive. The forge shows what we wanted. */
		ret->outcome = FORGE_DONE;
	} else {
		ret->outcome = FORGE_FAILED;
	}
	if (msg && msgsz)
		snprintf(msg, msgsz, "HTTP %ld%s%s", code, m.len ? ": " : "", m.data);
	buf_release(&m);
}

int forge_parse_retry_after(const char *v, time_t now, long *ret)
{
	char tmp[128];
	size_t n;
	time_t t;
	char *end;
	long s;

	if (!v)
		return -1;
	while (*v == ' ' || *v == '\t')
		v++;
	n = strlen(v);
	while (n > 0 && isspace((unsigned char)v[n - 1]))
		n--;
	if (n == 0 || n >= sizeof(tmp))
		return -1;
	memcpy(tmp, v, n);
	tmp[n] = '\0';
	if (str_is_digits(tmp)) {
		s = n > 9 ? 999999999L : strtol(tmp, &end, 10);
		*ret = s;
		return 0;
	}
	/* HTTP-date: IMF-fixdate, and the obsolete RFC 850 and asctime forms */
	if (!isalpha((unsigned char)tmp[0]))
		return -1;
	t = curl_getdate(tmp, NULL);
	if (t == (time_t)-1)
		return -1;
	*ret = t > now ? (long)(t - now) : 0;
	return 0;
}

/* ---- sending ---- */

/* Replaces every occurrence of the token in e's message. */
static void scrub(struct err *e, const char *token)
{
	char out[ERR_MSG_MAX];
	size_t tl, o = 0;
	const char *s, *hit;

	if (!e || !token || !*token)
		return;
	tl = strlen(token);
	s = e->msg;
	while ((hit = strstr(s, token)) && o < sizeof(out) - 1) {
		size_t n = (size_t)(hit - s);

		if (n > sizeof(out) - 1 - o)
			n = sizeof(out) - 1 - o;
		memcpy(out + o, s, n);
		o += n;
		n = sizeof(out) - 1 - o < 3 ? sizeof(out) - 1 - o : 3;
		memcpy(out + o, "***", n);
		o += n;
		s = hit + tl;
	}
	snprintf(out + o, sizeof(out) - o, "%s", s);
	memcpy(e->msg, out, sizeof(out));
}

/* The url without userinfo, for messages. */
static char *url_for_msg(const char *url)
{
	const char *a = strstr(url, "://"), *slash, *at = NULL, *p;

	if (!a)
		return xstrdup(url);
	a += 3;
	slash = strchr(a, '/');
	if (!slash)
		slash = a + strlen(a);
	for (p = a; p < slash; p++)
		if (*p == '@')
			at = p;
	if (!at)
		return xstrdup(url);
	return xasprintf("%.*s%s", (int)(a - url), url, at + 1);
}

/* A field of a status as the forge lists or takes it, "" when absent or null. */
static const char *status_field(const json_t *o, const char *k, const char *alt)
{
	const char *v = json_string_value(json_object_get(o, k));

	if (!v && alt)
		v = json_string_value(json_object_get(o, alt));
	return v ? v : "";
}

/* Whether two target_urls name one build: the same, or the same /builds/ID after
 * different public_urls (agents of a fleet each named by its own address). */
static int same_build_url(const char *a, const char *b)
{
	const char *x, *y, *p;

	if (!strcmp(a, b))
		return 1;
	for (x = NULL, p = a; (p = strstr(p, "/builds/")); p++)
		x = p;
	for (y = NULL, p = b; (p = strstr(p, "/builds/")); p++)
		y = p;
	return x && y && !strcmp(x, y);
}

/* Whether status s (one of the forge's list) is the one body posts: same context
 * (GitLab: name), state (GitLab and Gitea list it as status), description (it
 * names the build and its transition) and build in target_url. */
static int status_same(const json_t *s, const json_t *body)
{
	return json_is_object(s) &&
	       !strcmp(status_field(s, "context", "name"), status_field(body, "context", "name")) &&
	       !strcmp(status_field(s, "state", "status"), status_field(body, "state", NULL)) &&
	       !strcmp(status_field(s, "description", NULL), status_field(body, "description", NULL)) &&
	       same_build_url(status_field(s, "target_url", NULL), status_field(body, "target_url", NULL));
}

int forge_status_listed(const char *list, const char *body)
{
	json_t *b = json_loads(body ? body : "", 0, NULL);
	json_t *l = json_loads(list ? list : "", JSON_DISABLE_EOF_CHECK, NULL);
	json_t *it;
	size_t i;
	int rv = -1;

	if (json_is_object(b) && json_is_array(l)) {
		rv = 0;
		json_array_foreach(l, i, it) {
			if (status_same(it, b)) {
				rv = 1;
				break;
			}
		}
	}
	json_decref(b);
	json_decref(l);
	return rv;
}

/* One exchange of r's with the forge: url, POSTing body (NULL: a GET). -1 when
 * no answer came (ret->outcome and e say why), else 0 with *a filled. */
static int forge_send(const struct forge_request *r, const char *url, const char *body,
		      size_t body_max, struct httpc_answer *a, struct forge_answer *ret,
		      const char *shown, struct err *e)
{
	struct httpc_req q = HTTPC_REQ_INIT;

	ret->outcome = FORGE_FAILED;
	ret->http_code = 0;
	ret->retry_after = 0;
	q.url = url;
	q.body = body;
	q.headers = r->headers.items;
	q.timeout = r->timeout > 0 ? r->timeout : (long)STATUS_TIMEOUT;
	q.connect_timeout = r->connect_timeout > 0 ? r->connect_timeout : (long)STATUS_CONNECT_TIMEOUT;
	q.max_redirects = 0;	/* a redirect would carry PRIVATE-TOKEN to another host */
	q.body_max = body_max;	/* the rest is dropped, not an error */
	if (httpc_perform(&q, a, e) < 0) {
		/* an option libcurl refused fails again; the network may come back */
		ret->outcome = a->setup_failed ? FORGE_FAILED : FORGE_RETRY;
		err_prefix(e, "%s %s", body ? "POST" : "GET", shown);
		return -1;
	}
	return 0;
}

/* The end of an exchange, rv its result: the answer and the shown URL freed, and a
 * failure's message rid of the token. */
static int forge_done(const struct forge_request *r, int rv, struct httpc_answer *a,
		      char *shown, struct err *e)
{
	if (rv < 0)
		scrub(e, r->token);
	httpc_answer_release(a);
	free(shown);
	return rv;
}

int forge_find(const struct forge_request *r, struct forge_answer *ret, struct err *e)
{
	struct httpc_answer a = HTTPC_ANSWER_INIT;
	char msg[ERR_MSG_MAX];
	char *shown = url_for_msg(r->list_url ? r->list_url : "");
	int rv = -1;

	if (!r->list_url || !r->body) {
		ret->outcome = FORGE_FAILED;
		ret->http_code = 0;
		ret->retry_after = 0;
		err_set(e, "no URL to list the commit's statuses");
		goto out;
	}
	if (forge_send(r, r->list_url, NULL, STATUS_LIST_MAX, &a, ret, shown, e) < 0)
		goto out;
	forge_classify(r->kind, a.code, a.headers.items, a.body.data, time(NULL), ret, msg, sizeof(msg));
	if (ret->outcome != FORGE_DONE) {
		err_set(e, "GET %s: %s", shown, msg);
		goto out;
	}
	rv = forge_status_listed(a.body.data, r->body);
	if (rv < 0) {
		/* a cut or odd answer: not known, so posted (at worst twice, as before) */
		ret->outcome = FORGE_FAILED;
		err_set(e, "GET %s: HTTP %ld: not a list of statuses", shown, a.code);
	}
out:
	return forge_done(r, rv, &a, shown, e);
}

int forge_post(const struct forge_request *r, struct forge_answer *ret, struct err *e)
{
	struct httpc_answer a = HTTPC_ANSWER_INIT;
	char msg[ERR_MSG_MAX];
	char *shown = url_for_msg(r->url ? r->url : "");
	int rv = -1;

	if (forge_send(r, r->url, r->body ? r->body : "", STATUS_RESPONSE_MAX, &a, ret, shown, e) < 0)
		goto out;
	forge_classify(r->kind, a.code, a.headers.items, a.body.data, time(NULL), ret, msg, sizeof(msg));
	if (ret->outcome == FORGE_DONE) {
		rv = 0;
		goto out;
	}
	if (ret->outcome == FORGE_RETRY && ret->retry_after > 0)
		err_set(e, "POST %s: %s (retry after %lds)", shown, msg, ret->retry_after);
	else
		err_set(e, "POST %s: %s", shown, msg);
out:
	return forge_done(r, rv, &a, shown, e);
}
