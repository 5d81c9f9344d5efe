/* cmd_sweep_child: the hidden `__sweep`, the logs a retention pass moved into the trash
 * unlinked outside the daemon's writer, so that no intake fsync waits for them. */
#include <errno.h>
#include <string.h>

#include <jansson.h>

#include "cmds.h"
#include "retain.h"
#include "runner.h"

int cmd_sweep_child(int argc, char **argv)
{
	long long t0 = retain_clock_ms(), files = 0;
	const char *dir;
	json_t *job;
	int rc;

	(void)argv;
	runner_close_fds();
	job = runner_read_job("__sweep", argc, 1);
	if (!job)
		return 2;
	dir = runner_str(job, "dir");
	rc = dir ? retain_trash_empty(dir, &files) : 0;
	if (rc < 0)
		runner_print(json_pack("{sIss}", "files", (json_int_t)files, "error", strerror(errno)));
	else
		runner_print(json_pack("{sIsI}", "files", (json_int_t)files,
				       "ms", (json_int_t)(retain_clock_ms() - t0)));
	json_decref(job);
	return 0;
}
