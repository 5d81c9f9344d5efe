/* http_gate: each request's head is read and judged before evhttp sees a byte of it.
 * Route, method, Host, access and a webhook's signature header are decided from the
 * head alone; a request refused there never has its body read (evhttp answers a stand-in
 * request instead), and the bodies of all connections together are bounded. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>

#include "http_int.h"
#include "webhook.h"

/* A request head, parsed: its request line and fields, pointing into one copy. */
struct http_head {
	char *h_text;
	const char *h_method;
	unsigned h_cmd;			/* EVHTTP_REQ_*; 0: unknown method */
	const char *h_target;
	int h_minor;			/* HTTP/1.h_minor */
	const char *h_name[HTTP_HEAD_FIELDS_MAX], *h_value[HTTP_HEAD_FIELDS_MAX];
	size_t h_n;
};

static const struct {
	const char *name;
	unsigned cmd;
} http_methods[] = {
	{ "GET", EVHTTP_REQ_GET }, { "POST", EVHTTP_REQ_POST }, { "HEAD", EVHTTP_REQ_HEAD },
	{ "PUT", EVHTTP_REQ_PUT }, { "DELETE", EVHTTP_REQ_DELETE },
	{ "OPTIONS", EVHTTP_REQ_OPTIONS }, { "TRACE", EVHTTP_REQ_TRACE },
	{ "CONNECT", EVHTTP_REQ_CONNECT }, { "PATCH", EVHTTP_REQ_PATCH },
};

const char *http_head_field(void *ctx, const char *name)
{
	const struct http_head *hd = ctx;
	size_t i;

	for (i = 0; i < hd->h_n; i++)
		if (!strcasecmp(hd->h_name[i], name))
			return hd->h_value[i];
	return NULL;
}

static size_t http_head_count(const struct http_head *hd, const char *name)
{
	size_t i, n = 0;

	for (i = 0; i < hd->h_n; i++)
		n += !strcasecmp(hd->h_name[i], name);
	return n;
}

/* RFC 9110 tchar */
static int http_tchar(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

/* Splits text (NUL-terminated, lines ending in LF or CRLF, the empty line last) into hd.
 * Anything evhttp could read another way is refused: control characters, folded lines,
 * space around a field name, more than one space in the request line. */
static const char *http_head_parse(char *text, struct http_head *hd)
{
	char *line = text, *next, *sp, *colon, *v, *end;
	size_t i, first = 1;

	memset(hd, 0, sizeof(*hd));
	hd->h_text = text;
	for (; *line; line = next) {
		next = strchr(line, '\n');
		if (!next)
			return "malformed request head";
		end = next;
		*next++ = '\0';
		if (end > line && end[-1] == '\r')
			*--end = '\0';
		if (end == line)
			break;			/* the empty line */
		for (v = line; v < end; v++)
			if (((unsigned char)*v < 0x20 && *v != '\t') || *v == 0x7f)
				return "control character in the request head";
		if (first) {
			first = 0;
			sp = strchr(line, ' ');
			if (!sp || !(v = strchr(sp + 1, ' ')) || strchr(v + 1, ' ') || strchr(line, '\t'))
				return "malformed request line";
			*sp = *v = '\0';
			hd->h_method = line;
			hd->h_target = sp + 1;
			if (!strcmp(v + 1, "HTTP/1.1"))
				hd->h_minor = 1;
			else if (strcmp(v + 1, "HTTP/1.0"))
				return "unsupported HTTP version";
			for (i = 0; i < sizeof(http_methods) / sizeof(http_methods[0]); i++)
				if (!strcmp(line, http_methods[i].name))
					hd->h_cmd = http_methods[i].cmd;
			continue;
		}
		if (*line == ' ' || *line == '\t')
			return "folded header line";
		colon = strchr(line, ':');
		if (!colon || colon == line)
			return "malformed header line";
		for (v = line; v < colon; v++)
			if (!http_tchar((unsigned char)*v))
				return "malformed header name";
		if (hd->h_n == HTTP_HEAD_FIELDS_MAX)
			return "too many header fields";
		*colon = '\0';
		for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
			;
		while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		hd->h_name[hd->h_n] = line;
		hd->h_value[hd->h_n++] = v;
	}
	return hd->h_method ? NULL : "malformed request line";
}

static void http_verdict(struct http_verdict *v, int code, const char *msg)
{
	v->v_code = code;
	v->v_msg = msg;
}

/* The request's body: 0 with *ret its length, else v says why it is refused. Exactly
 * one Content-Length of digits, no Transfer-Encoding (the body must end where evhttp
 * and every proxy in front of it think it ends), none where evhttp would not read it. */
static int http_gate_length(struct http_head *hd, unsigned long long *ret,
			    struct http_verdict *v)
{
	const char *cl = http_head_field(hd, "Content-Length");
	unsigned long long n = 0;
	size_t i;

	if (http_head_count(hd, "Content-Length") > 1) {
		http_verdict(v, 400, "more than one Content-Length");
		return -1;
	}
	if (http_head_field(hd, "Transfer-Encoding")) {
		if (cl)
			http_verdict(v, 400, "both Content-Length and Transfer-Encoding");
		else
			http_verdict(v, 411, "Transfer-Encoding is not accepted: send Content-Length");
		return -1;
	}
	if (cl) {
		for (i = 0; cl[i]; i++)
			if (cl[i] < '0' || cl[i] > '9' || i == 18)
				break;
		if (!i || cl[i]) {
			http_verdict(v, 400, "malformed Content-Length");
			return -1;
		}
		n = strtoull(cl, NULL, 10);
	}
	if (n && (hd->h_cmd & (EVHTTP_REQ_HEAD | EVHTTP_REQ_TRACE))) {
		http_verdict(v, 400, "a HEAD or TRACE request has no body");
		return -1;
	}
	*ret = n;
	return 0;
}

/* The most body a request to route r may declare. */
static unsigned long long http_gate_body_max(const struct http *h, const struct http_route *r,
					     unsigned cmd)
{
	if (cmd != EVHTTP_REQ_POST)
		return 0;
	if (r->r_fn == http_intake_hook)
		return h->h_cfg->max_body;
	if (r->r_flags & HTTP_ADMIN)
		return WORKER_BODY_MAX;
	if (r->r_fn == http_access_login)
		return HTTP_TOKEN_MAX;
	return 0;
}

/* The verdict refuses a delivery to repository name: intake records it. */
static void http_gate_delivery(struct http_verdict *v, struct http_head *hd, const char *name)
{
	struct webhook_request wr = { 0 };

	wr.header = http_head_field;
	wr.header_ctx = hd;
	v->v_provider = (int)webhook_provider(&wr);
	snprintf(v->v_repo, sizeof(v->v_repo), "%s", name);
}

/* Judges a whole head: 0 to let it through (*ret_len: its body), else v is the answer. */
static int http_gate_judge(struct http *h, struct http_head *hd, unsigned long long *ret_len,
			   struct http_verdict *v)
{
	const struct http_route *r;
	struct evhttp_uri *uri;
	struct http_match m;
	const char *path, *host;
	unsigned long long len;

	if (http_gate_length(hd, &len, v) < 0)
		return -1;
	host = http_head_field(hd, "Host");
	if (http_head_count(hd, "Host") > 1 || (!host && hd->h_minor == 1)) {
		http_verdict(v, 400, host ? "more than one Host" : "no Host header");
		return -1;
	}
	if (host && !http_access_host(h, host)) {
		http_verdict(v, 421, "this agent does not answer for that Host");
		return -1;
	}
	if (!hd->h_cmd) {
		http_verdict(v, 501, "method not implemented");
		return -1;
	}
	uri = evhttp_uri_parse_with_flags(hd->h_target, EVHTTP_URI_NONCONFORMANT);
	path = uri ? evhttp_uri_get_path(uri) : NULL;
	if (!path || path[0] != '/') {
		evhttp_uri_free(uri);
		http_verdict(v, 400, "malformed request target");
		return -1;
	}
	if (http_route_match(path, &m) < 0) {
		evhttp_uri_free(uri);
		http_verdict(v, 404, m.m_miss);
		return -1;
	}
	evhttp_uri_free(uri);
	r = m.m_route;
	if ((r->r_flags & HTTP_LOOKUP_FIRST) && !config_repo(h->h_cfg, m.m_name)) {
		http_verdict(v, 404, "unknown repository");
		if (r->r_fn == http_intake_hook && hd->h_cmd == EVHTTP_REQ_POST)
			http_gate_delivery(v, hd, m.m_name);	/* the dashboard lists it */
		return -1;
	}
	if (!(hd->h_cmd & r->r_methods)) {
		http_verdict(v, 405, "method not allowed");
		v->v_allow = r->r_methods;
		return -1;
	}
	if (http_access_judge(h, &m, http_head_field, hd, v) < 0)
		return -1;
	if (len > http_gate_body_max(h, r, hd->h_cmd)) {
		http_verdict(v, 413, len > h->h_cfg->max_body ? "request body too large"
			     : "this request takes no body that large");
		return -1;
	}
	if (r->r_fn == http_intake_hook) {
		struct webhook_request wr = { 0 };

		wr.header = http_head_field;
		wr.header_ctx = hd;
		if (!webhook_signed(&wr, webhook_provider(&wr))) {
			http_verdict(v, 401, "missing signature header");
			http_gate_delivery(v, hd, m.m_name);
			return -1;
		}
	}
	if (len && h->h_body_held + len > (h->h_cfg->max_body > HTTP_BODY_TOTAL_MAX ?
					   h->h_cfg->max_body : HTTP_BODY_TOTAL_MAX)) {
		http_verdict(v, 503, "too many request bodies in flight, try again");
		return -1;
	}
	*ret_len = len;
	return 0;
}

/* In place of a refused request, evhttp reads this one and the router answers it with
 * the verdict; Connection: close, since the body it declared is never read. */
static void http_gate_standin(struct evbuffer *in, const struct http_head *hd)
{
	evbuffer_add_printf(in, "%s / HTTP/1.%d\r\nConnection: close\r\n\r\n",
			    hd && hd->h_cmd == EVHTTP_REQ_HEAD ? "HEAD" : "GET",
			    hd && hd->h_method && !hd->h_minor ? 0 : 1);
}

static void http_gate_refuse(struct http_conn *c, struct evbuffer *in, const struct http_head *hd)
{
	evbuffer_unfreeze(in, 1);
	evbuffer_drain(in, evbuffer_get_length(in));
	/* the socket's bufferevent keeps the end frozen but while it reads */
	evbuffer_unfreeze(in, 0);
	http_gate_standin(in, hd);
	evbuffer_freeze(in, 0);
	c->c_gate = HTTP_GATE_REFUSED;
	c->c_scan = 0;
}

/* Reads as much of the head as has arrived; judges it when whole. */
static void http_gate_head(struct http_conn *c, struct evbuffer *in)
{
	struct http *h = c->c_h;
	struct evbuffer_ptr p, e;
	struct http_head hd;
	unsigned long long len = 0;
	const char *bad;
	size_t eol, n;
	char *text;

	for (;;) {
		if (evbuffer_ptr_set(in, &p, c->c_scan, EVBUFFER_PTR_SET) < 0)
			return;
		e = evbuffer_search_eol(in, &p, &eol, EVBUFFER_EOL_CRLF);
		if (e.pos < 0)
			break;
		n = (size_t)e.pos - c->c_scan;
		c->c_scan = (size_t)e.pos + eol;
		if (n)
			continue;
		if (c->c_scan == eol) {
			/* an empty line before the request line is skipped (RFC 9112 2.2) */
			evbuffer_unfreeze(in, 1);
			evbuffer_drain(in, eol);
			evbuffer_freeze(in, 1);
			c->c_scan = 0;
			continue;
		}
		n = c->c_scan;
		text = xmalloc(n + 1);
		evbuffer_unfreeze(in, 1);	/* copyout counts as reading the front */
		evbuffer_copyout(in, text, n);
		text[n] = '\0';
		bad = http_head_parse(text, &hd);
		memset(&c->c_verdict, 0, sizeof(c->c_verdict));
		c->c_verdict.v_provider = -1;
		if (bad)
			http_verdict(&c->c_verdict, 400, bad);
		if (bad || http_gate_judge(h, &hd, &len, &c->c_verdict) < 0) {
			http_gate_refuse(c, in, bad ? NULL : &hd);
		} else {
			c->c_held = len;
			h->h_body_held += len;
			c->c_gate = HTTP_GATE_PASS;
			c->c_scan = 0;
		}
		free(text);
		return;
	}
	/* evhttp would fail the connection at HTTP_HEADER_MAX without an answer */
	if (evbuffer_get_length(in) >= HTTP_HEADER_MAX - 2) {
		memset(&c->c_verdict, 0, sizeof(c->c_verdict));
		c->c_verdict.v_provider = -1;
		http_verdict(&c->c_verdict, 431, "request head too large");
		http_gate_refuse(c, in, NULL);
	}
}

void http_gate_run(struct http_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->c_bev);

	if (c->c_ingate)
		return;
	c->c_ingate = 1;
	if (c->c_gone) {
		/* lingering after an early answer: what the client still sends is dropped */
		evbuffer_unfreeze(in, 1);
		evbuffer_drain(in, evbuffer_get_length(in));
	} else if (c->c_gate == HTTP_GATE_HEAD && evbuffer_get_length(in)) {
		http_gate_head(c, in);
	}
	c->c_ingate = 0;
}

static void http_gate_cb(struct evbuffer *in, const struct evbuffer_cb_info *info, void *arg)
{
	(void)in;
	if (info->n_added)
		http_gate_run(arg);
}

void http_gate_attach(struct http_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->c_bev);

	c->c_gate = HTTP_GATE_HEAD;
	evbuffer_add_cb(in, http_gate_cb, c);
	evbuffer_freeze(in, 1);
}

void http_gate_next(struct http_conn *c)
{
	if (c->c_gate == HTTP_GATE_PASS) {
		c->c_gate = HTTP_GATE_HEAD;
		evbuffer_freeze(bufferevent_get_input(c->c_bev), 1);
	}
}

void http_gate_release(struct http_conn *c)
{
	if (c->c_h->h_body_held >= c->c_held)
		c->c_h->h_body_held -= c->c_held;
	c->c_held = 0;
}

void http_verdict_answer(struct http *h, struct evhttp_request *req, const struct http_verdict *v)
{
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);
	char allow[64], secs[16];

	h->h_refused++;
	evhttp_add_header(out, "Connection", "close");
	if (v->v_provider >= 0) {
		http_intake_refused(h, v);
	} else if (v->v_code == 401) {
		http_access_deny_log(h, "request refused (401): %s", v->v_msg);
	}
	if (v->v_auth)
		evhttp_add_header(out, "WWW-Authenticate",
				  v->v_auth == 2 ? "Bearer error=\"invalid_token\"" : "Bearer");
	if (v->v_location)
		evhttp_add_header(out, "Location", v->v_location);
	if (v->v_code == 405) {
		http_route_allow(v->v_allow, allow, sizeof(allow));
		http_reply_405(req, allow);
	} else if (v->v_code == 503) {
		snprintf(secs, sizeof(secs), "%d", RETRY_AFTER_SECONDS);
		evhttp_add_header(out, "Retry-After", secs);
		http_reply_error(req, 503, v->v_msg);
	} else {
		http_reply_error(req, v->v_code, v->v_msg);
	}
}
