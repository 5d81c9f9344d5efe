/* engine_stream: byte streams with the engine: archives, logs, attach, pull/push messages.
 * Pushed to a callback (a request's sink) or pulled by reads (curl multi, paused). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"

/* ---- the JSON message stream of pull/push ---- */

void engine_jsonstream_init(struct engine_jsonstream *js, engine_progress_fn fn, void *arg)
{
	memset(js, 0, sizeof(*js));
	buf_init(&js->pending, ENGINE_RESPONSE_MAX);
	js->fn = fn;
	js->arg = arg;
}

static int engine_jsonstream_message(struct engine_jsonstream *js, json_t *m, struct err *e)
{
	json_t *detail = json_object_get(m, "errorDetail"), *aux = json_object_get(m, "aux");
	const char *msg = json_string_value(json_object_get(detail, "message"));
	const char *status, *id, *p;
	char *line;
	int rv = 0;

	js->messages++;
	if (!msg)
		msg = json_string_value(json_object_get(m, "error"));
	if (msg || detail || json_object_get(m, "error")) {
		if (!js->error)
			js->error = xstrdup(msg && *msg ? msg : "unknown error reported by the engine");
		return 0;
	}
	if (aux && json_string_value(json_object_get(aux, "Digest")) && !js->digest)
		js->digest = xstrdup(json_string_value(json_object_get(aux, "Digest")));
	status = json_string_value(json_object_get(m, "status"));
	id = json_string_value(json_object_get(m, "id"));
	/* Podman has no aux message: "TAG: digest: sha256:... size: N" */
	if (status && !js->digest && (p = strstr(status, "digest: sha256:")))
		js->digest = xstrndup(p + 8, strcspn(p + 8, " "));
	/* Progress-bar updates would flood a build log; status changes are enough. */
	if (!js->fn || !status || json_object_get(m, "progress"))
		return 0;
	line = id && *id ? xasprintf("%s: %s", id, status) : xstrdup(status);
	if (js->fn(js->arg, line, e) < 0)
		rv = -1;
	free(line);
	return rv;
}

static int engine_jsonstream_parse(struct engine_jsonstream *js, int final, struct err *e)
{
	size_t off = 0, rest;
	json_error_t jerr;
	json_t *m;
	int rv = -1;

	for (;;) {
		while (off < js->pending.len && isspace((unsigned char)js->pending.data[off]))
			off++;
		rest = js->pending.len - off;
		if (!rest)
			break;
		m = json_loadb(js->pending.data + off, rest, JSON_DISABLE_EOF_CHECK, &jerr);
		if (!m) {
			/* An error at the end of the data is an incomplete message. */
			if (!final && (size_t)jerr.position >= rest)
				break;
			err_set(e, "malformed JSON message from the engine: %s", jerr.text);
			goto out;
		}
		if (!json_is_object(m)) {
			json_decref(m);
			err_set(e, "malformed JSON message from the engine: not an object");
			goto out;
		}
		off += (size_t)jerr.position;
		if (engine_jsonstream_message(js, m, e) < 0) {
			json_decref(m);
			goto out;
		}
		json_decref(m);
	}
	rv = 0;
out:
	if (off) {
		memmove(js->pending.data, js->pending.data + off, js->pending.len - off);
		js->pending.len -= off;
		js->pending.data[js->pending.len] = 0;
	}
	return rv;
}

int engine_jsonstream_feed(struct engine_jsonstream *js, const void *data, size_t len, struct err *e)
{
	if (buf_add(&js->pending, data, len) < 0)
		return err_set(e, "JSON message from the engine larger than %u bytes", (unsigned)ENGINE_RESPONSE_MAX);
	/* Messages end with a newline; parse only when one has arrived. */
	if (!memchr(data, '\n', len))
		return 0;
	return engine_jsonstream_parse(js, 0, e);
}

int engine_jsonstream_finish(struct engine_jsonstream *js, struct err *e)
{
	if (engine_jsonstream_parse(js, 1, e) < 0)
		return -1;
	if (js->error)
		return err_set(e, "%s", js->error);
	return 0;
}

void engine_jsonstream_release(struct engine_jsonstream *js)
{
	buf_release(&js->pending);
	free(js->error);
	free(js->digest);
	js->error = js->digest = NULL;
}

/* ---- the stdout/stderr demultiplexer ---- */

int engine_demux_feed(struct engine_demux *d, const void *data, size_t len, engine_output_fn fn, void *arg,
		      struct err *e)
{
	const unsigned char *p = data;

	while (len) {
		if (d->left == 0) {
			size_t take = 8 - d->hdr_len;

			if (take > len)
				take = len;
			memcpy(d->hdr + d->hdr_len, p, take);
			d->hdr_len += take;
			p += take;
			len -= take;
			if (d->hdr_len < 8)
				break;
			if (d->hdr[0] > 2 || d->hdr[1] || d->hdr[2] || d->hdr[3])
				return err_set(e, "malformed output stream from the engine (header %02x %02x %02x %02x)",
					       d->hdr[0], d->hdr[1], d->hdr[2], d->hdr[3]);
			d->stream = d->hdr[0];
			d->left = (uint32_t)d->hdr[4] << 24 | (uint32_t)d->hdr[5] << 16 | (uint32_t)d->hdr[6] << 8 |
				  d->hdr[7];
			d->hdr_len = 0;
			continue;
		} else {
			size_t take = d->left < len ? d->left : len;

			if (fn && fn(arg, d->stream, p, take, e) < 0)
				return -1;
			d->left -= (uint32_t)take;
			p += take;
			len -= take;
		}
	}
	return 0;
}

int engine_demux_finish(const struct engine_demux *d, struct err *e)
{
	if (d->hdr_len || d->left)
		return err_set(e, "output stream from the engine ends in the middle of a frame");
	return 0;
}

/* ---- archives and logs ---- */

int engine_archive_put(struct engine *eng, const char *id, const char *dir, engine_read_fn rd, void *arg,
		       struct err *e)
{
	struct engine_xfer x = { .rd = rd, .rd_arg = arg, .wait = ENGINE_WAIT_STREAM };
	char *path = engine_container_path(id, "/archive?path=%s&noOverwriteDirNonDir=true", dir, e);
	int rv = path ? engine_request(eng, "PUT", path, &x, e) : -1;

	if (rv < 0)
		err_prefix(e, "cannot upload into '%s' of container %.12s", dir, id ? id : "?");
	free(path);
	return rv;
}

struct engine_sink_write {
	engine_write_fn wr;
	void *arg;
};

static int engine_sink_write(struct req *r, const char *data, size_t len)
{
	struct engine_sink_write *w = r->sink_arg;

	return w->wr(w->arg, data, len, &r->cb_err);
}

int engine_archive_get(struct engine *eng, const char *id, const char *path, engine_write_fn wr, void *arg,
		       struct err *e)
{
	struct engine_sink_write w = { wr, arg };
	struct engine_xfer x = { .wait = ENGINE_WAIT_STREAM, .sink = engine_sink_write, .sink_arg = &w };
	char *url = engine_container_path(id, "/archive?path=%s", path, e);
	int rv = url ? engine_request(eng, "GET", url, &x, e) : -1;

	if (rv < 0)
		err_prefix(e, "cannot download '%s' from container %.12s", path, id ? id : "?");
	free(url);
	return rv;
}

struct engine_sink_demux {
	struct engine_demux d;
	engine_output_fn fn;
	void *arg;
};

static int engine_sink_demux(struct req *r, const char *data, size_t len)
{
	struct engine_sink_demux *s = r->sink_arg;

	return engine_demux_feed(&s->d, data, len, s->fn, s->arg, &r->cb_err);
}

static char *engine_logs_path(const char *id, int follow, struct err *e)
{
	return engine_container_path(id, follow ? "/logs?stdout=1&stderr=1&follow=1" :
					      "/logs?stdout=1&stderr=1&follow=0", NULL, e);
}

int engine_container_logs(struct engine *eng, const char *id, int follow, engine_output_fn fn, void *arg,
			  struct err *e)
{
	struct engine_sink_demux s = { ENGINE_DEMUX_INIT, fn, arg };
	struct engine_xfer x = { .wait = follow ? ENGINE_WAIT_CONTAINER : ENGINE_WAIT_STREAM,
				 .container = follow ? id : NULL, .sink = engine_sink_demux, .sink_arg = &s };
	char *path = engine_logs_path(id, follow, e);
	int rv = -1;

	if (!path || engine_request(eng, "GET", path, &x, e) < 0 || engine_demux_finish(&s.d, e) < 0)
		goto out;
	rv = 0;
out:
	if (rv < 0)
		err_prefix(e, "cannot read the output of container %.12s", id ? id : "?");
	free(path);
	return rv;
}

/* ---- pull-style streams (curl multi, paused between reads) ---- */

struct engine_stream {
	struct req r;
	CURLM *m;
	struct buf chunk;		/* bytes delivered by curl, not yet read */
	size_t off;
	int paused;
	int done;
	CURLcode result;
	int demux;
	int headers_done;		/* the final response's header block has ended */
	struct engine_sink_demux dm;	/* for logs: stdout → chunk, the rest → dm.fn */
	char what[128];			/* for messages */
};

static int engine_stream_stdout(void *arg, int stream, const void *data, size_t len, struct err *e)
{
	struct engine_stream *s = arg;

	if (stream == ENGINE_STDOUT)
		return buf_add(&s->chunk, data, len) < 0 ? err_set(e, "out of memory") : 0;
	return s->dm.fn ? s->dm.fn(s->dm.arg, stream, data, len, e) : 0;
}

static size_t engine_stream_write_cb(char *data, size_t size, size_t nmemb, void *arg)
{
	struct engine_stream *s = arg;
	struct req *r = &s->r;
	size_t n = size * nmemb;

	if (!r->code)
		curl_easy_getinfo(r->h, CURLINFO_RESPONSE_CODE, &r->code);
	if (r->code >= 300)
		return engine_write_cb(data, size, nmemb, r);
	/* Hold at most one delivery: curl keeps the rest until we unpause. */
	if (s->off < s->chunk.len) {
		s->paused = 1;
		return CURL_WRITEFUNC_PAUSE;
	}
	buf_reset(&s->chunk);
	s->off = 0;
	if (s->demux) {
		if (engine_demux_feed(&s->dm.d, data, n, engine_stream_stdout, s, &r->cb_err) < 0) {
			r->cb_failed = 1;
			return 0;
		}
	} else if (buf_add(&s->chunk, data, n) < 0) {
		r->cb_failed = 1;
		err_set(&r->cb_err, "out of memory");
		return 0;
	}
	return n;
}

static size_t engine_stream_header_cb(char *data, size_t size, size_t nmemb, void *arg)
{
	struct engine_stream *s = arg;
	size_t n = size * nmemb;
	long code = 0;

	if (n <= 2 && (n == 0 || data[0] == '\r' || data[0] == '\n')) {
		curl_easy_getinfo(s->r.h, CURLINFO_RESPONSE_CODE, &code);
		if (code >= 200)
			s->headers_done = 1;
	}
	return n;
}

static int engine_stream_open(struct engine *eng, const char *method, const char *path, const char *what,
			      enum engine_wait wait, struct engine_stream **ret, struct err *e)
{
	struct engine_stream *s = xcalloc(1, sizeof(*s));

	buf_init(&s->chunk, ENGINE_STREAM_BUFFER);
	snprintf(s->what, sizeof(s->what), "%s", what);
	if (engine_req_init(&s->r, eng, method, path, 1, e) < 0)
		goto fail;
	engine_req_wait(&s->r, wait);
	curl_easy_setopt(s->r.h, CURLOPT_WRITEFUNCTION, engine_stream_write_cb);
	curl_easy_setopt(s->r.h, CURLOPT_WRITEDATA, s);
	curl_easy_setopt(s->r.h, CURLOPT_HEADERFUNCTION, engine_stream_header_cb);
	curl_easy_setopt(s->r.h, CURLOPT_HEADERDATA, s);
	curl_easy_setopt(s->r.h, CURLOPT_HTTPHEADER, s->r.hdrs);
	s->m = curl_multi_init();
	if (!s->m || curl_multi_add_handle(s->m, s->r.h) != CURLM_OK) {
		err_set(e, "cannot set up a curl transfer");
		goto fail;
	}
	*ret = s;
	return 0;
fail:
	err_prefix(e, "cannot read %s", what);
	engine_stream_free(s);
	return -1;
}

int engine_archive_open(struct engine *eng, const char *id, const char *path, struct engine_stream **ret,
			struct err *e)
{
	char *url = engine_container_path(id, "/archive?path=%s", path, e), what[128];
	int rv;

	if (!url)
		return -1;
	snprintf(what, sizeof(what), "'%s' from container %.12s", path, id);
	rv = engine_stream_open(eng, "GET", url, what, ENGINE_WAIT_STREAM, ret, e);
	free(url);
	return rv;
}

int engine_logs_open(struct engine *eng, const char *id, int follow, engine_output_fn other_fn, void *arg,
		     struct engine_stream **ret, struct err *e)
{
	char *url = engine_logs_path(id, follow, e), what[128];
	int rv;

	if (!url)
		return -1;
	snprintf(what, sizeof(what), "the output of container %.12s", id);
	rv = engine_stream_open(eng, "GET", url, what, follow ? ENGINE_WAIT_CONTAINER : ENGINE_WAIT_STREAM, ret, e);
	free(url);
	if (rv == 0) {
		if (follow)
			engine_req_bind(&(*ret)->r, id);
		(*ret)->demux = 1;
		(*ret)->dm.fn = other_fn;
		(*ret)->dm.arg = arg;
	}
	return rv;
}

/* Drives the transfer until the response headers are in (or it ended). */
static void engine_stream_pump(struct engine_stream *s)
{
	CURLMsg *msg;
	int running, left;

	if (s->done)
		return;
	if (engine_should_abort(&s->r)) {
		s->done = 1;
		s->result = CURLE_ABORTED_BY_CALLBACK;
		return;
	}
	if (curl_multi_perform(s->m, &running) != CURLM_OK) {
		s->done = 1;
		s->result = CURLE_FAILED_INIT;
		return;
	}
	while ((msg = curl_multi_info_read(s->m, &left))) {
		if (msg->msg == CURLMSG_DONE) {
			s->done = 1;
			s->result = msg->data.result;
		}
	}
}

int engine_attach_open(struct engine *eng, const char *id, engine_output_fn other_fn, void *arg,
		       struct engine_stream **ret, struct err *e)
{
	struct engine_stream *s = NULL;
	char *url, what[128];
	long code = 0;
	int rv;

	/* No "Upgrade: tcp": the engine then answers 200 and streams raw frames on
	 * the hijacked connection until the container ends, which curl reads as a
	 * body delimited by the close. */
	url = engine_container_path(id, "/attach?stream=1&stdout=1&stderr=1", NULL, e);
	if (!url)
		return -1;
	snprintf(what, sizeof(what), "the output of container %.12s", id);
	/* the engine answers at once (a control call); then the stream lasts as long as
	 * the container runs */
	rv = engine_stream_open(eng, "POST", url, what, ENGINE_WAIT_CALL, &s, e);
	free(url);
	if (rv < 0)
		return -1;
	s->demux = 1;
	s->dm.fn = other_fn;
	s->dm.arg = arg;
	while (!s->headers_done && !s->done) {
		engine_stream_pump(s);
		if (!s->headers_done && !s->done && !s->paused && s->off >= s->chunk.len)
			curl_multi_poll(s->m, NULL, 0, 500, NULL);
	}
	/* An error answer (404, 409): read its (small) body for the message. */
	curl_easy_getinfo(s->r.h, CURLINFO_RESPONSE_CODE, &code);
	while (code >= 300 && !s->done) {
		engine_stream_pump(s);
		if (!s->done)
			curl_multi_poll(s->m, NULL, 0, 500, NULL);
	}
	if (s->done) {
		/* an early end: an error answer (404, 409) or a failed connection */
		s->r.code = 0;
		if (engine_req_result(&s->r, s->result, e) < 0) {
			err_prefix(e, "cannot attach to container %.12s", id);
			engine_stream_free(s);
			return -1;
		}
	}
	engine_req_wait(&s->r, ENGINE_WAIT_CONTAINER);
	engine_req_bind(&s->r, id);
	*ret = s;
	return 0;
}

ssize_t engine_stream_read(void *arg, void *buf, size_t len, struct err *e)
{
	struct engine_stream *s = arg;
	int rv;

	/* the reader's time between two reads is not the engine's silence */
	s->r.idle_since_ms = engine_clock_ms();
	for (;;) {
		if (s->off < s->chunk.len) {
			size_t n = s->chunk.len - s->off;

			if (n > len)
				n = len;
			memcpy(buf, s->chunk.data + s->off, n);
			s->off += n;
			return (ssize_t)n;
		}
		if (s->done) {
			s->r.code = 0;
			rv = engine_req_result(&s->r, s->result, e);
			if (rv == 0 && s->demux)
				rv = engine_demux_finish(&s->dm.d, e);
			if (rv < 0) {
				err_prefix(e, "cannot read %s", s->what);
				return -1;
			}
			return 0;
		}
		if (s->paused) {
			s->paused = 0;
			curl_easy_pause(s->r.h, CURLPAUSE_CONT);
			continue;
		}
		engine_stream_pump(s);
		if (s->done || s->off < s->chunk.len || s->paused)
			continue;
		curl_multi_poll(s->m, NULL, 0, 500, NULL);
	}
}

void engine_stream_free(struct engine_stream *s)
{
	if (!s)
		return;
	if (s->m && s->r.h)
		curl_multi_remove_handle(s->m, s->r.h);
	engine_req_release(&s->r);
	if (s->m)
		curl_multi_cleanup(s->m);
	buf_release(&s->chunk);
	free(s);
}
