/* engine_api: the Engine API version negotiation, pure (no I/O, no curl), so the lean
 * daemon's /healthz can judge an engine's /version answer without the engine client. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "engine.h"

/* A version as the API writes it: "1.51" (digits, a dot, digits). */
static int engine_api_valid(const char *v)
{
	size_t n = strspn(v, "0123456789");

	return n > 0 && v[n] == '.' && v[n + 1] && strspn(v + n + 1, "0123456789") == strlen(v + n + 1);
}

static int engine_api_cmp(const char *a, const char *b)
{
	unsigned long amaj = strtoul(a, NULL, 10), bmaj = strtoul(b, NULL, 10), amin = 0, bmin = 0;
	const char *p;

	if ((p = strchr(a, '.')))
		amin = strtoul(p + 1, NULL, 10);
	if ((p = strchr(b, '.')))
		bmin = strtoul(p + 1, NULL, 10);
	if (amaj != bmaj)
		return amaj < bmaj ? -1 : 1;
	return amin < bmin ? -1 : amin > bmin;
}

/* The Engine API's negotiation: the client speaks min(its newest, the engine's
 * ApiVersion), which must not be below the engine's MinAPIVersion (Docker 25+
 * refuses older clients with a 400; Docker 29 by default below 1.44). Ranges that
 * do not overlap fail here, with both, before any call is refused. */
int engine_api_pick(const char *server_api, const char *server_min, char *out, size_t n, struct err *e)
{
	const char *hi;
	int has_min = server_min && *server_min;

	if (!server_api || !engine_api_valid(server_api))
		return err_set(e, "the engine reports no valid API version ('%s')", server_api ? server_api : "");
	if (has_min && !engine_api_valid(server_min))
		return err_set(e, "the engine reports an invalid minimum API version '%s'", server_min);
	hi = engine_api_cmp(server_api, ENGINE_API_MAX) < 0 ? server_api : ENGINE_API_MAX;
	if (engine_api_cmp(hi, ENGINE_API_MIN) < 0 || (has_min && engine_api_cmp(hi, server_min) < 0))
		return err_set(e, "the engine speaks API %s to %s, s2i-agent speaks %s to %s: no version in common "
			       "(%s)", has_min ? server_min : "?", server_api, ENGINE_API_MIN, ENGINE_API_MAX,
			       engine_api_cmp(server_api, ENGINE_API_MIN) < 0 ? "upgrade the engine" :
									       "upgrade s2i-agent");
	snprintf(out, n, "%s", hi);
	return 0;
}

int engine_api_judge(const char *body, size_t len, struct err *e)
{
	json_t *j = json_loadb(body, len, 0, NULL);
	const char *api, *min, *ver;
	char spoken[16];
	int rv = 0;

	if (!json_is_object(j)) {
		json_decref(j);
		return 1;
	}
	api = json_string_value(json_object_get(j, "ApiVersion"));
	min = json_string_value(json_object_get(j, "MinAPIVersion"));
	ver = json_string_value(json_object_get(j, "Version"));
	if (!api)
		rv = 1;
	else if (engine_api_pick(api, min, spoken, sizeof(spoken), e) < 0)
		rv = err_prefix(e, "engine %s", ver ? ver : "(version unknown)");
	json_decref(j);
	return rv;
}

int engine_api_root_dir(const char *body, size_t len, char *out, size_t n, struct err *e)
{
	json_t *j = json_loadb(body, len, 0, NULL);
	const char *dir = json_string_value(json_object_get(j, "DockerRootDir"));
	int rc = -1;

	if (!j)
		err_set(e, "the engine's /info is not JSON");
	else if (!dir || dir[0] != '/')
		err_set(e, "the engine's /info names no data root (DockerRootDir)");
	else if (strlen(dir) >= n)
		err_set(e, "the engine's data root is too long a path");
	else
		rc = 0;
	if (rc == 0)
		memcpy(out, dir, strlen(dir) + 1);
	json_decref(j);
	return rc;
}
