/* main: dispatch of `s2i-agent COMMAND` (SPEC §1), plus `check` and `version`,
 * which are too small for a file of their own. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <git2.h>
#include <openssl/crypto.h>
#include <openssl/opensslv.h>

#include "cmds.h"
#include "config.h"
#include "engine.h"
#include "limits.h"

static void usage(FILE *f)
{
	fputs("usage: s2i-agent serve [-c FILE]\n"
	      "       s2i-agent check [-c FILE]\n"
	      "       s2i-agent build [FLAGS] SOURCE BUILDER [TAG]\n"
	      "       s2i-agent notify [--url URL] [--secret-file F] [--follow] REPO\n"
	      "       s2i-agent version\n", f);
}

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

static int cmd_version(void)
{
	int maj, min, rev;

	git_libgit2_version(&maj, &min, &rev);
	printf("s2i-agent %s\n", S2I_AGENT_VERSION);
	printf("libgit2 %d.%d.%d\n", maj, min, rev);
	printf("libcurl %s\n", curl_version_info(CURLVERSION_NOW)->version);
	printf("%s\n", OpenSSL_version(OPENSSL_VERSION));
	printf("libevent %s\n", event_get_version());
	return 0;
}

int main(int argc, char **argv)
{
	const char *cmd;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	cmd = argv[1];
	if (!strcmp(cmd, "serve")) {
		/* the lean daemon executable, when it is beside this one (cmds.h) */
		if (!getenv("S2I_AGENT_INPROCESS"))
			cmds_exec_sibling(CMDS_DAEMON_EXE, argv);
		return cmd_serve(argc - 1, argv + 1);
	}
	if (!strcmp(cmd, "check"))
		return cmd_check(argc - 1, argv + 1);
	if (!strcmp(cmd, "build"))
		return cmd_build(argc - 1, argv + 1);
	if (!strcmp(cmd, "notify"))
		return cmd_notify(argc - 1, argv + 1);
	if (!strcmp(cmd, "__forge-post")) return cmd_forge_post(argc - 1, argv + 1);	/* hidden, for tests */
	if (!strcmp(cmd, "__gitsrc-fetch")) return cmd_gitsrc_fetch(argc - 1, argv + 1);	/* hidden, for tests and bench */
	if (!strcmp(cmd, "__build")) return cmd_build_child(argc - 1, argv + 1);	/* hidden: serve's children */
	if (!strcmp(cmd, "__status")) return cmd_status_child(argc - 1, argv + 1);
	if (!strcmp(cmd, "__cleanup")) return cmd_cleanup_child(argc - 1, argv + 1);
	if (!strcmp(cmd, "version") || !strcmp(cmd, "--version"))
		return cmd_version();
	if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "s2i-agent: unknown command '%s'\n", cmd);
	usage(stderr);
	return 2;
}
