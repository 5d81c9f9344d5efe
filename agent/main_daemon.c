/* main_daemon: s2i-agentd, the daemon's own executable: `serve` only, linked
 * without libgit2/libcurl/libarchive so the long-running process stays small. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "cmds.h"

/* The kernel maps file pages around each fault (fault-around, 64 KiB), so a
 * long-running process ends up holding large stretches of library code it
 * never runs. MADV_RANDOM on the read-only file mappings turns that read-ahead
 * off: the daemon keeps only the pages it uses (its idle RSS roughly halves). */
static void daemon_no_fault_around(void)
{
	char line[512], perms[8], path[256];
	unsigned long lo, hi;
	FILE *f = fopen("/proc/self/maps", "re");

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		path[0] = '\0';
		if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %255s", &lo, &hi, perms, path) < 3)
			continue;
		if (path[0] == '/' && perms[1] != 'w')
			madvise((void *)lo, hi - lo, MADV_RANDOM);
	}
	fclose(f);
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "serve")) {
		daemon_no_fault_around();
		return cmd_serve(argc - 1, argv + 1);
	}
	/* every other command (the pipeline's build and status children among
	 * them) belongs to the full tool beside this executable */
	cmds_exec_sibling(CMDS_TOOL_EXE, argv);
	fprintf(stderr, "s2i-agentd: cannot run '%s' beside it: %s\n", CMDS_TOOL_EXE,
		strerror(errno));
	return 2;
}
