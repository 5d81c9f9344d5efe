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
#include "jobwire.h"
#include "limits.h"
#include "log.h"
#include "runner.h"
#include "worker_int.h"

static void worker_build_record(struct wproc *p);

void worker_build_release(struct wproc_build *b)
{
	free(b->b_repo);
	free(b->b_ref);
	free(b->b_log);
	free(b->b_cancel_reason);
	free(b->b_provider);
	free(b->b_error);
	json_decref(b->b_result);
}

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
	json_object_set_new(job, "repo", jobwire_repo_to_json(rc));
}

struct wproc *worker_find_build(const struct worker *w, long long id)
{
	struct wproc *p;

	for (p = w->w_procs; p; p = p->p_next)
		if (p->p_kind == WK_BUILD && p->p_build.b_id == id)
			return p;
	return NULL;
}

int worker_repo_busy(const struct worker *w, const char *repo)
{
	struct wproc *p;

	for (p = w->w_procs; p; p = p->p_next)
		if ((p->p_kind == WK_BUILD && !strcmp(p->p_build.b_repo, repo)) ||
		    (p->p_kind == WK_MIRROR && !p->p_exited && !strcmp(p->p_mirror.m_repo, repo)))
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

	if (p->p_build.b_cancel_reason || p->p_exited)
		return;
	p->p_build.b_cancel_reason = xstrdup(reason);
	if (!p->p_pid)
		return;		/* not started yet: it will not be */
	worker_proc_signal(p, SIGTERM);
	/* it removes its containers and answers; if it does not, SIGKILL */
	evtimer_add(p->p_timer, &tv);
}

/* The image name the tag template makes of this ref, which the ref must own
 * (store_claim_tag, s2i-agent.conf(5) under tag); NULL when the ref adds nothing
 * to it (an explicit shared name such as {repo}:latest) or every build has a
 * name of its own ({build}). Commits are left out: a ref owns its names at any. */
static char *worker_build_tag_key(const struct repo_conf *rc, const char *repo, const char *ref)
{
	const char *t = runner_tag_template(rc, ref);

	if (!*ref || strstr(t, "{build}") ||
	    (!strstr(t, "{branch}") && !(strstr(t, "{pr}") && runner_pr_number(ref)) &&
	     !(strstr(t, "{tag}") && !strncmp(ref, "refs/tags/", 10))))
		return NULL;
	return runner_expand_tag(t, repo, ref, NULL, 0);
}

/* Marked running on disk first (WOP_START), then its process starts
 * (worker_build_spawn). */
void worker_build_start(struct worker *w, const struct build *b)
{
	struct wproc *p = worker_proc_new(w, WK_BUILD);
	struct wproc_build *wb = &p->p_build;
	struct wop *o;

	wb->b_id = b->id;
	wb->b_repo = xstrdup(b->repo);
	wb->b_ref = xstrdup(b->ref ? b->ref : "");
	snprintf(wb->b_sha, sizeof(wb->b_sha), "%s", b->sha);
	wb->b_provider = b->provider ? xstrdup(b->provider) : NULL;
	wb->b_attempt = b->attempt;
	wb->b_untrusted = b->untrusted;
	wb->b_log = worker_log_path(w, b->id);
	w->w_running++;
	if (!worker_repo(w, b->repo)) {
		/* closed without running, through the same path as a build's end */
		wb->b_error = xstrdup("the repository is no longer configured");
		p->p_exited = 1;
		worker_build_record(p);
		return;
	}
	o = worker_op_new(WOP_START, b->id);
	o->o_proc = p;
	o->o_log = xstrdup(wb->b_log);
	if ((o->o_image = worker_build_tag_key(worker_repo(w, b->repo), wb->b_repo, wb->b_ref))) {
		o->o_repo = xstrdup(wb->b_repo);
		o->o_ref = xstrdup(wb->b_ref);
	}
	worker_op_status(w, o, b->repo, b->sha, BUILD_RUNNING, NULL, 0);
	if (o->o_st_desc && store_shared(w->w_store))
		o->o_st_queued = worker_status_desc(b->id, BUILD_QUEUED, NULL, 0);
	worker_op_submit(w, o);
}

/* The build is running on disk: starts its process; -1 with e set if it cannot. */
static int worker_build_spawn(struct wproc *p, struct err *e)
{
	struct worker *w = p->p_w;
	struct wproc_build *wb = &p->p_build;
	const struct repo_conf *rc = worker_repo(w, wb->b_repo);
	struct wop *o;
	char idstr[32];
	json_t *job, *jb;
	int logfd, rv;

	if (!rc)
		return err_set(e, "the repository is no longer configured");
	logfd = open(wb->b_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW |
		     (wb->b_attempt == 0 ? O_TRUNC : 0), 0640);
	if (logfd < 0)
		return err_errno(e, "cannot open the build log '%s'", wb->b_log);
	job = json_object();
	jb = json_object();
	json_object_set_new(jb, "id", json_integer(wb->b_id));
	worker_set_str(jb, "repo", wb->b_repo);
	worker_set_str(jb, "ref", wb->b_ref);
	worker_set_str(jb, "sha", wb->b_sha);
	json_object_set_new(jb, "attempt", json_integer(wb->b_attempt + 1));
	worker_set_str(jb, "provider", wb->b_provider);
	if (wb->b_untrusted)
		json_object_set_new(jb, "untrusted", json_true());
	json_object_set_new(job, "build", jb);
	json_object_set_new(job, "parent", json_integer(getpid()));
	json_object_set_new(job, "log_max", json_integer(BUILD_LOG_MAX));
	worker_build_json_conf(w, rc, job);
	snprintf(idstr, sizeof(idstr), "%lld", wb->b_id);
	wb->b_timeout = w->w_cfg->build_timeout;
	rv = worker_proc_start(p, "__build", idstr, job, logfd,
			       wb->b_timeout > 0 ? wb->b_timeout + KILL_GRACE_SECONDS : 0, e);
	json_decref(job);
	close(logfd);
	if (rv < 0) {
		err_prefix(e, "cannot start the build process");
		return -1;
	}
	/* recovery uses it to kill an orphan; not worth waiting for */
	o = worker_op_new(WOP_PID, wb->b_id);
	o->o_pid = p->p_pid;
	o->o_fence = wb->b_fence;
	worker_op_submit(w, o);
	if (wb->b_fence)
		worker_lease_watch(w, wb->b_id, p->p_pid, wb->b_lease_from);
	log_info("build %lld: started '%s' %s %.12s (pid %d, attempt %d)", wb->b_id, wb->b_repo,
		 wb->b_ref, *wb->b_sha ? wb->b_sha : "(to resolve)", (int)p->p_pid,
		 wb->b_attempt + 1);
	return 0;
}

void worker_build_final(struct wproc *p)
{
	struct worker *w = p->p_w;

	if (!p->p_exited || !p->p_build.b_landed)
		return;
	worker_lease_unwatch(p);	/* its pid is free for another process now */
	worker_proc_unlink(p);
	w->w_running--;
	worker_proc_free(p);
	worker_kick(w);
	worker_keep_kick(w);
}

void worker_build_started(struct wproc *p, int rc)
{
	struct worker *w = p->p_w;
	struct wproc_build *wb = &p->p_build;
	struct err e = ERR_INIT;

	if (rc > 0) {
		log_debug("build %lld: no longer queued, not started", wb->b_id);
		p->p_exited = 1;
		wb->b_recorded = 1;
		wb->b_landed = 1;
		worker_build_final(p);
		return;
	}
	if (!wb->b_started_ms)	/* the time the database has (worker_op_start_run) */
		wb->b_started_ms = store_now_ms();
	worker_ship_begin(p);
	/* a cancel asked before it went back to the queue (its agent stopped, or was
	 * taken over) holds for this run too: it does not start */
	worker_cancel_sweep(w);
	if (w->w_stopping)
		wb->b_requeue = 1;
	if (w->w_stopping || wb->b_cancel_reason || wb->b_error) {	/* b_error: refused */
		p->p_exited = 1;
		worker_build_record(p);
		return;
	}
	if (worker_build_spawn(p, &e) < 0) {
		wb->b_error = xstrdup(e.msg);
		p->p_exited = 1;
		worker_build_record(p);
	}
}

/* {"sha": ...} once resolved, {"result": {...}} once the outcome is known, then
 * {"containers": [...]} if its cleanup left some. */
void worker_build_line(struct wproc *p, const char *line)
{
	struct worker *w = p->p_w;
	struct wproc_build *wb = &p->p_build;
	json_t *j = json_loads(line, 0, NULL), *v;
	const char *sha;
	struct wop *o;

	if (!j || !json_is_object(j)) {
		log_warn("build %lld: unexpected output from the build process", wb->b_id);
		json_decref(j);
		return;
	}
	if ((sha = json_string_value(json_object_get(j, "sha"))) && strlen(sha) == 40 &&
	    !wb->b_sha[0]) {
		snprintf(wb->b_sha, sizeof(wb->b_sha), "%s", sha);
		log_info("build %lld: %s resolved to %.12s", wb->b_id, wb->b_ref, sha);
		/* a manual build of a ref: its commit is known only now, so its
		 * statuses start now, with the same sequence as any other build */
		o = worker_op_new(WOP_SHA, wb->b_id);
		o->o_fence = wb->b_fence;
		snprintf(o->o_sha, sizeof(o->o_sha), "%s", sha);
		if (worker_status_want(w, wb->b_repo, wb->b_sha))
			o->o_st_queued = worker_status_desc(wb->b_id, BUILD_QUEUED, NULL, 0);
		worker_op_status(w, o, wb->b_repo, wb->b_sha, BUILD_RUNNING, NULL, 0);
		worker_op_submit(w, o);
	}
	if ((v = json_object_get(j, "result")) && json_is_object(v) && !wb->b_result) {
		wb->b_result = json_incref(v);
		worker_build_record(p);
	}
	/* after the result: the containers its cleanup could not remove (worker_build_exited) */
	if ((v = json_object_get(j, "containers")) && json_is_array(v) && wb->b_result)
		json_object_set(wb->b_result, "containers", v);
	json_decref(j);
}

/* Decides the outcome: as soon as the result line arrives (the process may take a
 * moment more to exit), else once it exited without one; then writes it (WOP_FINISH
 * or WOP_REQUEUE). Until that is on disk the build keeps its slot and stays
 * `running` on disk; a refused write is kept and tried again (worker_op.c). */
static void worker_build_record(struct wproc *p)
{
	struct worker *w = p->p_w;
	struct wproc_build *wb = &p->p_build;
	enum build_state state = BUILD_ERRORED;
	const char *reason = NULL, *image = NULL, *image_id = NULL, *s;
	char why[ERR_MSG_MAX];
	long long now = store_now_ms(), dur;
	struct wop *o;
	int st;

	if (wb->b_recorded || worker_lease_unwatch(p))
		return;
	wb->b_recorded = 1;
	if (wb->b_result) {
		s = json_string_value(json_object_get(wb->b_result, "outcome"));
		st = s ? store_state_parse(s) : -1;
		if (st >= 0 && store_state_final((enum build_state)st))
			state = (enum build_state)st;
		reason = json_string_value(json_object_get(wb->b_result, "reason"));
		image = json_string_value(json_object_get(wb->b_result, "image"));
		image_id = json_string_value(json_object_get(wb->b_result, "image_id"));
		if (state == BUILD_CANCELED && wb->b_cancel_reason)
			reason = wb->b_cancel_reason;
		if (state != BUILD_SUCCEEDED)
			image_id = NULL;
	} else if (wb->b_cancel_reason) {
		state = BUILD_CANCELED;
		reason = wb->b_cancel_reason;
	} else if (wb->b_error) {
		reason = wb->b_error;
	} else if (WIFSIGNALED(p->p_wstatus)) {
		snprintf(why, sizeof(why), "build process died: signal %d", WTERMSIG(p->p_wstatus));
		reason = why;
	} else {
		snprintf(why, sizeof(why), "build process exited with status %d and no result",
			 WIFEXITED(p->p_wstatus) ? WEXITSTATUS(p->p_wstatus) : -1);
		reason = why;
	}
	if (wb->b_timed_out) {
		state = BUILD_FAILED;
		snprintf(why, sizeof(why), "the build timed out after %lds", wb->b_timeout);
		reason = why;
	}
	if (wb->b_requeue && (state == BUILD_CANCELED || !wb->b_result)) {
		log_info("build %lld: stopped, back in the queue for the next start", wb->b_id);
		o = worker_op_new(WOP_REQUEUE, wb->b_id);
		o->o_proc = p;
		o->o_fence = wb->b_fence;
		o->o_reason = xstrdup("agent stopped during the build");
		o->o_log = xstrdup(wb->b_log);
		o->o_line = xasprintf("==> build %lld interrupted: the agent is stopping; "
				      "it runs again at the next start", wb->b_id);
		o->o_line_always = 1;
		worker_ship_op(wb, o);
		worker_op_submit(w, o);
		return;
	}
	dur = wb->b_started_ms ? now - wb->b_started_ms : 0;
	o = worker_op_new(WOP_FINISH, wb->b_id);
	o->o_proc = p;
	o->o_fence = wb->b_fence;
	o->o_state = state;
	o->o_reason = reason ? xstrdup(reason) : NULL;
	o->o_image = image ? xstrdup(image) : NULL;
	o->o_image_id = image_id ? xstrdup(image_id) : NULL;
	if (wb->b_result) {
		s = json_string_value(json_object_get(wb->b_result, "message"));
		o->o_build.message = s && *s ? xstrndup(s, WEBHOOK_MESSAGE_MAX) : NULL;
		s = json_string_value(json_object_get(wb->b_result, "author"));
		o->o_build.author = s && *s ? xstrndup(s, WEBHOOK_FIELD_MAX) : NULL;
	}
	o->o_time = now;
	o->o_log = xstrdup(wb->b_log);
	o->o_line_always = 1;
	if (state == BUILD_SUCCEEDED) {
		worker_cleanup_now(w);		/* the engine answers again */
		/* tenths rounded half up from the ms the database keeps: what the
		 * dashboard shows for duration_ms */
		log_info("build %lld: succeeded: %s %s in %lld.%llds", wb->b_id,
			 image ? image : "(untagged)", image_id ? image_id : "",
			 (long long)(dur + 50) / 1000, (long long)(dur + 50) / 100 % 10);
		o->o_line = xasprintf("==> build %lld succeeded in %lld.%llds: %s %s", wb->b_id,
				      (long long)(dur + 50) / 1000, (long long)(dur + 50) / 100 % 10,
				      image ? image : "(untagged)", image_id ? image_id : "");
	} else {
		log_info("build %lld: %s: %s", wb->b_id, store_state_name(state),
			 reason ? reason : "(no reason)");
		o->o_line = xasprintf("==> build %lld %s: %s", wb->b_id, store_state_name(state),
				      reason ? reason : "(no reason)");
	}
	worker_op_status(w, o, wb->b_repo, wb->b_sha, state, reason, dur);
	worker_ship_op(wb, o);
	worker_op_submit(w, o);
}

void worker_build_exited(struct wproc *p)
{
	struct worker *w = p->p_w;
	struct wproc_build *wb = &p->p_build;
	json_t *left;

	worker_build_record(p);
	/* without a result (or killed), its containers may be left behind; with one, those
	 * it could not remove itself (the engine had stopped) are listed */
	left = wb->b_result ? json_object_get(wb->b_result, "containers") : NULL;
	/* canceled: a container whose create was under way when the cancel came is
	 * not known to the build by id, only by its labels */
	if (p->p_pid > 0 && (!wb->b_result || wb->b_timed_out || p->p_killed ||
			     wb->b_cancel_reason) && !w->w_stopping)
		worker_cleanup_start(w, &wb->b_id, 1, 0);
	else if (json_array_size(left) && !w->w_stopping)
		worker_cleanup_spawn(w, json_array(), json_deep_copy(left), 0);
	else if (json_array_size(left))
		worker_cleanup_keep(w, wb->b_result);	/* stopping: removed at the next start */
	worker_build_final(p);
}
