/* cmd_gitsrc_fetch: the hidden `__gitsrc-fetch`, gitsrc and srctar from the shell */
/* For shell tests and the bench: open, fetch, resolve, optionally stream the tar. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmds.h"
#include "gitsrc.h"
#include "srctar.h"

static void gitsrc_fetch_cmd_usage(void)
{
	fputs("usage: s2i-agent __gitsrc-fetch [--mirror DIR] [--ref REF] [--sha SHA] [--context-dir D]\n"
	      "         [--token-file F] [--token-user U] [--ssh-key F] [--known-hosts F]\n"
	      "         [--ignore-submodules] [--exclude RE]... [--tar FILE|null] [--uid N] SOURCE\n"
	      "prints key=value lines: kind id ref author date message location fetches objects\n"
	      "bytes fetch_seconds resolve_seconds tar_bytes tar_seconds vmhwm_kb\n", stderr);
}

static int gitsrc_fetch_cmd_fd_write(void *ctx, const void *p, size_t n)
{
	int fd = *(int *)ctx;

	if (fd < 0)
		return 0;	/* "null": count only */
	return xwrite_full(fd, p, n);
}

static double gitsrc_fetch_cmd_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int cmd_gitsrc_fetch(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "mirror", required_argument, NULL, 'm' },
		{ "ref", required_argument, NULL, 'r' },
		{ "sha", required_argument, NULL, 's' },
		{ "context-dir", required_argument, NULL, 'c' },
		{ "token-file", required_argument, NULL, 't' },
		{ "token-user", required_argument, NULL, 'T' },
		{ "ssh-key", required_argument, NULL, 'k' },
		{ "known-hosts", required_argument, NULL, 'K' },
		{ "ignore-submodules", no_argument, NULL, 'i' },
		{ "exclude", required_argument, NULL, 'x' },
		{ "tar", required_argument, NULL, 'o' },
		{ "uid", required_argument, NULL, 'u' },
		{ NULL, 0, NULL, 0 },
	};
	struct gitsrc_opts go = GITSRC_OPTS_INIT;
	struct srctar_opts so = SRCTAR_OPTS_INIT;
	struct strv exclude = STRV_INIT;
	const char *ref = NULL, *sha = NULL, *tarout = NULL;
	struct gitsrc *src = NULL;
	struct srctar *t = NULL;
	struct err e = ERR_INIT;
	int c, fd = -1, have_exclude = 0, rc = 1;
	double t0, t1;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'm': go.mirror_dir = optarg; break;
		case 'r': ref = optarg; break;
		case 's': sha = optarg; break;
		case 'c': go.context_dir = optarg; break;
		case 't': go.token_file = optarg; break;
		case 'T': go.token_user = optarg; break;
		case 'k': go.ssh_key_file = optarg; break;
		case 'K': go.known_hosts_file = optarg; break;
		case 'i': go.ignore_submodules = 1; break;
		case 'x': strv_push(&exclude, optarg); have_exclude = 1; break;
		case 'o': tarout = optarg; break;
		case 'u': so.uid = (uid_t)atol(optarg); so.gid = so.uid; break;
		default:
			gitsrc_fetch_cmd_usage();
			strv_clear(&exclude);
			return 2;
		}
	}
	if (optind != argc - 1) {
		gitsrc_fetch_cmd_usage();
		strv_clear(&exclude);
		return 2;
	}
	t0 = gitsrc_fetch_cmd_now();
	if (gitsrc_open(argv[optind], &go, &src, &e) < 0 || gitsrc_resolve(src, ref, sha, &e) < 0) {
		fprintf(stderr, "s2i-agent: %s\n", e.msg);
		goto out;
	}
	t1 = gitsrc_fetch_cmd_now();
	{
		static const char *const kinds[] = { "plain", "worktree", "bare", "remote" };
		const struct gitsrc_info *in = gitsrc_info(src);
		const struct gitsrc_fetch_stats *st = gitsrc_fetch_stats(src);

		printf("kind=%s\nid=%s\nref=%s\nauthor=%s\ndate=%s\nmessage=%s\nlocation=%s\n",
		       kinds[gitsrc_kind(src)], in->id, in->ref, in->author, in->date, in->message,
		       in->location);
		printf("fetches=%u\nobjects=%u\nbytes=%llu\nfetch_seconds=%.3f\nresolve_seconds=%.3f\n",
		       st->fetches, st->objects, (unsigned long long)st->bytes, st->seconds, t1 - t0);
	}
	if (tarout) {
		if (strcmp(tarout, "null")) {
			fd = open(tarout, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
			if (fd < 0) {
				fprintf(stderr, "s2i-agent: cannot create '%s': %s\n", tarout, strerror(errno));
				goto out;
			}
		}
		t0 = gitsrc_fetch_cmd_now();
		if (srctar_new(gitsrc_fetch_cmd_fd_write, &fd, &so, &t, &e) < 0 ||
		    srctar_add_source(t, "src", src, have_exclude ? &exclude : NULL, &e) < 0 ||
		    srctar_finish(t, &e) < 0) {
			fprintf(stderr, "s2i-agent: %s\n", e.msg);
			goto out;
		}
		t1 = gitsrc_fetch_cmd_now();
		printf("tar_bytes=%llu\ntar_seconds=%.3f\n", (unsigned long long)srctar_bytes(t), t1 - t0);
	}
	printf("vmhwm_kb=%ld\n", cmds_vmhwm_kb());
	rc = 0;
out:
	srctar_free(t);
	gitsrc_free(src);
	if (fd >= 0)
		close(fd);
	strv_clear(&exclude);
	fflush(stdout);
	return rc;
}
