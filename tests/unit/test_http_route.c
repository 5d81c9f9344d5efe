/* Unit tests for http_route: which route a path reaches (and the 404 of those no route
 * takes), and, through a real server on loopback, the order of the router's checks. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <unistd.h>
#include <cmocka.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "http_int.h"
#include "storefixture.h"

/* ---------- the table ---------- */

static void test_match(void **state)
{
	static const struct {
		const char *path;
		http_handler_fn fn;	/* NULL: no route, miss is the 404 message */
		long long id;
		const char *name;
		const char *miss;
	} t[] = {
		{ "/hooks/web", http_intake_hook, 0, "web", NULL },
		{ "/hooks/a.b_c-1", http_intake_hook, 0, "a.b_c-1", NULL },
		{ "/hooks/..", http_intake_hook, 0, "..", NULL },
		{ "/hooks/", NULL, 0, NULL, "unknown repository" },
		{ "/hooks/web/", NULL, 0, NULL, "unknown repository" },
		{ "/hooks/web/x", NULL, 0, NULL, "unknown repository" },
		{ "/hooks/../builds", NULL, 0, NULL, "unknown repository" },
		{ "/hooks/we b", NULL, 0, NULL, "unknown repository" },
		{ "/hooks", NULL, 0, NULL, "not found" },
		{ "/builds", http_api_list, 0, NULL, NULL },
		{ "/builds/", http_api_list, 0, NULL, NULL },
		{ "/builds/7", http_api_build, 7, NULL, NULL },
		{ "/builds/0042", http_api_build, 42, NULL, NULL },
		{ "/builds/7/log", http_api_log, 7, NULL, NULL },
		{ "/builds/7/cancel", http_api_cancel, 7, NULL, NULL },
		{ "/builds/7/retry", http_api_retry, 7, NULL, NULL },
		{ "/builds/999999999999999999", http_api_build, 999999999999999999LL, NULL, NULL },
		/* not an id: no build, whatever follows */
		{ "/builds/abc", NULL, 0, NULL, "no such build" },
		{ "/builds/abc/log", NULL, 0, NULL, "no such build" },
		{ "/builds/0", NULL, 0, NULL, "no such build" },
		{ "/builds/-1", NULL, 0, NULL, "no such build" },
		{ "/builds/1000000000000000000", NULL, 0, NULL, "no such build" },
		{ "/builds//log", NULL, 0, NULL, "no such build" },
		/* an id, then nothing a route takes */
		{ "/builds/7/", NULL, 0, NULL, "not found" },
		{ "/builds/7/zzz", NULL, 0, NULL, "not found" },
		{ "/builds/7/log/", NULL, 0, NULL, "not found" },
		{ "/buildsx", NULL, 0, NULL, "not found" },
		{ "/repos/web/builds", http_api_start, 0, "web", NULL },
		{ "/repos/web", NULL, 0, NULL, "not found" },
		{ "/repos/web/builds/", NULL, 0, NULL, "not found" },
		{ "/repos//builds", NULL, 0, NULL, "not found" },
		{ "/repos/builds", NULL, 0, NULL, "not found" },
		{ "/repos/a b/builds", NULL, 0, NULL, "not found" },
		{ "/healthz", http_health_healthz, 0, NULL, NULL },
		{ "/healthz/", NULL, 0, NULL, "not found" },
		{ "/metrics", http_health_metrics, 0, NULL, NULL },
		{ "/", http_api_root, 0, NULL, NULL },
		{ "//", NULL, 0, NULL, "not found" },
		{ "/nosuch", NULL, 0, NULL, "not found" },
	};
	char longname[REPO_NAME_MAX + 2 + 7];
	struct http_match m;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int rc = http_route_match(t[i].path, &m);

		if (!t[i].fn) {
			if (rc != -1 || !m.m_miss || strcmp(m.m_miss, t[i].miss))
				fail_msg("%s: want 404 '%s', got rc %d '%s'", t[i].path, t[i].miss,
					 rc, m.m_miss ? m.m_miss : "(null)");
			assert_null(m.m_route);
			continue;
		}
		if (rc != 0 || !m.m_route || m.m_route->r_fn != t[i].fn)
			fail_msg("%s: did not reach its handler (rc %d, '%s')", t[i].path, rc,
				 m.m_miss ? m.m_miss : "another route");
		assert_int_equal(m.m_id, t[i].id);
		assert_string_equal(m.m_name, t[i].name ? t[i].name : "");
	}
	/* a name of REPO_NAME_MAX characters is one, a longer one is not */
	snprintf(longname, sizeof(longname), "/hooks/%0*d", REPO_NAME_MAX, 0);
	assert_int_equal(http_route_match(longname, &m), 0);
	snprintf(longname, sizeof(longname), "/hooks/%0*d", REPO_NAME_MAX + 1, 0);
	assert_int_equal(http_route_match(longname, &m), -1);
	assert_string_equal(m.m_miss, "unknown repository");
}

/* Each route is reached by a path made of its own parts: none is hidden by another. */
static void test_reachable(void **state)
{
	const struct http_route *r;
	struct http_match m;
	size_t n, i;

	(void)state;
	r = http_route_table(&n);
	assert_true(n > 0);
	for (i = 0; i < n; i++) {
		const char *arg = r[i].r_arg == HTTP_ARG_BUILD ? "42" :
				  r[i].r_arg == HTTP_ARG_REPO ? "web" : "";
		char path[256];

		snprintf(path, sizeof(path), "%s%s%s", r[i].r_path, arg, r[i].r_tail);
		if (http_route_match(path, &m) < 0 || m.m_route != &r[i])
			fail_msg("route %zu: '%s' reaches %s", i, path,
				 m.m_route ? "an earlier route" : m.m_miss);
		assert_non_null(r[i].r_fn);
		assert_true(r[i].r_methods != 0);
	}
}

/* What each handler allows, which need the admin token, and which are the read side
 * (private once the agent is published, http_access.c). */
static void test_methods(void **state)
{
	static const struct {
		http_handler_fn fn;
		const char *allow;
		unsigned flags;
	} t[] = {
		{ http_intake_hook, "POST", HTTP_LOOKUP_FIRST },
		{ http_api_list, "GET, HEAD", HTTP_READ },
		{ http_api_build, "GET, HEAD", HTTP_READ },
		{ http_api_log, "GET, HEAD", HTTP_READ },
		{ http_api_cancel, "POST", HTTP_ADMIN },
		{ http_api_retry, "POST", HTTP_ADMIN },
		{ http_api_start, "POST", HTTP_ADMIN },
		{ http_health_healthz, "GET, HEAD", 0 },
		{ http_health_metrics, "GET, HEAD", HTTP_READ },
		{ http_access_login, "GET, HEAD, POST", 0 },
		{ http_api_root, "GET, HEAD", HTTP_READ },
	};
	const struct http_route *r;
	char allow[64];
	size_t n, i, j;

	(void)state;
	r = http_route_table(&n);
	for (i = 0; i < n; i++) {
		for (j = 0; j < sizeof(t) / sizeof(t[0]); j++)
			if (t[j].fn == r[i].r_fn)
				break;
		if (j == sizeof(t) / sizeof(t[0]))
			fail_msg("route %zu (%s): a handler this test does not know", i, r[i].r_path);
		http_route_allow(r[i].r_methods, allow, sizeof(allow));
		if (strcmp(allow, t[j].allow))
			fail_msg("route %zu (%s%s): allows '%s', want '%s'", i, r[i].r_path,
				 r[i].r_tail, allow, t[j].allow);
		assert_int_equal(r[i].r_flags, t[j].flags);
	}
	/* the Allow value is cut to the buffer, never past it */
	http_route_allow(EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST, allow, sizeof(allow));
	assert_string_equal(allow, "GET, HEAD, POST");
	memset(allow, 'x', sizeof(allow));
	http_route_allow(EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST, allow, 8);
	assert_string_equal(allow, "GET, HE");
	http_route_allow(0, allow, sizeof(allow));
	assert_string_equal(allow, "");
}

/* ---------- the router, through a server on loopback ---------- */

static const char admin_token[] = "route-test-token";
static const char *const files[] = { "agent.conf", "open.conf", "web.secret", "admin.token" };

struct answer {
	struct event_base *base;
	int code;
	char allow[64];
	char www_auth[64];
	char body[256];
};

static void put(const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", sf_dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, 0600), 0);
}

static struct config *load(const char *name, int with_admin)
{
	struct strv errors = STRV_INIT;
	struct config *c = NULL;
	char path[512];
	char *text;

	text = xasprintf("[agent]\nlisten = 127.0.0.1:1\nstate_dir = %s\n%s%s%s\n"
			 "[repo \"web\"]\nurl = https://example.com/web.git\n"
			 "secret_file = %s/web.secret\nbuilder = b\n", sf_dir,
			 with_admin ? "admin_token_file = " : "", with_admin ? sf_dir : "",
			 with_admin ? "/admin.token" : "", sf_dir);
	put(name, text);
	free(text);
	snprintf(path, sizeof(path), "%s/%s", sf_dir, name);
	if (config_load(path, &c, &errors) < 0)
		fail_msg("%s: %s", name, errors.n ? errors.items[0] : "?");
	strv_clear(&errors);
	return c;
}

static int engine_ok(void *ctx, struct err *e)
{
	(void)ctx;
	(void)e;
	return 0;
}

/* The pipeline's log endpoint, as the worker would answer it. */
static void ext_log(void *ctx, struct evhttp_request *req, long long id,
		    const struct repo_conf *repo)
{
	(void)ctx;
	assert_null(repo);
	http_reply_json(req, 200, json_pack("{sI}", "log", (json_int_t)id));
}

static void answered(struct evhttp_request *req, void *arg)
{
	struct answer *a = arg;
	const char *v;

	a->code = req ? evhttp_request_get_response_code(req) : -1;
	if (req) {
		struct evkeyvalq *hd = evhttp_request_get_input_headers(req);
		struct evbuffer *b = evhttp_request_get_input_buffer(req);
		size_t n = evbuffer_get_length(b);

		if ((v = evhttp_find_header(hd, "Allow")))
			snprintf(a->allow, sizeof(a->allow), "%s", v);
		if ((v = evhttp_find_header(hd, "WWW-Authenticate")))
			snprintf(a->www_auth, sizeof(a->www_auth), "%s", v);
		if (n >= sizeof(a->body))
			n = sizeof(a->body) - 1;
		evbuffer_remove(b, a->body, n);
		a->body[n] = '\0';
	}
	event_base_loopbreak(a->base);
}

/* One request on a connection of its own, answered before it returns. */
static void ask(struct event_base *base, int port, enum evhttp_cmd_type cmd, const char *path,
		const char *token, struct answer *a)
{
	struct evhttp_connection *conn;
	struct evhttp_request *req;
	char auth[128];

	memset(a, 0, sizeof(*a));
	a->base = base;
	conn = evhttp_connection_base_new(base, NULL, "127.0.0.1", (ev_uint16_t)port);
	assert_non_null(conn);
	req = evhttp_request_new(answered, a);
	assert_non_null(req);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Host", "127.0.0.1");
	if (token) {
		snprintf(auth, sizeof(auth), "Bearer %s", token);
		evhttp_add_header(evhttp_request_get_output_headers(req), "Authorization", auth);
	}
	assert_int_equal(evhttp_make_request(conn, req, cmd, path), 0);
	event_base_dispatch(base);
	evhttp_connection_free(conn);
}

static void test_router(void **state)
{
	static const struct {
		enum evhttp_cmd_type cmd;
		const char *path;
		const char *token;	/* Bearer token sent, NULL: none */
		int code;
		const char *allow;	/* Allow header wanted, NULL: none */
		const char *body;	/* wanted, NULL: not checked */
	} t[] = {
		/* a hook's repository is looked up before its method is checked */
		{ EVHTTP_REQ_GET, "/hooks/nosuch", NULL, 404, NULL,
		  "{\"error\":\"unknown repository\"}\n" },
		{ EVHTTP_REQ_GET, "/hooks/web", NULL, 405, "POST",
		  "{\"error\":\"method not allowed\"}\n" },
		{ EVHTTP_REQ_PUT, "/hooks/web", NULL, 405, "POST", NULL },
		{ EVHTTP_REQ_GET, "/hooks/web/x", NULL, 404, NULL,
		  "{\"error\":\"unknown repository\"}\n" },
		{ EVHTTP_REQ_POST, "/hooks/web", NULL, 401, NULL, NULL },	/* unsigned */
		/* reads: the method, then the build */
		{ EVHTTP_REQ_GET, "/builds", NULL, 200, NULL, NULL },
		{ EVHTTP_REQ_HEAD, "/builds/", NULL, 200, NULL, NULL },
		{ EVHTTP_REQ_DELETE, "/builds", NULL, 405, "GET, HEAD", NULL },
		{ EVHTTP_REQ_GET, "/builds/1", NULL, 200, NULL, NULL },
		{ EVHTTP_REQ_POST, "/builds/999", NULL, 405, "GET, HEAD", NULL },
		{ EVHTTP_REQ_GET, "/builds/999", NULL, 404, NULL, "{\"error\":\"no such build\"}\n" },
		{ EVHTTP_REQ_GET, "/builds/abc/log", NULL, 404, NULL,
		  "{\"error\":\"no such build\"}\n" },
		{ EVHTTP_REQ_GET, "/builds/1/zzz", NULL, 404, NULL, "{\"error\":\"not found\"}\n" },
		{ EVHTTP_REQ_GET, "/builds/1/log", NULL, 200, NULL, "{\"log\":1}\n" },
		{ EVHTTP_REQ_GET, "/builds/999/log", NULL, 404, NULL, NULL },
		/* admin: the method, then the token, then the build or repository */
		{ EVHTTP_REQ_GET, "/builds/999/cancel", NULL, 405, "POST", NULL },
		{ EVHTTP_REQ_POST, "/builds/999/cancel", NULL, 401, NULL,
		  "{\"error\":\"missing bearer token\"}\n" },
		{ EVHTTP_REQ_POST, "/builds/999/retry", "wrong", 401, NULL,
		  "{\"error\":\"wrong bearer token\"}\n" },
		{ EVHTTP_REQ_POST, "/builds/999/retry", admin_token, 404, NULL,
		  "{\"error\":\"no such build\"}\n" },
		{ EVHTTP_REQ_POST, "/builds/1/cancel", admin_token, 501, NULL,
		  "{\"error\":\"not implemented yet\"}\n" },
		{ EVHTTP_REQ_GET, "/repos/nosuch/builds", NULL, 405, "POST", NULL },
		{ EVHTTP_REQ_POST, "/repos/nosuch/builds", NULL, 401, NULL, NULL },
		{ EVHTTP_REQ_POST, "/repos/nosuch/builds", admin_token, 404, NULL,
		  "{\"error\":\"unknown repository\"}\n" },
		{ EVHTTP_REQ_POST, "/repos/web/builds", admin_token, 501, NULL, NULL },
		{ EVHTTP_REQ_POST, "/repos/web/builds/", admin_token, 404, NULL,
		  "{\"error\":\"not found\"}\n" },
		{ EVHTTP_REQ_GET, "/healthz", NULL, 200, NULL, "ok\n" },
		{ EVHTTP_REQ_POST, "/metrics", NULL, 405, "GET, HEAD", NULL },
		{ EVHTTP_REQ_GET, "/metrics", NULL, 200, NULL, NULL },
		{ EVHTTP_REQ_OPTIONS, "/", NULL, 405, "GET, HEAD", NULL },
		{ EVHTTP_REQ_GET, "/nosuch", NULL, 404, NULL, "{\"error\":\"not found\"}\n" },
	};
	struct event_base *base = event_base_new();
	struct config *cfg = load("agent.conf", 1), *open_cfg = load("open.conf", 0);
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);
	struct store *st = NULL;
	struct build b = BUILD_INIT;
	struct err e = ERR_INIT;
	struct answer a;
	struct http *h;
	long long dup = 0;
	size_t i;
	int port;

	(void)state;
	assert_non_null(base);
	assert_int_equal(store_open(sf_dir, &st, &e), 0);
	b.repo = xstrdup("web");
	b.ref = xstrdup("refs/heads/main");
	snprintf(b.sha, sizeof(b.sha), "%040d", 1);
	b.provider = xstrdup("generic");
	b.delivery = xstrdup("d-1");
	assert_int_equal(store_add_build(st, &b, &dup, &e), 0);
	assert_int_equal(b.id, 1);
	build_release(&b);

	h = http_new(base, st, cfg);
	assert_non_null(h);
	http_set_engine_check(h, engine_ok, NULL);
	http_set_ext(h, HTTP_EXT_LOG, ext_log, NULL);
	assert_int_equal(http_listen(h, "127.0.0.1", 0, &e), 0);
	assert_int_equal(getsockname(evhttp_bound_socket_get_fd(h->h_listeners[0].hl_sock),
				     (struct sockaddr *)&sin, &sl), 0);
	port = ntohs(sin.sin_port);

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		ask(base, port, t[i].cmd, t[i].path, t[i].token, &a);
		if (a.code != t[i].code)
			fail_msg("%s: %d, want %d (%s)", t[i].path, a.code, t[i].code, a.body);
		if (t[i].allow && strcmp(a.allow, t[i].allow))
			fail_msg("%s: Allow '%s', want '%s'", t[i].path, a.allow, t[i].allow);
		if (!t[i].allow && a.allow[0])
			fail_msg("%s: Allow '%s' on a %d", t[i].path, a.allow, a.code);
		if (t[i].body && strcmp(a.body, t[i].body))
			fail_msg("%s: body '%s', want '%s'", t[i].path, a.body, t[i].body);
		/* the admin token's 401 says how to authenticate; a webhook's does not */
		if (a.code == 401 && !strncmp(t[i].path, "/hooks/", 7) != !a.www_auth[0])
			fail_msg("%s: 401 with WWW-Authenticate '%s'", t[i].path, a.www_auth);
	}

	/* without an admin token the admin routes answer 403, after the method */
	http_set_config(h, open_cfg);
	ask(base, port, EVHTTP_REQ_POST, "/builds/1/cancel", admin_token, &a);
	assert_int_equal(a.code, 403);
	ask(base, port, EVHTTP_REQ_POST, "/repos/nosuch/builds", NULL, &a);
	assert_int_equal(a.code, 403);
	ask(base, port, EVHTTP_REQ_GET, "/builds/1/retry", NULL, &a);
	assert_int_equal(a.code, 405);

	http_free(h);
	store_free(st);
	config_free(cfg);
	config_free(open_cfg);
	event_base_free(base);
}

static int setup(void **state)
{
	if (sf_group_setup(state) < 0)
		return -1;
	put("web.secret", "route-test-secret\n");
	put("admin.token", admin_token);
	return 0;
}

static int teardown(void **state)
{
	char path[512];
	size_t i;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", sf_dir, files[i]);
		unlink(path);
	}
	return sf_group_teardown(state);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_reachable),
		cmocka_unit_test(test_methods),
		cmocka_unit_test(test_router),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
