/* knownhosts: parses known_hosts line by line and compares host keys; used by gitsrc's
 * certificate check so SSH fetches never accept an unknown or changed host. */
#include <errno.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "buf.h"
#include "knownhosts.h"
#include "limits.h"

/* Decodes base64; returns the length or -1. out has room for 3/4 of len + 3. */
static int knownhosts_b64(const char *s, size_t len, unsigned char *out)
{
	int n;
	size_t pad = 0;

	if (len == 0 || len % 4 != 0 || len > KNOWNHOSTS_LINE_MAX)
		return -1;
	n = EVP_DecodeBlock(out, (const unsigned char *)s, (int)len);
	if (n < 0)
		return -1;
	while (pad < 2 && len > pad && s[len - 1 - pad] == '=')
		pad++;
	return n - (int)pad;
}

/* |1|salt|hash: HMAC-SHA1(salt, name) == hash */
static int knownhosts_hashed_match(const char *pat, const char *name)
{
	unsigned char salt[128], hash[128], mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	const char *p = pat + 3, *bar;
	int slen, hlen;

	bar = strchr(p, '|');
	if (!bar)
		return 0;
	if ((size_t)(bar - p) > 160 || strlen(bar + 1) > 160)
		return 0;
	slen = knownhosts_b64(p, (size_t)(bar - p), salt);
	hlen = knownhosts_b64(bar + 1, strlen(bar + 1), hash);
	if (slen <= 0 || hlen != SHA_DIGEST_LENGTH)
		return 0;
	if (!HMAC(EVP_sha1(), salt, slen, (const unsigned char *)name, strlen(name), mac, &maclen))
		return 0;
	return maclen == SHA_DIGEST_LENGTH && !memcmp(mac, hash, SHA_DIGEST_LENGTH);
}

/* OpenSSH's host patterns: only '*' and '?' are special, case-insensitive. */
static int knownhosts_glob(const char *p, const char *s)
{
	for (; *p; p++, s++) {
		if (*p == '*') {
			while (p[1] == '*')
				p++;
			if (!p[1])
				return 1;
			for (; *s; s++)
				if (knownhosts_glob(p + 1, s))
					return 1;
			return 0;
		}
		if (!*s)
			return 0;
		if (*p != '?' && tolower((unsigned char)*p) != tolower((unsigned char)*s))
			return 0;
	}
	return *s == '\0';
}

/* 1 if the comma separated pattern list matches name, 0 if not, -1 if negated. */
static int knownhosts_hosts_match(char *list, const char *name)
{
	char *save = NULL, *pat;
	int found = 0;

	if (!strncmp(list, "|1|", 3))
		return knownhosts_hashed_match(list, name);
	for (pat = strtok_r(list, ",", &save); pat; pat = strtok_r(NULL, ",", &save)) {
		int neg = pat[0] == '!';

		if (neg)
			pat++;
		if (knownhosts_glob(pat, name)) {
			if (neg)
				return -1;
			found = 1;
		}
	}
	return found;
}

int knownhosts_check(const char *file, const char *host, int port, const struct knownhosts_key *key,
		     struct err *e)
{
	char name[512], line[KNOWNHOSTS_LINE_MAX + 2];
	unsigned char blob[KNOWNHOSTS_LINE_MAX], sha[SHA256_DIGEST_LENGTH];
	FILE *f;
	int known = 0, ok = 0, revoked = 0, lineno = 0;

	if (port <= 0 || port == 22)
		snprintf(name, sizeof(name), "%s", host);
	else
		snprintf(name, sizeof(name), "[%s]:%d", host, port);
	f = fopen(file, "re");
	if (!f)
		return err_errno(e, "cannot read known_hosts '%s'", file);
	while (fgets(line, sizeof(line), f)) {
		char *save = NULL, *marker = NULL, *hosts, *type, *b64;
		int n, m, same;

		lineno++;
		if (!strchr(line, '\n') && !feof(f)) {
			fclose(f);
			return err_set(e, "known_hosts '%s':%d: line too long", file, lineno);
		}
		hosts = strtok_r(line, " \t\r\n", &save);
		if (!hosts || hosts[0] == '#')
			continue;
		if (hosts[0] == '@') {
			marker = hosts;
			hosts = strtok_r(NULL, " \t\r\n", &save);
			if (!hosts)
				continue;
		}
		type = strtok_r(NULL, " \t\r\n", &save);
		b64 = strtok_r(NULL, " \t\r\n", &save);
		if (!type || !b64)
			continue;
		if (marker && strcmp(marker, "@revoked"))
			continue;	/* @cert-authority: certificates are not checked here */
		m = knownhosts_hosts_match(hosts, name);
		if (m <= 0 && !marker)
			continue;
		n = knownhosts_b64(b64, strlen(b64), blob);
		if (n <= 0)
			continue;
		if (key->raw)
			same = key->raw_len == (size_t)n && !memcmp(key->raw, blob, (size_t)n);
		else if (key->sha256) {
			SHA256(blob, (size_t)n, sha);
			same = !memcmp(sha, key->sha256, sizeof(sha));
		} else
			same = 0;
		if (marker) {	/* @revoked applies whatever the host field says */
			if (same)
				revoked = 1;
			continue;
		}
		known = 1;
		if (same)
			ok = 1;
	}
	fclose(f);
	if (revoked)
		return err_set(e, "host key of '%s' is marked @revoked in '%s'", name, file);
	if (ok)
		return 0;
	if (known)
		return err_set(e, "host key of '%s' does not match known_hosts '%s' (refusing: possible man-in-the-middle)", name, file);
	return err_set(e, "host '%s' is not in known_hosts '%s' (refusing an unknown host key)", name, file);
}
