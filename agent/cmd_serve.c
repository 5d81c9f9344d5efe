/* cmd_serve: `s2i-agent serve`, the daemon's start, reload and stop around its loop */
/* Configuration, store, HTTP server and the signals of its life cycle (SIGTERM
 * drains, SIGHUP reloads), told to systemd. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "cmds.h"
#include "config.h"
#include "http.h"
#include "instance.h"
#include "limits.h"
#include "log.h"
#include "sdnotify.h"
#include "store.h"
#include "worker.h"

struct serve {
	struct event_base *sv_base;
	const char *sv_path;
	struct config *sv_cfg;
	struct store *sv_store;
	struct http *sv_http;
	struct worker *sv_worker;	/* pipeline: builds, statuses, logs */
	struct event *sv_sigterm, *sv_sigint, *sv_sighup;
	struct event *sv_drain;
	struct event *sv_watchdog;	/* WATCHDOG=1 from the loop: a hung loop gets restarted */
	time_t sv_deadline;
	int sv_stopping;
	int sv_lockfd;			/* state_dir/serve.lock, held until exit */
};

static void serve_notify(const char *state)
{
	struct err e = ERR_INIT;

	if (sdnotify(state, &e) < 0)
		log_warn("cannot notify systemd: %s", e.msg);
}

static void serve_watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	serve_notify("WATCHDOG=1");
}

/* Under WatchdogSec=, pings at half the interval, as sd_watchdog_enabled(3) advises. */
static int serve_watchdog(struct serve *sv)
{
	unsigned long long usec, half;
	struct timeval tv;

	if (!sdnotify_watchdog_usec(&usec))
		return 0;
	half = usec / 2 < 1000 ? 1000 : usec / 2;	/* a 0 interval would spin */
	tv.tv_sec = (time_t)(half / 1000000);
	tv.tv_usec = (suseconds_t)(half % 1000000);
	sv->sv_watchdog = event_new(sv->sv_base, -1, EV_PERSIST, serve_watchdog_cb, sv);
	if (!sv->sv_watchdog || event_add(sv->sv_watchdog, &tv) < 0)
		return -1;
	log_info("watchdog: pinging systemd every %llu ms", half / 1000);
	return 0;
}

static void serve_log_errors(const struct strv *errors)
{
	size_t i;

	for (i = 0; i < errors->n; i++)
		log_error("%s", errors->items[i]);
}

/* "FILE:LINE: warning: message" as "warning: FILE:LINE: message" (the level says it) */
static void serve_log_warnings(const struct strv *warnings)
{
	const char *w, *m;
	size_t i;

	for (i = 0; i < warnings->n; i++) {
		w = warnings->items[i];
		m = strstr(w, ": warning: ");
		if (m)
			log_warn("%.*s: %s", (int)(m - w), w, m + 11);
		else
			log_warn("%s", w);
	}
}

/* Drain: done once every received request is answered and written, or at the deadline. */
static void serve_drain_cb(evutil_socket_t fd, short what, void *arg)
{
	struct serve *sv = arg;
	struct timeval tv = { 0, 20 * 1000 };

	(void)fd;
	(void)what;
	if ((!http_inflight(sv->sv_http) && !worker_busy(sv->sv_worker)) ||
	    time(NULL) >= sv->sv_deadline) {
		if (http_inflight(sv->sv_http))
			log_warn("stopping with %u requests unanswered", http_inflight(sv->sv_http));
		event_base_loopexit(sv->sv_base, NULL);
		return;
	}
	evtimer_add(sv->sv_drain, &tv);
}

static void serve_stop_cb(evutil_socket_t sig, short what, void *arg)
{
	struct serve *sv = arg;

	(void)what;
	if (sv->sv_stopping)
		return;
	sv->sv_stopping = 1;
	log_info("%s: stopping", sig == SIGINT ? "interrupt" : "terminate");
	serve_notify("STOPPING=1");
	http_stop(sv->sv_http);
	worker_stop(sv->sv_worker);	/* pipeline */
	sv->sv_deadline = time(NULL) + HTTP_DRAIN_SECONDS;
	serve_drain_cb(-1, 0, sv);
}

static void serve_reload_cb(evutil_socket_t sig, short what, void *arg)
{
	struct serve *sv = arg;
	struct strv errors = STRV_INIT;
	struct config *c = NULL, *old = sv->sv_cfg;
	struct err e = ERR_INIT;

	(void)sig;
	(void)what;
	if (sv->sv_stopping)
		return;
	if (sdnotify_reloading(&e) < 0)
		log_warn("cannot notify systemd: %s", e.msg);
	if (config_load(sv->sv_path, &c, &errors) < 0) {
		serve_log_errors(&errors);
		log_error("reload: '%s' is invalid, keeping the running configuration",
			  sv->sv_path);
		strv_clear(&errors);
		serve_notify("READY=1");
		return;
	}
	if (strcmp(c->listen_host, old->listen_host) || c->listen_port != old->listen_port)
		log_warn("reload: 'listen' changed; it takes effect at the next start");
	if (strcmp(c->state_dir, old->state_dir))
		log_warn("reload: 'state_dir' changed; it takes effect at the next start");
	if (strcmp(c->database ? c->database : "sqlite", old->database ? old->database : "sqlite"))
		log_warn("reload: 'database' changed; it takes effect at the next start");
	http_set_config(sv->sv_http, c);
	http_set_queue_max(sv->sv_http, c->queue_max);
	worker_set_config(sv->sv_worker, c);	/* pipeline */
	sv->sv_cfg = c;
	config_free(old);
	serve_log_warnings(&c->warnings);
	log_info("reload: configuration '%s' loaded (%zu repositories)", sv->sv_path, c->nrepos);
	serve_notify("READY=1");
}

/* 0: run; 1: --help was answered; -1: a usage error, told */
static int serve_args(int argc, char **argv)
{
	int i;

	if (cmds_wants_help(argc, argv)) {
		cmds_usage("serve", stdout);
		return 1;
	}
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-c")) {
			if (++i == argc) {
				cmds_usage_error("serve", "-c needs a file");
				return -1;
			}
			continue;
		}
		if (!strncmp(argv[i], "--config=", 9) || (!strncmp(argv[i], "-c", 2) && argv[i][2]))
			continue;
		cmds_usage_error("serve", "unexpected argument '%s'", argv[i]);
		return -1;
	}
	return 0;
}

/* Builds a crash left `running`: the pipeline reruns or closes them; until it
 * is there they are only reported. */
static void serve_report_running(struct serve *sv)
{
	long long counts[BUILD_NSTATES];

	/* a shared store's running builds are mostly other agents' (recovery names ours) */
	if (store_shared(sv->sv_store))
		return;
	if (store_count_states(sv->sv_store, counts, NULL) == 0 && counts[BUILD_RUNNING])
		log_warn("%lld builds were left running by the previous run",
			 counts[BUILD_RUNNING]);
}

static void serve_release(struct serve *sv)
{
	worker_free(sv->sv_worker);	/* pipeline: before http (log streams) */
	http_free(sv->sv_http);
	if (sv->sv_sigterm)
		event_free(sv->sv_sigterm);
	if (sv->sv_sigint)
		event_free(sv->sv_sigint);
	if (sv->sv_sighup)
		event_free(sv->sv_sighup);
	if (sv->sv_drain)
		event_free(sv->sv_drain);
	if (sv->sv_watchdog)
		event_free(sv->sv_watchdog);
	store_free(sv->sv_store);
	config_free(sv->sv_cfg);
	if (sv->sv_base)
		event_base_free(sv->sv_base);
	if (sv->sv_lockfd >= 0)
		close(sv->sv_lockfd);
}

int cmd_serve(int argc, char **argv)
{
	struct serve sv = { 0 };
	struct strv errors = STRV_INIT;
	struct err e = ERR_INIT;
	char agent_id[INSTANCE_ID_MAX];
	long long depth = 0;
	int rc = 1;

	sv.sv_lockfd = -1;
	rc = serve_args(argc, argv);
	if (rc)
		return rc < 0 ? 2 : 0;	/* a usage error, or --help */
	rc = 1;
	sv.sv_path = cmds_config_arg(argc, argv);
	if (config_load(sv.sv_path, &sv.sv_cfg, &errors) < 0) {
		serve_log_errors(&errors);
		strv_clear(&errors);
		return 1;
	}
	serve_log_warnings(&sv.sv_cfg->warnings);
	/* a client that hangs up must not kill the daemon */
	signal(SIGPIPE, SIG_IGN);
	if (store_lock_dir(sv.sv_cfg->state_dir, &sv.sv_lockfd, &e) < 0 ||
	    store_connect(sv.sv_cfg->database, sv.sv_cfg->database_password, sv.sv_cfg->state_dir,
			  &sv.sv_store, &e) < 0 ||
	    instance_id(sv.sv_cfg->state_dir, agent_id, sizeof(agent_id), &e) < 0) {
		log_error("%s", e.msg);
		goto out;
	}
	/* before http_new: its batch writer's connection copies it */
	store_set_agent(sv.sv_store, agent_id);
	store_set_lease(sv.sv_store, sv.sv_cfg->lease * 1000LL);
	sv.sv_base = event_base_new();
	if (!sv.sv_base) {
		log_error("cannot create the event loop");
		goto out;
	}
	sv.sv_http = http_new(sv.sv_base, sv.sv_store, sv.sv_cfg);
	if (!sv.sv_http) {
		log_error("cannot create the HTTP server");
		goto out;
	}
	http_set_queue_max(sv.sv_http, sv.sv_cfg->queue_max);
	sv.sv_sigterm = evsignal_new(sv.sv_base, SIGTERM, serve_stop_cb, &sv);
	sv.sv_sigint = evsignal_new(sv.sv_base, SIGINT, serve_stop_cb, &sv);
	sv.sv_sighup = evsignal_new(sv.sv_base, SIGHUP, serve_reload_cb, &sv);
	sv.sv_drain = evtimer_new(sv.sv_base, serve_drain_cb, &sv);
	if (!sv.sv_sigterm || !sv.sv_sigint || !sv.sv_sighup || !sv.sv_drain ||
	    evsignal_add(sv.sv_sigterm, NULL) || evsignal_add(sv.sv_sigint, NULL) ||
	    evsignal_add(sv.sv_sighup, NULL)) {
		log_error("cannot install signal handlers");
		goto out;
	}
	/* pipeline: recovers what a crash left running, then schedules builds (before listening: the
	 * "listening" line is what tells a caller the agent is up) */
	sv.sv_worker = worker_new(sv.sv_base, sv.sv_store, sv.sv_http, sv.sv_cfg);
	if (worker_start(sv.sv_worker, &e) < 0) {
		log_error("%s", e.msg);
		goto out;
	}
	if (http_listen(sv.sv_http, sv.sv_cfg->listen_host, sv.sv_cfg->listen_port, &e) < 0) {
		log_error("%s", e.msg);
		goto out;
	}
	serve_report_running(&sv);
	store_queue_depth(sv.sv_store, &depth, NULL);
	log_info("listening on %s%s%s:%d, %zu repositories, %lld builds queued, database '%s'",
		 strchr(sv.sv_cfg->listen_host, ':') ? "[" : "", sv.sv_cfg->listen_host,
		 strchr(sv.sv_cfg->listen_host, ':') ? "]" : "", sv.sv_cfg->listen_port,
		 sv.sv_cfg->nrepos, depth, store_path(sv.sv_store));
	serve_notify("READY=1");
	if (serve_watchdog(&sv) < 0) {
		log_error("cannot start the watchdog timer");
		goto out;
	}
	if (event_base_dispatch(sv.sv_base) < 0) {
		log_error("event loop failed");
		goto out;
	}
	log_info("stopped");
	rc = 0;
out:
	serve_release(&sv);
	return rc;
}
