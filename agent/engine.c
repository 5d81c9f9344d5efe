/* engine: the Docker Engine API client's transport and lifecycle: setup, requests, version.
 * libcurl over a unix socket, tcp or tcp+TLS, with timeouts, cancel, image references and
 * registry auth; callers see 0/-1 and struct err. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine_int.h"

/* ---- small helpers ---- */

int64_t engine_clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char b64_std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64_url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static char *engine_b64_encode(const void *data, size_t len, const char *alpha)
{
	const unsigned char *p = data;
	char *out = xmalloc((len + 2) / 3 * 4 + 1), *o = out;
	size_t i;

	for (i = 0; i + 2 < len; i += 3) {
		*o++ = alpha[p[i] >> 2];
		*o++ = alpha[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
		*o++ = alpha[((p[i + 1] & 15) << 2) | (p[i + 2] >> 6)];
		*o++ = alpha[p[i + 2] & 63];
	}
	if (i < len) {
		*o++ = alpha[p[i] >> 2];
		if (i + 1 < len) {
			*o++ = alpha[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
			*o++ = alpha[(p[i + 1] & 15) << 2];
		} else {
			*o++ = alpha[(p[i] & 3) << 4];
			*o++ = '=';
		}
		*o++ = '=';
	}
	*o = 0;
	return out;
}

/* Decodes standard or URL-safe base64 (padding optional); NULL if invalid. */
static char *engine_b64_decode(const char *s, size_t *ret_len)
{
	size_t n = strlen(s), o = 0;
	char *out = xmalloc(n / 4 * 3 + 4);
	unsigned int acc = 0;
	int bits = 0;

	for (; *s && *s != '='; s++) {
		const char *q = strchr(b64_std, *s);
		int v;

		if (*s == '-')
			v = 62;
		else if (*s == '_')
			v = 63;
		else if (q && *s)
			v = (int)(q - b64_std);
		else {
			free(out);
			return NULL;
		}
		acc = (acc << 6) | (unsigned int)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (char)((acc >> bits) & 0xff);
		}
	}
	out[o] = 0;
	*ret_len = o;
	return out;
}

/* Names that go into URL paths: image references and container ids/names. */
int engine_check_name(const char *what, const char *s, struct err *e)
{
	const char *p;

	if (!s || !*s)
		return err_set(e, "empty %s", what);
	if (strlen(s) > 512)
		return err_set(e, "%s too long", what);
	for (p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("._-/:@", *p))
			return err_set(e, "invalid character in %s '%s'", what, s);
	return 0;
}

char *engine_escape(const char *s)
{
	char *c = curl_easy_escape(NULL, s, 0), *r;

	if (!c)
		abort();
	r = xstrdup(c);
	curl_free(c);
	return r;
}

/* Appends the query argument name=value (value URL-escaped; nothing for NULL) to a
 * request path; -1 when the path would pass its cap. */
int engine_path_arg(struct buf *path, const char *name, const char *value)
{
	char *q;
	int rv;

	if (!value)
		return 0;
	q = engine_escape(value);
	rv = buf_addf(path, "%c%s=%s", strchr(path->data, '?') ? '&' : '?', name, q);
	free(q);
	return rv;
}

/* ---- setup ---- */

static struct engine *engine_alloc(const char *url, const struct engine_tls *tls, struct err *e)
{
	struct engine *eng;
	const char *hostport = NULL;
	int https = 0;

	if (!url || !*url)
		url = "unix:///var/run/docker.sock";
	eng = xcalloc(1, sizeof(*eng));
	eng->limits = (struct engine_timeouts)ENGINE_TIMEOUTS_DEFAULT;
	if (!strncmp(url, "unix://", 7) || url[0] == '/') {
		const char *path = url[0] == '/' ? url : url + 7;

		if (path[0] != '/') {
			err_set(e, "engine URL '%s': unix socket path must be absolute", url);
			goto fail;
		}
		eng->unix_path = xstrdup(path);
		eng->base = xstrdup("http://localhost");
	} else if (!strncmp(url, "tcp://", 6)) {
		hostport = url + 6;
		https = tls && (tls->ca || tls->cert);
	} else if (!strncmp(url, "http://", 7)) {
		hostport = url + 7;
	} else if (!strncmp(url, "https://", 8)) {
		hostport = url + 8;
		https = 1;
	} else {
		err_set(e, "engine URL '%s': expected unix://PATH, tcp://HOST:PORT or https://HOST:PORT", url);
		goto fail;
	}
	if (hostport) {
		size_t n = strcspn(hostport, "/?#");

		if (n == 0) {
			err_set(e, "engine URL '%s': no host", url);
			goto fail;
		}
		eng->base = xasprintf("%s://%.*s", https ? "https" : "http", (int)n, hostport);
	}
	eng->where = eng->unix_path ? xasprintf("unix://%s", eng->unix_path) : xstrdup(eng->base);
	if (tls) {
		eng->tls_ca = tls->ca ? xstrdup(tls->ca) : NULL;
		eng->tls_cert = tls->cert ? xstrdup(tls->cert) : NULL;
		eng->tls_key = tls->key ? xstrdup(tls->key) : NULL;
	}
	return eng;
fail:
	engine_free(eng);
	return NULL;
}

struct engine *engine_new(const char *url, const struct engine_tls *tls, struct err *e)
{
	static int curl_ready;

	if (!curl_ready) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
			err_set(e, "cannot initialise libcurl");
			return NULL;
		}
		curl_ready = 1;
	}
	return engine_alloc(url, tls, e);
}

struct engine *engine_new_from_env(const char *url, struct err *e)
{
	struct engine_tls tls = { NULL, NULL, NULL };
	const char *verify = getenv("DOCKER_TLS_VERIFY"), *dir = getenv("DOCKER_CERT_PATH");
	char *ca = NULL, *cert = NULL, *key = NULL;
	struct engine *eng;
	int use_tls = 0;

	if (!url || !*url)
		url = getenv("DOCKER_HOST");
	if (!url || !*url)
		url = "unix:///var/run/docker.sock";
	if (verify && *verify && strcmp(verify, "0") && !strncmp(url, "tcp://", 6)) {
		if (dir && *dir) {
			tls.ca = ca = xasprintf("%s/ca.pem", dir);
			tls.cert = cert = xasprintf("%s/cert.pem", dir);
			tls.key = key = xasprintf("%s/key.pem", dir);
		} else {
			char *home = getenv("HOME");

			if (home) {
				tls.ca = ca = xasprintf("%s/.docker/ca.pem", home);
				tls.cert = cert = xasprintf("%s/.docker/cert.pem", home);
				tls.key = key = xasprintf("%s/.docker/key.pem", home);
			}
		}
		use_tls = 1;
	}
	eng = engine_new(url, use_tls ? &tls : NULL, e);
	if (eng && use_tls && strncmp(eng->base, "https", 5)) {
		free(eng->base);
		eng->base = xasprintf("https://%s", url + 6);
		free(eng->where);
		eng->where = xstrdup(eng->base);
	}
	free(ca);
	free(cert);
	free(key);
	return eng;
}

static char *engine_strdup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

struct engine *engine_dup(const struct engine *eng)
{
	struct engine *d = xcalloc(1, sizeof(*d));

	d->base = xstrdup(eng->base);
	d->unix_path = engine_strdup_or_null(eng->unix_path);
	d->where = xstrdup(eng->where);
	d->tls_ca = engine_strdup_or_null(eng->tls_ca);
	d->tls_cert = engine_strdup_or_null(eng->tls_cert);
	d->tls_key = engine_strdup_or_null(eng->tls_key);
	memcpy(d->api, eng->api, sizeof(d->api));
	d->ver = eng->ver;
	d->cancel = eng->cancel;
	d->deadline_ms = eng->deadline_ms;
	d->limits = eng->limits;
	return d;
}

void engine_free(struct engine *eng)
{
	if (!eng)
		return;
	free(eng->base);
	free(eng->where);
	free(eng->unix_path);
	free(eng->tls_ca);
	free(eng->tls_cert);
	free(eng->tls_key);
	json_decref(eng->auth);
	free(eng);
}

int engine_set_registry_auth(struct engine *eng, const char *path, struct err *e)
{
	json_error_t jerr;
	json_t *j;

	json_decref(eng->auth);
	eng->auth = NULL;
	if (!path)
		return 0;
	j = json_load_file(path, 0, &jerr);
	if (!j)
		return err_set(e, "cannot read registry credentials '%s': line %d: %s", path, jerr.line, jerr.text);
	if (!json_is_object(j)) {
		json_decref(j);
		return err_set(e, "registry credentials '%s': not a JSON object", path);
	}
	eng->auth = j;
	return 0;
}

void engine_set_cancel(struct engine *eng, const volatile sig_atomic_t *flag)
{
	eng->cancel = flag;
}

void engine_set_deadline(struct engine *eng, int64_t deadline_ms)
{
	eng->deadline_ms = deadline_ms;
}

void engine_set_timeouts(struct engine *eng, const struct engine_timeouts *t)
{
	eng->limits = *t;
}

int engine_status(const struct engine *eng)
{
	return eng ? eng->status : ENGINE_NO_ANSWER;
}

const char *engine_address(const struct engine *eng)
{
	return eng->where;
}

const char *engine_unreachable(const struct engine *eng)
{
	return eng && eng->unreachable[0] ? eng->unreachable : NULL;
}

int engine_refused(const struct engine *eng)
{
	return eng && eng->refused;
}

void engine_forget_failure(struct engine *eng)
{
	eng->unreachable[0] = '\0';
	eng->refused = 0;
	eng->status = 0;
}

/* ---- requests ---- */

size_t engine_write_cb(char *data, size_t size, size_t nmemb, void *arg)
{
	struct req *r = arg;
	size_t n = size * nmemb;

	if (!r->code)
		curl_easy_getinfo(r->h, CURLINFO_RESPONSE_CODE, &r->code);
	if (r->code >= 300 || !r->sink) {
		if (buf_add(&r->resp, data, n) < 0) {
			r->cb_failed = 1;
			err_set(&r->cb_err, "engine answer larger than %u bytes", (unsigned)r->resp.max);
			return 0;
		}
		return n;
	}
	if (r->sink(r, data, n) < 0) {
		r->cb_failed = 1;
		return 0;
	}
	return n;
}

static size_t engine_read_cb(char *buf, size_t size, size_t nmemb, void *arg)
{
	struct req *r = arg;
	size_t n = size * nmemb;
	ssize_t got;

	got = r->rd(r->rd_arg, buf, n, &r->cb_err);
	if (got < 0) {
		r->cb_failed = 1;
		return CURL_READFUNC_ABORT;
	}
	return (size_t)got;
}

/* Sets how long r may wait for the engine, from now. */
void engine_req_wait(struct req *r, enum engine_wait kind)
{
	const struct engine_timeouts *t = &r->eng->limits;
	int64_t now = engine_clock_ms();

	r->limit_s = kind == ENGINE_WAIT_CALL ? t->call_s : kind == ENGINE_WAIT_SLOW ? t->slow_s : 0;
	r->limit_ms = r->limit_s > 0 ? now + (int64_t)r->limit_s * 1000 : 0;
	r->idle_s = kind == ENGINE_WAIT_STREAM && t->idle_s > 0 ? t->idle_s : 0;
	r->idle_since_ms = now;
	r->probe_next_ms = kind == ENGINE_WAIT_CONTAINER && t->probe_s > 0 ? now + (int64_t)t->probe_s * 1000 : 0;
}

/* Binds r, a stream, to container id: it ends, complete, once id has ended and the
 * stream stays silent (engine_ended_check). */
void engine_req_bind(struct req *r, const char *id)
{
	free(r->container);
	r->container = xstrdup(id);
	r->ended_after_ms = ENGINE_ENDED_CHECK_MS;
	r->ended_seen = 0;
}

static int engine_req_perform(struct req *r, struct err *e);

/* 1 when the engine says container id has ended (exited, dead, being removed) or is
 * gone; 0 while it is created or running, or when the engine cannot say. The
 * engine's status and unreachable message are left as they were. */
static int engine_container_ended(struct engine *eng, const char *id)
{
	char *path = engine_container_path(id, "/json", NULL, NULL);
	char unreachable[ERR_MSG_MAX];
	int status = eng->status;
	json_t *j = NULL;
	const char *st;
	int ended = 0;

	if (!path)
		return 0;
	memcpy(unreachable, eng->unreachable, sizeof(unreachable));
	if (engine_call(eng, "GET", path, NULL, ENGINE_WAIT_CALL, &j, NULL) == 0) {
		st = json_string_value(json_object_get(json_object_get(j, "State"), "Status"));
		ended = st && (!strcmp(st, "exited") || !strcmp(st, "dead") || !strcmp(st, "removing") ||
			       !strcmp(st, "stopped"));
	} else {
		ended = eng->status == 404;
	}
	json_decref(j);
	free(path);
	eng->status = status;
	memcpy(eng->unreachable, unreachable, sizeof(unreachable));
	return ended;
}

/* A bound stream silent for ended_after_ms: has its container ended? Ended at two
 * checks ENGINE_ENDED_GRACE_MS of silence apart (the engine may still be sending
 * the last lines when it first says exited), the stream is complete: 1. Else the
 * next check comes after twice the silence, up to the probe interval. */
static int engine_ended_check(struct req *r, int64_t now)
{
	int64_t cap = (int64_t)(r->eng->limits.probe_s > 0 ? r->eng->limits.probe_s : ENGINE_PROBE_INTERVAL) * 1000;
	int64_t silent = now - r->idle_since_ms;

	if (!engine_container_ended(r->eng, r->container)) {
		r->ended_seen = 0;
		r->ended_after_ms = silent * 2 < cap ? silent * 2 : cap;
		if (r->ended_after_ms < ENGINE_ENDED_CHECK_MS)
			r->ended_after_ms = ENGINE_ENDED_CHECK_MS;
		return 0;
	}
	if (r->ended_seen) {
		r->container_gone = 1;
		return 1;
	}
	r->ended_seen = 1;
	r->ended_after_ms = silent + ENGINE_ENDED_GRACE_MS;
	return 0;
}

/* A container wait silent for probe_s: is the engine still there? A ping on another
 * connection; 1 when it went unanswered for call_s (frozen). The ping leaves the
 * engine's status and unreachable message as they were. */
static int engine_probe(struct req *r)
{
	struct engine *eng = r->eng;
	char unreachable[ERR_MSG_MAX];
	struct err e = ERR_INIT;
	struct req p;
	int status = eng->status, frozen = 0;

	memcpy(unreachable, eng->unreachable, sizeof(unreachable));
	if (engine_req_init(&p, eng, "GET", "/_ping", 0, &e) == 0) {
		(void)engine_req_perform(&p, &e);
		frozen = p.silent_s > 0;
	}
	engine_req_release(&p);
	eng->status = status;
	memcpy(eng->unreachable, unreachable, sizeof(unreachable));
	return frozen;
}

int engine_should_abort(struct req *r)
{
	int64_t now;

	if (r->eng->cancel && *r->eng->cancel) {
		r->abort_reason = ENGINE_CANCELED;
		return 1;
	}
	if (!r->deadline_ms && !r->eng->deadline_ms && !r->limit_ms && !r->idle_s && !r->probe_next_ms &&
	    !r->container)
		return 0;
	now = engine_clock_ms();
	/* the build's deadline first: when both have passed, the build timed out */
	if ((r->deadline_ms && now >= r->deadline_ms) || (r->eng->deadline_ms && now >= r->eng->deadline_ms)) {
		r->abort_reason = ENGINE_TIMED_OUT;
		return 1;
	}
	if (r->limit_ms && now >= r->limit_ms) {
		r->silent_s = r->limit_s;
		return 1;
	}
	if (r->idle_s && now - r->idle_since_ms >= (int64_t)r->idle_s * 1000) {
		r->silent_s = r->idle_s;
		r->silent_idle = 1;
		return 1;
	}
	if (r->probe_next_ms && now >= r->probe_next_ms) {
		if (engine_probe(r)) {
			r->silent_s = r->eng->limits.call_s;
			return 1;
		}
		r->probe_next_ms = engine_clock_ms() + (int64_t)r->eng->limits.probe_s * 1000;
	}
	/* a complete stream (engine_req_result) */
	if (r->container && now - r->idle_since_ms >= r->ended_after_ms && engine_ended_check(r, engine_clock_ms()))
		return 1;
	return 0;
}

static int engine_xfer_cb(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	struct req *r = arg;

	(void)dt;
	(void)ut;
	if (dn + un != r->moved) {
		r->moved = dn + un;
		r->idle_since_ms = engine_clock_ms();
		if (r->probe_next_ms)
			r->probe_next_ms = r->idle_since_ms + (int64_t)r->eng->limits.probe_s * 1000;
		r->ended_after_ms = ENGINE_ENDED_CHECK_MS;
		r->ended_seen = 0;
	}
	return engine_should_abort(r);
}

static int engine_req_auth(struct req *r, const char *ref, struct err *e);

/* Prepares r for METHOD path (path starts with '/', already escaped).
 * versioned: prefix /vX.YZ (negotiating first if needed). */
int engine_req_init(struct req *r, struct engine *eng, const char *method, const char *path, int versioned,
		    struct err *e)
{
	memset(r, 0, sizeof(*r));
	r->eng = eng;
	buf_init(&r->resp, ENGINE_RESPONSE_MAX);
	if (versioned && !eng->api[0] && engine_negotiate(eng, e) < 0)
		return -1;
	r->h = curl_easy_init();
	if (!r->h)
		return err_set(e, "cannot create a curl handle");
	if (versioned)
		r->url = xasprintf("%s/v%s%s", eng->base, eng->api, path);
	else
		r->url = xasprintf("%s%s", eng->base, path);
	curl_easy_setopt(r->h, CURLOPT_URL, r->url);
	curl_easy_setopt(r->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(r->h, CURLOPT_ERRORBUFFER, r->curl_errbuf);
	curl_easy_setopt(r->h, CURLOPT_CONNECTTIMEOUT, (long)ENGINE_CONNECT_TIMEOUT);
	curl_easy_setopt(r->h, CURLOPT_USERAGENT, "s2i-agent/" S2I_AGENT_VERSION);
	curl_easy_setopt(r->h, CURLOPT_WRITEFUNCTION, engine_write_cb);
	curl_easy_setopt(r->h, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(r->h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(r->h, CURLOPT_XFERINFOFUNCTION, engine_xfer_cb);
	curl_easy_setopt(r->h, CURLOPT_XFERINFODATA, r);
	curl_easy_setopt(r->h, CURLOPT_PROTOCOLS_STR, "http,https");
	if (eng->unix_path)
		curl_easy_setopt(r->h, CURLOPT_UNIX_SOCKET_PATH, eng->unix_path);
	if (eng->tls_ca)
		curl_easy_setopt(r->h, CURLOPT_CAINFO, eng->tls_ca);
	if (eng->tls_cert)
		curl_easy_setopt(r->h, CURLOPT_SSLCERT, eng->tls_cert);
	if (eng->tls_key)
		curl_easy_setopt(r->h, CURLOPT_SSLKEY, eng->tls_key);
	if (!strcmp(method, "POST")) {
		curl_easy_setopt(r->h, CURLOPT_POST, 1L);
		curl_easy_setopt(r->h, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(r->h, CURLOPT_POSTFIELDSIZE, 0L);
	} else if (strcmp(method, "GET")) {
		curl_easy_setopt(r->h, CURLOPT_CUSTOMREQUEST, method);
	}
	r->hdrs = curl_slist_append(r->hdrs, "Expect:");
	engine_req_wait(r, ENGINE_WAIT_CALL);
	return 0;
}

static void engine_req_header(struct req *r, const char *fmt, const char *val)
{
	char *h = xasprintf(fmt, val);

	r->hdrs = curl_slist_append(r->hdrs, h);
	free(h);
}

/* A JSON body for POST (not consumed). */
static void engine_req_json(struct req *r, json_t *body, char **hold)
{
	*hold = json_dumps(body, JSON_COMPACT);
	if (!*hold)
		abort();
	curl_easy_setopt(r->h, CURLOPT_POSTFIELDS, *hold);
	curl_easy_setopt(r->h, CURLOPT_POSTFIELDSIZE, (long)strlen(*hold));
	r->hdrs = curl_slist_append(r->hdrs, "Content-Type: application/json");
}

void engine_req_release(struct req *r)
{
	if (r->h)
		curl_easy_cleanup(r->h);
	curl_slist_free_all(r->hdrs);
	free(r->url);
	free(r->container);
	buf_release(&r->resp);
	memset(r, 0, sizeof(*r));
}

/* The message of an error answer: the JSON "message", else the raw body. */
static void engine_answer_message(struct req *r, char *out, size_t n)
{
	json_t *j = json_loadb(r->resp.data, r->resp.len, 0, NULL);
	const char *m = NULL;
	size_t len;

	if (j)
		m = json_string_value(json_object_get(j, "message"));
	if (m) {
		snprintf(out, n, "%s", m);
	} else {
		len = r->resp.len;
		while (len && isspace((unsigned char)r->resp.data[len - 1]))
			len--;
		snprintf(out, n, "%.*s", (int)(len > 300 ? 300 : len), r->resp.data);
	}
	json_decref(j);
}

/* A transfer without an answer, said in the user's terms (the engine is down, or went
 * away mid-call: start it, check the socket) rather than curl's ("localhost port 80"). */
static int engine_no_answer(struct req *r, CURLcode rc, struct err *e)
{
	struct engine *eng = r->eng;
	const char *why = r->curl_errbuf[0] ? r->curl_errbuf : curl_easy_strerror(rc);
	const char *scheme = eng->unix_path ? "unix://" : "";
	const char *where = eng->unix_path ? eng->unix_path : eng->base;
	long oserr = 0;

	curl_easy_getinfo(r->h, CURLINFO_OS_ERRNO, &oserr);
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
		eng->refused = 1;
		snprintf(eng->unreachable, sizeof(eng->unreachable),
			 "cannot reach the container engine at %s%s: %s (is it running?)", scheme, where,
			 oserr ? strerror((int)oserr) : "the connection failed");
		break;
	case CURLE_GOT_NOTHING:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_PARTIAL_FILE:
		snprintf(eng->unreachable, sizeof(eng->unreachable),
			 "lost the connection to the container engine at %s%s (did it stop?): %s", scheme,
			 where, why);
		break;
	case CURLE_OPERATION_TIMEDOUT:
		snprintf(eng->unreachable, sizeof(eng->unreachable),
			 "the container engine at %s%s does not answer: %s", scheme, where, why);
		break;
	case CURLE_ABORTED_BY_CALLBACK:
		/* our own limit (engine_should_abort): the engine took the request and went
		 * silent, frozen or overloaded past any healthy delay */
		if (!r->silent_s)
			return err_set(e, "engine %s%s: %s", scheme, where, why);
		if (r->silent_idle)
			snprintf(eng->unreachable, sizeof(eng->unreachable),
				 "the container engine at %s%s stopped answering: nothing for %ds", scheme,
				 where, r->silent_s);
		else
			snprintf(eng->unreachable, sizeof(eng->unreachable),
				 "the container engine at %s%s did not answer within %ds", scheme, where,
				 r->silent_s);
		break;
	default:
		return err_set(e, "engine %s%s: %s", scheme, where, why);
	}
	return err_set(e, "%s", eng->unreachable);
}

/* Maps the outcome of a finished transfer to 0 or -1 + message; records status. */
int engine_req_result(struct req *r, CURLcode rc, struct err *e)
{
	char msg[ERR_MSG_MAX];

	r->eng->unreachable[0] = '\0';
	r->eng->refused = 0;
	if (!r->code)
		curl_easy_getinfo(r->h, CURLINFO_RESPONSE_CODE, &r->code);
	if (r->abort_reason) {
		r->eng->status = r->abort_reason;
		return err_set(e, r->abort_reason == ENGINE_CANCELED ? "canceled" : "timed out");
	}
	if (r->cb_failed) {
		r->eng->status = r->code >= 100 ? (int)r->code : ENGINE_NO_ANSWER;
		return err_set(e, "%s", r->cb_err.msg);
	}
	if (r->container_gone && r->code >= 200 && r->code < 300) {
		/* silent after its container ended: all it had */
		r->eng->status = (int)r->code;
		return 0;
	}
	if (r->silent_s) {
		r->eng->status = ENGINE_NO_ANSWER;
		return engine_no_answer(r, CURLE_ABORTED_BY_CALLBACK, e);
	}
	if (rc != CURLE_OK) {
		r->eng->status = ENGINE_NO_ANSWER;
		if (r->code >= 300)
			goto http_error;
		return engine_no_answer(r, rc, e);
	}
	r->eng->status = (int)r->code;
	if (r->code >= 200 && r->code < 300)
		return 0;
http_error:
	r->eng->status = (int)r->code;
	engine_answer_message(r, msg, sizeof(msg));
	return err_set(e, "%ld %s", r->code, msg);
}

static int engine_req_perform(struct req *r, struct err *e)
{
	CURLcode rc;

	curl_easy_setopt(r->h, CURLOPT_HTTPHEADER, r->hdrs);
	r->idle_since_ms = engine_clock_ms();
	if (engine_should_abort(r))
		return engine_req_result(r, CURLE_ABORTED_BY_CALLBACK, e);
	rc = curl_easy_perform(r->h);
	return engine_req_result(r, rc, e);
}

/* METHOD path (escaped, unversioned: the API version is put in front): every request
 * of the engine but the pull-style streams (engine_stream_open) goes through here. */
int engine_request(struct engine *eng, const char *method, const char *path, const struct engine_xfer *x,
		   struct err *e)
{
	struct req r;
	char *hold = NULL;
	int rv = -1;

	memset(&r, 0, sizeof(r));
	if (engine_req_init(&r, eng, method, path, 1, e) < 0)
		goto out;
	if (x->auth_ref && engine_req_auth(&r, x->auth_ref, e) < 0)
		goto out;
	if (x->json)
		engine_req_json(&r, x->json, &hold);
	if (x->rd) {
		r.rd = x->rd;
		r.rd_arg = x->rd_arg;
		if (!strcmp(method, "PUT")) {
			curl_easy_setopt(r.h, CURLOPT_UPLOAD, 1L);
		} else {
			curl_easy_setopt(r.h, CURLOPT_POSTFIELDS, NULL);
			curl_easy_setopt(r.h, CURLOPT_POSTFIELDSIZE, -1L);
		}
		curl_easy_setopt(r.h, CURLOPT_READFUNCTION, engine_read_cb);
		curl_easy_setopt(r.h, CURLOPT_READDATA, &r);
		r.hdrs = curl_slist_append(r.hdrs, "Content-Type: application/x-tar");
		r.hdrs = curl_slist_append(r.hdrs, "Transfer-Encoding: chunked");
	}
	if (x->timeout_s > 0)
		r.deadline_ms = engine_clock_ms() + (int64_t)x->timeout_s * 1000;
	engine_req_wait(&r, x->wait);
	if (x->container)
		engine_req_bind(&r, x->container);
	r.sink = x->sink;
	r.sink_arg = x->sink_arg;
	if (engine_req_perform(&r, e) < 0)
		goto out;
	if (x->answer) {
		buf_release(x->answer);
		*x->answer = r.resp;
		buf_init(&r.resp, ENGINE_RESPONSE_MAX);
	}
	rv = 0;
out:
	free(hold);
	engine_req_release(&r);
	return rv;
}

/* One-shot request with an optional JSON body; *ret (may be NULL) gets the
 * parsed JSON answer (NULL if the body is empty). */
int engine_call(struct engine *eng, const char *method, const char *path, json_t *body, enum engine_wait wait,
		json_t **ret, struct err *e)
{
	struct buf answer = BUF_INIT(ENGINE_RESPONSE_MAX);
	struct engine_xfer x = { .json = body, .wait = wait, .answer = &answer };
	json_error_t jerr;
	int rv = -1;

	if (ret)
		*ret = NULL;
	if (engine_request(eng, method, path, &x, e) < 0)
		goto out;
	if (ret && answer.len) {
		*ret = json_loadb(answer.data, answer.len, 0, &jerr);
		if (!*ret) {
			err_set(e, "malformed answer from the engine: %s", jerr.text);
			goto out;
		}
	}
	rv = 0;
out:
	buf_release(&answer);
	return rv;
}

/* The path of a call on container id, "/containers/ID" + suffix, or NULL with e
 * filled when id is not one. With param, suffix's one %s is param URL-escaped. */
char *engine_container_path(const char *id, const char *suffix, const char *param, struct err *e)
{
	char *q, *rest, *path;

	if (engine_check_name("container id", id, e) < 0)
		return NULL;
	if (!param)
		return xasprintf("/containers/%s%s", id, suffix);
	q = engine_escape(param);
	rest = xasprintf(suffix, q);
	path = xasprintf("/containers/%s%s", id, rest);
	free(rest);
	free(q);
	return path;
}

/* ---- version ---- */

static void engine_copy_str(char *dst, size_t n, json_t *v)
{
	const char *s = json_string_value(v);

	snprintf(dst, n, "%s", s ? s : "");
}

int engine_negotiate(struct engine *eng, struct err *e)
{
	struct req r;
	json_t *j = NULL, *comp;
	json_error_t jerr;
	struct engine_version *v = &eng->ver;
	size_t i;
	int rv = -1;

	if (engine_req_init(&r, eng, "GET", "/version", 0, e) < 0)
		goto out;
	if (engine_req_perform(&r, e) < 0) {
		err_prefix(e, "cannot query the engine version");
		goto out;
	}
	j = json_loadb(r.resp.data, r.resp.len, 0, &jerr);
	if (!json_is_object(j)) {
		err_set(e, "malformed /version answer from the engine");
		goto out;
	}
	memset(v, 0, sizeof(*v));
	engine_copy_str(v->server_api, sizeof(v->server_api), json_object_get(j, "ApiVersion"));
	engine_copy_str(v->server_min_api, sizeof(v->server_min_api), json_object_get(j, "MinAPIVersion"));
	engine_copy_str(v->version, sizeof(v->version), json_object_get(j, "Version"));
	engine_copy_str(v->os, sizeof(v->os), json_object_get(j, "Os"));
	engine_copy_str(v->arch, sizeof(v->arch), json_object_get(j, "Arch"));
	json_array_foreach(json_object_get(j, "Components"), i, comp) {
		const char *name = json_string_value(json_object_get(comp, "Name"));

		if (name && strstr(name, "Podman"))
			v->is_podman = 1;
	}
	snprintf(v->name, sizeof(v->name), "%s", v->is_podman ? "Podman" : "Docker");
	if (engine_api_pick(v->server_api, v->server_min_api, v->api, sizeof(v->api), e) < 0) {
		eng->status = ENGINE_INCOMPATIBLE;
		err_prefix(e, "%s %s at %s", v->name, v->version[0] ? v->version : "(version unknown)",
			   eng->where);
		goto out;
	}
	memcpy(eng->api, v->api, sizeof(eng->api));
	rv = 0;
out:
	json_decref(j);
	engine_req_release(&r);
	return rv;
}

int engine_check_api(const char *url, const struct engine_tls *tls, int timeout_s, struct err *e)
{
	struct engine_timeouts t = { timeout_s, timeout_s, timeout_s, 0 };
	struct engine_version v;
	struct err ve = ERR_INIT;
	struct engine *eng;
	int rv = 0;

	eng = tls && (tls->ca || tls->cert) ? engine_new(url, tls, e) : engine_new_from_env(url, e);
	if (!eng)
		return -1;
	engine_set_timeouts(eng, &t);
	if (engine_version(eng, &v, &ve) < 0 && eng->status == ENGINE_INCOMPATIBLE)
		rv = err_set(e, "%s", ve.msg);
	engine_free(eng);
	return rv;
}

int engine_ping(struct engine *eng, struct err *e)
{
	struct req r;
	int rv = -1;

	if (engine_req_init(&r, eng, "GET", "/_ping", 0, e) < 0)
		goto out;
	if (engine_req_perform(&r, e) < 0) {
		err_prefix(e, "engine does not answer");
		goto out;
	}
	rv = 0;
out:
	engine_req_release(&r);
	return rv;
}

int engine_version(struct engine *eng, struct engine_version *ret, struct err *e)
{
	if (!eng->api[0] && engine_negotiate(eng, e) < 0)
		return -1;
	*ret = eng->ver;
	return 0;
}

/* ---- references and credentials ---- */

int engine_ref_split(const char *ref, char **ret_name, char **ret_tag, struct err *e)
{
	const char *slash, *colon;

	if (engine_check_name("image reference", ref, e) < 0)
		return -1;
	if (strchr(ref, '@')) {
		*ret_name = xstrdup(ref);
		*ret_tag = NULL;
		return 0;
	}
	slash = strrchr(ref, '/');
	colon = strrchr(ref, ':');
	if (colon && (!slash || colon > slash)) {
		if (colon == ref || !colon[1])
			return err_set(e, "invalid image reference '%s'", ref);
		*ret_name = xstrndup(ref, (size_t)(colon - ref));
		*ret_tag = xstrdup(colon + 1);
	} else {
		*ret_name = xstrdup(ref);
		*ret_tag = xstrdup("latest");
	}
	return 0;
}

void engine_ref_registry(const char *ref, char *out, size_t n)
{
	size_t len = strcspn(ref, "/");

	if (!ref[len] || (!memchr(ref, '.', len) && !memchr(ref, ':', len) && strncmp(ref, "localhost", len))) {
		snprintf(out, n, "docker.io");
		return;
	}
	snprintf(out, n, "%.*s", (int)len, ref);
}

/* "https://index.docker.io/v1/" → "index.docker.io"; "reg:5000" stays. */
static void engine_auth_key_host(const char *key, char *out, size_t n)
{
	const char *p = strstr(key, "://");

	p = p ? p + 3 : key;
	snprintf(out, n, "%.*s", (int)strcspn(p, "/"), p);
}

static int engine_is_hub(const char *host)
{
	return !strcmp(host, "docker.io") || !strcmp(host, "index.docker.io") ||
	       !strcmp(host, "registry-1.docker.io");
}

static int engine_auth_same(const char *key, const char *registry)
{
	char host[256];

	engine_auth_key_host(key, host, sizeof(host));
	return !strcmp(host, registry) || (engine_is_hub(host) && engine_is_hub(registry));
}

int engine_auth_header(json_t *config, const char *registry, char **ret, struct err *e)
{
	json_t *auths = json_object_get(config, "auths"), *ent, *found = NULL, *out = NULL;
	const char *key, *user = NULL, *pass = NULL, *token = NULL, *auth, *helper;
	char *dec = NULL, *colon, *dump = NULL, *huser = NULL, *hsecret = NULL;
	size_t len;
	int rv = -1, rc;

	*ret = NULL;
	/* as docker: a helper named for the registry, else the store, else auths */
	if ((helper = engine_cred_helper(config, registry, engine_auth_same))) {
		/* Docker Hub's credentials are kept under its v1 URL */
		rc = engine_cred_get(helper, engine_is_hub(registry) ? "https://index.docker.io/v1/" :
				     registry, &huser, &hsecret, e);
		if (rc != 0)
			return rc < 0 ? -1 : 0;
		out = json_object();
		if (!strcmp(huser, "<token>"))
			json_object_set_new(out, "identitytoken", json_string(hsecret));
		else {
			json_object_set_new(out, "username", json_string(huser));
			json_object_set_new(out, "password", json_string(hsecret));
		}
		goto encode;
	}
	json_object_foreach(auths, key, ent) {
		if (engine_auth_same(key, registry)) {
			found = ent;
			break;
		}
	}
	if (!found)
		return 0;
	auth = json_string_value(json_object_get(found, "auth"));
	if (auth && *auth) {
		dec = engine_b64_decode(auth, &len);
		if (!dec || !(colon = memchr(dec, ':', len))) {
			err_set(e, "registry credentials for '%s': \"auth\" is not base64 of user:password", registry);
			goto out;
		}
		*colon = 0;
		user = dec;
		pass = colon + 1;
	} else {
		user = json_string_value(json_object_get(found, "username"));
		pass = json_string_value(json_object_get(found, "password"));
	}
	token = json_string_value(json_object_get(found, "identitytoken"));
	out = json_object();
	if (user)
		json_object_set_new(out, "username", json_string(user));
	if (pass)
		json_object_set_new(out, "password", json_string(pass));
	if (token && *token)
		json_object_set_new(out, "identitytoken", json_string(token));
encode:
	json_object_set_new(out, "serveraddress", json_string(registry));
	dump = json_dumps(out, JSON_COMPACT);
	if (!dump)
		abort();
	*ret = engine_b64_encode(dump, strlen(dump), b64_url);
	rv = 0;
out:
	if (dec)
		explicit_bzero(dec, strlen(dec));
	free(dec);
	if (dump)
		explicit_bzero(dump, strlen(dump));
	free(dump);
	if (huser)
		explicit_bzero(huser, strlen(huser));
	if (hsecret)
		explicit_bzero(hsecret, strlen(hsecret));
	free(huser);
	free(hsecret);
	json_decref(out);
	return rv;
}

/* Adds X-Registry-Auth for ref when credentials are known (always a header:
 * some engines want one even if empty). */
static int engine_req_auth(struct req *r, const char *ref, struct err *e)
{
	char reg[256], *hdr = NULL;

	engine_ref_registry(ref, reg, sizeof(reg));
	if (r->eng->auth && engine_auth_header(r->eng->auth, reg, &hdr, e) < 0)
		return -1;
	engine_req_header(r, "X-Registry-Auth: %s", hdr ? hdr : "e30=");
	if (hdr)
		explicit_bzero(hdr, strlen(hdr));
	free(hdr);
	return 0;
}
