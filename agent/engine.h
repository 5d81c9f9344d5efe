/* engine: a Docker Engine API client on libcurl (unix socket, tcp, tcp+TLS);
 * Docker and Podman's compatible API. Library module: never logs, fills struct err. */
#ifndef S2I_ENGINE_H
#define S2I_ENGINE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "buf.h"
#include "err.h"
#include "limits.h"
#include "pull.h"

/*
 * Conventions
 * - Every fallible function returns 0 or -1 and fills *e with a message that
 *   names the object and carries the engine's own "message" from its JSON
 *   error body, e.g. "cannot inspect image 'x': 404 No such image: x".
 * - engine_status() tells the HTTP code of the last answer (404 = not found,
 *   409 = conflict...), or one of the ENGINE_* pseudo codes below.
 * - Callbacks get a struct err to fill; returning -1 aborts the transfer and
 *   their message is what the caller of the engine function sees.
 * - One struct engine is used by one thread at a time. Separate transfers use
 *   separate curl handles, so a read callback of one call (e.g. an archive
 *   upload) may itself read from an engine_stream of the same engine.
 */

struct engine;

/* Pseudo status codes (engine_status) when no HTTP answer decided the outcome. */
#define ENGINE_NO_ANSWER	0	/* connection refused, socket missing, TLS failure, or the
					 * engine did not answer within the call's limit (frozen) */
#define ENGINE_CANCELED		(-2)	/* the cancel flag was raised */
#define ENGINE_TIMED_OUT	(-3)	/* the deadline or a wait's own timeout_s passed */
#define ENGINE_STREAM_ERROR	(-4)	/* HTTP 200 but the progress stream reported an error */
#define ENGINE_INCOMPATIBLE	(-5)	/* the engine's API range and ours do not overlap */

struct engine_tls {
	const char *ca;		/* PEM CA bundle; NULL: system default */
	const char *cert;	/* PEM client certificate */
	const char *key;	/* PEM client key */
};

/* url: "unix:///var/run/docker.sock", "/path/to.sock", "tcp://host:port",
 * "http://host:port" or "https://host:port". With tls (non-NULL, or an https
 * URL) a tcp:// URL talks HTTPS with the client certificate. No I/O here: the API
 * version is negotiated on the first request. Returns NULL and fills e on error. */
struct engine *engine_new(const char *url, const struct engine_tls *tls, struct err *e);

/* Like engine_new, with docker CLI defaults: url NULL or "" → $DOCKER_HOST, else
 * unix:///var/run/docker.sock; $DOCKER_TLS_VERIFY + $DOCKER_CERT_PATH (ca.pem,
 * cert.pem, key.pem) give the TLS files for tcp URLs. */
struct engine *engine_new_from_env(const char *url, struct err *e);
/* A second handle on eng's engine: its address, TLS files, API version, limits, cancel
 * flag and deadline (no registry auth). A handle is used by one thread at a time: this
 * one reads a stream in another thread while eng makes calls (s2i's incremental
 * upload). */
struct engine *engine_dup(const struct engine *eng);
void engine_free(struct engine *eng);

/* Registry credentials: a docker config.json, "auths": {"registry": {"auth":
 * base64(user:pass)} or {"username", "password"}}. Used by pull and push
 * (X-Registry-Auth). path NULL clears. */
int engine_set_registry_auth(struct engine *eng, const char *config_json_path, struct err *e);

/* Cancellation: a long call (pull, logs, wait, archive) aborts with
 * ENGINE_CANCELED when *flag becomes non-zero (a SIGTERM handler's flag), or with
 * ENGINE_TIMED_OUT once CLOCK_MONOTONIC passes deadline_ms (0: no deadline). */
void engine_set_cancel(struct engine *eng, const volatile sig_atomic_t *flag);
void engine_set_deadline(struct engine *eng, int64_t deadline_ms);
int64_t engine_clock_ms(void);		/* CLOCK_MONOTONIC in ms, for deadlines */

/* How long the engine may keep a call waiting before we give up on it as frozen
 * (seconds; <= 0: no limit of that kind). Defaults: ENGINE_CALL_TIMEOUT,
 * ENGINE_SLOW_CALL_TIMEOUT, ENGINE_IDLE_TIMEOUT, ENGINE_PROBE_INTERVAL (limits.h).
 * - call_s: the whole of a control call (ping, version, inspect, create, start,
 *   kill, list, tag; also the answer to an attach);
 * - slow_s: the whole of a call that copies or deletes a layer (commit, image and
 *   container removal);
 * - idle_s: a stream (pull, push, import, archive copies, logs without follow)
 *   without a byte in either direction; time spent by the reader of a pull-style
 *   stream between two engine_stream_read calls does not count.
 * Waits for a running container (container_wait, attach streams, logs follow) have
 * no limit of their own: the deadline and the cancel flag bound them; but after
 * probe_s without a byte the engine is pinged on another connection, and a ping
 * unanswered within call_s ends the wait as a frozen engine. A limit that
 * passes fails the call with ENGINE_NO_ANSWER and engine_unreachable() saying "the
 * container engine at unix:///... did not answer within 60s"; the deadline passing
 * first is ENGINE_TIMED_OUT, as before. */
struct engine_timeouts {
	int call_s;
	int slow_s;
	int idle_s;
	int probe_s;
};

#define ENGINE_TIMEOUTS_DEFAULT \
	{ ENGINE_CALL_TIMEOUT, ENGINE_SLOW_CALL_TIMEOUT, ENGINE_IDLE_TIMEOUT, ENGINE_PROBE_INTERVAL }

void engine_set_timeouts(struct engine *eng, const struct engine_timeouts *t);

int engine_status(const struct engine *eng);
/* Why the last call got no answer when the engine could not be reached or the
 * connection to it broke ("cannot reach the container engine at unix:///...:
 * Connection refused (is it running?)"), else NULL. */
const char *engine_unreachable(const struct engine *eng);
/* 1 when the last call could not connect at all (no engine on the socket or port),
 * as opposed to one that connected and then got no answer. */
int engine_refused(const struct engine *eng);
/* Forgets the last call's failure (engine_status, engine_unreachable, engine_refused),
 * for a caller that goes on without the engine for now. */
void engine_forget_failure(struct engine *eng);

/* The engine's address for messages: "unix:///var/run/docker.sock", "https://h:2376". */
const char *engine_address(const struct engine *eng);

/* ENGINE_API_MIN..ENGINE_API_MAX (limits.h): the versions we speak. The one used is
 * min(ENGINE_API_MAX, the engine's ApiVersion), and must be at least the engine's
 * MinAPIVersion and ENGINE_API_MIN; otherwise the first call fails with
 * engine_status() == ENGINE_INCOMPATIBLE and both ranges in the message. */

struct engine_version {
	char name[16];		/* "Docker" or "Podman" */
	char api[16];		/* negotiated, e.g. "1.51" */
	char server_api[16];	/* what the server reports as ApiVersion */
	char server_min_api[16];/* its MinAPIVersion, "" if not reported (Podman) */
	char version[64];	/* server Version, e.g. "20.10.24+dfsg1" or "4.3.1" */
	char os[32], arch[32];
	int is_podman;		/* a Components[].Name contains "Podman" */
};

/* The pure part of the negotiation: the version to speak with an engine that reports
 * server_api and server_min ("" or NULL: not reported) into out, or -1 with both
 * ranges in the message. */
int engine_api_pick(const char *server_api, const char *server_min, char *out, size_t n, struct err *e);
/* Judges a /version answer (JSON body): 0 when we share an API version with that
 * engine, -1 (both ranges in e) when not, 1 when it is not a /version answer. Pure
 * (engine_api.c): the daemon's /healthz uses it without the engine client. */
int engine_api_judge(const char *body, size_t len, struct err *e);
/* The engine's data root (DockerRootDir of a GET /info answer, an absolute path)
 * into out; -1 with e when the answer has none. Pure, for the daemon. */
int engine_api_root_dir(const char *body, size_t len, char *out, size_t n, struct err *e);

/* For `check`: asks the engine at url its version (within timeout_s) and fails only
 * when its API range and ours do not overlap (the message names both); an engine
 * that does not answer is not judged here (0). */
int engine_check_api(const char *url, const struct engine_tls *tls, int timeout_s, struct err *e);

int engine_ping(struct engine *eng, struct err *e);
/* GET /version (negotiates if not done yet). */
int engine_version(struct engine *eng, struct engine_version *ret, struct err *e);

/* Reads raw bytes; returns the number read, 0 at the end, -1 with e filled.
 * tarx_read_fn has the same shape, so these plug into each other. */
typedef ssize_t (*engine_read_fn)(void *arg, void *buf, size_t len, struct err *e);
/* Consumes len bytes; 0, or -1 with e filled to abort. */
typedef int (*engine_write_fn)(void *arg, const void *data, size_t len, struct err *e);

/* ---- images ---- */

struct engine_image {
	char *id;		/* "sha256:..." */
	char *user;		/* Config.User, "" if unset */
	char *workdir;		/* Config.WorkingDir, "" if unset */
	struct strv env;	/* Config.Env "K=V" */
	struct strv entrypoint;	/* Config.Entrypoint */
	struct strv cmd;	/* Config.Cmd */
	struct strv label_keys;	/* Config.Labels, parallel arrays */
	struct strv label_vals;
	json_t *raw;		/* the whole inspect answer (owned) */
};

#define ENGINE_IMAGE_INIT { NULL, NULL, NULL, STRV_INIT, STRV_INIT, STRV_INIT, STRV_INIT, STRV_INIT, NULL }

void engine_image_release(struct engine_image *img);	/* back to ENGINE_IMAGE_INIT */
/* The value of a label, or NULL. */
const char *engine_image_label(const struct engine_image *img, const char *key);

/* GET /images/{name}/json. Not found: -1 with engine_status() == 404. */
int engine_image_inspect(struct engine *eng, const char *name, struct engine_image *ret, struct err *e);
/* 1 if the image exists, 0 if not, -1 on error. */
int engine_image_exists(struct engine *eng, const char *name, struct err *e);

/* Progress of pull and push: one short human line per stream message,
 * e.g. "a1b2c3: Pull complete". May be NULL. Return -1 (and fill e) to abort. */
typedef int (*engine_progress_fn)(void *arg, const char *line, struct err *e);

/* POST /images/create?fromImage=&tag= with X-Registry-Auth; the progress stream
 * is read to its end and an errorDetail in it (which arrives with HTTP 200)
 * makes this fail with that message. */
int engine_image_pull(struct engine *eng, const char *ref, engine_progress_fn fn, void *arg, struct err *e);

/* Applies a pull policy, then inspects: ret (may be NULL) describes the image.
 * never + missing: -1 "image 'x' not found locally and pull policy is never; ...".
 * A missing image whose pull fails: -1 "image 'x' is not present locally; build or
 * pull it, ... (pulling it failed: WHY)". */
int engine_image_ensure(struct engine *eng, const char *ref, enum pull_policy policy,
			engine_progress_fn fn, void *arg, struct engine_image *ret, struct err *e);

/* POST /images/{image}/tag?repo=&tag=; ref is "repo[:tag]". */
int engine_image_tag(struct engine *eng, const char *image, const char *ref, struct err *e);

/* POST /images/{name}/push?tag= with X-Registry-Auth; errorDetail in the stream
 * fails. ret_digest (may be NULL) gets the pushed manifest digest if reported. */
int engine_image_push(struct engine *eng, const char *ref, engine_progress_fn fn, void *arg,
		      char **ret_digest, struct err *e);

/* POST /images/create?fromSrc=-&repo=&tag=&changes=...: a root filesystem tar
 * read from rd (streamed) becomes image ref (like `docker import`); changes
 * are Dockerfile lines ("ENV PATH=/bin", "CMD [\"/run\"]"), may be NULL. */
int engine_image_import(struct engine *eng, const char *ref, const char *const *changes, engine_read_fn rd,
			void *arg, struct err *e);

/* DELETE /images/{name}?force=; a missing image is not an error when missing_ok. */
int engine_image_remove(struct engine *eng, const char *name, int force, int missing_ok, struct err *e);
/* GET /images/json?filters={"dangling":["true"],"label":[labels...]}: appends the ids of
 * the images no tag names that carry every one of labels ("k" or "k=v", NULL-terminated,
 * at least one) to *ret_ids. */
int engine_image_list_untagged(struct engine *eng, const char *const *labels, struct strv *ret_ids,
			       struct err *e);

/* ---- containers ---- */

/* Parameters of POST /containers/create. NULL/0 fields are left out (the
 * image's value applies). Arrays are NULL-terminated. */
struct engine_create {
	const char *name;			/* container name, NULL: engine picks */
	const char *image;			/* required */
	const char *const *cmd;
	const char *const *entrypoint;		/* with entrypoint_set, replaces the image's; */
	int entrypoint_set;			/* an empty array clears it */
	const char *user;
	const char *workdir;
	const char *const *env;			/* "K=V" */
	const char *const *labels;		/* "k=v" (split at the first '=') */
	const char *network_mode;		/* "none", "host", "bridge", ... */
	const char *const *cap_drop;
	const char *const *binds;		/* "src:dst[:opts]" */
	const char *const *extra_hosts;		/* "host:ip" */
	int open_stdin;				/* OpenStdin + StdinOnce + AttachStdin */
};

#define ENGINE_CREATE_INIT { 0 }

/* Returns the new container's id in *ret_id (caller frees). */
int engine_container_create(struct engine *eng, const struct engine_create *p, char **ret_id, struct err *e);
/* Same with a body built by the caller (a JSON object, not consumed). */
int engine_container_create_json(struct engine *eng, const char *name, json_t *body, char **ret_id,
				 struct err *e);

int engine_container_start(struct engine *eng, const char *id, struct err *e);
/* signal NULL: SIGKILL. A container that is not running is not an error. */
int engine_container_kill(struct engine *eng, const char *id, const char *signal, struct err *e);
/* DELETE /containers/{id}?force=&v=; a missing container is not an error. */
int engine_container_remove(struct engine *eng, const char *id, int force, int volumes, struct err *e);
/* DELETE /volumes/{name}?force=1 (a named volume a container's Binds made); a missing
 * volume is not an error. */
int engine_volume_remove(struct engine *eng, const char *name, struct err *e);
/* POST /volumes/create of a named local volume with labels ("k=v", NULL-terminated, may
 * be empty); an existing volume of that name is not an error (the engine keeps it). */
int engine_volume_create(struct engine *eng, const char *name, const char *const *labels,
			 struct err *e);
/* GET /volumes?filters={"label":[...]}: appends the names of the volumes carrying every
 * one of labels (NULL-terminated, at least one) to *ret_names. */
int engine_volume_list(struct engine *eng, const char *const *labels, struct strv *ret_names,
		       struct err *e);

/* POST /containers/{id}/wait: fills *ret_code with the exit code. timeout_s > 0
 * bounds this call (ENGINE_TIMED_OUT); the engine deadline and cancel flag apply.
 * On Podman it returns once the engine has also cleaned the exited container up, so
 * that its files can be read and written (see engine_container_settle). */
int engine_container_wait(struct engine *eng, const char *id, int timeout_s, int *ret_code, struct err *e);

/* GET /containers/json?all=1&filters={"label":[label]}; label is "k" or "k=v".
 * Appends the ids to *ret_ids. */
int engine_container_list(struct engine *eng, const char *label, struct strv *ret_ids, struct err *e);
/* The same with several labels (NULL-terminated, at least one), which the engine ANDs:
 * only containers carrying all of them are listed. */
int engine_container_list_all(struct engine *eng, const char *const *labels, struct strv *ret_ids,
			      struct err *e);
/* The filters value of that query, {"label":["k=v",...]} (compact JSON, malloc'd). */
char *engine_label_filter(const char *const *labels);

enum engine_stream_type { ENGINE_STDIN = 0, ENGINE_STDOUT = 1, ENGINE_STDERR = 2 };
/* Demultiplexed container output; stream is an engine_stream_type. */
typedef int (*engine_output_fn)(void *arg, int stream, const void *data, size_t len, struct err *e);

/* PUT /containers/{id}/archive?path=dir: a tar read from rd is streamed
 * (chunked, never held whole) and the engine extracts it into dir, which
 * must exist (Docker: 404; Podman 4.3 creates it). No tar binary is needed in
 * the container. The engine extracts as it receives: if rd fails midway, the
 * call fails with rd's message but what arrived before stays in the container
 * (possibly a truncated file), so discard the container if that matters. */
int engine_archive_put(struct engine *eng, const char *id, const char *dir, engine_read_fn rd, void *arg,
		       struct err *e);
/* GET /containers/{id}/archive?path=: the tar is streamed to wr as it arrives. */
int engine_archive_get(struct engine *eng, const char *id, const char *path, engine_write_fn wr, void *arg,
		       struct err *e);

/* GET /containers/{id}/logs?stdout=1&stderr=1[&follow=1], demultiplexed (the
 * container has no TTY) and delivered to fn as it arrives. With follow, returns
 * when the container has stopped and its output is drained. */
int engine_container_logs(struct engine *eng, const char *id, int follow, engine_output_fn fn, void *arg,
			  struct err *e);

/* Pull-style streams: the caller reads at its own pace (curl is paused in
 * between, so memory stays bounded). Used to pipe a container's archive or
 * stdout into tarx and from there into another container's archive upload. */
struct engine_stream;

/* An archive download as a stream of tar bytes. */
int engine_archive_open(struct engine *eng, const char *id, const char *path, struct engine_stream **ret,
			struct err *e);
/* A container's logs: stdout is what engine_stream_read returns; other streams
 * (stderr) go to other_fn (may be NULL: dropped). */
int engine_logs_open(struct engine *eng, const char *id, int follow, engine_output_fn other_fn, void *arg,
		     struct engine_stream **ret, struct err *e);
/* POST /containers/{id}/attach?stream=1&stdout=1&stderr=1 on a created (not yet
 * started) container; returns once the engine has answered, so an
 * engine_container_start that follows loses nothing. stdout is what
 * engine_stream_read returns, byte exact (logs go through the log driver, which
 * mangles binary data: json-file turns invalid UTF-8 into U+FFFD); stderr goes to
 * other_fn (may be NULL). The stream ends (read returns 0) when the container
 * stops. s2i needs it for save-artifacts, whose stdout is a tar. */
int engine_attach_open(struct engine *eng, const char *id, engine_output_fn other_fn, void *arg,
		       struct engine_stream **ret, struct err *e);
/* Has the engine_read_fn shape: pass (engine_stream_read, stream). At the end
 * returns 0, or -1 if the transfer failed (HTTP error, truncated, canceled). */
ssize_t engine_stream_read(void *stream, void *buf, size_t len, struct err *e);
void engine_stream_free(struct engine_stream *s);

/* POST /commit?container=&repo=&tag= with a config body. Unset fields keep the
 * container's values (engine merge rules); labels are merged with the
 * container's (so io.s2i-agent.build from create ends up in the image too).
 * The cancel flag does not cut a commit short (the engine would finish it alone);
 * the deadline and the slow-call limit do. */
struct engine_commit {
	const char *container;			/* required */
	const char *repo;			/* NULL: untagged image */
	const char *tag;
	const char *comment;
	const char *author;
	const char *const *cmd;
	const char *const *entrypoint;
	int entrypoint_set;			/* as in engine_create */
	const char *user;
	const char *workdir;
	const char *const *env;
	const char *const *labels;		/* "k=v" */
};

#define ENGINE_COMMIT_INIT { 0 }

int engine_commit(struct engine *eng, const struct engine_commit *c, char **ret_image_id, struct err *e);

/* ---- pure parsers (no I/O), separate so they can be unit-tested and fuzzed ---- */

/* Demultiplexer of the engine's stdout/stderr framing: 8-byte header
 * {stream, 0, 0, 0, big-endian uint32 length} then the payload. Frames may be
 * split anywhere across feeds. */
struct engine_demux {
	unsigned char hdr[8];
	size_t hdr_len;		/* header bytes collected so far */
	uint32_t left;		/* payload bytes still due in the current frame */
	int stream;
};

#define ENGINE_DEMUX_INIT { { 0 }, 0, 0, 0 }

/* Calls fn for each payload piece (possibly several per frame). -1 on a bad
 * header (stream > 2 or non-zero padding) or when fn fails. */
int engine_demux_feed(struct engine_demux *d, const void *data, size_t len, engine_output_fn fn, void *arg,
		      struct err *e);
/* -1 if the input stopped in the middle of a frame. */
int engine_demux_finish(const struct engine_demux *d, struct err *e);

/* Parser of the JSON message streams of pull and push: concatenated JSON
 * objects (newline separated, but not relied upon). */
struct engine_jsonstream {
	struct buf pending;		/* bytes of an incomplete message */
	engine_progress_fn fn;
	void *arg;
	char *error;			/* first errorDetail.message / error seen */
	char *digest;			/* aux.Digest (push) */
	size_t messages;		/* complete messages parsed */
};

void engine_jsonstream_init(struct engine_jsonstream *js, engine_progress_fn fn, void *arg);
/* -1 on malformed JSON, on a message above ENGINE_RESPONSE_MAX, or when fn fails.
 * An errorDetail is recorded in js->error, not an error of the feed. */
int engine_jsonstream_feed(struct engine_jsonstream *js, const void *data, size_t len, struct err *e);
/* At the end of the stream: -1 with js->error as the message if one was
 * reported, or if a message is incomplete. */
int engine_jsonstream_finish(struct engine_jsonstream *js, struct err *e);
void engine_jsonstream_release(struct engine_jsonstream *js);

/* Image references. "reg:5000/a/b:tag" → name "reg:5000/a/b", tag "tag";
 * no tag → "latest"; "a@sha256:..." → name "a", tag NULL, digest kept in name
 * form for pulls ("a@sha256:..."). Caller frees both. */
int engine_ref_split(const char *ref, char **ret_name, char **ret_tag, struct err *e);
/* The registry host of a reference: "docker.io" when the first component has
 * no '.', ':' and is not "localhost". Writes into out (size n). */
void engine_ref_registry(const char *ref, char *out, size_t n);

/* The X-Registry-Auth value (base64url of {"username","password","serveraddress"})
 * for a registry from a parsed docker config.json; *ret NULL when it has no
 * entry for the registry. */
int engine_auth_header(json_t *config, const char *registry, char **ret, struct err *e);

#endif
