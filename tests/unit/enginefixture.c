/* enginefixture: the choice of the engine the live engine tests run against.
 * Linked into every unit test (libtestfix.a). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "child.h"
#include "enginefixture.h"

/* Runs `bash TESTS_DIR/lib/SCRIPT start [ARG]` (it starts the engine if it is not up
 * and loads the base image) and returns the value of its KEY=... output line, or NULL. */
static const char *ef_start(const char *script_name, const char *arg, const char *key)
{
	static char url[512];
	const char *tests = getenv("TESTS_DIR") ? getenv("TESTS_DIR") : "tests";
	char script[512], out[4096], *line;
	const char *argv[] = { "bash", script, "start", arg, NULL };
	struct child c = CHILD_INIT;
	struct err e = ERR_INIT;
	size_t got = 0, klen = strlen(key);
	ssize_t n;
	int status = -1;

	snprintf(script, sizeof(script), "%s/lib/%s", tests, script_name);
	c.argv = argv;
	c.out = CHILD_PIPE;
	if (child_start(&c, &e) < 0) {
		fprintf(stderr, "%s start: %s\n", script_name, e.msg);
		return NULL;
	}
	while (got < sizeof(out) - 1 && (n = read(c.out_fd, out + got, sizeof(out) - 1 - got)) > 0)
		got += (size_t)n;
	out[got] = 0;
	if (child_finish(&c, &status, &e) < 0 || status) {
		fprintf(stderr, "%s start %s failed: %s (status %d)\n", script_name, arg ? arg : "", e.msg, status);
		return NULL;
	}
	for (line = strtok(out, "\n"); line; line = strtok(NULL, "\n"))
		if (!strncmp(line, key, klen) && line[klen] == '=') {
			snprintf(url, sizeof(url), "%s", line + klen + 1);
			return url;
		}
	fprintf(stderr, "%s start printed no %s\n", script_name, key);
	return NULL;
}

const char *ef_engine_url(void)
{
	const char *v = getenv("S2I_TEST_ENGINE");
	const char *url;

	if (!v || !*v || !strcmp(v, "docker"))
		return NULL;
	if (!strcmp(v, "podman")) {
		url = ef_start("podman.sh", NULL, "PODMAN_ENGINE");
		return url ? url : "unix:///tmp/s2i-agent-podman/podman.sock";
	}
	/* today's engines, from the cached sid root */
	if (!strcmp(v, "docker28") || !strcmp(v, "docker28-containerd") || !strcmp(v, "podman5")) {
		url = ef_start("sidengine.sh", v, "ENGINE_URL");
		return url ? url : "unix:///nonexistent/sidengine-did-not-start.sock";
	}
	return v;
}
