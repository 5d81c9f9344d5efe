/* cmd_notify: `s2i-agent notify [--url URL] [--secret-file F] [--follow] REPO` */
/* What git hooks run: the arguments and the secret here, the events and the build
 * logs in notify.c. */
#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cmds.h"
#include "config.h"
#include "err.h"
#include "httpc.h"
#include "limits.h"
#include "notify.h"


static int notify_repo_ok(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > REPO_NAME_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("._-", s[i]))
			return 0;
	return 1;
}

int cmd_notify(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "secret-file", required_argument, NULL, 's' },
		{ "follow", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct notify_ref *refs = NULL;
	struct err e = ERR_INIT;
	const char *url_arg = NULL, *secret_file = NULL, *repo;
	char *secret = NULL, *base = NULL;
	size_t nrefs = 0, nsec = 0, i, len, lost = 0;
	int c, follow = 0, rv = 2, bad = 0, r;

	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (c) {
		case 'u': url_arg = optarg; break;
		case 's': secret_file = optarg; break;
		case 'f': follow = 1; break;
		case 'h':
			cmds_usage("notify", stdout);
			return 0;
		default:
			cmds_usage("notify", stderr);
			return 2;
		}
	}
	if (optind + 1 != argc)
		return cmds_usage_error("notify", "expected one REPO");
	repo = argv[optind];
	if (!notify_repo_ok(repo)) {
		notify_say("notify: '%s' is not a repo name ([A-Za-z0-9._-]+)", repo);
		return 2;
	}
	if (!url_arg || !*url_arg)
		url_arg = getenv(NOTIFY_URL_ENV);
	if (!url_arg || !*url_arg)
		url_arg = NOTIFY_DEFAULT_URL;
	if (strncmp(url_arg, "http://", 7) && strncmp(url_arg, "https://", 8)) {
		notify_say("notify: the agent url must start with http:// or https://");
		return 2;
	}
	base = xstrdup(url_arg);
	len = strlen(base);
	while (len > 0 && base[len - 1] == '/')
		base[--len] = '\0';
	if (secret_file) {
		/* a file with two secrets (rotation): the first line signs */
		char *secs[SECRETS_PER_REPO] = { NULL };

		if (config_read_secret(secret_file, secs, SECRETS_PER_REPO, &nsec, &e) < 0) {
			notify_say("notify: %s", e.msg);
			goto out;
		}
		secret = secs[0];
		for (i = 1; i < nsec; i++) {
			memset(secs[i], 0, strlen(secs[i]));
			free(secs[i]);
		}
	}
	if (notify_read_refs(stdin, &refs, &nrefs) < 0)
		goto out;
	if (httpc_global_init(&e) < 0) {
		notify_say("notify: %s", e.msg);
		goto out;
	}
	rv = 0;
	for (i = 0; i < nrefs; i++)
		if (notify_post(base, repo, nsec ? secret : NULL, &refs[i]) < 0)
			lost++;
	/* an event that did not get through is lost: git will not send it again */
	for (i = 0; lost && i < nrefs; i++)
		if (refs[i].build <= 0 && refs[i].posted == 0)
			notify_say("%s: nothing was built; push again once the agent answers, or ask for a "
				   "build: curl -X POST -H 'Authorization: Bearer ADMIN_TOKEN' -d "
				   "'{\"ref\": \"%s\"}' %s/repos/%s/builds", refs[i].ref, refs[i].ref, base, repo);
	if (follow) {
		for (i = 0; i < nrefs; i++) {
			if (refs[i].build <= 0)
				continue;
			notify_say("build %lld (%s):", refs[i].build, refs[i].ref);
			r = notify_follow(base, refs[i].build);
			if (r != 0)
				bad = 1;
		}
	}
	rv = lost ? NOTIFY_EXIT_UNDELIVERED : bad ? 1 : 0;
	httpc_global_cleanup();
out:
	for (i = 0; i < nrefs; i++)
		free(refs[i].ref);
	free(refs);
	if (secret) {
		memset(secret, 0, strlen(secret));
		free(secret);
	}
	free(base);
	return rv;
}
