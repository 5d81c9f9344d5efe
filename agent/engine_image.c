/* engine_image: images on the engine: inspect, pull, push, tag, import, remove, commit.
 * A pull or push reads the engine's JSON message stream (engine_stream.c). */
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"

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

int engine_image_ensure(struct engine *eng, const char *ref, enum pull_policy policy, engine_progress_fn fn,
			void *arg, struct engine_image *ret, struct err *e)
{
	struct engine_image tmp = ENGINE_IMAGE_INIT, *img = ret ? ret : &tmp;

	if (policy != PULL_ALWAYS) {
		if (engine_image_inspect(eng, ref, img, e) == 0)
			goto found;
		if (eng->status != 404)
			return -1;
		if (policy == PULL_NEVER)
			return err_set(e, "image '%s' not found locally and pull policy is never; build or "
				       "pull it, or check the name", ref);
	}
	if (engine_image_pull(eng, ref, fn, arg, e) < 0) {
		/* the registry's own words ("dial tcp: lookup registry-1.docker.io") hide that
		 * the image was simply not there: say that first, keep them after */
		if (policy != PULL_ALWAYS && !engine_unreachable(eng) && !(eng->cancel && *eng->cancel)) {
			char why[ERR_MSG_MAX];

			snprintf(why, sizeof(why), "%s", e->msg);
			err_set(e, "image '%s' is not present locally; build or pull it, or check the name "
				"and registry_auth_file (pulling it failed: %s)", ref, why);
		}
		return -1;
	}
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

int engine_image_list_untagged(struct engine *eng, const char *const *labels, struct strv *ret_ids,
			       struct err *e)
{
	return engine_list_labelled(eng, "untagged images", "/images/json", NULL, "Id", labels, 1,
				    ret_ids, e);
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
	const volatile sig_atomic_t *cancel;
	const char *id;
	int rv = -1, rc;

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
	/* the engine copies the container's layer before it answers. A cancel does not
	 * hang up on it: the engine may finish a commit its client left (Docker 20.10
	 * does) and move the tag after the caller looked, so the image the tag named
	 * before could no longer be told superseded (the soak's leak of untagged images).
	 * The call's slow limit and the deadline still bound it. */
	cancel = eng->cancel;
	eng->cancel = NULL;
	rc = engine_call(eng, "POST", path.data, b, ENGINE_WAIT_SLOW, &j, e);
	eng->cancel = cancel;
	if (rc < 0)
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
