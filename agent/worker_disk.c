/* worker_disk: free space watermarks (min_free_space): builds wait queued while
 * state_dir or the engine's data root has less free than their repository needs,
 * and a retention pass runs at once; the pipeline's /healthz and /metrics parts. */
#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>

#include <event2/event.h>

#include "http.h"
#include "limits.h"
#include "log.h"
#include "worker_int.h"

#define DISK_UNKNOWN	(~0ULL)

static unsigned long long worker_disk_free(const char *path)
{
	struct statvfs sv;

	if (!path || statvfs(path, &sv) < 0)
		return DISK_UNKNOWN;
	return (unsigned long long)sv.f_bavail * sv.f_frsize;
}

/* statvfs of both at most every DISK_CHECK_MS; the engine's data root asked for
 * every DISK_ROOT_INTERVAL_MS once known, after DISK_CHECK_MS doubling until then
 * (an engine that does not answer keeps the last one). */
static void worker_disk_refresh(struct worker *w)
{
	long long now = retain_clock_ms();
	struct err e = ERR_INIT;
	char root[1024];

	if (w->w_disk_at && now - w->w_disk_at < DISK_CHECK_MS)
		return;
	w->w_disk_at = now;
	if (!w->w_root_at || now - w->w_root_at >= w->w_root_wait) {
		w->w_root_at = now;
		if (http_engine_root_dir(w->w_cfg->engine, root, sizeof(root), &e) == 0) {
			if (!w->w_engine_root || strcmp(w->w_engine_root, root)) {
				free(w->w_engine_root);
				w->w_engine_root = xstrdup(root);
			}
			w->w_root_wait = DISK_ROOT_INTERVAL_MS;
		} else {
			log_debug("free space: %s", e.msg);
			/* not known yet (a busy engine answers /info late): asked again
			 * soon, at doubling intervals, so a frozen one costs the loop little */
			if (!w->w_engine_root)
				w->w_root_wait = w->w_root_wait < DISK_ROOT_INTERVAL_MS / 2 ?
						 w->w_root_wait * 2 : DISK_ROOT_INTERVAL_MS;
		}
	}
	w->w_free_state = worker_disk_free(w->w_cfg->state_dir);
	w->w_free_engine = worker_disk_free(w->w_engine_root);
}

static void worker_disk_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	worker_kick(arg);
}

int worker_disk_start(struct worker *w)
{
	w->w_disk_ev = evtimer_new(w->w_base, worker_disk_cb, w);
	w->w_free_state = w->w_free_engine = DISK_UNKNOWN;
	w->w_root_wait = DISK_CHECK_MS;
	http_set_pipeline_health(w->w_http, worker_disk_health, worker_metrics, w);
	return w->w_disk_ev ? 0 : -1;
}

void worker_disk_free_all(struct worker *w)
{
	if (w->w_disk_ev)
		event_free(w->w_disk_ev);
	free(w->w_engine_root);
}

static void worker_disk_size(char *out, size_t n, unsigned long long b)
{
	if (b >= 1024ULL * 1024 * 1024)
		snprintf(out, n, "%.1f GiB", b / (1024.0 * 1024 * 1024));
	else
		snprintf(out, n, "%.1f MiB", b / (1024.0 * 1024));
}

/* 1 with why (n bytes) when state_dir or the engine's data root has less than need
 * bytes free, else 0. */
static int worker_disk_short(struct worker *w, long need, char *why, size_t n)
{
	const char *where = NULL;
	unsigned long long have = 0;
	char a[32], b[32];

	if (need <= 0)
		return 0;
	worker_disk_refresh(w);
	if (w->w_free_state != DISK_UNKNOWN && w->w_free_state < (unsigned long long)need) {
		where = w->w_cfg->state_dir;
		have = w->w_free_state;
	} else if (w->w_free_engine != DISK_UNKNOWN && w->w_free_engine < (unsigned long long)need) {
		where = w->w_engine_root;
		have = w->w_free_engine;
	}
	if (!where)
		return 0;
	worker_disk_size(a, sizeof(a), have);
	worker_disk_size(b, sizeof(b), (unsigned long long)need);
	snprintf(why, n, "%s free on '%s', below min_free_space (%s): builds wait", a, where, b);
	return 1;
}

int worker_disk_hold(struct worker *w, const char *repo)
{
	const struct repo_conf *r = worker_repo(w, repo);
	char why[sizeof(w->w_hold)];
	struct timeval tv = { DISK_RECHECK_MS / 1000, (DISK_RECHECK_MS % 1000) * 1000 };

	if (!worker_disk_short(w, r ? r->min_free_space : w->w_cfg->min_free_space, why,
			       sizeof(why))) {
		w->w_hold_passed = 1;
		return 0;
	}
	w->w_hold_seen = 1;
	if (!w->w_held) {
		log_warn("%s", why);
		w->w_held = 1;
		worker_keep_now(w);
	}
	snprintf(w->w_hold, sizeof(w->w_hold), "%s", why);
	if (w->w_disk_ev && !evtimer_pending(w->w_disk_ev, NULL))
		evtimer_add(w->w_disk_ev, &tv);
	return 1;
}

/* Held builds are let go once a pass found none to hold and either started one or
 * finds [agent]'s min_free_space met (a pass may see no queued build at all). */
void worker_disk_settle(struct worker *w)
{
	char why[sizeof(w->w_hold)];

	if (w->w_held && !w->w_hold_seen &&
	    (w->w_hold_passed || !worker_disk_short(w, w->w_cfg->min_free_space, why, sizeof(why)))) {
		log_info("free space is back above min_free_space: builds run again");
		w->w_held = 0;
		w->w_hold[0] = '\0';
	}
	w->w_hold_seen = w->w_hold_passed = 0;
}

int worker_disk_health(void *ctx, struct err *e)
{
	struct worker *w = ctx;

	return w->w_held ? err_set(e, "%s", w->w_hold) : 0;
}

/* http_metrics_fn: free space, held builds, what retention freed */
void worker_metrics(void *ctx, struct buf *o)
{
	struct worker *w = ctx;

	worker_disk_refresh(w);
	buf_addstr(o, "# HELP s2i_agent_free_bytes Free bytes where builds write "
		   "(state_dir; engine: its data root, when local).\n"
		   "# TYPE s2i_agent_free_bytes gauge\n");
	if (w->w_free_state != DISK_UNKNOWN)
		buf_addf(o, "s2i_agent_free_bytes{dir=\"state_dir\"} %llu\n", w->w_free_state);
	if (w->w_free_engine != DISK_UNKNOWN)
		buf_addf(o, "s2i_agent_free_bytes{dir=\"engine\"} %llu\n", w->w_free_engine);
	buf_addf(o, "# HELP s2i_agent_builds_held 1 while builds wait for free space "
		 "(min_free_space).\n# TYPE s2i_agent_builds_held gauge\n"
		 "s2i_agent_builds_held %d\n", w->w_held);
	buf_addf(o, "# HELP s2i_agent_pruned_builds_total Builds deleted by retention.\n"
		 "# TYPE s2i_agent_pruned_builds_total counter\n"
		 "s2i_agent_pruned_builds_total %lld\n"
		 "# HELP s2i_agent_pruned_logs_total Build logs deleted by retention.\n"
		 "# TYPE s2i_agent_pruned_logs_total counter\n"
		 "s2i_agent_pruned_logs_total %lld\n"
		 "# HELP s2i_agent_pruned_bytes_total Bytes of the build logs retention deleted.\n"
		 "# TYPE s2i_agent_pruned_bytes_total counter\n"
		 "s2i_agent_pruned_bytes_total %lld\n"
		 "# HELP s2i_agent_retention_passes_total Retention passes run.\n"
		 "# TYPE s2i_agent_retention_passes_total counter\n"
		 "s2i_agent_retention_passes_total %lld\n",
		 w->w_keep_total.rows, w->w_keep_total.logs, w->w_keep_total.bytes, w->w_keep_passes);
	worker_mirror_metrics(w, o);
	worker_status_metrics(w, o);
	worker_fleet_metrics(w, o);
}
