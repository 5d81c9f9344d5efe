/* notify: placeholder until its issue lands; prints that the command is missing.
 * Replaced wholesale by the module's real implementation. */
#include <stdio.h>

#include "cmds.h"

int cmd_notify(int argc, char **argv)
{
	(void)argc;
	fprintf(stderr, "s2i-agent %s: not implemented yet\n", argv[0]);
	return 2;
}
