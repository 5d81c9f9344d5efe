/* cmd_forge_post: the hidden `__forge-post`, one commit status post from the shell */
/* It drives forge.c from shell tests (and by hand against a forge), with retries. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "cmds.h"
#include "config.h"
#include "forge.h"
#include "httpc.h"

static void forge_post_usage(void)
{
	fputs("usage: s2i-agent __forge-post --status github|gitlab|gitea [--api URL] [--repo-url URL]\n"
	      "         [--status-repo R] [--payload-repo R] --token-file F [--context C]\n"
	      "         [--public-url U] --id N --sha SHA [--ref REF] --state STATE\n"
	      "         [--description D] [--timeout S] [--retries N] [--print]\n", stderr);
}

int cmd_forge_post(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "status", required_argument, NULL, 's' },
		{ "api", required_argument, NULL, 'a' },
		{ "repo-url", required_argument, NULL, 'u' },
		{ "status-repo", required_argument, NULL, 'R' },
		{ "payload-repo", required_argument, NULL, 'P' },
		{ "token-file", required_argument, NULL, 'T' },
		{ "context", required_argument, NULL, 'c' },
		{ "public-url", required_argument, NULL, 'p' },
		{ "id", required_argument, NULL, 'i' },
		{ "sha", required_argument, NULL, 'S' },
		{ "ref", required_argument, NULL, 'r' },
		{ "state", required_argument, NULL, 't' },
		{ "description", required_argument, NULL, 'd' },
		{ "timeout", required_argument, NULL, 'o' },
		{ "retries", required_argument, NULL, 'n' },
		{ "print", no_argument, NULL, 'x' },
		{ NULL, 0, NULL, 0 },
	};
	struct repo_conf rc;
	struct forge_build b = { 0, NULL, NULL, NULL, NULL };
	struct forge_request r = FORGE_REQUEST_INIT;
	struct forge_answer a;
	struct err e = ERR_INIT;
	const char *public_url = NULL, *payload = NULL, *token_file = NULL;
	long timeout = 0, retries = 0, delay;
	int c, print = 0, rv = 2;
	unsigned attempt;
	unsigned long rnd;
	size_t i, n;

	memset(&rc, 0, sizeof(rc));
	rc.name = "cli";
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (!strcmp(optarg, "github"))
				rc.status = STATUS_GITHUB;
			else if (!strcmp(optarg, "gitlab"))
				rc.status = STATUS_GITLAB;
			else if (!strcmp(optarg, "gitea"))
				rc.status = STATUS_GITEA;
			else
				goto usage;
			break;
		case 'a': rc.status_api = optarg; break;
		case 'u': rc.url = optarg; break;
		case 'R': rc.status_repo = optarg; break;
		case 'P': payload = optarg; break;
		case 'T': token_file = optarg; break;
		case 'c': rc.status_context = optarg; break;
		case 'p': public_url = optarg; break;
		case 'i': b.id = atoll(optarg); break;
		case 'S': b.sha = optarg; break;
		case 'r': b.ref = optarg; break;
		case 't': b.state = optarg; break;
		case 'd': b.description = optarg; break;
		case 'o': timeout = atol(optarg); break;
		case 'n': retries = atol(optarg); break;
		case 'x': print = 1; break;
		default:
			goto usage;
		}
	}
	if (optind != argc || rc.status == STATUS_NONE || !token_file)
		goto usage;
	if (config_read_secret(token_file, &rc.status_token, 1, &n, &e) < 0) {
		fprintf(stderr, "s2i-agent __forge-post: %s\n", e.msg);
		return 2;
	}
	httpc_global_init(NULL);	/* a failure shows at the first request */
	if (forge_request_build(&rc, &b, public_url, payload, &r, &e) < 0) {
		fprintf(stderr, "s2i-agent __forge-post: %s\n", e.msg);
		rv = 2;
		goto out;
	}
	if (timeout > 0)
		r.timeout = timeout;
	if (print) {
		printf("POST %s\n", r.url);
		for (i = 0; i < r.headers.n; i++) {
			const char *h = r.headers.items[i];

			if (!strncmp(h, "Authorization: ", 15) || !strncmp(h, "PRIVATE-TOKEN: ", 15))
				printf("%.*s<redacted>\n", (int)(strchr(h, ':') - h + 2), h);
			else
				printf("%s\n", h);
		}
		printf("\n%s\n", r.body);
		rv = 0;
		goto out;
	}
	for (attempt = 1;; attempt++) {
		if (forge_post(&r, &a, &e) == 0) {
			printf("attempt %u: done http=%ld\n", attempt, a.http_code);
			rv = 0;
			break;
		}
		if (a.outcome == FORGE_FAILED) {
			printf("attempt %u: failed http=%ld: %s\n", attempt, a.http_code, e.msg);
			rv = 1;
			break;
		}
		if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
			rnd = (unsigned long)getpid();
		delay = forge_backoff(attempt, a.retry_after, rnd);
		printf("attempt %u: retry http=%ld retry_after=%ld delay=%ld: %s\n", attempt,
		       a.http_code, a.retry_after, delay, e.msg);
		fflush(stdout);
		if ((long)attempt > retries) {
			rv = 75;	/* EX_TEMPFAIL */
			break;
		}
		sleep((unsigned)delay);
	}
out:
	forge_request_release(&r);
	free(rc.status_token);
	httpc_global_cleanup();
	return rv;
usage:
	forge_post_usage();
	return 2;
}
