/* http_int: what the http*.c files share and nobody else sees: struct http and the
 * functions one part of the server calls in another. Include only from agent/http*.c. */
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

/* --- http_intake.c: webhook intake, its group commit and its counters --- */

/* Makes h_batch (0 / -1 with e set). */
int http_intake_init(struct http *h, struct err *e);
/* Frees h_batch (answering what it holds), the counters and h_url_json. */
void http_intake_release(struct http *h);
void http_hook(struct http *h, struct evhttp_request *req, const char *name);
/* s2i_agent_deliveries_total, in Prometheus text. */
void http_intake_metrics(const struct http *h, struct buf *o);

/* --- http_api.c: the read API and the pipeline's endpoints --- */

void http_builds(struct http *h, struct evhttp_request *req, const struct evhttp_uri *uri);
void http_build(struct http *h, struct evhttp_request *req, long long id);
void http_dashboard(struct http *h, struct evhttp_request *req);
int http_wants_html(struct evhttp_request *req);
/* 0 with *ret filled, else the request was answered (404/500). */
int http_find_build(struct http *h, struct evhttp_request *req, long long id, struct build *ret);
void http_ext(struct http *h, struct evhttp_request *req, enum http_ext which, long long id,
	      const struct repo_conf *repo);

/* --- http_health.c: /healthz, the engine probe and /metrics --- */

int http_default_engine_check(void *ctx, struct err *e);
void http_healthz(struct http *h, struct evhttp_request *req);
void http_metrics(struct http *h, struct evhttp_request *req);

/* --- http_route.c: routing and the admin token --- */

void http_route(struct http *h, struct evhttp_request *req, const char *path,
		const struct evhttp_uri *uri);
/* A build id of 1 to 18 digits, above 0: 0 with *ret set, else -1. */
int http_parse_id(const char *s, size_t n, long long *ret);

#endif
