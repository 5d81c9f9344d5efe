/* s2i_incremental: an incremental build — save-artifacts in the previous image, its tar
 * restored into the builder container, the fallback to a clean build, --rm of that image. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s2i_int.h"
#include "tarx.h"

/* Starts save-artifacts in the previous image, its stdout (a tar) held in an attach
 * stream: it runs while the builder container is made, and the source upload carries
 * it into the builder container (s2i_upload_source). 0: started; -1: the
 * caller falls back to a clean build (after a cancel it stops). */
static int s2i_restore_start(struct s2i_ctx *c, struct err *e)
{
	const struct s2i_opts *o = c->o;
	struct engine_image prev = ENGINE_IMAGE_INIT;
	char *cmd = NULL;
	const char *user;
	int rc = -1;

	if (engine_image_ensure(c->eng, o->tag, o->incremental_pull_policy, s2i_on_progress, c, &prev, e) < 0) {
		s2i_engine_outcome(c);
		err_prefix(e, "no previous image");
		goto out;
	}
	if (!c->scripts[SC_SAVE_ARTIFACTS].found) {
		err_set(e, "no save-artifacts script");
		goto out;
	}
	free(c->prev_image);
	c->prev_image = xstrdup(prev.id);
	s2i_step(c, S2I_LOG_STEP, "--> saving artifacts of the previous image '%s' (%.19s)", o->tag, prev.id);
	/* s2i: the assemble user if given, else the previous image's user */
	user = o->assemble_user && *o->assemble_user ? c->user : prev.user;
	cmd = s2i_script_path(c, SC_SAVE_ARTIFACTS, c->dest);
	if (s2i_create(c, prev.id, user, cmd, &c->env, &c->save_id, e) < 0)
		goto out;
	if (!c->scripts[SC_SAVE_ARTIFACTS].in_image) {
		struct s2i_fill_scripts f = { c, 1u << SC_SAVE_ARTIFACTS };

		if (s2i_upload(c, c->save_id, c->dest, s2i_fill_scripts, &f, e) < 0)
			goto out;
	}
	/* its stdout is read by the upload's writer thread: on a handle of its own */
	engine_free(c->save_eng);
	c->save_eng = engine_dup(c->eng);
	if (engine_attach_open(c->save_eng, c->save_id, s2i_on_output, c, &c->save_st, e) < 0) {
		s2i_engine_outcome(c);
		goto out;
	}
	if (engine_container_start(c->eng, c->save_id, e) < 0) {
		s2i_engine_outcome(c);
		goto out;
	}
	rc = 0;
out:
	free(cmd);
	engine_image_release(&prev);
	return rc;
}

/* Drops the save-artifacts container and its stream. */
static void s2i_restore_end(struct s2i_ctx *c)
{
	s2i_lines_flush(c);
	engine_stream_free(c->save_st);
	c->save_st = NULL;
	engine_free(c->save_eng);
	c->save_eng = NULL;
	if (c->save_id)
		s2i_drop_container(c, c->save_id);
	free(c->save_id);
	c->save_id = NULL;
}

/* After the upload that carried save-artifacts' tar (through the defensive filter, into
 * <dest>/artifacts of the builder container): was it whole, and did save-artifacts exit
 * 0? 0: restored; -1: the caller falls back to a clean build (after a cancel it stops). */
static int s2i_restore_finish(struct s2i_ctx *c, struct err *e)
{
	int code = -1;

	s2i_lines_flush(c);
	if (c->restore_failed) {
		*e = c->restore_err;
		return -1;
	}
	if (engine_container_wait(c->eng, c->save_id, 0, &code, e) < 0) {
		s2i_engine_outcome(c);
		return -1;
	}
	if (code != 0)
		return err_set(e, "save-artifacts exited with code %d", code);
	s2i_step(c, S2I_LOG_STEP, "--> restored %llu artifact entries (%llu bytes)",
		 (unsigned long long)c->restore_stats.entries, (unsigned long long)c->restore_stats.bytes);
	return 0;
}

/* A failure after which not even a clean build is tried: a cancel, a timeout, or an
 * engine that is gone or does not answer. */
static int s2i_incremental_stop(struct s2i_ctx *c)
{
	return c->r->outcome == S2I_CANCELED || c->timed_out || engine_unreachable(c->eng);
}

/* Before the builder container: starts save-artifacts (*ret_on 1), else falls back to a
 * clean build with a warning (0, *ret_on 0). -1: the build stops. */
int s2i_incremental_start(struct s2i_ctx *c, int *ret_on, struct err *e)
{
	struct err ie = ERR_INIT;

	*ret_on = 0;
	if (s2i_restore_start(c, &ie) == 0) {
		*ret_on = 1;
		return 0;
	}
	if (s2i_incremental_stop(c)) {
		*e = ie;
		return -1;
	}
	s2i_step(c, S2I_LOG_WARN, "clean build will be performed: %s", ie.msg);
	s2i_restore_end(c);
	return 0;
}

/* After the upload into *id that carried the artifacts: when they failed the build goes
 * on clean (*incremental 0) in a fresh container, *id replaced, as the artifacts may be
 * half uploaded. -1: the build stops. */
int s2i_incremental_finish(struct s2i_ctx *c, char **id, const char *assemble, int *incremental,
			   struct err *e)
{
	struct err ie = ERR_INIT;

	if (s2i_restore_finish(c, &ie) < 0) {
		*incremental = 0;
		if (s2i_incremental_stop(c)) {
			*e = ie;
			return -1;
		}
		s2i_step(c, S2I_LOG_WARN, "clean build will be performed: %s", ie.msg);
		s2i_restore_end(c);
		s2i_drop_container(c, *id);
		free(*id);
		*id = NULL;
		if (s2i_create_assemble(c, assemble, id, e) < 0 ||
		    s2i_upload_source(c, *id, 0, e) < 0 || s2i_secrets_upload(c, *id, e) < 0)
			return -1;
	}
	s2i_restore_end(c);
	return 0;
}

/* --rm: the previous image goes once the new one is built (not when they are one). */
void s2i_incremental_remove_prev(struct s2i_ctx *c)
{
	struct err re = ERR_INIT;

	if (!c->o->rm || !c->prev_image || !strcmp(c->prev_image, c->r->image_id))
		return;
	if (engine_image_remove(c->eng, c->prev_image, 0, 1, &re) < 0)
		s2i_step(c, S2I_LOG_WARN, "cannot remove the previous image %.19s: %s", c->prev_image, re.msg);
	else
		s2i_step(c, S2I_LOG_STEP, "--> removed the previous image %.19s", c->prev_image);
}
