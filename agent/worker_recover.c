/* worker_recover: at start-up, what a crashed agent left: builds, their processes, containers. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "buf.h"
#include "limits.h"
#include "log.h"
#include "worker_int.h"

/* 1 when pid is a build process of ours for build id (left by a crashed agent). */
static int worker_is_orphan(long long pid, long long id)
{
	char path[64], cmd[256], want[64];
	ssize_t n;
	size_t wl;
	int fd;

	snprintf(path, sizeof(path), "/proc/%lld/cmdline", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, cmd, sizeof(cmd) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	cmd[n] = '\0';
	/* argv = WORKER_SELF "__build" ID */
	wl = (size_t)snprintf(want, sizeof(want), "__build%c%lld", '\0', id) + 1;
	n -= (ssize_t)strlen(cmd) + 1;
	return n >= (ssize_t)wl && !memcmp(cmd + strlen(cmd) + 1, want, wl);
}

void worker_recover(struct worker *w)
{
	struct store_filter f = STORE_FILTER_INIT;
	struct build_list l = BUILD_LIST_INIT, q = BUILD_LIST_INIT;
	struct err e = ERR_INIT;
	long long *ids = NULL;
	size_t i, n = 0, waited;
	int alive;
	json_t *left;
	char *cpath;

	f.state = BUILD_RUNNING;
	f.oldest_first = 1;
	f.limit = BUILDS_LIST_MAX;
	/* on a shared store the other agents' running builds are theirs */
	f.mine = 1;
	if (store_list_builds(w->w_store, &f, &l, &e) < 0) {
		log_error("recovery: %s", e.msg);
		return;
	}
	/* a build process that outlived the agent would race its rerun */
	for (i = 0; i < l.n; i++)
		if (l.items[i].pid > 0 && worker_is_orphan(l.items[i].pid, l.items[i].id)) {
			log_warn("build %lld: killing its process %lld left by the previous run",
				 l.items[i].id, l.items[i].pid);
			kill(-(pid_t)l.items[i].pid, SIGKILL);
			kill((pid_t)l.items[i].pid, SIGKILL);
		}
	for (waited = 0; waited < WORKER_ORPHAN_WAIT_MS; waited += 20) {
		alive = 0;
		for (i = 0; i < l.n; i++)
			if (l.items[i].pid > 0 && worker_is_orphan(l.items[i].pid, l.items[i].id))
				alive = 1;
		if (!alive)
			break;
		usleep(20 * 1000);
	}
	for (i = 0; i < l.n; i++) {
		struct build *b = &l.items[i];

		if (store_shared(w->w_store)) {
			/* at its fence: another agent may be taking it over right now */
			log_warn("build %lld: the agent restarted during the build; %s", b->id,
				 b->attempt < WORKER_ATTEMPTS_MAX ? "running it again" : "errored");
			worker_lease_take(w, b, "agent restarted during the build");
		} else if (b->attempt < WORKER_ATTEMPTS_MAX) {
			if (store_requeue(w->w_store, b->id, "agent restarted during the build", &e) < 0)
				log_error("build %lld: %s", b->id, e.msg);
			log_warn("build %lld: the agent restarted during the build; running it again",
				 b->id);
			worker_log_line(w, b->id, "==> the agent restarted during the build; "
					"it runs again");
		} else {
			worker_close_build(w, b, BUILD_ERRORED, "agent restarted during the build",
					   NULL);
		}
	}
	/* containers of builds that ran before: the recovered ones, and those a stop requeued */
	f.state = BUILD_QUEUED;
	if (store_list_builds(w->w_store, &f, &q, &e) < 0)
		log_error("recovery: %s", e.msg);
	ids = xcalloc(l.n + q.n + 1, sizeof(*ids));
	for (i = 0; i < l.n; i++)
		ids[n++] = l.items[i].id;
	for (i = 0; i < q.n; i++)
		if (q.items[i].attempt > 0 && !worker_find_build(w, q.items[i].id)) {
			size_t k;

			for (k = 0; k < n && ids[k] != q.items[i].id; k++)
				;
			if (k == n)
				ids[n++] = q.items[i].id;
		}
	/* and what a previous run could not remove (the engine was down) */
	cpath = xasprintf("%s/%s", w->w_cfg->state_dir, WORKER_CLEANUP_FILE);
	left = json_load_file(cpath, 0, NULL);
	/* always: before the first build, every container of ours goes, whatever
	 * build made it (a canceled one may have left one it never knew of) */
	{
		json_t *a = json_array(), *c = json_array();

		for (i = 0; i < n; i++)
			json_array_append_new(a, json_integer(ids[i]));
		worker_cleanup_merge(&a, json_object_get(left, "ids"));
		worker_cleanup_merge(&c, json_object_get(left, "containers"));
		worker_cleanup_spawn(w, a, c, 1);
	}
	json_decref(left);
	free(cpath);
	free(ids);
	build_list_release(&l);
	build_list_release(&q);
}
