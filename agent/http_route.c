/* http_route: which handler a request reaches: the path's routes, the method each
 * allows, the admin token of the admin endpoints. */
#include <string.h>
#include <strings.h>

#include <event2/keyvalq_struct.h>

#include "hmac.h"
#include "http_int.h"

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
	if (!hmac_equal_str(h->h_cfg->admin_token, strlen(h->h_cfg->admin_token), auth,
			    strlen(auth))) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate",
				  "Bearer error=\"invalid_token\"");
		http_reply_error(req, 401, "wrong bearer token");
		return -1;
	}
	return 0;
}

static int http_is_get(struct evhttp_request *req)
{
	enum evhttp_cmd_type c = evhttp_request_get_command(req);

	return c == EVHTTP_REQ_GET || c == EVHTTP_REQ_HEAD;
}

/* Path segments after a fixed prefix: "name" in /hooks/name (no '/' inside). */
static int http_segment(const char *s, size_t *ret_len)
{
	size_t n = strcspn(s, "/");

	*ret_len = n;
	return n > 0;
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

void http_route(struct http *h, struct evhttp_request *req, const char *path,
		const struct evhttp_uri *uri)
{
	char name[REPO_NAME_MAX + 1];
	struct build b = BUILD_INIT;
	const char *rest;
	long long id;
	size_t n;

	if (!strncmp(path, "/hooks/", 7)) {
		rest = path + 7;
		if (!http_segment(rest, &n) || rest[n] || !http_valid_name(rest, n)) {
			http_reply_error(req, 404, "unknown repository");
			return;
		}
		memcpy(name, rest, n);
		name[n] = '\0';
		http_hook(h, req, name);
		return;
	}
	if (!strcmp(path, "/builds") || !strcmp(path, "/builds/")) {
		if (!http_is_get(req)) {
			http_reply_405(req, "GET, HEAD");
			return;
		}
		http_builds(h, req, uri);
		return;
	}
	if (!strncmp(path, "/builds/", 8)) {
		rest = path + 8;
		http_segment(rest, &n);
		if (http_parse_id(rest, n, &id) < 0) {
			http_reply_error(req, 404, "no such build");
			return;
		}
		rest += n;
		if (!*rest) {
			if (!http_is_get(req)) {
				http_reply_405(req, "GET, HEAD");
				return;
			}
			http_build(h, req, id);
			return;
		}
		if (!strcmp(rest, "/log")) {
			if (!http_is_get(req)) {
				http_reply_405(req, "GET, HEAD");
				return;
			}
			if (http_find_build(h, req, id, &b) < 0)
				return;
			build_release(&b);
			http_ext(h, req, HTTP_EXT_LOG, id, NULL);
			return;
		}
		if (!strcmp(rest, "/cancel") || !strcmp(rest, "/retry")) {
			if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
				http_reply_405(req, "POST");
				return;
			}
			if (http_admin(h, req) < 0)
				return;
			if (http_find_build(h, req, id, &b) < 0)
				return;
			build_release(&b);
			http_ext(h, req, rest[1] == 'c' ? HTTP_EXT_CANCEL : HTTP_EXT_RETRY, id, NULL);
			return;
		}
		http_reply_error(req, 404, "not found");
		return;
	}
	if (!strncmp(path, "/repos/", 7)) {
		const struct repo_conf *repo;

		rest = path + 7;
		if (!http_segment(rest, &n) || strcmp(rest + n, "/builds") ||
		    !http_valid_name(rest, n)) {
			http_reply_error(req, 404, "not found");
			return;
		}
		memcpy(name, rest, n);
		name[n] = '\0';
		if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
			http_reply_405(req, "POST");
			return;
		}
		if (http_admin(h, req) < 0)
			return;
		repo = config_repo(h->h_cfg, name);
		if (!repo) {
			http_reply_error(req, 404, "unknown repository");
			return;
		}
		if (h->h_stopping) {
			http_reply_retry(req, "shutting down");
			return;
		}
		http_ext(h, req, HTTP_EXT_BUILD, 0, repo);
		return;
	}
	if (!strcmp(path, "/healthz")) {
		if (!http_is_get(req)) {
			http_reply_405(req, "GET, HEAD");
			return;
		}
		http_healthz(h, req);
		return;
	}
	if (!strcmp(path, "/metrics")) {
		if (!http_is_get(req)) {
			http_reply_405(req, "GET, HEAD");
			return;
		}
		http_metrics(h, req);
		return;
	}
	if (!strcmp(path, "/")) {
		if (!http_is_get(req)) {
			http_reply_405(req, "GET, HEAD");
			return;
		}
		if (h->h_ext_fn[HTTP_EXT_DASHBOARD])
			http_ext(h, req, HTTP_EXT_DASHBOARD, 0, NULL);
		else if (http_wants_html(req))
			http_dashboard(h, req);
		else
			http_builds(h, req, evhttp_request_get_evhttp_uri(req));
		return;
	}
	http_reply_error(req, 404, "not found");
}
