/* cmd_mirror_child: the hidden `__mirror-clean`, a repository's mirror cleaned after
 * pushes deleted refs: their copies deleted, then what no ref reaches pruned. */
/* The job (runner.h) names the mirror and the refs; what was freed goes to stdout. */
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include <git2.h>
#include <jansson.h>

#include "buf.h"
#include "cmds.h"
#include "gitsrc.h"
#include "runner.h"

static long long mirror_child_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int cmd_mirror_child(int argc, char **argv)
{
	struct gitsrc_gc_stats st;
	struct strv refs = STRV_INIT;
	struct err e = ERR_INIT;
	const char *mirror;
	long long t0 = mirror_child_ms();
	json_t *job;
	int rc;

	(void)argv;
	runner_close_fds();
	job = runner_read_job("__mirror-clean", argc, 1);
	if (!job)
		return 2;
	mirror = runner_str(job, "mirror");
	runner_strv(job, "refs", &refs);
	if (!mirror || access(mirror, F_OK) < 0) {
		/* never fetched into (no build of a url yet): nothing to clean */
		runner_print(json_pack("{sb}", "none", 1));
		goto out;
	}
	git_libgit2_init();
	rc = gitsrc_gc_refs(mirror, refs.items, refs.n, &st, &e);
	git_libgit2_shutdown();
	if (rc < 0)
		runner_print(json_pack("{ss}", "error", e.msg));
	else
		runner_print(json_pack("{sIsIsIsIsIsI}", "refs", (json_int_t)st.refs,
				       "packs", (json_int_t)st.packs, "loose", (json_int_t)st.loose,
				       "bytes_before", (json_int_t)st.bytes_before,
				       "bytes_after", (json_int_t)st.bytes_after,
				       "ms", (json_int_t)(mirror_child_ms() - t0)));
out:
	strv_clear(&refs);
	json_decref(job);
	return 0;
}
