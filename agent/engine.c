/* engine: Docker Engine API client on libcurl (unix socket, tcp, tcp+TLS).
 * Owns the HTTP conversation with dockerd/podman; callers see 0/-1 and struct err. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "engine.h"

struct engine {
	char *base;			/* "http://localhost", "https://host:port" */
	char *unix_path;		/* NULL for tcp */
	char *tls_ca, *tls_cert, *tls_key;
	char api[16];			/* negotiated; "" until the first request */
	struct engine_version ver;
	int status;
	const volatile sig_atomic_t *cancel;
	int64_t deadline_ms;
	struct engine_timeouts limits;	/* how long a call may wait for the engine */
	json_t *auth;			/* parsed docker config.json, or NULL */
	char *where;			/* the address for messages: "unix:///...", "https://h:p" */
	char unreachable[ERR_MSG_MAX];	/* the last call could not reach the engine: why */
	int refused;			/* the last call could not connect at all */
};

/* One HTTP exchange. The 2xx body goes to sink (streaming) or into resp; an
 * error body (>= 400) always goes into resp, for its "message". */
struct req {
	struct engine *eng;
	CURL *h;
	struct curl_slist *hdrs;
	char *url;
	engine_read_fn rd;		/* streamed request body */
	void *rd_arg;
	struct buf resp;
	int (*sink)(struct req *r, const char *data, size_t len);
	void *sink_arg;
	long code;			/* HTTP status, known at the first body byte */
	int cb_failed;			/* a callback of ours aborted; message in cb_err */
	struct err cb_err;
	int abort_reason;		/* ENGINE_CANCELED / ENGINE_TIMED_OUT */
	int64_t deadline_ms;		/* this call's, 0: none */
	/* the engine is frozen when it keeps us waiting past limit_ms (a whole call) or
	 * idle_s without a byte (a stream); silent_s: how long it was when we gave up */
	int64_t limit_ms;
	int limit_s;
	int idle_s;
	int64_t idle_since_ms;
	curl_off_t moved;		/* bytes down + up at idle_since_ms */
	int silent_s;
	int silent_idle;		/* silent_s is the idle limit */
	int64_t probe_next_ms;		/* a container wait: ping the engine then, 0: never */
	char curl_errbuf[CURL_ERROR_SIZE];
};

/* How long a call may wait for the engine (engine_set_timeouts). */
enum engine_wait {
	ENGINE_WAIT_CALL = 0,		/* a control call: limits.call_s for the whole */
	ENGINE_WAIT_SLOW,		/* a layer copied or deleted: limits.slow_s */
	ENGINE_WAIT_STREAM,		/* data flows: limits.idle_s without a byte */
	ENGINE_WAIT_CONTAINER,		/* as long as a container runs: deadline only (and pings) */
};

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
static int engine_check_name(const char *what, const char *s, struct err *e)
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

static char *engine_escape(const char *s)
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
static int engine_path_arg(struct buf *path, const char *name, const char *value)
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

/* ---- requests ---- */

static size_t engine_write_cb(char *data, size_t size, size_t nmemb, void *arg)
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
static void engine_req_wait(struct req *r, enum engine_wait kind)
{
	const struct engine_timeouts *t = &r->eng->limits;
	int64_t now = engine_clock_ms();

	r->limit_s = kind == ENGINE_WAIT_CALL ? t->call_s : kind == ENGINE_WAIT_SLOW ? t->slow_s : 0;
	r->limit_ms = r->limit_s > 0 ? now + (int64_t)r->limit_s * 1000 : 0;
	r->idle_s = kind == ENGINE_WAIT_STREAM && t->idle_s > 0 ? t->idle_s : 0;
	r->idle_since_ms = now;
	r->probe_next_ms = kind == ENGINE_WAIT_CONTAINER && t->probe_s > 0 ? now + (int64_t)t->probe_s * 1000 : 0;
}

static int engine_req_init(struct req *r, struct engine *eng, const char *method, const char *path, int versioned,
			   struct err *e);
static int engine_req_perform(struct req *r, struct err *e);
static void engine_req_release(struct req *r);

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

static int engine_should_abort(struct req *r)
{
	int64_t now;

	if (r->eng->cancel && *r->eng->cancel) {
		r->abort_reason = ENGINE_CANCELED;
		return 1;
	}
	if (!r->deadline_ms && !r->eng->deadline_ms && !r->limit_ms && !r->idle_s && !r->probe_next_ms)
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
	}
	return engine_should_abort(r);
}

static int engine_negotiate(struct engine *eng, struct err *e);
static int engine_req_auth(struct req *r, const char *ref, struct err *e);

/* Prepares r for METHOD path (path starts with '/', already escaped).
 * versioned: prefix /vX.YZ (negotiating first if needed). */
static int engine_req_init(struct req *r, struct engine *eng, const char *method, const char *path, int versioned,
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

static void engine_req_release(struct req *r)
{
	if (r->h)
		curl_easy_cleanup(r->h);
	curl_slist_free_all(r->hdrs);
	free(r->url);
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
static int engine_req_result(struct req *r, CURLcode rc, struct err *e)
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

/* What one request sends and where its answer goes. */
struct engine_xfer {
	json_t *json;			/* a JSON body (not consumed), or */
	engine_read_fn rd;		/* a tar body read from rd, sent chunked */
	void *rd_arg;
	const char *auth_ref;		/* X-Registry-Auth for this image reference */
	enum engine_wait wait;		/* how long the engine may keep us waiting */
	int timeout_s;			/* this call's own deadline, 0: none */
	/* a 2xx body goes to sink as it arrives, else into answer (may be NULL) */
	int (*sink)(struct req *r, const char *data, size_t len);
	void *sink_arg;
	struct buf *answer;
};

/* METHOD path (escaped, unversioned: the API version is put in front): every request
 * of the engine but the pull-style streams (engine_stream_open) goes through here. */
static int engine_request(struct engine *eng, const char *method, const char *path,
			  const struct engine_xfer *x, struct err *e)
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
static int engine_call(struct engine *eng, const char *method, const char *path, json_t *body,
		       enum engine_wait wait, json_t **ret, struct err *e)
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
static char *engine_container_path(const char *id, const char *suffix, const char *param, struct err *e)
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

static int engine_negotiate(struct engine *eng, struct err *e)
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

int engine_auth_header(json_t *config, const char *registry, char **ret, struct err *e)
{
	json_t *auths = json_object_get(config, "auths"), *ent, *found = NULL, *out = NULL;
	const char *key, *user = NULL, *pass = NULL, *token = NULL, *auth;
	char host[256], *dec = NULL, *colon, *dump = NULL;
	size_t len;
	int rv = -1;

	*ret = NULL;
	json_object_foreach(auths, key, ent) {
		engine_auth_key_host(key, host, sizeof(host));
		if (!strcmp(host, registry) || (engine_is_hub(host) && engine_is_hub(registry))) {
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

/* ---- images ---- */

void engine_image_release(struct engine_image *img)
{
	free(img->id);
	free(img->user);
	free(img->workdir);
	strv_clear(&img->env);
	strv_clear(&img->entrypoint);
	strv_clear(&img->cmd);
	strv_clear(&img->label_keys);
	strv_clear(&img->label_vals);
	json_decref(img->raw);
	*img = (struct engine_image)ENGINE_IMAGE_INIT;
}

const char *engine_image_label(const struct engine_image *img, const char *key)
{
	size_t i;

	for (i = 0; i < img->label_keys.n; i++)
		if (!strcmp(img->label_keys.items[i], key))
			return img->label_vals.items[i];
	return NULL;
}

static void engine_strv_from_json(struct strv *v, json_t *arr)
{
	size_t i;
	json_t *it;

	json_array_foreach(arr, i, it)
		if (json_is_string(it))
			strv_push(v, json_string_value(it));
}

static int engine_image_fill(struct engine_image *img, json_t *j, struct err *e)
{
	json_t *cfg = json_object_get(j, "Config"), *labels, *v;
	const char *k, *s;

	s = json_string_value(json_object_get(j, "Id"));
	if (!s)
		return err_set(e, "image inspect answer has no Id");
	img->id = xstrdup(s);
	s = json_string_value(json_object_get(cfg, "User"));
	img->user = xstrdup(s ? s : "");
	s = json_string_value(json_object_get(cfg, "WorkingDir"));
	img->workdir = xstrdup(s ? s : "");
	engine_strv_from_json(&img->env, json_object_get(cfg, "Env"));
	engine_strv_from_json(&img->entrypoint, json_object_get(cfg, "Entrypoint"));
	engine_strv_from_json(&img->cmd, json_object_get(cfg, "Cmd"));
	labels = json_object_get(cfg, "Labels");
	json_object_foreach(labels, k, v) {
		if (!json_is_string(v))
			continue;
		strv_push(&img->label_keys, k);
		strv_push(&img->label_vals, json_string_value(v));
	}
	img->raw = json_incref(j);
	return 0;
}

int engine_image_inspect(struct engine *eng, const char *name, struct engine_image *ret, struct err *e)
{
	json_t *j = NULL;
	char *path = NULL;
	int rv = -1;

	if (engine_check_name("image reference", name, e) < 0)
		goto out;
	path = xasprintf("/images/%s/json", name);
	if (engine_call(eng, "GET", path, NULL, ENGINE_WAIT_CALL, &j, e) < 0 || engine_image_fill(ret, j, e) < 0) {
		engine_image_release(ret);
		err_prefix(e, "cannot inspect image '%s'", name);
		goto out;
	}
	rv = 0;
out:
	json_decref(j);
	free(path);
	return rv;
}

int engine_image_exists(struct engine *eng, const char *name, struct err *e)
{
	struct engine_image img = ENGINE_IMAGE_INIT;

	if (engine_image_inspect(eng, name, &img, e) == 0) {
		engine_image_release(&img);
		return 1;
	}
	return eng->status == 404 ? 0 : -1;
}

int engine_pull_policy_parse(const char *s, enum engine_pull_policy *ret, struct err *e)
{
	if (!s || !strcmp(s, "if-not-present"))
		*ret = ENGINE_PULL_IF_NOT_PRESENT;
	else if (!strcmp(s, "always"))
		*ret = ENGINE_PULL_ALWAYS;
	else if (!strcmp(s, "never"))
		*ret = ENGINE_PULL_NEVER;
	else
		return err_set(e, "invalid pull policy '%s' (always, never or if-not-present)", s);
	return 0;
}

const char *engine_pull_policy_name(enum engine_pull_policy p)
{
	switch (p) {
	case ENGINE_PULL_ALWAYS: return "always";
	case ENGINE_PULL_NEVER: return "never";
	default: return "if-not-present";
	}
}

static int engine_sink_jsonstream(struct req *r, const char *data, size_t len)
{
	return engine_jsonstream_feed(r->sink_arg, data, len, &r->cb_err);
}

/* Ends a JSON message stream: an error message in it is the engine's error. */
static int engine_jsonstream_end(struct engine *eng, struct engine_jsonstream *js, struct err *e)
{
	if (engine_jsonstream_finish(js, e) < 0) {
		if (js->error)
			eng->status = ENGINE_STREAM_ERROR;
		return -1;
	}
	return 0;
}

/* POST path with x's body (its auth_ref, rd), reading the JSON message stream of the
 * answer (fn per progress message); the digest it reports to *ret_digest (may be NULL). */
static int engine_jsonstream_post(struct engine *eng, const char *path, struct engine_xfer *x, engine_progress_fn fn,
				  void *arg, char **ret_digest, struct err *e)
{
	struct engine_jsonstream js;
	int rv = -1;

	engine_jsonstream_init(&js, fn, arg);
	x->wait = ENGINE_WAIT_STREAM;
	x->sink = engine_sink_jsonstream;
	x->sink_arg = &js;
	if (engine_request(eng, "POST", path, x, e) < 0 || engine_jsonstream_end(eng, &js, e) < 0)
		goto out;
	if (ret_digest) {
		*ret_digest = js.digest;
		js.digest = NULL;
	}
	rv = 0;
out:
	engine_jsonstream_release(&js);
	return rv;
}

/* POST path, reading a JSON message stream; the X-Registry-Auth of ref. */
static int engine_progress_call(struct engine *eng, const char *path, const char *ref, engine_progress_fn fn,
				void *arg, char **ret_digest, struct err *e)
{
	struct engine_xfer x = { .auth_ref = ref };
	char reg[256], *full = NULL;
	int rv;

	if (!eng->api[0] && engine_negotiate(eng, e) < 0)
		return -1;
	/* Docker allows plain HTTP to registries on 127.0.0.0/8 by default; Podman
	 * wants HTTPS unless told (it honours tlsVerify on push, not on pull). */
	engine_ref_registry(ref, reg, sizeof(reg));
	if (eng->ver.is_podman && (!strncmp(reg, "127.", 4) || !strncmp(reg, "localhost", 9) ||
				   !strncmp(reg, "[::1]", 5)))
		full = xasprintf("%s&tlsVerify=false", path);
	rv = engine_jsonstream_post(eng, full ? full : path, &x, fn, arg, ret_digest, e);
	free(full);
	return rv;
}

int engine_image_pull(struct engine *eng, const char *ref, engine_progress_fn fn, void *arg, struct err *e)
{
	struct buf path = BUF_INIT(ENGINE_PATH_MAX);
	char *name = NULL, *tag = NULL;
	int rv = -1;

	if (engine_ref_split(ref, &name, &tag, e) < 0)
		goto out;
	buf_addstr(&path, "/images/create");
	engine_path_arg(&path, "fromImage", name);
	engine_path_arg(&path, "tag", tag);
	if (engine_progress_call(eng, path.data, ref, fn, arg, NULL, e) < 0)
		goto out;
	rv = 0;
out:
	if (rv < 0)
		err_prefix(e, "cannot pull '%s'", ref);
	free(name);
	free(tag);
	buf_release(&path);
	return rv;
}

int engine_image_ensure(struct engine *eng, const char *ref, enum engine_pull_policy policy, engine_progress_fn fn,
			void *arg, struct engine_image *ret, struct err *e)
{
	struct engine_image tmp = ENGINE_IMAGE_INIT, *img = ret ? ret : &tmp;

	if (policy != ENGINE_PULL_ALWAYS) {
		if (engine_image_inspect(eng, ref, img, e) == 0)
			goto found;
		if (eng->status != 404)
			return -1;
		if (policy == ENGINE_PULL_NEVER)
			return err_set(e, "image '%s' not found locally and pull policy is never", ref);
	}
	if (engine_image_pull(eng, ref, fn, arg, e) < 0)
		return -1;
	if (engine_image_inspect(eng, ref, img, e) < 0)
		return -1;
found:
	if (!ret)
		engine_image_release(&tmp);
	return 0;
}

int engine_image_tag(struct engine *eng, const char *image, const char *ref, struct err *e)
{
	struct buf path = BUF_INIT(ENGINE_PATH_MAX);
	char *name = NULL, *tag = NULL;
	int rv = -1;

	if (engine_check_name("image", image, e) < 0 || engine_ref_split(ref, &name, &tag, e) < 0)
		goto out;
	if (!tag) {
		err_set(e, "a digest cannot be a tag");
		goto out;
	}
	buf_addf(&path, "/images/%s/tag", image);
	engine_path_arg(&path, "repo", name);
	engine_path_arg(&path, "tag", tag);
	if (engine_call(eng, "POST", path.data, NULL, ENGINE_WAIT_CALL, NULL, e) < 0)
		goto out;
	rv = 0;
out:
	if (rv < 0)
		err_prefix(e, "cannot tag '%s' as '%s'", image, ref);
	free(name);
	free(tag);
	buf_release(&path);
	return rv;
}

int engine_image_push(struct engine *eng, const char *ref, engine_progress_fn fn, void *arg, char **ret_digest,
		      struct err *e)
{
	struct buf path = BUF_INIT(ENGINE_PATH_MAX);
	char *name = NULL, *tag = NULL;
	int rv = -1;

	if (ret_digest)
		*ret_digest = NULL;
	if (engine_ref_split(ref, &name, &tag, e) < 0)
		goto out;
	if (!tag) {
		err_set(e, "cannot push a digest reference");
		goto out;
	}
	buf_addf(&path, "/images/%s/push", name);
	engine_path_arg(&path, "tag", tag);
	if (engine_progress_call(eng, path.data, ref, fn, arg, ret_digest, e) < 0)
		goto out;
	rv = 0;
out:
	if (rv < 0)
		err_prefix(e, "cannot push '%s'", ref);
	free(name);
	free(tag);
	buf_release(&path);
	return rv;
}

int engine_image_import(struct engine *eng, const char *ref, const char *const *changes, engine_read_fn rd,
			void *arg, struct err *e)
{
	struct engine_xfer x = { .rd = rd, .rd_arg = arg };
	struct buf path = BUF_INIT(ENGINE_PATH_MAX);
	char *name = NULL, *tag = NULL;
	int rv = -1;

	if (engine_ref_split(ref, &name, &tag, e) < 0)
		goto out;
	if (!tag) {
		err_set(e, "a digest cannot name an imported image");
		goto out;
	}
	buf_addstr(&path, "/images/create?fromSrc=-");
	engine_path_arg(&path, "repo", name);
	engine_path_arg(&path, "tag", tag);
	for (; changes && *changes; changes++) {
		if (engine_path_arg(&path, "changes", *changes) < 0) {
			err_set(e, "too many changes");
			goto out;
		}
	}
	if (engine_jsonstream_post(eng, path.data, &x, NULL, NULL, NULL, e) < 0)
		goto out;
	rv = 0;
out:
	if (rv < 0)
		err_prefix(e, "cannot import '%s'", ref);
	buf_release(&path);
	free(name);
	free(tag);
	return rv;
}

int engine_image_remove(struct engine *eng, const char *name, int force, int missing_ok, struct err *e)
{
	char *path;
	int rv;

	if (engine_check_name("image", name, e) < 0)
		return -1;
	path = xasprintf("/images/%s?force=%d", name, force ? 1 : 0);
	rv = engine_call(eng, "DELETE", path, NULL, ENGINE_WAIT_SLOW, NULL, e);
	free(path);
	if (rv < 0 && missing_ok && eng->status == 404)
		return 0;
	if (rv < 0)
		err_prefix(e, "cannot remove image '%s'", name);
	return rv;
}

/* ---- containers ---- */

static json_t *engine_json_strv(const char *const *v)
{
	json_t *a = json_array();

	for (; v && *v; v++)
		json_array_append_new(a, json_string(*v));
	return a;
}

static json_t *engine_json_labels(const char *const *v)
{
	json_t *o = json_object();

	for (; v && *v; v++) {
		const char *eq = strchr(*v, '=');
		char *k = eq ? xstrndup(*v, (size_t)(eq - *v)) : xstrdup(*v);

		json_object_set_new(o, k, json_string(eq ? eq + 1 : ""));
		free(k);
	}
	return o;
}

/* Fields shared by create and commit configs. */
static void engine_json_config(json_t *b, const char *const *cmd, const char *const *ep, int ep_set,
			       const char *user, const char *workdir, const char *const *env,
			       const char *const *labels)
{
	if (cmd)
		json_object_set_new(b, "Cmd", engine_json_strv(cmd));
	if (ep_set)
		json_object_set_new(b, "Entrypoint", engine_json_strv(ep));
	if (user)
		json_object_set_new(b, "User", json_string(user));
	if (workdir)
		json_object_set_new(b, "WorkingDir", json_string(workdir));
	if (env)
		json_object_set_new(b, "Env", engine_json_strv(env));
	if (labels)
		json_object_set_new(b, "Labels", engine_json_labels(labels));
}

int engine_container_create(struct engine *eng, const struct engine_create *p, char **ret_id, struct err *e)
{
	json_t *b = json_object(), *hc = json_object();
	int rv;

	if (!p->image) {
		json_decref(b);
		json_decref(hc);
		return err_set(e, "cannot create a container: no image");
	}
	json_object_set_new(b, "Image", json_string(p->image));
	engine_json_config(b, p->cmd, p->entrypoint, p->entrypoint_set, p->user, p->workdir, p->env, p->labels);
	/* Clearing the image's entrypoint: [""] like `docker run --entrypoint ""`;
	 * Docker also takes [], Podman 4.3 reads [] as "unset" and keeps the image's. */
	if (p->entrypoint_set && (!p->entrypoint || !p->entrypoint[0]))
		json_object_set_new(b, "Entrypoint", json_pack("[s]", ""));
	json_object_set_new(b, "Tty", json_false());
	json_object_set_new(b, "AttachStdout", json_true());
	json_object_set_new(b, "AttachStderr", json_true());
	if (p->open_stdin) {
		json_object_set_new(b, "OpenStdin", json_true());
		json_object_set_new(b, "StdinOnce", json_true());
		json_object_set_new(b, "AttachStdin", json_true());
	}
	if (p->network_mode) {
		json_object_set_new(hc, "NetworkMode", json_string(p->network_mode));
	}
	if (p->cap_drop)
		json_object_set_new(hc, "CapDrop", engine_json_strv(p->cap_drop));
	if (p->binds)
		json_object_set_new(hc, "Binds", engine_json_strv(p->binds));
	if (p->extra_hosts)
		json_object_set_new(hc, "ExtraHosts", engine_json_strv(p->extra_hosts));
	json_object_set_new(b, "HostConfig", hc);
	rv = engine_container_create_json(eng, p->name, b, ret_id, e);
	json_decref(b);
	return rv;
}

int engine_container_create_json(struct engine *eng, const char *name, json_t *body, char **ret_id, struct err *e)
{
	json_t *j = NULL;
	const char *id, *image = json_string_value(json_object_get(body, "Image"));
	char *path = NULL, *qn = NULL;
	int rv = -1;

	*ret_id = NULL;
	if (name) {
		if (engine_check_name("container name", name, e) < 0)
			goto out;
		qn = engine_escape(name);
		path = xasprintf("/containers/create?name=%s", qn);
	} else {
		path = xstrdup("/containers/create");
	}
	if (engine_call(eng, "POST", path, body, ENGINE_WAIT_CALL, &j, e) < 0)
		goto out;
	id = json_string_value(json_object_get(j, "Id"));
	if (!id || engine_check_name("container id", id, e) < 0) {
		err_set(e, "the engine answered without a container id");
		goto out;
	}
	*ret_id = xstrdup(id);
	rv = 0;
out:
	if (rv < 0)
		err_prefix(e, "cannot create a container from '%s'", image ? image : "?");
	json_decref(j);
	free(path);
	free(qn);
	return rv;
}

/* POST/DELETE on /containers/{id}{suffix}; ok_code is also success (0: none). */
static int engine_container_call(struct engine *eng, const char *method, const char *id, const char *suffix,
				 int ok_code, enum engine_wait wait, const char *what, struct err *e)
{
	char *path = engine_container_path(id, suffix, NULL, e);
	int rv;

	if (!path)
		return -1;
	rv = engine_call(eng, method, path, NULL, wait, NULL, e);
	free(path);
	if (rv < 0 && ok_code && eng->status == ok_code)
		return 0;
	if (rv < 0)
		err_prefix(e, "cannot %s container %.12s", what, id);
	return rv;
}

int engine_container_start(struct engine *eng, const char *id, struct err *e)
{
	return engine_container_call(eng, "POST", id, "/start", 304, ENGINE_WAIT_CALL, "start", e);
}

/* 1 running, 0 not, -1 unknown (status of the kill answer is kept). */
static int engine_container_running(struct engine *eng, const char *id)
{
	json_t *j = NULL, *running;
	char *path = xasprintf("/containers/%s/json", id);
	int status = eng->status, rv = -1;

	if (engine_call(eng, "GET", path, NULL, ENGINE_WAIT_CALL, &j, NULL) == 0) {
		running = json_object_get(json_object_get(j, "State"), "Running");
		if (json_is_boolean(running))
			rv = json_is_true(running);
	}
	eng->status = status;
	json_decref(j);
	free(path);
	return rv;
}

int engine_container_kill(struct engine *eng, const char *id, const char *signal, struct err *e)
{
	char suffix[64];

	if (signal && strspn(signal, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") != strlen(signal))
		return err_set(e, "invalid signal name '%s'", signal);
	snprintf(suffix, sizeof(suffix), "/kill?signal=%s", signal ? signal : "SIGKILL");
	if (engine_container_call(eng, "POST", id, suffix, 409, ENGINE_WAIT_CALL, "kill", e) == 0)
		return 0;
	/* Podman answers 500 "container state improper" where Docker says 409:
	 * whatever the code, a container that is not running is not an error. */
	if (eng->status >= 400 && eng->status != 404 && engine_container_running(eng, id) == 0)
		return 0;
	return -1;
}

int engine_container_remove(struct engine *eng, const char *id, int force, int volumes, struct err *e)
{
	char suffix[64];

	snprintf(suffix, sizeof(suffix), "?force=%d&v=%d", force ? 1 : 0, volumes ? 1 : 0);
	/* Docker's forced removal kills at once; Podman 5's stops first, giving a process
	 * that ignores SIGTERM (a shell as pid 1) 10s, past a cleanup's deadline: kill it */
	if (force && (eng->api[0] || engine_negotiate(eng, e) == 0) && eng->ver.is_podman)
		(void)engine_container_kill(eng, id, NULL, &(struct err)ERR_INIT);
	/* the engine deletes the container's layer before it answers */
	return engine_container_call(eng, "DELETE", id, suffix, 404, ENGINE_WAIT_SLOW, "remove", e);
}

int engine_container_wait(struct engine *eng, const char *id, int timeout_s, int *ret_code, struct err *e)
{
	struct buf answer = BUF_INIT(ENGINE_RESPONSE_MAX);
	struct engine_xfer x = { .wait = ENGINE_WAIT_CONTAINER, .timeout_s = timeout_s, .answer = &answer };
	json_t *j = NULL, *code;
	const char *msg;
	char *path = engine_container_path(id, "/wait", NULL, e);
	int rv = -1;

	if (!path || engine_request(eng, "POST", path, &x, e) < 0)
		goto out;
	j = json_loadb(answer.data, answer.len, 0, NULL);
	code = json_object_get(j, "StatusCode");
	if (!json_is_integer(code)) {
		err_set(e, "malformed wait answer from the engine");
		goto out;
	}
	msg = json_string_value(json_object_get(json_object_get(j, "Error"), "Message"));
	if (msg && *msg) {
		err_set(e, "%s", msg);
		goto out;
	}
	*ret_code = (int)json_integer_value(code);
	rv = 0;
out:
	if (rv < 0)
		err_prefix(e, "cannot wait for container %.12s", id ? id : "?");
	json_decref(j);
	free(path);
	buf_release(&answer);
	return rv;
}

char *engine_label_filter(const char *const *labels)
{
	json_t *f = json_object(), *a = json_array();
	char *fs;
	size_t i;

	for (i = 0; labels && labels[i]; i++)
		json_array_append_new(a, json_string(labels[i]));
	json_object_set_new(f, "label", a);
	fs = json_dumps(f, JSON_COMPACT);
	json_decref(f);
	if (!fs)
		abort();
	return fs;
}

int engine_container_list_all(struct engine *eng, const char *const *labels, struct strv *ret_ids,
			      struct err *e)
{
	json_t *j = NULL, *it;
	char *fs = NULL, *qf = NULL, *path = NULL;
	size_t i;
	int rv = -1;

	if (!labels || !labels[0])
		return err_set(e, "cannot list containers: no label to filter on");
	fs = engine_label_filter(labels);
	qf = engine_escape(fs);
	path = xasprintf("/containers/json?all=1&filters=%s", qf);
	if (engine_call(eng, "GET", path, NULL, ENGINE_WAIT_CALL, &j, e) < 0) {
		err_prefix(e, "cannot list containers labelled '%s'%s", labels[0],
			   labels[1] ? " and more" : "");
		goto out;
	}
	json_array_foreach(j, i, it) {
		const char *id = json_string_value(json_object_get(it, "Id"));

		if (id)
			strv_push(ret_ids, id);
	}
	rv = 0;
out:
	json_decref(j);
	free(fs);
	free(qf);
	free(path);
	return rv;
}

int engine_container_list(struct engine *eng, const char *label, struct strv *ret_ids, struct err *e)
{
	const char *labels[2] = { label, NULL };

	return engine_container_list_all(eng, labels, ret_ids, e);
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
				 .sink = engine_sink_demux, .sink_arg = &s };
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

/* ---- commit ---- */

static int engine_commit_change(struct buf *path, const char *change)
{
	return engine_path_arg(path, "changes", change);
}

static int engine_commit_array(struct buf *path, const char *what, const char *const *v)
{
	json_t *a = engine_json_strv(v);
	char *js = json_dumps(a, JSON_COMPACT), *ch;
	int rv;

	if (!js)
		abort();
	ch = xasprintf("%s %s", what, js);
	rv = engine_commit_change(path, ch);
	free(ch);
	free(js);
	json_decref(a);
	return rv;
}

/* Podman (4.3) takes the body but applies only `changes`, Dockerfile lines it
 * parses simply: KEY=VALUE split at the first '=', one pair of surrounding
 * quotes stripped, so "KEY=\"value\"" carries any value on one line. */
static int engine_commit_changes(struct buf *path, const struct engine_commit *c, struct err *e)
{
	const char *const *p;
	int rv = 0;
	char *ch;

	if (c->cmd)
		rv |= engine_commit_array(path, "CMD", c->cmd);
	if (c->entrypoint_set)
		rv |= engine_commit_array(path, "ENTRYPOINT", c->entrypoint);
	if (c->user && *c->user) {
		ch = xasprintf("USER %s", c->user);
		rv |= engine_commit_change(path, ch);
		free(ch);
	}
	if (c->workdir && *c->workdir) {
		ch = xasprintf("WORKDIR %s", c->workdir);
		rv |= engine_commit_change(path, ch);
		free(ch);
	}
	for (p = c->env; p && *p; p++) {
		const char *eq = strchr(*p, '=');

		if (strchr(*p, '\n'))
			return err_set(e, "environment value with a newline cannot be committed on podman");
		ch = eq ? xasprintf("ENV %.*s=\"%s\"", (int)(eq - *p), *p, eq + 1) : xasprintf("ENV %s=\"\"", *p);
		rv |= engine_commit_change(path, ch);
		free(ch);
	}
	for (p = c->labels; p && *p; p++) {
		const char *eq = strchr(*p, '=');

		if (strchr(*p, '\n'))
			return err_set(e, "label value with a newline cannot be committed on podman");
		ch = eq ? xasprintf("LABEL %.*s=\"%s\"", (int)(eq - *p), *p, eq + 1) : xasprintf("LABEL %s=\"\"", *p);
		rv |= engine_commit_change(path, ch);
		free(ch);
	}
	return rv ? err_set(e, "commit changes too long") : 0;
}

/* Podman 5 commits a container's entrypoint override only when told (4.3 kept it):
 * an entrypoint the caller leaves unset is the container's, as on Docker. */
static int engine_commit_keep_entrypoint(struct engine *eng, struct buf *path, const char *id, struct err *e)
{
	json_t *j = NULL, *ep;
	char *url = engine_container_path(id, "/json", NULL, e);
	struct strv v = STRV_INIT;
	int rv = -1;

	if (!url || engine_call(eng, "GET", url, NULL, ENGINE_WAIT_CALL, &j, e) < 0)
		goto out;
	ep = json_object_get(json_object_get(j, "Config"), "Entrypoint");
	engine_strv_from_json(&v, ep);
	if (v.n && engine_commit_array(path, "ENTRYPOINT", (const char *const *)v.items) < 0) {
		err_set(e, "commit changes too long");
		goto out;
	}
	rv = 0;
out:
	strv_clear(&v);
	json_decref(j);
	free(url);
	return rv;
}

int engine_commit(struct engine *eng, const struct engine_commit *c, char **ret_image_id, struct err *e)
{
	json_t *b = json_object(), *j = NULL;
	struct buf path = BUF_INIT(ENGINE_COMMIT_URL_MAX);
	const char *id;
	int rv = -1;

	*ret_image_id = NULL;
	if (engine_check_name("container id", c->container, e) < 0)
		goto out;
	buf_addf(&path, "/commit?container=%s", c->container);
	engine_path_arg(&path, "repo", c->repo);
	engine_path_arg(&path, "tag", c->tag);
	engine_path_arg(&path, "comment", c->comment);
	engine_path_arg(&path, "author", c->author);
	engine_json_config(b, c->cmd, c->entrypoint, c->entrypoint_set, c->user, c->workdir, c->env, c->labels);
	if (!eng->api[0] && engine_negotiate(eng, e) < 0)
		goto out;
	if (eng->ver.is_podman && engine_commit_changes(&path, c, e) < 0)
		goto out;
	if (eng->ver.is_podman && !c->entrypoint_set && engine_commit_keep_entrypoint(eng, &path, c->container, e) < 0)
		goto out;
	/* the engine copies the container's layer before it answers */
	if (engine_call(eng, "POST", path.data, b, ENGINE_WAIT_SLOW, &j, e) < 0)
		goto out;
	id = json_string_value(json_object_get(j, "Id"));
	if (!id) {
		err_set(e, "the engine answered without an image id");
		goto out;
	}
	/* Podman answers the bare hex digest; inspect says "sha256:..." on both. */
	*ret_image_id = strchr(id, ':') ? xstrdup(id) : xasprintf("sha256:%s", id);
	rv = 0;
out:
	if (rv < 0)
		err_prefix(e, "cannot commit container %.12s", c->container ? c->container : "?");
	json_decref(b);
	json_decref(j);
	buf_release(&path);
	return rv;
}
