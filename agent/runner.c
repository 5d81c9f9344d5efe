/* runner: the daemon's child processes (worker.h): `__build ID` runs one build with
 * s2i.c, `__status` posts one commit status with forge.c, `__cleanup` removes containers. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <curl/curl.h>
#include <git2.h>
#include <jansson.h>

#include "buf.h"
#include "cmds.h"
#include "config.h"
#include "engine.h"
#include "forge.h"
#include "gitsrc.h"
#include "jobwire.h"
#include "limits.h"
#include "runner.h"
#include "s2i.h"

static volatile sig_atomic_t runner_cancel;

static void runner_on_signal(int sig)
{
	(void)sig;
	runner_cancel = 1;
}

/* Only the fds we were given stay open: a listening socket of the agent must not
 * outlive it in a build. */
static void runner_close_fds(void)
{
	close_range(3, ~0u, 0);
}

static json_t *runner_read_job(void)
{
	struct buf b = BUF_INIT(WORKER_JOB_MAX);
	char chunk[8192];
	json_t *j;
	ssize_t n;

	for (;;) {
		n = read(STDIN_FILENO, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (buf_add(&b, chunk, (size_t)n) < 0)
			break;
	}
	j = json_loadb(b.data, b.len, 0, NULL);
	buf_release(&b);
	if (j && !json_is_object(j)) {
		json_decref(j);
		j = NULL;
	}
	return j;
}

static void runner_print(json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT);

	json_decref(j);
	if (s) {
		printf("%s\n", s);
		fflush(stdout);
	}
	free(s);
}

static const char *runner_str(const json_t *o, const char *k)
{
	const char *v = json_string_value(json_object_get(o, k));

	return v && *v ? v : NULL;
}

static char *runner_dup(const json_t *o, const char *k)
{
	const char *v = runner_str(o, k);

	return v ? xstrdup(v) : NULL;
}

static void runner_strv(const json_t *o, const char *k, struct strv *out)
{
	const json_t *a = json_object_get(o, k), *v;
	size_t i;

	json_array_foreach(a, i, v)
		if (json_is_string(v))
			strv_push(out, json_string_value(v));
}

/* ---------- __build ---------- */

struct runner_log {
	int fd;
	unsigned long long written, max;
	int full;
};

static void runner_log_write(struct runner_log *l, const char *prefix, const char *line, size_t len)
{
	struct buf b = BUF_INIT(LOG_LINE_MAX + 64);
	const char *p;
	size_t off = 0;
	ssize_t n;

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
	p = b.data;
	while (off < b.len) {
		n = write(l->fd, p + off, b.len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	l->written += b.len;
	buf_release(&b);
}

static void runner_logf(struct runner_log *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void runner_logf(struct runner_log *l, const char *fmt, ...)
{
	char line[LOG_LINE_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	runner_log_write(l, "", line, strlen(line));
}

static void runner_on_log(void *arg, enum s2i_log_kind kind, const char *line, size_t len)
{
	runner_log_write(arg, kind == S2I_LOG_WARN ? "warning: " : "", line, len);
}

/* Appends v sanitized for an image reference: in the tag (after the name) the
 * characters [A-Za-z0-9_.-], in the name lowercase [a-z0-9._-]; others become '-'. */
static void runner_tag_value(struct buf *out, const char *v, int in_tag)
{
	size_t start = out->len;
	char c;

	for (; *v; v++) {
		c = *v;
		if (!in_tag && c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
		      c == '_' || (in_tag && c >= 'A' && c <= 'Z')))
			c = '-';
		if (in_tag && out->len == start && (c == '.' || c == '-'))
			c = '_';
		buf_addch(out, c);
	}
	if (in_tag && out->len - start > 128) {	/* the longest tag a registry takes */
		out->len = start + 128;
		out->data[out->len] = '\0';
	}
}

char *runner_expand_tag(const char *tmpl, const char *repo, const char *ref, const char *sha,
			long long id)
{
	struct buf out = BUF_INIT(4096);
	const char *slash = strrchr(tmpl, '/'), *colon, *p, *end;
	const char *branch = "", *tag = "";
	char idstr[32], short_sha[8];
	size_t tag_start = 0;
	ptrdiff_t tag_at;

	colon = strrchr(slash ? slash : tmpl, ':');
	tag_at = colon ? colon - tmpl : -1;
	if (ref) {
		if (!strncmp(ref, "refs/heads/", 11))
			branch = ref + 11;
		else if (!strncmp(ref, "refs/tags/", 10))
			branch = tag = ref + 10;
		else if (!strncmp(ref, "refs/", 5))
			branch = ref + 5;
		else
			branch = ref;
	}
	snprintf(idstr, sizeof(idstr), "%lld", id);
	snprintf(short_sha, sizeof(short_sha), "%.7s", sha ? sha : "");
	for (p = tmpl; *p; p++) {
		int in_tag = tag_at >= 0 && p - tmpl > tag_at;
		const char *v = NULL;

		if (p - tmpl == tag_at)
			tag_start = out.len + 1;
		if (*p == '{' && (end = strchr(p, '}'))) {
			size_t n = (size_t)(end - p - 1);

			if (n == 4 && !strncmp(p + 1, "repo", 4))
				v = repo;
			else if (n == 6 && !strncmp(p + 1, "branch", 6))
				v = branch;
			else if (n == 3 && !strncmp(p + 1, "tag", 3))
				v = tag;
			else if (n == 3 && !strncmp(p + 1, "sha", 3))
				v = sha ? sha : "";
			else if (n == 9 && !strncmp(p + 1, "short_sha", 9))
				v = short_sha;
			else if (n == 5 && !strncmp(p + 1, "build", 5))
				v = idstr;
			if (v) {
				runner_tag_value(&out, v, in_tag);
				p = end;
				continue;
			}
		}
		buf_addch(&out, *p);
	}
	if (tag_at >= 0 && out.len == tag_start)
		buf_addstr(&out, "latest");
	return buf_detach(&out, NULL);
}

static int runner_pull(const char *v, enum s2i_pull_policy *ret, struct err *e)
{
	return v ? s2i_pull_policy_parse(v, ret, e) : 0;
}

static char *runner_sdup(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

/* Fills o from the job: the repository's settings of agent.conf (r, from the job's
 * "repo") and the agent's engine, registry and timeout. */
static int runner_opts(const json_t *job, const struct repo_conf *r, const char *ref,
		       const char *sha, long long id, struct s2i_opts *o, struct err *e)
{
	const char *name = r->name;

	o->source = runner_sdup(r->url);
	o->builder = runner_sdup(r->builder);
	o->tag = runner_expand_tag(r->tag ? r->tag : CONFIG_DEFAULT_TAG, name ? name : "", ref, sha, id);
	o->ref = ref && *ref ? xstrdup(ref) : NULL;
	o->sha = sha && *sha ? xstrdup(sha) : NULL;
	o->context_dir = runner_sdup(r->context_dir);
	strv_copy(&o->env, &r->env);
	o->environment_file = runner_sdup(r->environment_file);
	o->scripts_url = runner_sdup(r->scripts_url);
	o->incremental = r->incremental;
	o->rm = r->rm;
	if (runner_pull(r->pull_policy, &o->pull_policy, e) < 0 ||
	    runner_pull(r->incremental_pull_policy, &o->incremental_pull_policy, e) < 0 ||
	    runner_pull(r->runtime_pull_policy, &o->runtime_pull_policy, e) < 0)
		return -1;
	o->runtime_image = runner_sdup(r->runtime_image);
	strv_copy(&o->runtime_artifacts, &r->runtime_artifacts);
	o->assemble_user = runner_sdup(r->assemble_user);
	o->assemble_runtime_user = runner_sdup(r->assemble_runtime_user);
	o->allowed_uids = runner_sdup(r->allowed_uids);
	strv_copy(&o->inject, &r->inject);
	o->application_name = runner_sdup(r->application_name);
	o->description = runner_sdup(r->description);
	strv_copy(&o->exclude, &r->exclude);
	o->ignore_submodules = r->ignore_submodules;
	o->destination = runner_sdup(r->destination);
	o->callback_url = runner_sdup(r->callback_url);
	o->network = runner_sdup(r->network);
	strv_copy(&o->cap_drop, &r->cap_drop);
	strv_copy(&o->volumes, &r->volume);
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
	o->git_token_file = runner_sdup(r->git_token_file);
	o->ssh_key_file = runner_sdup(r->ssh_key_file);
	o->known_hosts_file = runner_sdup(r->known_hosts_file);
	if (!o->source || !o->builder)
		return err_set(e, "the repository has no url or no builder");
	return 0;
}

/* A manual build of a ref: the commit it names now, fetched into the mirror. */
static int runner_resolve(const json_t *job, const struct repo_conf *r, const char *ref,
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

static const char *runner_outcome(enum s2i_outcome o)
{
	switch (o) {
	case S2I_SUCCEEDED: return "succeeded";
	case S2I_FAILED: return "failed";
	case S2I_CANCELED: return "canceled";
	default: return "errored";
	}
}

int cmd_build_child(int argc, char **argv)
{
	struct runner_log l = { STDERR_FILENO, 0, BUILD_LOG_MAX, 0 };
	struct s2i_opts o;
	struct s2i_result r;
	struct repo_conf *rc = NULL;
	struct err e = ERR_INIT;
	struct sigaction sa;
	const json_t *jb;
	json_t *job, *res;
	const char *ref, *sha0;
	char sha[41] = "";
	long long id, parent;
	off_t size;

	(void)argv;
	runner_close_fds();
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = runner_on_signal;
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
	job = runner_read_job();
	if (argc != 2 || !job) {
		fputs("s2i-agent __build: internal command of `s2i-agent serve`\n", stderr);
		json_decref(job);
		return 2;
	}
	parent = json_integer_value(json_object_get(job, "parent"));
	if (parent && getppid() != (pid_t)parent)
		runner_cancel = 1;
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
	curl_global_init(CURL_GLOBAL_DEFAULT);
	s2i_opts_init(&o);
	memset(&r, 0, sizeof(r));
	r.outcome = S2I_ERRORED;
	runner_logf(&l, "==> build %lld of '%s' %s%s%s (attempt %lld)", id, runner_str(jb, "repo"),
		    ref ? ref : "", sha[0] ? " at " : "", sha, 
		    json_integer_value(json_object_get(jb, "attempt")));
	if (jobwire_repo_from_json(json_object_get(job, "repo"), &rc, &e) < 0) {
		snprintf(r.reason, sizeof(r.reason), "%s", e.msg);
		runner_logf(&l, "error: %s", e.msg);
		goto result;
	}
	if (!sha[0]) {
		runner_logf(&l, "==> resolving %s", ref ? ref : "the default branch");
		if (runner_resolve(job, rc, ref, sha, &e) < 0) {
			snprintf(r.reason, sizeof(r.reason), "%s", e.msg);
			runner_logf(&l, "error: %s", e.msg);
			goto result;
		}
		runner_print(json_pack("{ss}", "sha", sha));
	}
	if (runner_opts(job, rc, ref, sha, id, &o, &e) < 0) {
		snprintf(r.reason, sizeof(r.reason), "%s", e.msg);
		runner_logf(&l, "error: %s", e.msg);
		goto result;
	}
	runner_logf(&l, "==> building %s with '%s' into '%s'", sha, o.builder, o.tag);
	if (runner_cancel) {
		r.outcome = S2I_CANCELED;
		snprintf(r.reason, sizeof(r.reason), "the build was canceled");
		goto result;
	}
	if (s2i_build(&o, runner_on_log, &l, &runner_cancel, &r, &e) < 0)
		runner_logf(&l, "%s: %s", runner_outcome(r.outcome), r.reason[0] ? r.reason : e.msg);
result:
	res = json_object();
	json_object_set_new(res, "outcome", json_string(runner_outcome(r.outcome)));
	if (r.reason[0])
		json_object_set_new(res, "reason", json_string(r.reason));
	if (r.image)
		json_object_set_new(res, "image", json_string(r.image));
	if (r.image_id[0])
		json_object_set_new(res, "image_id", json_string(r.image_id));
	if (r.commit[0])
		json_object_set_new(res, "sha", json_string(r.commit));
	if (r.left.n) {
		json_t *a = json_array();
		size_t i;

		for (i = 0; i < r.left.n; i++)
			json_array_append_new(a, json_string(r.left.items[i]));
		json_object_set_new(res, "containers", a);
	}
	runner_print(json_pack("{so}", "result", res));
	s2i_result_release(&r);
	s2i_opts_release(&o);
	config_repo_free(rc);
	json_decref(job);
	curl_global_cleanup();
	git_libgit2_shutdown();
	return 0;
}

/* ---------- __status ---------- */

int cmd_status_child(int argc, char **argv)
{
	struct forge_request r = FORGE_REQUEST_INIT;
	struct forge_answer a;
	struct err e = ERR_INIT;
	const char *oc;
	json_t *job;

	(void)argv;
	runner_close_fds();
	job = runner_read_job();
	if (argc != 1 || !job) {
		fputs("s2i-agent __status: internal command of `s2i-agent serve`\n", stderr);
		json_decref(job);
		return 2;
	}
	r.kind = (enum status_kind)json_integer_value(json_object_get(job, "kind"));
	r.url = runner_dup(job, "url");
	runner_strv(job, "headers", &r.headers);
	r.body = runner_dup(job, "body");
	r.state = runner_dup(job, "state");
	r.repo = runner_dup(job, "repo");
	r.token = runner_dup(job, "token");
	r.timeout = (long)json_integer_value(json_object_get(job, "timeout"));
	r.connect_timeout = (long)json_integer_value(json_object_get(job, "connect_timeout"));
	json_decref(job);
	if (!r.url || !r.body) {
		forge_request_release(&r);
		return 2;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	forge_post(&r, &a, &e);
	oc = a.outcome == FORGE_DONE ? "done" : a.outcome == FORGE_RETRY ? "retry" : "failed";
	runner_print(a.outcome == FORGE_DONE ?
		     json_pack("{sssI}", "outcome", oc, "http_code", (json_int_t)a.http_code) :
		     json_pack("{sssIsIss}", "outcome", oc, "http_code", (json_int_t)a.http_code,
			       "retry_after", (json_int_t)a.retry_after, "error", e.msg));
	forge_request_release(&r);
	curl_global_cleanup();
	return 0;
}

/* ---------- __cleanup ---------- */

int cmd_cleanup_child(int argc, char **argv)
{
	struct engine_tls tls;
	struct engine *eng = NULL;
	struct err e = ERR_INIT;
	const json_t *v;
	json_t *job;
	const char *owner;
	char bid[32];
	long long removed = 0;
	size_t i, unowned = 0;
	int failed = 0;

	(void)argv;
	runner_close_fds();
	job = runner_read_job();
	if (argc != 1 || !job) {
		fputs("s2i-agent __cleanup: internal command of `s2i-agent serve`\n", stderr);
		json_decref(job);
		return 2;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	tls.ca = runner_str(job, "tls_ca");
	tls.cert = runner_str(job, "tls_cert");
	tls.key = runner_str(job, "tls_key");
	eng = tls.cert || tls.ca ? engine_new(runner_str(job, "engine"), &tls, &e) :
		engine_new_from_env(runner_str(job, "engine"), &e);
	if (!eng) {
		failed = 1;
		goto out;
	}
	/* report before the worker's kill: a frozen engine makes each call wait its limit */
	engine_set_deadline(eng, engine_clock_ms() + (int64_t)RUNNER_CLEANUP_DEADLINE * 1000);
	/* by label: both this agent's owner and the build id (other agents on the engine
	 * number their builds from 1 too); without an owner, nothing is removed by label */
	owner = runner_str(job, "owner");
	json_array_foreach(json_object_get(job, "ids"), i, v) {
		size_t n = 0;

		if (!owner || !*owner)
			break;
		snprintf(bid, sizeof(bid), "%lld", (long long)json_integer_value(v));
		if (s2i_remove_build_containers(eng, bid, owner, &n, &e) < 0)
			failed = 1;
		removed += (long long)n;
		if (failed && (!n || engine_unreachable(eng)))
			break;		/* the engine is gone: the rest is tried again later */
	}
	if (json_is_true(json_object_get(job, "count_unowned")) && !failed &&
	    s2i_count_unowned(eng, &unowned, &e) < 0)
		unowned = 0;		/* only a notice: not worth a retry */
	/* containers a build named because it could not remove them itself */
	json_array_foreach(json_object_get(job, "containers"), i, v) {
		if (!json_is_string(v))
			continue;
		if (failed && engine_unreachable(eng))
			break;		/* no answer: one wait is enough, the rest later */
		if (engine_container_remove(eng, json_string_value(v), 1, 1, &e) < 0)
			failed = 1;
		else
			removed++;
	}
out:
	runner_print(failed ? json_pack("{sIss}", "removed", (json_int_t)removed, "error", e.msg) :
		     json_pack("{sIsI}", "removed", (json_int_t)removed,
			       "unowned", (json_int_t)unowned));
	engine_free(eng);
	json_decref(job);
	curl_global_cleanup();
	return 0;
}
