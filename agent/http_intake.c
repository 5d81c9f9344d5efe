/* http_intake: webhook intake (verify, parse, queue) and the delivery counters.
 * Deliveries that arrive together share one transaction and one fsync (batch.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>

#include "batch.h"
#include "http_int.h"
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

/* ---------- counters ---------- */

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
			if (items[i].bi_why == STORE_DUP_REPLAY)
				log_warn("repo '%s': %s delivery '%s' replays the body of build %lld",
					 b->repo, b->provider, b->delivery ? b->delivery : "-",
					 items[i].bi_dup);
			else if (items[i].bi_why == STORE_DUP_BUILT)
				log_info("repo '%s': %s delivery '%s': %s %.12s is build %lld already",
					 b->repo, b->provider, b->delivery ? b->delivery : "-",
					 b->ref, b->sha, items[i].bi_dup);
			else
				log_info("repo '%s': %s delivery '%s' is a duplicate of build %lld",
					 b->repo, b->provider, b->delivery, items[i].bi_dup);
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

/* ---------- refusals ---------- */

/* A request closed or merged: its builds are canceled by the worker, which writes
 * that on its own (nothing is queued here, so nothing waits for a commit). */
static void http_intake_closed(struct http *h, struct evhttp_request *req,
			       const struct repo_conf *repo, const struct webhook_event *ev)
{
	enum provider p = ev->provider;
	char *why = xasprintf("request %lld closed", ev->pr);

	http_count(h, repo->name, p, RES_IGNORED);
	log_info("repo '%s': %s %s: its builds are canceled", repo->name,
		 webhook_provider_name(p), why);
	if (h->h_closed_fn)
		h->h_closed_fn(h->h_closed_ctx, repo->name, ev->ref, why);
	http_reply_json(req, 200, json_pack("{ss}", "ignored", why));
	free(why);
}

static const char *http_header(void *ctx, const char *name)
{
	return evhttp_find_header(ctx, name);
}

static void http_refusal_add(struct http *h, const char *repo, enum provider p, int code,
			     const char *reason)
{
	struct http_refusal *r = &h->h_refusals[h->h_nrefused % HTTP_REFUSALS_KEPT];

	memset(r, 0, sizeof(*r));
	r->hr_time = time(NULL);
	snprintf(r->hr_repo, sizeof(r->hr_repo), "%s", repo);
	snprintf(r->hr_provider, sizeof(r->hr_provider), "%s", webhook_provider_name(p));
	r->hr_code = code;
	snprintf(r->hr_reason, sizeof(r->hr_reason), "%s", reason);
	h->h_nrefused++;
}

void http_intake_unknown(struct http *h, const char *name, enum provider p)
{
	time_t minute = time(NULL) / 60;

	http_refusal_add(h, name, p, 404, "unknown repository");
	h->h_nunknown++;
	/* a misrouted webhook must show in the log; a flood of them must not fill it */
	if (minute != h->h_unknown_minute) {
		if (h->h_unknown_unlogged)
			log_warn("%u more deliveries to unknown repositories were not logged",
				 h->h_unknown_unlogged);
		h->h_unknown_minute = minute;
		h->h_unknown_logged = 0;
		h->h_unknown_unlogged = 0;
	}
	if (h->h_unknown_logged >= HTTP_REFUSAL_LOGS_PER_MINUTE) {
		h->h_unknown_unlogged++;
		return;
	}
	h->h_unknown_logged++;
	log_warn("repo '%s': %s delivery refused: no [repo \"%s\"] in the configuration "
		 "(a misrouted webhook, or a name that differs)", name, webhook_provider_name(p), name);
}

json_t *http_intake_refusals_json(const struct http *h)
{
	unsigned long long n = h->h_nrefused < HTTP_REFUSALS_KEPT ? h->h_nrefused : HTTP_REFUSALS_KEPT;
	json_t *a = json_array();
	unsigned long long i;

	for (i = 0; i < n; i++) {
		const struct http_refusal *r = &h->h_refusals[(h->h_nrefused - 1 - i) % HTTP_REFUSALS_KEPT];

		json_array_append_new(a, json_pack("{sI ss ss si ss}", "time", (json_int_t)r->hr_time,
						   "repo", r->hr_repo, "provider", r->hr_provider,
						   "code", r->hr_code, "reason", r->hr_reason));
	}
	return a;
}

/* ---------- webhooks ---------- */

void http_intake_hook(struct http *h, struct evhttp_request *req, const struct http_match *m)
{
	struct webhook_event ev = WEBHOOK_EVENT_INIT;
	struct webhook_request r = { 0 };
	const struct repo_conf *repo = m->m_repo;
	struct build b = BUILD_INIT;
	struct err e = ERR_INIT;
	unsigned char digest[DIGEST_SHA256_LEN];
	struct evbuffer *in;
	enum provider p;
	int rc;

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
	rc = webhook_verify_signed(&r, p, repo->secrets, repo->nsecrets, digest, &e);
	if (rc) {
		http_count(h, repo->name, p, rc == 401 ? RES_UNAUTHORIZED : RES_BAD_REQUEST);
		http_refusal_add(h, repo->name, p, rc == 401 ? 401 : 400, e.msg);
		http_access_deny_log(h, "repo '%s': %s delivery refused: %s", repo->name,
				     webhook_provider_name(p), e.msg);
		http_reply_error(req, rc == 401 ? 401 : 400, e.msg);
		return;
	}
	if (webhook_parse(&r, p, &ev, &e) < 0) {
		http_count(h, repo->name, p, RES_BAD_REQUEST);
		http_refusal_add(h, repo->name, p, 400, e.msg);
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
	webhook_match(repo, &ev);
	if (ev.action == WEBHOOK_CLOSE) {
		http_intake_closed(h, req, repo, &ev);
		goto out;
	}
	if (ev.action != WEBHOOK_BUILD) {
		if (ev.deleted && h->h_deleted_fn)
			h->h_deleted_fn(h->h_deleted_ctx, repo->name, ev.ref);
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
	b.untrusted = ev.fork;
	batch_push_signed(h->h_batch, &b, digest, req);
out:
	webhook_event_release(&ev);
}

void http_intake_refused(struct http *h, const struct http_verdict *v)
{
	enum provider p = (enum provider)v->v_provider;

	if (v->v_code == 404) {
		http_intake_unknown(h, v->v_repo, p);
		return;
	}
	http_refusal_add(h, v->v_repo, p, v->v_code, v->v_msg);
	http_count(h, v->v_repo, p, v->v_code == 401 ? RES_UNAUTHORIZED : RES_BAD_REQUEST);
	http_access_deny_log(h, "repo '%s': %s delivery refused: %s", v->v_repo,
			     webhook_provider_name(p), v->v_msg);
}

int http_intake_init(struct http *h, struct err *e)
{
	h->h_batch = batch_new(h->h_base, h->h_cfg->state_dir, h->h_store, http_batch_done,
			       http_room, h, e);
	return h->h_batch ? 0 : -1;
}

void http_intake_release(struct http *h)
{
	size_t i;

	batch_free(h->h_batch);		/* answers what it still holds: counted */
	h->h_batch = NULL;
	for (i = 0; i < h->h_ncounters; i++)
		free(h->h_counters[i].hc_repo);
	free(h->h_counters);
	h->h_counters = NULL;
	h->h_ncounters = 0;
	free(h->h_url_json);
	h->h_url_json = NULL;
}

void http_intake_metrics(const struct http *h, struct buf *o)
{
	size_t i;
	int p, r;

	buf_addstr(o, "# HELP s2i_agent_deliveries_total Webhook deliveries by repository, "
		   "provider and result.\n# TYPE s2i_agent_deliveries_total counter\n");
	for (i = 0; i < h->h_ncounters; i++)
		for (p = 0; p < 4; p++)
			for (r = 0; r < RES_N; r++)
				if (h->h_counters[i].hc_n[p][r])
					buf_addf(o, "s2i_agent_deliveries_total{repo=\"%s\","
						 "provider=\"%s\",result=\"%s\"} %llu\n",
						 h->h_counters[i].hc_repo,
						 webhook_provider_name((enum provider)p),
						 http_result_names[r], h->h_counters[i].hc_n[p][r]);
	/* not in the per-repository counter: its label would be whatever a sender names */
	buf_addf(o, "# HELP s2i_agent_deliveries_unknown_repo_total Webhook deliveries to a "
		 "repository that is not configured (404).\n"
		 "# TYPE s2i_agent_deliveries_unknown_repo_total counter\n"
		 "s2i_agent_deliveries_unknown_repo_total %llu\n", h->h_nunknown);
	buf_addf(o, "# HELP s2i_agent_deliveries_refused_total Webhook deliveries refused "
		 "(400, 401, 404).\n# TYPE s2i_agent_deliveries_refused_total counter\n"
		 "s2i_agent_deliveries_refused_total %llu\n", h->h_nrefused);
}
