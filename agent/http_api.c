/* http_api: the read API (builds, one build, dashboard) and the pipeline's endpoints.
 * JSON or HTML by Accept; log, cancel, retry and new builds go to the pipeline (http_set_ext). */
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#include <event2/keyvalq_struct.h>

#include "dash.h"
#include "http_int.h"
#include "log.h"

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

		/* the dashboard shows these too, beyond the API's build object */
		if (l->items[i].message)
			json_object_set_new(o, "message", json_string(l->items[i].message));
		if (l->items[i].author)
			json_object_set_new(o, "author", json_string(l->items[i].author));
		json_array_append_new(a, o);
	}
	return a;
}

void http_api_list(struct http *h, struct evhttp_request *req, const struct http_match *m)
{
	struct store_filter f = STORE_FILTER_INIT;
	struct build_list l = BUILD_LIST_INIT;
	struct evkeyvalq q = { 0 };
	struct err e = ERR_INIT;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *query = uri ? evhttp_uri_get_query(uri) : NULL, *v;
	long long limit;

	(void)m;
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
	struct err e = ERR_INIT, held = ERR_INIT;
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
	if (h->h_health_fn && h->h_health_fn(h->h_pipeline_ctx, &held) < 0)
		d.notice = held.msg;
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

void http_api_build(struct http *h, struct evhttp_request *req, const struct http_match *m)
{
	struct buf page = BUF_INIT(1024 * 1024);
	const struct build *b = &m->m_build;
	struct err e = ERR_INIT;
	json_t *j;

	(void)h;
	j = store_build_json(b);
	if (http_wants_html(req)) {
		/* the page shows the commit too, as the list does */
		if (b->message)
			json_object_set_new(j, "message", json_string(b->message));
		if (b->author)
			json_object_set_new(j, "author", json_string(b->author));
		if (dash_render_build(j, time(NULL), &page, &e) < 0) {
			log_error("build %lld: cannot render: %s", m->m_id, e.msg);
			http_reply_error(req, 500, "cannot render the build");
		} else {
			http_send_html(req, &page);
		}
		json_decref(j);
	} else {
		http_reply_json(req, 200, j);
	}
	buf_release(&page);
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

void http_api_root(struct http *h, struct evhttp_request *req, const struct http_match *m)
{
	if (h->h_ext_fn[HTTP_EXT_DASHBOARD])
		http_ext(h, req, HTTP_EXT_DASHBOARD, 0, NULL);
	else if (http_wants_html(req))
		http_dashboard(h, req);
	else
		http_api_list(h, req, m);
}

void http_api_log(struct http *h, struct evhttp_request *req, const struct http_match *m)
{
	http_ext(h, req, HTTP_EXT_LOG, m->m_id, NULL);
}

void http_api_cancel(struct http *h, struct evhttp_request *req, const struct http_match *m)
{
	http_ext(h, req, HTTP_EXT_CANCEL, m->m_id, NULL);
}

void http_api_retry(struct http *h, struct evhttp_request *req, const struct http_match *m)
{
	http_ext(h, req, HTTP_EXT_RETRY, m->m_id, NULL);
}

void http_api_start(struct http *h, struct evhttp_request *req, const struct http_match *m)
{
	if (h->h_stopping) {
		http_reply_retry(req, "shutting down");
		return;
	}
	http_ext(h, req, HTTP_EXT_BUILD, 0, m->m_repo);
}
