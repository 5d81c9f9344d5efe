/* engine_int: what the engine*.c files share and nobody else sees: struct engine, one
 * request (struct req) and the request helpers. Include only from agent/engine*.c. */
#ifndef S2I_ENGINE_INT_H
#define S2I_ENGINE_INT_H

#include <curl/curl.h>

#include "engine.h"

/* engine_cred.c: docker credential helpers. The helper config names for registry
 * (credHelpers' entry whose key same() says is registry's, else credsStore), or NULL. */
const char *engine_cred_helper(json_t *config, const char *registry,
			       int (*same)(const char *key, const char *registry));
/* Runs docker-credential-HELPER get for server within ENGINE_CRED_TIMEOUT: 0 with the
 * user and secret (caller wipes and frees), 1 when it keeps none for server, -1 on
 * error (e never quotes the helper's output). */
int engine_cred_get(const char *helper, const char *server, char **ret_user, char **ret_secret,
		    struct err *e);

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
	/* a stream that lasts as long as this container runs (attach, logs that follow,
	 * engine_req_bind): silent for ended_after_ms, it asks whether the container has
	 * ended; ended at two checks a grace apart, the stream is complete
	 * (container_gone), so an engine that leaves it open after the end (Podman 4.3's
	 * logs follow) holds us seconds, not forever */
	char *container;
	int64_t ended_after_ms;		/* silence before the next check */
	int ended_seen;			/* the last check found it ended */
	int container_gone;
	char curl_errbuf[CURL_ERROR_SIZE];
};

/* How long a call may wait for the engine (engine_set_timeouts). */
enum engine_wait {
	ENGINE_WAIT_CALL = 0,		/* a control call: limits.call_s for the whole */
	ENGINE_WAIT_SLOW,		/* a layer copied or deleted: limits.slow_s */
	ENGINE_WAIT_STREAM,		/* data flows: limits.idle_s without a byte */
	ENGINE_WAIT_CONTAINER,		/* as long as a container runs: deadline only (and pings) */
};


/* What one request sends and where its answer goes. */
struct engine_xfer {
	json_t *json;			/* a JSON body (not consumed), or */
	engine_read_fn rd;		/* a tar body read from rd, sent chunked */
	void *rd_arg;
	const char *auth_ref;		/* X-Registry-Auth for this image reference */
	enum engine_wait wait;		/* how long the engine may keep us waiting */
	int timeout_s;			/* this call's own deadline, 0: none */
	const char *container;		/* a stream that ends with this container (engine_req_bind) */
	/* a 2xx body goes to sink as it arrives, else into answer (may be NULL) */
	int (*sink)(struct req *r, const char *data, size_t len);
	void *sink_arg;
	struct buf *answer;
};

/* engine.c: names and paths */
int engine_check_name(const char *what, const char *s, struct err *e);
char *engine_escape(const char *s);
int engine_path_arg(struct buf *path, const char *name, const char *value);
char *engine_container_path(const char *id, const char *suffix, const char *param, struct err *e);
/* GET PATH?filters={"label":[labels...]} (with dangling, "dangling":["true"] too): the
 * NAME_KEY of each object listed, appended to *ret; ARRAY_KEY names the answer's array,
 * NULL when the answer is one (engine_container.c). */
int engine_list_labelled(struct engine *eng, const char *what, const char *path,
			 const char *array_key, const char *name_key,
			 const char *const *labels, int dangling, struct strv *ret, struct err *e);

/* engine.c: one request, step by step (engine_stream.c drives its own transfer) */
int engine_req_init(struct req *r, struct engine *eng, const char *method, const char *path, int versioned,
		    struct err *e);
void engine_req_wait(struct req *r, enum engine_wait kind);
void engine_req_bind(struct req *r, const char *id);
size_t engine_write_cb(char *data, size_t size, size_t nmemb, void *arg);
int engine_should_abort(struct req *r);
int engine_req_result(struct req *r, CURLcode rc, struct err *e);
void engine_req_release(struct req *r);

/* engine.c: whole requests */
int engine_request(struct engine *eng, const char *method, const char *path, const struct engine_xfer *x,
		   struct err *e);
int engine_call(struct engine *eng, const char *method, const char *path, json_t *body, enum engine_wait wait,
		json_t **ret, struct err *e);
int engine_negotiate(struct engine *eng, struct err *e);

/* engine_container.c: a container's config as JSON (commits take one too) */
json_t *engine_json_strv(const char *const *v);
void engine_json_config(json_t *b, const char *const *cmd, const char *const *ep, int ep_set, const char *user,
			const char *workdir, const char *const *env, const char *const *labels);

#endif
