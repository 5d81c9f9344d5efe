/* s2i_commit: the image — its labels (s2i's, OCI's, image_metadata.json's), the commit of
 * a container with them, and the --callback-url report of the result. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "gitsrc.h"
#include "httpc.h"
#include "s2i_int.h"
#include "s2iparse.h"

/* where assemble leaves labels for the image: s2i reads this path whatever the destination */
#define S2I_METADATA_PATH	"/tmp/.s2i/image_metadata.json"

static void s2i_label_set(struct strv *labels, const char *k, const char *v)
{
	size_t i, kl = strlen(k);

	if (!v || !*v)
		return;
	for (i = 0; i < labels->n; i++) {
		if (!strncmp(labels->items[i], k, kl) && labels->items[i][kl] == '=') {
			free(labels->items[i]);
			labels->items[i] = xasprintf("%s=%s", k, v);
			return;
		}
	}
	strv_pushf(labels, "%s=%s", k, v);
}

const char *s2i_display_name(const struct s2i_opts *o)
{
	return o->application_name && *o->application_name ? o->application_name : o->tag;
}

void s2i_labels(struct s2i_ctx *c, struct strv *labels)
{
	const struct s2i_opts *o = c->o;
	const char *display = s2i_display_name(o);
	char created[64];
	time_t now = time(NULL);
	struct tm tm;
	const char *location = o->source_location && *o->source_location ? o->source_location : NULL;
	char *builder;
	size_t i;

	gmtime_r(&now, &tm);
	strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", &tm);
	s2i_label_set(labels, "io.k8s.description", o->description);
	s2i_label_set(labels, "io.k8s.display-name", display);
	builder = s2iparse_image_name(o->builder);
	s2i_label_set(labels, "io.openshift.s2i.build.image", builder);
	free(builder);
	if (gitsrc_is_git(c->src)) {
		const struct gitsrc_info *gi = gitsrc_info(c->src);

		if (!location)
			location = gi->location;
		s2i_label_set(labels, "io.openshift.s2i.build.commit.author", gi->author);
		s2i_label_set(labels, "io.openshift.s2i.build.commit.date", gi->date);
		s2i_label_set(labels, "io.openshift.s2i.build.commit.id", gi->id);
		s2i_label_set(labels, "io.openshift.s2i.build.commit.ref",
			      o->commit_ref && *o->commit_ref ? o->commit_ref : gi->ref);
		s2i_label_set(labels, "io.openshift.s2i.build.commit.message", gi->message);
		s2i_label_set(labels, "org.opencontainers.image.revision", gi->id);
	}
	if (!location || !*location)
		location = o->source;
	s2i_label_set(labels, "io.openshift.s2i.build.source-location", location);
	s2i_label_set(labels, "io.openshift.s2i.build.source-context-dir", gitsrc_context_dir(c->src));
	s2i_label_set(labels, "org.opencontainers.image.source", location);
	s2i_label_set(labels, "org.opencontainers.image.created", created);
	for (i = 0; i < c->meta_labels.n; i++) {
		char *kv = xstrdup(c->meta_labels.items[i]), *eq = strchr(kv, '=');

		*eq = '\0';
		s2i_label_set(labels, kv, eq + 1);
		free(kv);
	}
	/* A commit keeps the container's labels; an empty value marks images (and the
	 * containers users run from them) as not ours to clean up, and keeps the owner
	 * (an agent's instance id) out of the image. */
	strv_pushf(labels, "%s=", S2I_BUILD_LABEL);
	strv_pushf(labels, "%s=", S2I_OWNER_LABEL);
}

int s2i_read_metadata(struct s2i_ctx *c, const char *id, struct err *e)
{
	struct buf b = BUF_INIT(METADATA_MAX);
	char *path = xstrdup(S2I_METADATA_PATH);
	int rc;

	rc = s2i_container_file(c, id, path, METADATA_MAX, &b, e);
	if (rc == 0) {
		rc = s2iparse_metadata_labels(b.data, b.len, &c->meta_labels, e);
		if (rc == 0)
			s2i_step(c, S2I_LOG_STEP, "--> %zu label%s from %s", c->meta_labels.n,
				 c->meta_labels.n == 1 ? "" : "s", path);
	} else if (rc == 1) {
		rc = 0;
	}
	free(path);
	buf_release(&b);
	return rc;
}

/* Commits container id with base's USER and ENTRYPOINT and run_cmd. */
int s2i_commit(struct s2i_ctx *c, const char *id, const struct engine_image *base,
	       const char *run_cmd, struct err *e)
{
	const struct s2i_opts *o = c->o;
	struct engine_commit cm = ENGINE_COMMIT_INIT;
	struct strv labels = STRV_INIT;
	const char *cmd[2] = { run_cmd, NULL };
	char *name = NULL, *tag = NULL, *image_id = NULL;
	size_t i, total = 0;
	int rc = -1;

	s2i_labels(c, &labels);
	for (i = 0; i < labels.n; i++)
		total += strlen(labels.items[i]);
	for (i = 0; i < base->label_keys.n; i++)
		total += strlen(base->label_keys.items[i]) + strlen(base->label_vals.items[i]);
	if (total > S2I_LABELS_MAX) {
		err_set(e, "the labels of the image take %zu bytes, more than %d", total, S2I_LABELS_MAX);
		goto out;
	}
	if (o->tag && engine_ref_split(o->tag, &name, &tag, e) < 0)
		goto out;
	cm.container = id;
	cm.repo = name;
	cm.tag = tag;
	cm.cmd = cmd;
	cm.entrypoint = (const char *const *)base->entrypoint.items;
	cm.entrypoint_set = 1;
	/* the base image's USER; an empty one keeps the container's (the assemble user), as
	 * s2i's commit does */
	if (base->user && *base->user)
		cm.user = base->user;
	cm.env = (const char *const *)c->env.items;
	cm.labels = (const char *const *)labels.items;
	if (engine_commit(c->eng, &cm, &image_id, e) < 0) {
		s2i_engine_outcome(c);
		err_prefix(e, "cannot commit the image");
		goto out;
	}
	snprintf(c->r->image_id, sizeof(c->r->image_id), "%s", image_id);
	/* a cancel that came while the engine committed: the image is made (and tagged),
	 * the build still ends canceled */
	if (s2i_canceled(c)) {
		s2i_step(c, S2I_LOG_STEP, "--> committed %.19s before the cancel took effect", image_id);
		c->r->outcome = S2I_CANCELED;
		err_set(e, "the build was canceled");
		goto out;
	}
	rc = 0;
out:
	free(image_id);
	free(name);
	free(tag);
	strv_clear(&labels);
	return rc;
}

void s2i_callback(struct s2i_ctx *c, int success)
{
	struct strv labels = STRV_INIT;
	json_t *body = json_object(), *lab = json_object();
	static char *const hdrs[] = { "Content-Type: application/json", NULL };
	struct httpc_req r = HTTPC_REQ_INIT;
	struct httpc_answer a = HTTPC_ANSWER_INIT;
	struct err he = ERR_INIT;
	char *text = NULL;
	size_t i;

	json_object_set_new(body, "success", json_boolean(success));
	if (success) {
		s2i_labels(c, &labels);
		for (i = 0; i < labels.n; i++) {
			char *eq = strchr(labels.items[i], '=');

			*eq = '\0';
			if (strcmp(labels.items[i], S2I_BUILD_LABEL) &&
			    strcmp(labels.items[i], S2I_OWNER_LABEL))
				json_object_set_new(lab, labels.items[i], json_string(eq + 1));
		}
	}
	json_object_set_new(body, "labels", lab);
	text = json_dumps(body, JSON_COMPACT);
	if (!text) {
		s2i_step(c, S2I_LOG_WARN, "cannot send the callback to '%s'", c->o->callback_url);
		goto out;
	}
	r.url = c->o->callback_url;
	r.body = text;
	r.headers = hdrs;
	r.timeout = S2I_HTTP_TIMEOUT;
	r.connect_timeout = ENGINE_CONNECT_TIMEOUT;
	r.body_max = S2I_CALLBACK_BODY_MAX;	/* the rest of a longer answer is dropped */
	if (httpc_perform(&r, &a, &he) < 0)
		s2i_step(c, S2I_LOG_WARN, "callback to '%s' failed: %s", c->o->callback_url, he.msg);
	else if (a.code < 200 || a.code > 299)
		s2i_step(c, S2I_LOG_WARN, "callback to '%s' answered HTTP %ld", c->o->callback_url, a.code);
	else
		s2i_step(c, S2I_LOG_STEP, "--> callback to '%s' sent", c->o->callback_url);
out:
	httpc_answer_release(&a);
	free(text);
	json_decref(body);
	strv_clear(&labels);
}
