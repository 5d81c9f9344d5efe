/* cmds: what the subcommands share: the -c FILE argument, finding the sibling
 * executables (s2i-agentd, the lean daemon; s2i-agent, the full tool), the peak RSS. */
#include <errno.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmds.h"
#include "config.h"

const char *cmds_config_arg(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-c") && i + 1 < argc)
			return argv[i + 1];
		if (!strncmp(argv[i], "--config=", 9))
			return argv[i] + 9;
		if (!strncmp(argv[i], "-c", 2) && argv[i][2])
			return argv[i] + 2;
	}
	return config_default_path();
}

long cmds_vmhwm_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmHWM:", 6))
			kb = atol(line + 6);
	fclose(f);
	return kb;
}

int cmds_exec_sibling(const char *name, char **argv)
{
	char self[4096], path[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	if (n <= 0)
		return -1;
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (!slash)
		return -1;
	*slash = '\0';
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", self, name) >= sizeof(path))
		return -1;
	if (access(path, X_OK) < 0)
		return -1;
	execv(path, argv);
	return -1;
}
