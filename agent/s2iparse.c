/* s2iparse: environment files, uid ranges, image metadata, passwd lookups and SRC:DST
 * mappings, as s2i understands them. Pure functions over memory. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "buf.h"
#include "limits.h"
#include "s2iparse.h"

static const char *skip_blank(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\r'))
		p++;
	return p;
}

static int s2iparse_blank(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\v' || ch == '\f';
}

/* "NAME=VALUE" of the line [p, end) with NAME and VALUE trimmed; NULL without '=' or name. */
static char *s2iparse_env_pair(const char *p, const char *end)
{
	const char *eq = memchr(p, '=', (size_t)(end - p)), *ne, *v, *ve;

	if (!eq)
		return NULL;
	p = skip_blank(p, eq);
	for (ne = eq; ne > p && s2iparse_blank(ne[-1]); ne--)
		;
	if (ne == p)
		return NULL;
	v = skip_blank(eq + 1, end);
	for (ve = end; ve > v && s2iparse_blank(ve[-1]); ve--)
		;
	return xasprintf("%.*s=%.*s", (int)(ne - p), p, (int)(ve - v), v);
}

void s2iparse_env(const char *data, size_t len, enum s2iparse_env_kind kind, struct strv *out)
{
	const char *p = data, *end = data + len;
	size_t first = out->n, i;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end, *q = p;
		char *kv;

		p = nl ? nl + 1 : end;
		if (kind == S2IPARSE_ENV_FILE)
			q = skip_blank(q, le);
		if (q < le && *q == '#')
			continue;
		if (kind == S2IPARSE_ENV_FILE && le - q >= 2 && q[0] == '/' && q[1] == '/')
			continue;
		kv = s2iparse_env_pair(q, le);
		if (!kv)
			continue;
		if (kind == S2IPARSE_ENV_FILE) {
			size_t nl2 = (size_t)(strchr(kv, '=') - kv) + 1;

			for (i = first; i < out->n; i++) {
				if (!strncmp(out->items[i], kv, nl2)) {
					free(out->items[i]);
					out->items[i] = kv;
					kv = NULL;
					break;
				}
			}
			if (!kv)
				continue;
		}
		strv_push_nodup(out, kv);
	}
}

int s2iparse_env_check(const char *kv, struct err *e)
{
	const char *eq = strchr(kv, '=');

	if (!eq || eq == kv)
		return err_set(e, "'%s': expected NAME=VALUE", kv);
	return 0;
}

static int parse_ulong(const char *s, const char *end, unsigned long *ret)
{
	unsigned long v = 0;

	if (s == end)
		return -1;
	for (; s < end; s++) {
		if (!isdigit((unsigned char)*s))
			return -1;
		if (v > (UID_MAX_VALUE - (unsigned long)(*s - '0')) / 10)
			return -1;
		v = v * 10 + (unsigned long)(*s - '0');
	}
	*ret = v;
	return 0;
}

int s2iparse_uids(const char *spec, struct s2iparse_uidrange **ret, size_t *ret_n, struct err *e)
{
	struct s2iparse_uidrange *r = NULL;
	size_t n = 0;
	const char *p = spec;

	if (!*spec)
		return err_set(e, "empty uid range list");
	while (*p) {
		const char *comma = strchr(p, ',');
		const char *end = comma ? comma : p + strlen(p);
		const char *dash = memchr(p, '-', (size_t)(end - p));
		struct s2iparse_uidrange one;

		if (!dash) {
			if (parse_ulong(p, end, &one.from) < 0)
				goto bad;
			one.to = one.from;
		} else {
			one.from = 0;
			one.to = UID_MAX_VALUE;
			if (dash > p && parse_ulong(p, dash, &one.from) < 0)
				goto bad;
			if (dash + 1 < end && parse_ulong(dash + 1, end, &one.to) < 0)
				goto bad;
			if (dash == p && dash + 1 == end)
				goto bad;
			if (one.from > one.to)
				goto bad;
		}
		r = xrealloc(r, (n + 1) * sizeof(*r));
		r[n++] = one;
		p = comma ? comma + 1 : end;
		if (comma && !*p)
			goto bad;
		continue;
bad:
		free(r);
		return err_set(e, "invalid uid range '%.*s' in '%s' (expected N, N-M, N- or -M)",
			       (int)(end - p), p, spec);
	}
	*ret = r;
	*ret_n = n;
	return 0;
}

int s2iparse_user_allowed(const struct s2iparse_uidrange *r, size_t n, const char *user,
			  const char *what, struct err *e)
{
	const char *colon = strchr(user, ':');
	const char *end = colon ? colon : user + strlen(user);
	unsigned long uid;
	size_t i;

	if (end == user)
		uid = 0;	/* no USER: root */
	else if (parse_ulong(user, end, &uid) < 0)
		return err_set(e, "%s '%s' is not a numeric uid, which --allowed-uids requires", what, user);
	for (i = 0; i < n; i++)
		if (uid >= r[i].from && uid <= r[i].to)
			return 0;
	return err_set(e, "%s '%s' (uid %lu) is not in the allowed uid ranges", what,
		       end == user ? "root" : user, uid);
}

int s2iparse_metadata_labels(const char *json, size_t len, struct strv *out, struct err *e)
{
	json_error_t jerr;
	json_t *root, *labels, *item, *v;
	const char *k;
	size_t i;
	int rc = -1;

	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return err_set(e, "image_metadata.json: line %d: %s", jerr.line, jerr.text);
	if (!json_is_object(root)) {
		err_set(e, "image_metadata.json: not a JSON object");
		goto out;
	}
	labels = json_object_get(root, "labels");
	if (!labels) {
		rc = 0;
		goto out;
	}
	if (!json_is_array(labels)) {
		err_set(e, "image_metadata.json: \"labels\" is not an array");
		goto out;
	}
	json_array_foreach(labels, i, item) {
		if (!json_is_object(item)) {
			err_set(e, "image_metadata.json: labels[%zu] is not an object", i);
			goto out;
		}
		json_object_foreach(item, k, v) {
			if (!json_is_string(v)) {
				err_set(e, "image_metadata.json: label '%s' is not a string", k);
				goto out;
			}
			if (!*k || strchr(k, '=')) {
				err_set(e, "image_metadata.json: invalid label name '%s'", k);
				goto out;
			}
			strv_pushf(out, "%s=%s", k, json_string_value(v));
		}
	}
	rc = 0;
out:
	json_decref(root);
	return rc;
}

int s2iparse_mapping(const char *s, char **ret_src, char **ret_dst, struct err *e)
{
	const char *colon = strrchr(s, ':');

	if (*s && !colon) {
		/* s2i: no destination means the working directory */
		*ret_src = xstrdup(s);
		*ret_dst = xstrdup(".");
		return 0;
	}
	if (!colon || colon == s || !colon[1])
		return err_set(e, "'%s': expected SRC:DST", s);
	*ret_src = xstrndup(s, (size_t)(colon - s));
	*ret_dst = xstrdup(colon + 1);
	return 0;
}

int s2iparse_input_files(const char *label, struct strv *out, struct err *e)
{
	const char *p = label;

	while (*p) {
		const char *semi = strchr(p, ';');
		size_t n = semi ? (size_t)(semi - p) : strlen(p);
		char *one = xstrndup(p, n), *src, *dst;

		if (s2iparse_mapping(one, &src, &dst, e) < 0) {
			free(one);
			return err_prefix(e, "label io.openshift.s2i.assemble-input-files");
		}
		free(src);
		free(dst);
		strv_push_nodup(out, one);
		p = semi ? semi + 1 : p + n;
	}
	return 0;
}

int s2iparse_runtime_artifact_check(const char *src, const char *dst, struct err *e)
{
	if (src[0] != '/')
		return err_set(e, "invalid runtime artifact mapping '%s:%s': source must be an absolute path",
			       src, dst);
	if (dst[0] == '/')
		return err_set(e, "invalid runtime artifact mapping '%s:%s': destination must be a relative path",
			       src, dst);
	if (!strncmp(dst, "..", 2))
		return err_set(e, "invalid runtime artifact mapping '%s:%s': destination cannot start with '..'",
			       src, dst);
	return 0;
}

/* Finds the line of a passwd/group file whose field 0 (by name) or field 2 (by id)
 * matches; fills fields[] with pointers into a copy the caller frees. */
static char *db_find(const char *db, const char *name, int by_id, char **fields, int nfields)
{
	const char *p = db;

	while (p && *p) {
		const char *nl = strchr(p, '\n');
		char *line = nl ? xstrndup(p, (size_t)(nl - p)) : xstrdup(p);
		char *s = line;
		int i;

		for (i = 0; i < nfields; i++) {
			fields[i] = s;
			s = s ? strchr(s, ':') : NULL;
			if (s)
				*s++ = '\0';
		}
		if (fields[0] && fields[2] && !strcmp(by_id ? fields[2] : fields[0], name))
			return line;
		free(line);
		p = nl ? nl + 1 : NULL;
	}
	return NULL;
}

int s2iparse_user_ids(const char *user, const char *passwd, const char *group, long *ret_uid,
		      long *ret_gid, struct err *e)
{
	char *u = xstrdup(user), *g = strchr(u, ':'), *fields[7], *line;
	long uid = 0, gid = 0;
	int rc = -1;

	if (g)
		*g++ = '\0';
	if (!*u) {
		uid = 0;
	} else if (str_is_digits(u)) {
		uid = strtol(u, NULL, 10);
		gid = 0;
		if (passwd && (line = db_find(passwd, u, 1, fields, 7))) {
			if (fields[3] && str_is_digits(fields[3]))
				gid = strtol(fields[3], NULL, 10);
			free(line);
		}
	} else {
		if (!passwd || !(line = db_find(passwd, u, 0, fields, 7))) {
			err_set(e, "user '%s' not found in the image's /etc/passwd", u);
			goto out;
		}
		if (!fields[3] || !str_is_digits(fields[2]) || !str_is_digits(fields[3])) {
			free(line);
			err_set(e, "user '%s': malformed /etc/passwd entry", u);
			goto out;
		}
		uid = strtol(fields[2], NULL, 10);
		gid = strtol(fields[3], NULL, 10);
		free(line);
	}
	if (g && *g) {
		if (str_is_digits(g)) {
			gid = strtol(g, NULL, 10);
		} else {
			if (!group || !(line = db_find(group, g, 0, fields, 4))) {
				err_set(e, "group '%s' not found in the image's /etc/group", g);
				goto out;
			}
			if (!fields[2] || !str_is_digits(fields[2])) {
				free(line);
				err_set(e, "group '%s': malformed /etc/group entry", g);
				goto out;
			}
			gid = strtol(fields[2], NULL, 10);
			free(line);
		}
	}
	*ret_uid = uid;
	*ret_gid = gid;
	rc = 0;
out:
	free(u);
	return rc;
}

int s2iparse_scripts_url(const char *url, enum s2iparse_url_kind *ret_kind, char **ret_where,
			 struct err *e)
{
	size_t n;

	if (!strncmp(url, "image://", 8) || !strncmp(url, "file://", 7)) {
		const char *p = url + (url[0] == 'i' ? 8 : 7);

		if (p[0] != '/')
			return err_set(e, "scripts URL '%s': the path must be absolute", url);
		*ret_kind = url[0] == 'i' ? S2IPARSE_URL_IMAGE : S2IPARSE_URL_FILE;
		n = strlen(p);
		while (n > 1 && p[n - 1] == '/')
			n--;
		*ret_where = xstrndup(p, n);
		return 0;
	}
	if (!strncmp(url, "http://", 7) || !strncmp(url, "https://", 8)) {
		*ret_kind = S2IPARSE_URL_HTTP;
		n = strlen(url);
		while (n > 0 && url[n - 1] == '/')
			n--;
		*ret_where = xstrndup(url, n);
		return 0;
	}
	if (url[0] == '/') {
		*ret_kind = S2IPARSE_URL_FILE;
		*ret_where = xstrdup(url);
		return 0;
	}
	return err_set(e, "scripts URL '%s': expected image://, file://, http:// or https://", url);
}

/* One path component of a repository name: [a-z0-9]+ joined by '.', '_', '__' or '-'s. */
static int s2iparse_name_component(const char *p, size_t n)
{
	size_t i;

	if (!n || (!islower((unsigned char)p[0]) && !isdigit((unsigned char)p[0])))
		return 0;
	if (!islower((unsigned char)p[n - 1]) && !isdigit((unsigned char)p[n - 1]))
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)p[i];

		if (islower(ch) || isdigit(ch))
			continue;
		if (ch != '.' && ch != '_' && ch != '-')
			return 0;
		/* separators: '.', '_', '__' or any run of '-' */
		if (ch == '.' && (p[i + 1] == '.' || p[i + 1] == '_' || p[i + 1] == '-'))
			return 0;
		if (ch == '_' && p[i + 1] == '_' && (p[i + 2] == '_' || p[i + 2] == '.' || p[i + 2] == '-'))
			return 0;
	}
	return 1;
}

static int s2iparse_tag_ok(const char *t, size_t n)
{
	size_t i;

	if (!n || n > 128 || !(isalnum((unsigned char)t[0]) || t[0] == '_'))
		return 0;
	for (i = 1; i < n; i++)
		if (!isalnum((unsigned char)t[i]) && t[i] != '_' && t[i] != '.' && t[i] != '-')
			return 0;
	return 1;
}

char *s2iparse_image_name(const char *ref)
{
	const char *at = strchr(ref, '@'), *end = at ? at : ref + strlen(ref);
	const char *slash = memchr(ref, '/', (size_t)(end - ref)), *colon, *p, *path;
	const char *tag = NULL, *domain = "docker.io";
	size_t dlen = strlen(domain), plen, tlen = 0, i;
	int library;

	if (!*ref || strstr(ref, "://"))
		return xstrdup(ref);
	/* a bare 64-hex name is an image id, not a repository */
	for (i = 0; ref[i] && isxdigit((unsigned char)ref[i]) && !isupper((unsigned char)ref[i]); i++)
		;
	if (i == 64 && !ref[i])
		return xstrdup(ref);
	/* a domain is a first component with '.' or ':', or "localhost"; the rest is the path */
	path = ref;
	if (slash && (memchr(ref, '.', (size_t)(slash - ref)) || memchr(ref, ':', (size_t)(slash - ref)) ||
		      ((size_t)(slash - ref) == 9 && !strncmp(ref, "localhost", 9)))) {
		domain = ref;
		dlen = (size_t)(slash - ref);
		path = slash + 1;
		for (i = 0; i < dlen; i++)
			if (isupper((unsigned char)ref[i]) || isspace((unsigned char)ref[i]))
				return xstrdup(ref);
	}
	/* a tag is after the last ':' of the path */
	colon = NULL;
	for (p = path; p < end; p++)
		if (*p == ':')
			colon = p;
	if (colon) {
		tag = colon + 1;
		tlen = (size_t)(end - tag);
		plen = (size_t)(colon - path);
		if (!s2iparse_tag_ok(tag, tlen))
			return xstrdup(ref);
	} else {
		plen = (size_t)(end - path);
	}
	if (at && tag)
		return xstrdup(ref);	/* docker:// refuses a tag and a digest together */
	if (at && strncmp(at + 1, "sha256:", 7))
		return xstrdup(ref);
	for (p = path; p < path + plen;) {
		const char *q = memchr(p, '/', (size_t)(path + plen - p));
		size_t n = q ? (size_t)(q - p) : (size_t)(path + plen - p);

		if (!s2iparse_name_component(p, n))
			return xstrdup(ref);
		p += n + (q ? 1 : 0);
		if (q && p == path + plen)
			return xstrdup(ref);
	}
	if (!plen)
		return xstrdup(ref);
	if (dlen == 15 && !strncmp(domain, "index.docker.io", 15)) {
		domain = "docker.io";
		dlen = 9;
	}
	library = dlen == 9 && !strncmp(domain, "docker.io", 9) && !memchr(path, '/', plen);
	if (at)
		return xasprintf("%.*s/%s%.*s%s", (int)dlen, domain, library ? "library/" : "", (int)plen,
				 path, at);
	return xasprintf("%.*s/%s%.*s:%.*s", (int)dlen, domain, library ? "library/" : "", (int)plen, path,
			 tag ? (int)tlen : 6, tag ? tag : "latest");
}

int s2iparse_secret_name_ok(const char *v, size_t n)
{
	size_t i;

	if (!n || n > S2I_SECRET_NAME_MAX || v[0] == '.')
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)v[i]) && v[i] != '_' && v[i] != '-' && v[i] != '.')
			return 0;
	return 1;
}
