/* cmds: what the subcommands share: their help texts, the -c FILE argument, finding the
 * sibling executables (s2i-agentd, the lean daemon; s2i-agent, the full tool), the peak RSS. */
#include <errno.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmds.h"
#include "config.h"
#include "limits.h"

/* Text only, no function pointers: s2i-agentd links this file for serve's --help and
 * must not pull in the other commands (main.c holds the dispatch table). */
static const struct cmds_help {
	const char *ch_name;
	const char *ch_summary;	/* one line, the top-level list */
	const char *ch_usage;	/* "usage: ..." and the options */
} cmds_help[] = {
	{ "serve", "run the daemon in the foreground: webhooks, builds, dashboard",
	  "usage: s2i-agent serve [-c FILE]\n"
	  "  -c, --config=FILE  the configuration (s2i-agent.conf(5))\n"
	  "  -h, --help         this help\n"
	  "logs to standard error; SIGHUP reloads the configuration, SIGTERM drains and stops\n" },
	{ "check", "validate the configuration; --online also asks the engine and remotes",
	  "usage: s2i-agent check [-c FILE] [--online]\n"
	  "  -c, --config=FILE  the configuration (s2i-agent.conf(5))\n"
	  "      --online       also ask the engine (API version), look for each builder\n"
	  "                     image and reach each repository URL with its credentials\n"
	  "  -h, --help         this help\n"
	  "prints one 'FILE:LINE: problem; what to do' line per problem and exits 1, or\n"
	  "'configuration OK' and exits 0\n" },
	{ "build", "one S2I build from a directory or git URL, a drop-in for `s2i build`",
	  "usage: s2i-agent build [FLAGS] SOURCE BUILDER [TAG]\n"
	  "  -r, --ref REF                  branch, tag or commit to build\n"
	  "      --context-dir DIR          subdirectory of the source to build\n"
	  "  -e, --env NAME=VALUE           build environment (repeatable)\n"
	  "  -E, --environment-file FILE    NAME=VALUE lines\n"
	  "  -s, --scripts-url URL          image://, file:// or http(s):// scripts\n"
	  "      --incremental              restore artifacts of the previous TAG\n"
	  "      --incremental-pull-policy P\n"
	  "  -p, --pull-policy P            always | never | if-not-present\n"
	  "      --runtime-image IMAGE      two-phase build into IMAGE\n"
	  "  -a, --runtime-artifact SRC:DST (repeatable)\n"
	  "      --runtime-pull-policy P\n"
	  "      --assemble-user USER\n"
	  "      --assemble-runtime-user USER\n"
	  "  -u, --allowed-uids RANGES      e.g. 1- or 1000-2000,3000\n"
	  "  -i, --inject SRC:DST           file or directory, truncated after assemble\n"
	  "      --build-env NAME=VALUE     for assemble only, not in the image (repeatable)\n"
	  "      --build-secret NAME:PATH   /run/secrets/NAME during assemble only (repeatable)\n"
	  "      --as-dockerfile PATH       write a Dockerfile and its context, build nothing\n"
	  "  -n, --application-name NAME\n"
	  "      --description TEXT\n"
	  "      --exclude REGEX            source paths to leave out (default .git)\n"
	  "      --ignore-submodules\n"
	  "  -d, --destination DIR          where sources and scripts go in the image\n"
	  "      --callback-url URL\n"
	  "      --network MODE\n"
	  "      --cap-drop CAP[,CAP]\n"
	  "  -v, --volume SRC:DST[:opts]\n"
	  "      --add-host HOST:IP\n"
	  "  -U, --url URL                  engine (default $DOCKER_HOST or unix:///var/run/docker.sock)\n"
	  "      --push                     push TAG\n"
	  "      --rm                       with --incremental: remove the previous image\n"
	  "  -q, --quiet                    no script output\n"
	  "      --loglevel N               0: script output and warnings only;\n"
	  "                                 1-5 (and without it): our steps too\n"
	  "      --timeout DURATION         e.g. 90s, 30m (default none)\n"
	  "  -h, --help                     this help\n"
	  "the log goes to standard output, the image id is its last line\n" },
	{ "usage", "run a builder's usage script, as `s2i usage`",
	  "usage: s2i-agent usage [FLAGS] BUILDER\n"
	  "the script's output goes to standard error, as s2i usage does\n"
	  "  -s, --scripts-url URL      image://, file:// or http(s):// (default: the image's\n"
	  "                             io.openshift.s2i.scripts-url label)\n"
	  "  -p, --pull-policy P        always | never | if-not-present\n"
	  "  -U, --url URL              engine (default $DOCKER_HOST or unix:///var/run/docker.sock)\n"
	  "  -e, --env NAME=VALUE       for the script (repeatable)\n"
	  "  -d, --destination DIR      where a downloaded script goes (default: the image's label, /tmp)\n"
	  "      --network MODE\n"
	  "  -h, --help                 this help\n" },
	{ "notify", "the git hook client: post the pushed refs to the agent",
	  "usage: s2i-agent notify [--url URL] [--secret-file F] [--follow] REPO\n"
	  "      --url URL          the agent (default $" NOTIFY_URL_ENV ", else " NOTIFY_DEFAULT_URL ")\n"
	  "      --secret-file F    the repository's secret; its first line signs\n"
	  "      --follow           stream each build's log, exit 1 unless all succeed\n"
	  "  -h, --help             this help\n"
	  "reads 'OLD NEW REF' lines on stdin (as git's post-receive and pre-receive\n"
	  "hooks get them) and posts one signed event per ref to URL/hooks/REPO\n" },
	{ "prune", "delete builds, logs and mirror packs past retention, now",
	  "usage: s2i-agent prune [-c FILE] [--dry-run] [--wait]\n"
	  "  -c, --config=FILE  the configuration (s2i-agent.conf(5))\n"
	  "  -n, --dry-run      count what a pass would delete, delete nothing\n"
	  "  -w, --wait         unlink the deleted logs' files before exiting (default:\n"
	  "                     a background process does)\n"
	  "  -h, --help         this help\n"
	  "one retention pass (keep_builds, keep_days) over the database and the logs, then\n"
	  "repacks the git mirrors; safe while serve runs\n" },
	{ "migrate", "copy an agent's SQLite history into a fleet's PostgreSQL",
	  "usage: s2i-agent migrate --from STATE_DIR --to URL [--password-file FILE]\n"
	  "      --from STATE_DIR      the agent's state_dir (its agent.db); no serve may\n"
	  "                            run on it\n"
	  "      --to URL              the fleet's database, postgresql://USER@HOST/DB\n"
	  "      --password-file FILE  the password, as database_password_file (default:\n"
	  "                            libpq's passfile)\n"
	  "  -h, --help                this help\n"
	  "copies builds (keeping their ids), delivery ids, the replay guard, image name\n"
	  "owners, unposted commit statuses and logs in one transaction; run again, it\n"
	  "copies only what is new; it refuses a target whose build ids belong to other\n"
	  "builds\n" },
	{ "version", "print the version of s2i-agent and of its libraries",
	  "usage: s2i-agent version\n"
	  "  -h, --help  this help\n" },
	{ "help", "print this list, or the usage of one command",
	  "usage: s2i-agent help [COMMAND]\n" },
};

static const struct cmds_help *cmds_help_find(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(cmds_help) / sizeof(cmds_help[0]); i++)
		if (!strcmp(name, cmds_help[i].ch_name))
			return &cmds_help[i];
	return NULL;
}

static void cmds_help_footer(FILE *f)
{
	fprintf(f, "\nthe configuration: -c FILE, else $%s, else %s\n"
		"more: man s2i-agent (commands, HTTP API), man s2i-agent.conf (every key)\n",
		CONFIG_ENV, CONFIG_DEFAULT_PATH);
}

void cmds_usage_all(FILE *f)
{
	size_t i;

	fputs("s2i-agent: turn a git push into a container image with Source-to-Image\n\n"
	      "usage: s2i-agent COMMAND [ARGS]\n\ncommands:\n", f);
	for (i = 0; i < sizeof(cmds_help) / sizeof(cmds_help[0]); i++)
		fprintf(f, "  %-8s %s\n", cmds_help[i].ch_name, cmds_help[i].ch_summary);
	fputs("\n's2i-agent help COMMAND' or 's2i-agent COMMAND --help': a command's usage\n", f);
	cmds_help_footer(f);
}

int cmds_usage(const char *name, FILE *f)
{
	const struct cmds_help *h = cmds_help_find(name);

	if (!h)
		return -1;
	fprintf(f, "s2i-agent %s: %s\n\n%s", h->ch_name, h->ch_summary, h->ch_usage);
	cmds_help_footer(f);
	return 0;
}

int cmds_usage_error(const char *name, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "s2i-agent %s: ", name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n", stderr);
	if (cmds_usage(name, stderr) < 0)
		cmds_usage_all(stderr);
	return 2;
}

int cmds_wants_help(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc && strcmp(argv[i], "--"); i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return 1;
	return 0;
}

const char *cmds_config_arg(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-c") && i + 1 < argc)
			return argv[i + 1];
		if (!strncmp(argv[i], "--config=", 9))
			return argv[i] + 9;
		if (!strncmp(argv[i], "-c", 2) && argv[i][2])
			return argv[i] + 2;
	}
	return config_default_path();
}

long cmds_vmhwm_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmHWM:", 6))
			kb = atol(line + 6);
	fclose(f);
	return kb;
}

int cmds_exec_sibling(const char *name, char **argv)
{
	char self[4096], path[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	if (n <= 0)
		return -1;
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (!slash)
		return -1;
	*slash = '\0';
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", self, name) >= sizeof(path))
		return -1;
	if (access(path, X_OK) < 0)
		return -1;
	execv(path, argv);
	return -1;
}
