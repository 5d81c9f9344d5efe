/* cmd_prune: `s2i-agent prune [-c FILE] [--dry-run] [--wait]`, one retention pass by
 * hand over the configured database (database =) and state_dir's logs, printing what it
 * freed (or would free). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <git2.h>

#include "cmds.h"
#include "config.h"
#include "gitsrc.h"
#include "limits.h"
#include "retain.h"
#include "runner.h"
#include "store.h"

/* The whole pass, a slice per transaction so that a running serve's writes wait
 * for no more than one slice. */
static int cmd_prune_pass(struct store *st, const struct retain_policy *p, int dry,
			  struct retain_tally *t, struct err *e)
{
	struct retain_cursor cur = RETAIN_CURSOR_INIT;
	int rc;

	do {
		if (store_begin(st, e) < 0)
			break;
		rc = retain_slice(st, p, &cur, dry, RETAIN_CLI_SLICE_ROWS, 0, t, e);
		if (rc < 0) {
			store_rollback(st);
			break;
		}
		if (store_commit(st, e) < 0)
			break;
	} while (rc > 0);
	retain_cursor_release(&cur);
	return e->msg[0] ? -1 : 0;
}

/* 1 when dir (the trash) has a file, else 0 (missing or empty). */
static int cmd_prune_trash_has(const char *dir)
{
	DIR *dh = opendir(dir);
	struct dirent *d;
	int has = 0;

	if (!dh)
		return 0;
	while (!has && (d = readdir(dh)))
		has = d->d_name[0] != '.';
	closedir(dh);
	return has;
}

/* The trash's files unlinked by a process of their own, which outlives this one (a
 * new session, its stdio on /dev/null): on a busy disk an unlink costs a few hundred
 * microseconds, 10,000 of them seconds, and what the pass deleted is already gone
 * from the agent's view. Its pid, or -1 (then the caller unlinks them itself). */
static pid_t cmd_prune_trash_detach(const char *dir)
{
	long long files;
	pid_t pid;
	int fd;

	fflush(NULL);
	pid = fork();
	if (pid != 0)
		return pid;
	setsid();
	runner_close_fds();	/* the database's among them */
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		close(fd);
	}
	_exit(retain_trash_empty(dir, &files) < 0 ? 1 : 0);
}

/* Every mirror of state_dir/git repacked; prints what it freed. -1 when one failed. */
static int cmd_prune_mirrors(const char *state_dir)
{
	uint64_t before = 0, after = 0;
	struct dirent *d;
	char *dir = xasprintf("%s/git", state_dir), *p;
	DIR *dh = opendir(dir);
	unsigned n = 0;
	int ret = 0;

	free(dir);
	if (!dh)
		return 0;
	git_libgit2_init();
	while ((d = readdir(dh))) {
		struct gitsrc_gc_stats st;
		struct err e = ERR_INIT;
		size_t len = strlen(d->d_name);

		if (d->d_name[0] == '.' || len < 5 || strcmp(d->d_name + len - 4, ".git"))
			continue;
		p = xasprintf("%s/git/%s", state_dir, d->d_name);
		if (gitsrc_gc(p, 0, &st, &e) < 0) {
			fprintf(stderr, "s2i-agent prune: %s\n", e.msg);
			ret = -1;
		} else {
			n++;
			before += st.bytes_before;
			after += st.bytes_after;
		}
		free(p);
	}
	closedir(dh);
	git_libgit2_shutdown();
	printf("repacked %u mirrors: %llu -> %llu bytes\n", n, (unsigned long long)before,
	       (unsigned long long)after);
	return ret;
}

int cmd_prune(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "wait", no_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct retain_tally t = { 0, 0, 0 };
	struct strv errors = STRV_INIT;
	struct retain_policy *p = NULL;
	struct store *st = NULL;
	struct config *c = NULL;
	struct err e = ERR_INIT;
	const char *path = config_default_path();
	long long trashed = 0;
	pid_t sweeper = -1;
	int dry = 0, wait_unlink = 0, opt, ret = 1;
	size_t i;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+:c:nwh", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': path = optarg; break;
		case 'n': dry = 1; break;
		case 'w': wait_unlink = 1; break;
		case 'h':
			cmds_usage("prune", stdout);
			return 0;
		case ':':
			return cmds_usage_error("prune", "%s needs a file", argv[optind - 1]);
		default:
			return cmds_usage_error("prune", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cmds_usage_error("prune", "unexpected argument '%s'", argv[optind]);
	if (config_load(path, &c, &errors) < 0) {
		for (i = 0; i < errors.n; i++)
			fprintf(stderr, "%s\n", errors.items[i]);
		strv_clear(&errors);
		return 1;
	}
	if (store_connect(c->database, c->database_password, c->state_dir, &st, &e) < 0) {
		fprintf(stderr, "s2i-agent prune: %s\n", e.msg);
		goto out;
	}
	p = retain_policy_new(c, store_now_ms());
	if (cmd_prune_pass(st, p, dry, &t, &e) < 0)
		fprintf(stderr, "s2i-agent prune: %s\n", e.msg);
	else
		ret = 0;
	/* the pass moved the logs into the trash (a stop may have left some there before);
	 * a running serve may be emptying it too */
	if (!dry && !wait_unlink && cmd_prune_trash_has(p->trashdir))
		sweeper = cmd_prune_trash_detach(p->trashdir);
	if (!dry && sweeper < 0 && retain_trash_empty(p->trashdir, &trashed) < 0)
		fprintf(stderr, "s2i-agent prune: cannot empty '%s': %s\n", p->trashdir, strerror(errno));
	/* what was done, even when the pass stopped half way */
	printf("%s %lld builds and %lld logs (%lld bytes)\n", dry ? "would delete" : "deleted",
	       t.rows, t.logs, t.bytes);
	if (sweeper > 0)
		printf("unlinking the deleted logs' files in the background (process %d; --wait "
		       "waits for it)\n", (int)sweeper);
	if (!dry && cmd_prune_mirrors(c->state_dir) < 0)
		ret = 1;
out:
	retain_policy_free(p);
	store_free(st);
	config_free(c);
	return ret;
}
