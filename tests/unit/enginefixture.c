/* enginefixture: the choice of the engine the live engine tests run against.
 * Linked into every unit test (libtestfix.a). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "child.h"
#include "enginefixture.h"

const char *ef_engine_url(void)
{
	const char *v = getenv("S2I_TEST_ENGINE");

	if (!v || !*v || !strcmp(v, "docker"))
		return NULL;
	if (!strcmp(v, "podman")) {
		const char *tests = getenv("TESTS_DIR") ? getenv("TESTS_DIR") : "tests";
		char script[512];
		const char *argv[] = { "bash", script, "start", NULL };
		struct child c = CHILD_INIT;
		struct err e = ERR_INIT;
		int status = -1;

		/* starts the service if it is not up, loads the base image */
		snprintf(script, sizeof(script), "%s/lib/podman.sh", tests);
		c.argv = argv;
		c.out = CHILD_NULL;
		if (child_start(&c, &e) < 0 || child_finish(&c, &status, &e) < 0 || status)
			fprintf(stderr, "podman.sh start failed: %s (status %d)\n", e.msg, status);
		return "unix:///tmp/s2i-agent-podman/podman.sock";
	}
	return v;
}
