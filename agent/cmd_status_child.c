/* cmd_status_child: the hidden `__status`, one commit status posted for the daemon */
/* The job (runner.h) is the request forge.c posts; the outcome goes to stdout. A job
 * with "check" (a claim taken over from an agent that died while it posted) asks the
 * forge for the commit's statuses first and does not post one it already has. */
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <jansson.h>

#include "cmds.h"
#include "forge.h"
#include "httpc.h"
#include "runner.h"

int cmd_status_child(int argc, char **argv)
{
	struct forge_request r = FORGE_REQUEST_INIT;
	struct forge_answer a;
	struct err e = ERR_INIT;
	const char *oc;
	char unchecked[ERR_MSG_MAX] = "";
	json_int_t parent;
	int check, found = 0;
	json_t *job, *out;

	(void)argv;
	/* the agent dying ends its post: a post going out after its daemon died is
	 * one no agent records, and another agent posts it again */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	runner_close_fds();
	job = runner_read_job("__status", argc, 1);
	if (!job)
		return 2;
	parent = json_integer_value(json_object_get(job, "parent"));
	if (parent && getppid() != (pid_t)parent) {
		json_decref(job);	/* it died before the death signal was set */
		return 2;
	}
	r.kind = (enum status_kind)json_integer_value(json_object_get(job, "kind"));
	r.url = runner_dup(job, "url");
	r.list_url = runner_dup(job, "list_url");
	runner_strv(job, "headers", &r.headers);
	r.body = runner_dup(job, "body");
	r.state = runner_dup(job, "state");
	r.repo = runner_dup(job, "repo");
	r.token = runner_dup(job, "token");
	r.timeout = (long)json_integer_value(json_object_get(job, "timeout"));
	r.connect_timeout = (long)json_integer_value(json_object_get(job, "connect_timeout"));
	check = json_is_true(json_object_get(job, "check"));
	json_decref(job);
	if (!r.url || !r.body) {
		forge_request_release(&r);
		return 2;
	}
	httpc_global_init(NULL);	/* a failure shows at the first request */
	if (check) {
		found = forge_find(&r, &a, &e);
		/* not known (the forge does not list them to this token): posted, as
		 * without the check, and said so (the daemon warns and counts it) */
		if (found < 0 && a.outcome == FORGE_FAILED) {
			snprintf(unchecked, sizeof(unchecked), "%s", e.msg);
			found = 0;
		}
	}
	if (found == 0)
		forge_post(&r, &a, &e);
	else if (found > 0)
		a.outcome = FORGE_DONE;
	oc = a.outcome == FORGE_DONE ? "done" : a.outcome == FORGE_RETRY ? "retry" : "failed";
	out = a.outcome == FORGE_DONE ?
	      json_pack("{sssIsb}", "outcome", oc, "http_code", (json_int_t)a.http_code,
			"found", found > 0) :
	      json_pack("{sssIsIss}", "outcome", oc, "http_code", (json_int_t)a.http_code,
			"retry_after", (json_int_t)a.retry_after, "error", e.msg);
	if (*unchecked)
		json_object_set_new(out, "unchecked", json_string(unchecked));
	runner_print(out);
	forge_request_release(&r);
	httpc_global_cleanup();
	return 0;
}
