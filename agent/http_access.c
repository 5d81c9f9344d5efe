/* http_access: who may ask what. The Host allow-list, the admin token, the read side
 * (private once the agent is reachable beyond loopback: a read token, the admin token or
 * the sign-in cookie opens it), the sign-in page, and the rate limit of refusal log lines. */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>

#include "codec.h"
#include "dash.h"
#include "digest.h"
#include "http_int.h"
#include "log.h"

#define HTTP_COOKIE	"s2i_agent_session"

/* The host part of a Host value or URL authority (no port, no brackets), into out. */
static int http_host_name(const char *s, size_t n, char *out, size_t size)
{
	const char *end;

	if (n && s[0] == '[') {
		end = memchr(s, ']', n);
		if (!end || (end + 1 < s + n && end[1] != ':'))
			return -1;
		s++;
		n = (size_t)(end - s);
	} else if ((end = memchr(s, ':', n))) {
		n = (size_t)(end - s);
	}
	if (!n || n >= size)
		return -1;
	memcpy(out, s, n);
	out[n] = '\0';
	return 0;
}

static int http_is_ip(const char *name)
{
	unsigned char a[16];

	return inet_pton(AF_INET, name, a) == 1 || inet_pton(AF_INET6, name, a) == 1;
}

static int http_is_loopback(const char *name)
{
	return !strcasecmp(name, "localhost") || !strncmp(name, "127.", 4) || !strcmp(name, "::1");
}

static int http_is_wildcard(const char *name)
{
	return !*name || !strcmp(name, "0.0.0.0") || !strcmp(name, "::");
}

/* public_url's host, into out ("" when it has none). */
static void http_public_host(const struct config *cfg, char *out, size_t size)
{
	const char *u = cfg->public_url ? strstr(cfg->public_url, "://") : NULL;

	out[0] = '\0';
	if (u && http_host_name(u + 3, strcspn(u + 3, "/?#"), out, size) < 0)
		out[0] = '\0';
}

int http_access_host(struct http *h, const char *host)
{
	const struct config *cfg = h->h_cfg;
	char name[256], pub[256];
	const char *rest;

	if (http_host_name(host, strlen(host), name, sizeof(name)) < 0)
		return 0;
	rest = host[0] == '[' ? strchr(host, ']') + 1 : host + strcspn(host, ":");
	if (*rest == ':' && (!rest[1] || strspn(rest + 1, "0123456789") != strlen(rest + 1)))
		return 0;
	/* DNS rebinding needs a name: an address literal cannot be an attacker's */
	if (http_is_ip(name))
		return 1;
	http_public_host(cfg, pub, sizeof(pub));
	if (!strcasecmp(name, pub) || !strcasecmp(name, cfg->listen_host))
		return 1;
	return !strcasecmp(name, "localhost") &&
	       (http_is_loopback(cfg->listen_host) || http_is_wildcard(cfg->listen_host));
}

int http_access_private(const struct http *h)
{
	const struct config *cfg = h->h_cfg;
	char pub[256];

	if (cfg->public_read >= 0)
		return !cfg->public_read;
	http_public_host(cfg, pub, sizeof(pub));
	return !http_is_loopback(cfg->listen_host) || (*pub && !http_is_loopback(pub));
}

void http_access_config(const struct http *h)
{
	const struct config *cfg = h->h_cfg;

	if (http_access_private(h) && !(cfg->read_token && *cfg->read_token) &&
	    !(cfg->admin_token && *cfg->admin_token))
		log_warn("the read side (dashboard, /builds, logs, /metrics) is private, %s, and no "
			 "read_token_file or admin_token_file opens it: set one, or public_read = yes",
			 cfg->public_read == 0 ? "public_read = no"
			 : "the agent is reachable beyond loopback");
}

/* The sign-in cookie's value for token: not the token, and useless without it. */
static void http_cookie_value(const char *token, char out[2 * DIGEST_SHA256_LEN + 1])
{
	static const char what[] = "s2i-agent read cookie";
	unsigned char mac[DIGEST_SHA256_LEN];

	digest_hmac_sha256(token, strlen(token), what, sizeof(what) - 1, mac);
	codec_hex_encode(mac, sizeof(mac), out);
}

/* 1 when s (n bytes) is the read or admin token (as given) or its cookie value */
static int http_token_ok(const struct http *h, const char *s, size_t n, int cookie)
{
	const char *tok[2] = { h->h_cfg->read_token, h->h_cfg->admin_token };
	char val[2 * DIGEST_SHA256_LEN + 1];
	int ok = 0;
	size_t i;

	for (i = 0; i < 2; i++) {
		if (!tok[i] || !*tok[i])
			continue;
		if (cookie) {
			http_cookie_value(tok[i], val);
			ok |= digest_equal_str(val, strlen(val), s, n);
		} else {
			ok |= digest_equal_str(tok[i], strlen(tok[i]), s, n);
		}
	}
	return ok;
}

/* The Bearer token of an Authorization value, NULL when it has none. */
static const char *http_bearer(const char *auth)
{
	if (!auth || strncasecmp(auth, "Bearer ", 7) || strlen(auth) > HTTP_TOKEN_MAX)
		return NULL;
	auth += 7;
	while (*auth == ' ')
		auth++;
	return auth;
}

static const char *http_cookie(const char *cookies, size_t *ret_n)
{
	const char *p = cookies;
	size_t len = sizeof(HTTP_COOKIE) - 1;

	while (p && *p) {
		while (*p == ' ' || *p == ';')
			p++;
		if (!strncmp(p, HTTP_COOKIE "=", len + 1)) {
			p += len + 1;
			*ret_n = strcspn(p, "; ");
			return p;
		}
		p = strchr(p, ';');
	}
	return NULL;
}

int http_access_reader(const struct http *h, webhook_header_fn get, void *ctx)
{
	const char *tok = http_bearer(get(ctx, "Authorization")), *c;
	size_t n;

	if (!http_access_private(h))
		return 1;
	if (tok && http_token_ok(h, tok, strlen(tok), 0))
		return 1;
	c = http_cookie(get(ctx, "Cookie"), &n);
	return c && n < HTTP_TOKEN_MAX && http_token_ok(h, c, n, 1);
}

/* 1 when proof is what a hook holding one of the repositories' secrets shows for build
 * id (webhook_build_proof). */
static int http_build_proof_ok(const struct http *h, long long id, const char *proof)
{
	char want[2 * DIGEST_SHA256_LEN + 1];
	int ok = 0;
	size_t i, j;

	if (!proof || strlen(proof) != sizeof(want) - 1)
		return 0;
	for (i = 0; i < h->h_cfg->nrepos; i++)
		for (j = 0; j < h->h_cfg->repos[i]->nsecrets; j++) {
			webhook_build_proof(h->h_cfg->repos[i]->secrets[j], id, want);
			ok |= digest_equal(want, proof, sizeof(want) - 1);
		}
	return ok;
}

int http_access_judge(struct http *h, const struct http_match *m, webhook_header_fn get,
		      void *ctx, struct http_verdict *v)
{
	const struct http_route *r = m->m_route;
	const char *admin = h->h_cfg->admin_token, *tok;

	if (r->r_flags & HTTP_ADMIN) {
		if (!admin || !*admin) {
			v->v_code = 403;
			v->v_msg = "admin endpoints are disabled (no admin_token_file)";
			return -1;
		}
		tok = http_bearer(get(ctx, "Authorization"));
		if (tok && digest_equal_str(admin, strlen(admin), tok, strlen(tok)))
			return 0;
		v->v_code = 401;
		v->v_auth = tok ? 2 : 1;
		v->v_msg = tok ? "wrong bearer token" : "missing bearer token";
		return -1;
	}
	if (!(r->r_flags & HTTP_READ) || http_access_reader(h, get, ctx))
		return 0;
	if (r->r_arg == HTTP_ARG_BUILD && http_build_proof_ok(h, m->m_id, get(ctx, WEBHOOK_BUILD_PROOF)))
		return 0;
	v->v_code = 401;
	v->v_auth = 1;
	v->v_msg = "the read side needs a token: Authorization: Bearer, or sign in at /login";
	if (r->r_fn == http_api_root && dash_prefers_html(get(ctx, "Accept"))) {
		v->v_code = 303;
		v->v_location = "/login";
	}
	return -1;
}

void http_access_deny_log(struct http *h, const char *fmt, ...)
{
	time_t now = time(NULL);
	char line[512];
	va_list ap;

	if (now - h->h_deny_since >= HTTP_DENY_LOG_SECONDS) {
		if (h->h_deny_dropped)
			log_warn("%llu more refused requests were not logged in the last %lld s",
				 h->h_deny_dropped, (long long)(now - h->h_deny_since));
		h->h_deny_since = now;
		h->h_deny_logged = 0;
		h->h_deny_dropped = 0;
	}
	if (h->h_deny_logged >= HTTP_DENY_LOG_BURST) {
		h->h_deny_dropped++;
		return;
	}
	h->h_deny_logged++;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log_warn("%s", line);
}

static const char *http_access_evhdr(void *ctx, const char *name)
{
	return evhttp_find_header(ctx, name);
}

int http_access_check(struct http *h, struct evhttp_request *req, const struct http_match *m)
{
	struct http_verdict v = { 0 };

	v.v_provider = -1;
	if (http_access_judge(h, m, http_access_evhdr, evhttp_request_get_input_headers(req),
			      &v) == 0)
		return 0;
	http_verdict_answer(h, req, &v);
	return -1;
}

int http_access_reader_req(const struct http *h, struct evhttp_request *req)
{
	return http_access_reader(h, http_access_evhdr, evhttp_request_get_input_headers(req));
}

/* The sign-in page: a token field, posted back here. */
static void http_login_page(struct evhttp_request *req, int code, const char *say)
{
	struct buf page = BUF_INIT(4096);

	buf_addf(&page, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>s2i-agent: "
		 "sign in</title></head>\n<body><h1>s2i-agent</h1>\n<p>%s</p>\n"
		 "<form method=\"post\" action=\"/login\"><label>Token <input type=\"password\" "
		 "name=\"token\" autocomplete=\"current-password\" autofocus></label>\n"
		 "<button type=\"submit\">Sign in</button></form>\n</body></html>\n", say);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Security-Policy",
			  "default-src 'none'; form-action 'self'; base-uri 'none'; "
			  "frame-ancestors 'none'");
	http_send(req, code, DASH_CONTENT_TYPE, page.data, page.len);
	buf_release(&page);
}

void http_access_login(struct http *h, struct evhttp_request *req, const struct http_match *m)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	struct evkeyvalq form;
	const char *tok, *best;
	char val[2 * DIGEST_SHA256_LEN + 1], cookie[256];
	size_t len = evbuffer_get_length(in);
	char *body;

	(void)m;
	if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
		http_login_page(req, 200, "The build list and logs need a read token or the "
				"admin token.");
		return;
	}
	body = xmalloc(len + 1);
	evbuffer_copyout(in, body, len);
	body[len] = '\0';
	TAILQ_INIT(&form);
	tok = evhttp_parse_query_str(body, &form) == 0 ? evhttp_find_header(&form, "token") : NULL;
	if (!tok || !http_token_ok(h, tok, strlen(tok), 0)) {
		http_access_deny_log(h, "sign-in refused: wrong token");
		http_login_page(req, 401, "Wrong token.");
	} else {
		best = h->h_cfg->read_token;
		if (!best || !*best || !digest_equal_str(best, strlen(best), tok, strlen(tok)))
			best = h->h_cfg->admin_token;
		http_cookie_value(best, val);
		snprintf(cookie, sizeof(cookie), HTTP_COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict%s",
			 val, !strncmp(h->h_cfg->public_url, "https:", 6) ? "; Secure" : "");
		evhttp_add_header(evhttp_request_get_output_headers(req), "Set-Cookie", cookie);
		evhttp_add_header(evhttp_request_get_output_headers(req), "Location", "/");
		http_send(req, 303, "text/plain; charset=utf-8", "signed in\n", 10);
	}
	evhttp_clear_headers(&form);
	explicit_bzero(body, len);
	free(body);
}
