/* worker_build: a build's process, from taking a slot to its outcome on disk. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "buf.h"
#include "limits.h"
#include "log.h"
#include "worker_int.h"

static void worker_build_record(struct wproc *p);

static void worker_build_json_conf(const struct worker *w, const struct repo_conf *rc, json_t *job)
{
	const struct config *c = w->w_cfg;

	worker_set_str(job, "state_dir", c->state_dir);
	worker_set_str(job, "owner", w->w_owner);
	worker_set_str(job, "engine", c->engine);
	worker_set_str(job, "tls_ca", c->tls_ca);
	worker_set_str(job, "tls_cert", c->tls_cert);
	worker_set_str(job, "tls_key", c->tls_key);
	worker_set_str(job, "registry_auth_file", c->registry_auth_file);
	json_object_set_new(job, "build_timeout", json_integer(c->build_timeout));
	json_object_set_new(job, "repo", config_repo_to_json(rc));
}

struct wproc *worker_find_build(const struct worker *w, long long id)
{
	struct wproc *p;

	for (p = w->w_procs; p; p = p->p_next)
		if (p->p_kind == WK_BUILD && p->p_id == id)
			return p;
	return NULL;
}

int worker_repo_busy(const struct worker *w, const char *repo)
{
	struct wproc *p;

	for (p = w->w_procs; p; p = p->p_next)
		if (p->p_kind == WK_BUILD && !strcmp(p->p_repo, repo))
			return 1;
	return 0;
}

void worker_close_build(struct worker *w, const struct build *b, enum build_state state,
			const char *reason, struct evhttp_request *req)
{
	struct wop *o = worker_op_new(WOP_CLOSE, b->id);

	o->o_state = state;
	o->o_reason = xstrdup(reason);
	o->o_time = store_now_ms();
	o->o_req = req;
	o->o_log = worker_log_path(w, b->id);
	o->o_line = xasprintf("==> build %lld %s: %s", b->id, store_state_name(state), reason);
	worker_op_status(w, o, b->repo, b->sha, state, reason, 0);
	worker_op_submit(w, o);
}

void worker_cancel_proc(struct wproc *p, const char *reason)
{
	struct timeval tv = { KILL_GRACE_SECONDS, 0 };

	if (p->p_cancel_reason || p->p_exited)
		return;
	p->p_cancel_reason = xstrdup(reason);
	if (!p->p_pid)
		return;		/* not started yet: it will not be */
	worker_proc_signal(p, SIGTERM);
	/* it removes its containers and answers; if it does not, SIGKILL */
	evtimer_add(p->p_timer, &tv);
}

/* Marked running on disk first (WOP_START), then its process starts
 * (worker_build_spawn). */
void worker_build_start(struct worker *w, const struct build *b)
{
	struct wproc *p = worker_proc_new(w, WK_BUILD);
	struct wop *o;

	p->p_id = b->id;
	p->p_repo = xstrdup(b->repo);
	p->p_ref = xstrdup(b->ref ? b->ref : "");
	snprintf(p->p_sha, sizeof(p->p_sha), "%s", b->sha);
	p->p_provider = b->provider ? xstrdup(b->provider) : NULL;
	p->p_attempt = b->attempt;
	p->p_log = worker_log_path(w, b->id);
	w->w_running++;
	if (!worker_repo(w, b->repo)) {
		/* closed without running, through the same path as a build's end */
		p->p_error = xstrdup("the repository is no longer configured");
		p->p_exited = 1;
		worker_build_record(p);
		return;
	}
	o = worker_op_new(WOP_START, b->id);
	o->o_proc = p;
	o->o_log = xstrdup(p->p_log);
	worker_op_status(w, o, b->repo, b->sha, BUILD_RUNNING, NULL, 0);
	worker_op_submit(w, o);
}

/* The build is running on disk: starts its process; -1 with e set if it cannot. */
static int worker_build_spawn(struct wproc *p, struct err *e)
{
	struct worker *w = p->p_w;
	const struct repo_conf *rc = worker_repo(w, p->p_repo);
	struct wop *o;
	char idstr[32];
	json_t *job, *jb;
	int logfd, rv;

	if (!rc)
		return err_set(e, "the repository is no longer configured");
	logfd = open(p->p_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW |
		     (p->p_attempt == 0 ? O_TRUNC : 0), 0640);
	if (logfd < 0)
		return err_errno(e, "cannot open the build log '%s'", p->p_log);
	job = json_object();
	jb = json_object();
	json_object_set_new(jb, "id", json_integer(p->p_id));
	worker_set_str(jb, "repo", p->p_repo);
	worker_set_str(jb, "ref", p->p_ref);
	worker_set_str(jb, "sha", p->p_sha);
	json_object_set_new(jb, "attempt", json_integer(p->p_attempt + 1));
	worker_set_str(jb, "provider", p->p_provider);
	json_object_set_new(job, "build", jb);
	json_object_set_new(job, "parent", json_integer(getpid()));
	json_object_set_new(job, "log_max", json_integer(BUILD_LOG_MAX));
	worker_build_json_conf(w, rc, job);
	snprintf(idstr, sizeof(idstr), "%lld", p->p_id);
	p->p_timeout = w->w_cfg->build_timeout;
	rv = worker_proc_start(p, "__build", idstr, job, logfd,
			       p->p_timeout > 0 ? p->p_timeout + KILL_GRACE_SECONDS : 0, e);
	json_decref(job);
	close(logfd);
	if (rv < 0) {
		err_prefix(e, "cannot start the build process");
		return -1;
	}
	/* recovery uses it to kill an orphan; not worth waiting for */
	o = worker_op_new(WOP_PID, p->p_id);
	o->o_pid = p->p_pid;
	worker_op_submit(w, o);
	log_info("build %lld: started '%s' %s %.12s (pid %d, attempt %d)", p->p_id, p->p_repo,
		 p->p_ref, *p->p_sha ? p->p_sha : "(to resolve)", (int)p->p_pid,
		 p->p_attempt + 1);
	return 0;
}

void worker_build_final(struct wproc *p)
{
	struct worker *w = p->p_w;

	if (!p->p_exited || !p->p_landed)
		return;
	worker_proc_unlink(p);
	w->w_running--;
	worker_proc_free(p);
	worker_kick(w);
}

void worker_build_started(struct wproc *p, int rc)
{
	struct worker *w = p->p_w;
	struct err e = ERR_INIT;

	if (rc > 0) {
		log_debug("build %lld: no longer queued, not started", p->p_id);
		p->p_exited = 1;
		p->p_recorded = 1;
		p->p_landed = 1;
		worker_build_final(p);
		return;
	}
	p->p_started_ms = store_now_ms();
	if (w->w_stopping)
		p->p_requeue = 1;
	if (w->w_stopping || p->p_cancel_reason) {
		p->p_exited = 1;
		worker_build_record(p);
		return;
	}
	if (worker_build_spawn(p, &e) < 0) {
		p->p_error = xstrdup(e.msg);
		p->p_exited = 1;
		worker_build_record(p);
	}
}

/* {"sha": ...} once resolved, {"result": {...}} at the end. */
void worker_build_line(struct wproc *p, const char *line)
{
	struct worker *w = p->p_w;
	json_t *j = json_loads(line, 0, NULL), *v;
	const char *sha;
	struct wop *o;

	if (!j || !json_is_object(j)) {
		log_warn("build %lld: unexpected output from the build process", p->p_id);
		json_decref(j);
		return;
	}
	if ((sha = json_string_value(json_object_get(j, "sha"))) && strlen(sha) == 40 &&
	    !p->p_sha[0]) {
		snprintf(p->p_sha, sizeof(p->p_sha), "%s", sha);
		log_info("build %lld: %s resolved to %.12s", p->p_id, p->p_ref, sha);
		/* a manual build of a ref: its commit is known only now, so its
		 * statuses start now, with the same sequence as any other build */
		o = worker_op_new(WOP_SHA, p->p_id);
		snprintf(o->o_sha, sizeof(o->o_sha), "%s", sha);
		if (worker_status_want(w, p->p_repo, p->p_sha))
			o->o_st_queued = worker_status_desc(p->p_id, BUILD_QUEUED, NULL, 0);
		worker_op_status(w, o, p->p_repo, p->p_sha, BUILD_RUNNING, NULL, 0);
		worker_op_submit(w, o);
	}
	if ((v = json_object_get(j, "result")) && json_is_object(v) && !p->p_result) {
		p->p_result = json_incref(v);
		worker_build_record(p);
	}
	json_decref(j);
}

/* Decides the outcome: as soon as the result line arrives (the process may take a
 * moment more to exit), else once it exited without one; then writes it (WOP_FINISH
 * or WOP_REQUEUE). Until that is on disk the build keeps its slot and stays
 * `running` on disk; a refused write is kept and tried again (worker_op.c). */
static void worker_build_record(struct wproc *p)
{
	struct worker *w = p->p_w;
	enum build_state state = BUILD_ERRORED;
	const char *reason = NULL, *image = NULL, *image_id = NULL, *s;
	char why[ERR_MSG_MAX];
	long long now = store_now_ms(), dur;
	struct wop *o;
	int st;

	if (p->p_recorded)
		return;
	p->p_recorded = 1;
	if (p->p_result) {
		s = json_string_value(json_object_get(p->p_result, "outcome"));
		st = s ? store_state_parse(s) : -1;
		if (st >= 0 && store_state_final((enum build_state)st))
			state = (enum build_state)st;
		reason = json_string_value(json_object_get(p->p_result, "reason"));
		image = json_string_value(json_object_get(p->p_result, "image"));
		image_id = json_string_value(json_object_get(p->p_result, "image_id"));
		if (state == BUILD_CANCELED && p->p_cancel_reason)
			reason = p->p_cancel_reason;
		if (state != BUILD_SUCCEEDED)
			image_id = NULL;
	} else if (p->p_cancel_reason) {
		state = BUILD_CANCELED;
		reason = p->p_cancel_reason;
	} else if (p->p_error) {
		reason = p->p_error;
	} else if (WIFSIGNALED(p->p_wstatus)) {
		snprintf(why, sizeof(why), "build process died: signal %d", WTERMSIG(p->p_wstatus));
		reason = why;
	} else {
		snprintf(why, sizeof(why), "build process exited with status %d and no result",
			 WIFEXITED(p->p_wstatus) ? WEXITSTATUS(p->p_wstatus) : -1);
		reason = why;
	}
	if (p->p_timed_out) {
		state = BUILD_FAILED;
		snprintf(why, sizeof(why), "the build timed out after %lds", p->p_timeout);
		reason = why;
	}
	if (p->p_requeue && (state == BUILD_CANCELED || !p->p_result)) {
		log_info("build %lld: stopped, back in the queue for the next start", p->p_id);
		o = worker_op_new(WOP_REQUEUE, p->p_id);
		o->o_proc = p;
		o->o_reason = xstrdup("agent stopped during the build");
		o->o_log = xstrdup(p->p_log);
		o->o_line = xasprintf("==> build %lld interrupted: the agent is stopping; "
				      "it runs again at the next start", p->p_id);
		o->o_line_always = 1;
		worker_op_submit(w, o);
		return;
	}
	dur = p->p_started_ms ? now - p->p_started_ms : 0;
	o = worker_op_new(WOP_FINISH, p->p_id);
	o->o_proc = p;
	o->o_state = state;
	o->o_reason = reason ? xstrdup(reason) : NULL;
	o->o_image = image ? xstrdup(image) : NULL;
	o->o_image_id = image_id ? xstrdup(image_id) : NULL;
	o->o_time = now;
	o->o_log = xstrdup(p->p_log);
	o->o_line_always = 1;
	if (state == BUILD_SUCCEEDED) {
		worker_cleanup_now(w);		/* the engine answers again */
		log_info("build %lld: succeeded: %s %s in %.1fs", p->p_id,
			 image ? image : "(untagged)", image_id ? image_id : "", dur / 1000.0);
		o->o_line = xasprintf("==> build %lld succeeded in %.1fs: %s %s", p->p_id,
				      dur / 1000.0, image ? image : "(untagged)", image_id ? image_id : "");
	} else {
		log_info("build %lld: %s: %s", p->p_id, store_state_name(state),
			 reason ? reason : "(no reason)");
		o->o_line = xasprintf("==> build %lld %s: %s", p->p_id, store_state_name(state),
				      reason ? reason : "(no reason)");
	}
	worker_op_status(w, o, p->p_repo, p->p_sha, state, reason, dur);
	worker_op_submit(w, o);
}

void worker_build_exited(struct wproc *p)
{
	struct worker *w = p->p_w;
	json_t *left;

	worker_build_record(p);
	/* without a result (or killed), its containers may be left behind; with one, those
	 * it could not remove itself (the engine had stopped) are listed */
	left = p->p_result ? json_object_get(p->p_result, "containers") : NULL;
	if (p->p_pid > 0 && (!p->p_result || p->p_timed_out || p->p_killed) && !w->w_stopping)
		worker_cleanup_start(w, &p->p_id, 1, 0);
	else if (json_array_size(left) && !w->w_stopping)
		worker_cleanup_spawn(w, json_array(), json_deep_copy(left), 0);
	else if (json_array_size(left))
		worker_cleanup_keep(w, p->p_result);	/* stopping: removed at the next start */
	worker_build_final(p);
}
