/* engine_container: containers on the engine: create, start, kill, wait, remove, list.
 * Their output and files go through engine_stream.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine_int.h"

/* ---- containers ---- */

json_t *engine_json_strv(const char *const *v)
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
void engine_json_config(json_t *b, const char *const *cmd, const char *const *ep, int ep_set, const char *user,
			const char *workdir, const char *const *env, const char *const *labels)
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

int engine_volume_remove(struct engine *eng, const char *name, struct err *e)
{
	char *path;
	int rv;

	if (engine_check_name("volume name", name, e) < 0 || strchr(name, '/') || strchr(name, ':'))
		return err_set(e, "invalid volume name '%s'", name);
	path = xasprintf("/volumes/%s?force=1", name);
	rv = engine_call(eng, "DELETE", path, NULL, ENGINE_WAIT_SLOW, NULL, e);
	free(path);
	if (rv < 0 && eng->status == 404)
		return 0;
	if (rv < 0)
		err_prefix(e, "cannot remove volume '%s'", name);
	return rv;
}

int engine_volume_create(struct engine *eng, const char *name, const char *const *labels,
			 struct err *e)
{
	json_t *b = json_object(), *j = NULL;
	int rv;

	if (engine_check_name("volume name", name, e) < 0 || strchr(name, '/') || strchr(name, ':')) {
		json_decref(b);
		return err_set(e, "invalid volume name '%s'", name);
	}
	json_object_set_new(b, "Name", json_string(name));
	json_object_set_new(b, "Labels", engine_json_labels(labels));
	rv = engine_call(eng, "POST", "/volumes/create", b, ENGINE_WAIT_CALL, &j, e);
	json_decref(b);
	json_decref(j);
	if (rv < 0)
		err_prefix(e, "cannot create volume '%s'", name);
	return rv;
}

static char *engine_filter(const char *const *labels, int dangling);

/* The NAME_KEY of every object the engine lists at PATH?filters= (all of labels, and
 * with dangling only the images no tag names): ARRAY_KEY names the array in the
 * answer, NULL when the answer is the array. */
int engine_list_labelled(struct engine *eng, const char *what, const char *path,
			 const char *array_key, const char *name_key,
			 const char *const *labels, int dangling, struct strv *ret, struct err *e)
{
	json_t *j = NULL, *it;
	char *fs, *qf, *url;
	size_t i;
	int rv = -1;

	if (!labels || !labels[0])
		return err_set(e, "cannot list %s: no label to filter on", what);
	fs = engine_filter(labels, dangling);
	qf = engine_escape(fs);
	url = xasprintf("%s%sfilters=%s", path, strchr(path, '?') ? "&" : "?", qf);
	if (engine_call(eng, "GET", url, NULL, ENGINE_WAIT_CALL, &j, e) < 0) {
		err_prefix(e, "cannot list %s labelled '%s'%s", what, labels[0],
			   labels[1] ? " and more" : "");
		goto out;
	}
	json_array_foreach(array_key ? json_object_get(j, array_key) : j, i, it) {
		const char *name = json_string_value(json_object_get(it, name_key));

		if (name)
			strv_push(ret, name);
	}
	rv = 0;
out:
	json_decref(j);
	free(fs);
	free(qf);
	free(url);
	return rv;
}

int engine_volume_list(struct engine *eng, const char *const *labels, struct strv *ret_names,
		       struct err *e)
{
	/* {"Volumes": [...] or null, "Warnings": ...} */
	return engine_list_labelled(eng, "volumes", "/volumes", "Volumes", "Name", labels, 0,
				    ret_names, e);
}

/* Podman's compatible wait answers when the container's process has exited (libpod's
 * state "stopped"); its cleanup (conmon runs `podman container cleanup`: the runtime's
 * container deleted, the root filesystem unmounted; state "exited") comes after. An
 * archive GET or PUT in between finds the root still mounted, uses that mount without
 * holding it, and the cleanup unmounts it under the copy: the file read is missing,
 * the file written is lost. Podman's own API tells the two states apart (the
 * compatible inspect says "exited" for both), and its inspect takes the container's
 * lock, which the cleanup holds while it runs. Best effort: an engine that never
 * cleans up costs ENGINE_SETTLE_MS, then the copy is tried anyway. */
static void engine_container_settle(struct engine *eng, const char *id)
{
	struct timespec ts = { 0, ENGINE_SETTLE_POLL_MS * 1000000L };
	char *path = engine_container_path(id, "/json", NULL, NULL);
	int64_t until = engine_clock_ms() + ENGINE_SETTLE_MS;
	int status = eng->status;
	json_t *j = NULL;
	const char *st;
	char *lpath;

	if (!path)
		return;
	lpath = xasprintf("/libpod%s", path);
	while (engine_call(eng, "GET", lpath, NULL, ENGINE_WAIT_CALL, &j, NULL) == 0) {
		st = json_string_value(json_object_get(json_object_get(j, "State"), "Status"));
		if (!st || strcmp(st, "stopped") || engine_clock_ms() >= until)
			break;
		json_decref(j);
		j = NULL;
		nanosleep(&ts, NULL);
	}
	eng->status = status;
	json_decref(j);
	free(lpath);
	free(path);
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
	if (eng->ver.is_podman)
		engine_container_settle(eng, id);
	rv = 0;
out:
	if (rv < 0)
		err_prefix(e, "cannot wait for container %.12s", id ? id : "?");
	json_decref(j);
	free(path);
	buf_release(&answer);
	return rv;
}

static char *engine_filter(const char *const *labels, int dangling)
{
	json_t *f = json_object(), *a = json_array();
	char *fs;
	size_t i;

	if (dangling)
		json_object_set_new(f, "dangling", json_pack("[s]", "true"));
	for (i = 0; labels && labels[i]; i++)
		json_array_append_new(a, json_string(labels[i]));
	json_object_set_new(f, "label", a);
	fs = json_dumps(f, JSON_COMPACT);
	json_decref(f);
	if (!fs)
		abort();
	return fs;
}

char *engine_label_filter(const char *const *labels)
{
	return engine_filter(labels, 0);
}

int engine_container_list_all(struct engine *eng, const char *const *labels, struct strv *ret_ids,
			      struct err *e)
{
	return engine_list_labelled(eng, "containers", "/containers/json?all=1", NULL, "Id", labels, 0,
				    ret_ids, e);
}

int engine_container_list(struct engine *eng, const char *label, struct strv *ret_ids, struct err *e)
{
	const char *labels[2] = { label, NULL };

	return engine_container_list_all(eng, labels, ret_ids, e);
}
