/* worker_http: the pipeline's endpoints: a build's log (followed), cancel, retry, manual build. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "buf.h"
#include "http.h"
#include "limits.h"
#include "log.h"
#include "worker_int.h"

/* ---------- GET /builds/ID/log ---------- */

/* A GET /builds/ID/log?follow=1 being streamed. */
struct wfollow {
	struct worker *f_w;
	struct evhttp_request *f_req;
	struct evhttp_connection *f_conn;
	long long f_id;
	int f_fd;
	off_t f_off;
	/* a shared store, the build not running here: read from its chunks, woken by
	 * the store (worker_follow_wake); f_once: no follow, the log as it is now */
	int f_remote, f_once;
	struct store_log_pos f_pos;
	size_t f_sent;
	struct event *f_timer;
	struct wfollow *f_next;
};

static void worker_follow_free(struct wfollow *f, int end)
{
	struct wfollow **pp;

	for (pp = &f->f_w->w_follows; *pp; pp = &(*pp)->f_next)
		if (*pp == f) {
			*pp = f->f_next;
			break;
		}
	if (f->f_conn)
		evhttp_connection_set_closecb(f->f_conn, NULL, NULL);
	if (end)
		evhttp_send_reply_end(f->f_req);
	if (f->f_timer)
		event_free(f->f_timer);
	if (f->f_fd >= 0)
		close(f->f_fd);
	free(f);
}

void worker_follow_end_all(struct worker *w, int end)
{
	while (w->w_follows)
		worker_follow_free(w->w_follows, end);
}

static void worker_follow_closed(struct evhttp_connection *conn, void *arg)
{
	struct wfollow *f = arg;

	(void)conn;
	f->f_conn = NULL;
	/* the client closed or the connection timed out: evhttp detached the
	 * request, which only ending the reply frees (and nothing counts it
	 * answered); one still attached is freed with its connection */
	if (!evhttp_request_get_connection(f->f_req)) {
		http_request_lost(f->f_w->w_http, f->f_req);
		worker_follow_free(f, 1);
		return;
	}
	worker_follow_free(f, 0);
}

/* 1 when the build's log is complete: its outcome is on disk (its process may still
 * be removing containers, and say so in the log, but a follower has its answer). */
static int worker_build_over(struct worker *w, long long id)
{
	struct build b = BUILD_INIT;
	struct wproc *p = worker_find_build(w, id);
	int over;

	if (p)
		return p->p_build.b_landed && !p->p_build.b_requeue;
	if (store_get_build(w->w_store, id, &b, NULL) != 0)
		return 1;
	over = store_state_final(b.state);
	build_release(&b);
	return over;
}

/* The log of a build that ended without running and has no log file (superseded
 * while queued): its outcome line, as the agent writes it; NULL otherwise. */
static char *worker_log_told(struct worker *w, long long id)
{
	struct build b = BUILD_INIT;
	char *line = NULL;

	if (store_get_build(w->w_store, id, &b, NULL) != 0)
		return NULL;
	if (store_state_final(b.state) && b.attempt == 0)
		line = xasprintf("==> build %lld %s: %s\n", id, store_state_name(b.state),
				 b.reason ? b.reason : "(no reason)");
	build_release(&b);
	return line;
}

/* n bytes of fd at off into out (a local file: this does not wait on anyone). */
static int worker_read_at(int fd, off_t off, size_t n, struct evbuffer *out)
{
	char *b = xmalloc(n);
	size_t got = 0;
	ssize_t r;

	while (got < n) {
		r = pread(fd, b + got, n - got, off + (off_t)got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	if (got == n)
		evbuffer_add(out, b, n);
	free(b);
	return got == n ? 0 : -1;
}

static void worker_follow_send(struct wfollow *f, const char *data, size_t len)
{
	struct evbuffer *chunk = evbuffer_new();

	if (!chunk)
		return;
	evbuffer_add(chunk, data, len);
	evhttp_send_reply_chunk(f->f_req, chunk);
	evbuffer_free(chunk);
	f->f_sent += len;
}

/* A log read from a shared store's chunks: 0 when the stream goes on (a timer or the
 * store's wake-up calls again), -1 when it ended, 1 when the store has no chunks of
 * the build and over (it ended, or f_once): its log file here, if any, is read
 * instead (a build run here before the store had logs). The build ends in the
 * COMMIT that holds its last chunks (worker_op_run). */
static int worker_follow_remote(struct wfollow *f, int over)
{
	struct worker *w = f->f_w;
	struct timeval now = { 0, 0 }, wait = { WORKER_LOG_WAIT_MS / 1000, 0 };
	struct buf b = BUF_INIT(WORKER_LOG_CHUNK + STORE_LOG_CHUNK_MAX);
	struct err e = ERR_INIT;
	int rc = store_log_read(w->w_store, f->f_id, &f->f_pos, WORKER_LOG_CHUNK, &b, &e);

	if (rc == 0)
		worker_follow_send(f, b.data, b.len);
	buf_release(&b);
	if (rc == 0) {
		evtimer_add(f->f_timer, &now);	/* there may be more */
		return 0;
	}
	if (rc < 0)
		log_warn("build %lld: cannot read its log: %s", f->f_id, e.msg);
	if (rc > 0 && !f->f_sent && over)
		return 1;
	if (over || w->w_stopping) {
		worker_follow_free(f, 1);
		return -1;
	}
	evtimer_add(f->f_timer, &wait);
	return 0;
}

void worker_follow_wake(struct worker *w, long long id)
{
	struct timeval now = { 0, 0 };
	struct wfollow *f;

	for (f = w->w_follows; f; f = f->f_next)
		if (f->f_id == id && f->f_timer)
			evtimer_add(f->f_timer, &now);
}

static void worker_follow_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wfollow *f = arg;
	struct worker *w = f->f_w;
	struct timeval tv = { 0, WORKER_LOG_POLL_MS * 1000 };
	struct bufferevent *bev = f->f_conn ? evhttp_connection_get_bufferevent(f->f_conn) : NULL;
	struct evbuffer *chunk;
	struct stat sb;
	int over;
	char *path, *told;

	(void)fd;
	(void)what;
	/* decided before reading, so the bytes written before the end are all sent;
	 * a read without follow ends once it has what there is */
	over = f->f_once || worker_build_over(w, f->f_id);
	if (bev && evbuffer_get_length(bufferevent_get_output(bev)) > WORKER_LOG_BACKLOG) {
		evtimer_add(f->f_timer, &tv);
		return;
	}
	if (f->f_remote) {
		if (worker_follow_remote(f, over) <= 0)
			return;
		f->f_remote = 0;	/* a log from before the store had them */
	}
	if (f->f_fd < 0) {
		path = worker_log_path(w, f->f_id);
		f->f_fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		free(path);
		if (f->f_fd < 0 && over && (told = worker_log_told(w, f->f_id))) {
			worker_follow_send(f, told, strlen(told));
			free(told);
			worker_follow_free(f, 1);
			return;
		}
	}
	if (f->f_fd >= 0 && fstat(f->f_fd, &sb) == 0) {
		if (sb.st_size < f->f_off)	/* a rerun started the log over */
			f->f_off = 0;
		if (sb.st_size > f->f_off) {
			size_t n = (size_t)(sb.st_size - f->f_off);

			if (n > WORKER_LOG_CHUNK)
				n = WORKER_LOG_CHUNK;
			chunk = evbuffer_new();
			if (chunk && worker_read_at(f->f_fd, f->f_off, n, chunk) == 0) {
				f->f_off += (off_t)n;
				evhttp_send_reply_chunk(f->f_req, chunk);
			}
			if (chunk)
				evbuffer_free(chunk);
			if (f->f_off < sb.st_size) {
				tv.tv_usec = 0;
				evtimer_add(f->f_timer, &tv);
				return;
			}
		}
	}
	if (over || w->w_stopping) {
		worker_follow_free(f, 1);
		return;
	}
	evtimer_add(f->f_timer, &tv);
}

static int worker_query_flag(struct evhttp_request *req, const char *name)
{
	const char *q = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req)), *v;
	struct evkeyvalq kv;
	int on = 0;

	TAILQ_INIT(&kv);
	if (q && evhttp_parse_query_str(q, &kv) == 0 && (v = evhttp_find_header(&kv, name)))
		on = !strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "yes");
	evhttp_clear_headers(&kv);
	return on;
}

static void worker_http_log(void *ctx, struct evhttp_request *req, long long id,
			    const struct repo_conf *repo)
{
	struct worker *w = ctx;
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);
	struct evbuffer *body;
	struct wfollow *f;
	struct stat sb;
	char *path = worker_log_path(w, id), *told;
	int fd, get, follow, remote;

	(void)repo;
	evhttp_add_header(out, "Content-Type", "text/plain; charset=utf-8");
	evhttp_add_header(out, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(out, "Cache-Control", "no-store");
	get = evhttp_request_get_command(req) == EVHTTP_REQ_GET;
	follow = get && worker_query_flag(req, "follow") && !w->w_stopping;
	/* a build not running here, on a shared store: its log is in the store (one
	 * that ran here before the store had logs is still read from its file) */
	remote = get && store_shared(w->w_store) && !worker_find_build(w, id);
	if (follow || remote) {
		f = xcalloc(1, sizeof(*f));
		f->f_remote = remote;
		f->f_once = !follow;
		f->f_w = w;
		f->f_req = req;
		f->f_conn = evhttp_request_get_connection(req);
		f->f_id = id;
		f->f_fd = -1;
		f->f_timer = evtimer_new(w->w_base, worker_follow_cb, f);
		f->f_next = w->w_follows;
		w->w_follows = f;
		if (f->f_conn)
			evhttp_connection_set_closecb(f->f_conn, worker_follow_closed, f);
		evhttp_send_reply_start(req, 200, "OK");
		worker_follow_cb(-1, 0, f);
		free(path);
		return;
	}
	body = evbuffer_new();
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0 && fstat(fd, &sb) == 0 && sb.st_size > 0) {
		/* evbuffer owns fd from here and sends it with sendfile */
		if (evbuffer_add_file(body, fd, 0, sb.st_size) < 0)
			close(fd);
	} else if (fd >= 0) {
		close(fd);
	} else if ((told = worker_log_told(w, id))) {
		evbuffer_add(body, told, strlen(told));
		free(told);
	}
	evhttp_send_reply(req, 200, "OK", body);
	evbuffer_free(body);
	free(path);
}

/* ---------- admin: cancel, retry, manual builds ---------- */

void worker_reply_queued(struct worker *w, struct evhttp_request *req, long long id)
{
	char *url = xasprintf("%s/builds/%lld", w->w_cfg->public_url, id);

	http_reply_json(req, 202, json_pack("{sIss}", "build", (json_int_t)id, "url", url));
	free(url);
}

static void worker_http_cancel(void *ctx, struct evhttp_request *req, long long id,
			       const struct repo_conf *repo)
{
	struct worker *w = ctx;
	struct build b = BUILD_INIT;
	struct err e = ERR_INIT;
	struct wproc *p;
	char msg[128];

	(void)repo;
	if (store_get_build(w->w_store, id, &b, &e) != 0) {
		http_reply_error(req, 404, "no such build");
		return;
	}
	if ((p = worker_find_build(w, id)) && !p->p_build.b_recorded) {
		log_info("build %lld: canceling by request", id);
		worker_cancel_proc(p, "canceled by request");
		http_reply_json(req, 202, json_pack("{sIssss}", "build", (json_int_t)id, "state",
						    "running", "cancel", "requested"));
	} else if (b.state == BUILD_RUNNING && store_shared(w->w_store)) {
		/* it runs on another agent, which hears of it: answered once on disk */
		log_info("build %lld: asking the agent running it to cancel it", id);
		worker_cancel_ask(w, id, req);
	} else if (b.state == BUILD_QUEUED) {
		/* answered once on disk */
		worker_close_build(w, &b, BUILD_CANCELED, "canceled by request", req);
	} else {
		snprintf(msg, sizeof(msg), "build %lld is already %s", id, store_state_name(b.state));
		http_reply_error(req, 409, msg);
	}
	build_release(&b);
}

/* Queues a manual build (of from's commit for a retry) through the group commit;
 * req is answered 202 once it is on disk. */
static void worker_add_manual(struct worker *w, const char *repo, const char *ref, const char *sha,
			      const struct build *from, struct evhttp_request *req)
{
	struct wop *o = worker_op_new(WOP_ADD, 0);
	struct build nb = BUILD_INIT;

	nb.repo = xstrdup(repo);
	nb.ref = xstrdup(ref ? ref : "");
	snprintf(nb.sha, sizeof(nb.sha), "%s", sha ? sha : "");
	nb.provider = xstrdup("manual");
	if (from) {
		nb.message = from->message ? xstrdup(from->message) : NULL;
		nb.author = from->author ? xstrdup(from->author) : NULL;
		nb.repo_full_name = from->repo_full_name ? xstrdup(from->repo_full_name) : NULL;
		nb.project_id = from->project_id ? xstrdup(from->project_id) : NULL;
		nb.clone_url = from->clone_url ? xstrdup(from->clone_url) : NULL;
		nb.untrusted = from->untrusted;	/* a retry is the same code */
		nb.retry_of = from->id;
		o->o_time = from->id;	/* for the log line */
	}
	o->o_build = nb;
	o->o_req = req;
	worker_op_submit(w, o);
}

static void worker_http_retry(void *ctx, struct evhttp_request *req, long long id,
			      const struct repo_conf *repo)
{
	struct worker *w = ctx;
	struct build b = BUILD_INIT;
	struct err e = ERR_INIT;

	(void)repo;
	if (w->w_stopping) {
		http_reply_error(req, 503, "shutting down");
		return;
	}
	if (store_get_build(w->w_store, id, &b, &e) != 0) {
		http_reply_error(req, 404, "no such build");
		return;
	}
	if (!worker_repo(w, b.repo))
		http_reply_error(req, 409, "the build's repository is no longer configured");
	else
		worker_add_manual(w, b.repo, b.ref, b.sha, &b, req);	/* answered once on disk */
	build_release(&b);
}

static int worker_is_hex40(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return i == 40;
}

static void worker_http_build(void *ctx, struct evhttp_request *req, long long id,
			      const struct repo_conf *repo)
{
	struct worker *w = ctx;
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	const char *ref = NULL, *sha = NULL;
	char *full = NULL;
	json_error_t je;
	json_t *j = NULL;

	(void)id;
	if (w->w_stopping) {
		http_reply_error(req, 503, "shutting down");
		return;
	}
	if (len > WORKER_BODY_MAX) {
		http_reply_error(req, 413, "body too large");
		return;
	}
	j = json_loadb((const char *)evbuffer_pullup(in, (ev_ssize_t)len), len, 0, &je);
	if (!j || !json_is_object(j)) {
		http_reply_error(req, 400, "expected a JSON object {\"ref\": ...} or {\"sha\": ...}");
		goto out;
	}
	ref = json_string_value(json_object_get(j, "ref"));
	sha = json_string_value(json_object_get(j, "sha"));
	if ((json_object_get(j, "ref") && !ref) || (json_object_get(j, "sha") && !sha) ||
	    (!ref && !sha) || (ref && (!*ref || strlen(ref) > REF_MAX)) ||
	    (sha && !worker_is_hex40(sha))) {
		http_reply_error(req, 400, "expected \"ref\" (a ref name) and/or \"sha\" (40 lowercase hex)");
		goto out;
	}
	if (ref && strncmp(ref, "refs/", 5))
		full = xasprintf("refs/heads/%s", ref);
	worker_add_manual(w, repo->name, full ? full : ref, sha, NULL, req);	/* answered once on disk */
out:
	free(full);
	json_decref(j);
}

void worker_http_hook(struct worker *w)
{
	http_set_ext(w->w_http, HTTP_EXT_LOG, worker_http_log, w);
	http_set_ext(w->w_http, HTTP_EXT_CANCEL, worker_http_cancel, w);
	http_set_ext(w->w_http, HTTP_EXT_RETRY, worker_http_retry, w);
	http_set_ext(w->w_http, HTTP_EXT_BUILD, worker_http_build, w);
}
