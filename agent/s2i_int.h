/* s2i_int: what the s2i*.c files share and nobody else sees: a build's context (struct
 * s2i_ctx), its scripts, and the helpers of each phase. Include only from agent/s2i*.c. */
#ifndef S2I_S2I_INT_H
#define S2I_S2I_INT_H

#include <sys/types.h>

#include "engine.h"
#include "limits.h"
#include "s2i.h"
#include "srctar.h"
#include "tarx.h"

struct gitsrc;

/* The S2I scripts, in s2i_script_names' order. */
enum { SC_ASSEMBLE, SC_RUN, SC_SAVE_ARTIFACTS, SC_ASSEMBLE_RUNTIME, SC_N };

extern const char *const s2i_script_names[SC_N];

struct s2i_script {
	int found;
	int in_image;		/* run in place at path */
	char *path;		/* in_image: the path in the image */
	struct buf data;	/* else: the content, uploaded into <dir>/scripts/ */
	const char *from;	/* for the log */
	int from_source;	/* taken from the source's .s2i/bin */
};

/* Log output of one stream, cut into lines. */
struct s2i_lines {
	char line[LOG_LINE_MAX];
	size_t len;
};

struct s2i_ctx {
	const struct s2i_opts *o;
	struct s2i_result *r;
	s2i_log_fn log;
	void *log_arg;
	const volatile sig_atomic_t *cancel;
	struct engine *eng;
	struct gitsrc *src;
	char build_id[40];
	char *build_label;		/* "io.s2i-agent.build=<id>" */
	char *owner_label;		/* "io.s2i-agent.owner=<owner>" */
	struct strv containers;		/* every container created, removed at the end */
	struct engine_image builder;
	struct engine_image runtime;
	char *dest;
	char *user;			/* assemble user as given to the engine */
	long uid, gid;
	struct strv env;		/* build environment, "K=V" */
	struct s2i_script scripts[SC_N];
	struct strv meta_labels;	/* from image_metadata.json */
	struct strv injected;		/* files to truncate: absolute paths in the container */
	struct strv injected_src;	/* the host file of each */
	struct strv mappings;		/* runtime artifacts SRC:DST */
	struct s2i_lines out_lines, err_lines;
	char *prev_image;		/* id of the previous image of an incremental build */
	char *save_id;			/* its save-artifacts container, while it runs */
	struct engine_stream *save_st;	/* and that container's stdout, read (through a
					 * tarx filter) by the upload's writer thread: */
	struct engine *save_eng;	/* so on a handle of its own */
	int restore_failed;		/* that stream or its tar failed the upload */
	struct err restore_err;		/* why */
	struct tarx_stats restore_stats;	/* what it brought */
	int quiet_scripts;
	int timed_out;
	char *secrets_volume;		/* the volume at /run/secrets of assemble, or NULL */
	struct strv build_env;		/* build_env and build_env_file's, for assemble only */
};

/* s2i.c: the phase driver */
int s2i_canceled(const struct s2i_ctx *c);
/* n - 1 random hex digits (at most 16) and a NUL into out */
void s2i_random_id(char *out, size_t n);
/* Classifies an engine failure: canceled, timed out (a failed build), else errored. */
void s2i_engine_outcome(struct s2i_ctx *c);
/* srctar_fill_fn of the main upload: src/, scripts/, (with_artifacts) artifacts/ */
struct s2i_fill_main {
	struct s2i_ctx *c;
	int with_artifacts;
	struct tarx_filter *restore;	/* the previous image's artifacts, or NULL */
	int restore_failed;		/* reading them failed: the reason in restore_err */
	struct err restore_err;
};

int s2i_fill_main(struct srctar *t, void *arg, struct err *e);
/* Uploads src/, scripts/ and (with_artifacts) artifacts/ into the destination: with the
 * previous image's artifacts when save-artifacts runs (c->save_st), in the same tar. A
 * failure of those (c->restore_failed) leaves a container the build cannot use. */
int s2i_upload_source(struct s2i_ctx *c, const char *id, int with_artifacts, struct err *e);

/* s2i_log.c */
void s2i_step(struct s2i_ctx *c, enum s2i_log_kind kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void s2i_lines_flush(struct s2i_ctx *c);
int s2i_on_output(void *arg, int stream, const void *data, size_t len, struct err *e);
int s2i_on_progress(void *arg, const char *line, struct err *e);

/* s2i_scripts.c */
int s2i_read_local(const char *path, size_t max, struct buf *out, struct err *e);
int s2i_find_scripts(struct s2i_ctx *c, struct err *e);
const char *s2i_image_scripts_url(const struct engine_image *img);
/* s2i usage: the builder's usage script, from --scripts-url, else the image's label. */
int s2i_find_usage(struct s2i_ctx *c, struct s2i_script *ret, struct err *e);
/* srctar_fill_fn: that script (arg) as scripts/usage */
int s2i_fill_usage(struct srctar *t, void *arg, struct err *e);
char *s2i_script_path(struct s2i_ctx *c, int which, const char *dir);

/* Scripts only (for save-artifacts in the previous image, assemble-runtime/run in the
 * runtime image). mask selects them. */
struct s2i_fill_scripts {
	struct s2i_ctx *c;
	unsigned mask;
};

int s2i_fill_scripts(struct srctar *t, void *arg, struct err *e);

/* s2i_inject.c */
int s2i_build_env(struct s2i_ctx *c, struct err *e);
int s2i_inject(struct s2i_ctx *c, const char *id, struct err *e);
int s2i_truncate_injected(struct s2i_ctx *c, const char *id, struct err *e);

/* s2i_container.c */
int s2i_container_file(struct s2i_ctx *c, const char *id, const char *path, size_t max,
		       struct buf *out, struct err *e);
int s2i_resolve_user(struct s2i_ctx *c, const char *id, const char *user, long *ret_uid,
		     long *ret_gid, struct err *e);
int s2i_create(struct s2i_ctx *c, const char *image, const char *user, const char *cmd,
	       const struct strv *env, char **ret_id, struct err *e);
/* The same with a command of several words and binds instead of --volume's. */
int s2i_create_argv(struct s2i_ctx *c, const char *image, const char *user,
		    const char *const *argv, const struct strv *env, const struct strv *binds,
		    char **ret_id, struct err *e);
void s2i_remove_containers(struct s2i_ctx *c);
/* The cleanup handed to a process of its own (s2i_opts.detach_cleanup): in a session of
 * its own (the caller's Ctrl-C or a kill of its process group does not stop it halfway),
 * no output, no fd of the caller but /dev/null; it removes the build's containers and
 * secrets volume, then sweeps by the build's labels until none is left or
 * S2I_CLEANUP_DETACHED_TIMEOUT. 0: handed over (the lists are empty); -1: no such
 * process, the caller removes them itself. */
int s2i_cleanup_detach(struct s2i_ctx *c);
void s2i_drop_container(struct s2i_ctx *c, const char *id);
int s2i_run(struct s2i_ctx *c, const char *id, const char *what, int *ret_code, struct err *e);
int s2i_upload_opts(struct s2i_ctx *c, const char *id, const char *dir,
		    const struct srctar_opts *so, srctar_fill_fn fill, void *arg, struct err *e);
int s2i_upload(struct s2i_ctx *c, const char *id, const char *dir, srctar_fill_fn fill,
	       void *arg, struct err *e);

/* s2i_incremental.c */
int s2i_incremental_start(struct s2i_ctx *c, int *ret_on, struct err *e);
int s2i_incremental_finish(struct s2i_ctx *c, char **id, const char *assemble, int *incremental,
			   struct err *e);
void s2i_incremental_remove_prev(struct s2i_ctx *c);

/* s2i_commit.c */
int s2i_read_metadata(struct s2i_ctx *c, const char *id, struct err *e);
int s2i_commit(struct s2i_ctx *c, const char *id, const struct engine_image *base,
	       const char *run_cmd, struct err *e);
void s2i_callback(struct s2i_ctx *c, int success);
/* The labels of the image, "k=v" (s2i's build labels, OCI's, image_metadata.json's). */
void s2i_labels(struct s2i_ctx *c, struct strv *labels);

/* s2i_secrets.c: --build-env and --build-secret */
/* Names the build's volume when there is anything to hand over. */
int s2i_secrets_prepare(struct s2i_ctx *c, struct err *e);
/* The assemble container: with the volume mounted (and the variables read from it)
 * when there is one, else s2i_create. */
int s2i_create_assemble(struct s2i_ctx *c, const char *assemble, char **ret_id, struct err *e);
/* Into the volume through container id, owned by the assemble user, mode 0400. */
int s2i_secrets_upload(struct s2i_ctx *c, const char *id, struct err *e);
/* After the containers are gone. */
void s2i_secrets_remove(struct s2i_ctx *c);

/* s2i_dockerfile.c: --as-dockerfile */
/* What it cannot write (an incremental or runtime-image build, injections, build
 * secrets): refused before anything runs. */
int s2i_dockerfile_check(const struct s2i_opts *o, struct err *e);
/* The Dockerfile and its context (upload/src, upload/scripts) beside it. */
int s2i_dockerfile(struct s2i_ctx *c, struct err *e);

/* s2i_runtime.c */
int s2i_runtime_mappings(struct s2i_ctx *c, struct err *e);
int s2i_runtime_phase(struct s2i_ctx *c, const char *builder_id, struct err *e);
/* Who runs assemble-runtime: --assemble-runtime-user, else the runtime image's label
 * io.openshift.s2i.assemble-runtime-user, else its USER (as s2i). */
const char *s2i_runtime_user(const struct s2i_ctx *c);

#endif
