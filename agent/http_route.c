/* http_route: the route table and the router that takes a request to its handler.
 * The router checks the method, the admin token and the build or repository the path names. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <event2/keyvalq_struct.h>

#include "digest.h"
#include "http_int.h"
#include "log.h"

int http_parse_id(const char *s, size_t n, long long *ret)
{
	long long v = 0;
	size_t i;

	if (!n || n > 18)
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	if (v <= 0)
		return -1;
	*ret = v;
	return 0;
}

/* 0 when the request carries the admin token; else answered 403/401. */
static int http_admin(struct http *h, struct evhttp_request *req)
{
	const char *auth = evhttp_find_header(evhttp_request_get_input_headers(req),
					      "Authorization");

	if (!h->h_cfg->admin_token || !*h->h_cfg->admin_token) {
		http_reply_error(req, 403, "admin endpoints are disabled (no admin_token_file)");
		return -1;
	}
	if (!auth || strncasecmp(auth, "Bearer ", 7) || strlen(auth) > HTTP_TOKEN_MAX) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate",
				  "Bearer");
		http_reply_error(req, 401, "missing bearer token");
		return -1;
	}
	auth += 7;
	while (*auth == ' ')
		auth++;
	/* digests are compared, so the time does not tell where or whether the
	 * lengths differ */
	if (!digest_equal_str(h->h_cfg->admin_token, strlen(h->h_cfg->admin_token), auth,
			      strlen(auth))) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate",
				  "Bearer error=\"invalid_token\"");
		http_reply_error(req, 401, "wrong bearer token");
		return -1;
	}
	return 0;
}

static int http_valid_name(const char *s, size_t n)
{
	size_t i;

	if (!n || n > REPO_NAME_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (!(s[i] >= 'a' && s[i] <= 'z') && !(s[i] >= 'A' && s[i] <= 'Z') &&
		    !(s[i] >= '0' && s[i] <= '9') && s[i] != '.' && s[i] != '_' && s[i] != '-')
			return 0;
	return 1;
}

#define HTTP_GET	(EVHTTP_REQ_GET | EVHTTP_REQ_HEAD)
#define HTTP_POST	EVHTTP_REQ_POST

/* Tried in order; the first that takes the path wins. A hook URL answers 404 to any
 * method until its repository is configured (LOOKUP_FIRST); the admin routes check the
 * token before they say whether a build or repository exists. */
static const struct http_route http_routes[] = {
	{ "/hooks/", HTTP_ARG_REPO, "", HTTP_POST, HTTP_LOOKUP_FIRST, "unknown repository",
	  http_intake_hook },
	{ "/builds", HTTP_ARG_NONE, "", HTTP_GET, 0, NULL, http_api_list },
	{ "/builds/", HTTP_ARG_NONE, "", HTTP_GET, 0, NULL, http_api_list },
	{ "/builds/", HTTP_ARG_BUILD, "", HTTP_GET, 0, NULL, http_api_build },
	{ "/builds/", HTTP_ARG_BUILD, "/log", HTTP_GET, 0, NULL, http_api_log },
	{ "/builds/", HTTP_ARG_BUILD, "/cancel", HTTP_POST, HTTP_ADMIN, NULL, http_api_cancel },
	{ "/builds/", HTTP_ARG_BUILD, "/retry", HTTP_POST, HTTP_ADMIN, NULL, http_api_retry },
	{ "/repos/", HTTP_ARG_REPO, "/builds", HTTP_POST, HTTP_ADMIN, NULL, http_api_start },
	{ "/healthz", HTTP_ARG_NONE, "", HTTP_GET, 0, NULL, http_health_healthz },
	{ "/metrics", HTTP_ARG_NONE, "", HTTP_GET, 0, NULL, http_health_metrics },
	{ "/", HTTP_ARG_NONE, "", HTTP_GET, 0, NULL, http_api_root },
};

const struct http_route *http_route_table(size_t *ret_n)
{
	*ret_n = sizeof(http_routes) / sizeof(http_routes[0]);
	return http_routes;
}

/* 1 when r takes path (m's argument filled), 0 when not, -1 when the path's build id
 * is malformed (m_miss set: such an id names no build, whatever follows it). */
static int http_route_try(const struct http_route *r, const char *path, struct http_match *m)
{
	size_t len = strlen(r->r_path), n;
	const char *rest;

	if (r->r_arg == HTTP_ARG_NONE)
		return !strcmp(path, r->r_path);
	if (strncmp(path, r->r_path, len))
		return 0;
	rest = path + len;
	n = strcspn(rest, "/");
	if (r->r_arg == HTTP_ARG_BUILD) {
		if (http_parse_id(rest, n, &m->m_id) < 0) {
			m->m_miss = "no such build";
			return -1;
		}
	} else {
		if (!http_valid_name(rest, n))
			return 0;
		memcpy(m->m_name, rest, n);
		m->m_name[n] = '\0';
	}
	return !strcmp(rest + n, r->r_tail);
}

int http_route_match(const char *path, struct http_match *ret)
{
	size_t i;

	*ret = (struct http_match){ 0 };
	for (i = 0; i < sizeof(http_routes) / sizeof(http_routes[0]); i++) {
		const struct http_route *r = &http_routes[i];
		int rc = http_route_try(r, path, ret);

		if (rc < 0)
			return -1;
		if (rc > 0) {
			ret->m_route = r;
			return 0;
		}
		if (r->r_miss && !strncmp(path, r->r_path, strlen(r->r_path))) {
			ret->m_miss = r->r_miss;
			return -1;
		}
	}
	ret->m_miss = "not found";
	return -1;
}

void http_route_allow(unsigned methods, char *buf, size_t size)
{
	static const struct {
		unsigned bit;
		const char *name;
	} names[] = {
		{ EVHTTP_REQ_GET, "GET" }, { EVHTTP_REQ_HEAD, "HEAD" }, { EVHTTP_REQ_POST, "POST" },
		{ EVHTTP_REQ_PUT, "PUT" }, { EVHTTP_REQ_DELETE, "DELETE" },
		{ EVHTTP_REQ_OPTIONS, "OPTIONS" }, { EVHTTP_REQ_PATCH, "PATCH" },
	};
	size_t i, len = 0;

	if (size)
		buf[0] = '\0';
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!(methods & names[i].bit) || len >= size)
			continue;
		len += (size_t)snprintf(buf + len, size - len, "%s%s", len ? ", " : "",
					names[i].name);
	}
}

/* The build or repository the path names: 0 with m's m_build or m_repo set, else
 * the request was answered (404, or 500 when the database fails). */
static int http_route_lookup(struct http *h, struct evhttp_request *req, struct http_match *m)
{
	struct err e = ERR_INIT;
	int rc;

	switch (m->m_route->r_arg) {
	case HTTP_ARG_BUILD:
		rc = store_get_build(h->h_store, m->m_id, &m->m_build, &e);
		if (rc == 0)
			return 0;
		if (rc > 0) {
			http_reply_error(req, 404, "no such build");
		} else {
			log_error("%s", e.msg);
			http_reply_error(req, 500, "cannot read the build");
		}
		return -1;
	case HTTP_ARG_REPO:
		m->m_repo = config_repo(h->h_cfg, m->m_name);
		if (m->m_repo)
			return 0;
		if (m->m_route->r_fn == http_intake_hook &&
		    evhttp_request_get_command(req) == EVHTTP_REQ_POST)
			http_intake_unknown(h, req, m->m_name);
		http_reply_error(req, 404, "unknown repository");
		return -1;
	case HTTP_ARG_NONE:
		break;
	}
	return 0;
}

void http_route(struct http *h, struct evhttp_request *req, const char *path)
{
	const struct http_route *r;
	struct http_match m;
	char allow[64];
	int first;

	if (http_route_match(path, &m) < 0) {
		http_reply_error(req, 404, m.m_miss);
		return;
	}
	r = m.m_route;
	first = (r->r_flags & HTTP_LOOKUP_FIRST) != 0;
	if (first && http_route_lookup(h, req, &m) < 0)
		goto out;
	if (!(evhttp_request_get_command(req) & r->r_methods)) {
		http_route_allow(r->r_methods, allow, sizeof(allow));
		http_reply_405(req, allow);
		goto out;
	}
	if ((r->r_flags & HTTP_ADMIN) && http_admin(h, req) < 0)
		goto out;
	if (!first && http_route_lookup(h, req, &m) < 0)
		goto out;
	r->r_fn(h, req, &m);
out:
	build_release(&m.m_build);
}
