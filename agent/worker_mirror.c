/* worker_mirror: a repository's mirror cleaned soon after a push deleted one of its refs
 * (`__mirror-clean`): the mirror's copy of the ref deleted, what no ref reaches pruned. */
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "limits.h"
#include "log.h"
#include "retain.h"
#include "worker_int.h"

static void worker_mirror_arm(struct worker *w)
{
	struct timeval tv = { WORKER_MIRROR_DELAY_MS / 1000, (WORKER_MIRROR_DELAY_MS % 1000) * 1000 };

	if (w->w_mirror_ev && !evtimer_pending(w->w_mirror_ev, NULL))
		evtimer_add(w->w_mirror_ev, &tv);
}

void worker_ref_deleted(void *ctx, const char *repo, const char *ref)
{
	struct worker *w = ctx;
	json_t *refs, *v;
	size_t i;

	if (!w->w_mirror_due || w->w_stopping || !ref || !*ref)
		return;
	refs = json_object_get(w->w_mirror_due, repo);
	if (!refs) {
		refs = json_array();
		json_object_set_new(w->w_mirror_due, repo, refs);
	}
	json_array_foreach(refs, i, v)
		if (!strcmp(json_string_value(v), ref))
			break;
	/* past the cap the ref's copy stays until a later deletion or `prune`: the
	 * repack itself still happens */
	if (i == json_array_size(refs) && i < WORKER_MIRROR_REFS_MAX)
		json_array_append_new(refs, json_string(ref));
	log_info("repo '%s': %s deleted, its mirror is cleaned soon", repo, ref);
	worker_mirror_arm(w);
}

/* the job of `__mirror-clean`: state_dir/git/NAME.git, as the build's (cmd_build_child.c) */
static void worker_mirror_spawn(struct worker *w, const char *repo, json_t *refs)
{
	struct err e = ERR_INIT;
	struct wproc *p;
	json_t *job = json_object();
	char *mirror = xasprintf("%s/git/%s.git", w->w_cfg->state_dir, repo);

	json_object_set_new(job, "mirror", json_string(mirror));
	free(mirror);
	json_object_set(job, "refs", refs);
	p = worker_spawn(w, WK_MIRROR, "__mirror-clean", NULL, job, -1, WORKER_MIRROR_TIMEOUT, &e);
	json_decref(job);
	if (!p) {
		log_warn("repo '%s': cannot clean the mirror: %s", repo, e.msg);
		return;
	}
	event_del(p->p_out_ev);
	p->p_mirror.m_repo = xstrdup(repo);
	p->p_mirror.m_refs = json_array_size(refs);
	p->p_mirror.m_started = retain_clock_ms();
}

/* Each repository due whose builds are not running gets its process; the others wait
 * for the next tick. */
static void worker_mirror_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	const char *repo;
	json_t *refs;
	void *tmp;

	(void)fd;
	(void)what;
	if (w->w_stopping)
		return;
	json_object_foreach_safe(w->w_mirror_due, tmp, repo, refs) {
		if (worker_repo_busy(w, repo))
			continue;
		worker_mirror_spawn(w, repo, refs);
		json_object_del(w->w_mirror_due, repo);
	}
	if (json_object_size(w->w_mirror_due))
		worker_mirror_arm(w);
}

int worker_mirror_start(struct worker *w)
{
	w->w_mirror_due = json_object();
	w->w_mirror_ev = evtimer_new(w->w_base, worker_mirror_cb, w);
	if (!w->w_mirror_due || !w->w_mirror_ev)
		return -1;
	http_set_deleted_hook(w->w_http, worker_ref_deleted, w);
	return 0;
}

void worker_mirror_done(struct wproc *p)
{
	struct worker *w = p->p_w;
	struct wproc_mirror *m = &p->p_mirror;
	json_t *j = p->p_outbuf.len ? json_loads(p->p_outbuf.data, 0, NULL) : NULL;
	const char *msg = j ? json_string_value(json_object_get(j, "error")) : NULL;
	long long before, after;

	if (w->w_stopping && p->p_killed) {
		/* stopped with the agent: the next deletion or `prune` does it */
	} else if (p->p_killed) {
		log_warn("repo '%s': cleaning the mirror took over %ds: stopped", m->m_repo,
			 WORKER_MIRROR_TIMEOUT);
	} else if (msg || !j) {
		log_warn("repo '%s': cannot clean the mirror: %s", m->m_repo,
			 msg ? msg : "the process failed");
	} else if (json_is_true(json_object_get(j, "none"))) {
		log_info("repo '%s': no mirror to clean (nothing was fetched into one yet)", m->m_repo);
	} else {
		before = json_integer_value(json_object_get(j, "bytes_before"));
		after = json_integer_value(json_object_get(j, "bytes_after"));
		w->w_mirror_cleans++;
		if (before > after)
			w->w_mirror_freed += (unsigned long long)(before - after);
		log_info("repo '%s': cleaned the mirror after %zu deleted ref%s: %lld refs dropped, "
			 "%lld packs and %lld loose objects repacked, %lld -> %lld bytes "
			 "(%lld freed) in %lld ms", m->m_repo, m->m_refs, m->m_refs == 1 ? "" : "s",
			 (long long)json_integer_value(json_object_get(j, "refs")),
			 (long long)json_integer_value(json_object_get(j, "packs")),
			 (long long)json_integer_value(json_object_get(j, "loose")), before, after,
			 before > after ? before - after : 0, retain_clock_ms() - m->m_started);
	}
	json_decref(j);
	worker_kick(w);		/* a build of the repository may have waited for it */
}

void worker_mirror_release(struct wproc_mirror *m)
{
	free(m->m_repo);
}

void worker_mirror_free(struct worker *w)
{
	if (w->w_mirror_ev)
		event_free(w->w_mirror_ev);
	w->w_mirror_ev = NULL;
	json_decref(w->w_mirror_due);
	w->w_mirror_due = NULL;
}

void worker_mirror_metrics(const struct worker *w, struct buf *o)
{
	buf_addf(o, "# HELP s2i_agent_mirror_cleans_total Mirrors cleaned after pushes deleted refs.\n"
		 "# TYPE s2i_agent_mirror_cleans_total counter\n"
		 "s2i_agent_mirror_cleans_total %lld\n"
		 "# HELP s2i_agent_mirror_freed_bytes_total Bytes those cleans freed.\n"
		 "# TYPE s2i_agent_mirror_freed_bytes_total counter\n"
		 "s2i_agent_mirror_freed_bytes_total %llu\n", w->w_mirror_cleans, w->w_mirror_freed);
}
