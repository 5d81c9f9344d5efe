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
	{ "notify", cmd_notify },
	{ "prune", cmd_prune },
	{ "version", cmd_version },
	{ "--version", cmd_version },
	/* hidden, for tests and bench */
	{ "__forge-post", cmd_forge_post },
	{ "__gitsrc-fetch", cmd_gitsrc_fetch },
	/* hidden: serve's children */
	{ "__build", cmd_build_child },
	{ "__status", cmd_status_child },
	{ "__cleanup", cmd_cleanup_child },
};

static void usage(FILE *f)
{
	fputs("usage: s2i-agent serve [-c FILE]\n"
	      "       s2i-agent check [-c FILE]\n"
	      "       s2i-agent build [FLAGS] SOURCE BUILDER [TAG]\n"
	      "       s2i-agent notify [--url URL] [--secret-file F] [--follow] REPO\n"
	      "       s2i-agent prune [-c FILE] [--dry-run]\n"
	      "       s2i-agent version\n", f);
}

int main(int argc, char **argv)
{
	const char *cmd;
	size_t i;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	cmd = argv[1];
	/* the lean daemon executable, when it is beside this one (cmds.h) */
	if (!strcmp(cmd, "serve") && !getenv("S2I_AGENT_INPROCESS"))
		cmds_exec_sibling(CMDS_DAEMON_EXE, argv);
	for (i = 0; i < sizeof(main_cmds) / sizeof(main_cmds[0]); i++)
		if (!strcmp(cmd, main_cmds[i].name))
			return main_cmds[i].fn(argc - 1, argv + 1);
	if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "s2i-agent: unknown command '%s'\n", cmd);
	usage(stderr);
	return 2;
}
