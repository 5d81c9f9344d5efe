/* Unit tests for config: a full config read back field by field, defaults,
 * every kind of error with its exact "FILE:LINE: message", secret files. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <jansson.h>

#include "buf.h"
#include "config.h"
#include "jobwire.h"

static char dir[] = "/tmp/s2i-test-config.XXXXXX";

/* Writes dir/name with mode; "@D@" in text stands for the directory. */
static char *put(const char *name, const char *text, mode_t mode)
{
	struct buf b = BUF_INIT(1 << 22);
	const char *p = text, *at;
	char *path = xasprintf("%s/%s", dir, name);
	FILE *f;

	while ((at = strstr(p, "@D@"))) {
		buf_add(&b, p, (size_t)(at - p));
		buf_addstr(&b, dir);
		p = at + 3;
	}
	buf_addstr(&b, p);
	unlink(path);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(b.data, 1, b.len, f), b.len);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
	buf_release(&b);
	return path;
}

static int setup(void **state)
{
	(void)state;
	if (!mkdtemp(dir))
		return -1;
	free(put("web.secret", "new-secret-0123456789\nold-secret-0123456789\n", 0600));
	free(put("one.secret", "only-secret-0123456\n", 0400));
	free(put("gh.token", "ghp_token\n", 0600));
	free(put("admin.token", "admin-token-0123456\r\n", 0600));
	free(put("id_ed25519", "key\n", 0600));
	free(put("auth.json", "{}\n", 0600));
	return 0;
}

static int teardown(void **state)
{
	static const char *files[] = {
		"web.secret", "one.secret", "gh.token", "admin.token", "id_ed25519", "auth.json",
		"agent.conf", "s", "big.secret",
	};
	size_t i;
	char *p;

	(void)state;
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		p = xasprintf("%s/%s", dir, files[i]);
		unlink(p);
		free(p);
	}
	p = xasprintf("%s/sub", dir);
	rmdir(p);
	free(p);
	return rmdir(dir);
}

/* Loads text as agent.conf; returns the config or NULL with errors filled. */
static struct config *load(const char *text, struct strv *errors, char **ret_path)
{
	char *path = put("agent.conf", text, 0640);
	struct config *c = NULL;

	if (config_load(path, &c, errors) < 0)
		c = NULL;
	if (ret_path)
		*ret_path = path;
	else
		free(path);
	return c;
}

static const char full_text[] =
		"; s2i-agent test configuration\n"
		"[agent]\n"
		"listen      = [::1]:18080          ; IPv6\n"
		"public_url  = https://ci.example.com/\n"
		"state_dir   = @D@/state\n"
		"engine      = tcp://127.0.0.1:2376\n"
		"tls_ca      = @D@/ca.pem\n"
		"tls_cert    = @D@/cert.pem\n"
		"tls_key     = @D@/id_ed25519\n"
		"workers     = 4\n"
		"build_timeout = 1h30m\n"
		"max_body    = 1MiB\n"
		"registry_auth_file = @D@/auth.json\n"
		"admin_token_file   = @D@/admin.token\n"
		"database    = postgresql://s2i@db.example.com:5433/s2i?sslmode=verify-full\n"
		"database_password_file = @D@/admin.token\n"
		"\n"
		"[repo \"web\"]\n"
		"url         = https://github.com/acme/web.git\n"
		"secret_file = @D@/web.secret\n"
		"branches    = main release/*\n"
		"branches    = hotfix-*\n"
		"tags        = v*\n"
		"builder     = registry.example.com/s2i/python:3.12\n"
		"tag         = registry.example.com/acme/web:{branch}-{short_sha}\n"
		"push        = yes\n"
		"context_dir = app\n"
		"env         = APP_ENV=production\n"
		"env         = EMPTY=\n"
		"incremental = true\n"
		"runtime_image    = registry.example.com/base/minimal:1\n"
		"runtime_artifact = /opt/app-root/app.bin:.\n"
		"runtime_artifact = /opt/app-root/static\n"
		"status      = github\n"
		"status_repo = acme/web\n"
		"status_token_file = @D@/gh.token\n"
		"status_context    = ci/s2i\n"
		"git_token_file    = @D@/gh.token\n"
		"ssh_key_file      = @D@/id_ed25519\n"
		"known_hosts_file  = @D@/known_hosts\n"
		"cancel_superseded = no\n"
		"scripts_url = image:///usr/libexec/s2i\n"
		"assemble_user = 1001\n"
		"assemble_runtime_user = 1002\n"
		"allowed_uids = 1-,0\n"
		"pull_policy = if-not-present\n"
		"incremental_pull_policy = always\n"
		"runtime_pull_policy = never\n"
		"network = none\n"
		"cap_drop = KILL,MKNOD\n"
		"cap_drop = SETUID\n"
		"exclude = (^|/)\\.git(/|$)\n"
		"inject = @D@/ca.pem:/etc/pki/ca.pem\n"
		"volume = /cache:/opt/cache\n"
		"add_host = registry:10.0.0.1\n"
		"environment_file = .s2i/env\n"
		"description = The web app\n"
		"application_name = web\n"
		"destination = /tmp\n"
		"callback_url = https://hooks.example.com/done\n"
		"ignore_submodules = on\n"
		"rm = 1\n"
		"\n"
		"[repo \"api.v2_x-y\"]\n"
		"url = git@gitlab.example.com:acme/api.git\n"
		"secret_file = @D@/one.secret\n"
		"builder = python:3.12\n";

static void test_full_round_trip(void **state)
{
	struct strv errors = STRV_INIT;
	struct config *c;
	struct repo_conf *r, *a;
	char *path, *want;

	(void)state;
	c = load(full_text, &errors, &path);
	if (!c) {
		size_t i;

		for (i = 0; i < errors.n; i++)
			print_message("%s\n", errors.items[i]);
		fail();
	}
	assert_int_equal(errors.n, 0);
	assert_string_equal(c->path, path);
	assert_string_equal(c->listen_host, "::1");
	assert_int_equal(c->listen_port, 18080);
	assert_string_equal(c->public_url, "https://ci.example.com");
	want = xasprintf("%s/state", dir);
	assert_string_equal(c->state_dir, want);
	free(want);
	assert_string_equal(c->engine, "tcp://127.0.0.1:2376");
	assert_non_null(c->tls_ca);
	assert_non_null(c->tls_cert);
	assert_non_null(c->tls_key);
	assert_int_equal(c->workers, 4);
	assert_int_equal(c->build_timeout, 5400);
	assert_int_equal(c->max_body, 1024 * 1024);
	assert_non_null(c->registry_auth_file);
	assert_non_null(c->admin_token_file);
	assert_string_equal(c->admin_token, "admin-token-0123456");
	assert_string_equal(c->database,
			    "postgresql://s2i@db.example.com:5433/s2i?sslmode=verify-full");
	assert_string_equal(c->database_password, "admin-token-0123456");
	assert_int_equal(c->nrepos, 2);

	r = config_repo(c, "web");
	assert_ptr_equal(r, c->repos[0]);
	assert_string_equal(r->name, "web");
	assert_int_equal(r->line, 18);
	assert_string_equal(r->url, "https://github.com/acme/web.git");
	assert_int_equal(r->nsecrets, 2);
	assert_string_equal(r->secrets[0], "new-secret-0123456789");
	assert_string_equal(r->secrets[1], "old-secret-0123456789");
	assert_int_equal(r->branches.n, 3);
	assert_string_equal(r->branches.items[0], "main");
	assert_string_equal(r->branches.items[1], "release/*");
	assert_string_equal(r->branches.items[2], "hotfix-*");
	assert_int_equal(r->tags.n, 1);
	assert_string_equal(r->tags.items[0], "v*");
	assert_string_equal(r->builder, "registry.example.com/s2i/python:3.12");
	assert_string_equal(r->tag, "registry.example.com/acme/web:{branch}-{short_sha}");
	assert_int_equal(r->push, 1);
	assert_string_equal(r->context_dir, "app");
	assert_int_equal(r->env.n, 2);
	assert_string_equal(r->env.items[0], "APP_ENV=production");
	assert_string_equal(r->env.items[1], "EMPTY=");
	assert_int_equal(r->incremental, 1);
	assert_string_equal(r->runtime_image, "registry.example.com/base/minimal:1");
	assert_int_equal(r->runtime_artifacts.n, 2);
	assert_string_equal(r->runtime_artifacts.items[0], "/opt/app-root/app.bin:.");
	assert_string_equal(r->runtime_artifacts.items[1], "/opt/app-root/static");
	assert_int_equal(r->status, STATUS_GITHUB);
	assert_string_equal(r->status_api, "https://api.github.com");
	assert_string_equal(r->status_repo, "acme/web");
	assert_string_equal(r->status_token, "ghp_token");
	assert_string_equal(r->status_context, "ci/s2i");
	assert_string_equal(r->git_token, "ghp_token");
	assert_non_null(r->ssh_key_file);
	assert_non_null(r->known_hosts_file);
	assert_int_equal(r->cancel_superseded, 0);
	assert_string_equal(r->scripts_url, "image:///usr/libexec/s2i");
	assert_string_equal(r->assemble_user, "1001");
	assert_string_equal(r->assemble_runtime_user, "1002");
	assert_string_equal(r->allowed_uids, "1-,0");
	assert_string_equal(r->pull_policy, "if-not-present");
	assert_string_equal(r->incremental_pull_policy, "always");
	assert_string_equal(r->runtime_pull_policy, "never");
	assert_string_equal(r->network, "none");
	assert_int_equal(r->cap_drop.n, 3);
	assert_string_equal(r->cap_drop.items[0], "KILL");
	assert_string_equal(r->cap_drop.items[1], "MKNOD");
	assert_string_equal(r->cap_drop.items[2], "SETUID");
	assert_int_equal(r->exclude.n, 1);
	assert_string_equal(r->exclude.items[0], "(^|/)\\.git(/|$)");
	assert_int_equal(r->inject.n, 1);
	assert_string_equal(r->volume.items[0], "/cache:/opt/cache");
	assert_string_equal(r->add_host.items[0], "registry:10.0.0.1");
	assert_string_equal(r->environment_file, ".s2i/env");
	assert_string_equal(r->description, "The web app");
	assert_string_equal(r->application_name, "web");
	assert_string_equal(r->destination, "/tmp");
	assert_string_equal(r->callback_url, "https://hooks.example.com/done");
	assert_int_equal(r->ignore_submodules, 1);
	assert_int_equal(r->rm, 1);

	/* the second repo gets the defaults */
	a = config_repo(c, "api.v2_x-y");
	assert_non_null(a);
	assert_string_equal(a->url, "git@gitlab.example.com:acme/api.git");
	assert_int_equal(a->nsecrets, 1);
	assert_string_equal(a->secrets[0], "only-secret-0123456");
	assert_null(a->secrets[1]);
	assert_int_equal(a->branches.n, 0);
	assert_int_equal(a->tags.n, 0);
	assert_string_equal(a->tag, CONFIG_DEFAULT_TAG);
	assert_int_equal(a->status, STATUS_NONE);
	assert_null(a->status_api);
	assert_string_equal(a->status_context, CONFIG_DEFAULT_CONTEXT);
	assert_int_equal(a->push, 0);
	assert_int_equal(a->incremental, 0);
	assert_int_equal(a->cancel_superseded, 1);
	assert_null(a->context_dir);
	assert_null(a->git_token);
	assert_null(config_repo(c, "nope"));
	assert_null(config_repo(c, "WEB"));

	config_free(c);
	free(path);
	config_free(NULL);
}

static void test_agent_defaults(void **state)
{
	struct strv errors = STRV_INIT;
	struct config *c;

	(void)state;
	/* an empty file is a valid agent with nothing to build */
	c = load("", &errors, NULL);
	assert_non_null(c);
	assert_null(c->database);	/* sqlite in state_dir */
	assert_null(c->database_password);
	assert_string_equal(c->listen_host, "127.0.0.1");
	assert_int_equal(c->listen_port, 8080);
	assert_string_equal(c->public_url, "http://127.0.0.1:8080");
	assert_string_equal(c->state_dir, CONFIG_DEFAULT_STATE);
	assert_string_equal(c->engine, CONFIG_DEFAULT_ENGINE);
	assert_int_equal(c->workers, CONFIG_DEFAULT_WORKERS);
	assert_int_equal(c->build_timeout, CONFIG_DEFAULT_TIMEOUT);
	assert_int_equal(c->lease, CONFIG_DEFAULT_LEASE);
	assert_int_equal(c->max_body, CONFIG_DEFAULT_MAX_BODY);
	assert_null(c->admin_token);
	assert_int_equal(c->nrepos, 0);
	config_free(c);

	/* public_url follows listen, with brackets for IPv6 */
	c = load("\xEF\xBB\xBF[agent]\r\nlisten = [::1]:9000\r\n", &errors, NULL);
	assert_non_null(c);
	assert_string_equal(c->public_url, "http://[::1]:9000");
	config_free(c);
	assert_int_equal(errors.n, 0);
}

/* run_on: every label it lists must be among the agent's; a shared store lets an
 * agent hold repositories it does not build */
static void test_labels(void **state)
{
	struct strv errors = STRV_INIT;
	struct config *c;
	char *text, *labels;

	(void)state;
	text = xasprintf("[agent]\ndatabase = postgresql://agent@db/s2i\n"
			 "labels = arch=amd64 disk=ssd,zone=eu-1\nlabels = disk=ssd\n"
			 "[repo \"any\"]\nurl=u\nsecret_file=%s/one.secret\nbuilder=b\n"
			 "[repo \"ssd\"]\nurl=u\nsecret_file=%s/one.secret\nbuilder=b\n"
			 "run_on = disk=ssd,arch=amd64\n"
			 "[repo \"arm\"]\nurl=u\nsecret_file=%s/one.secret\nbuilder=b\n"
			 "run_on = arch=arm64 disk=ssd\n", dir, dir, dir);
	c = load(text, &errors, NULL);
	free(text);
	assert_non_null(c);
	assert_int_equal(errors.n, 0);
	labels = config_labels_str(&c->labels);
	assert_string_equal(labels, "arch=amd64,disk=ssd,zone=eu-1");
	free(labels);
	assert_true(config_labels_match(c, config_repo(c, "any")));
	assert_true(config_labels_match(c, config_repo(c, "ssd")));
	assert_false(config_labels_match(c, config_repo(c, "arm")));
	labels = config_labels_str(&config_repo(c, "arm")->run_on);
	assert_string_equal(labels, "arch=arm64,disk=ssd");
	free(labels);
	config_free(c);
}

static void test_status_api_defaults(void **state)
{
	static const struct {
		const char *status, *url, *api;
	} cases[] = {
		{ "github", "https://github.com/acme/web.git", "https://api.github.com" },
		{ "github", "git@github.com:acme/web.git", "https://api.github.com" },
		{ "github", "https://ghe.example.com/acme/web.git", "https://ghe.example.com/api/v3" },
		{ "gitlab", "https://gitlab.example.com/acme/web.git", "https://gitlab.example.com/api/v4" },
		{ "gitlab", "https://oauth2@gitlab.example.com:8443/acme/web.git", "https://gitlab.example.com:8443/api/v4" },
		{ "gitea", "http://localhost:3000/acme/web.git", "http://localhost:3000/api/v1" },
		{ "forgejo", "https://codeberg.org/acme/web.git", "https://codeberg.org/api/v1" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct strv errors = STRV_INIT;
		struct config *c;
		char *text = xasprintf("[repo \"r\"]\nurl = %s\nsecret_file = @D@/one.secret\nbuilder = b\n"
				       "status = %s\nstatus_token_file = @D@/gh.token\n", cases[i].url, cases[i].status);

		c = load(text, &errors, NULL);
		assert_non_null(c);
		assert_string_equal(c->repos[0]->status_api, cases[i].api);
		assert_string_equal(c->repos[0]->status_token, "ghp_token");
		config_free(c);
		free(text);
	}
}

/* Each case: a config and the exact errors, in order ("LINE: message"). */
static const struct {
	const char *text;
	const char *errors[4];
} error_cases[] = {
	{ "[agent]\nfoo = 1\n", { "2: unknown key 'foo' in [agent]; s2i-agent.conf(5) lists the keys" } },
	{ "[agent]\nurl = x\n", { "2: unknown key 'url' in [agent]; it belongs in a [repo \"NAME\"] section" } },
	{ "[repo \"w\"]\nurl=u\nsecret_file=@D@/one.secret\nbuilder=b\nlisten = 1.2.3.4:5\n",
	  { "5: unknown key 'listen' in [repo \"w\"]; it belongs in [agent]" } },
	/* did you mean: a typo, a missing and a swapped letter; never for a far name */
	{ "[agent]\nworkes = 2\n", { "2: unknown key 'workes' in [agent]; did you mean 'workers'?" } },
	{ "[agent]\nstate_dri = /x\n", { "2: unknown key 'state_dri' in [agent]; did you mean 'state_dir'?" } },
	{ "[repo \"w\"]\nurl=u\nsecret_file=@D@/one.secret\nbuilder=b\nbulider = b\n",
	  { "5: unknown key 'bulider' in [repo \"w\"]; did you mean 'builder'?" } },
	{ "[agent]\nwebhooks = 2\n", { "2: unknown key 'webhooks' in [agent]; s2i-agent.conf(5) lists the keys" } },
	{ "listen = 1.2.3.4:5\n", { "1: key 'listen' outside of a section; start with [agent] or [repo \"NAME\"]" } },
	{ "[agents]\nx = 1\n", { "1: unknown section [agents]" } },
	{ "[repo]\n", { "1: invalid section [repo]: expected [repo \"NAME\"]" } },
	{ "[repo web]\n", { "1: invalid section [repo web]: expected [repo \"NAME\"]" } },
	{ "[repo \"a/b\"]\n", { "1: invalid repo name \"a/b\": use 1 to 100 letters, digits, '.', '_' or '-'" } },
	{ "[repo \"\"]\n", { "1: invalid repo name \"\": use 1 to 100 letters, digits, '.', '_' or '-'" } },
	{ "[repo \"..\"]\n", { "1: invalid repo name \"..\": use 1 to 100 letters, digits, '.', '_' or '-'" } },
	{ "[repo \"x\"\n", { "1: syntax error: section header without ']'" } },
	{ "[agent]\njust words\n", { "2: syntax error: expected 'key = value'" } },
	{ "[repo \"w\"]\n", {
		"1: repo \"w\": missing required key 'url'",
		"1: repo \"w\": missing required key 'builder'",
		"1: repo \"w\": missing required key 'secret_file'" } },
	{ "[repo \"w\"]\nurl=u\nsecret_file=@D@/one.secret\nbuilder=b\n[repo \"w\"]\n",
	  { "5: duplicate repo \"w\" (first defined on line 1)" } },
	{ "[agent]\nworkers = 2\nworkers = 3\n", { "3: duplicate key 'workers' (first set on line 2)" } },
	{ "[agent]\nlisten = 8080\n", { "2: invalid value for 'listen': expected host:port" } },
	{ "[agent]\nlisten = ::1:8080\n", { "2: invalid value for 'listen': IPv6 addresses go in brackets: [::1]:8080" } },
	{ "[agent]\nlisten = [zz]:8080\n", { "2: invalid value for 'listen': not an IPv6 address inside [ ]" } },
	{ "[agent]\nlisten = 127.0.0.1:0\n", { "2: invalid value for 'listen': port must be a number from 1 to 65535" } },
	{ "[agent]\nlisten = 127.0.0.1:65536\n", { "2: invalid value for 'listen': port must be a number from 1 to 65535" } },
	{ "[agent]\nlisten =\n", { "2: 'listen' needs a value" } },
	{ "[agent]\nworkers = -1\n", { "2: invalid value for 'workers': expected a number from 0 to 64" } },
	{ "[agent]\nworkers = 65\n", { "2: invalid value for 'workers': expected a number from 0 to 64" } },
	{ "[agent]\nworkers = two\n", { "2: invalid value for 'workers': expected a number from 0 to 64" } },
	{ "[agent]\nkeep_builds = -1\n", { "2: invalid value for 'keep_builds': expected a whole number (0: no limit)" } },
	{ "[agent]\nkeep_days = 30d\n", { "2: invalid value for 'keep_days': expected a whole number (0: no limit)" } },
	{ "[agent]\nmin_free_space = lots\n", { "2: invalid value for 'min_free_space': expected a size like 512MiB or 2G (0: no check)" } },
	{ "[agent]\nbuild_timeout = 30 minutes\n",
	  { "2: invalid value for 'build_timeout': expected a duration like 90s, 30m, 2h or 1h30m" } },
	{ "[agent]\nlease = 1s\n",
	  { "2: invalid value for 'lease': expected a duration from 2s to 3600s, like 60s or 2m" } },
	{ "[agent]\nlease = 2h\n",
	  { "2: invalid value for 'lease': expected a duration from 2s to 3600s, like 60s or 2m" } },
	{ "[agent]\nlabels = arch\n",
	  { "2: invalid value for 'labels': expected KEY=VALUE labels like arch=amd64,disk=ssd "
	    "(letters, digits, '.', '_', '-', '/')" } },
	{ "[agent]\nlabels = arch=amd64, disk=\n",
	  { "2: invalid value for 'labels': expected KEY=VALUE labels like arch=amd64,disk=ssd "
	    "(letters, digits, '.', '_', '-', '/')" } },
	{ "[agent]\nlabels = arch=amd64,arch=arm64\n", { "2: 'labels': two values for label 'arch'" } },
	{ "[agent]\nlabels = arch=amd64\n[repo \"w\"]\nurl=u\nsecret_file=@D@/one.secret\nbuilder=b\n"
	  "run_on = arch=arm64\n",
	  { "7: repo \"w\": run_on: this agent lacks a label it lists and, on SQLite, no other "
	    "agent builds it; add it to [agent] labels or remove it" } },
	{ "[agent]\nbuild_timeout = 0\n",
	  { "2: invalid value for 'build_timeout': expected a duration like 90s, 30m, 2h or 1h30m" } },
	{ "[agent]\nmax_body = 25XB\n", { "2: invalid value for 'max_body': expected a size like 512k, 25MiB or 1G" } },
	{ "[agent]\npublic_url = ci.example.com\n", { "2: invalid value for 'public_url': expected an http:// or https:// URL" } },
	{ "[agent]\nengine = /var/run/docker.sock\n",
	  { "2: invalid value for 'engine': expected unix:///path/to/socket or tcp://host:port" } },
	{ "[agent]\ndatabase = mysql://db/s2i\n",
	  { "2: invalid value for 'database': expected sqlite or a postgresql:// URL" } },
	{ "[agent]\ndatabase = postgresql://s2i:hunter2@db/s2i\n",
	  { "2: invalid value for 'database': the URL carries a password; put it in "
	    "database_password_file (or libpq's passfile) instead" } },
	{ "[agent]\ndatabase = postgresql://db/s2i?nosuch=1\n",
	  { "2: invalid value for 'database': not a valid PostgreSQL URL: invalid URI query "
	    "parameter: \"nosuch\"" } },
	{ "[agent]\nadmin_token_file = @D@/nope\n",
	  { "2: the value of admin_token_file is not a path to an existing file (the value is not shown: "
	    "it may be a secret); give the path of the file" } },
	{ "[agent]\nregistry_auth_file = @D@/nope\n",
	  { "2: the value of registry_auth_file is not a path to an existing file (the value is not shown: "
	    "it may be a secret); give the path of the file" } },
	{ "[repo \"w\"]\nurl=ftp://x/y\nsecret_file=@D@/one.secret\nbuilder=b\n",
	  { "2: invalid value for 'url': scheme must be https, http, ssh, git or file" } },
	{ "[repo \"w\"]\nurl=https://me:hunter2@example.com/x.git\nsecret_file=@D@/one.secret\nbuilder=b\n",
	  { "2: invalid value for 'url': must not contain a password; put the token in git_token_file" } },
	{ "[repo \"w\"]\nurl=u\nsecret_file=@D@/one.secret\nbuilder=b\npush = maybe\n",
	  { "5: invalid value for 'push': expected yes or no" } },
	{ "[repo \"w\"]\nurl=u\nsecret_file=@D@/one.secret\nbuilder=b\nstatus = bitbucket\n",
	  { "5: invalid value for 'status': expected github, gitlab, gitea or none" } },
	{ "[repo \"w\"]\nurl=u\nsecret_file=@D@/one.secret\nbuilder=b\npull_policy = sometimes\n",
	  { "5: invalid value for 'pull_policy': expected always, never or if-not-present" } },
	{ "[repo \"w\"]\nurl=u\nsecret_file=@D@/one.secret\nbuilder=b\nenv = =x\nenv = 1A=b\nenv = NOEQUALS\n",
	  { "5: invalid value for 'env': expected NAME=VALUE", "6: invalid value for 'env': expected NAME=VALUE",
	    "7: invalid value for 'env': expected NAME=VALUE" } },
	{ "[repo \"w\"]\nurl=u\nsecret_file=@D@/one.secret\nbuilder=b\nruntime_artifact = rel/path:.\n"
	  "runtime_artifact = /a:/abs\nruntime_artifact = /a:../up\n",
	  { "5: invalid value for 'runtime_artifact': expected /absolute/source[:relative/destination]",
	    "6: invalid value for 'runtime_artifact': expected /absolute/source[:relative/destination]",
	    "7: invalid value for 'runtime_artifact': expected /absolute/source[:relative/destination]" } },
	{ "[repo \"w\"]\nurl=u\nsecret_file=@D@/one.secret\nbuilder=b\ninject = nocolon\n",
	  { "5: invalid value for 'inject': expected SOURCE:DESTINATION" } },
	{ "[repo \"w\"]\nurl=u\nsecret_file=@D@/one.secret\nbuilder=b\ntag = x:{nope}\n",
	  { "5: invalid value for 'tag': unknown placeholder '{nope}'; use {repo} {branch} {tag} {sha} {short_sha} {build}" } },
	{ "[repo \"w\"]\nurl=u\nsecret_file=@D@/one.secret\nbuilder=b\ntag = x:{branch}-{shaa\n",
	  { "5: invalid value for 'tag': unknown placeholder '{shaa'; use {repo} {branch} {tag} {sha} {short_sha} {build}" } },
	/* {pr} belongs to pr_tag only */
	{ "[repo \"w\"]\nurl=u\nsecret_file=@D@/one.secret\nbuilder=b\ntag = x:{pr}\npr_tag = x:{nope}\n",
	  { "5: invalid value for 'tag': unknown placeholder '{pr}'; use {repo} {branch} {tag} {sha} {short_sha} {build}",
	    "6: invalid value for 'pr_tag': unknown placeholder '{nope}'; use {repo} {branch} {tag} {sha} {short_sha} {build} {pr}" } },
	{ "[repo \"w\"]\nurl=u\nsecret_file=@D@/one.secret\nbuilder=b\npull_requests = forks\n",
	  { "5: invalid value for 'pull_requests': expected no, same-repo or all" } },
	{ "[repo \"w\"]\nurl=u\nsecret_file=@D@/one.secret\nbuilder=b\nbuild_secret_file = .x:@D@/one.secret\n"
	  "build_secret_file = nocolon\n",
	  { "5: invalid value for 'build_secret_file': expected NAME:PATH, NAME of letters, digits, '.', '_' and '-' not starting with '.'",
	    "6: invalid value for 'build_secret_file': expected NAME:PATH, NAME of letters, digits, '.', '_' and '-' not starting with '.'" } },
	{ "[repo \"w\"]\nurl=u\nsecret_file=@D@/one.secret\nbuilder=b\ntag = x:y}\n",
	  { "5: invalid value for 'tag': '}' without '{'" } },
	{ "[repo \"w\"]\nurl=u\nsecret_file=@D@/one.secret\nbuilder=b\ncontext_dir = ../up\n",
	  { "5: invalid value for 'context_dir': expected a relative path without '..'" } },
	{ "[repo \"w\"]\nurl=u\nsecret_file=@D@/one.secret\nbuilder=b\ndestination = tmp\n",
	  { "5: invalid value for 'destination': expected an absolute path" } },
	{ "[repo \"w\"]\nurl=u\nsecret_file=@D@/one.secret\nbuilder=b\nallowed_uids = 10-5\n",
	  { "5: invalid value for 'allowed_uids': expected uid ranges like 1-, 1000-2000 or 0,1000-" } },
	{ "[repo \"w\"]\nurl=u\nsecret_file=@D@/one.secret\nbuilder=b\nscripts_url = ftp://x\n",
	  { "5: invalid value for 'scripts_url': expected an image://, file://, http:// or https:// URL" } },
	{ "[repo \"w\"]\nurl=u\nsecret_file=@D@/one.secret\nbuilder=b\ncap_drop = KILL;x\n",
	  { "5: invalid value for 'cap_drop': expected capability names like KILL,MKNOD" } },
	{ "[repo \"w\"]\nurl=u\nsecret_file=@D@/one.secret\nbuilder=my image\n",
	  { "4: invalid value for 'builder': must not contain whitespace" } },
	{ "[repo \"w\"]\nurl=u\nsecret_file=@D@/one.secret\nbuilder=b\nstatus = gitlab\n",
	  { "1: repo \"w\": status = gitlab needs 'status_token_file'",
	    "1: repo \"w\": status = gitlab needs 'status_api' (url is not http(s))" } },
	{ "[repo \"w\"]\nurl=u\nsecret_file=@D@/nope\nbuilder=b\n",
	  { "3: the value of secret_file is not a path to an existing file (the value is not shown: "
	    "it may be a secret); give the path of the file" } },
	{ "[repo \"w\"]\nurl=u\nsecret_file=@D@\nbuilder=b\n",
	  { "3: secret_file: '@D@' is not a regular file" } },
	/* an indented line is its own key, not a continuation */
	{ "[agent]\nworkers = 2\n  workers = 3\n", { "3: duplicate key 'workers' (first set on line 2)" } },
};

static void check_errors(const struct strv *got, const char *path, const char *const *want, size_t nwant)
{
	size_t i;

	for (i = 0; i < got->n; i++)
		print_message("got: %s\n", got->items[i]);
	assert_int_equal(got->n, nwant);
	for (i = 0; i < nwant; i++) {
		struct buf b = BUF_INIT(1 << 16);
		const char *p = want[i], *at;

		/* "@D@" in a message is the directory */
		buf_addf(&b, "%s:", path);
		while ((at = strstr(p, "@D@"))) {
			buf_add(&b, p, (size_t)(at - p));
			buf_addstr(&b, dir);
			p = at + 3;
		}
		buf_addstr(&b, p);
		assert_string_equal(got->items[i], b.data);
		buf_release(&b);
	}
}

static void test_errors(void **state)
{
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]); i++) {
		struct strv errors = STRV_INIT;
		char *path = NULL;

		print_message("case %zu: %s", i, error_cases[i].text);
		assert_null(load(error_cases[i].text, &errors, &path));
		for (n = 0; n < 4 && error_cases[i].errors[n]; n++)
			;
		check_errors(&errors, path, error_cases[i].errors, n);
		strv_clear(&errors);
		free(path);
	}
}

static void test_many_errors_at_once(void **state)
{
	static const char text[] =
		"[agent]\n"				/* 1 */
		"listen = localhost\n"			/* 2 */
		"bogus = 1\n"				/* 3 */
		"max_body = 10MiB\n"			/* 4: fine */
		"[repo \"web\"]\n"			/* 5 */
		"url = https://example.com/web.git\n"	/* 6 */
		"secret_file = @D@/s\n"			/* 7: mode 0644 */
		"push = perhaps\n"			/* 8 */
		"[nope]\n"				/* 9 */
		"ignored = because the section is bad\n"/* 10 */
		"[repo \"api\"]\n"			/* 11 */
		"builder = b\n";			/* 12 */
	static const char *const want[] = {
		"2: invalid value for 'listen': expected host:port",
		"3: unknown key 'bogus' in [agent]; s2i-agent.conf(5) lists the keys",
		"5: repo \"web\": missing required key 'builder'",
		"7: secret_file: '@D@/s' is readable by group or others (mode 0644); chmod 600 it",
		"8: invalid value for 'push': expected yes or no",
		"9: unknown section [nope]",
		"11: repo \"api\": missing required key 'url'",
		"11: repo \"api\": missing required key 'secret_file'",
	};
	struct strv errors = STRV_INIT;
	char *path;

	(void)state;
	free(put("s", "x\n", 0644));
	assert_null(load(text, &errors, &path));
	check_errors(&errors, path, want, sizeof(want) / sizeof(want[0]));
	strv_clear(&errors);
	free(path);
}

static void test_secret_files(void **state)
{
	static const struct {
		const char *content;
		mode_t mode;
		size_t n;		/* secrets read; 0: refused with msg */
		const char *msg;
	} cases[] = {
		{ "SUPERSECRETVALUE\n", 0600, 1, NULL },
		{ "SUPERSECRETVALUE", 0400, 1, NULL },
		{ "SUPERSECRETVALUE  \r\n\n", 0600, 1, NULL },
		{ "SUPERSECRETVALUE\nSUPERSECRETOLD\n", 0600, 2, NULL },
		{ "\nSUPERSECRETVALUE\n\nSUPERSECRETOLD\n\n", 0600, 2, NULL },
		{ "SUPERSECRETVALUE\n", 0640, 0, "'@D@/s' is readable by group or others (mode 0640); chmod 600 it" },
		{ "SUPERSECRETVALUE\n", 0604, 0, "'@D@/s' is readable by group or others (mode 0604); chmod 600 it" },
		{ "SUPERSECRETVALUE\n", 0620, 0, "'@D@/s' is readable by group or others (mode 0620); chmod 600 it" },
		{ "", 0600, 0, "'@D@/s' is empty" },
		{ " \n\t\n", 0600, 0, "'@D@/s' is empty" },
		{ "SUPERSECRETVALUE\nSUPERSECRETOLD\nSUPERSECRETOLDER\n", 0600, 0,
		  "'@D@/s' holds more than 2 secrets (one per line)" },
	};
	size_t i, k;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *out[SECRETS_PER_REPO] = { NULL };
		struct err e = ERR_INIT;
		size_t n = 99;
		char *path = put("s", cases[i].content, cases[i].mode);
		int rc = config_read_secret(path, out, SECRETS_PER_REPO, &n, &e);

		print_message("case %zu\n", i);
		if (cases[i].n) {
			assert_int_equal(rc, 0);
			assert_int_equal(n, cases[i].n);
			assert_string_equal(out[0], "SUPERSECRETVALUE");
			if (n == 2)
				assert_string_equal(out[1], "SUPERSECRETOLD");
		} else {
			char *want = xasprintf("'%s/s%s", dir, strchr(cases[i].msg, '\'') + 6);

			assert_int_equal(rc, -1);
			assert_int_equal(n, 99);	/* untouched on failure */
			assert_null(out[0]);
			assert_string_equal(e.msg, want);
			free(want);
		}
		/* a secret never shows up in an error */
		assert_null(strstr(e.msg, "SUPERSECRET"));
		for (k = 0; k < SECRETS_PER_REPO; k++)
			free(out[k]);
		free(path);
	}

	/* one line only for token files; the whole config refuses too */
	{
		char *out[1] = { NULL };
		struct err e = ERR_INIT;
		struct strv errors = STRV_INIT;
		size_t n = 0;
		char *path = put("s", "SUPERSECRETVALUE\nSUPERSECRETOLD\n", 0600);

		assert_int_equal(config_read_secret(path, out, 1, &n, &e), -1);
		assert_non_null(strstr(e.msg, "holds more than 1 secret (one per line)"));
		assert_null(load("[agent]\nadmin_token_file = @D@/s\n", &errors, NULL));
		assert_int_equal(errors.n, 1);
		assert_null(strstr(errors.items[0], "SUPERSECRET"));
		strv_clear(&errors);
		free(path);
	}

	/* larger than SECRET_FILE_MAX */
	{
		char *big = xmalloc(SECRET_FILE_MAX + 2);
		char *out[2] = { NULL };
		struct err e = ERR_INIT;
		size_t n = 0;
		char *path;

		memset(big, 'a', SECRET_FILE_MAX + 1);
		big[SECRET_FILE_MAX + 1] = '\0';
		path = put("big.secret", big, 0600);
		assert_int_equal(config_read_secret(path, out, 2, &n, &e), -1);
		assert_non_null(strstr(e.msg, "is larger than 4096 bytes"));
		big[SECRET_FILE_MAX] = '\0';
		free(path);
		path = put("big.secret", big, 0600);
		assert_int_equal(config_read_secret(path, out, 2, &n, &e), 0);
		assert_int_equal(strlen(out[0]), SECRET_FILE_MAX);
		free(out[0]);
		free(path);
		free(big);
	}

	/* private files handed on (keys, registry auth) must be 0600 too */
	{
		struct strv errors = STRV_INIT;
		char *path;

		free(put("s", "k\n", 0644));
		assert_null(load("[agent]\nregistry_auth_file = @D@/s\n", &errors, &path));
		{
			const char *want[] = { "2: registry_auth_file: '@D@/s' is readable by group or others (mode 0644); chmod 600 it" };

			check_errors(&errors, path, want, 1);
		}
		strv_clear(&errors);
		free(path);
	}
}

/* A configuration refused with exactly one error, which never holds "hunter2". */
struct one_error {
	const char *text;
	const char *want;
};

static void check_one_error(const struct one_error *t, size_t n)
{
	struct strv errors = STRV_INIT;
	char *path;
	size_t i;

	for (i = 0; i < n; i++) {
		print_message("case %zu\n", i);
		assert_null(load(t[i].text, &errors, &path));
		check_errors(&errors, path, &t[i].want, 1);
		assert_null(strstr(errors.items[0], "hunter2"));
		strv_clear(&errors);
		free(path);
	}
}

/* Issue 12 item 5: a FIFO at any path the configuration reads is refused at
 * once instead of blocking the load until someone writes to it. */
static void test_fifo_paths(void **state)
{
	static const struct one_error cases[] = {
		{ "[repo \"w\"]\nurl=u\nsecret_file=@D@/fifo\nbuilder=b\n",
		  "3: secret_file: '@D@/fifo' is not a regular file" },
		{ "[agent]\nadmin_token_file = @D@/fifo\n", "2: admin_token_file: '@D@/fifo' is not a regular file" },
		{ "[repo \"w\"]\nurl=u\nsecret_file=@D@/one.secret\nbuilder=b\nssh_key_file=@D@/fifo\n",
		  "5: ssh_key_file: '@D@/fifo' is not a regular file" },
	};
	struct strv errors = STRV_INIT;
	char *fifo = xasprintf("%s/fifo", dir);

	(void)state;
	assert_int_equal(mkfifo(fifo, 0600), 0);
	alarm(20);	/* a blocking open fails the test instead of hanging it */
	check_one_error(cases, sizeof(cases) / sizeof(cases[0]));
	/* the configuration itself */
	assert_int_equal(config_load(fifo, &(struct config *){ NULL }, &errors), -1);
	assert_int_equal(errors.n, 1);
	assert_non_null(strstr(errors.items[0], "' is not a regular file"));
	strv_clear(&errors);
	alarm(0);
	unlink(fifo);
	free(fifo);
}

/* Issue 12 item 13: short secrets refused with FILE:LINE, and a secret typed
 * where its file's path belongs never echoed. */
static void test_secret_hygiene(void **state)
{
	static const struct one_error cases[] = {
		{ "[repo \"w\"]\nurl=u\nsecret_file=@D@/s\nbuilder=b\n",
		  "3: secret_file: line 1 of '@D@/s' is 1 character long, shorter than 16; "
		  "put a random one there (openssl rand -hex 32)" },
		{ "[agent]\nadmin_token_file = @D@/s\n",
		  "2: admin_token_file: line 1 of '@D@/s' is 1 character long, shorter than 16; "
		  "put a random one there (openssl rand -hex 32)" },
		{ "[repo \"w\"]\nurl=u\nsecret_file=hunter2hunter2hunter2\nbuilder=b\n",
		  "3: the value of secret_file is not a path to an existing file (the value is not shown: "
		  "it may be a secret); give the path of the file" },
		{ "[agent]\nadmin_token_file = hunter2hunter2hunter2\n",
		  "2: the value of admin_token_file is not a path to an existing file (the value is not "
		  "shown: it may be a secret); give the path of the file" },
		{ "[repo \"w\"]\nurl=u\nsecret_file=@D@/one.secret\nbuilder=b\nssh_key_file=hunter2hunter2\n",
		  "5: the value of ssh_key_file is not a path to an existing file (the value is not "
		  "shown: it may be a secret); give the path of the file" },
	};
	struct strv errors = STRV_INIT;
	struct config *c;

	(void)state;
	free(put("s", "Q\n", 0600));
	check_one_error(cases, sizeof(cases) / sizeof(cases[0]));
	/* 16 characters are enough; a second, older secret is held to it too */
	free(put("s", "0123456789abcdef\n", 0600));
	c = load("[repo \"w\"]\nurl=u\nsecret_file=@D@/s\nbuilder=b\n", &errors, NULL);
	assert_non_null(c);
	config_free(c);
	free(put("s", "0123456789abcdef\nshort\n", 0600));
	assert_null(load("[repo \"w\"]\nurl=u\nsecret_file=@D@/s\nbuilder=b\n", &errors, NULL));
	assert_int_equal(errors.n, 1);
	assert_non_null(strstr(errors.items[0], "line 2 of '"));
	strv_clear(&errors);
}

static void test_lines(void **state)
{
	struct strv errors = STRV_INIT;
	struct buf b = BUF_INIT(1 << 20);
	char *path;
	size_t i;

	(void)state;
	/* a line over CONFIG_LINE_MAX, then a good line that must still parse */
	buf_addstr(&b, "[agent]\ndescription_of_nothing = ");
	for (i = 0; i < CONFIG_LINE_MAX; i++)
		buf_addch(&b, 'x');
	buf_addstr(&b, "\nworkers = 65\n");
	assert_null(load(b.data, &errors, &path));
	{
		const char *want[] = {
			"2: line longer than 4096 bytes",
			"3: invalid value for 'workers': expected a number from 0 to 64",
		};

		check_errors(&errors, path, want, 2);
	}
	strv_clear(&errors);
	free(path);
	buf_release(&b);

	/* long values within the line limit are fine: inih's 200-byte default is lifted */
	buf_addstr(&b, "[repo \"w\"]\nurl=u\nsecret_file=@D@/one.secret\nbuilder=b\ndescription = ");
	for (i = 0; i < 1000; i++)
		buf_addch(&b, 'd');
	buf_addstr(&b, "\n");
	{
		struct config *c = load(b.data, &errors, NULL);

		assert_non_null(c);
		assert_int_equal(strlen(c->repos[0]->description), 1000);
		config_free(c);
	}
	buf_release(&b);

	/* a NUL byte in a line */
	{
		char *p = xasprintf("%s/agent.conf", dir);
		FILE *f = fopen(p, "wb");

		assert_non_null(f);
		fwrite("[agent]\nworkers = 2\0\n", 1, 21, f);
		fclose(f);
		assert_int_equal(config_load(p, &(struct config *){ NULL }, &errors), -1);
		assert_int_equal(errors.n, 1);
		assert_non_null(strstr(errors.items[0], ":2: line contains a NUL byte"));
		strv_clear(&errors);
		free(p);
	}

	/* comments, inline comments and key: value */
	{
		struct config *c = load("# comment\n; comment\n[agent] ; trailing\nworkers: 3 ; three\n", &errors, NULL);

		assert_non_null(c);
		assert_int_equal(c->workers, 3);
		config_free(c);
	}
}

static void test_unreadable_config(void **state)
{
	struct strv errors = STRV_INIT;
	struct config *c = (struct config *)&errors;	/* must stay untouched */
	char *p = xasprintf("%s/missing.conf", dir), *want;

	(void)state;
	assert_int_equal(config_load(p, &c, &errors), -1);
	assert_ptr_equal(c, (struct config *)&errors);
	want = xasprintf("%s: cannot open '%s': No such file or directory; choose the configuration "
			 "with -c FILE or $S2I_AGENT_CONFIG", p, p);
	assert_int_equal(errors.n, 1);
	assert_string_equal(errors.items[0], want);
	strv_clear(&errors);
	free(want);
	free(p);
	/* a directory */
	assert_int_equal(config_load(dir, &c, &errors), -1);
	assert_non_null(strstr(errors.items[0], "' is not a regular file"));
	strv_clear(&errors);
}

static void test_durations_and_sizes(void **state)
{
	static const struct {
		const char *in;
		long secs;	/* -1: rejected */
	} durs[] = {
		{ "45", 45 }, { "90s", 90 }, { "30m", 1800 }, { "2h", 7200 }, { "1d", 86400 },
		{ "1h30m", 5400 }, { "1m30s", 90 }, { "0", 0 },
		{ "", -1 }, { "m", -1 }, { "1x", -1 }, { "1h30", -1 }, { "-5", -1 }, { "1.5h", -1 },
		{ "30 m", -1 }, { "99999999999999999999", -1 },
	};
	static const struct {
		const char *in;
		unsigned long long bytes;	/* 0 with ok 0: rejected */
		int ok;
	} sizes[] = {
		{ "100", 100, 1 }, { "1k", 1024, 1 }, { "1K", 1024, 1 }, { "1kb", 1024, 1 }, { "2KiB", 2048, 1 },
		{ "25MiB", 25ull << 20, 1 }, { "25 MiB", 25ull << 20, 1 }, { "3m", 3ull << 20, 1 },
		{ "1G", 1ull << 30, 1 }, { "7b", 7, 1 },
		{ "", 0, 0 }, { "k", 0, 0 }, { "1T", 0, 0 }, { "1.5M", 0, 0 }, { "-1", 0, 0 },
		{ "99999999999999999999", 0, 0 }, { "17179869184G", 0, 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(durs) / sizeof(durs[0]); i++) {
		long v = -7;

		print_message("duration '%s'\n", durs[i].in);
		assert_int_equal(config_parse_duration(durs[i].in, &v), durs[i].secs < 0 ? -1 : 0);
		assert_int_equal(v, durs[i].secs < 0 ? -7 : durs[i].secs);
	}
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t v = 7;

		print_message("size '%s'\n", sizes[i].in);
		assert_int_equal(config_parse_size(sizes[i].in, &v), sizes[i].ok ? 0 : -1);
		assert_int_equal(v, sizes[i].ok ? sizes[i].bytes : 7);
	}
}

static void test_default_path(void **state)
{
	char *saved = getenv(CONFIG_ENV) ? xstrdup(getenv(CONFIG_ENV)) : NULL;

	(void)state;
	unsetenv(CONFIG_ENV);
	assert_string_equal(config_default_path(), CONFIG_DEFAULT_PATH);
	setenv(CONFIG_ENV, "", 1);
	assert_string_equal(config_default_path(), CONFIG_DEFAULT_PATH);
	setenv(CONFIG_ENV, "/tmp/x.conf", 1);
	assert_string_equal(config_default_path(), "/tmp/x.conf");
	if (saved)
		setenv(CONFIG_ENV, saved, 1);
	else
		unsetenv(CONFIG_ENV);
	free(saved);
}

/* Mangled configs: config_load answers 0 or -1 with errors that each name a
 * line of the file, never crashes or leaks (ASan runs this). */
static void test_mangled(void **state)
{
	static const char junk[] = "[]\"=:;# \n\t\r\\{}*x0";
	size_t len = strlen(full_text), k;
	unsigned seed = 4242;
	char *path = xasprintf("%s/agent.conf", dir);

	(void)state;
	for (k = 0; k < 1500; k++) {
		struct strv errors = STRV_INIT;
		struct config *c = NULL;
		char *copy = xstrdup(full_text);
		FILE *f;
		size_t i;
		int j, rc;

		for (j = 0; j < 3; j++) {
			seed = seed * 1103515245u + 12345u;
			copy[(seed >> 8) % len] = junk[(seed >> 20) % (sizeof(junk) - 1)];
		}
		f = fopen(path, "wb");
		assert_non_null(f);
		fwrite(copy, 1, len, f);
		fclose(f);
		rc = config_load(path, &c, &errors);
		assert_true(rc == 0 || rc == -1);
		if (rc == 0) {
			assert_non_null(c);
			assert_int_equal(errors.n, 0);
			config_free(c);
		} else {
			assert_true(errors.n > 0);
			for (i = 0; i < errors.n; i++) {
				assert_int_equal(strncmp(errors.items[i], path, strlen(path)), 0);
				assert_int_equal(errors.items[i][strlen(path)], ':');
			}
		}
		strv_clear(&errors);
		free(copy);
	}
	free(path);
}


/* A value other than the default for every [repo] key (a key the table gains needs
 * a row here, or test_repo_job fails and says which). */
static const struct { const char *key, *value; } repo_samples[] = {
	{ "url", "https://gitlab.example.com/acme/all.git" },
	{ "secret_file", "@D@/web.secret" },
	{ "branches", "main release/*" },
	{ "tags", "v*" },
	{ "builder", "registry.example.com/s2i/python:3.12" },
	{ "tag", "registry.example.com/acme/all:{branch}-{build}" },
	{ "push", "yes" },
	{ "incremental", "yes" },
	{ "cancel_superseded", "no" },
	{ "context_dir", "app/web" },
	{ "env", "APP_ENV=production" },
	{ "runtime_image", "registry.example.com/base/minimal:1" },
	{ "runtime_artifact", "/opt/app-root/app.bin:bin" },
	{ "status", "gitlab" },
	{ "status_api", "https://gitlab.example.com/api/v4" },
	{ "status_repo", "acme/all" },
	{ "status_token_file", "@D@/gh.token" },
	{ "status_context", "ci/s2i" },
	{ "git_token_file", "@D@/gh.token" },
	{ "ssh_key_file", "@D@/id_ed25519" },
	{ "known_hosts_file", "@D@/known_hosts" },
	{ "scripts_url", "image:///usr/libexec/s2i" },
	{ "assemble_user", "1001" },
	{ "assemble_runtime_user", "1002" },
	{ "allowed_uids", "1000-2000" },
	{ "pull_policy", "always" },
	{ "incremental_pull_policy", "never" },
	{ "runtime_pull_policy", "if-not-present" },
	{ "network", "host" },
	{ "cap_drop", "KILL,MKNOD" },
	{ "run_on", "arch=amd64,disk=ssd" },
	{ "exclude", "(^|/)\\.git(/|$)" },
	{ "inject", "/etc/ssl:/etc/ssl" },
	{ "volume", "/cache:/cache" },
	{ "add_host", "db.internal:10.0.0.2" },
	{ "environment_file", "build.env" },
	{ "description", "All the keys" },
	{ "application_name", "all-app" },
	{ "destination", "/opt/s2i" },
	{ "callback_url", "https://hooks.example.com/done" },
	{ "ignore_submodules", "yes" },
	{ "rm", "yes" },
	{ "pull_requests", "same-repo" },
	{ "pr_tag", "registry.example.com/acme/all:pr-{pr}-{short_sha}" },
	{ "build_env", "NPM_TOKEN=t0ken" },
	{ "build_env_file", "@D@/gh.token" },
	{ "build_secret_file", "npmrc:@D@/gh.token" },
	{ "keep_builds", "7" },
	{ "keep_days", "3" },
	{ "min_free_space", "4GiB" },
};

static const char *repo_sample(const char *key)
{
	size_t i;

	for (i = 0; i < sizeof(repo_samples) / sizeof(repo_samples[0]); i++)
		if (strcmp(repo_samples[i].key, key) == 0)
			return repo_samples[i].value;
	return NULL;
}

/* Through the build job's JSON text and back, as worker.c and cmd_build_child.c do. */
static struct repo_conf *job_round_trip(const struct repo_conf *r, char **ret_text)
{
	struct err e = ERR_INIT;
	struct repo_conf *back = NULL;
	json_t *j = jobwire_repo_to_json(r), *j2;
	char *text = json_dumps(j, JSON_COMPACT);

	assert_non_null(text);
	j2 = json_loads(text, 0, NULL);
	assert_non_null(j2);
	assert_int_equal(jobwire_repo_from_json(j2, &back, &e), 0);
	assert_non_null(back);
	json_decref(j);
	json_decref(j2);
	*ret_text = text;
	return back;
}

/* Every [repo] key of the key table survives the build job: set to a value other
 * than its default, serialised, parsed back, it is equal; secrets stay out. */
static void test_repo_job(void **state)
{
	struct strv errors = STRV_INIT;
	struct buf text = BUF_INIT(1 << 16);
	struct err e = ERR_INIT;
	struct repo_conf *all, *min, *back;
	struct config *c;
	const char *key, *v;
	char *job;
	size_t i, nkeys = 0;
	json_t *empty;

	(void)state;
	/* the labels its run_on sample lists: on SQLite, this agent must build it */
	buf_addstr(&text, "[agent]\nlabels = arch=amd64,disk=ssd\n[repo \"all\"]\n");
	for (i = 0; (key = config_repo_key_name(i)); i++) {
		v = repo_sample(key);
		if (!v)
			fail_msg("no sample value for the [repo] key '%s': add one to repo_samples", key);
		buf_addf(&text, "%s = %s\n", key, v);
		nkeys++;
	}
	assert_int_equal(nkeys, sizeof(repo_samples) / sizeof(repo_samples[0]));
	buf_addstr(&text, "[repo \"min\"]\nurl = https://example.com/min.git\n"
		   "secret_file = @D@/one.secret\nbuilder = python:3.12\n");
	c = load(text.data, &errors, NULL);
	for (i = 0; i < errors.n; i++)
		print_error("%s\n", errors.items[i]);
	assert_non_null(c);
	all = config_repo(c, "all");
	min = config_repo(c, "min");
	assert_non_null(all);
	assert_non_null(min);
	for (i = 0; (key = config_repo_key_name(i)); i++)
		if (jobwire_repo_key_equal(all, min, key))
			fail_msg("the sample of '%s' is its default: the round trip would prove nothing", key);

	back = job_round_trip(all, &job);
	for (i = 0; (key = config_repo_key_name(i)); i++)
		if (!jobwire_repo_key_equal(all, back, key))
			fail_msg("the [repo] key '%s' does not survive the build job: %s", key, job);
	assert_string_equal(back->name, "all");
	/* only the paths of secret files go into a job, never what they hold */
	assert_int_equal(back->nsecrets, 0);
	assert_null(back->secrets[0]);
	assert_null(back->status_token);
	assert_null(back->git_token);
	assert_null(strstr(job, "new-secret-0123456789"));
	assert_null(strstr(job, "ghp_token"));
	config_repo_free(back);
	free(job);

	/* unset keys stay unset, defaults stay defaults */
	back = job_round_trip(min, &job);
	for (i = 0; (key = config_repo_key_name(i)); i++)
		if (!jobwire_repo_key_equal(min, back, key))
			fail_msg("the [repo] key '%s' of a minimal repo changes in the build job: %s", key, job);
	config_repo_free(back);
	free(job);

	/* what a job leaves out keeps its default */
	empty = json_object();
	assert_int_equal(jobwire_repo_from_json(empty, &back, &e), 0);
	assert_null(back->name);
	assert_int_equal(back->cancel_superseded, 1);
	assert_int_equal(back->status, STATUS_NONE);
	assert_int_equal(back->env.n, 0);
	config_repo_free(back);
	json_decref(empty);
	assert_int_equal(jobwire_repo_from_json(NULL, &back, &e), -1);
	assert_int_equal(jobwire_repo_key_equal(all, min, "no_such_key"), 0);

	config_free(c);
	strv_clear(&errors);
	buf_release(&text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_round_trip),
		cmocka_unit_test(test_agent_defaults),
		cmocka_unit_test(test_status_api_defaults),
		cmocka_unit_test(test_labels),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_many_errors_at_once),
		cmocka_unit_test(test_secret_files),
		cmocka_unit_test(test_fifo_paths),
		cmocka_unit_test(test_secret_hygiene),
		cmocka_unit_test(test_lines),
		cmocka_unit_test(test_unreadable_config),
		cmocka_unit_test(test_durations_and_sizes),
		cmocka_unit_test(test_default_path),
		cmocka_unit_test(test_mangled),
		cmocka_unit_test(test_repo_job),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
