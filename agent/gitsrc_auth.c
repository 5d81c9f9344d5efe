/* gitsrc_auth: what a git connection proves and checks: HTTPS tokens, SSH keys, and every
 * SSH host key verified against known_hosts (never skipped). */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <git2.h>

#include "config.h"
#include "gitsrc_int.h"
#include "knownhosts.h"
#include "limits.h"
#include "sshkey.h"

/* Host and port of an SSH URL (ssh://[user@]host[:port]/path or [user@]host:path). */
static void gitsrc_ssh_host(const char *url, char *host, size_t hostsz, int *port)
{
	const char *p = strstr(url, "://"), *end, *at;
	size_t n;

	*port = 22;
	host[0] = '\0';
	if (p) {
		p += 3;
		end = p + strcspn(p, "/");
	} else {
		p = url;
		end = strchr(url, ':');
		if (!end)
			return;
	}
	at = memchr(p, '@', (size_t)(end - p));
	if (at)
		p = at + 1;
	if (*p == '[') {	/* [v6]:port */
		const char *rb = memchr(p, ']', (size_t)(end - p));

		if (rb) {
			n = (size_t)(rb - p - 1);
			snprintf(host, hostsz, "%.*s", (int)n, p + 1);
			if (rb[1] == ':' && strstr(url, "://"))
				*port = atoi(rb + 2);
			return;
		}
	}
	if (strstr(url, "://")) {
		const char *c = memchr(p, ':', (size_t)(end - p));

		if (c) {
			*port = atoi(c + 1);
			end = c;
		}
	}
	n = (size_t)(end - p);
	snprintf(host, hostsz, "%.*s", (int)n, p);
}

/* The token is a secret like any other: config_read_secret refuses files readable by
 * group or others. */
int gitsrc_read_token(const char *file, char **ret, struct err *e)
{
	char *lines[1] = { NULL };
	size_t n = 0;

	if (config_read_secret(file, lines, 1, &n, e) < 0)
		return err_prefix(e, "git token");
	if (n < 1 || !lines[0] || !*lines[0]) {
		free(lines[0]);
		return err_set(e, "git token file '%s' is empty", file);
	}
	*ret = lines[0];
	return 0;
}

int gitsrc_cred_cb(git_credential **out, const char *url, const char *user_from_url,
		   unsigned int allowed, void *payload)
{
	struct gitsrc_conn *c = payload;
	struct gitsrc *s = c->s;

	(void)url;
	if (++c->tries > GITSRC_AUTH_TRIES) {
		git_error_set_str(GIT_ERROR_NET, "authentication failed (credential refused)");
		return GIT_EAUTH;
	}
	if ((allowed & GIT_CREDENTIAL_SSH_KEY) && s->ssh_key) {
		c->key_offered = 1;
		return git_credential_ssh_key_new(out, user_from_url && *user_from_url ? user_from_url : "git",
						  NULL, s->ssh_key, NULL);
	}
	if ((allowed & GIT_CREDENTIAL_USERNAME) && !(allowed & ~GIT_CREDENTIAL_USERNAME))
		return git_credential_username_new(out, user_from_url && *user_from_url ? user_from_url : "git");
	if ((allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT) && s->token)
		return git_credential_userpass_plaintext_new(out,
			user_from_url && *user_from_url ? user_from_url :
			s->token_user ? s->token_user : "x-access-token", s->token);
	git_error_set_str(GIT_ERROR_NET, (allowed & GIT_CREDENTIAL_SSH_KEY) ?
			  "authentication required and no ssh_key_file configured" :
			  "authentication required and no git_token_file configured");
	return GIT_EAUTH;
}

int gitsrc_cert_cb(git_cert *cert, int valid, const char *host, void *payload)
{
	struct gitsrc_conn *c = payload;
	struct knownhosts_key key = { NULL, 0, NULL };
	char home_kh[4096];
	const char *kh = c->s->known_hosts;
	git_cert_hostkey *hk;

	if (cert->cert_type != GIT_CERT_HOSTKEY_LIBSSH2)
		return valid ? 0 : GIT_PASSTHROUGH;	/* TLS: libgit2's own verification */
	hk = (git_cert_hostkey *)cert;
	if (hk->type & GIT_CERT_SSH_RAW) {
		key.raw = (const unsigned char *)hk->hostkey;
		key.raw_len = hk->hostkey_len;
	}
	if (hk->type & GIT_CERT_SSH_SHA256)
		key.sha256 = hk->hash_sha256;
	if (!kh) {
		const char *home = getenv("HOME");

		snprintf(home_kh, sizeof(home_kh), "%s/.ssh/known_hosts", home ? home : "/");
		kh = home_kh;
	}
	if (!key.raw && !key.sha256) {
		c->cert_failed = 1;
		err_set(&c->cert_err, "no usable host key for '%s' from the SSH layer", host);
	} else if (knownhosts_check(kh, c->host[0] ? c->host : host, c->port, &key, &c->cert_err) < 0)
		c->cert_failed = 1;
	if (c->cert_failed) {
		git_error_set_str(GIT_ERROR_SSH, c->cert_err.msg);
		return GIT_ECERTIFICATE;
	}
	return 0;
}

void gitsrc_conn_init(struct gitsrc_conn *c, struct gitsrc *s, const char *url)
{
	memset(c, 0, sizeof(*c));
	c->s = s;
	c->url = url;
	c->port = 22;
	if (!strncasecmp(url, "ssh://", 6) || !strncasecmp(url, "git+ssh://", 10) ||
	    !strncasecmp(url, "ssh+git://", 10) || (!strstr(url, "://") && gitsrc_is_url(url)))
		gitsrc_ssh_host(url, c->host, sizeof(c->host), &c->port);
}

int gitsrc_fail_net(struct gitsrc_conn *c, struct err *e, const char *what, const char *url)
{
	char why[ERR_MSG_MAX];
	size_t n;

	if (c->cert_failed)
		return err_set(e, "cannot %s '%s': %s", what, url, c->cert_err.msg);
	gitsrc_git_err(e, "cannot %s '%s'", what, url);
	/* libssh2 only says the key was refused (an RSA key: signed with SHA-1, which the
	 * server refuses) or unreadable (encrypted): say why when the key's type tells */
	if (c->key_offered && sshkey_check(c->s->ssh_key, why, sizeof(why)) != SSHKEY_OK) {
		n = strlen(e->msg);
		snprintf(e->msg + n, sizeof(e->msg) - n, "; %s", why);
	}
	return -1;
}
