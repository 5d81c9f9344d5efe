/* cmd_usage: `s2i-agent usage [FLAGS] BUILDER`, the builder's usage script, as `s2i usage` */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmds.h"
#include "s2i.h"

enum { OPT_NETWORK = 256, OPT_HELP };

static const struct option usage_options[] = {
	{ "scripts-url", required_argument, NULL, 's' },
	{ "pull-policy", required_argument, NULL, 'p' },
	{ "url", required_argument, NULL, 'U' },
	{ "env", required_argument, NULL, 'e' },
	{ "destination", required_argument, NULL, 'd' },
	{ "network", required_argument, NULL, OPT_NETWORK },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

static void usage_help(FILE *f)
{
	cmds_usage("usage", f);
}

static void usage_line(void *arg, enum s2i_log_kind kind, const char *line, size_t len)
{
	(void)arg;
	/* s2i usage prints the script's output, both streams, on its stderr; our steps
	 * would only be noise there */
	if (kind == S2I_LOG_STEP)
		return;
	if (kind == S2I_LOG_WARN)
		fputs("warning: ", stderr);
	fwrite(line, 1, len, stderr);
	fputc('\n', stderr);
}

int cmd_usage(int argc, char **argv)
{
	struct s2i_opts o;
	struct s2i_result r;
	struct err e = ERR_INIT;
	int c, rc = 2;

	s2i_opts_init(&o);
	memset(&r, 0, sizeof(r));
	o.usage = 1;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":s:p:U:e:d:h", usage_options, NULL)) != -1) {
		switch (c) {
		case 's':
			free(o.scripts_url);
			o.scripts_url = xstrdup(optarg);
			break;
		case 'p':
			if (pull_policy_parse(optarg, &o.pull_policy) < 0) {
				fprintf(stderr, "s2i-agent usage: --pull-policy: expected " PULL_POLICY_NAMES "\n");
				goto out;
			}
			break;
		case 'U':
			free(o.engine_url);
			o.engine_url = xstrdup(optarg);
			break;
		case 'e':
			if (!strchr(optarg, '=') || *optarg == '=') {
				fprintf(stderr, "s2i-agent usage: --env '%s': expected NAME=VALUE\n", optarg);
				goto out;
			}
			strv_push(&o.env, optarg);
			break;
		case 'd':
			free(o.destination);
			o.destination = xstrdup(optarg);
			break;
		case OPT_NETWORK:
			free(o.network);
			o.network = xstrdup(optarg);
			break;
		case 'h':
		case OPT_HELP:
			usage_help(stdout);
			rc = 0;
			goto out;
		case ':':
			fprintf(stderr, "s2i-agent usage: option '%s' needs a value\n", argv[optind - 1]);
			goto out;
		default:
			fprintf(stderr, "s2i-agent usage: unknown option '%s'\n", argv[optind - 1]);
			usage_help(stderr);
			goto out;
		}
	}
	if (argc - optind != 1 || !*argv[optind]) {
		fputs("s2i-agent usage: expected BUILDER\n", stderr);
		usage_help(stderr);
		goto out;
	}
	o.builder = xstrdup(argv[optind]);
	if (getenv("S2I_AGENT_BUILD_ID") && *getenv("S2I_AGENT_BUILD_ID"))
		o.build_id = xstrdup(getenv("S2I_AGENT_BUILD_ID"));
	if (s2i_build(&o, usage_line, NULL, NULL, &r, &e) < 0) {
		fflush(stdout);
		fprintf(stderr, "s2i-agent usage: %s\n", e.msg);
		rc = 1;
	} else {
		rc = 0;
	}
out:
	fflush(stdout);
	s2i_result_release(&r);
	s2i_opts_release(&o);
	return rc;
}
