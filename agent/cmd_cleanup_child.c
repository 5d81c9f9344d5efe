/* cmd_cleanup_child: the hidden `__cleanup`, the containers of ended builds removed */
/* The job (runner.h) names the builds and the containers left behind; the count of
 * what was removed goes to stdout. */
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "cmds.h"
#include "engine.h"
#include "httpc.h"
#include "limits.h"
#include "runner.h"
#include "s2i.h"

int cmd_cleanup_child(int argc, char **argv)
{
	struct engine_tls tls;
	struct engine *eng = NULL;
	struct err e = ERR_INIT;
	const json_t *v;
	json_t *job;
	const char *owner;
	char bid[32];
	long long removed = 0;
	size_t i, unowned = 0;
	int failed = 0;

	(void)argv;
	runner_close_fds();
	job = runner_read_job("__cleanup", argc, 1);
	if (!job)
		return 2;
	httpc_global_init(NULL);	/* a failure shows at the first request */
	tls.ca = runner_str(job, "tls_ca");
	tls.cert = runner_str(job, "tls_cert");
	tls.key = runner_str(job, "tls_key");
	eng = tls.cert || tls.ca ? engine_new(runner_str(job, "engine"), &tls, &e) :
		engine_new_from_env(runner_str(job, "engine"), &e);
	if (!eng) {
		failed = 1;
		goto out;
	}
	/* report before the worker's kill: a frozen engine makes each call wait its limit */
	engine_set_deadline(eng, engine_clock_ms() + (int64_t)RUNNER_CLEANUP_DEADLINE * 1000);
	/* by label: both this agent's owner and the build id (other agents on the engine
	 * number their builds from 1 too); without an owner, nothing is removed by label */
	owner = runner_str(job, "owner");
	json_array_foreach(json_object_get(job, "ids"), i, v) {
		size_t n = 0;

		if (!owner || !*owner)
			break;
		snprintf(bid, sizeof(bid), "%lld", (long long)json_integer_value(v));
		if (s2i_remove_build_containers(eng, bid, owner, &n, &e) < 0)
			failed = 1;
		removed += (long long)n;
		if (failed && (!n || engine_unreachable(eng)))
			break;		/* the engine is gone: the rest is tried again later */
	}
	/* at the agent's start, before any build of it runs: every container of its
	 * builds, also one a canceled build never learnt the id of (its create
	 * answered after the cancel) or whose build the database no longer knows */
	if (json_is_true(json_object_get(job, "all_owned")) && !failed && owner && *owner) {
		size_t n = 0;

		if (s2i_remove_owned_containers(eng, owner, &n, &e) < 0)
			failed = 1;
		removed += (long long)n;
	}
	if (json_is_true(json_object_get(job, "count_unowned")) && !failed &&
	    s2i_count_unowned(eng, &unowned, &e) < 0)
		unowned = 0;		/* only a notice: not worth a retry */
	/* containers a build named because it could not remove them itself */
	json_array_foreach(json_object_get(job, "containers"), i, v) {
		if (!json_is_string(v))
			continue;
		if (failed && engine_unreachable(eng))
			break;		/* no answer: one wait is enough, the rest later */
		if (engine_container_remove(eng, json_string_value(v), 1, 1, &e) < 0)
			failed = 1;
		else
			removed++;
	}
out:
	runner_print(failed ? json_pack("{sIss}", "removed", (json_int_t)removed, "error", e.msg) :
		     json_pack("{sIsI}", "removed", (json_int_t)removed,
			       "unowned", (json_int_t)unowned));
	engine_free(eng);
	json_decref(job);
	httpc_global_cleanup();
	return 0;
}
