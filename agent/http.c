/* http: evhttp routing for SPEC §3, webhook intake with group commit (requests
 * that arrive together share one transaction and one fsync), read API, metrics. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>

#include "batch.h"
#include "buf.h"
#include "dash.h"
#include "engine.h"
#include "hmac.h"
#include "http.h"
#include "limits.h"
#include "log.h"
#include "webhook.h"

/* Webhook outcomes, the `result` label of s2i_agent_deliveries_total. */
enum http_result {
	RES_QUEUED, RES_DUPLICATE, RES_IGNORED, RES_BAD_REQUEST, RES_UNAUTHORIZED,
	RES_UNAVAILABLE, RES_ERROR, RES_N
};

static const char *const http_result_names[RES_N] = {
	"queued", "duplicate", "ignored", "bad_request", "unauthorized", "unavailable", "error"
};

struct http_counter {
	char *hc_repo;
	unsigned long long hc_n[4][RES_N];	/* [provider][result] */
};

/* A client connection, for the request deadline: evhttp's own timeouts restart
 * at every read, so a client sending one byte at a time would never be cut.
 * Each connection must deliver a complete request within HTTP_REQUEST_DEADLINE
 * of its opening or of the previous answer. The bufferevent is created here
 * (evhttp's bevcb) and held by a reference, so its fd stays ours until we let
 * go; evhttp clears its callbacks when it is done with it. */
struct http_conn {
	struct bufferevent *c_bev;
	struct http_conn *c_hnext;		/* hash chain */
	struct http_conn *c_prev, *c_next;	/* all connections */
	time_t c_since;				/* waiting for a request since */
	int c_busy;				/* a request is being answered */
};

struct http_listener {
	struct evhttp_bound_socket *hl_sock;
	struct evconnlistener *hl_lev;
	struct event *hl_retry;		/* re-enables accept() after running out of fds */
};

/* evconnlistener's error callback gets evhttp's argument, not ours: listeners
 * are found by their evconnlistener in this process-wide table. */
static struct http_listener *http_all_listeners[16];

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

/* ---------- answers ---------- */

/* Every answer leaves here: b is its body (NULL: none), freed. */
static void http_send_buf(struct evhttp_request *req, int code, const char *type,
			  struct evbuffer *b)
{
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);
	const char *reason;

	evhttp_add_header(out, "Content-Type", type);
	evhttp_add_header(out, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(out, "Cache-Control", "no-store");
	switch (code) {
	case 200: reason = "OK"; break;
	case 202: reason = "Accepted"; break;
	case 400: reason = "Bad Request"; break;
	case 401: reason = "Unauthorized"; break;
	case 403: reason = "Forbidden"; break;
	case 404: reason = "Not Found"; break;
	case 405: reason = "Method Not Allowed"; break;
	case 409: reason = "Conflict"; break;
	case 413: reason = "Payload Too Large"; break;
	case 500: reason = "Internal Server Error"; break;
	case 501: reason = "Not Implemented"; break;
	case 503: reason = "Service Unavailable"; break;
	default: reason = NULL; break;
	}
	evhttp_send_reply(req, code, reason, b);
	if (b)
		evbuffer_free(b);
}

static void http_send(struct evhttp_request *req, int code, const char *type, const char *body,
		      size_t len)
{
	struct evbuffer *b = evbuffer_new();

	if (b && len)
		evbuffer_add(b, body, len);
	http_send_buf(req, code, type, b);
}

void http_reply_json(struct evhttp_request *req, int code, json_t *body)
{
	char *s = json_dumps(body, JSON_COMPACT);

	json_decref(body);
	if (!s) {
		http_send(req, 500, "application/json", "{\"error\":\"cannot render JSON\"}\n", 30);
		return;
	}
	/* one line per answer reads better in a terminal and costs one byte */
	{
		size_t n = strlen(s);

		s[n] = '\n';
		http_send(req, code, "application/json", s, n + 1);
		s[n] = '\0';
	}
	free(s);
}

void http_reply_error(struct evhttp_request *req, int code, const char *msg)
{
	http_reply_json(req, code, json_pack("{ss}", "error", msg));
}

static void http_reply_retry(struct evhttp_request *req, const char *msg)
{
	char secs[16];

	snprintf(secs, sizeof(secs), "%d", RETRY_AFTER_SECONDS);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", secs);
	http_reply_error(req, 503, msg);
}

static void http_reply_405(struct evhttp_request *req, const char *allow)
{
	evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", allow);
	http_reply_error(req, 405, "method not allowed");
}

/* ---------- metrics counters ---------- */

static void http_count(struct http *h, const char *repo, enum provider p, enum http_result r)
{
	size_t i;

	for (i = 0; i < h->h_ncounters; i++)
		if (!strcmp(h->h_counters[i].hc_repo, repo))
			break;
	if (i == h->h_ncounters) {
		/* repo names come from the configuration, so this stays bounded */
		h->h_counters = xrealloc(h->h_counters, (i + 1) * sizeof(*h->h_counters));
		memset(&h->h_counters[i], 0, sizeof(h->h_counters[i]));
		h->h_counters[i].hc_repo = xstrdup(repo);
		h->h_ncounters++;
	}
	h->h_counters[i].hc_n[(unsigned)p & 3][r]++;
}

/* ---------- group commit ---------- */

static enum provider http_provider_of(const char *name)
{
	int p;

	for (p = 0; p < 4; p++)
		if (!strcmp(name, webhook_provider_name((enum provider)p)))
			return (enum provider)p;
	return PROVIDER_GENERIC;
}

static long long http_room(void *arg)
{
	struct http *h = arg;
	long long depth = 0;

	store_queue_depth(h->h_store, &depth, NULL);
	return h->h_queue_max - depth;
}

/* 202 {"build": ID, "url": ".../builds/ID"}: the answer to nearly every delivery,
 * formatted straight into the body's buffer (any length, no JSON library); public_url
 * is JSON-escaped once per configuration. */
static void http_reply_queued(struct http *h, struct evhttp_request *req, long long id)
{
	struct evbuffer *b = evbuffer_new();

	if (!h->h_url_json) {
		json_t *u = json_string(h->h_cfg->public_url);
		char *d = u ? json_dumps(u, JSON_ENCODE_ANY) : NULL;
		size_t len = d ? strlen(d) : 0;

		json_decref(u);
		/* drop the quotes: the URL goes inside a longer string */
		h->h_url_json = len >= 2 ? xstrndup(d + 1, len - 2) : xstrdup("");
		free(d);
	}
	if (b)
		evbuffer_add_printf(b, "{\"build\":%lld,\"url\":\"%s/builds/%lld\"}\n", id,
				    h->h_url_json, id);
	http_send_buf(req, 202, "application/json", b);
}

/* A batch is on disk (or failed as a whole): answer each of its requests. No 202
 * leaves before its COMMIT returned (synchronous=FULL: the WAL is on disk). */
static void http_batch_done(void *arg, struct batch_item *items, size_t n, int failed,
			    const char *err)
{
	struct http *h = arg;
	size_t i;

	if (failed)
		log_error("cannot queue %zu deliveries: %s", n, err);
	log_hold();	/* a line per delivery, one write for the batch */
	for (i = 0; i < n; i++) {
		struct evhttp_request *req = items[i].bi_ctx;
		struct build *b = &items[i].bi_build;
		enum provider p = http_provider_of(b->provider);

		/* the client went away: evhttp frees the request on reply, without
		 * its completion callback */
		if (!evhttp_request_get_connection(req) && h->h_inflight)
			h->h_inflight--;
		if (failed) {
			http_count(h, b->repo, p, RES_ERROR);
			http_reply_retry(req, "cannot record the delivery, try again");
		} else if (items[i].bi_dup > 0) {
			http_count(h, b->repo, p, RES_DUPLICATE);
			log_info("repo '%s': %s delivery '%s' is a duplicate of build %lld", b->repo,
				 b->provider, b->delivery, items[i].bi_dup);
			http_reply_json(req, 200, json_pack("{sI}", "duplicate",
							    (json_int_t)items[i].bi_dup));
		} else if (items[i].bi_full) {
			http_count(h, b->repo, p, RES_UNAVAILABLE);
			log_warn("repo '%s': queue full (%lld builds), delivery refused", b->repo,
				 h->h_queue_max);
			http_reply_retry(req, "build queue is full");
		} else {
			http_count(h, b->repo, p, RES_QUEUED);
			log_info("build %lld: queued '%s' %s %.12s", b->id, b->repo, b->ref, b->sha);
			http_reply_queued(h, req, b->id);
		}
	}
	log_flush();
	if (failed)
		return;
	/* batch keeps h_store's counts */
	if (h->h_queued_fn)
		for (i = 0; i < n; i++)
			if (!items[i].bi_dup && !items[i].bi_full && items[i].bi_build.id > 0)
				h->h_queued_fn(h->h_queued_ctx, &items[i].bi_build);
}

/* ---------- webhooks ---------- */

static const char *http_header(void *ctx, const char *name)
{
	return evhttp_find_header(ctx, name);
}

static void http_hook(struct http *h, struct evhttp_request *req, const char *name)
{
	struct webhook_event ev = WEBHOOK_EVENT_INIT;
	struct webhook_request r = { 0 };
	const struct repo_conf *repo;
	struct build b = BUILD_INIT;
	struct err e = ERR_INIT;
	struct evbuffer *in;
	enum provider p;
	int rc;

	repo = config_repo(h->h_cfg, name);
	if (!repo) {
		http_reply_error(req, 404, "unknown repository");
		return;
	}
	if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
		http_reply_405(req, "POST");
		return;
	}
	r.header = http_header;
	r.header_ctx = evhttp_request_get_input_headers(req);
	p = webhook_provider(&r);
	if (h->h_stopping) {
		http_count(h, repo->name, p, RES_UNAVAILABLE);
		http_reply_retry(req, "shutting down");
		return;
	}
	in = evhttp_request_get_input_buffer(req);
	r.body_len = evbuffer_get_length(in);
	r.body = r.body_len ? (const char *)evbuffer_pullup(in, -1) : "";
	r.now = time(NULL);
	rc = webhook_verify(&r, p, repo->secrets, repo->nsecrets, &e);
	if (rc) {
		http_count(h, repo->name, p, rc == 401 ? RES_UNAUTHORIZED : RES_BAD_REQUEST);
		log_warn("repo '%s': %s delivery refused: %s", repo->name, webhook_provider_name(p),
			 e.msg);
		http_reply_error(req, rc == 401 ? 401 : 400, e.msg);
		return;
	}
	if (webhook_parse(&r, p, &ev, &e) < 0) {
		http_count(h, repo->name, p, RES_BAD_REQUEST);
		log_warn("repo '%s': %s delivery refused: %s", repo->name, webhook_provider_name(p),
			 e.msg);
		http_reply_error(req, 400, e.msg);
		goto out;
	}
	if (ev.delivery && strlen(ev.delivery) > DELIVERY_ID_MAX) {
		http_count(h, repo->name, p, RES_BAD_REQUEST);
		http_reply_error(req, 400, "delivery id too long");
		goto out;
	}
	if (ev.action == WEBHOOK_BUILD)
		webhook_match(repo, &ev);
	if (ev.action != WEBHOOK_BUILD) {
		http_count(h, repo->name, p, RES_IGNORED);
		log_debug("repo '%s': %s delivery ignored: %s", repo->name,
			  webhook_provider_name(p), ev.ignored ? ev.ignored : "?");
		http_reply_json(req, 200, json_pack("{ss}", "ignored",
						    ev.ignored ? ev.ignored : "ignored"));
		goto out;
	}
	b.repo = xstrdup(repo->name);
	b.ref = ev.ref;
	ev.ref = NULL;
	memcpy(b.sha, ev.after, sizeof(b.sha));
	memcpy(b.before, ev.before, sizeof(b.before));
	b.provider = xstrdup(webhook_provider_name(p));
	b.delivery = ev.delivery;
	ev.delivery = NULL;
	b.message = ev.message;
	ev.message = NULL;
	b.author = ev.author;
	ev.author = NULL;
	b.repo_full_name = ev.repo_full_name;
	ev.repo_full_name = NULL;
	b.project_id = ev.project_id;
	ev.project_id = NULL;
	b.clone_url = ev.clone_url;
	ev.clone_url = NULL;
	batch_push(h->h_batch, &b, req);
out:
	webhook_event_release(&ev);
}

/* ---------- read API ---------- */

static int http_parse_id(const char *s, size_t n, long long *ret)
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

static int http_wants_html(struct evhttp_request *req)
{
	return dash_prefers_html(evhttp_find_header(evhttp_request_get_input_headers(req),
						    "Accept"));
}

static void http_send_html(struct evhttp_request *req, struct buf *page)
{
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Security-Policy",
			  dash_csp());
	http_send(req, 200, DASH_CONTENT_TYPE, page->data, page->len);
}

static json_t *http_builds_json(const struct build_list *l)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < l->n; i++) {
		json_t *o = store_build_json(&l->items[i]);

		/* the dashboard shows these; they are extensions of SPEC's object */
		if (l->items[i].message)
			json_object_set_new(o, "message", json_string(l->items[i].message));
		if (l->items[i].author)
			json_object_set_new(o, "author", json_string(l->items[i].author));
		json_array_append_new(a, o);
	}
	return a;
}

static void http_builds(struct http *h, struct evhttp_request *req, const struct evhttp_uri *uri)
{
	struct store_filter f = STORE_FILTER_INIT;
	struct build_list l = BUILD_LIST_INIT;
	struct evkeyvalq q = { 0 };
	struct err e = ERR_INIT;
	const char *query = evhttp_uri_get_query(uri), *v;
	long long limit;

	TAILQ_INIT(&q);
	if (query && evhttp_parse_query_str(query, &q) < 0) {
		http_reply_error(req, 400, "malformed query string");
		return;
	}
	if ((v = evhttp_find_header(&q, "repo")) && *v)
		f.repo = v;
	if ((v = evhttp_find_header(&q, "ref")) && *v)
		f.ref = v;
	if ((v = evhttp_find_header(&q, "state")) && *v) {
		f.state = store_state_parse(v);
		if (f.state < 0) {
			http_reply_error(req, 400, "unknown state");
			goto out;
		}
	}
	if ((v = evhttp_find_header(&q, "limit")) && *v) {
		if (http_parse_id(v, strlen(v), &limit) < 0) {
			http_reply_error(req, 400, "limit must be a positive integer");
			goto out;
		}
		f.limit = limit > BUILDS_LIST_MAX ? BUILDS_LIST_MAX : (size_t)limit;
	}
	if (store_list_builds(h->h_store, &f, &l, &e) < 0) {
		log_error("%s", e.msg);
		http_reply_error(req, 500, "cannot read builds");
		goto out;
	}
	http_reply_json(req, 200, http_builds_json(&l));
	build_list_release(&l);
out:
	evhttp_clear_headers(&q);
}

static void http_dashboard(struct http *h, struct evhttp_request *req)
{
	struct store_filter f = STORE_FILTER_INIT;
	struct build_list l = BUILD_LIST_INIT;
	struct buf page = BUF_INIT(16 * 1024 * 1024);
	struct dash_index d = { 0 };
	const char **repos = NULL;
	struct err e = ERR_INIT;
	json_t *builds = NULL;
	size_t i;

	if (store_list_builds(h->h_store, &f, &l, &e) < 0) {
		log_error("%s", e.msg);
		http_reply_error(req, 500, "cannot read builds");
		return;
	}
	builds = http_builds_json(&l);
	repos = xcalloc(h->h_cfg->nrepos + 1, sizeof(*repos));
	for (i = 0; i < h->h_cfg->nrepos; i++)
		repos[i] = h->h_cfg->repos[i]->name;
	d.builds = builds;
	d.repos = repos;
	d.public_url = h->h_cfg->public_url;
	d.version = S2I_AGENT_VERSION;
	d.now = time(NULL);
	if (dash_render_index(&d, &page, &e) < 0) {
		log_error("dashboard: %s", e.msg);
		http_reply_error(req, 500, "cannot render the dashboard");
	} else {
		http_send_html(req, &page);
	}
	buf_release(&page);
	free(repos);
	json_decref(builds);
	build_list_release(&l);
}

/* 0 with *ret filled, else the request was answered (404/500). */
static int http_find_build(struct http *h, struct evhttp_request *req, long long id,
			   struct build *ret)
{
	struct err e = ERR_INIT;
	int rc = store_get_build(h->h_store, id, ret, &e);

	if (rc == 0)
		return 0;
	if (rc > 0) {
		http_reply_error(req, 404, "no such build");
	} else {
		log_error("%s", e.msg);
		http_reply_error(req, 500, "cannot read the build");
	}
	return -1;
}

static void http_build(struct http *h, struct evhttp_request *req, long long id)
{
	struct buf page = BUF_INIT(1024 * 1024);
	struct build b = BUILD_INIT;
	struct err e = ERR_INIT;
	json_t *j;

	if (http_find_build(h, req, id, &b) < 0)
		return;
	j = store_build_json(&b);
	if (http_wants_html(req)) {
		/* the page shows the commit too (extensions of SPEC's object, as in the list) */
		if (b.message)
			json_object_set_new(j, "message", json_string(b.message));
		if (b.author)
			json_object_set_new(j, "author", json_string(b.author));
		if (dash_render_build(j, time(NULL), &page, &e) < 0) {
			log_error("build %lld: cannot render: %s", id, e.msg);
			http_reply_error(req, 500, "cannot render the build");
		} else {
			http_send_html(req, &page);
		}
		json_decref(j);
	} else {
		http_reply_json(req, 200, j);
	}
	buf_release(&page);
	build_release(&b);
}

/* ---------- health and metrics ---------- */

int http_engine_probe(const char *engine, struct err *e)
{
	struct addrinfo hints = { 0 }, *ai = NULL, *a;
	struct sockaddr_un sun = { 0 };
	char host[256], *colon;
	const char *hp;
	int fd = -1, rc = -1;

	if (!strncmp(engine, "unix://", 7)) {
		if (strlen(engine + 7) >= sizeof(sun.sun_path))
			return err_set(e, "engine '%s': socket path too long", engine);
		sun.sun_family = AF_UNIX;
		strcpy(sun.sun_path, engine + 7);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0)
			return err_errno(e, "engine '%s'", engine);
		/* a unix connect() completes or fails at once, but blocks while the engine's
		 * accept queue is full (a frozen engine): non-blocking, that is EAGAIN */
		if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
			rc = 0;
		else if (errno == EAGAIN)
			err_set(e, "engine '%s': does not accept connections (frozen or overloaded)", engine);
		else
			err_errno(e, "engine '%s'", engine);
		close(fd);
		return rc;
	}
	if (strncmp(engine, "tcp://", 6))
		return err_set(e, "engine '%s': unsupported URL", engine);
	hp = engine + 6;
	snprintf(host, sizeof(host), "%s", hp);
	host[strcspn(host, "/")] = '\0';
	colon = strrchr(host, ':');
	if (!colon)
		return err_set(e, "engine '%s': no port", engine);
	*colon = '\0';
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if (getaddrinfo(host[0] == '[' ? host + 1 : host, colon + 1, &hints, &ai)) {
		return err_set(e, "engine '%s': cannot resolve", engine);
	}
	if (host[0] == '[')
		host[strlen(host) - 1] = '\0';
	for (a = ai; a && rc < 0; a = a->ai_next) {
		struct pollfd pfd;
		int soerr = 0;
		socklen_t sl = sizeof(soerr);

		fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0)
			continue;
		if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
			rc = 0;
		} else if (errno == EINPROGRESS) {
			pfd.fd = fd;
			pfd.events = POLLOUT;
			if (poll(&pfd, 1, HTTP_ENGINE_CHECK_MS) == 1 &&
			    !getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) && !soerr)
				rc = 0;
			else
				err_set(e, "engine '%s': cannot connect", engine);
		} else {
			err_errno(e, "engine '%s'", engine);
		}
		close(fd);
	}
	freeaddrinfo(ai);
	return rc;
}

/* Does the engine at a unix socket speak an API version we speak? GET /version within
 * HTTP_ENGINE_CHECK_MS, judged by engine_api_judge; -1 only for ranges that do not
 * overlap (no answer is http_engine_probe's business). Asked again only after
 * ENGINE_CHECK_INTERVAL unless the last answer was a refusal, so a frozen engine
 * costs the loop that wait once a minute, not at every probe. */
static int http_engine_api(const char *engine, struct err *e)
{
	static const char rq[] = "GET /version HTTP/1.0\r\nHost: engine\r\n\r\n";
	static char last_url[256];
	static time_t last_at;
	struct sockaddr_un sun = { 0 };
	struct pollfd pfd;
	char *body, ans[16384];
	size_t got = 0;
	ssize_t n;
	time_t now = time(NULL);
	int fd, rv = 0;

	if (strncmp(engine, "unix://", 7) || strlen(engine + 7) >= sizeof(sun.sun_path) ||
	    (last_at && now - last_at < ENGINE_CHECK_INTERVAL && now >= last_at && !strcmp(last_url, engine)))
		return 0;
	sun.sun_family = AF_UNIX;
	strcpy(sun.sun_path, engine + 7);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    write(fd, rq, sizeof(rq) - 1) != (ssize_t)(sizeof(rq) - 1))
		goto out;
	pfd.fd = fd;
	pfd.events = POLLIN;
	while (got < sizeof(ans) - 1 && poll(&pfd, 1, HTTP_ENGINE_CHECK_MS) == 1 &&
	       (n = read(fd, ans + got, sizeof(ans) - 1 - got)) > 0)
		got += (size_t)n;
	ans[got] = '\0';
	if ((body = strstr(ans, "\r\n\r\n")))
		rv = engine_api_judge(body + 4, got - (size_t)(body + 4 - ans), e) < 0 ? -1 : 0;
out:
	if (fd >= 0)
		close(fd);
	/* a refusal is asked again at the next probe: the engine may be upgraded */
	snprintf(last_url, sizeof(last_url), "%s", engine);
	last_at = rv < 0 ? 0 : now;
	return rv;
}

static int http_default_engine_check(void *ctx, struct err *e)
{
	struct http *h = ctx;

	if (http_engine_probe(h->h_cfg->engine, e) < 0)
		return -1;
	/* it answers: in an API range we speak? */
	return http_engine_api(h->h_cfg->engine, e);
}

static void http_healthz(struct http *h, struct evhttp_request *req)
{
	struct buf out = BUF_INIT(4096);
	struct err e = ERR_INIT;
	time_t now = time(NULL);
	int ok = 1;

	if (store_ping(h->h_store, &e) < 0) {
		buf_addf(&out, "database: %s\n", e.msg);
		ok = 0;
	}
	if (!h->h_engine_checked || now - h->h_engine_checked >= HTTP_ENGINE_CACHE_SECONDS ||
	    now < h->h_engine_checked) {
		struct err ee = ERR_INIT;

		h->h_engine_ok = h->h_engine_fn(h->h_engine_ctx, &ee) == 0;
		snprintf(h->h_engine_msg, sizeof(h->h_engine_msg), "%s", ee.msg);
		h->h_engine_checked = now;
	}
	if (!h->h_engine_ok) {
		buf_addf(&out, "engine: %s\n", h->h_engine_msg);
		ok = 0;
	}
	if (ok)
		http_send(req, 200, "text/plain; charset=utf-8", "ok\n", 3);
	else
		http_send(req, 503, "text/plain; charset=utf-8", out.data, out.len);
	buf_release(&out);
}

/* Cheap process metrics from /proc/self: RSS, open fds, CPU time. */
static void http_process_metrics(struct http *h, struct buf *o)
{
	long long rss = -1, fds = -1;
	struct rusage ru;
	struct dirent *d;
	DIR *dir;
	FILE *f;

	f = fopen("/proc/self/statm", "re");
	if (f) {
		long long size, res;

		if (fscanf(f, "%lld %lld", &size, &res) == 2)
			rss = res * sysconf(_SC_PAGESIZE);
		fclose(f);
	}
	if (getrusage(RUSAGE_SELF, &ru) == 0)
		buf_addf(o, "# HELP process_cpu_seconds_total User and system CPU time.\n"
			 "# TYPE process_cpu_seconds_total counter\n"
			 "process_cpu_seconds_total %.3f\n",
			 ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
			 (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
	if (rss >= 0)
		buf_addf(o, "# HELP process_resident_memory_bytes Resident memory size.\n"
			 "# TYPE process_resident_memory_bytes gauge\n"
			 "process_resident_memory_bytes %lld\n", rss);
	dir = opendir("/proc/self/fd");
	if (dir) {
		fds = 0;
		while ((d = readdir(dir)))
			if (d->d_name[0] != '.')
				fds++;
		closedir(dir);
		buf_addf(o, "# HELP process_open_fds Open file descriptors.\n"
			 "# TYPE process_open_fds gauge\nprocess_open_fds %lld\n", fds - 1);
	}
	buf_addf(o, "# HELP process_start_time_seconds Start time since the epoch.\n"
		 "# TYPE process_start_time_seconds gauge\n"
		 "process_start_time_seconds %lld\n", (long long)h->h_started);
}

static void http_metrics(struct http *h, struct evhttp_request *req)
{
	struct buf o = BUF_INIT(4 * 1024 * 1024);
	long long counts[BUILD_NSTATES], depth;
	size_t i;
	int p, r;

	buf_addstr(&o, "# HELP s2i_agent_deliveries_total Webhook deliveries by repository, "
		   "provider and result.\n# TYPE s2i_agent_deliveries_total counter\n");
	for (i = 0; i < h->h_ncounters; i++)
		for (p = 0; p < 4; p++)
			for (r = 0; r < RES_N; r++)
				if (h->h_counters[i].hc_n[p][r])
					buf_addf(&o, "s2i_agent_deliveries_total{repo=\"%s\","
						 "provider=\"%s\",result=\"%s\"} %llu\n",
						 h->h_counters[i].hc_repo,
						 webhook_provider_name((enum provider)p),
						 http_result_names[r], h->h_counters[i].hc_n[p][r]);
	store_count_states(h->h_store, counts, NULL);
	buf_addstr(&o, "# HELP s2i_agent_builds Builds in the database by state.\n"
		   "# TYPE s2i_agent_builds gauge\n");
	for (r = 0; r < BUILD_NSTATES; r++)
		buf_addf(&o, "s2i_agent_builds{state=\"%s\"} %lld\n",
			 store_state_name((enum build_state)r), counts[r]);
	store_queue_depth(h->h_store, &depth, NULL);
	buf_addf(&o, "# HELP s2i_agent_queue_depth Builds waiting for a worker.\n"
		 "# TYPE s2i_agent_queue_depth gauge\ns2i_agent_queue_depth %lld\n", depth);
	buf_addf(&o, "# HELP s2i_agent_http_connections Open client connections.\n"
		 "# TYPE s2i_agent_http_connections gauge\ns2i_agent_http_connections %zu\n"
		 "# HELP s2i_agent_http_connections_cut_total Connections closed because no "
		 "complete request arrived within %d s.\n"
		 "# TYPE s2i_agent_http_connections_cut_total counter\n"
		 "s2i_agent_http_connections_cut_total %llu\n", h->h_nconns,
		 HTTP_REQUEST_DEADLINE, h->h_cut);
	http_process_metrics(h, &o);
	http_send(req, 200, "text/plain; version=0.0.4; charset=utf-8", o.data, o.len);
	buf_release(&o);
}

/* ---------- admin ---------- */

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

static void http_ext(struct http *h, struct evhttp_request *req, enum http_ext which,
		     long long id, const struct repo_conf *repo)
{
	if (!h->h_ext_fn[which]) {
		http_reply_error(req, 501, "not implemented yet");
		return;
	}
	h->h_ext_fn[which](h->h_ext_ctx[which], req, id, repo);
}

/* ---------- connections: the request deadline ---------- */

static time_t http_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return ts.tv_sec;
}

static size_t http_conn_bucket(const struct bufferevent *bev)
{
	uintptr_t v = (uintptr_t)bev;

	return (size_t)((v >> 4) ^ (v >> 13)) % HTTP_CONN_BUCKETS;
}

static struct http_conn *http_conn_find(struct http *h, const struct bufferevent *bev)
{
	struct http_conn *c;

	for (c = h->h_chash[http_conn_bucket(bev)]; c; c = c->c_hnext)
		if (c->c_bev == bev)
			return c;
	return NULL;
}

static void http_conn_drop(struct http *h, struct http_conn *c)
{
	struct http_conn **pp;

	for (pp = &h->h_chash[http_conn_bucket(c->c_bev)]; *pp; pp = &(*pp)->c_hnext)
		if (*pp == c) {
			*pp = c->c_hnext;
			break;
		}
	if (c->c_prev)
		c->c_prev->c_next = c->c_next;
	else
		h->h_conns = c->c_next;
	if (c->c_next)
		c->c_next->c_prev = c->c_prev;
	h->h_nconns--;
	bufferevent_decref(c->c_bev);	/* the last reference closes the fd */
	free(c);
}

static void http_sweep_arm(struct http *h)
{
	struct timeval tv = { HTTP_SWEEP_SECONDS, 0 };

	if (h->h_conns && !evtimer_pending(h->h_sweep, NULL))
		evtimer_add(h->h_sweep, &tv);
}

/* evhttp gave this connection up (freed it, which clears the callbacks). */
static int http_conn_gone(struct http_conn *c)
{
	bufferevent_data_cb rd;
	bufferevent_event_cb ev;

	bufferevent_getcb(c->c_bev, &rd, NULL, &ev, NULL);
	return !rd && !ev;
}

static void http_sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http *h = arg;
	struct http_conn *c, *next;
	time_t now = http_now();

	(void)fd;
	(void)what;
	for (c = h->h_conns; c; c = next) {
		next = c->c_next;
		if (http_conn_gone(c)) {
			http_conn_drop(h, c);
		} else if (!c->c_busy && now - c->c_since >= HTTP_REQUEST_DEADLINE) {
			/* evhttp reads the end of the stream and frees the connection
			 * with its partial request; the next sweep lets go of it */
			int s = bufferevent_getfd(c->c_bev);

			if (s >= 0)
				shutdown(s, SHUT_RDWR);
			c->c_busy = 1;	/* cut once */
			h->h_cut++;
			log_debug("connection cut: no complete request within %d s",
				  HTTP_REQUEST_DEADLINE);
		}
	}
	http_sweep_arm(h);
}

static struct bufferevent *http_bev_cb(struct event_base *base, void *arg)
{
	struct http *h = arg;
	struct bufferevent *bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	struct http_conn *c;
	size_t i;

	if (!bev)
		return NULL;
	c = xcalloc(1, sizeof(*c));
	c->c_bev = bev;
	c->c_since = http_now();
	bufferevent_incref(bev);
	i = http_conn_bucket(bev);
	c->c_hnext = h->h_chash[i];
	h->h_chash[i] = c;
	c->c_next = h->h_conns;
	if (h->h_conns)
		h->h_conns->c_prev = c;
	h->h_conns = c;
	h->h_nconns++;
	http_sweep_arm(h);
	return bev;
}

static struct http_conn *http_conn_of(struct http *h, struct evhttp_request *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);

	return evcon ? http_conn_find(h, evhttp_connection_get_bufferevent(evcon)) : NULL;
}

/* evhttp is freeing the connection: let go of it now rather than at the sweep. */
static void http_conn_close_cb(struct evhttp_connection *evcon, void *arg)
{
	struct http *h = arg;
	struct http_conn *c = http_conn_find(h, evhttp_connection_get_bufferevent(evcon));

	if (c)
		http_conn_drop(h, c);
}

/* ---------- routing ---------- */

static void http_on_complete(struct evhttp_request *req, void *arg)
{
	struct http *h = arg;
	struct http_conn *c = http_conn_of(h, req);

	if (h->h_inflight)
		h->h_inflight--;
	if (c) {
		/* the deadline of the next request on this connection starts now */
		c->c_busy = 0;
		c->c_since = http_now();
	}
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

static void http_route(struct http *h, struct evhttp_request *req, const char *path,
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

static void http_request_cb(struct evhttp_request *req, void *arg)
{
	struct http *h = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;

	struct http_conn *c = http_conn_of(h, req);

	h->h_inflight++;
	evhttp_request_set_on_complete_cb(req, http_on_complete, h);
	if (c) {
		c->c_busy = 1;
		evhttp_connection_set_closecb(evhttp_request_get_connection(req),
					      http_conn_close_cb, h);
	}
	if (!path || path[0] != '/') {
		http_reply_error(req, 400, "malformed request target");
		return;
	}
	http_route(h, req, path, uri);
}

/* ---------- lifecycle ---------- */

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
	h->h_batch = batch_new(base, cfg->state_dir, st, http_batch_done, http_room, h, &e);
	if (!h->h_batch) {
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
	evhttp_set_bevcb(h->h_evhttp, http_bev_cb, h);
	h->h_sweep = evtimer_new(base, http_sweep_cb, h);
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
	batch_free(h->h_batch);
	for (i = 0; i < h->h_nlisteners; i++) {
		http_listener_forget(&h->h_listeners[i]);
		if (h->h_listeners[i].hl_retry)
			event_free(h->h_listeners[i].hl_retry);
	}
	evhttp_free(h->h_evhttp);
	while (h->h_conns)
		http_conn_drop(h, h->h_conns);
	if (h->h_sweep)
		event_free(h->h_sweep);
	for (i = 0; i < h->h_ncounters; i++)
		free(h->h_counters[i].hc_repo);
	free(h->h_counters);
	free(h->h_url_json);
	free(h);
}
