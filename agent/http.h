/* http: the agent's HTTP API on libevent's evhttp: intake, read API, health, metrics.
 * The endpoints are in the README ("API and metrics"); deliveries are group-committed. */
#ifndef S2I_HTTP_H
#define S2I_HTTP_H

#include <event2/event.h>
#include <event2/http.h>
#include <jansson.h>

#include "config.h"
#include "err.h"
#include "store.h"

struct http;

/* cfg and st are borrowed: they must outlive the http server (see http_set_config). */
struct http *http_new(struct event_base *base, struct store *st, const struct config *cfg);
void http_free(struct http *h);

/* Binds host:port (host "::1" or an IPv4 address or a name). */
int http_listen(struct http *h, const char *host, int port, struct err *e);

/* Swaps the configuration (SIGHUP). Deliveries waiting for their commit carry
 * their own copy of what they need, so none refers to the old one. */
void http_set_config(struct http *h, const struct config *cfg);

/* Queued builds above which deliveries get 503 (default QUEUE_MAX). */
void http_set_queue_max(struct http *h, long long max);

/* SIGTERM: closes the listening sockets, commits and answers what was received;
 * later requests on open connections get 503. */
void http_stop(struct http *h);
/* A request answered later (a stream) whose client went away or timed out:
 * evhttp detached it from its connection (no connection left), and frees it
 * when the handler ends the reply, without the completion callback that counts
 * it answered; this does. Call it before that end. */
void http_request_lost(struct http *h, struct evhttp_request *req);
/* Requests received and not yet completely answered. */
unsigned http_inflight(const struct http *h);

/* --- Hooks for the build pipeline --- */

/* The group commit (batch.h) the pipeline's writes share with intake. */
struct batch;
struct batch *http_batch(struct http *h);

/* Called after each commit for every build it queued, with the build as
 * committed (id and state set); valid only during the call. */
typedef void (*http_queued_fn)(void *ctx, const struct build *b);
void http_set_queued_hook(struct http *h, http_queued_fn fn, void *ctx);

/* Called when a pull/merge request of repo, whose builds are of ref, was closed or
 * merged: its queued and running builds are to be canceled, giving reason. */
typedef void (*http_closed_fn)(void *ctx, const char *repo, const char *ref, const char *reason);
void http_set_closed_hook(struct http *h, http_closed_fn fn, void *ctx);

/* Called when a verified push deleted ref of repo (the mirror's copy of it is to go). */
typedef void (*http_deleted_fn)(void *ctx, const char *repo, const char *ref);
void http_set_deleted_hook(struct http *h, http_deleted_fn fn, void *ctx);

/* The engine part of /healthz: 0 when the engine answers, else -1 with e set.
 * Default: a connect() to the configured engine socket, cached briefly. */
typedef int (*http_engine_check_fn)(void *ctx, struct err *e);
void http_set_engine_check(struct http *h, http_engine_check_fn fn, void *ctx);

/* The pipeline's part of /healthz and /metrics. health: 0 when builds can run, else
 * -1 with e saying why they wait (/healthz answers 503 with it; intake goes on).
 * metrics: appends its Prometheus lines to o. */
struct buf;
typedef int (*http_health_fn)(void *ctx, struct err *e);
typedef void (*http_metrics_fn)(void *ctx, struct buf *o);
void http_set_pipeline_health(struct http *h, http_health_fn health, http_metrics_fn metrics,
			      void *ctx);

/* Endpoints whose work belongs to the pipeline. http routes them, checks the
 * method and (for admin ones) the bearer token, then calls the handler, which
 * must answer req (now or later). Without a handler they answer 501. */
enum http_ext {
	HTTP_EXT_DASHBOARD,	/* GET / */
	HTTP_EXT_LOG,		/* GET /builds/{id}/log (id checked to exist) */
	HTTP_EXT_CANCEL,	/* POST /builds/{id}/cancel (admin; id exists) */
	HTTP_EXT_RETRY,		/* POST /builds/{id}/retry (admin; id exists) */
	HTTP_EXT_BUILD,		/* POST /repos/{repo}/builds (admin; repo configured) */
	HTTP_EXT_N
};
/* build_id: for the /builds/{id}/... routes, else 0; repo: for /repos/{repo}/builds. */
typedef void (*http_ext_fn)(void *ctx, struct evhttp_request *req, long long build_id,
			    const struct repo_conf *repo);
void http_set_ext(struct http *h, enum http_ext which, http_ext_fn fn, void *ctx);

/* Answers helpers for handlers: body is consumed (json_decref'd). */
void http_reply_json(struct evhttp_request *req, int code, json_t *body);
/* {"error": msg} */
void http_reply_error(struct evhttp_request *req, int code, const char *msg);

/* Connects to an engine URL (unix:///path or tcp://host:port) within
 * HTTP_ENGINE_CHECK_MS: the default engine check. */
int http_engine_probe(const char *engine, struct err *e);
/* The data root of a local (unix://) engine, from its GET /info within
 * HTTP_ENGINE_CHECK_MS per read, into out (n bytes). Blocks the loop that long
 * at worst: its callers ask rarely. */
int http_engine_root_dir(const char *engine, char *out, size_t n, struct err *e);

#endif
