/* config_value: what a value of agent.conf may look like — durations, sizes, booleans,
 * listen addresses, URLs, tag templates, paths, uid ranges — as pure string checks. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "config_int.h"

/* <limits.h> is shadowed by agent/limits.h under -Iagent */
#define CFG_LONG_MAX	((long)(~0UL >> 1))

int config_parse_duration(const char *s, long *ret)
{
	long total = 0;
	const char *p = s;

	if (!s || !*s)
		return -1;
	/* a bare number is seconds; otherwise a sequence like 1h30m */
	while (*p) {
		long n = 0, mult;

		if (!isdigit((unsigned char)*p))
			return -1;
		while (isdigit((unsigned char)*p)) {
			if (n > (CFG_LONG_MAX - 9) / 10)
				return -1;
			n = n * 10 + (*p++ - '0');
		}
		switch (*p) {
		case '\0':
			if (p != s + strspn(s, "0123456789"))
				return -1;	/* "1h30" is ambiguous */
			mult = 1;
			break;
		case 's':
			mult = 1;
			break;
		case 'm':
			mult = 60;
			break;
		case 'h':
			mult = 3600;
			break;
		case 'd':
			mult = 86400;
			break;
		default:
			return -1;
		}
		if (*p)
			p++;
		if (n > (CFG_LONG_MAX - total) / mult)
			return -1;
		total += n * mult;
	}
	*ret = total;
	return 0;
}

int config_parse_size(const char *s, size_t *ret)
{
	static const struct { const char *suffix; unsigned shift; } units[] = {
		{ "", 0 }, { "b", 0 },
		{ "k", 10 }, { "kb", 10 }, { "kib", 10 },
		{ "m", 20 }, { "mb", 20 }, { "mib", 20 },
		{ "g", 30 }, { "gb", 30 }, { "gib", 30 },
	};
	unsigned long long n = 0;
	const char *p = s;
	size_t i;

	if (!s || !isdigit((unsigned char)*p))
		return -1;
	while (isdigit((unsigned char)*p)) {
		if (n > (~0ULL - 9) / 10)
			return -1;
		n = n * 10 + (unsigned long long)(*p++ - '0');
	}
	while (*p == ' ')
		p++;
	/* every unit is binary: 1k = 1024, 25MiB = 25 * 1024 * 1024 */
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcasecmp(p, units[i].suffix) != 0)
			continue;
		if (n > (unsigned long long)(SIZE_MAX >> units[i].shift))
			return -1;
		*ret = (size_t)(n << units[i].shift);
		return 0;
	}
	return -1;
}

int cfg_has_space(const char *v)
{
	for (; *v; v++)
		if (isspace((unsigned char)*v))
			return 1;
	return 0;
}

int cfg_has_ctrl(const char *v)
{
	for (; *v; v++)
		if ((unsigned char)*v < 0x20 || *v == 0x7f)
			return 1;
	return 0;
}

int cfg_bool(const char *v, int *ret)
{
	static const char *yes[] = { "yes", "true", "on", "1" }, *no[] = { "no", "false", "off", "0" };
	size_t i;

	for (i = 0; i < 4; i++) {
		if (strcasecmp(v, yes[i]) == 0) {
			*ret = 1;
			return 0;
		}
		if (strcasecmp(v, no[i]) == 0) {
			*ret = 0;
			return 0;
		}
	}
	return -1;
}

int cfg_port(const char *p, int *ret)
{
	long n = 0;

	if (!*p || strlen(p) > 5)
		return -1;
	for (; *p; p++) {
		if (!isdigit((unsigned char)*p))
			return -1;
		n = n * 10 + (*p - '0');
	}
	if (n < 1 || n > 65535)
		return -1;
	*ret = (int)n;
	return 0;
}

/* host:port, [v6]:port. Names are not resolved here. */
int cfg_listen(const char *v, char **ret_host, int *ret_port, const char **why)
{
	unsigned char addr[16];
	const char *colon;
	char *host;
	int port;

	if (v[0] == '[') {
		const char *close = strchr(v, ']');

		if (!close || close[1] != ':') {
			*why = "expected [IPv6]:port";
			return -1;
		}
		host = xstrndup(v + 1, (size_t)(close - v - 1));
		if (inet_pton(AF_INET6, host, addr) != 1) {
			free(host);
			*why = "not an IPv6 address inside [ ]";
			return -1;
		}
		colon = close + 1;
	} else {
		const char *p;

		colon = strrchr(v, ':');
		if (!colon || colon == v) {
			*why = "expected host:port";
			return -1;
		}
		if (memchr(v, ':', (size_t)(colon - v))) {
			*why = "IPv6 addresses go in brackets: [::1]:8080";
			return -1;
		}
		for (p = v; p < colon; p++)
			if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-') {
				*why = "expected host:port";
				return -1;
			}
		host = xstrndup(v, (size_t)(colon - v));
	}
	if (cfg_port(colon + 1, &port) < 0) {
		free(host);
		*why = "port must be a number from 1 to 65535";
		return -1;
	}
	*ret_host = host;
	*ret_port = port;
	return 0;
}

int cfg_is_http_url(const char *v)
{
	const char *rest;

	if (strncmp(v, "https://", 8) == 0)
		rest = v + 8;
	else if (strncmp(v, "http://", 7) == 0)
		rest = v + 7;
	else
		return 0;
	return *rest && *rest != '/' && !cfg_has_space(v);
}

/* No inline passwords (s2i-agent.conf(5), SECRETS: secrets only from files). */
int cfg_url_has_password(const char *v)
{
	const char *auth = strstr(v, "://"), *end, *at, *colon;

	if (!auth)
		return 0;
	auth += 3;
	end = auth + strcspn(auth, "/?#");
	at = memchr(auth, '@', (size_t)(end - auth));
	if (!at)
		return 0;
	colon = memchr(auth, ':', (size_t)(at - auth));
	return colon != NULL;
}

const char *cfg_check_repo_url(const char *v)
{
	static const char *schemes[] = { "https://", "http://", "ssh://", "git://", "file://" };
	const char *sep = strstr(v, "://");
	size_t i;

	if (cfg_has_space(v))
		return "must not contain whitespace";
	if (sep) {
		for (i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
			if (strncmp(v, schemes[i], strlen(schemes[i])) == 0)
				break;
		if (i == sizeof(schemes) / sizeof(schemes[0]))
			return "scheme must be https, http, ssh, git or file";
		if (!sep[3])
			return "URL has no host or path";
		if (cfg_url_has_password(v))
			return "must not contain a password; put the token in git_token_file";
	}
	return NULL;
}

int cfg_env_name_ok(const char *v, size_t n)
{
	size_t i;

	if (n == 0 || isdigit((unsigned char)v[0]))
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)v[i]) && v[i] != '_')
			return 0;
	return 1;
}

/* A relative path without any ".." component. */
int cfg_relpath_ok(const char *v)
{
	const char *p = v;

	if (*v == '/')
		return 0;
	while (*p) {
		size_t n = strcspn(p, "/");

		if (n == 2 && p[0] == '.' && p[1] == '.')
			return 0;
		p += n;
		if (*p == '/')
			p++;
	}
	return 1;
}

const char *cfg_check_template(const char *v, int with_pr, const char **ret_bad)
{
	static const char *names[] = { "repo", "branch", "tag", "sha", "short_sha", "build", "pr" };
	const size_t nnames = sizeof(names) / sizeof(names[0]) - !with_pr;
	const char *p;
	size_t i;

	if (cfg_has_space(v))
		return "must not contain whitespace";
	for (p = v; *p; p++) {
		if (*p == '}')
			return "'}' without '{'";
		if (*p != '{')
			continue;
		for (i = 0; i < nnames; i++) {
			size_t n = strlen(names[i]);

			if (strncmp(p + 1, names[i], n) == 0 && p[1 + n] == '}') {
				p += n + 1;
				break;
			}
		}
		if (i == nnames) {
			*ret_bad = p;
			return "unknown placeholder";
		}
	}
	return NULL;
}

int cfg_uids_ok(const char *v)
{
	const char *p = v;

	/* s2i's syntax: comma-separated N, N- or N-M */
	while (1) {
		unsigned long lo = 0, hi;
		int digits = 0;

		while (isdigit((unsigned char)*p)) {
			lo = lo * 10 + (unsigned long)(*p++ - '0');
			if (lo > 0xffffffffUL || ++digits > 10)
				return 0;
		}
		if (!digits)
			return 0;
		if (*p == '-') {
			p++;
			if (isdigit((unsigned char)*p)) {
				hi = 0;
				digits = 0;
				while (isdigit((unsigned char)*p)) {
					hi = hi * 10 + (unsigned long)(*p++ - '0');
					if (hi > 0xffffffffUL || ++digits > 10)
						return 0;
				}
				if (hi < lo)
					return 0;
			}
		}
		if (*p == '\0')
			return 1;
		if (*p++ != ',')
			return 0;
	}
}
