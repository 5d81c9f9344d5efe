/* worker_fleet: where builds may run. An agent with [agent] labels runs the builds of
 * a repository whose run_on lists none it lacks; the others wait for an agent that
 * has them, in the queue, said in the log and counted in /metrics (queued for this
 * agent or not, claimed and running here: each agent's share of a fleet's queue). */
#include <stdlib.h>

#include "buf.h"
#include "log.h"
#include "worker_int.h"

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
			 "run_on); this agent has '%s'", b->id, want, b->repo, have);
		free(want);
		free(have);
	}
	return 0;
}

void worker_fleet_metrics(struct worker *w, struct buf *o)
{
	struct store_repo_count *c = NULL;
	struct err e = ERR_INIT;
	const struct repo_conf *rc;
	long long mine = 0, other = 0;
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
		 "s2i_agent_agent_running{agent=\"%s\"} %u\n",
		 w->w_owner, labels, w->w_owner, mine, w->w_owner, other, w->w_owner,
		 w->w_claimed, w->w_owner, w->w_running);
	free(labels);
}
