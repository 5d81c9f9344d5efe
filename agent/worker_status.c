/* worker_status: commit statuses, queued with a build's changes and posted by children. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "buf.h"
#include "forge.h"
#include "limits.h"
#include "log.h"
#include "worker_int.h"

int worker_status_on(const struct worker *w, const char *repo)
{
	const struct repo_conf *rc = worker_repo(w, repo);

	return rc && rc->status != STATUS_NONE;
}

int worker_status_want(const struct worker *w, const char *repo, const char *sha)
{
	return worker_status_on(w, repo) && sha && *sha;
}

char *worker_status_desc(long long id, enum build_state state, const char *reason,
			 long long duration_ms)
{
	switch (state) {
	case BUILD_QUEUED:
		return xasprintf("Build %lld queued", id);
	case BUILD_RUNNING:
		return xasprintf("Build %lld running", id);
	case BUILD_SUCCEEDED:
		return xasprintf("Build %lld succeeded in %llds", id, (duration_ms + 500) / 1000);
	default:
		return reason && *reason ?
			xasprintf("Build %lld %s: %s", id, store_state_name(state), reason) :
			xasprintf("Build %lld %s", id, store_state_name(state));
	}
}

void worker_op_status(const struct worker *w, struct wop *o, const char *repo,
		      const char *sha, enum build_state state, const char *reason,
		      long long duration_ms)
{
	if (!worker_status_want(w, repo, sha))
		return;
	o->o_st_state = store_state_name(state);
	free(o->o_st_desc);
	o->o_st_desc = worker_status_desc(o->o_id, state, reason, duration_ms);
}

void worker_status_release(struct wproc_status *s)
{
	free(s->s_what);
	free(s->s_repo);
	free(s->s_forge);
}

static void worker_set_strv(json_t *o, const char *k, const struct strv *v)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < v->n; i++)
		json_array_append_new(a, json_string(v->items[i]));
	json_object_set_new(o, k, a);
}

/* A post taken over from another agent went out without the check (the forge would
 * not list the commit's statuses, why says how it answered): it may be a second copy
 * of one that agent sent. Counted, and said once per repository, since only the
 * token's access can change it. */
static void worker_status_unchecked(struct wproc *p, const char *why)
{
	struct worker *w = p->p_w;
	const char *repo = p->p_status.s_repo;

	if (!why)
		return;
	w->w_status_unchecked++;
	if (!w->w_status_unread)
		w->w_status_unread = json_object();
	if (json_object_get(w->w_status_unread, repo))
		return;
	json_object_set_new(w->w_status_unread, repo, json_true());
	log_warn("repository '%s': a commit status taken over from another agent was posted "
		 "without asking the forge first whether it already has it (%s): the status "
		 "token needs read access to commit statuses, else a status may be posted "
		 "twice; said once per repository, counted in s2i_agent_status_unchecked_total",
		 repo, why);
}

void worker_status_metrics(const struct worker *w, struct buf *o)
{
	buf_addf(o, "# HELP s2i_agent_status_unchecked_total Commit status posts taken over "
		 "from another agent and sent without the forge's list of the commit's "
		 "statuses (the token cannot read it): each may be a duplicate.\n"
		 "# TYPE s2i_agent_status_unchecked_total counter\n"
		 "s2i_agent_status_unchecked_total %llu\n", w->w_status_unchecked);
}

void worker_status_free(struct worker *w)
{
	json_decref(w->w_status_unread);
	w->w_status_unread = NULL;
}

void worker_status_done(struct wproc *p)
{
	struct worker *w = p->p_w;
	struct wproc_status *ps = &p->p_status;
	const char *outcome = NULL, *msg = NULL;
	struct wop *o;
	json_t *j = NULL, *v;
	int found = 0;
	long http_code = 0, retry_after = 0, delay;
	unsigned long rnd = 0;

	if (p->p_outbuf.len)
		j = json_loads(p->p_outbuf.data, 0, NULL);
	if (j) {
		outcome = json_string_value(json_object_get(j, "outcome"));
		msg = json_string_value(json_object_get(j, "error"));
		if ((v = json_object_get(j, "http_code")))
			http_code = (long)json_integer_value(v);
		if ((v = json_object_get(j, "retry_after")))
			retry_after = (long)json_integer_value(v);
		found = json_is_true(json_object_get(j, "found"));
		worker_status_unchecked(p, json_string_value(json_object_get(j, "unchecked")));
	}
	if (!outcome) {
		outcome = "retry";
		msg = "status process ended without an answer";
	}
	if (!strcmp(outcome, "done")) {
		if (found)
			log_info("%s already on the forge (HTTP %ld): not posted again",
				 ps->s_what, http_code);
		else
			log_info("%s posted (HTTP %ld)", ps->s_what, http_code);
		o = worker_op_new(WOP_STATUS_DONE, ps->s_row);
	} else if (!strcmp(outcome, "retry") && ps->s_attempts + 1 < STATUS_MAX_ATTEMPTS) {
		if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != (ssize_t)sizeof(rnd))
			rnd = (unsigned long)time(NULL);
		delay = forge_backoff((unsigned)ps->s_attempts + 1, retry_after, rnd);
		log_warn("%s: %s; retry in %lds", ps->s_what, msg ? msg : "failed", delay);
		o = worker_op_new(WOP_STATUS_RETRY, ps->s_row);
		o->o_time = store_now_ms() + delay * 1000;
		o->o_reason = msg ? xstrdup(msg) : NULL;
	} else {
		log_error("%s: %s; giving up after %d attempts", ps->s_what,
			  msg ? msg : "failed", ps->s_attempts + 1);
		o = worker_op_new(WOP_STATUS_DONE, ps->s_row);
	}
	o->o_claim = ps->s_claim;
	json_decref(j);
	/* the post is over once the row's new state is on disk: until then p stays
	 * in w_procs, holding the row and its repository (worker_status_posters) */
	o->o_proc = p;
	worker_op_submit(w, o);
}

/* What the status posts in flight hold: all of them, how many go to forge, and
 * whether row_id or repo is among them. */
struct wposters {
	unsigned all, forge;
	int row, repo;
};

static void worker_status_posters(const struct worker *w, long long row_id, const char *repo,
				  const char *forge, struct wposters *ret)
{
	const struct wproc *p;

	memset(ret, 0, sizeof(*ret));
	for (p = w->w_procs; p; p = p->p_next) {
		if (p->p_kind != WK_STATUS)
			continue;
		ret->all++;
		if (p->p_status.s_row == row_id)
			ret->row = 1;
		if (repo && p->p_status.s_repo && !strcmp(p->p_status.s_repo, repo))
			ret->repo = 1;
		if (forge && p->p_status.s_forge && !strcmp(p->p_status.s_forge, forge))
			ret->forge++;
	}
}

/* scheme://host[:port] of url: the forge a post goes to. Caller frees. */
static char *worker_url_origin(const char *url)
{
	const char *p = strstr(url, "://");

	p = p ? p + 3 : url;
	return xstrndup(url, (size_t)(p - url) + strcspn(p, "/?#"));
}

static int worker_status_drop(struct worker *w, const struct status_row *row)
{
	struct err e = ERR_INIT;

	if (store_status_done(w->w_store, row->id, row->claim, &e) < 0) {
		log_error("%s", e.msg);
		return -2;
	}
	return 0;
}

/* Claims row for this agent (store_status_claim): 1 claimed, 0 not (another agent
 * holds it, or it is gone: look again), -2 the store failed. */
static int worker_status_claim(struct worker *w, struct status_row *row)
{
	struct err e = ERR_INIT;
	int rc = store_status_claim(w->w_store, row, store_now_ms(), &e);

	if (rc < 0)
		log_error("build %lld: %s", row->build_id, e.msg);
	return rc < 0 ? -2 : rc;
}

/* Starts the post of row in a child: 1 started, 0 dropped or put off (the row
 * changed, or another agent claimed it: look again), -1 not now (its repository or
 * forge has posts in flight), -2 the store failed to read its build, or refused to
 * claim or drop it, or no process can start (disk full?): look again later. Nothing
 * is claimed before it is sure to be posted or dropped: a claim keeps other agents
 * off for a while. */
static int worker_status_start(struct worker *w, struct status_row *row)
{
	const struct repo_conf *rc;
	struct forge_request r = FORGE_REQUEST_INIT;
	struct build b = BUILD_INIT;
	struct forge_build fb;
	struct wposters pw;
	struct err e = ERR_INIT;
	struct wproc *p;
	const char *payload;
	char *forge = NULL;
	json_t *job;
	int ret = 0, got;

	/* a read the database failed is no build gone: the row waits for a later pass */
	if ((got = store_get_build(w->w_store, row->build_id, &b, &e)) < 0) {
		log_error("build %lld: commit status '%s' not posted yet: %s", row->build_id,
			  row->state, e.msg);
		ret = -2;
		goto out;
	}
	if (got > 0 || !(rc = worker_repo(w, b.repo)) || rc->status == STATUS_NONE) {
		if ((ret = worker_status_claim(w, row)) <= 0)
			goto out;
		log_warn("build %lld: commit status '%s' dropped: the build or its "
			 "repository's status setting is gone", row->build_id, row->state);
		ret = worker_status_drop(w, row);
		goto out;
	}
	fb.id = b.id;
	fb.sha = b.sha;
	fb.ref = b.ref;
	fb.state = row->state;
	fb.description = row->description;
	payload = rc->status == STATUS_GITLAB && b.project_id ? b.project_id : b.repo_full_name;
	if (forge_request_build(rc, &fb, w->w_cfg->public_url, payload, &r, &e) < 0) {
		if ((ret = worker_status_claim(w, row)) <= 0)
			goto out;
		log_error("build %lld: commit status '%s' dropped: %s", b.id, row->state, e.msg);
		ret = worker_status_drop(w, row);
		goto out;
	}
	forge = worker_url_origin(r.url);
	worker_status_posters(w, row->id, b.repo, forge, &pw);
	if (pw.repo || pw.forge >= STATUS_POSTERS_PER_FORGE) {
		ret = -1;
		goto out;
	}
	if ((ret = worker_status_claim(w, row)) <= 0)
		goto out;
	job = json_object();
	json_object_set_new(job, "kind", json_integer(r.kind));
	json_object_set_new(job, "url", json_string(r.url));
	/* the claim taken over was in flight: its agent may have posted it */
	if (row->taken_over) {
		json_object_set_new(job, "check", json_true());
		worker_set_str(job, "list_url", r.list_url);
	}
	json_object_set_new(job, "parent", json_integer(getpid()));
	worker_set_strv(job, "headers", &r.headers);
	json_object_set_new(job, "body", json_string(r.body));
	worker_set_str(job, "state", r.state);
	worker_set_str(job, "repo", r.repo);
	worker_set_str(job, "token", r.token);
	json_object_set_new(job, "timeout", json_integer(r.timeout));
	json_object_set_new(job, "connect_timeout", json_integer(r.connect_timeout));
	p = worker_spawn(w, WK_STATUS, "__status", NULL, job, -1,
			 r.timeout + KILL_GRACE_SECONDS, &e);
	json_decref(job);
	if (!p) {
		/* no write: the database is likely as full as the directory (a shared
		 * store's claim ends by itself) */
		log_error("build %lld: cannot post a commit status: %s", b.id, e.msg);
		ret = -2;
		goto out;
	}
	event_del(p->p_out_ev);		/* a few bytes: read when it exits */
	p->p_status.s_row = row->id;
	p->p_status.s_claim = row->claim;
	p->p_status.s_attempts = row->attempts;
	p->p_status.s_what = xasprintf("build %lld: commit status '%s' (%s)", b.id, row->state,
				       r.state ? r.state : "");
	p->p_status.s_repo = xstrdup(b.repo);
	p->p_status.s_forge = forge;
	forge = NULL;
	ret = 1;
out:
	free(forge);
	forge_request_release(&r);
	build_release(&b);
	return ret;
}

/* Posts due statuses in children, up to STATUS_POSTERS at once. Only the first
 * waiting status of a commit is a candidate and it stays in the store until its
 * post is over, so a commit's statuses go out one after the other, in order,
 * while other repositories' posts go on beside a hanging one. */
static void worker_status_post(struct worker *w)
{
	struct status_row *rows = NULL;
	struct wposters pw;
	struct err e = ERR_INIT;
	long long now, wake;
	size_t n = 0, i;
	int again = 1, stuck = 0, r;

	while (again && !w->w_stopping) {
		again = 0;
		wake = 0;
		worker_status_posters(w, 0, NULL, NULL, &pw);
		if (pw.all >= STATUS_POSTERS)
			break;		/* the next one to end looks again */
		if (!rows)
			rows = xcalloc(STATUS_SCAN_MAX, sizeof(*rows));
		if (store_status_heads(w->w_store, STATUS_SCAN_MAX, rows, &n, &e) < 0) {
			/* nothing else may come to wake the posts (the last status queued) */
			log_error("%s; next look in %ds", e.msg, WORKER_RETRY_SECONDS);
			worker_status_kick(w, WORKER_RETRY_SECONDS * 1000LL);
			break;
		}
		now = store_now_ms();
		for (i = 0; i < n; i++) {
			worker_status_posters(w, rows[i].id, NULL, NULL, &pw);
			if (pw.row)
				continue;	/* being posted */
			if (rows[i].next_at > now) {
				wake = rows[i].next_at;	/* sorted: none after it is due */
				break;
			}
			if (pw.all >= STATUS_POSTERS)
				break;
			if (rows[i].repo) {
				worker_status_posters(w, 0, rows[i].repo, NULL, &pw);
				if (pw.repo)
					continue;	/* its repository's post ends first */
			}
			r = worker_status_start(w, &rows[i]);
			if (r == 0)
				again = 1;	/* a row went: its commit may have a next one */
			else if (r == -2)
				stuck = 1;
		}
		for (i = 0; i < n; i++)
			status_row_release(&rows[i]);
		n = 0;
		if (stuck) {	/* not again at once: that would spin on the same row */
			worker_status_kick(w, WORKER_RETRY_SECONDS * 1000LL);
			break;
		}
		if (wake && !again)
			worker_status_kick(w, wake - now);
	}
	free(rows);
}

void worker_status_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	worker_status_post(arg);
}

void worker_status_kick(struct worker *w, long long delay_ms)
{
	struct timeval tv, armed, now, at;

	if (!w->w_status_ev || w->w_stopping)
		return;
	if (delay_ms > (long long)STATUS_RETRY_MAX * 1000)
		delay_ms = (long long)STATUS_RETRY_MAX * 1000;
	tv.tv_sec = (time_t)(delay_ms / 1000);
	tv.tv_usec = (suseconds_t)(delay_ms % 1000) * 1000;
	/* a wake-up already armed for earlier wins over this one; libevent says when an
	 * armed timer fires as a time of day (the clock of event_base_gettimeofday_cached) */
	if (delay_ms > 0 && evtimer_pending(w->w_status_ev, &armed) &&
	    event_base_gettimeofday_cached(w->w_base, &now) == 0) {
		evutil_timeradd(&now, &tv, &at);
		if (evutil_timercmp(&armed, &at, <))
			return;
	}
	evtimer_add(w->w_status_ev, &tv);
}
