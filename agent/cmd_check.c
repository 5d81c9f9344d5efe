/* cmd_check: `s2i-agent check [-c FILE] [--online]`: agent.conf loaded as serve would,
 * what serve meets at its start (the state directory, repositories), and with --online
 * the engine, the builder images and each repository URL asked. */
/* Every finding is one "FILE:LINE: what is wrong; what to do" line (FILE: alone when
 * the value is a default); --online adds one OK or FAIL line per thing it asked. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmds.h"
#include "config.h"
#include "engine.h"
#include "gitsrc.h"
#include "limits.h"
#include "pull.h"

struct check {
	const struct config *ck_cfg;
	const char *ck_path;
	int ck_failed;		/* findings that make the exit code 1 */
	int ck_warned;
};

/* "FILE:LINE: " or "FILE: " for a value that is not in the file */
static void check_where(const struct check *ck, int line)
{
	if (line > 0)
		printf("%s:%d: ", ck->ck_path, line);
	else
		printf("%s: ", ck->ck_path);
}

/* The state directory: there and writable, or creatable (serve creates the last
 * component only). As the user running check: serve's may differ (systemd's
 * User=), which the message says. */
static void check_state_dir(struct check *ck)
{
	const char *dir = ck->ck_cfg->state_dir;
	int line = ck->ck_cfg->state_dir_line;
	char *parent = NULL, *slash;
	struct stat sb;

	if (stat(dir, &sb) == 0) {
		if (!S_ISDIR(sb.st_mode)) {
			check_where(ck, line);
			printf("state_dir '%s' is not a directory; remove it or choose another state_dir\n", dir);
			ck->ck_failed++;
		} else if (access(dir, W_OK) < 0) {
			check_where(ck, line);
			printf("state_dir '%s' is not writable by uid %ld; chown it to the user serve runs as\n",
			       dir, (long)geteuid());
			ck->ck_failed++;
		} else if (sb.st_mode & S_IWOTH) {
			check_where(ck, line);
			printf("state_dir '%s' is writable by every user (mode %04o); run chmod o-w on it\n",
			       dir, (unsigned)(sb.st_mode & 07777));
			ck->ck_failed++;
		}
		return;
	}
	if (errno != ENOENT) {
		check_where(ck, line);
		printf("state_dir '%s': cannot stat: %s; fix the path or its parents' modes\n", dir,
		       strerror(errno));
		ck->ck_failed++;
		return;
	}
	parent = xstrdup(dir);
	slash = strrchr(parent, '/');
	while (slash && slash > parent && slash[1] == '\0') {	/* "/x/y/" */
		*slash = '\0';
		slash = strrchr(parent, '/');
	}
	if (!slash)
		strcpy(parent, ".");
	else if (slash == parent)
		parent[1] = '\0';
	else
		*slash = '\0';
	if (stat(parent, &sb) < 0 || !S_ISDIR(sb.st_mode)) {
		check_where(ck, line);
		printf("state_dir '%s' cannot be created: its parent '%s' does not exist; create it "
		       "(install -d '%s') or choose another state_dir\n", dir, parent, parent);
		ck->ck_failed++;
	} else if (access(parent, W_OK) < 0) {
		check_where(ck, line);
		printf("state_dir '%s' cannot be created: '%s' is not writable by uid %ld; create it "
		       "for the user serve runs as, or choose another state_dir\n", dir, parent,
		       (long)geteuid());
		ck->ck_failed++;
	}
	free(parent);
}

static void check_repos(struct check *ck)
{
	if (ck->ck_cfg->nrepos)
		return;
	printf("%s: warning: no [repo \"NAME\"] section, so no push is ever built; add one "
	       "(url, builder, secret_file: s2i-agent.conf(5))\n", ck->ck_path);
	ck->ck_warned++;
}

/* --- --online ------------------------------------------------------------ */

static struct engine *check_engine(struct check *ck)
{
	const struct config *c = ck->ck_cfg;
	struct engine_timeouts t = { ENGINE_CHECK_TIMEOUT, ENGINE_CHECK_TIMEOUT, ENGINE_CHECK_TIMEOUT, 0 };
	struct engine_tls tls = { c->tls_ca, c->tls_cert, c->tls_key };
	struct engine_version v;
	struct err e = ERR_INIT;
	struct engine *eng;

	eng = tls.ca || tls.cert ? engine_new(c->engine, &tls, &e) : engine_new_from_env(c->engine, &e);
	if (eng) {
		engine_set_timeouts(eng, &t);
		if (engine_version(eng, &v, &e) == 0) {
			check_where(ck, c->engine_line);
			printf("engine '%s': OK, %s %s, API %s (the server speaks %s to %s)\n", c->engine,
			       v.name, v.version, v.api, v.server_min_api[0] ? v.server_min_api : "?",
			       v.server_api);
			return eng;
		}
	}
	check_where(ck, c->engine_line);
	printf("engine '%s': FAIL: %s; start the engine, or point 'engine' at its socket or URL\n",
	       c->engine, e.msg);
	ck->ck_failed++;
	engine_free(eng);
	return NULL;
}

/* An image a repository builds from: present, or pulled by the first build unless its
 * pull policy is never. */
static void check_image(struct check *ck, struct engine *eng, const struct repo_conf *r,
			const char *key, const char *image, const char *policy_name)
{
	enum pull_policy policy = PULL_IF_NOT_PRESENT;
	struct err e = ERR_INIT;
	int rc;

	pull_policy_parse(policy_name, &policy);	/* config_load validated it */
	rc = engine_image_exists(eng, image, &e);
	check_where(ck, r->line);
	if (rc == 1) {
		printf("repo \"%s\": %s '%s': OK, present\n", r->name, key, image);
	} else if (rc < 0) {
		printf("repo \"%s\": %s '%s': FAIL: %s; check the engine\n", r->name, key, image, e.msg);
		ck->ck_failed++;
	} else if (policy == PULL_NEVER) {
		printf("repo \"%s\": %s '%s': FAIL: not present locally and the pull policy is never; "
		       "build or pull it, or check the name\n", r->name, key, image);
		ck->ck_failed++;
	} else {
		printf("repo \"%s\": %s '%s': warning: not present locally; the first build pulls it: "
		       "pull it now to be sure of the name and registry_auth_file\n", r->name, key, image);
		ck->ck_warned++;
	}
}

static void check_url(struct check *ck, const struct repo_conf *r)
{
	struct gitsrc_opts o = GITSRC_OPTS_INIT;
	struct gitsrc *src = NULL;
	struct err e = ERR_INIT;
	size_t nrefs = 0;

	o.token = r->git_token;
	o.token_file = r->git_token_file;
	o.ssh_key_file = r->ssh_key_file;
	o.known_hosts_file = r->known_hosts_file;
	check_where(ck, r->line);
	if (gitsrc_open(r->url, &o, &src, &e) < 0 || gitsrc_probe(src, &nrefs, &e) < 0) {
		printf("repo \"%s\": url '%s': FAIL: %s; check the URL and the repository's credentials "
		       "(git_token_file, ssh_key_file, known_hosts_file)\n", r->name, r->url, e.msg);
		ck->ck_failed++;
	} else if (nrefs == 0) {
		printf("repo \"%s\": url '%s': OK, reachable, but it has no branch yet\n", r->name, r->url);
	} else {
		printf("repo \"%s\": url '%s': OK, %zu ref%s\n", r->name, r->url, nrefs, nrefs == 1 ? "" : "s");
	}
	gitsrc_free(src);
}

static void check_online(struct check *ck)
{
	const struct config *c = ck->ck_cfg;
	struct engine *eng = check_engine(ck);
	size_t i;

	for (i = 0; i < c->nrepos; i++) {
		const struct repo_conf *r = c->repos[i];

		if (eng) {
			check_image(ck, eng, r, "builder", r->builder, r->pull_policy);
			if (r->runtime_image && *r->runtime_image)
				check_image(ck, eng, r, "runtime_image", r->runtime_image,
					    r->runtime_pull_policy);
		}
		check_url(ck, r);
	}
	engine_free(eng);
}

/* Without --online an engine that does not answer (yet) is not an error; one that
 * answers with an API range we do not speak is. */
static void check_engine_api(struct check *ck)
{
	const struct config *c = ck->ck_cfg;
	struct engine_tls tls = { c->tls_ca, c->tls_cert, c->tls_key };
	struct err e = ERR_INIT;

	if (engine_check_api(c->engine, &tls, ENGINE_CHECK_TIMEOUT, &e) == 0)
		return;
	check_where(ck, c->engine_line);
	printf("engine '%s': %s\n", c->engine, e.msg);
	ck->ck_failed++;
}

int cmd_check(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "online", no_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct strv errors = STRV_INIT;
	struct config *c = NULL;
	struct check ck = { 0 };
	const char *path = NULL;
	int opt, online = 0;
	size_t i;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+:c:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': path = optarg; break;
		case 'o': online = 1; break;
		case 'h':
			cmds_usage("check", stdout);
			return 0;
		case ':':
			return cmds_usage_error("check", "%s needs a file", argv[optind - 1]);
		default:
			return cmds_usage_error("check", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cmds_usage_error("check", "unexpected argument '%s'", argv[optind]);
	if (!path)
		path = config_default_path();
	if (config_load(path, &c, &errors) < 0) {
		for (i = 0; i < errors.n; i++)
			printf("%s\n", errors.items[i]);
		strv_clear(&errors);
		return 1;
	}
	ck.ck_cfg = c;
	ck.ck_path = path;
	for (i = 0; i < c->warnings.n; i++)
		printf("%s\n", c->warnings.items[i]);
	ck.ck_warned = (int)c->warnings.n;
	check_state_dir(&ck);
	check_repos(&ck);
	if (online)
		check_online(&ck);
	else
		check_engine_api(&ck);
	if (ck.ck_failed)
		printf("configuration has %d problem%s\n", ck.ck_failed, ck.ck_failed > 1 ? "s" : "");
	else if (ck.ck_warned)
		printf("configuration OK, with %d warning%s\n", ck.ck_warned, ck.ck_warned > 1 ? "s" : "");
	else
		printf("configuration OK\n");
	config_free(c);
	return ck.ck_failed ? 1 : 0;
}
