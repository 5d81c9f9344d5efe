/* main: `s2i-agent COMMAND`, the table of commands (each in its cmd_*.c, cmds.h) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds.h"

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
} main_cmds[] = {
	{ "serve", cmd_serve },
	{ "check", cmd_check },
	{ "build", cmd_build },
	{ "usage", cmd_usage },
	{ "notify", cmd_notify },
	{ "prune", cmd_prune },
	{ "migrate", cmd_migrate },
	{ "version", cmd_version },
	{ "--version", cmd_version },
	{ "help", cmd_help },
	/* hidden, for tests and bench */
	{ "__forge-post", cmd_forge_post },
	{ "__gitsrc-fetch", cmd_gitsrc_fetch },
	/* hidden: serve's children */
	{ "__build", cmd_build_child },
	{ "__status", cmd_status_child },
	{ "__cleanup", cmd_cleanup_child },
	{ "__mirror-clean", cmd_mirror_child },
	{ "__sweep", cmd_sweep_child },
};

int main(int argc, char **argv)
{
	const char *cmd;
	size_t i;

	if (argc < 2) {
		fputs("s2i-agent: which command?\n", stderr);
		cmds_usage_all(stderr);
		return 2;
	}
	cmd = argv[1];
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
		cmds_usage_all(stdout);
		return 0;
	}
	/* COMMAND --help / -h: its usage on stdout, whatever else is on the line */
	if (cmds_wants_help(argc - 1, argv + 1) && cmds_usage(cmd, stdout) == 0)
		return 0;
	/* the lean daemon executable, when it is beside this one (cmds.h) */
	if (!strcmp(cmd, "serve") && !getenv("S2I_AGENT_INPROCESS"))
		cmds_exec_sibling(CMDS_DAEMON_EXE, argv);
	for (i = 0; i < sizeof(main_cmds) / sizeof(main_cmds[0]); i++)
		if (!strcmp(cmd, main_cmds[i].name))
			return main_cmds[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "s2i-agent: unknown command '%s'\n", cmd);
	cmds_usage_all(stderr);
	return 2;
}
