/* engine: Docker Engine API client on libcurl (stub interface, being implemented).
 * Owns the HTTP conversation with dockerd/podman; callers see 0/-1 and struct err. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine.h"

#define NI(e) err_set((e), "engine: not implemented yet")

struct engine {
	int status;
};

struct engine *engine_new(const char *url, const struct engine_tls *tls, struct err *e)
{
	(void)url; (void)tls;
	NI(e);
	return NULL;
}
struct engine *engine_new_from_env(const char *url, struct err *e) { return engine_new(url, NULL, e); }
void engine_free(struct engine *eng) { free(eng); }
int engine_set_registry_auth(struct engine *eng, const char *p, struct err *e) { (void)eng; (void)p; return NI(e); }
void engine_set_cancel(struct engine *eng, const volatile sig_atomic_t *flag) { (void)eng; (void)flag; }
void engine_set_deadline(struct engine *eng, int64_t d) { (void)eng; (void)d; }
int64_t engine_clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
int engine_status(const struct engine *eng) { return eng ? eng->status : 0; }
int engine_ping(struct engine *eng, struct err *e) { (void)eng; return NI(e); }
int engine_version(struct engine *eng, struct engine_version *r, struct err *e) { (void)eng; (void)r; return NI(e); }
void engine_image_release(struct engine_image *img) { (void)img; }
const char *engine_image_label(const struct engine_image *img, const char *key) { (void)img; (void)key; return NULL; }
int engine_image_inspect(struct engine *eng, const char *n, struct engine_image *r, struct err *e) { (void)eng; (void)n; (void)r; return NI(e); }
int engine_image_exists(struct engine *eng, const char *n, struct err *e) { (void)eng; (void)n; return NI(e); }
int engine_pull_policy_parse(const char *s, enum engine_pull_policy *ret, struct err *e) { (void)s; (void)ret; return NI(e); }
const char *engine_pull_policy_name(enum engine_pull_policy p) { (void)p; return "if-not-present"; }
int engine_image_pull(struct engine *eng, const char *ref, engine_progress_fn fn, void *arg, struct err *e) { (void)eng; (void)ref; (void)fn; (void)arg; return NI(e); }
int engine_image_ensure(struct engine *eng, const char *ref, enum engine_pull_policy p, engine_progress_fn fn, void *arg, struct engine_image *r, struct err *e) { (void)eng; (void)ref; (void)p; (void)fn; (void)arg; (void)r; return NI(e); }
int engine_image_tag(struct engine *eng, const char *i, const char *r, struct err *e) { (void)eng; (void)i; (void)r; return NI(e); }
int engine_image_push(struct engine *eng, const char *ref, engine_progress_fn fn, void *arg, char **d, struct err *e) { (void)eng; (void)ref; (void)fn; (void)arg; (void)d; return NI(e); }
int engine_image_remove(struct engine *eng, const char *n, int f, int m, struct err *e) { (void)eng; (void)n; (void)f; (void)m; return NI(e); }
int engine_container_create(struct engine *eng, const struct engine_create *p, char **r, struct err *e) { (void)eng; (void)p; (void)r; return NI(e); }
int engine_container_create_json(struct engine *eng, const char *n, json_t *b, char **r, struct err *e) { (void)eng; (void)n; (void)b; (void)r; return NI(e); }
int engine_container_start(struct engine *eng, const char *id, struct err *e) { (void)eng; (void)id; return NI(e); }
int engine_container_kill(struct engine *eng, const char *id, const char *s, struct err *e) { (void)eng; (void)id; (void)s; return NI(e); }
int engine_container_remove(struct engine *eng, const char *id, int f, int v, struct err *e) { (void)eng; (void)id; (void)f; (void)v; return NI(e); }
int engine_container_wait(struct engine *eng, const char *id, int t, int *c, struct err *e) { (void)eng; (void)id; (void)t; (void)c; return NI(e); }
int engine_container_list(struct engine *eng, const char *l, struct strv *r, struct err *e) { (void)eng; (void)l; (void)r; return NI(e); }
int engine_archive_put(struct engine *eng, const char *id, const char *d, engine_read_fn rd, void *a, struct err *e) { (void)eng; (void)id; (void)d; (void)rd; (void)a; return NI(e); }
int engine_archive_get(struct engine *eng, const char *id, const char *p, engine_write_fn wr, void *a, struct err *e) { (void)eng; (void)id; (void)p; (void)wr; (void)a; return NI(e); }
int engine_container_logs(struct engine *eng, const char *id, int f, engine_output_fn fn, void *a, struct err *e) { (void)eng; (void)id; (void)f; (void)fn; (void)a; return NI(e); }
int engine_archive_open(struct engine *eng, const char *id, const char *p, struct engine_stream **r, struct err *e) { (void)eng; (void)id; (void)p; (void)r; return NI(e); }
int engine_logs_open(struct engine *eng, const char *id, int f, engine_output_fn fn, void *a, struct engine_stream **r, struct err *e) { (void)eng; (void)id; (void)f; (void)fn; (void)a; (void)r; return NI(e); }
int engine_attach_open(struct engine *eng, const char *id, engine_output_fn fn, void *a, struct engine_stream **r, struct err *e) { (void)eng; (void)id; (void)fn; (void)a; (void)r; return NI(e); }
ssize_t engine_stream_read(void *s, void *b, size_t l, struct err *e) { (void)s; (void)b; (void)l; return NI(e); }
void engine_stream_free(struct engine_stream *s) { (void)s; }
int engine_commit(struct engine *eng, const struct engine_commit *c, char **r, struct err *e) { (void)eng; (void)c; (void)r; return NI(e); }
int engine_demux_feed(struct engine_demux *d, const void *data, size_t len, engine_output_fn fn, void *arg, struct err *e) { (void)d; (void)data; (void)len; (void)fn; (void)arg; return NI(e); }
int engine_demux_finish(const struct engine_demux *d, struct err *e) { (void)d; return NI(e); }
void engine_jsonstream_init(struct engine_jsonstream *js, engine_progress_fn fn, void *arg) { memset(js, 0, sizeof(*js)); buf_init(&js->pending, ENGINE_RESPONSE_MAX); js->fn = fn; js->arg = arg; }
int engine_jsonstream_feed(struct engine_jsonstream *js, const void *d, size_t l, struct err *e) { (void)js; (void)d; (void)l; return NI(e); }
int engine_jsonstream_finish(struct engine_jsonstream *js, struct err *e) { (void)js; return NI(e); }
void engine_jsonstream_release(struct engine_jsonstream *js) { buf_release(&js->pending); free(js->error); free(js->digest); js->error = js->digest = NULL; }
int engine_ref_split(const char *ref, char **n, char **t, struct err *e) { (void)ref; (void)n; (void)t; return NI(e); }
void engine_ref_registry(const char *ref, char *out, size_t n) { (void)ref; if (n) out[0] = 0; }
int engine_auth_header(json_t *c, const char *r, char **ret, struct err *e) { (void)c; (void)r; (void)ret; return NI(e); }
