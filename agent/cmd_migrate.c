/* cmd_migrate: `s2i-agent migrate --from STATE_DIR --to URL`, one agent's SQLite
 * history (STATE_DIR/agent.db) copied into the PostgreSQL store a fleet shares. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "cmds.h"
#include "config.h"
#include "instance.h"
#include "limits.h"
#include "store.h"

int cmd_migrate(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 't' },
		{ "password-file", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *from = NULL, *to = NULL, *pwfile = NULL;
	struct store *src = NULL, *dst = NULL;
	struct store_copy_tally t;
	struct err e = ERR_INIT;
	char agent[INSTANCE_ID_MAX], *db = NULL, *pw = NULL;
	struct stat st;
	size_t n = 0;
	int opt, lock = -1, ret = 1;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'f': from = optarg; break;
		case 't': to = optarg; break;
		case 'p': pwfile = optarg; break;
		case 'h':
			cmds_usage("migrate", stdout);
			return 0;
		case ':':
			return cmds_usage_error("migrate", "%s needs a value", argv[optind - 1]);
		default:
			return cmds_usage_error("migrate", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cmds_usage_error("migrate", "unexpected argument '%s'", argv[optind]);
	if (!from || !to)
		return cmds_usage_error("migrate", "both --from STATE_DIR and --to URL are needed");
	if (store_check_database(to, &e) < 0 || !strncmp(to, "sqlite", 6)) {
		fprintf(stderr, "s2i-agent migrate: --to: %s\n",
			e.msg[0] ? e.msg : "expected a postgresql:// URL");
		return 1;
	}
	/* never an empty store made by mistake: the directory must hold an agent's */
	db = xasprintf("%s/agent.db", from);
	if (stat(db, &st) < 0 || !S_ISREG(st.st_mode)) {
		fprintf(stderr, "s2i-agent migrate: '%s' holds no agent.db: not an agent's "
			"state_dir\n", from);
		goto out;
	}
	/* an agent serving from it would go on writing what is being copied */
	if (store_lock_dir(from, &lock, &e) < 0) {
		fprintf(stderr, "s2i-agent migrate: %s; stop it first\n", e.msg);
		goto out;
	}
	/* read as database_password_file is: private to its owner, its first line */
	if (pwfile && config_read_secret(pwfile, &pw, 1, &n, &e) < 0) {
		fprintf(stderr, "s2i-agent migrate: --password-file: %s\n", e.msg);
		goto out;
	}
	if (instance_id(from, agent, sizeof(agent), &e) < 0 ||
	    store_open(from, &src, &e) < 0 || store_connect(to, pw, from, &dst, &e) < 0 ||
	    store_copy(src, dst, agent, &t, &e) < 0) {
		fprintf(stderr, "s2i-agent migrate: %s; nothing was copied\n", e.msg);
		goto out;
	}
	printf("copied %lld builds (%lld there already), %lld delivery ids, %lld replay guard "
	       "digests, %lld image name owners, %lld commit statuses to post and %lld logs "
	       "(%lld bytes)\n", t.sct_builds, t.sct_builds_there, t.sct_deliveries, t.sct_pushes,
	       t.sct_tags, t.sct_statuses, t.sct_logs, t.sct_log_bytes);
	ret = 0;
out:
	store_free(dst);
	store_free(src);
	if (lock >= 0)
		close(lock);
	if (pw) {
		explicit_bzero(pw, strlen(pw));
		free(pw);
	}
	free(db);
	return ret;
}
