/* http_api: the read API (builds, one build, dashboard) and the pipeline's endpoints.
 * JSON or HTML by Accept; log, cancel, retry and new builds go to the pipeline (http_set_ext). */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

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

static json_t *http_builds_json(const struct http *h, const struct build_list *l)
{
	const struct repo_conf *rc;
	json_t *a = json_array();
	size_t i;
	char *s;

	for (i = 0; i < l->n; i++) {
		json_t *o = store_build_json(&l->items[i]);

		/* a queued build waits for an agent with these labels (s2i-agent.conf(5)) */
		if (l->items[i].state == BUILD_QUEUED && (rc = config_repo(h->h_cfg, l->items[i].repo)) &&
		    rc->run_on.n) {
			s = config_labels_str(&rc->run_on);
			json_object_set_new(o, "run_on", json_string(s));
			json_object_set_new(o, "runs_here", json_boolean(config_labels_match(h->h_cfg, rc)));
			free(s);
		}

		/* the dashboard shows these too, beyond the API's build object */
		if (l->items[i].message)
			json_object_set_new(o, "message", json_string(l->items[i].message));
		if (l->items[i].author)
			json_object_set_new(o, "author", json_string(l->items[i].author));
		json_array_append_new(a, o);
	}
	return a;
}

/* ?repo=&ref=&state=&limit=&before= into f (pointing into q); -1 with *why for a 400 */
static int http_list_filter(struct evhttp_request *req, struct evkeyvalq *q, struct store_filter *f,
			    const char **why)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *query = uri ? evhttp_uri_get_query(uri) : NULL, *v;
	long long n;

	if (query && evhttp_parse_query_str(query, q) < 0) {
		*why = "malformed query string";
		return -1;
	}
	if ((v = evhttp_find_header(q, "repo")) && *v)
		f->repo = v;
	if ((v = evhttp_find_header(q, "ref")) && *v)
		f->ref = v;
	if ((v = evhttp_find_header(q, "state")) && *v) {
		f->state = store_state_parse(v);
		if (f->state < 0) {
			*why = "unknown state";
			return -1;
		}
	}
	if ((v = evhttp_find_header(q, "limit")) && *v) {
		if (http_parse_id(v, strlen(v), &n) < 0) {
			*why = "limit must be a positive integer";
			return -1;
		}
		f->limit = n > BUILDS_LIST_MAX ? BUILDS_LIST_MAX : (size_t)n;
	}
	if ((v = evhttp_find_header(q, "before")) && *v) {
		if (http_parse_id(v, strlen(v), &n) < 0) {
			*why = "before must be a build id";
			return -1;
		}
		f->before_id = n;
	}
	return 0;
}

void http_api_list(struct http *h, struct evhttp_request *req, const struct http_match *m)
{
	struct store_filter f = STORE_FILTER_INIT;
	struct build_list l = BUILD_LIST_INIT;
	struct evkeyvalq q;
	struct err e = ERR_INIT;
	const char *why = NULL;

	(void)m;
	TAILQ_INIT(&q);
	if (http_list_filter(req, &q, &f, &why) < 0) {
		http_reply_error(req, 400, why);
		goto out;
	}
	if (store_list_builds(h->h_store, &f, &l, &e) < 0) {
		log_error("%s", e.msg);
		http_reply_error(req, 500, "cannot read builds");
		goto out;
	}
	http_reply_json(req, 200, http_builds_json(h, &l));
	build_list_release(&l);
out:
	evhttp_clear_headers(&q);
}

/* The dashboard, or one repository's, branch's or state's page of it (dash.h) */
static void http_dashboard(struct http *h, struct evhttp_request *req)
{
	struct store_filter f = STORE_FILTER_INIT;
	struct build_list l = BUILD_LIST_INIT;
	struct buf page = BUF_INIT(16 * 1024 * 1024);
	struct dash_index d = { 0 };
	struct evkeyvalq q;
	const char **repos = NULL, *why = NULL;
	struct err e = ERR_INIT, held = ERR_INIT;
	json_t *builds = NULL, *refusals = NULL;
	size_t i;

	TAILQ_INIT(&q);
	if (http_list_filter(req, &q, &f, &why) < 0) {
		http_reply_error(req, 400, why);
		goto out;
	}
	if (!f.limit)
		f.limit = DASH_PAGE_BUILDS;
	if (store_list_builds(h->h_store, &f, &l, &e) < 0) {
		log_error("%s", e.msg);
		http_reply_error(req, 500, "cannot read builds");
		goto out;
	}
	builds = http_builds_json(h, &l);
	/* the forge's repository URL, for the commit links */
	for (i = 0; i < l.n; i++)
		if (l.items[i].clone_url)
			json_object_set_new(json_array_get(builds, i), "clone_url",
					    json_string(l.items[i].clone_url));
	repos = xcalloc(h->h_cfg->nrepos + 1, sizeof(*repos));
	for (i = 0; i < h->h_cfg->nrepos; i++)
		repos[i] = h->h_cfg->repos[i]->name;
	d.builds = builds;
	d.repos = repos;
	d.public_url = h->h_cfg->public_url;
	d.version = S2I_AGENT_VERSION;
	d.now = time(NULL);
	refusals = http_intake_refusals_json(h);
	d.refusals = refusals;
	d.nrefused = h->h_nrefused;
	d.repo = f.repo;
	d.ref = f.ref;
	d.state = f.state >= 0 ? store_state_name((enum build_state)f.state) : NULL;
	d.before = f.before_id;
	d.older = l.n && l.n == f.limit ? l.items[l.n - 1].id : 0;
	if (h->h_health_fn && h->h_health_fn(h->h_pipeline_ctx, &held) < 0)
		d.notice = held.msg;
	if (dash_render_index(&d, &page, &e) < 0) {
		log_error("dashboard: %s", e.msg);
		http_reply_error(req, 500, "cannot render the dashboard");
	} else {
		http_send_html(req, &page);
	}
out:
	buf_release(&page);
	free(repos);
	json_decref(builds);
	json_decref(refusals);
	build_list_release(&l);
	evhttp_clear_headers(&q);
}

/* The end of a finished build's log for its page: at most DASH_LOG_INLINE_MAX bytes,
 * from a line's start when cut; an empty text when there is no log (never ran). On
 * a shared store the log is the store's (the agent that ran it may be gone), else
 * its file. Returns what to free. */
static char *http_build_log(struct http *h, const struct build *b, struct dash_log *log)
{
	struct buf tail = BUF_INIT(DASH_LOG_INLINE_MAX + 1);
	struct stat st;
	size_t want, got = 0;
	ssize_t n;
	char *data = NULL, *nl;
	int fd;

	log->text = "";
	log->len = log->skipped = 0;
	if (store_shared(h->h_store) &&
	    store_log_tail(h->h_store, b->id, DASH_LOG_INLINE_MAX, &tail, &log->skipped, NULL) == 0) {
		got = tail.len;
		data = buf_detach(&tail, NULL);
	} else {
		buf_release(&tail);
		if (!b->log_path || (fd = open(b->log_path, O_RDONLY | O_CLOEXEC)) < 0)
			return NULL;
		if (fstat(fd, &st) < 0 || st.st_size <= 0) {
			close(fd);
			return NULL;
		}
		want = (size_t)st.st_size > DASH_LOG_INLINE_MAX ? DASH_LOG_INLINE_MAX :
			(size_t)st.st_size;
		log->skipped = (size_t)st.st_size - want;
		data = xmalloc(want + 1);
		while (got < want &&
		       (n = pread(fd, data + got, want - got, (off_t)(log->skipped + got))) > 0)
			got += (size_t)n;
		close(fd);
	}
	log->text = data;
	log->len = got;
	if (log->skipped && (nl = memchr(data, '\n', got))) {	/* no half line on top */
		log->skipped += (size_t)(nl + 1 - data);
		log->len -= (size_t)(nl + 1 - data);
		log->text = nl + 1;
	}
	return data;
}

void http_api_build(struct http *h, struct evhttp_request *req, const struct http_match *m)
{
	struct buf page = BUF_INIT(DASH_PAGE_MAX);
	const struct build *b = &m->m_build;
	struct err e = ERR_INIT;
	struct dash_log log;
	char *logdata = NULL;
	json_t *j;

	j = store_build_json(b);
	if (http_wants_html(req)) {
		/* the page shows the commit too, as the list does */
		if (b->message)
			json_object_set_new(j, "message", json_string(b->message));
		if (b->author)
			json_object_set_new(j, "author", json_string(b->author));
		/* a finished build's log is in the page: it reads without JavaScript */
		if (store_state_final(b->state))
			logdata = http_build_log(h, b, &log);
		if (dash_render_build(j, store_state_final(b->state) ? &log : NULL, time(NULL), &page,
				      &e) < 0) {
			log_error("build %lld: cannot render: %s", m->m_id, e.msg);
			http_reply_error(req, 500, "cannot render the build");
		} else {
			http_send_html(req, &page);
		}
		json_decref(j);
		free(logdata);
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
