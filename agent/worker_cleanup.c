/* worker_cleanup: removing the containers builds left behind, again later if it fails. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "buf.h"
#include "limits.h"
#include "log.h"
#include "s2i.h"
#include "worker_int.h"

static void worker_cleanup_later(struct worker *w, json_t *job);

void worker_cleanup_release(struct wproc_cleanup *c)
{
	json_decref(c->c_job);
}

/* A failure (the engine is down) is tried again later. */
void worker_cleanup_spawn(struct worker *w, json_t *ids, json_t *containers, int startup)
{
	struct err e = ERR_INIT;
	struct wproc *p;
	json_t *job = json_object();

	json_object_set_new(job, "ids", ids);
	json_object_set_new(job, "containers", containers);
	json_object_set_new(job, "owner", json_string(w->w_owner));
	if (startup) {
		json_object_set_new(job, "count_unowned", json_true());
		json_object_set_new(job, "all_owned", json_true());
	}
	json_object_set_new(job, "engine", json_string(w->w_cfg->engine));
	worker_set_str(job, "tls_ca", w->w_cfg->tls_ca);
	worker_set_str(job, "tls_cert", w->w_cfg->tls_cert);
	worker_set_str(job, "tls_key", w->w_cfg->tls_key);
	p = worker_spawn(w, WK_CLEANUP, "__cleanup", NULL, job, -1, WORKER_CLEANUP_TIMEOUT, &e);
	if (!p) {
		log_error("cannot remove the containers of %zu builds: %s",
			  json_array_size(ids) + json_array_size(containers), e.msg);
		worker_cleanup_later(w, job);
		json_decref(job);
		if (startup) {
			w->w_ready = 1;
			worker_kick(w);
		}
		return;
	}
	event_del(p->p_out_ev);
	p->p_cleanup.c_startup = startup;
	p->p_cleanup.c_job = job;
}

void worker_cleanup_start(struct worker *w, const long long *ids, size_t n, int startup)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < n; i++)
		json_array_append_new(a, json_integer(ids[i]));
	worker_cleanup_spawn(w, a, json_array(), startup);
}

void worker_cleanup_merge(json_t **into, json_t *from)
{
	json_t *v, *have;
	size_t i, k;

	if (!*into)
		*into = json_array();
	json_array_foreach(from, i, v) {
		json_array_foreach(*into, k, have)
			if (json_equal(have, v))
				break;
		if (k == json_array_size(*into))
			json_array_append(*into, v);
	}
}

/* So that an agent restarted before the engine came back removes it too; no file
 * when nothing is left. */
void worker_cleanup_save(const struct worker *w)
{
	char *path = xasprintf("%s/%s", w->w_cfg->state_dir, WORKER_CLEANUP_FILE);
	char *tmp = xasprintf("%s.tmp", path);
	json_t *j;

	if (!json_array_size(w->w_cleanup_ids) && !json_array_size(w->w_cleanup_containers)) {
		if (unlink(path) < 0 && errno != ENOENT)
			log_warn("cannot remove '%s': %s", path, strerror(errno));
		goto out;
	}
	j = json_object();
	if (w->w_cleanup_ids)
		json_object_set(j, "ids", w->w_cleanup_ids);
	if (w->w_cleanup_containers)
		json_object_set(j, "containers", w->w_cleanup_containers);
	if (json_dump_file(j, tmp, JSON_COMPACT) < 0 || rename(tmp, path) < 0)
		log_warn("cannot record the containers still to remove in '%s'", path);
	json_decref(j);
out:
	free(tmp);
	free(path);
}

/* For the next try or the next start. */
void worker_cleanup_keep(struct worker *w, json_t *job)
{
	worker_cleanup_merge(&w->w_cleanup_ids, json_object_get(job, "ids"));
	worker_cleanup_merge(&w->w_cleanup_containers, json_object_get(job, "containers"));
	worker_cleanup_save(w);
}

/* Keeps what job was to remove for the next try, WORKER_RETRY_SECONDS doubling up to
 * WORKER_CLEANUP_RETRY_MAX later (sooner when a build shows the engine is back). */
static void worker_cleanup_later(struct worker *w, json_t *job)
{
	struct timeval tv = { 0, 0 };

	if (w->w_stopping || !w->w_cleanup_ev)
		return;
	worker_cleanup_keep(w, job);
	if (evtimer_pending(w->w_cleanup_ev, NULL))
		return;
	w->w_cleanup_delay = w->w_cleanup_delay ? w->w_cleanup_delay * 2 : WORKER_RETRY_SECONDS;
	if (w->w_cleanup_delay > WORKER_CLEANUP_RETRY_MAX)
		w->w_cleanup_delay = WORKER_CLEANUP_RETRY_MAX;
	tv.tv_sec = w->w_cleanup_delay;
	log_warn("removing build containers again in %lds", w->w_cleanup_delay);
	evtimer_add(w->w_cleanup_ev, &tv);
}

void worker_cleanup_now(struct worker *w)
{
	struct timeval tv0 = { 0, 0 };

	if (!w->w_cleanup_ev || !evtimer_pending(w->w_cleanup_ev, NULL))
		return;
	w->w_cleanup_delay = 0;
	evtimer_add(w->w_cleanup_ev, &tv0);
}

/* A build that runs again (requeued at a start whose cleanup failed) carries the same
 * labels as what its earlier attempt left: its id waits until it is over. */
void worker_cleanup_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	json_t *ids = w->w_cleanup_ids, *containers = w->w_cleanup_containers, *now, *v;
	struct timeval tv = { WORKER_RETRY_SECONDS, 0 };
	size_t i;

	(void)fd;
	(void)what;
	if (w->w_stopping || (!ids && !containers))
		return;
	now = json_array();
	w->w_cleanup_ids = json_array();
	json_array_foreach(ids, i, v)
		json_array_append(worker_find_build(w, json_integer_value(v)) ? w->w_cleanup_ids : now, v);
	json_decref(ids);
	if (json_array_size(w->w_cleanup_ids)) {
		evtimer_add(w->w_cleanup_ev, &tv);
	} else {
		json_decref(w->w_cleanup_ids);
		w->w_cleanup_ids = NULL;
	}
	w->w_cleanup_containers = NULL;
	if (!json_array_size(now) && !json_array_size(containers)) {
		json_decref(now);
		json_decref(containers);
		return;
	}
	worker_cleanup_spawn(w, now, containers ? containers : json_array(), 0);
}

void worker_cleanup_done(struct wproc *p)
{
	struct worker *w = p->p_w;
	struct wproc_cleanup *pc = &p->p_cleanup;
	json_t *j = p->p_outbuf.len ? json_loads(p->p_outbuf.data, 0, NULL) : NULL;
	const char *msg = j ? json_string_value(json_object_get(j, "error")) : NULL;
	long long n = j ? json_integer_value(json_object_get(j, "removed")) : 0;

	if (w->w_stopping && p->p_killed) {
		/* stopped by worker_stop, which kept its job for the next start */
	} else if (msg || !j) {
		log_error("cannot remove build containers: %s", msg ? msg : "cleanup process failed");
		worker_cleanup_later(w, pc->c_job);
	} else {
		w->w_cleanup_delay = 0;
		worker_cleanup_save(w);		/* what is still pending, if anything */
	}
	if (n)
		log_info("removed %lld containers left by builds", n);
	if (pc->c_startup && j && json_integer_value(json_object_get(j, "unowned")) > 0)
		log_warn("left alone %lld build containers without the %s label (made by an "
			 "older version: whose they are is unknown); remove them with docker rm "
			 "once no agent or `s2i-agent build` uses them",
			 (long long)json_integer_value(json_object_get(j, "unowned")), S2I_OWNER_LABEL);
	json_decref(j);
	if (pc->c_startup) {
		w->w_ready = 1;
		worker_kick(w);
	}
}
