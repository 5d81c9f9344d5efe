/* forge: commit statuses on GitHub, GitLab and Gitea/Forgejo as their REST APIs
 * document them; request building is pure. forge_post() (the only I/O) and
 * forge_parse_retry_after() live in forge_post.c, the part that needs libcurl,
 * so the daemon, which only builds requests, does not link it. */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "buf.h"
#include "forge.h"
#include "limits.h"

/* ---- small string helpers ---- */

static int is_hex_sha(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	return (n == 40 || n == 64) && str_is_hex(s, n);
}

static int is_name_char(char c)
{
	return isalnum((unsigned char)c) || c == '.' || c == '_' || c == '-';
}

/* One path segment of an owner/name: [A-Za-z0-9._-]+, not "." or "..". */
static int seg_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
		return 0;
	for (i = 0; i < n; i++)
		if (!is_name_char(s[i]))
			return 0;
	return 1;
}

/* Checks a "/"-separated path of at least min_segs and at most max_segs
 * valid segments (max_segs 0: no upper bound). */
static int path_ok(const char *p, size_t min_segs, size_t max_segs)
{
	size_t segs = 0;
	const char *s = p, *slash;

	for (;;) {
		slash = strchr(s, '/');
		if (!seg_ok(s, slash ? (size_t)(slash - s) : strlen(s)))
			return 0;
		segs++;
		if (!slash)
			break;
		s = slash + 1;
	}
	return segs >= min_segs && (!max_segs || segs <= max_segs);
}

static char *strip_trailing_slashes(char *s)
{
	size_t n = strlen(s);

	while (n > 0 && s[n - 1] == '/')
		s[--n] = '\0';
	return s;
}

char *forge_urlencode(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	struct buf b = BUF_INIT(SIZE_MAX);
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p; p++) {
		if (isalnum(*p) || *p == '-' || *p == '.' || *p == '_' || *p == '~') {
			buf_addch(&b, (char)*p);
		} else {
			buf_addch(&b, '%');
			buf_addch(&b, hex[*p >> 4]);
			buf_addch(&b, hex[*p & 15]);
		}
	}
	return buf_detach(&b, NULL);
}

/* ---- UTF-8 descriptions ---- */

/* Length of the valid UTF-8 sequence at s (1-4), or 0 when it is invalid
 * (overlong, surrogate, above U+10FFFF, truncated). *cp gets the code point. */
static size_t utf8_decode(const unsigned char *s, uint32_t *cp)
{
	uint32_t c;
	size_t n, i;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		c = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		c = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		c = s[0] & 0x07;
	} else {
		return 0;
	}
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && c < 0x800) || (n == 4 && c < 0x10000) || c > 0x10ffff ||
	    (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

char *forge_description(const char *s)
{
	struct buf b = BUF_INIT(SIZE_MAX);
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t *starts = NULL, nchars = 0, alloc = 0, n;
	uint32_t cp;
	char *out;

	while (*p == ' ' || (*p >= '\t' && *p <= '\r'))
		p++;
	while (*p) {
		if (nchars == alloc) {
			alloc = alloc ? alloc * 2 : 64;
			starts = xrealloc(starts, alloc * sizeof(*starts));
		}
		starts[nchars++] = b.len;
		n = utf8_decode(p, &cp);
		if (n == 0) {
			buf_addstr(&b, "\xef\xbf\xbd");	/* U+FFFD */
			p++;
		} else if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0)) {
			buf_addch(&b, ' ');
			p += n;
		} else {
			buf_add(&b, p, n);
			p += n;
		}
	}
	if (nchars > STATUS_DESCRIPTION_MAX) {
		b.len = starts[STATUS_DESCRIPTION_MAX - 1];
		b.data[b.len] = '\0';
	}
	/* no trailing blanks, also not before the ellipsis */
	while (b.len > 0 && b.data[b.len - 1] == ' ')
		b.data[--b.len] = '\0';
	if (nchars > STATUS_DESCRIPTION_MAX)
		buf_addstr(&b, "\xe2\x80\xa6");	/* U+2026 */
	free(starts);
	out = buf_detach(&b, NULL);
	return out;
}

/* ---- states ---- */

const char *forge_state(enum status_kind kind, const char *st)
{
	static const char *const build[] = { "queued", "running", "succeeded", "failed", "errored", "canceled" };
	static const char *const hub[] = { "pending", "pending", "success", "failure", "error", "error" };
	static const char *const lab[] = { "pending", "running", "success", "failed", "failed", "canceled" };
	size_t i;

	if (!st)
		return NULL;
	for (i = 0; i < sizeof(build) / sizeof(build[0]); i++) {
		if (strcmp(st, build[i]))
			continue;
		switch (kind) {
		case STATUS_GITHUB:
		case STATUS_GITEA:
			return hub[i];
		case STATUS_GITLAB:
			return lab[i];
		case STATUS_NONE:
			return NULL;
		}
	}
	return NULL;
}

/* Is w one of the states the forge's API takes? */
static int forge_word(enum status_kind kind, const char *w)
{
	static const char *const hub[] = { "pending", "success", "failure", "error", NULL };
	static const char *const tea[] = { "pending", "success", "failure", "error", "warning", NULL };
	static const char *const lab[] = { "pending", "running", "success", "failed", "canceled", NULL };
	const char *const *set = kind == STATUS_GITHUB ? hub : kind == STATUS_GITEA ? tea :
				 kind == STATUS_GITLAB ? lab : NULL;

	for (; w && set && *set; set++)
		if (!strcmp(w, *set))
			return 1;
	return 0;
}

static const char *kind_name(enum status_kind k)
{
	switch (k) {
	case STATUS_GITHUB: return "github";
	case STATUS_GITLAB: return "gitlab";
	case STATUS_GITEA: return "gitea";
	case STATUS_NONE: break;
	}
	return "none";
}

/* ---- repository URLs ---- */

int forge_parse_url(const char *url, char **ret_base, char **ret_host, char **ret_path,
		    struct err *e)
{
	const char *auth, *path, *at, *host, *hend, *colon;
	char *base = NULL, *h = NULL, *p = NULL;
	int web = 0;
	size_t n;

	if (!url || !*url)
		return err_set(e, "no repository url");
	if (!strncmp(url, "https://", 8) || !strncmp(url, "http://", 7)) {
		web = 1;
		auth = strstr(url, "://") + 3;
	} else if (!strncmp(url, "ssh://", 6) || !strncmp(url, "git+ssh://", 10) ||
		   !strncmp(url, "ssh+git://", 10) || !strncmp(url, "git://", 6)) {
		auth = strstr(url, "://") + 3;
	} else if (strstr(url, "://") || url[0] == '/' || url[0] == '.' || url[0] == '~') {
		return err_set(e, "cannot tell the forge from a local or file:// url");
	} else {
		/* scp-like [user@]host:path; a ':' after a '/' makes it a local path */
		colon = strchr(url, ':');
		if (!colon || (strchr(url, '/') && strchr(url, '/') < colon))
			return err_set(e, "cannot tell the forge from a local path");
		auth = url;
		path = colon + 1;
		at = memchr(auth, '@', (size_t)(colon - auth));
		host = at ? at + 1 : auth;
		if (host == colon)
			return err_set(e, "no host in scp-like url");
		h = xstrndup(host, (size_t)(colon - host));
		base = xasprintf("https://%s", h);
		goto have_path;
	}
	path = strchr(auth, '/');
	if (!path)
		path = auth + strlen(auth);
	/* userinfo may hold a token: skip it, never copy it */
	at = NULL;
	for (host = auth; host < path; host++)
		if (*host == '@')
			at = host;
	host = at ? at + 1 : auth;
	if (host == path)
		return err_set(e, "no host in url");
	if (*host == '[') {
		hend = memchr(host, ']', (size_t)(path - host));
		if (!hend)
			return err_set(e, "bad IPv6 host in url");
		hend++;
	} else {
		hend = memchr(host, ':', (size_t)(path - host));
		if (!hend)
			hend = path;
	}
	h = xstrndup(host, (size_t)(hend - host));
	if (web)
		base = xasprintf("%.*s://%.*s", (int)(strstr(url, "://") - url), url,
				 (int)(path - host), host);
	else
		base = xasprintf("https://%s", h);
have_path:
	while (*path == '/')
		path++;
	p = xstrdup(path);
	strip_trailing_slashes(p);
	n = strlen(p);
	if (n > 4 && !strcmp(p + n - 4, ".git"))
		p[n - 4] = '\0';
	strip_trailing_slashes(p);
	if (!*p) {
		free(base);
		free(h);
		free(p);
		return err_set(e, "no repository path in url");
	}
	*ret_base = base;
	*ret_host = h;
	*ret_path = p;
	return 0;
}

/* ---- building the request ---- */

static int token_ok(const char *t)
{
	if (!t || !*t)
		return 0;
	for (; *t; t++)
		if ((unsigned char)*t <= 0x20 || (unsigned char)*t == 0x7f)
			return 0;
	return 1;
}

static char *default_description(const struct forge_build *b)
{
	return xasprintf("build #%lld %s", b->id, b->state);
}

static char *short_ref(const char *ref)
{
	if (!strncmp(ref, "refs/heads/", 11))
		return xstrdup(ref + 11);
	if (!strncmp(ref, "refs/tags/", 10))
		return xstrdup(ref + 10);
	return xstrdup(ref);
}

/* The API base: status_api, else the documented default for the url's host. */
static int api_base(const struct repo_conf *rc, const char *base, const char *host,
		    char **ret, struct err *e)
{
	if (rc->status_api && *rc->status_api) {
		*ret = strip_trailing_slashes(xstrdup(rc->status_api));
		return 0;
	}
	switch (rc->status) {
	case STATUS_GITHUB:
		if (!host || !strcasecmp(host, "github.com") || !strcasecmp(host, "www.github.com"))
			*ret = xstrdup(STATUS_GITHUB_API);
		else
			*ret = xasprintf("%s/api/v3", base);	/* GitHub Enterprise Server */
		return 0;
	case STATUS_GITLAB:
	case STATUS_GITEA:
		if (!base)
			return err_set(e, "no status_api and none can be derived from the repository url");
		*ret = xasprintf("%s/api/%s", base, rc->status == STATUS_GITLAB ? "v4" : "v1");
		return 0;
	case STATUS_NONE:
		break;
	}
	return err_set(e, "status reporting is off");
}

static int body_set_str(json_t *o, const char *k, const char *v)
{
	json_t *s = json_string(v);

	if (!s || json_object_set_new(o, k, s) < 0)
		return -1;
	return 0;
}

int forge_request_build(const struct repo_conf *rc, const struct forge_build *b,
			const char *public_url, const char *payload_repo,
			struct forge_request *ret, struct err *e)
{
	struct forge_request r = FORGE_REQUEST_INIT;
	char *ubase = NULL, *uhost = NULL, *upath = NULL, *api = NULL, *desc = NULL;
	char *target = NULL, *repo = NULL, *enc = NULL, *sha = NULL, *ref = NULL, *pub = NULL;
	const char *st, *ctx, *name = rc->name ? rc->name : "?";
	struct err ue = ERR_INIT;
	json_t *body = NULL;
	int rv = -1;
	size_t i;

	if (rc->status == STATUS_NONE) {
		err_set(e, "repo '%s': status reporting is off", name);
		goto out;
	}
	st = forge_state(rc->status, b->state);
	if (!st && forge_word(rc->status, b->state))
		st = b->state;
	if (!st) {
		err_set(e, "repo '%s': unknown build state '%s'", name, b->state ? b->state : "");
		goto out;
	}
	if (!is_hex_sha(b->sha)) {
		err_set(e, "repo '%s': '%s' is not a commit id", name, b->sha ? b->sha : "");
		goto out;
	}
	if (!token_ok(rc->status_token)) {
		err_set(e, "repo '%s': %s", name, rc->status_token && *rc->status_token ?
			"the status token holds blanks or control characters" :
			"no status token (status_token_file)");
		goto out;
	}
	/* a local or file:// url is fine as long as status_api/status_repo say it all */
	if (forge_parse_url(rc->url, &ubase, &uhost, &upath, &ue) < 0)
		ubase = uhost = upath = NULL;

	if (rc->status_repo && *rc->status_repo)
		repo = xstrdup(rc->status_repo);
	else if (payload_repo && *payload_repo)
		repo = xstrdup(payload_repo);
	else if (upath)
		repo = xstrdup(upath);
	else {
		err_set(e, "repo '%s': no status_repo, none in the webhook, and none from url: %s",
			name, ue.msg);
		goto out;
	}
	strip_trailing_slashes(repo);
	if (rc->status == STATUS_GITLAB) {
		if (!str_is_digits(repo) && !path_ok(repo, 2, 0)) {
			err_set(e, "repo '%s': '%s' is not a GitLab project id or path", name, repo);
			goto out;
		}
		enc = forge_urlencode(repo);
	} else {
		if (!path_ok(repo, 2, 2)) {
			err_set(e, "repo '%s': '%s' is not owner/name", name, repo);
			goto out;
		}
		enc = xstrdup(repo);
	}
	if (api_base(rc, ubase, uhost, &api, e) < 0) {
		err_prefix(e, "repo '%s'", name);
		goto out;
	}
	sha = xstrdup(b->sha);
	for (i = 0; sha[i]; i++)
		sha[i] = (char)tolower((unsigned char)sha[i]);

	if (b->description && *b->description) {
		desc = forge_description(b->description);
	} else {
		char *d = default_description(b);

		desc = forge_description(d);
		free(d);
	}
	if (public_url && *public_url) {
		pub = strip_trailing_slashes(xstrdup(public_url));
		target = xasprintf("%s/builds/%lld", pub, b->id);
	}
	ctx = rc->status_context && *rc->status_context ? rc->status_context : STATUS_DEFAULT_CONTEXT;

	body = json_object();
	if (body_set_str(body, "state", st) < 0)
		goto bad_body;
	if (rc->status == STATUS_GITLAB && b->ref && *b->ref) {
		ref = short_ref(b->ref);
		if (body_set_str(body, "ref", ref) < 0)
			goto bad_body;
	}
	if (target && body_set_str(body, "target_url", target) < 0)
		goto bad_body;
	if (body_set_str(body, "description", desc) < 0)
		goto bad_body;
	if (body_set_str(body, rc->status == STATUS_GITLAB ? "name" : "context", ctx) < 0)
		goto bad_body;
	r.body = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (!r.body)
		goto bad_body;

	r.kind = rc->status;
	r.state = xstrdup(st);
	r.repo = xstrdup(repo);
	r.token = xstrdup(rc->status_token);
	r.timeout = STATUS_TIMEOUT;
	r.connect_timeout = STATUS_CONNECT_TIMEOUT;
	switch (rc->status) {
	case STATUS_GITHUB:
		r.url = xasprintf("%s/repos/%s/statuses/%s", api, enc, sha);
		r.list_url = xasprintf("%s/repos/%s/commits/%s/statuses?per_page=100", api, enc, sha);
		strv_push(&r.headers, "Accept: application/vnd.github+json");
		strv_pushf(&r.headers, "Authorization: Bearer %s", rc->status_token);
		strv_push(&r.headers, "X-GitHub-Api-Version: 2022-11-28");
		break;
	case STATUS_GITLAB:
		r.url = xasprintf("%s/projects/%s/statuses/%s", api, enc, sha);
		r.list_url = xasprintf("%s/projects/%s/repository/commits/%s/statuses"
				       "?all=true&per_page=100", api, enc, sha);
		strv_push(&r.headers, "Accept: application/json");
		strv_pushf(&r.headers, "PRIVATE-TOKEN: %s", rc->status_token);
		break;
	case STATUS_GITEA:
		r.url = xasprintf("%s/repos/%s/statuses/%s", api, enc, sha);
		r.list_url = xasprintf("%s/repos/%s/commits/%s/statuses?limit=50", api, enc, sha);
		strv_push(&r.headers, "Accept: application/json");
		strv_pushf(&r.headers, "Authorization: token %s", rc->status_token);
		break;
	case STATUS_NONE:
		break;
	}
	strv_push(&r.headers, "User-Agent: s2i-agent/" S2I_AGENT_VERSION);
	strv_push(&r.headers, "Content-Type: application/json");
	*ret = r;
	memset(&r, 0, sizeof(r));
	rv = 0;
	goto out;
bad_body:
	err_set(e, "repo '%s': cannot encode the %s status body (invalid UTF-8 in status_context?)",
		name, kind_name(rc->status));
out:
	if (rv < 0)
		forge_request_release(&r);
	json_decref(body);
	free(ubase);
	free(uhost);
	free(upath);
	free(api);
	free(desc);
	free(target);
	free(repo);
	free(enc);
	free(sha);
	free(ref);
	free(pub);
	return rv;
}

void forge_request_release(struct forge_request *r)
{
	if (!r)
		return;
	free(r->url);
	free(r->list_url);
	if (r->headers.items)
		strv_clear(&r->headers);
	free(r->body);		/* from jansson: its default allocator is malloc */
	free(r->state);
	free(r->repo);
	if (r->token)
		memset(r->token, 0, strlen(r->token));
	free(r->token);
	*r = (struct forge_request)FORGE_REQUEST_INIT;
}

const char *forge_payload_repo(enum status_kind kind, const char *full_name, const char *project_id)
{
	if (kind == STATUS_GITLAB && project_id && str_is_digits(project_id))
		return project_id;
	return full_name && *full_name ? full_name : NULL;
}

char *forge_request_summary(const struct forge_request *r)
{
	return xasprintf("POST %s (%s)", r->url ? r->url : "?", r->state ? r->state : "?");
}

/* ---- answers ---- */

long forge_backoff(unsigned attempt, long retry_after, unsigned long rnd)
{
	long d = STATUS_RETRY_MIN, j;
	unsigned i;

	if (attempt == 0)
		attempt = 1;
	for (i = 1; i < attempt && d < STATUS_RETRY_MAX; i++)
		d *= 2;
	if (d > STATUS_RETRY_MAX)
		d = STATUS_RETRY_MAX;
	j = d / 2 + (long)(rnd % (unsigned long)(d - d / 2 + 1));
	if (retry_after > STATUS_RETRY_MAX)
		retry_after = STATUS_RETRY_MAX;
	return retry_after > j ? retry_after : j;
}
