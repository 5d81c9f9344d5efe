/* http: the server: its lifecycle, the listening sockets and the request callback.
 * accept() pauses when fds run out; every request goes on to the router (http_route.c). */
#include <errno.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

#include "batch.h"
#include "http_int.h"
#include "log.h"

/* evconnlistener's error callback gets evhttp's argument, not ours: listeners
 * are found by their evconnlistener in this process-wide table. */
static struct http_listener *http_all_listeners[16];

static void http_on_complete(struct evhttp_request *req, void *arg)
{
	struct http *h = arg;

	if (h->h_inflight)
		h->h_inflight--;
	http_conn_answered(h, req);
}

static void http_request_cb(struct evhttp_request *req, void *arg)
{
	struct http *h = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;

	h->h_inflight++;
	evhttp_request_set_on_complete_cb(req, http_on_complete, h);
	if (http_conn_request(h, req)) {
		/* the stand-in of a request the gate refused (http_gate.c) */
		http_verdict_answer(h, req, http_conn_verdict(h, req));
		return;
	}
	if (!path || path[0] != '/') {
		http_reply_error(req, 400, "malformed request target");
		return;
	}
	http_route(h, req, path);
}

struct http *http_new(struct event_base *base, struct store *st, const struct config *cfg)
{
	struct http *h = xcalloc(1, sizeof(*h));
	struct err e = ERR_INIT;

	h->h_base = base;
	h->h_store = st;
	h->h_cfg = cfg;
	h->h_queue_max = QUEUE_MAX;
	h->h_started = time(NULL);
	h->h_engine_fn = http_default_engine_check;
	h->h_engine_ctx = h;
	h->h_evhttp = evhttp_new(base);
	if (!h->h_evhttp) {
		free(h);
		return NULL;
	}
	if (http_intake_init(h, &e) < 0) {
		log_error("%s", e.msg);
		evhttp_free(h->h_evhttp);
		free(h);
		return NULL;
	}
	evhttp_set_max_headers_size(h->h_evhttp, HTTP_HEADER_MAX);
	evhttp_set_max_body_size(h->h_evhttp, (ev_ssize_t)cfg->max_body);
	evhttp_set_timeout(h->h_evhttp, HTTP_TIMEOUT);
	/* every method reaches the router, which answers 405 itself */
	evhttp_set_allowed_methods(h->h_evhttp, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
				   EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS |
				   EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
	evhttp_set_gencb(h->h_evhttp, http_request_cb, h);
	evhttp_set_bevcb(h->h_evhttp, http_conn_bev_cb, h);
	http_conn_init(h);
	http_access_config(h);
	return h;
}

static void http_accept_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_listener *l = arg;

	(void)fd;
	(void)what;
	if (l->hl_lev)
		evconnlistener_enable(l->hl_lev);
}

/* Out of fds (the connection limit, see http_limit_fds): stop accepting for a
 * moment instead of spinning on a listening socket that stays readable. */
static void http_accept_error_cb(struct evconnlistener *lev, void *arg)
{
	struct http_listener *l = NULL;
	struct timeval tv = { 0, 100 * 1000 };
	int err = EVUTIL_SOCKET_ERROR();
	size_t i;

	(void)arg;
	for (i = 0; i < sizeof(http_all_listeners) / sizeof(http_all_listeners[0]); i++)
		if (http_all_listeners[i] && http_all_listeners[i]->hl_lev == lev)
			l = http_all_listeners[i];
	if (l && (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM)) {
		log_warn("too many connections: not accepting for 100 ms");
		evconnlistener_disable(lev);
		evtimer_add(l->hl_retry, &tv);
	}
}

/* Bounds connections through RLIMIT_NOFILE: HTTP_MAX_CONNECTIONS plus a reserve. */
static void http_limit_fds(void)
{
	struct rlimit rl;
	rlim_t want = HTTP_MAX_CONNECTIONS + HTTP_FD_RESERVE;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (rl.rlim_max != RLIM_INFINITY && want > rl.rlim_max)
		want = rl.rlim_max;
	if (rl.rlim_cur != want) {
		rl.rlim_cur = want;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static void http_listener_forget(struct http_listener *l)
{
	size_t i;

	for (i = 0; i < sizeof(http_all_listeners) / sizeof(http_all_listeners[0]); i++)
		if (http_all_listeners[i] == l)
			http_all_listeners[i] = NULL;
	l->hl_sock = NULL;
	l->hl_lev = NULL;
}

int http_listen(struct http *h, const char *host, int port, struct err *e)
{
	struct evhttp_bound_socket *sock;
	struct http_listener *l;
	size_t i;

	if (h->h_nlisteners == sizeof(h->h_listeners) / sizeof(h->h_listeners[0]))
		return err_set(e, "too many listening sockets");
	http_limit_fds();
	sock = evhttp_bind_socket_with_handle(h->h_evhttp, host, (ev_uint16_t)port);
	if (!sock)
		return err_errno(e, "cannot listen on '%s' port %d", host, port);
	l = &h->h_listeners[h->h_nlisteners++];
	l->hl_sock = sock;
	l->hl_lev = evhttp_bound_socket_get_listener(sock);
	l->hl_retry = evtimer_new(h->h_base, http_accept_retry_cb, l);
	for (i = 0; i < sizeof(http_all_listeners) / sizeof(http_all_listeners[0]); i++) {
		if (!http_all_listeners[i]) {
			http_all_listeners[i] = l;
			break;
		}
	}
	evconnlistener_set_error_cb(l->hl_lev, http_accept_error_cb);
	return 0;
}

void http_set_config(struct http *h, const struct config *cfg)
{
	h->h_cfg = cfg;
	h->h_engine_checked = 0;
	free(h->h_url_json);
	h->h_url_json = NULL;
	evhttp_set_max_body_size(h->h_evhttp, (ev_ssize_t)cfg->max_body);
	http_access_config(h);
}

void http_set_queue_max(struct http *h, long long max)
{
	h->h_queue_max = max > 0 ? max : QUEUE_MAX;
}

void http_stop(struct http *h)
{
	size_t i;

	h->h_stopping = 1;
	for (i = 0; i < h->h_nlisteners; i++) {
		event_del(h->h_listeners[i].hl_retry);
		if (h->h_listeners[i].hl_sock)
			evhttp_del_accept_socket(h->h_evhttp, h->h_listeners[i].hl_sock);
		http_listener_forget(&h->h_listeners[i]);
	}
	batch_drain(h->h_batch);
}

void http_request_lost(struct http *h, struct evhttp_request *req)
{
	if (!evhttp_request_get_connection(req) && h->h_inflight)
		h->h_inflight--;
}

unsigned http_inflight(const struct http *h)
{
	return h->h_inflight;	/* includes the requests waiting for a commit */
}

struct batch *http_batch(struct http *h)
{
	return h->h_batch;
}

void http_set_queued_hook(struct http *h, http_queued_fn fn, void *ctx)
{
	h->h_queued_fn = fn;
	h->h_queued_ctx = ctx;
}

void http_set_closed_hook(struct http *h, http_closed_fn fn, void *ctx)
{
	h->h_closed_fn = fn;
	h->h_closed_ctx = ctx;
}

void http_set_deleted_hook(struct http *h, http_deleted_fn fn, void *ctx)
{
	h->h_deleted_fn = fn;
	h->h_deleted_ctx = ctx;
}

void http_set_pipeline_health(struct http *h, http_health_fn health, http_metrics_fn metrics,
			      void *ctx)
{
	h->h_health_fn = health;
	h->h_metrics_fn = metrics;
	h->h_pipeline_ctx = ctx;
}

void http_set_engine_check(struct http *h, http_engine_check_fn fn, void *ctx)
{
	h->h_engine_fn = fn ? fn : http_default_engine_check;
	h->h_engine_ctx = fn ? ctx : h;
	h->h_engine_checked = 0;
}

void http_set_ext(struct http *h, enum http_ext which, http_ext_fn fn, void *ctx)
{
	h->h_ext_fn[which] = fn;
	h->h_ext_ctx[which] = ctx;
}

void http_free(struct http *h)
{
	size_t i;

	if (!h)
		return;
	http_intake_release(h);
	for (i = 0; i < h->h_nlisteners; i++) {
		http_listener_forget(&h->h_listeners[i]);
		if (h->h_listeners[i].hl_retry)
			event_free(h->h_listeners[i].hl_retry);
	}
	evhttp_free(h->h_evhttp);
	http_conn_release(h);
	free(h);
}
