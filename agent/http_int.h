/* http_int: what the http*.c files share and nobody else sees: struct http, the routes.
 * Include only from agent/http*.c (as gitsrc_int.h for gitsrc). */
#ifndef S2I_HTTP_INT_H
#define S2I_HTTP_INT_H

#include <stddef.h>
#include <time.h>

#include <event2/bufferevent.h>
#include <event2/http.h>
#include <event2/listener.h>

#include "buf.h"
#include "http.h"
#include "limits.h"

struct http_conn;	/* http_conn.c */
struct http_counter;	/* http_intake.c */

struct http_listener {
	struct evhttp_bound_socket *hl_sock;
	struct evconnlistener *hl_lev;
	struct event *hl_retry;		/* re-enables accept() after running out of fds */
};

struct http {
	struct event_base *h_base;
	struct evhttp *h_evhttp;
	struct store *h_store;
	const struct config *h_cfg;
	long long h_queue_max;
	int h_stopping;
	unsigned h_inflight;
	struct http_listener h_listeners[8];
	size_t h_nlisteners;

	struct batch *h_batch;		/* group commit of verified deliveries */

	char *h_url_json;		/* public_url, JSON-escaped, no quotes */

	struct http_conn *h_conns;	/* every open connection (list) */
	struct http_conn *h_chash[HTTP_CONN_BUCKETS];	/* by bufferevent */
	size_t h_nconns;
	struct event *h_sweep;		/* enforces the request deadline */
	unsigned long long h_cut;	/* connections cut at the deadline */

	struct http_counter *h_counters;
	size_t h_ncounters;
	time_t h_started;

	http_queued_fn h_queued_fn;
	void *h_queued_ctx;
	http_health_fn h_health_fn;
	http_metrics_fn h_metrics_fn;
	void *h_pipeline_ctx;
	http_engine_check_fn h_engine_fn;
	void *h_engine_ctx;
	time_t h_engine_checked;
	int h_engine_ok;
	char h_engine_msg[256];
	http_ext_fn h_ext_fn[HTTP_EXT_N];
	void *h_ext_ctx[HTTP_EXT_N];
};

/* --- http_reply.c: every answer leaves through these --- */

/* b is the body (NULL: none), freed. */
void http_send_buf(struct evhttp_request *req, int code, const char *type, struct evbuffer *b);
void http_send(struct evhttp_request *req, int code, const char *type, const char *body,
	       size_t len);
/* 503 {"error": msg} with Retry-After. */
void http_reply_retry(struct evhttp_request *req, const char *msg);
/* 405 with Allow: allow. */
void http_reply_405(struct evhttp_request *req, const char *allow);

/* --- http_conn.c: client connections and the request deadline --- */

/* evhttp's bevcb: every connection's bufferevent is made here. */
struct bufferevent *http_conn_bev_cb(struct event_base *base, void *arg);
/* A request arrived on req's connection / was answered: its deadline stops / restarts. */
void http_conn_request(struct http *h, struct evhttp_request *req);
void http_conn_answered(struct http *h, struct evhttp_request *req);
/* Makes the deadline's timer; http_conn_release frees it and every connection. */
void http_conn_init(struct http *h);
void http_conn_release(struct http *h);

/* --- http_route.c: the route table and the router --- */

/* What follows a route's r_path. */
enum http_arg {
	HTTP_ARG_NONE,		/* nothing: the path is r_path */
	HTTP_ARG_BUILD,		/* a build id, then r_tail; the build must exist */
	HTTP_ARG_REPO,		/* a repository name, then r_tail; it must be configured */
};

#define HTTP_ADMIN	1u	/* needs the admin token (403 / 401) */
#define HTTP_LOOKUP_FIRST	2u	/* argument looked up before the method check */

struct http_match;
/* Called once the router checked the method, the admin token and the argument;
 * answers req, now or later. */
typedef void (*http_handler_fn)(struct http *h, struct evhttp_request *req,
				const struct http_match *m);

struct http_route {
	/* the whole path (HTTP_ARG_NONE), or what precedes the argument */
	const char *r_path;
	enum http_arg r_arg;
	const char *r_tail;	/* what follows the argument, to the end of the path */
	unsigned r_methods;	/* EVHTTP_REQ_* bits; another method gets 405 with Allow */
	unsigned r_flags;	/* HTTP_ADMIN, HTTP_LOOKUP_FIRST */
	/* 404 message for a path under r_path this route does not take; NULL: the
	 * next routes are tried */
	const char *r_miss;
	http_handler_fn r_fn;
};

/* A path matched to a route, then its argument looked up. */
struct http_match {
	const struct http_route *m_route;	/* NULL: 404 with m_miss */
	const char *m_miss;
	long long m_id;				/* HTTP_ARG_BUILD */
	char m_name[REPO_NAME_MAX + 1];		/* HTTP_ARG_REPO */
	struct build m_build;			/* HTTP_ARG_BUILD, as stored */
	const struct repo_conf *m_repo;		/* HTTP_ARG_REPO, as configured */
};

/* Answers req: a 404 for a path no route takes, 405, 403/401 (admin routes), the
 * 404 of a build or repository that does not exist, else what the route's handler says. */
void http_route(struct http *h, struct evhttp_request *req, const char *path);
/* The route that takes path, with its argument: 0, else -1 with ret->m_miss. */
int http_route_match(const char *path, struct http_match *ret);
/* The value of an Allow header for EVHTTP_REQ_* bits ("GET, HEAD"), cut to size. */
void http_route_allow(unsigned methods, char *buf, size_t size);
const struct http_route *http_route_table(size_t *ret_n);
/* A build id of 1 to 18 digits, above 0: 0 with *ret set, else -1. */
int http_parse_id(const char *s, size_t n, long long *ret);

/* --- the routes' handlers --- */

/* http_intake.c: POST /hooks/NAME */
void http_intake_hook(struct http *h, struct evhttp_request *req, const struct http_match *m);
/* http_api.c: GET /builds, /builds/ID, /; the pipeline's /builds/ID/log,
 * POST /builds/ID/cancel, /builds/ID/retry and /repos/NAME/builds */
void http_api_list(struct http *h, struct evhttp_request *req, const struct http_match *m);
void http_api_build(struct http *h, struct evhttp_request *req, const struct http_match *m);
void http_api_root(struct http *h, struct evhttp_request *req, const struct http_match *m);
void http_api_log(struct http *h, struct evhttp_request *req, const struct http_match *m);
void http_api_cancel(struct http *h, struct evhttp_request *req, const struct http_match *m);
void http_api_retry(struct http *h, struct evhttp_request *req, const struct http_match *m);
void http_api_start(struct http *h, struct evhttp_request *req, const struct http_match *m);
/* http_health.c: GET /healthz, /metrics */
void http_health_healthz(struct http *h, struct evhttp_request *req, const struct http_match *m);
void http_health_metrics(struct http *h, struct evhttp_request *req, const struct http_match *m);

/* --- http_intake.c: webhook intake, its group commit and its counters --- */

/* Makes h_batch (0 / -1 with e set). */
int http_intake_init(struct http *h, struct err *e);
/* Frees h_batch (answering what it holds), the counters and h_url_json. */
void http_intake_release(struct http *h);
/* s2i_agent_deliveries_total, in Prometheus text. */
void http_intake_metrics(const struct http *h, struct buf *o);

/* --- http_health.c --- */

int http_default_engine_check(void *ctx, struct err *e);

#endif
