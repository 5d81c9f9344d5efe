/* s2i: one Source-to-Image build through the Docker Engine API (README "How builds run"), compatible
 * with openshift/source-to-image builder images; `s2i-agent build` and the daemon's workers call it. */
#ifndef S2I_S2I_H
#define S2I_S2I_H

#include <signal.h>
#include <stddef.h>

#include "buf.h"
#include "err.h"
#include "pull.h"

/*
 * Use (the CLI; the pipeline does the same from a per-build child process):
 *	struct s2i_opts o;
 *	struct s2i_result r;
 *	s2i_opts_init(&o);
 *	o.source = "."; o.builder = "python:3.12"; o.tag = "app:latest"; ...
 *	rc = s2i_build(&o, log_line, NULL, &cancel_flag, &r, &e);
 *	... s2i_opts_release(&o); s2i_result_release(&r);
 * s2i_build returns 0 when an image was built (r.image_id set), else -1 with
 * r.outcome telling failed (a build script exited non-zero or timed out) from
 * errored (agent, git, engine, registry) or canceled, and the reason in e (also
 * copied to r.reason; o.on_outcome hears it before the cleanup). Every container it
 * created is removed before it returns (with o.detach_cleanup, by a process it leaves
 * behind), whatever happened; those the engine could not be asked to remove (it stopped) are
 * listed in r.left, for the caller to remove once it is back.
 */

struct s2i_result;

/* Every `s2i build` flag of s2i-agent(8) BUILD FLAGS (same meaning as in s2i), plus what a daemon needs.
 * Strings are owned (s2i_opts_release frees them); NULL = unset. */
struct s2i_opts {
	char *source;			/* SOURCE: directory, work tree, bare repo or git URL */
	char *builder;			/* BUILDER image */
	char *tag;			/* [TAG]: output image name; NULL: untagged */
	char *ref;			/* -r/--ref: branch, tag, refname or sha */
	char *sha;			/* daemon: the exact commit to build (gitsrc_resolve) */
	char *context_dir;		/* --context-dir */
	struct strv env;		/* -e/--env NAME=VALUE, repeatable, before -E's */
	char *environment_file;		/* -E/--environment-file: NAME=VALUE lines */
	char *scripts_url;		/* -s/--scripts-url: image://, file://, http(s):// */
	int incremental;		/* --incremental */
	int rm;				/* --rm: with --incremental, remove the previous image (s2i) */
	enum pull_policy pull_policy;		/* -p/--pull-policy, default if-not-present */
	enum pull_policy incremental_pull_policy;	/* default if-not-present */
	enum pull_policy runtime_pull_policy;	/* default if-not-present */
	char *runtime_image;		/* --runtime-image */
	struct strv runtime_artifacts;	/* -a/--runtime-artifact SRC:DST (SRC absolute, DST relative) */
	char *assemble_user;		/* --assemble-user */
	char *assemble_runtime_user;	/* --assemble-runtime-user */
	char *allowed_uids;		/* -u/--allowed-uids: "1-", "1000-2000,3000" */
	struct strv inject;		/* -i/--inject SRC:DST (host path : path in the image) */
	char *application_name;		/* -n/--application-name: io.k8s.display-name */
	char *description;		/* --description: io.k8s.description */
	struct strv exclude;		/* --exclude: POSIX extended regexes; empty: s2i's default (.git) */
	int ignore_submodules;		/* --ignore-submodules */
	char *destination;		/* -d/--destination: overrides io.openshift.s2i.destination */
	char *callback_url;		/* --callback-url: POST {"success":bool,"labels":{...}} */
	char *network;			/* --network: NetworkMode of every container; NULL: engine default */
	struct strv cap_drop;		/* --cap-drop (comma lists are split by the CLI) */
	struct strv volumes;		/* -v/--volume SRC:DST[:opts] (Binds) */
	struct strv add_hosts;		/* --add-host host:ip (ExtraHosts) */
	struct strv build_env;		/* --build-env NAME=VALUE: assemble's only, never the image's */
	struct strv build_secrets;	/* --build-secret NAME:PATH: /run/secrets/NAME during assemble */
	char *build_env_file;		/* daemon: more build_env, NAME=VALUE lines (as -E) */
	char *engine_url;		/* -U/--url; NULL: $DOCKER_HOST, else unix:///var/run/docker.sock */
	char *engine_tls_ca;		/* TLS to a tcp:// engine (daemon config tls_*) */
	char *engine_tls_cert;
	char *engine_tls_key;
	int push;			/* --push: push TAG after the build */
	int quiet;			/* -q/--quiet: no script output through the log callback */
	int usage;			/* s2i usage: run the builder's usage script, build nothing */
	char *as_dockerfile;		/* --as-dockerfile PATH: write a Dockerfile and context, build nothing */
	/* daemon/CLI extras */
	char *build_id;			/* value of the io.s2i-agent.build container label; NULL: random */
	char *owner;			/* value of the io.s2i-agent.owner container label; NULL: random */
	char *registry_auth_file;	/* docker config.json for pulls and pushes; NULL: none */
	long timeout;			/* seconds for the whole build; 0: none */
	char *mirror_dir;		/* gitsrc mirror of a URL source; NULL: temporary */
	char *git_token_file;		/* gitsrc credentials for URL sources */
	char *ssh_key_file;
	char *known_hosts_file;
	char *source_location;		/* label source-location instead of the URL/path given */
	char *commit_ref;		/* label commit.ref instead of the one gitsrc derives */
	/* Called once, as soon as the outcome is known (the image committed and pushed, or
	 * the build failed), before the cleanup: the build's containers and secrets volume
	 * removed, the callback sent. A caller that reports the outcome from here (the
	 * daemon's build process) does not make its reader wait for that cleanup; r->left
	 * is not known yet then. NULL: none. */
	void (*on_outcome)(void *arg, const struct s2i_result *r);
	void *on_outcome_arg;
	/* after on_outcome, the cleanup goes to a detached process (the CLI: its result
	 * is out, its caller need not wait for the removals); r->left stays empty then.
	 * Not after a cancel: that cleanup is waited for. The callback then comes before
	 * on_outcome (the CLI's result is its last line), else after it. */
	int detach_cleanup;
};

void s2i_opts_init(struct s2i_opts *o);
/* build_env's NAME=VALUE and build_secrets' NAME:PATH (a regular file, at most
 * S2I_SECRET_FILE_MAX bytes): s2i_build checks them first, a CLI may before. */
int s2i_secrets_check(const struct s2i_opts *o, struct err *e);
void s2i_opts_release(struct s2i_opts *o);
/* The io.k8s.display-name label of the image a build makes: the application name
 * when given, else the tag (NULL when neither). */
const char *s2i_display_name(const struct s2i_opts *o);

enum s2i_outcome {
	S2I_SUCCEEDED = 0,
	S2I_FAILED,	/* assemble (or assemble-runtime) exited non-zero, or the build timed out */
	S2I_ERRORED,	/* the agent, git, the engine or the registry failed */
	S2I_CANCELED,	/* *cancel was raised */
};

#define S2I_IMAGE_ID_MAX	80	/* "sha256:" + 64 hex */
#define S2I_SHA_MAX		48

struct s2i_result {
	enum s2i_outcome outcome;
	char image_id[S2I_IMAGE_ID_MAX];	/* "sha256:..." when succeeded */
	char *image;			/* the tag given (NULL when untagged) */
	char commit[S2I_SHA_MAX];	/* the commit built, "" for a plain directory */
	int exit_status;		/* the failing script's exit code; -1 if none ran or none failed */
	char reason[ERR_MSG_MAX];	/* why it did not succeed; "" on success */
	char *push_digest;		/* "sha256:..." of the pushed manifest, when pushed and known */
	int pushed;			/* 1 when --push succeeded */
	int incremental;		/* 1 when artifacts of the previous image were restored */
	char *commit_subject;		/* the commit's subject and author's name, NULL for */
	char *commit_author;		/* a plain directory */
	struct strv left;		/* containers it could not remove (the engine was gone) */
};

void s2i_result_release(struct s2i_result *r);

/* Where a log line comes from. */
enum s2i_log_kind {
	S2I_LOG_STEP,		/* the agent's own step lines ("pulling image 'x'") */
	S2I_LOG_WARN,		/* warnings (e.g. incremental fallback) */
	S2I_LOG_STDOUT,		/* a build script's stdout */
	S2I_LOG_STDERR,		/* a build script's stderr */
};

/* One line, without its newline (len excludes it; line is NUL terminated). Lines
 * longer than LOG_LINE_MAX are delivered in pieces. Called on the caller's thread as
 * output arrives. */
typedef void (*s2i_log_fn)(void *arg, enum s2i_log_kind kind, const char *line, size_t len);

/* Runs the build. log may be NULL. cancel may be NULL; when *cancel becomes non-zero
 * (a SIGINT/SIGTERM handler's flag) the engine call in progress aborts, the
 * containers are killed and removed, and -1 is returned with S2I_CANCELED. r is
 * always filled (release it). */
int s2i_build(const struct s2i_opts *o, s2i_log_fn log, void *log_arg,
	      const volatile sig_atomic_t *cancel, struct s2i_result *r, struct err *e);

struct engine;

/* The container labels every build container (and a build's secrets volume) carries: S2I_BUILD_LABEL=<build id> (README
 * "How builds run") and S2I_OWNER_LABEL=<owner>, who started the build: the daemon's instance id
 * (instance.h) or a random value per `s2i-agent build` run. Build ids are only unique
 * per agent (every agent numbers its builds from 1), so removal by label always filters on
 * both. Images an agent built carry both labels with an empty value (a commit keeps the
 * container's labels), so containers run from those images are never matched. */
#define S2I_BUILD_LABEL		"io.s2i-agent.build"
#define S2I_OWNER_LABEL		"io.s2i-agent.owner"
#define S2I_OWNER_MAX		40	/* room for an owner value and its NUL */

/* Removes the containers labelled S2I_BUILD_LABEL=build_id AND S2I_OWNER_LABEL=owner
 * (both non-empty, else nothing is removed and -1 returned), then the volumes so
 * labelled (a build's secrets). *ret_n (may be NULL): containers removed. */
int s2i_remove_build_containers(struct engine *eng, const char *build_id, const char *owner,
				size_t *ret_n, struct err *e);

/* Removes every container labelled S2I_OWNER_LABEL=owner (non-empty, else -1):
 * whatever build made it, then every volume so labelled. Only while none of owner's builds runs (the agent's
 * start, before its first build). *ret_n (may be NULL): containers removed. */
int s2i_remove_owned_containers(struct engine *eng, const char *owner, size_t *ret_n,
				struct err *e);

/* Counts containers of builds made before owner labels existed (a non-empty
 * S2I_BUILD_LABEL, no S2I_OWNER_LABEL): nobody can tell whose they are, so they are left
 * alone. */
int s2i_count_unowned(struct engine *eng, size_t *ret_n, struct err *e);

#endif
