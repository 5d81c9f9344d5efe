/* worker_fleet: where builds may run. An agent with [agent] labels runs the builds of
 * a repository whose run_on lists none it lacks; the others wait for an agent that
 * has them, in the queue, said in the log and counted in /metrics (queued for this
 * agent or not, claimed and running here: each agent's share of a fleet's queue).
 * On a shared store each agent records itself and its labels every
 * WORKER_FLEET_SEEN_MS, so that a build no agent of the fleet could run is told
 * apart from one that waits for another agent. */
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "buf.h"
#include "limits.h"
#include "log.h"
#include "worker_int.h"

/* 1 when labels ("k=v,k=v") hold every label of want */
static int worker_fleet_has(const char *labels, const struct strv *want)
{
	size_t i, n;
	const char *p;

	for (i = 0; i < want->n; i++) {
		n = strlen(want->items[i]);
		for (p = labels; *p; p += strcspn(p, ","), p += *p == ',')
			if (strcspn(p, ",") == n && !strncmp(p, want->items[i], n))
				break;
		if (!*p)
			return 0;
	}
	return 1;
}

/* 1 when an agent could run rc's builds: on a shared store one heard of lately
 * (unknown yet: assume so), on SQLite this one */
static int worker_fleet_anyone(const struct worker *w, const struct repo_conf *rc)
{
	size_t i;

	if (!store_shared(w->w_store))
		return config_labels_match(w->w_cfg, rc);
	if (!w->w_fleet_known)
		return 1;
	for (i = 0; i < w->w_fleet.n; i++)
		if (worker_fleet_has(w->w_fleet.items[i], &rc->run_on))
			return 1;
	return 0;
}

int worker_fleet_may_run(struct worker *w, const struct build *b)
{
	const struct repo_conf *rc = worker_repo(w, b->repo);
	char *want, *have;

	if (!rc || config_labels_match(w->w_cfg, rc))
		return 1;
	/* the scheduler looks again at every pass: one line per build */
	if (b->id > w->w_unmatched_told) {
		w->w_unmatched_told = b->id;
		want = config_labels_str(&rc->run_on);
		have = config_labels_str(&w->w_cfg->labels);
		log_info("build %lld: waits for an agent with labels '%s' (repository '%s', "
			 "run_on); this agent has '%s'%s", b->id, want, b->repo, have,
			 worker_fleet_anyone(w, rc) ? "" : "; no agent has them now");
		free(want);
		free(have);
	}
	return 0;
}

static void worker_fleet_seen(struct worker *w)
{
	struct err e = ERR_INIT;
	struct strv live = STRV_INIT;
	char *labels = config_labels_str(&w->w_cfg->labels);

	if (store_agent_seen(w->w_store, labels, w->w_cfg->workers, &e) < 0 ||
	    store_agents(w->w_store, WORKER_FLEET_LIVE_MS, &live, &e) < 0) {
		log_warn("%s", e.msg);
		strv_clear(&live);
	} else {
		strv_clear(&w->w_fleet);
		w->w_fleet = live;
		w->w_fleet_known = 1;
	}
	free(labels);
}

static void worker_fleet_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct timeval tv = { WORKER_FLEET_SEEN_MS / 1000, WORKER_FLEET_SEEN_MS % 1000 * 1000 };

	(void)fd;
	(void)what;
	worker_fleet_seen(w);
	if (!w->w_stopping)
		evtimer_add(w->w_fleet_ev, &tv);
}

int worker_fleet_start(struct worker *w)
{
	if (!store_shared(w->w_store))
		return 0;
	w->w_fleet_ev = evtimer_new(w->w_base, worker_fleet_cb, w);
	if (!w->w_fleet_ev)
		return -1;
	worker_fleet_cb(-1, 0, w);
	return 0;
}

void worker_fleet_free(struct worker *w)
{
	if (w->w_fleet_ev) {
		event_free(w->w_fleet_ev);
		w->w_fleet_ev = NULL;
	}
	strv_clear(&w->w_fleet);
}

void worker_fleet_metrics(struct worker *w, struct buf *o)
{
	struct store_repo_count *c = NULL;
	struct err e = ERR_INIT;
	const struct repo_conf *rc;
	long long mine = 0, other = 0, nobody = 0;
	size_t n = 0, i;
	char *labels;

	if (store_queued_repos(w->w_store, &c, &n, &e) < 0)
		log_warn("metrics: %s", e.msg);
	for (i = 0; i < n; i++) {
		rc = worker_repo(w, c[i].repo);
		if (rc && config_labels_match(w->w_cfg, rc))
			mine += c[i].n;
		else
			other += c[i].n;
		if (rc && !worker_fleet_anyone(w, rc))
			nobody += c[i].n;
	}
	store_repo_counts_free(c, n);
	labels = config_labels_str(&w->w_cfg->labels);
	buf_addf(o, "# HELP s2i_agent_agent_info This agent: its instance id and labels.\n"
		 "# TYPE s2i_agent_agent_info gauge\n"
		 "s2i_agent_agent_info{agent=\"%s\",labels=\"%s\"} 1\n"
		 "# HELP s2i_agent_agent_queue Queued builds this agent may run (for=\"this\": "
		 "it is configured for their repository and has the labels run_on lists) or "
		 "not (for=\"other\": they wait for another agent).\n"
		 "# TYPE s2i_agent_agent_queue gauge\n"
		 "s2i_agent_agent_queue{agent=\"%s\",for=\"this\"} %lld\n"
		 "s2i_agent_agent_queue{agent=\"%s\",for=\"other\"} %lld\n"
		 "# HELP s2i_agent_agent_claimed_total Builds this agent claimed from the queue "
		 "and started.\n"
		 "# TYPE s2i_agent_agent_claimed_total counter\n"
		 "s2i_agent_agent_claimed_total{agent=\"%s\"} %llu\n"
		 "# HELP s2i_agent_agent_running Builds running on this agent.\n"
		 "# TYPE s2i_agent_agent_running gauge\n"
		 "s2i_agent_agent_running{agent=\"%s\"} %u\n"
		 "# HELP s2i_agent_queue_unmatched Queued builds whose run_on no agent heard of "
		 "lately (or, on SQLite, this one) has the labels for.\n"
		 "# TYPE s2i_agent_queue_unmatched gauge\n"
		 "s2i_agent_queue_unmatched %lld\n",
		 w->w_owner, labels, w->w_owner, mine, w->w_owner, other, w->w_owner,
		 w->w_claimed, w->w_owner, w->w_running, nobody);
	if (store_shared(w->w_store))
		buf_addf(o, "# HELP s2i_agent_agents The agents heard of lately that run builds.\n"
			 "# TYPE s2i_agent_agents gauge\ns2i_agent_agents %zu\n", w->w_fleet.n);
	free(labels);
}
