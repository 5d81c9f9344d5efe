/* cmd_help: `s2i-agent help [COMMAND]`, the list of commands or one command's usage
 * (the texts are in cmds.c, beside the other commands' shared helpers) */
#include <stdio.h>

#include "cmds.h"

int cmd_help(int argc, char **argv)
{
	if (argc > 2)
		return cmds_usage_error("help", "expected at most one COMMAND");
	if (argc < 2 || cmds_wants_help(argc, argv)) {
		cmds_usage_all(stdout);
		return 0;
	}
	if (cmds_usage(argv[1], stdout) < 0) {
		fprintf(stderr, "s2i-agent help: no command '%s'\n", argv[1]);
		cmds_usage_all(stderr);
		return 2;
	}
	return 0;
}
