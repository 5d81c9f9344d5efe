/* s2i_runtime: the two-phase build's second half — the runtime image's artifact
 * mappings, the artifacts copied out of the builder container, assemble-runtime, commit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s2i_int.h"
#include "s2iparse.h"
#include "tarx.h"

/* Copies every runtime artifact out of the builder container into the runtime
 * container's WORKDIR/DST: archive download → tarx filter → archive upload, streamed. */
static int s2i_copy_artifacts(struct s2i_ctx *c, const char *from, const char *to, const char *workdir,
			      const struct strv *mappings, long uid, long gid, struct err *e)
{
	size_t i;

	for (i = 0; i < mappings->n; i++) {
		struct engine_stream *st = NULL;
		struct tarx_filter *f = NULL;
		struct tarx_opts to_opts = TARX_OPTS_INIT;
		struct tarx_stats stats = { 0, 0 };
		char *src = NULL, *dst = NULL, *prefix = NULL;
		int rc = -1;

		if (s2iparse_mapping(mappings->items[i], &src, &dst, e) < 0 ||
		    s2iparse_runtime_artifact_check(src, dst, e) < 0)
			goto next;
		/* "./x/" → "x"; "." → top of WORKDIR */
		prefix = xstrdup(dst);
		while (!strncmp(prefix, "./", 2))
			memmove(prefix, prefix + 2, strlen(prefix + 2) + 1);
		while (*prefix && prefix[strlen(prefix) - 1] == '/')
			prefix[strlen(prefix) - 1] = '\0';
		if (!strcmp(prefix, "."))
			prefix[0] = '\0';
		to_opts.prefix = *prefix ? prefix : NULL;
		to_opts.set_owner = 1;
		to_opts.uid = uid;
		to_opts.gid = gid;
		if (engine_archive_open(c->eng, from, src, &st, e) < 0) {
			s2i_engine_outcome(c);
			err_prefix(e, "cannot copy runtime artifact '%s'", src);
			goto next;
		}
		if (tarx_filter_open(engine_stream_read, st, &to_opts, &f, e) < 0)
			goto next;
		if (engine_archive_put(c->eng, to, workdir, tarx_filter_read, f, e) < 0) {
			s2i_engine_outcome(c);
			err_prefix(e, "cannot copy runtime artifact '%s' into '%s'", src, workdir);
			goto next;
		}
		tarx_filter_stats(f, &stats);
		s2i_step(c, S2I_LOG_STEP, "--> copied '%s' to '%s/%s' (%llu entries, %llu bytes)", src,
			 strcmp(workdir, "/") ? workdir : "", prefix, (unsigned long long)stats.entries,
			 (unsigned long long)stats.bytes);
		rc = 0;
next:
		tarx_filter_free(f);
		engine_stream_free(st);
		free(src);
		free(dst);
		free(prefix);
		if (rc < 0)
			return -1;
	}
	return 0;
}

const char *s2i_runtime_user(const struct s2i_ctx *c)
{
	const struct s2i_opts *o = c->o;
	const char *label = engine_image_label(&c->runtime, "io.openshift.s2i.assemble-runtime-user");

	if (o->assemble_runtime_user && *o->assemble_runtime_user)
		return o->assemble_runtime_user;
	return label && *label ? label : c->runtime.user;
}

int s2i_runtime_phase(struct s2i_ctx *c, const char *builder_id, struct err *e)
{
	const struct s2i_opts *o = c->o;
	const char *workdir = c->runtime.workdir && *c->runtime.workdir ? c->runtime.workdir : "/";
	const char *ruser = s2i_runtime_user(c);
	char *id = NULL, *cmd = NULL, *run = NULL;
	long uid = 0, gid = 0;
	int code = 0, rc = -1, has_assemble_runtime = c->scripts[SC_ASSEMBLE_RUNTIME].found;

	s2i_step(c, S2I_LOG_STEP, "--> runtime image '%s' (%.19s), WORKDIR %s", o->runtime_image,
		 c->runtime.id, workdir);
	cmd = has_assemble_runtime ? s2i_script_path(c, SC_ASSEMBLE_RUNTIME, workdir) : NULL;
	if (s2i_create(c, c->runtime.id, ruser, cmd, &c->env, &id, e) < 0)
		goto out;
	if (s2i_resolve_user(c, id, ruser ? ruser : "", &uid, &gid, e) < 0) {
		err_prefix(e, "runtime image '%s'", o->runtime_image);
		goto out;
	}
	if (s2i_copy_artifacts(c, builder_id, id, workdir, &c->mappings, uid, gid, e) < 0)
		goto out;
	if (!c->scripts[SC_RUN].in_image ||
	    (has_assemble_runtime && !c->scripts[SC_ASSEMBLE_RUNTIME].in_image)) {
		struct s2i_fill_scripts f = { c, (1u << SC_RUN) | (1u << SC_ASSEMBLE_RUNTIME) };
		long save_uid = c->uid, save_gid = c->gid;

		c->uid = uid;
		c->gid = gid;
		rc = s2i_upload(c, id, workdir, s2i_fill_scripts, &f, e);
		c->uid = save_uid;
		c->gid = save_gid;
		if (rc < 0)
			goto out;
		rc = -1;
	}
	if (has_assemble_runtime) {
		s2i_step(c, S2I_LOG_STEP, "--> running assemble-runtime as '%s'", ruser && *ruser ? ruser : "root");
		if (s2i_run(c, id, "assemble-runtime", &code, e) < 0)
			goto out;
		if (code != 0) {
			c->r->outcome = S2I_FAILED;
			c->r->exit_status = code;
			err_set(e, "assemble-runtime exited with code %d", code);
			goto out;
		}
	}
	run = s2i_script_path(c, SC_RUN, workdir);
	s2i_step(c, S2I_LOG_STEP, "--> committing the runtime container");
	rc = s2i_commit(c, id, &c->runtime, run, e);
out:
	free(id);
	free(cmd);
	free(run);
	return rc;
}

/* The runtime artifact mappings, from -a or the runtime image's label, checked before
 * any container runs. */
int s2i_runtime_mappings(struct s2i_ctx *c, struct err *e)
{
	const struct s2i_opts *o = c->o;
	size_t i;

	if (o->runtime_artifacts.n) {
		strv_copy(&c->mappings, &o->runtime_artifacts);
	} else {
		const char *label = engine_image_label(&c->runtime, "io.openshift.s2i.assemble-input-files");

		if (!label || !*label)
			return err_set(e, "no runtime artifacts to copy were specified (--runtime-artifact or "
				       "label io.openshift.s2i.assemble-input-files of '%s')", o->runtime_image);
		if (s2iparse_input_files(label, &c->mappings, e) < 0)
			return -1;
	}
	for (i = 0; i < c->mappings.n; i++) {
		char *src, *dst;
		int rc;

		if (s2iparse_mapping(c->mappings.items[i], &src, &dst, e) < 0)
			return -1;
		rc = s2iparse_runtime_artifact_check(src, dst, e);
		free(src);
		free(dst);
		if (rc < 0)
			return -1;
	}
	return 0;
}
