/* http_int: what the http*.c files share and nobody else sees: struct http, the routes.
 * Include only from agent/http*.c (as gitsrc_int.h for gitsrc). */
#ifndef S2I_HTTP_INT_H
#define S2I_HTTP_INT_H

#include <stddef.h>
#include <time.h>

#include <event2/bufferevent.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <jansson.h>

#include "buf.h"
#include "http.h"
#include "limits.h"
#include "webhook.h"

struct http_counter;	/* http_intake.c */
struct http_route;	/* http_route.c */
struct http_match;

/* What the gate (http_gate.c) or the access check answers instead of the route. */
struct http_verdict {
	int v_code;			/* 0: none */
	const char *v_msg;		/* a static string */
	unsigned v_allow;		/* 405: the methods the route takes */
	int v_auth;			/* 401: WWW-Authenticate Bearer (1), invalid_token (2) */
	const char *v_location;		/* 303 */
	int v_provider;			/* a delivery to v_repo refused: its provider; else -1 */
	char v_repo[REPO_NAME_MAX + 1];
};

enum http_gate_state {
	HTTP_GATE_HEAD,		/* reading a head: evhttp sees none of it yet */
	HTTP_GATE_PASS,		/* evhttp reads this request, its body included */
	HTTP_GATE_REFUSED,	/* evhttp reads a stand-in and answers c_verdict */
};

/* A client connection. The bufferevent is created here (evhttp's bevcb) and held by a
 * reference, so its fd stays ours until we let go; evhttp clears its callbacks when it
 * is done with it. */
struct http_conn {
	struct http *c_h;
	struct bufferevent *c_bev;
	struct http_conn *c_hnext;		/* hash chain */
	struct http_conn *c_prev, *c_next;	/* all connections */
	time_t c_since;				/* waiting for a request since */
	int c_busy;				/* a request is being answered */
	int c_gone;				/* evhttp let go of it */
	time_t c_gone_at;
	int c_linger;				/* 1: lingering, 2: its client closed */
	/* the gate */
	enum http_gate_state c_gate;
	int c_ingate;				/* the gate is running (no re-entry) */
	size_t c_scan;				/* head bytes known to be whole lines */
	unsigned long long c_held;		/* body bytes counted in h_body_held */
	struct http_verdict c_verdict;
};

/* A refused delivery as the dashboard lists it: never its body or signature */
struct http_refusal {
	time_t hr_time;
	char hr_repo[REPO_NAME_MAX + 1];	/* the name as sent, cut */
	char hr_provider[16];
	int hr_code;				/* 400, 401, 404 */
	char hr_reason[HTTP_REFUSAL_REASON_MAX];
};

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
	size_t h_conns_peak;		/* most connections open since the last trim */
	struct event *h_sweep;		/* enforces the request deadline */
	unsigned long long h_cut;	/* connections cut at the deadline */
	struct event *h_reap;		/* lets go of connections evhttp closed */
	unsigned long long h_body_held;	/* body bytes the admitted requests declared */
	unsigned long long h_refused;	/* requests the gate answered before their body */
	time_t h_deny_since;		/* refusal log lines: this window ... */
	unsigned h_deny_logged;		/* ... logged so far ... */
	unsigned long long h_deny_dropped;	/* ... and not logged */

	struct http_counter *h_counters;
	size_t h_ncounters;
	/* the last HTTP_REFUSALS_KEPT refusals (a ring; h_nrefused counts them all) and the
	 * deliveries to unknown repositories, whose log lines are rate-limited */
	struct http_refusal h_refusals[HTTP_REFUSALS_KEPT];
	unsigned long long h_nrefused, h_nunknown;
	time_t h_unknown_minute;
	unsigned h_unknown_logged, h_unknown_unlogged;
	time_t h_started;

	http_queued_fn h_queued_fn;
	void *h_queued_ctx;
	http_closed_fn h_closed_fn;
	void *h_closed_ctx;
	http_deleted_fn h_deleted_fn;
	void *h_deleted_ctx;
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
/* A request arrived on req's connection / was answered: its deadline stops / restarts.
 * http_conn_request returns 1 when req is the stand-in of a refused one. */
int http_conn_request(struct http *h, struct evhttp_request *req);
/* The gate's verdict on req's connection. */
const struct http_verdict *http_conn_verdict(struct http *h, struct evhttp_request *req);
void http_conn_answered(struct http *h, struct evhttp_request *req);
/* Makes the deadline's timer; http_conn_release frees it and every connection. */
void http_conn_init(struct http *h);
void http_conn_release(struct http *h);

/* --- http_gate.c: each request's head judged before its body is read --- */

/* Starts judging the connection's requests (from the bevcb). */
void http_gate_attach(struct http_conn *c);
/* Judges what has arrived (a whole head: let through or refused). */
void http_gate_run(struct http_conn *c);
/* The request let through was read whole: the next head waits for the gate. */
void http_gate_next(struct http_conn *c);
/* The request was answered or the connection is gone: its body no longer counts. */
void http_gate_release(struct http_conn *c);
/* Answers req with v (and counts a refused delivery). */
void http_verdict_answer(struct http *h, struct evhttp_request *req, const struct http_verdict *v);
/* A field of a parsed head (ctx: the gate's head), as webhook_header_fn. */
const char *http_head_field(void *ctx, const char *name);

/* --- http_access.c: Host, tokens, the read side, sign-in --- */

/* Whether this agent answers for a Host value. */
int http_access_host(struct http *h, const char *host);
/* Whether the read side needs a token (public_read, or published beyond loopback). */
int http_access_private(const struct http *h);
/* Warns when the read side is private and no token can open it (a new configuration). */
void http_access_config(const struct http *h);
/* Whether the request's headers open the read side. */
int http_access_reader(const struct http *h, webhook_header_fn get, void *ctx);
int http_access_reader_req(const struct http *h, struct evhttp_request *req);
/* 0 when the headers give access to m's route (m_id: a build id), else -1 with v the
 * answer. */
int http_access_judge(struct http *h, const struct http_match *m, webhook_header_fn get,
		      void *ctx, struct http_verdict *v);
/* The same for a whole request: -1 when it was answered. */
int http_access_check(struct http *h, struct evhttp_request *req, const struct http_match *m);
/* A log line about a refused request, at most HTTP_DENY_LOG_BURST a window. */
void http_access_deny_log(struct http *h, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* --- http_route.c: the route table and the router --- */

/* What follows a route's r_path. */
enum http_arg {
	HTTP_ARG_NONE,		/* nothing: the path is r_path */
	HTTP_ARG_BUILD,		/* a build id, then r_tail; the build must exist */
	HTTP_ARG_REPO,		/* a repository name, then r_tail; it must be configured */
};

#define HTTP_ADMIN	1u	/* needs the admin token (403 / 401) */
#define HTTP_LOOKUP_FIRST	2u	/* argument looked up before the method check */
#define HTTP_READ	4u	/* the read side: private unless public (http_access.c) */

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
/* http_access.c: GET and POST /login */
void http_access_login(struct http *h, struct evhttp_request *req, const struct http_match *m);
/* http_health.c: GET /healthz, /metrics */
void http_health_healthz(struct http *h, struct evhttp_request *req, const struct http_match *m);
void http_health_metrics(struct http *h, struct evhttp_request *req, const struct http_match *m);

/* --- http_intake.c: webhook intake, its group commit and its counters --- */

/* Makes h_batch (0 / -1 with e set). */
int http_intake_init(struct http *h, struct err *e);
/* Frees h_batch (answering what it holds), the counters and h_url_json. */
void http_intake_release(struct http *h);
/* A delivery refused before its body was read (v_repo, v_provider; v_code 404: an
 * unknown repository, else no signature): recorded, counted, logged. */
void http_intake_refused(struct http *h, const struct http_verdict *v);
/* s2i_agent_deliveries_total and s2i_agent_deliveries_refused_total, in Prometheus text. */
void http_intake_metrics(const struct http *h, struct buf *o);
/* A POST to /hooks/NAME where no repository NAME is configured, from provider p:
 * recorded, counted and logged (at most HTTP_REFUSAL_LOGS_PER_MINUTE lines); the caller
 * answers 404. */
void http_intake_unknown(struct http *h, const char *name, enum provider p);
/* The refusals kept, newest first, as a JSON array of {time, repo, provider, code,
 * reason} (the dashboard's "refused deliveries"). */
json_t *http_intake_refusals_json(const struct http *h);

/* --- http_health.c --- */

int http_default_engine_check(void *ctx, struct err *e);

#endif
