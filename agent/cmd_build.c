/* cmd_build: `s2i-agent build [FLAGS] SOURCE BUILDER [TAG]`, a drop-in for `s2i build`
 * (README "`s2i-agent build` and s2i", s2i-agent(8) BUILD FLAGS): flags to struct s2i_opts,
 * the log to stdout, the image id last. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmds.h"
#include "limits.h"
#include "s2i.h"
#include "s2iparse.h"

static volatile sig_atomic_t build_cancel;

static void build_on_signal(int sig)
{
	(void)sig;
	build_cancel = 1;
}

enum {
	OPT_CONTEXT_DIR = 256, OPT_INCREMENTAL, OPT_RM, OPT_INCREMENTAL_PULL_POLICY,
	OPT_RUNTIME_IMAGE, OPT_RUNTIME_PULL_POLICY, OPT_ASSEMBLE_USER,
	OPT_ASSEMBLE_RUNTIME_USER, OPT_DESCRIPTION, OPT_EXCLUDE, OPT_IGNORE_SUBMODULES,
	OPT_CALLBACK_URL, OPT_NETWORK, OPT_CAP_DROP, OPT_ADD_HOST, OPT_PUSH, OPT_TIMEOUT,
	OPT_LOGLEVEL, OPT_BUILD_ENV, OPT_BUILD_SECRET, OPT_AS_DOCKERFILE, OPT_HELP,
};

static const struct option build_options[] = {
	{ "ref", required_argument, NULL, 'r' },
	{ "context-dir", required_argument, NULL, OPT_CONTEXT_DIR },
	{ "env", required_argument, NULL, 'e' },
	{ "environment-file", required_argument, NULL, 'E' },
	{ "scripts-url", required_argument, NULL, 's' },
	{ "incremental", optional_argument, NULL, OPT_INCREMENTAL },
	{ "rm", optional_argument, NULL, OPT_RM },
	{ "incremental-pull-policy", required_argument, NULL, OPT_INCREMENTAL_PULL_POLICY },
	{ "pull-policy", required_argument, NULL, 'p' },
	{ "runtime-image", required_argument, NULL, OPT_RUNTIME_IMAGE },
	{ "runtime-artifact", required_argument, NULL, 'a' },
	{ "runtime-pull-policy", required_argument, NULL, OPT_RUNTIME_PULL_POLICY },
	{ "assemble-user", required_argument, NULL, OPT_ASSEMBLE_USER },
	{ "assemble-runtime-user", required_argument, NULL, OPT_ASSEMBLE_RUNTIME_USER },
	{ "allowed-uids", required_argument, NULL, 'u' },
	{ "inject", required_argument, NULL, 'i' },
	{ "application-name", required_argument, NULL, 'n' },
	{ "description", required_argument, NULL, OPT_DESCRIPTION },
	{ "exclude", required_argument, NULL, OPT_EXCLUDE },
	{ "ignore-submodules", optional_argument, NULL, OPT_IGNORE_SUBMODULES },
	{ "destination", required_argument, NULL, 'd' },
	{ "callback-url", required_argument, NULL, OPT_CALLBACK_URL },
	{ "network", required_argument, NULL, OPT_NETWORK },
	{ "cap-drop", required_argument, NULL, OPT_CAP_DROP },
	{ "volume", required_argument, NULL, 'v' },
	{ "add-host", required_argument, NULL, OPT_ADD_HOST },
	{ "url", required_argument, NULL, 'U' },
	{ "push", optional_argument, NULL, OPT_PUSH },
	{ "quiet", optional_argument, NULL, 'q' },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "loglevel", required_argument, NULL, OPT_LOGLEVEL },
	{ "build-env", required_argument, NULL, OPT_BUILD_ENV },
	{ "build-secret", required_argument, NULL, OPT_BUILD_SECRET },
	{ "as-dockerfile", required_argument, NULL, OPT_AS_DOCKERFILE },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

static void build_usage(FILE *f)
{
	cmds_usage("build", f);
}

/* pflag's bools: --flag, --flag=true, --flag=false. */
static int build_bool(const char *name, const char *arg, int *ret)
{
	if (!arg || !strcmp(arg, "true") || !strcmp(arg, "1")) {
		*ret = 1;
		return 0;
	}
	if (!strcmp(arg, "false") || !strcmp(arg, "0")) {
		*ret = 0;
		return 0;
	}
	fprintf(stderr, "s2i-agent build: --%s: expected true or false, not '%s'\n", name, arg);
	return -1;
}

/* -e NAME=VALUE as s2i takes it: one variable, split at the first '=', name and value
 * trimmed ("A=1,B=2" is A with the value "1,B=2"; s2i only warns about the comma). */
static int build_add_env(struct strv *env, const char *arg)
{
	struct strv one = STRV_INIT;

	s2iparse_env(arg, strlen(arg), S2IPARSE_ENV_SOURCE, &one);
	if (one.n != 1 || strchr(arg, '\n')) {
		fprintf(stderr, "s2i-agent build: --env '%s': expected NAME=VALUE\n", arg);
		strv_clear(&one);
		return -1;
	}
	strv_push(env, one.items[0]);
	strv_clear(&one);
	return 0;
}

static void build_add_list(struct strv *v, const char *arg)
{
	const char *p = arg;

	for (;;) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);

		if (n)
			strv_push_nodup(v, xstrndup(p, n));
		if (!comma)
			break;
		p = comma + 1;
	}
}

static int build_mapping(const char *flag, const char *arg, struct strv *v)
{
	struct err e = ERR_INIT;
	char *src, *dst;

	if (s2iparse_mapping(arg, &src, &dst, &e) < 0) {
		fprintf(stderr, "s2i-agent build: %s %s\n", flag, e.msg);
		return -1;
	}
	free(src);
	free(dst);
	strv_push(v, arg);
	return 0;
}

static int build_policy(const char *flag, const char *arg, enum pull_policy *ret)
{
	if (pull_policy_parse(arg, ret) < 0) {
		fprintf(stderr, "s2i-agent build: %s '%s': expected " PULL_POLICY_NAMES "\n", flag, arg);
		return -1;
	}
	return 0;
}

/* "90", "90s", "30m", "2h" */
static int build_duration(const char *arg, long *ret)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno || end == arg || v < 0)
		goto bad;
	if (!strcmp(end, "m"))
		v *= 60;
	else if (!strcmp(end, "h"))
		v *= 3600;
	else if (*end && strcmp(end, "s"))
		goto bad;
	*ret = v;
	return 0;
bad:
	fprintf(stderr, "s2i-agent build: --timeout '%s': expected a duration like 90s, 30m or 2h\n", arg);
	return -1;
}

static void build_set(char **field, const char *arg)
{
	free(*field);
	*field = xstrdup(arg);
}

struct build_log {
	int quiet;
	int loglevel;			/* s2i's --loglevel; -1 when not given */
};

/* s2i's --loglevel N (0-5, glog verbosity): at 0 s2i prints the scripts' output and
 * its warnings, from 1 its own steps as well. We have no more detail than our
 * steps to add above 1, so 1 to 5 print the same. */
static int build_loglevel(const char *arg, int *ret)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno || end == arg || *end || v < 0 || v > 5) {
		fprintf(stderr, "s2i-agent build: --loglevel: expected 0 to 5, not '%s'\n", arg);
		return -1;
	}
	*ret = (int)v;
	return 0;
}

static void build_log_line(void *arg, enum s2i_log_kind kind, const char *line, size_t len)
{
	struct build_log *bl = arg;

	if (bl->quiet && (kind == S2I_LOG_STDOUT || kind == S2I_LOG_STDERR || kind == S2I_LOG_STEP))
		return;
	if (bl->loglevel == 0 && kind == S2I_LOG_STEP)
		return;
	if (kind == S2I_LOG_WARN)
		fputs("warning: ", stdout);
	fwrite(line, 1, len, stdout);
	fputc('\n', stdout);
	fflush(stdout);
}

/* s2i_opts.on_outcome: the result, before the cleanup. */
static void build_outcome(void *arg, const struct s2i_result *r)
{
	const struct s2i_opts *o = arg;

	fflush(stdout);
	if (r->outcome == S2I_SUCCEEDED) {
		/* the image id last, or where the Dockerfile went (s2i says so too) */
		printf("%s\n", o->as_dockerfile ? o->as_dockerfile : r->image_id);
		fflush(stdout);
	} else {
		fprintf(stderr, "s2i-agent build: %s: %s\n",
			r->outcome == S2I_FAILED ? "build failed" :
			r->outcome == S2I_CANCELED ? "build canceled" : "error", r->reason);
	}
}

/* The CLI's registry credentials, like docker's: $DOCKER_CONFIG/config.json, else
 * ~/.docker/config.json, when it exists. */
static char *build_docker_config(void)
{
	const char *dir = getenv("DOCKER_CONFIG"), *home = getenv("HOME");
	char *path;

	if (dir && *dir)
		path = xasprintf("%s/config.json", dir);
	else if (home && *home)
		path = xasprintf("%s/.docker/config.json", home);
	else
		return NULL;
	if (access(path, R_OK) == 0)
		return path;
	free(path);
	return NULL;
}

int cmd_build(int argc, char **argv)
{
	struct s2i_opts o;
	struct s2i_result r;
	struct err e = ERR_INIT;
	struct build_log bl = { 0, -1 };
	struct sigaction sa, old_int, old_term;
	int c, rc = 2, exclude_default = 0;

	s2i_opts_init(&o);
	memset(&r, 0, sizeof(r));
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":r:e:E:s:p:a:u:i:n:d:v:U:qh", build_options, NULL)) != -1) {
		switch (c) {
		case 'r': build_set(&o.ref, optarg); break;
		case OPT_CONTEXT_DIR: build_set(&o.context_dir, optarg); break;
		case 'e':
			if (build_add_env(&o.env, optarg) < 0)
				goto out;
			break;
		case 'E': build_set(&o.environment_file, optarg); break;
		case 's': build_set(&o.scripts_url, optarg); break;
		case OPT_INCREMENTAL:
			if (build_bool("incremental", optarg, &o.incremental) < 0)
				goto out;
			break;
		case OPT_RM:
			if (build_bool("rm", optarg, &o.rm) < 0)
				goto out;
			break;
		case OPT_INCREMENTAL_PULL_POLICY:
			if (build_policy("--incremental-pull-policy", optarg, &o.incremental_pull_policy) < 0)
				goto out;
			break;
		case 'p':
			if (build_policy("--pull-policy", optarg, &o.pull_policy) < 0)
				goto out;
			break;
		case OPT_RUNTIME_IMAGE: build_set(&o.runtime_image, optarg); break;
		case 'a':
			if (build_mapping("--runtime-artifact", optarg, &o.runtime_artifacts) < 0)
				goto out;
			break;
		case OPT_RUNTIME_PULL_POLICY:
			if (build_policy("--runtime-pull-policy", optarg, &o.runtime_pull_policy) < 0)
				goto out;
			break;
		case OPT_ASSEMBLE_USER: build_set(&o.assemble_user, optarg); break;
		case OPT_ASSEMBLE_RUNTIME_USER: build_set(&o.assemble_runtime_user, optarg); break;
		case 'u': {
			struct s2iparse_uidrange *ranges;
			size_t n;

			if (s2iparse_uids(optarg, &ranges, &n, &e) < 0) {
				fprintf(stderr, "s2i-agent build: --allowed-uids: %s\n", e.msg);
				goto out;
			}
			free(ranges);
			build_set(&o.allowed_uids, optarg);
			break;
		}
		case 'i':
			if (build_mapping("--inject", optarg, &o.inject) < 0)
				goto out;
			break;
		case 'n': build_set(&o.application_name, optarg); break;
		case OPT_DESCRIPTION: build_set(&o.description, optarg); break;
		case OPT_EXCLUDE:
			/* s2i: "" means the default */
			if (*optarg)
				strv_push(&o.exclude, optarg);
			else
				exclude_default = 1;
			break;
		case OPT_IGNORE_SUBMODULES:
			if (build_bool("ignore-submodules", optarg, &o.ignore_submodules) < 0)
				goto out;
			break;
		case 'd': build_set(&o.destination, optarg); break;
		case OPT_CALLBACK_URL: build_set(&o.callback_url, optarg); break;
		case OPT_NETWORK: build_set(&o.network, optarg); break;
		case OPT_CAP_DROP: build_add_list(&o.cap_drop, optarg); break;
		case 'v':
			if (!strchr(optarg, ':')) {
				fprintf(stderr, "s2i-agent build: --volume '%s': expected SRC:DST[:opts]\n", optarg);
				goto out;
			}
			strv_push(&o.volumes, optarg);
			break;
		case OPT_ADD_HOST: build_add_list(&o.add_hosts, optarg); break;
		case 'U': build_set(&o.engine_url, optarg); break;
		case OPT_PUSH:
			if (build_bool("push", optarg, &o.push) < 0)
				goto out;
			break;
		case 'q':
			if (build_bool("quiet", optarg, &o.quiet) < 0)
				goto out;
			break;
		case OPT_TIMEOUT:
			if (build_duration(optarg, &o.timeout) < 0)
				goto out;
			break;
		case OPT_BUILD_ENV:
			if (!strchr(optarg, '=') || optarg[0] == '=') {
				fputs("s2i-agent build: --build-env: expected NAME=VALUE\n", stderr);
				goto out;
			}
			strv_push(&o.build_env, optarg);
			break;
		case OPT_AS_DOCKERFILE:
			build_set(&o.as_dockerfile, optarg);
			break;
		case OPT_BUILD_SECRET:
			strv_push(&o.build_secrets, optarg);
			break;
		case OPT_LOGLEVEL:
			if (build_loglevel(optarg, &bl.loglevel) < 0)
				goto out;
			break;
		case 'h':
		case OPT_HELP:
			build_usage(stdout);
			rc = 0;
			goto out;
		case ':':
			fprintf(stderr, "s2i-agent build: option '%s' needs a value\n", argv[optind - 1]);
			goto out;
		default:
			fprintf(stderr, "s2i-agent build: unknown option '%s'\n", argv[optind - 1]);
			build_usage(stderr);
			goto out;
		}
	}
	(void)exclude_default;
	if (argc - optind < 2 || argc - optind > 3) {
		fprintf(stderr, "s2i-agent build: expected SOURCE BUILDER [TAG], got %d argument%s\n",
			argc - optind, argc - optind == 1 ? "" : "s");
		build_usage(stderr);
		goto out;
	}
	o.source = xstrdup(argv[optind]);
	o.builder = xstrdup(argv[optind + 1]);
	if (argc - optind == 3)
		o.tag = xstrdup(argv[optind + 2]);
	if (!*o.source || !*o.builder || (o.tag && !*o.tag)) {
		fputs("s2i-agent build: SOURCE, BUILDER and TAG must not be empty\n", stderr);
		goto out;
	}
	if (o.as_dockerfile && (o.push || o.incremental || o.runtime_image)) {
		fputs("s2i-agent build: --as-dockerfile cannot write --push, --incremental or "
		      "--runtime-image\n", stderr);
		goto out;
	}
	if (o.push && !o.tag) {
		fputs("s2i-agent build: --push needs a TAG\n", stderr);
		goto out;
	}
	if (o.incremental && !o.tag) {
		fputs("s2i-agent build: --incremental needs a TAG (the previous image)\n", stderr);
		goto out;
	}
	if (!o.runtime_image && (o.runtime_artifacts.n || o.assemble_runtime_user)) {
		fputs("s2i-agent build: --runtime-artifact and --assemble-runtime-user need --runtime-image\n",
		      stderr);
		goto out;
	}
	if (s2i_secrets_check(&o, &e) < 0) {
		fprintf(stderr, "s2i-agent build: %s\n", e.msg);
		goto out;
	}
	o.registry_auth_file = build_docker_config();
	/* the label value of this build's containers; tests and wrappers pick their own */
	if (getenv("S2I_AGENT_BUILD_ID") && *getenv("S2I_AGENT_BUILD_ID"))
		o.build_id = xstrdup(getenv("S2I_AGENT_BUILD_ID"));
	bl.quiet = o.quiet;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = build_on_signal;
	/* a second Ctrl-C ends the process at once, without the cleanup */
	sa.sa_flags = SA_RESETHAND;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	/* the result is printed once known; the containers go after it, in a process of
	 * their own, unless the build was interrupted */
	o.on_outcome = build_outcome;
	o.on_outcome_arg = &o;
	o.detach_cleanup = 1;
	rc = s2i_build(&o, build_log_line, &bl, &build_cancel, &r, &e) < 0 ? 1 : 0;
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
out:
	s2i_result_release(&r);
	s2i_opts_release(&o);
	return rc;
}
