/* s2i: the S2I build (README "How builds run") as its phases over the Engine API — engine,
 * source, images, scripts, environment, upload, incremental restore, assemble, commit, push. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "gitsrc.h"
#include "s2i_int.h"
#include "s2iparse.h"

/* ---- options and results ---- */

void s2i_opts_init(struct s2i_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->env = (struct strv)STRV_INIT;
	o->runtime_artifacts = (struct strv)STRV_INIT;
	o->inject = (struct strv)STRV_INIT;
	o->exclude = (struct strv)STRV_INIT;
	o->cap_drop = (struct strv)STRV_INIT;
	o->volumes = (struct strv)STRV_INIT;
	o->build_env = (struct strv)STRV_INIT;
	o->build_secrets = (struct strv)STRV_INIT;
	o->add_hosts = (struct strv)STRV_INIT;
}

void s2i_opts_release(struct s2i_opts *o)
{
	char **strs[] = {
		&o->source, &o->builder, &o->tag, &o->ref, &o->sha, &o->context_dir,
		&o->environment_file, &o->scripts_url, &o->runtime_image, &o->assemble_user,
		&o->assemble_runtime_user, &o->allowed_uids, &o->application_name,
		&o->description, &o->destination, &o->callback_url, &o->network,
		&o->engine_url, &o->engine_tls_ca, &o->engine_tls_cert, &o->engine_tls_key,
		&o->build_id, &o->owner, &o->registry_auth_file, &o->mirror_dir, &o->git_token_file,
		&o->ssh_key_file, &o->known_hosts_file, &o->source_location, &o->commit_ref,
		&o->build_env_file, &o->as_dockerfile,
	};
	size_t i;

	for (i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		free(*strs[i]);
		*strs[i] = NULL;
	}
	strv_clear(&o->env);
	strv_clear(&o->runtime_artifacts);
	strv_clear(&o->inject);
	strv_clear(&o->exclude);
	strv_clear(&o->cap_drop);
	strv_clear(&o->volumes);
	strv_clear(&o->add_hosts);
	for (i = 0; i < o->build_env.n; i++)
		explicit_bzero(o->build_env.items[i], strlen(o->build_env.items[i]));
	strv_clear(&o->build_env);
	strv_clear(&o->build_secrets);
}

void s2i_result_release(struct s2i_result *r)
{
	free(r->image);
	r->image = NULL;
	free(r->push_digest);
	r->push_digest = NULL;
	free(r->commit_subject);
	r->commit_subject = NULL;
	free(r->commit_author);
	r->commit_author = NULL;
	strv_clear(&r->left);
}

int s2i_canceled(const struct s2i_ctx *c)
{
	return c->cancel && *c->cancel;
}

/* Classifies an engine failure: canceled, timed out (a failed build), else errored. */
void s2i_engine_outcome(struct s2i_ctx *c)
{
	int st = engine_status(c->eng);

	if (st == ENGINE_CANCELED || (c->cancel && *c->cancel)) {
		c->r->outcome = S2I_CANCELED;
	} else if (st == ENGINE_TIMED_OUT) {
		c->r->outcome = S2I_FAILED;
		c->timed_out = 1;
	}
}

void s2i_random_id(char *out, size_t n)
{
	unsigned char raw[8];
	size_t i;

	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		for (i = 0; i < sizeof(raw); i++)
			raw[i] = (unsigned char)((ts.tv_nsec >> (i * 3)) ^ (getpid() >> i));
	}
	for (i = 0; i < sizeof(raw) && 2 * i + 2 < n; i++)
		snprintf(out + 2 * i, 3, "%02x", raw[i]);
}

/* The main upload: src/, scripts/, artifacts/ (an empty directory owned by the
 * assemble user, filled from the previous image). */
int s2i_fill_main(struct srctar *t, void *arg, struct err *e)
{
	struct s2i_fill_main *f = arg;
	struct s2i_ctx *c = f->c;
	struct strv ex = STRV_INIT;
	int i, rc;

	/* s2i moves the scripts it takes from the source's .s2i/bin into scripts/: they are
	 * not in src/ (the rest of .s2i/bin is) */
	if (c->o->exclude.n)
		strv_copy(&ex, &c->o->exclude);
	else
		strv_push(&ex, SRCTAR_DEFAULT_EXCLUDE);
	for (i = 0; i < SC_N; i++)
		if (c->scripts[i].found && c->scripts[i].from_source)
			strv_pushf(&ex, "^\\.s2i/bin/%s$", s2i_script_names[i]);
	rc = srctar_add_source(t, "src", c->src, &ex, e);
	strv_clear(&ex);
	if (rc < 0)
		return -1;
	/* s2i's upload always has scripts/, even when every script is in the image */
	if (srctar_add_dirent(t, "scripts", 0755, e) < 0)
		return -1;
	for (i = 0; i < SC_N; i++) {
		const struct s2i_script *s = &c->scripts[i];
		char name[64];

		if (!s->found || s->in_image || i == SC_ASSEMBLE_RUNTIME)
			continue;
		snprintf(name, sizeof(name), "scripts/%s", s2i_script_names[i]);
		if (srctar_add_file(t, name, 0755, s->data.data, s->data.len, e) < 0)
			return -1;
	}
	/* s2i makes it as a private temporary directory */
	if (f->with_artifacts && srctar_add_dirent(t, "artifacts", 0700, e) < 0)
		return -1;
	/* then what save-artifacts streams, in the same tar: one upload, not two */
	if (f->restore && srctar_add_tar(t, tarx_filter_read, f->restore, &f->restore_failed, e) < 0) {
		if (f->restore_failed)
			f->restore_err = *e;
		return -1;
	}
	return 0;
}

int s2i_upload_source(struct s2i_ctx *c, const char *id, int with_artifacts, struct err *e)
{
	struct s2i_fill_main f = { c, with_artifacts, NULL, 0, ERR_INIT };
	struct tarx_opts to = TARX_OPTS_INIT;
	int rc;

	c->restore_failed = 0;
	if (with_artifacts && c->save_st) {
		to.prefix = "artifacts";
		to.set_owner = 1;
		to.uid = c->uid;
		to.gid = c->gid;
		if (tarx_filter_open(engine_stream_read, c->save_st, &to, &f.restore, e) < 0)
			return err_prefix(e, "cannot read the artifacts");
	}
	rc = s2i_upload(c, id, c->dest, s2i_fill_main, &f, e);
	if (f.restore)
		tarx_filter_stats(f.restore, &c->restore_stats);
	tarx_filter_free(f.restore);
	if (f.restore_failed) {
		c->restore_failed = 1;
		c->restore_err = f.restore_err;
		*e = f.restore_err;
	}
	if (rc < 0)
		return err_prefix(e, "cannot upload the source");
	return 0;
}

/* ---- the build ---- */

static int s2i_check_users(struct s2i_ctx *c, struct err *e)
{
	const struct s2i_opts *o = c->o;
	struct s2iparse_uidrange *ranges = NULL;
	size_t n = 0;
	int rc = -1;

	if (!o->allowed_uids || !*o->allowed_uids)
		return 0;
	if (s2iparse_uids(o->allowed_uids, &ranges, &n, e) < 0)
		return err_prefix(e, "--allowed-uids");
	if (o->assemble_user && *o->assemble_user) {
		if (s2iparse_user_allowed(ranges, n, o->assemble_user, "assemble user", e) < 0)
			goto out;
	} else if (s2iparse_user_allowed(ranges, n, c->user, o->assemble_user ? "assemble user" :
					  "builder image user", e) < 0) {
		goto out;
	}
	if (o->runtime_image) {
		const char *ru = s2i_runtime_user(c);

		if (s2iparse_user_allowed(ranges, n, ru ? ru : "", "runtime image user", e) < 0)
			goto out;
	}
	rc = 0;
out:
	free(ranges);
	return rc;
}

static int s2i_open_source(struct s2i_ctx *c, struct err *e)
{
	const struct s2i_opts *o = c->o;
	struct gitsrc_opts go = GITSRC_OPTS_INIT;

	go.mirror_dir = o->mirror_dir;
	go.context_dir = o->context_dir;
	go.token_file = o->git_token_file;
	go.ssh_key_file = o->ssh_key_file;
	go.known_hosts_file = o->known_hosts_file;
	go.ignore_submodules = o->ignore_submodules;
	if (gitsrc_open(o->source, &go, &c->src, e) < 0 ||
	    gitsrc_resolve(c->src, o->ref, o->sha, e) < 0)
		return err_prefix(e, "source '%s'", o->source);
	if (gitsrc_is_git(c->src)) {
		const struct gitsrc_info *gi = gitsrc_info(c->src);

		snprintf(c->r->commit, sizeof(c->r->commit), "%s", gi->id);
		free(c->r->commit_subject);
		c->r->commit_subject = xstrdup(gi->message);
		free(c->r->commit_author);
		/* "Name <email>": the name, as the forges' payloads give it */
		c->r->commit_author = xstrndup(gi->author, strstr(gi->author, " <") ?
					       (size_t)(strstr(gi->author, " <") - gi->author) :
					       strlen(gi->author));
		s2i_step(c, S2I_LOG_STEP, "--> source '%s' at %.12s (%s): %s", o->source, gi->id, gi->ref,
			 gi->message);
	} else {
		s2i_step(c, S2I_LOG_STEP, "--> source '%s' (directory)", o->source);
	}
	return 0;
}

/* The log's first line: which engine, which version, which API we speak with it
 * (the negotiation happens here, so an engine out of our API range fails first). */
static int s2i_engine_line(struct s2i_ctx *c, struct err *e)
{
	struct engine_version v;

	if (engine_version(c->eng, &v, e) < 0) {
		/* no engine listening yet: the source is fetched all the same (a build can
		 * wait for a starting engine), and the first call that needs it says why */
		if (engine_refused(c->eng) && !(c->cancel && *c->cancel)) {
			/* not the build's reason unless a later call fails the same way */
			engine_forget_failure(c->eng);
			*e = (struct err)ERR_INIT;
			return 0;
		}
		s2i_engine_outcome(c);
		return -1;
	}
	s2i_step(c, S2I_LOG_STEP, "--> engine %s %s at %s, API %s (it speaks %s to %s)", v.name, v.version,
		 engine_address(c->eng), v.api, v.server_min_api[0] ? v.server_min_api : "?", v.server_api);
	return 0;
}

/* The engine, with the build's cancel flag, deadline and registry auth. */
static int s2i_engine_open(struct s2i_ctx *c, struct err *e)
{
	const struct s2i_opts *o = c->o;
	struct engine_tls tls = { o->engine_tls_ca, o->engine_tls_cert, o->engine_tls_key };

	if (o->exclude.n && srctar_check_exclude(&o->exclude, e) < 0)
		return err_prefix(e, "--exclude");
	if (o->engine_tls_cert || o->engine_tls_ca)
		c->eng = engine_new(o->engine_url, &tls, e);
	else
		c->eng = engine_new_from_env(o->engine_url, e);
	if (!c->eng)
		return -1;
	engine_set_cancel(c->eng, c->cancel);
	if (o->timeout > 0)
		engine_set_deadline(c->eng, engine_clock_ms() + (int64_t)o->timeout * 1000);
	if (o->registry_auth_file && engine_set_registry_auth(c->eng, o->registry_auth_file, e) < 0)
		return -1;
	return s2i_engine_line(c, e);
}

/* The builder and runtime images, pulled as their policies say; from them the
 * destination and the assemble user, checked against --allowed-uids. */
static int s2i_images(struct s2i_ctx *c, struct err *e)
{
	const struct s2i_opts *o = c->o;
	const char *label_dest, *label_user;

	s2i_step(c, S2I_LOG_STEP, "--> builder image '%s' (pull policy %s)", o->builder,
		 pull_policy_name(o->pull_policy));
	if (engine_image_ensure(c->eng, o->builder, o->pull_policy, s2i_on_progress, c, &c->builder, e) < 0) {
		s2i_engine_outcome(c);
		return -1;
	}
	if (o->runtime_image) {
		s2i_step(c, S2I_LOG_STEP, "--> runtime image '%s' (pull policy %s)", o->runtime_image,
			 pull_policy_name(o->runtime_pull_policy));
		if (engine_image_ensure(c->eng, o->runtime_image, o->runtime_pull_policy, s2i_on_progress, c,
					&c->runtime, e) < 0) {
			s2i_engine_outcome(c);
			return -1;
		}
		if (s2i_runtime_mappings(c, e) < 0)
			return -1;
	}

	label_dest = engine_image_label(&c->builder, "io.openshift.s2i.destination");
	c->dest = xstrdup(o->destination && *o->destination ? o->destination :
			  label_dest && *label_dest ? label_dest : S2I_DEFAULT_DESTINATION);
	if (c->dest[0] != '/')
		return err_set(e, "destination '%s' is not an absolute path", c->dest);
	label_user = engine_image_label(&c->builder, "io.openshift.s2i.assemble-user");
	c->user = xstrdup(o->assemble_user && *o->assemble_user ? o->assemble_user :
			  label_user && *label_user ? label_user : c->builder.user ? c->builder.user : "");
	return s2i_check_users(c, e);
}

/* In the builder container id, source and artifacts in: the injections, assemble, the
 * injected files emptied, the labels assemble left. */
static int s2i_assemble(struct s2i_ctx *c, const char *id, const char *assemble, struct err *e)
{
	int code = 0;

	if (s2i_inject(c, id, e) < 0)
		return -1;
	s2i_step(c, S2I_LOG_STEP, "--> running %s as '%s'", assemble, *c->user ? c->user : "root");
	c->quiet_scripts = c->o->quiet;
	if (s2i_run(c, id, "assemble", &code, e) < 0)
		return -1;
	c->quiet_scripts = 0;
	if (code != 0) {
		c->r->outcome = S2I_FAILED;
		c->r->exit_status = code;
		return err_set(e, "assemble exited with code %d", code);
	}
	if (c->injected.n && s2i_truncate_injected(c, id, e) < 0)
		return -1;
	return s2i_read_metadata(c, id, e);
}

/* The image: the builder container committed, or the runtime phase's. */
static int s2i_image(struct s2i_ctx *c, const char *id, struct err *e)
{
	const struct s2i_opts *o = c->o;
	char *run;
	int rc;

	if (o->runtime_image) {
		if (s2i_runtime_phase(c, id, e) < 0)
			return -1;
	} else {
		run = s2i_script_path(c, SC_RUN, c->dest);
		s2i_step(c, S2I_LOG_STEP, "--> committing%s%s", o->tag ? " " : "", o->tag ? o->tag : "");
		rc = s2i_commit(c, id, &c->builder, run, e);
		free(run);
		if (rc < 0)
			return -1;
	}
	s2i_step(c, S2I_LOG_STEP, "--> built %s%s%s", o->tag ? o->tag : "", o->tag ? " " : "",
		 c->r->image_id);
	return 0;
}

/* --push */
static int s2i_push(struct s2i_ctx *c, struct err *e)
{
	const struct s2i_opts *o = c->o;
	char *digest = NULL;

	if (!o->push || !o->tag)
		return 0;
	s2i_step(c, S2I_LOG_STEP, "--> pushing %s", o->tag);
	if (engine_image_push(c->eng, o->tag, s2i_on_progress, c, &digest, e) < 0) {
		s2i_engine_outcome(c);
		return err_prefix(e, "cannot push '%s'", o->tag);
	}
	c->r->pushed = 1;
	c->r->push_digest = digest;
	s2i_step(c, S2I_LOG_STEP, "--> pushed %s%s%s", o->tag, digest ? " " : "", digest ? digest : "");
	return 0;
}

/* s2i usage: the builder's usage script in a container of the builder; its exit code
 * is the result's exit_status, non-zero a failure. */
static int s2i_do_usage(struct s2i_ctx *c, struct err *e)
{
	struct s2i_script us = { 0 };
	char *id = NULL, *path = NULL;
	int code = 0, rc = -1;

	buf_init(&us.data, S2I_SCRIPT_MAX);
	if (s2i_engine_open(c, e) < 0 || s2i_images(c, e) < 0 || s2i_find_usage(c, &us, e) < 0)
		goto out;
	path = us.in_image ? xstrdup(us.path) : xasprintf("%s/scripts/usage", c->dest);
	if (s2i_create(c, c->builder.id, c->user, path, &c->o->env, &id, e) < 0)
		goto out;
	if (!us.in_image) {
		if (s2i_resolve_user(c, id, c->user, &c->uid, &c->gid, e) < 0)
			goto out;
		if (s2i_upload(c, id, c->dest, s2i_fill_usage, &us, e) < 0)
			goto out;
	}
	if (s2i_run(c, id, "usage", &code, e) < 0)
		goto out;
	c->r->exit_status = code;
	if (code != 0) {
		c->r->outcome = S2I_FAILED;
		err_set(e, "usage exited with code %d", code);
		goto out;
	}
	rc = 0;
out:
	free(us.path);
	buf_release(&us.data);
	free(path);
	free(id);
	return rc;
}

static int s2i_do_build(struct s2i_ctx *c, struct err *e)
{
	const struct s2i_opts *o = c->o;
	char *id = NULL, *assemble = NULL;
	int rc = -1, incremental = 0;

	if (o->usage)
		return s2i_do_usage(c, e);
	if (o->as_dockerfile) {
		if (s2i_dockerfile_check(o, e) < 0 || s2i_engine_open(c, e) < 0 ||
		    s2i_open_source(c, e) < 0 || s2i_images(c, e) < 0 || s2i_find_scripts(c, e) < 0 ||
		    s2i_build_env(c, e) < 0)
			return -1;
		return s2i_dockerfile(c, e);
	}
	if (s2i_secrets_check(o, e) < 0 || s2i_engine_open(c, e) < 0 || s2i_open_source(c, e) < 0 ||
	    s2i_images(c, e) < 0 || s2i_find_scripts(c, e) < 0 || s2i_build_env(c, e) < 0 ||
	    s2i_secrets_prepare(c, e) < 0)
		return -1;

	assemble = s2i_script_path(c, SC_ASSEMBLE, c->dest);
	/* save-artifacts first: the previous image's container runs while the builder
	 * container is made and the source goes in */
	if (o->incremental && o->tag && s2i_incremental_start(c, &incremental, e) < 0)
		goto out;
	if (s2i_create_assemble(c, assemble, &id, e) < 0)
		goto out;
	if (s2i_resolve_user(c, id, c->user, &c->uid, &c->gid, e) < 0) {
		err_prefix(e, "builder image '%s'", o->builder);
		goto out;
	}
	/* the artifacts' failure is not the build's: it goes on clean, in a new container */
	if (s2i_upload_source(c, id, incremental, e) < 0 && !c->restore_failed)
		goto out;
	if (!c->restore_failed && s2i_secrets_upload(c, id, e) < 0)
		goto out;
	if (incremental && s2i_incremental_finish(c, &id, assemble, &incremental, e) < 0)
		goto out;
	c->r->incremental = incremental;

	if (s2i_assemble(c, id, assemble, e) < 0 || s2i_image(c, id, e) < 0)
		goto out;
	s2i_incremental_remove_prev(c);
	if (s2i_push(c, e) < 0)
		goto out;
	rc = 0;
out:
	free(id);
	free(assemble);
	return rc;
}

int s2i_build(const struct s2i_opts *o, s2i_log_fn log, void *log_arg,
	      const volatile sig_atomic_t *cancel, struct s2i_result *r, struct err *e)
{
	struct s2i_ctx c;
	int i, rc, callback;

	memset(r, 0, sizeof(*r));
	r->outcome = S2I_ERRORED;
	r->exit_status = -1;
	r->image = o->tag ? xstrdup(o->tag) : NULL;
	r->left = (struct strv)STRV_INIT;
	memset(&c, 0, sizeof(c));
	c.o = o;
	c.r = r;
	c.log = log;
	c.log_arg = log_arg;
	c.cancel = cancel;
	c.containers = (struct strv)STRV_INIT;
	c.env = (struct strv)STRV_INIT;
	c.meta_labels = (struct strv)STRV_INIT;
	c.injected = (struct strv)STRV_INIT;
	c.injected_src = (struct strv)STRV_INIT;
	c.mappings = (struct strv)STRV_INIT;
	c.build_env = (struct strv)STRV_INIT;
	c.builder = (struct engine_image)ENGINE_IMAGE_INIT;
	c.runtime = (struct engine_image)ENGINE_IMAGE_INIT;
	for (i = 0; i < SC_N; i++)
		buf_init(&c.scripts[i].data, S2I_SCRIPT_MAX);
	if (o->build_id && *o->build_id)
		snprintf(c.build_id, sizeof(c.build_id), "%s", o->build_id);
	else
		s2i_random_id(c.build_id, sizeof(c.build_id));
	c.build_label = xasprintf("%s=%s", S2I_BUILD_LABEL, c.build_id);
	if (o->owner && *o->owner) {
		c.owner_label = xasprintf("%s=%s", S2I_OWNER_LABEL, o->owner);
	} else {
		char owner[S2I_OWNER_MAX];

		s2i_random_id(owner, sizeof(owner));
		c.owner_label = xasprintf("%s=cli-%s", S2I_OWNER_LABEL, owner);
	}

	if (!o->builder || (!o->source && !o->usage)) {
		rc = err_set(e, "a source and a builder image are needed");
	} else {
		rc = s2i_do_build(&c, e);
	}
	engine_stream_free(c.save_st);
	c.save_st = NULL;
	engine_free(c.save_eng);
	c.save_eng = NULL;
	free(c.save_id);	/* still listed in c.containers: removed below */
	c.save_id = NULL;
	s2i_lines_flush(&c);
	if (rc == 0)
		r->outcome = S2I_SUCCEEDED;
	else if (cancel && *cancel)
		r->outcome = S2I_CANCELED;
	if (rc < 0 && c.timed_out)
		err_set(e, "the build timed out after %lds", o->timeout);
	if (rc < 0 && r->outcome == S2I_CANCELED)
		err_set(e, "the build was canceled");
	if (rc < 0 && r->outcome == S2I_ERRORED && engine_unreachable(c.eng)) {
		/* the engine first: a commit status shows ~140 characters of the reason */
		s2i_step(&c, S2I_LOG_STEP, "--> %s", e->msg);
		err_set(e, "%s", engine_unreachable(c.eng));
	}
	if (rc < 0)
		snprintf(r->reason, sizeof(r->reason), "%s", e->msg);
	/* the outcome is final: whoever waits for it need not wait for the cleanup */
	callback = o->callback_url && *o->callback_url && r->outcome != S2I_CANCELED;
	/* the CLI's result is its last line: its callback (and the line saying so) first */
	if (callback && o->detach_cleanup)
		s2i_callback(&c, rc == 0);
	if (o->on_outcome)
		o->on_outcome(o->on_outcome_arg, r);
	if (callback && !o->detach_cleanup)
		s2i_callback(&c, rc == 0);
	if (!o->detach_cleanup || r->outcome == S2I_CANCELED || s2i_cleanup_detach(&c) < 0)
		s2i_remove_containers(&c);
	s2i_secrets_remove(&c);

	for (i = 0; i < SC_N; i++) {
		free(c.scripts[i].path);
		buf_release(&c.scripts[i].data);
	}
	strv_clear(&c.env);
	strv_clear(&c.meta_labels);
	strv_clear(&c.injected);
	strv_clear(&c.injected_src);
	strv_clear(&c.mappings);
	engine_image_release(&c.builder);
	engine_image_release(&c.runtime);
	free(c.dest);
	free(c.user);
	free(c.prev_image);
	free(c.build_label);
	free(c.owner_label);
	gitsrc_free(c.src);
	engine_free(c.eng);
	return rc;
}
