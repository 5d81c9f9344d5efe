/* cmd_build_child: the hidden `__build ID`, one build of the daemon's queue */
/* The job (runner.h) names the commit and carries the repository's settings
 * (jobwire.h); the log goes to stderr (the build's log file), the result to stdout. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <git2.h>
#include <jansson.h>

#include "buf.h"
#include "cmds.h"
#include "config.h"
#include "engine.h"
#include "gitsrc.h"
#include "httpc.h"
#include "jobwire.h"
#include "limits.h"
#include "runner.h"
#include "s2i.h"

static volatile sig_atomic_t build_child_cancel;

static void build_child_on_signal(int sig)
{
	(void)sig;
	build_child_cancel = 1;
}

struct build_child_log {
	int fd;
	unsigned long long written, max;
	int full;
};

static void build_child_log_write(struct build_child_log *l, const char *prefix, const char *line,
				  size_t len)
{
	struct buf b = BUF_INIT(LOG_LINE_MAX + 64);

	if (l->full)
		return;
	buf_addstr(&b, prefix);
	buf_add(&b, line, len > LOG_LINE_MAX ? LOG_LINE_MAX : len);
	buf_addch(&b, '\n');
	if (l->written + b.len > l->max) {
		static const char cut[] = "==> the log is cut here: it reached its size limit\n";

		l->full = 1;
		if (write(l->fd, cut, sizeof(cut) - 1) < 0)
			l->fd = -1;
		buf_release(&b);
		return;
	}
	(void)xwrite_full(l->fd, b.data, b.len);	/* a log that cannot be written is not the build's failure */
	l->written += b.len;
	buf_release(&b);
}

static void build_child_logf(struct build_child_log *l, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void build_child_logf(struct build_child_log *l, const char *fmt, ...)
{
	char line[LOG_LINE_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	build_child_log_write(l, "", line, strlen(line));
}

static void build_child_on_log(void *arg, enum s2i_log_kind kind, const char *line, size_t len)
{
	build_child_log_write(arg, kind == S2I_LOG_WARN ? "warning: " : "", line, len);
}

static int build_child_pull(const char *v, enum pull_policy *ret, struct err *e)
{
	if (v && pull_policy_parse(v, ret) < 0)
		return err_set(e, "'%s': expected " PULL_POLICY_NAMES, v);
	return 0;
}

static char *build_child_sdup(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

/* Fills o from the job: the repository's settings of agent.conf (r, from the job's
 * "repo") and the agent's engine, registry and timeout. */
static int build_child_opts(const json_t *job, const struct repo_conf *r, const char *ref,
			    const char *sha, long long id, struct s2i_opts *o, struct err *e)
{
	const char *name = r->name;

	o->source = build_child_sdup(r->url);
	o->builder = build_child_sdup(r->builder);
	o->tag = runner_expand_tag(runner_tag_template(r, ref), name ? name : "", ref, sha, id);
	o->ref = ref && *ref ? xstrdup(ref) : NULL;
	o->sha = sha && *sha ? xstrdup(sha) : NULL;
	o->context_dir = build_child_sdup(r->context_dir);
	strv_copy(&o->env, &r->env);
	o->environment_file = build_child_sdup(r->environment_file);
	o->scripts_url = build_child_sdup(r->scripts_url);
	o->incremental = r->incremental;
	o->rm = r->rm;
	if (build_child_pull(r->pull_policy, &o->pull_policy, e) < 0 ||
	    build_child_pull(r->incremental_pull_policy, &o->incremental_pull_policy, e) < 0 ||
	    build_child_pull(r->runtime_pull_policy, &o->runtime_pull_policy, e) < 0)
		return -1;
	o->runtime_image = build_child_sdup(r->runtime_image);
	strv_copy(&o->runtime_artifacts, &r->runtime_artifacts);
	o->assemble_user = build_child_sdup(r->assemble_user);
	o->assemble_runtime_user = build_child_sdup(r->assemble_runtime_user);
	o->allowed_uids = build_child_sdup(r->allowed_uids);
	strv_copy(&o->inject, &r->inject);
	o->application_name = build_child_sdup(r->application_name);
	o->description = build_child_sdup(r->description);
	strv_copy(&o->exclude, &r->exclude);
	o->ignore_submodules = r->ignore_submodules;
	o->destination = build_child_sdup(r->destination);
	o->callback_url = build_child_sdup(r->callback_url);
	o->network = build_child_sdup(r->network);
	strv_copy(&o->cap_drop, &r->cap_drop);
	strv_copy(&o->volumes, &r->volume);
	strv_copy(&o->build_env, &r->build_env);
	o->build_env_file = build_child_sdup(r->build_env_file);
	strv_copy(&o->build_secrets, &r->build_secret_file);
	strv_copy(&o->add_hosts, &r->add_host);
	o->engine_url = runner_dup(job, "engine");
	o->engine_tls_ca = runner_dup(job, "tls_ca");
	o->engine_tls_cert = runner_dup(job, "tls_cert");
	o->engine_tls_key = runner_dup(job, "tls_key");
	o->push = r->push;
	o->build_id = xasprintf("%lld", id);
	o->owner = runner_dup(job, "owner");
	o->registry_auth_file = runner_dup(job, "registry_auth_file");
	o->timeout = (long)json_integer_value(json_object_get(job, "build_timeout"));
	if (gitsrc_is_url(o->source) && runner_str(job, "state_dir") && name)
		o->mirror_dir = xasprintf("%s/git/%s.git", runner_str(job, "state_dir"), name);
	o->git_token_file = build_child_sdup(r->git_token_file);
	o->ssh_key_file = build_child_sdup(r->ssh_key_file);
	o->known_hosts_file = build_child_sdup(r->known_hosts_file);
	if (!o->source || !o->builder)
		return err_set(e, "the repository has no url or no builder");
	return 0;
}

/* A manual build of a ref: the commit it names now, fetched into the mirror. */
static int build_child_resolve(const json_t *job, const struct repo_conf *r, const char *ref,
			       char *sha_out, struct err *e)
{
	struct gitsrc_opts go = GITSRC_OPTS_INIT;
	struct gitsrc *src = NULL;
	char *mirror = NULL;
	const char *url = r->url, *name = r->name;
	int rc = -1;

	if (!url)
		return err_set(e, "the repository has no url");
	if (gitsrc_is_url(url) && runner_str(job, "state_dir") && name)
		mirror = xasprintf("%s/git/%s.git", runner_str(job, "state_dir"), name);
	go.mirror_dir = mirror;
	go.token_file = r->git_token_file;
	go.ssh_key_file = r->ssh_key_file;
	go.known_hosts_file = r->known_hosts_file;
	go.ignore_submodules = 1;
	if (gitsrc_open(url, &go, &src, e) < 0 || gitsrc_resolve(src, ref, NULL, e) < 0) {
		err_prefix(e, "cannot resolve '%s' in '%s'", ref ? ref : "HEAD", url);
		goto out;
	}
	snprintf(sha_out, 41, "%s", gitsrc_info(src)->id);
	rc = 0;
out:
	gitsrc_free(src);
	free(mirror);
	return rc;
}

/* A pull/merge request from a fork runs code nobody of the repository reviewed
 * (s2i-agent.conf(5), pull_requests = all): it gets none of the files the
 * repository hands its builds (injections, volumes, build secrets and build
 * environment), no network, and its image is not pushed. */
static void build_child_untrusted(struct s2i_opts *o)
{
	strv_clear(&o->inject);
	strv_clear(&o->volumes);
	strv_clear(&o->build_env);
	strv_clear(&o->build_secrets);
	free(o->build_env_file);
	o->build_env_file = NULL;
	free(o->network);
	o->network = xstrdup("none");
	o->push = 0;
}

/* ---------- the image a build replaces ---------- */

static struct engine *build_child_engine(const struct s2i_opts *o, struct err *e)
{
	struct engine_tls tls = { o->engine_tls_ca, o->engine_tls_cert, o->engine_tls_key };

	return o->engine_tls_cert || o->engine_tls_ca ? engine_new(o->engine_url, &tls, e) :
		engine_new_from_env(o->engine_url, e);
}

/* The id of the image o->tag names before the build, into out ("" when none, or when
 * S2I did not build it: only what a build made is ever removed). */
static void build_child_tagged(const struct s2i_opts *o, char *out, size_t n)
{
	struct engine_image img = ENGINE_IMAGE_INIT;
	struct err e = ERR_INIT;
	struct engine *eng;

	out[0] = '\0';
	if (!o->tag || !(eng = build_child_engine(o, &e)))
		return;
	if (engine_image_inspect(eng, o->tag, &img, &e) == 0 && img.id &&
	    engine_image_label(&img, "io.openshift.s2i.build.image"))
		snprintf(out, n, "%s", img.id);
	engine_image_release(&img);
	engine_free(eng);
}

/* The images of this tag no tag names any more, made by an agent's build (its owner
 * label) with S2I: a build killed between its commit and removing the image it replaced
 * (a cancel not answered within KILL_GRACE_SECONDS while the engine committed) leaves
 * that image untagged, and one the agent killed during its commit leaves its own once
 * the engine finishes the commit anyway; no process of that build is left to remove
 * them, so the next build of the tag does. An image a container still uses is kept
 * (no force: the engine refuses). */
static void build_child_remove_untagged(struct build_child_log *l, struct engine *eng,
					const struct s2i_opts *o)
{
	struct strv ids = STRV_INIT;
	struct err e = ERR_INIT;
	char *display;
	const char *labels[4];
	size_t i, n = 0;

	if (!o->tag || !s2i_display_name(o))
		return;
	display = xasprintf("io.k8s.display-name=%s", s2i_display_name(o));
	labels[0] = display;
	labels[1] = S2I_OWNER_LABEL;
	labels[2] = "io.openshift.s2i.build.image";
	labels[3] = NULL;
	if (engine_image_list_untagged(eng, labels, &ids, &e) < 0)
		build_child_logf(l, "warning: cannot look for untagged images of '%s': %s", o->tag, e.msg);
	for (i = 0; i < ids.n; i++) {
		e.msg[0] = '\0';
		if (engine_image_remove(eng, ids.items[i], 0, 1, &e) < 0)
			build_child_logf(l, "--> kept the untagged image %.19s: %s", ids.items[i], e.msg);
		else
			n++;
	}
	if (n)
		build_child_logf(l, "--> removed %zu untagged image%s of '%s' an earlier build left",
				 n, n == 1 ? "" : "s", o->tag);
	strv_clear(&ids);
	free(display);
}

/* After the build, whatever its outcome (a build canceled after its commit moved the
 * tag too): the image the tag named before, now superseded, goes unless a container
 * or another tag still uses it (no force: the engine refuses those). An incremental
 * build took what it needed from it already; the next one starts from the new image.
 * Then what earlier builds of the tag left untagged, when the tag names an image. */
static void build_child_remove_replaced(struct build_child_log *l, const struct s2i_opts *o,
					const char *old, int succeeded)
{
	char now[80];
	struct err e = ERR_INIT;
	struct engine *eng;

	/* no image before and none made: nothing to ask the engine, which may be the
	 * reason the build ended (a frozen one holds each call for its limit) */
	if (!o->tag || (!old[0] && !succeeded))
		return;
	build_child_tagged(o, now, sizeof(now));
	if (!(eng = build_child_engine(o, &e))) {
		build_child_logf(l, "warning: cannot remove replaced images: %s", e.msg);
		return;
	}
	if (old[0] && now[0] && strcmp(old, now)) {
		if (engine_image_remove(eng, old, 0, 1, &e) < 0)
			build_child_logf(l, "--> kept the replaced image %.19s: %s", old, e.msg);
		else
			build_child_logf(l, "--> removed the replaced image %.19s", old);
	}
	/* an engine that could not say what the tag names now (down, or the tag gone)
	 * is not asked for the tag's untagged images either: the outcome line stays the
	 * log's last */
	if (now[0])
		build_child_remove_untagged(l, eng, o);
	engine_free(eng);
}

/* The mirror, repacked once fetches piled up packs in it (one per fetch). */
static void build_child_gc(struct build_child_log *l, const char *mirror)
{
	struct gitsrc_gc_stats st;
	struct err e = ERR_INIT;
	int rc;

	if (!mirror || access(mirror, F_OK) < 0)
		return;
	rc = gitsrc_gc(mirror, GITSRC_GC_PACKS, &st, &e);
	if (rc < 0)
		build_child_logf(l, "warning: cannot repack the mirror: %s", e.msg);
	else if (rc == 0)
		build_child_logf(l, "==> repacked the mirror: %u packs and %u loose objects, %llu -> %llu bytes",
				 st.packs, st.loose, (unsigned long long)st.bytes_before,
				 (unsigned long long)st.bytes_after);
}

static const char *build_child_outcome(enum s2i_outcome o)
{
	switch (o) {
	case S2I_SUCCEEDED: return "succeeded";
	case S2I_FAILED: return "failed";
	case S2I_CANCELED: return "canceled";
	default: return "errored";
	}
}

/* The result line ({"result": {...}}, runner.h), once: from s2i_build as soon as the
 * outcome is known (the agent records it and posts the status while this process still
 * removes the build's containers and the image it replaced), else at the end. */
struct build_child_out {
	int printed;
	struct build_child_log *log;	/* set: a failure's reason goes to the log first */
};

static json_t *build_child_left(const struct strv *left)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < left->n; i++)
		json_array_append_new(a, json_string(left->items[i]));
	return a;
}

static void build_child_result(void *arg, const struct s2i_result *r)
{
	struct build_child_out *out = arg;
	json_t *res;

	if (out->printed)
		return;
	out->printed = 1;
	if (out->log && r->outcome != S2I_SUCCEEDED)
		build_child_logf(out->log, "%s: %s", build_child_outcome(r->outcome), r->reason);
	res = json_object();
	json_object_set_new(res, "outcome", json_string(build_child_outcome(r->outcome)));
	if (r->reason[0])
		json_object_set_new(res, "reason", json_string(r->reason));
	if (r->image)
		json_object_set_new(res, "image", json_string(r->image));
	if (r->image_id[0])
		json_object_set_new(res, "image_id", json_string(r->image_id));
	if (r->commit[0])
		json_object_set_new(res, "sha", json_string(r->commit));
	/* for builds whose payload had none (hooks, manual builds) */
	if (r->commit_subject && *r->commit_subject)
		json_object_set_new(res, "message", json_string(r->commit_subject));
	if (r->commit_author && *r->commit_author)
		json_object_set_new(res, "author", json_string(r->commit_author));
	if (r->left.n)
		json_object_set_new(res, "containers", build_child_left(&r->left));
	runner_print(json_pack("{so}", "result", res));
}

int cmd_build_child(int argc, char **argv)
{
	struct build_child_log l = { STDERR_FILENO, 0, BUILD_LOG_MAX, 0 };
	struct build_child_out out = { 0 };
	struct s2i_opts o;
	struct s2i_result r;
	struct repo_conf *rc = NULL;
	struct err e = ERR_INIT;
	struct sigaction sa;
	const json_t *jb;
	json_t *job;
	const char *ref, *sha0;
	char sha[41] = "", replaced[80];
	long long id, parent;
	off_t size;

	(void)argv;
	runner_close_fds();
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = build_child_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	/* the agent starts us with them blocked: a cancel sent while we loaded is
	 * handled now (a result, so no cleanup process is needed) */
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGTERM);
	sigaddset(&sa.sa_mask, SIGINT);
	sigprocmask(SIG_UNBLOCK, &sa.sa_mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* the agent dying (kill -9) cancels the build, which removes its containers */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	job = runner_read_job("__build", argc, 2);
	if (!job)
		return 2;
	parent = json_integer_value(json_object_get(job, "parent"));
	if (parent && getppid() != (pid_t)parent)
		build_child_cancel = 1;
	if (json_integer_value(json_object_get(job, "log_max")) > 0)
		l.max = (unsigned long long)json_integer_value(json_object_get(job, "log_max"));
	size = lseek(STDERR_FILENO, 0, SEEK_END);
	if (size > 0)
		l.written = (unsigned long long)size;
	jb = json_object_get(job, "build");
	id = json_integer_value(json_object_get(jb, "id"));
	ref = runner_str(jb, "ref");
	sha0 = runner_str(jb, "sha");
	if (sha0)
		snprintf(sha, sizeof(sha), "%s", sha0);
	git_libgit2_init();
	httpc_global_init(NULL);	/* a failure shows at the first request */
	s2i_opts_init(&o);
	memset(&r, 0, sizeof(r));
	r.outcome = S2I_ERRORED;
	build_child_logf(&l, "==> build %lld of '%s' %s%s%s (attempt %lld)", id, runner_str(jb, "repo"),
			 ref ? ref : "", sha[0] ? " at " : "", sha,
			 json_integer_value(json_object_get(jb, "attempt")));
	if (jobwire_repo_from_json(json_object_get(job, "repo"), &rc, &e) < 0) {
		snprintf(r.reason, sizeof(r.reason), "%s", e.msg);
		build_child_logf(&l, "error: %s", e.msg);
		goto result;
	}
	if (!sha[0]) {
		build_child_logf(&l, "==> resolving %s", ref ? ref : "the default branch");
		if (build_child_resolve(job, rc, ref, sha, &e) < 0) {
			snprintf(r.reason, sizeof(r.reason), "%s", e.msg);
			build_child_logf(&l, "error: %s", e.msg);
			goto result;
		}
		runner_print(json_pack("{ss}", "sha", sha));
	}
	if (build_child_opts(job, rc, ref, sha, id, &o, &e) < 0) {
		snprintf(r.reason, sizeof(r.reason), "%s", e.msg);
		build_child_logf(&l, "error: %s", e.msg);
		goto result;
	}
	if (json_is_true(json_object_get(jb, "untrusted"))) {
		build_child_untrusted(&o);
		build_child_logf(&l, "==> a request from a fork: no injections, volumes, build "
				 "secrets, network or push");
	}
	build_child_logf(&l, "==> building %s with '%s' into '%s'", sha, o.builder, o.tag);
	if (build_child_cancel) {
		r.outcome = S2I_CANCELED;
		snprintf(r.reason, sizeof(r.reason), "the build was canceled");
		goto result;
	}
	build_child_tagged(&o, replaced, sizeof(replaced));
	o.on_outcome = build_child_result;
	o.on_outcome_arg = &out;
	out.log = &l;
	s2i_build(&o, build_child_on_log, &l, &build_child_cancel, &r, &e);
	/* the result went out before the containers were removed: those left follow */
	if (out.printed && r.left.n)
		runner_print(json_pack("{so}", "containers", build_child_left(&r.left)));
	build_child_remove_replaced(&l, &o, replaced, r.outcome == S2I_SUCCEEDED);
	build_child_gc(&l, o.mirror_dir);
result:
	build_child_result(&out, &r);
	s2i_result_release(&r);
	s2i_opts_release(&o);
	config_repo_free(rc);
	json_decref(job);
	httpc_global_cleanup();
	git_libgit2_shutdown();
	return 0;
}
