/* cmd_check: `s2i-agent check [-c FILE]`, agent.conf loaded as serve would, checked */
#include <stdio.h>
#include <string.h>

#include "cmds.h"
#include "config.h"
#include "engine.h"
#include "limits.h"

int cmd_check(int argc, char **argv)
{
	struct strv errors = STRV_INIT;
	struct config *c = NULL;
	const char *path;
	size_t i;

	for (i = 1; i < (size_t)argc; i++) {
		if (!strcmp(argv[i], "-c")) {
			i++;
			continue;
		}
		if (strncmp(argv[i], "-c", 2) && strncmp(argv[i], "--config=", 9)) {
			fprintf(stderr, "s2i-agent check: unexpected argument '%s'\n", argv[i]);
			return 2;
		}
	}
	if (argc >= 2 && !strcmp(argv[argc - 1], "-c")) {
		fputs("s2i-agent check: -c needs a file\n", stderr);
		return 2;
	}
	path = cmds_config_arg(argc, argv);
	if (config_load(path, &c, &errors) < 0) {
		for (i = 0; i < errors.n; i++)
			printf("%s\n", errors.items[i]);
		strv_clear(&errors);
		return 1;
	}
	/* an engine that answers with an API range we do not speak is a configuration
	 * error; one that does not answer (yet) is not */
	{
		struct engine_tls tls = { c->tls_ca, c->tls_cert, c->tls_key };
		struct err e = ERR_INIT;

		if (engine_check_api(c->engine, &tls, ENGINE_CHECK_TIMEOUT, &e) < 0) {
			printf("%s: engine '%s': %s\n", path, c->engine, e.msg);
			config_free(c);
			return 1;
		}
	}
	for (i = 0; i < c->warnings.n; i++)
		printf("%s\n", c->warnings.items[i]);
	if (c->warnings.n)
		printf("configuration OK, with %zu warning%s\n", c->warnings.n, c->warnings.n > 1 ? "s" : "");
	else
		printf("configuration OK\n");
	config_free(c);
	return 0;
}
