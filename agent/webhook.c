/* webhook: tells the forges apart, checks their signatures and reads push
 * events into a struct webhook_event. Pure functions over a request: no I/O. */
#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "buf.h"
#include "codec.h"
#include "digest.h"
#include "jprune.h"
#include "webhook.h"

#define SHA_HEX_LEN	40
#define SHA256_HEX_LEN	64
static const char zero_sha[] = "0000000000000000000000000000000000000000";

const char *webhook_provider_name(enum provider p)
{
	switch (p) {
	case PROVIDER_GITHUB:
		return "github";
	case PROVIDER_GITLAB:
		return "gitlab";
	case PROVIDER_GITEA:
		return "gitea";
	case PROVIDER_GENERIC:
		break;
	}
	return "generic";
}

static const char *webhook_header(const struct webhook_request *r, const char *name)
{
	const char *v;

	if (!r->header)
		return NULL;
	v = r->header(r->header_ctx, name);
	return v;
}

/* Gitea and Forgejo also send X-GitHub-Event (and X-Gogs-Event) for
 * compatibility, so their own headers are looked at first. */
enum provider webhook_provider(const struct webhook_request *r)
{
	if (webhook_header(r, "X-Gitea-Event") || webhook_header(r, "X-Forgejo-Event") ||
	    webhook_header(r, "X-Gogs-Event"))
		return PROVIDER_GITEA;
	if (webhook_header(r, "X-Gitlab-Event"))
		return PROVIDER_GITLAB;
	if (webhook_header(r, "X-GitHub-Event"))
		return PROVIDER_GITHUB;
	return PROVIDER_GENERIC;
}

void webhook_build_proof(const char *secret, long long id, char out[2 * DIGEST_SHA256_LEN + 1])
{
	unsigned char mac[DIGEST_SHA256_LEN];
	char what[64];
	int n = snprintf(what, sizeof(what), "s2i-agent read build %lld", id);

	digest_hmac_sha256(secret, strlen(secret), what, (size_t)n, mac);
	codec_hex_encode(mac, sizeof(mac), out);
}

int webhook_signed(const struct webhook_request *r, enum provider p)
{
	if (p == PROVIDER_GITLAB)
		return webhook_header(r, "X-Gitlab-Token") || webhook_header(r, "webhook-signature");
	if (webhook_header(r, "X-Hub-Signature-256"))
		return 1;
	return p == PROVIDER_GITEA &&
	       (webhook_header(r, "X-Gitea-Signature") || webhook_header(r, "X-Forgejo-Signature") ||
		webhook_header(r, "X-Gogs-Signature"));
}

static int webhook_is_form(const struct webhook_request *r)
{
	static const char form[] = "application/x-www-form-urlencoded";
	const char *ct = webhook_header(r, "Content-Type");

	while (ct && (*ct == ' ' || *ct == '\t'))
		ct++;
	return ct && strncasecmp(ct, form, sizeof(form) - 1) == 0 &&
	       (ct[sizeof(form) - 1] == '\0' || ct[sizeof(form) - 1] == ';' ||
		ct[sizeof(form) - 1] == ' ');
}

static int webhook_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Extracts the url-decoded `payload` field of a form body into out. */
static int webhook_form_payload(const char *body, size_t len, struct buf *out, struct err *e)
{
	const char *p = body, *end = body + len;

	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *fend = amp ? amp : end;

		if ((size_t)(fend - p) >= 8 && memcmp(p, "payload=", 8) == 0) {
			const char *q;

			buf_reset(out);
			for (q = p + 8; q < fend; q++) {
				int c = (unsigned char)*q;

				if (c == '+') {
					c = ' ';
				} else if (c == '%') {
					int hi, lo;

					if (fend - q < 3 || (hi = webhook_hexval(q[1])) < 0 ||
					    (lo = webhook_hexval(q[2])) < 0)
						return err_set(e, "form body: bad percent-encoding in 'payload'");
					c = hi << 4 | lo;
					q += 2;
				}
				if (buf_addch(out, (char)c) < 0)
					return err_set(e, "form body: 'payload' too large");
			}
			return 0;
		}
		if (!amp)
			break;
		p = amp + 1;
	}
	return err_set(e, "form body without a 'payload' field");
}

/* Signature schemes that are an HMAC-SHA256 in hex of data under each secret.
 * Returns 0 (match), 401 (no match) or 400 (hex malformed). */
static int webhook_check_hex(const char *hex, const char *what, const void *data, size_t len,
			     char *const *secrets, size_t nsecrets, struct err *e)
{
	unsigned char want[DIGEST_SHA256_LEN], got[DIGEST_SHA256_LEN];
	size_t n = 0, i;
	int match = 0;

	if (strlen(hex) != 2 * DIGEST_SHA256_LEN ||
	    codec_hex_decode(hex, 2 * DIGEST_SHA256_LEN, want, sizeof(want), &n) < 0) {
		err_set(e, "malformed %s header: expected 64 hex digits", what);
		return 400;
	}
	for (i = 0; i < nsecrets; i++) {
		if (!secrets[i])
			continue;
		digest_hmac_sha256(secrets[i], strlen(secrets[i]), data, len, got);
		match |= digest_equal(want, got, sizeof(got));
	}
	if (match)
		return 0;
	err_set(e, "%s does not match the repo's secret", what);
	return 401;
}

/* GitLab's signing token (the Standard Webhooks scheme): the signature covers
 * "id.timestamp.body", keyed by the base64 after "whsec_". */
static int webhook_check_standard(const struct webhook_request *r, const char *sigs,
				  char *const *secrets, size_t nsecrets, unsigned char *ret_digest,
				  struct err *e)
{
	const char *id = webhook_header(r, "webhook-id");
	const char *ts = webhook_header(r, "webhook-timestamp");
	unsigned char keys[SECRETS_PER_REPO][SECRET_FILE_MAX];
	size_t keylen[SECRETS_PER_REPO], nkeys = 0, i;
	unsigned char macs[SECRETS_PER_REPO][DIGEST_SHA256_LEN];
	const void *parts[5];
	size_t lens[5];
	const char *p;
	long long t = 0;
	int match = 0, seen = 0, ret = 401;

	if (!id || !ts) {
		err_set(e, "webhook-signature without webhook-id and webhook-timestamp");
		return 400;
	}
	if (!*id || strlen(id) > DELIVERY_ID_MAX) {
		err_set(e, "malformed webhook-id header");
		return 400;
	}
	if (!*ts || strlen(ts) > 12) {
		err_set(e, "malformed webhook-timestamp header");
		return 400;
	}
	for (p = ts; *p; p++) {
		if (*p < '0' || *p > '9') {
			err_set(e, "malformed webhook-timestamp header");
			return 400;
		}
		t = t * 10 + (*p - '0');
	}
	if (t < (long long)r->now - WEBHOOK_TIMESTAMP_SKEW ||
	    t > (long long)r->now + WEBHOOK_TIMESTAMP_SKEW) {
		err_set(e, "webhook-timestamp is more than %d seconds away from now", WEBHOOK_TIMESTAMP_SKEW);
		return 401;
	}
	for (i = 0; i < nsecrets && nkeys < SECRETS_PER_REPO; i++) {
		const char *s = secrets[i];

		if (!s)
			continue;
		if (strncmp(s, "whsec_", 6) == 0)
			s += 6;
		if (codec_base64_decode(s, strlen(s), keys[nkeys], sizeof(keys[nkeys]), &keylen[nkeys]) < 0)
			continue;	/* a plain X-Gitlab-Token secret: cannot sign */
		parts[0] = id;
		lens[0] = strlen(id);
		parts[1] = ".";
		lens[1] = 1;
		parts[2] = ts;
		lens[2] = strlen(ts);
		parts[3] = ".";
		lens[3] = 1;
		parts[4] = r->body;
		lens[4] = r->body_len;
		digest_hmac_sha256v(keys[nkeys], keylen[nkeys], parts, lens, 5, macs[nkeys]);
		nkeys++;
	}
	/* space-separated "v1,<base64>" entries; other versions are skipped */
	p = sigs;
	while (*p) {
		const char *end;
		unsigned char sig[DIGEST_SHA256_LEN + 3];
		size_t n = 0, k;

		while (*p == ' ')
			p++;
		end = p;
		while (*end && *end != ' ')
			end++;
		if (end - p > 3 && strncmp(p, "v1,", 3) == 0) {
			seen = 1;
			if (codec_base64_decode(p + 3, (size_t)(end - p - 3), sig, sizeof(sig), &n) == 0 &&
			    n == DIGEST_SHA256_LEN)
				for (k = 0; k < nkeys; k++)
					match |= digest_equal(sig, macs[k], DIGEST_SHA256_LEN);
		}
		p = end;
	}
	if (match) {
		ret = 0;
		/* what the signature covers: the same parts, without the key */
		if (ret_digest)
			digest_sha256v(parts, lens, 5, ret_digest);
	} else if (!seen)
		err_set(e, "webhook-signature has no v1 signature");
	else
		err_set(e, "webhook-signature does not match the repo's signing token");
	explicit_bzero(keys, sizeof(keys));
	return ret;
}

static int webhook_verify_gitlab(const struct webhook_request *r, char *const *secrets,
				 size_t nsecrets, unsigned char *ret_digest, struct err *e)
{
	const char *token = webhook_header(r, "X-Gitlab-Token");
	const char *sigs = webhook_header(r, "webhook-signature");
	size_t i;
	int match = 0, rc = 401;

	/* A hook may have both a secret token and a signing token; the repo's
	 * secret file holds one of them, and either proves the sender. */
	if (token) {
		for (i = 0; i < nsecrets; i++)
			if (secrets[i])
				match |= digest_equal_str(token, strlen(token), secrets[i], strlen(secrets[i]));
		if (match) {
			/* a token signs nothing: the body is all a replay can repeat */
			if (ret_digest)
				digest_sha256(r->body, r->body_len, ret_digest);
			return 0;
		}
		err_set(e, "X-Gitlab-Token does not match the repo's secret");
	}
	if (sigs)
		rc = webhook_check_standard(r, sigs, secrets, nsecrets, ret_digest, e);
	else if (!token)
		err_set(e, "missing X-Gitlab-Token or webhook-signature header");
	return rc;
}

int webhook_verify(const struct webhook_request *r, enum provider p,
		   char *const *secrets, size_t nsecrets, struct err *e)
{
	return webhook_verify_signed(r, p, secrets, nsecrets, NULL, e);
}

int webhook_verify_signed(const struct webhook_request *r, enum provider p,
			  char *const *secrets, size_t nsecrets,
			  unsigned char ret_digest[DIGEST_SHA256_LEN], struct err *e)
{
	struct buf decoded = BUF_INIT(0);
	const void *data = r->body;
	size_t len = r->body_len;
	const char *sig, *what;
	int ret;

	if (nsecrets == 0) {
		err_set(e, "no secret configured for this repo");
		return 401;
	}
	if (p == PROVIDER_GITLAB)
		return webhook_verify_gitlab(r, secrets, nsecrets, ret_digest, e);

	if ((sig = webhook_header(r, "X-Hub-Signature-256"))) {
		what = "X-Hub-Signature-256";
		if (strncmp(sig, "sha256=", 7) != 0) {
			err_set(e, "malformed X-Hub-Signature-256 header: expected sha256=<hex>");
			return 400;
		}
		sig += 7;
	} else if (p == PROVIDER_GITEA && (sig = webhook_header(r, "X-Gitea-Signature"))) {
		what = "X-Gitea-Signature";
	} else if (p == PROVIDER_GITEA && (sig = webhook_header(r, "X-Forgejo-Signature"))) {
		what = "X-Forgejo-Signature";
	} else if (p == PROVIDER_GITEA && (sig = webhook_header(r, "X-Gogs-Signature"))) {
		what = "X-Gogs-Signature";
	} else {
		err_set(e, "missing X-Hub-Signature-256 header");
		return 401;
	}
	/* Gitea and Forgejo sign the JSON they put in a form body, GitHub the
	 * form body itself. */
	if (p == PROVIDER_GITEA && webhook_is_form(r)) {
		decoded.max = r->body_len;
		if (webhook_form_payload(r->body, r->body_len, &decoded, e) < 0) {
			buf_release(&decoded);
			return 400;
		}
		data = decoded.data;
		len = decoded.len;
	}
	ret = webhook_check_hex(sig, what, data, len, secrets, nsecrets, e);
	if (ret == 0 && ret_digest)
		digest_sha256(data, len, ret_digest);
	buf_release(&decoded);
	return ret;
}

/* --- parsing ------------------------------------------------------------ */

/* Header values and payload strings we keep must be printable ASCII (for
 * ids) and bounded. */
static int webhook_printable(const char *s, size_t max)
{
	size_t n = 0;

	for (; *s; s++, n++)
		if (n >= max || (unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return 0;
	return n > 0;
}

/* Copies a UTF-8 string, cut at max bytes on a character boundary. */
static char *webhook_strdup_max(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n > max) {
		n = max;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	return xstrndup(s, n);
}

/* The pruned payload (see jprune) and the strings decoded from it, freed with
 * the parse. Values are pointers into the pruned text, NULL when absent. */
struct wjson {
	const char *end;
	struct strv strs;
	int bad;		/* a string we read did not decode (bad UTF-8, \u0000) */
};

static const char *wj_get(struct wjson *w, const char *obj, const char *key)
{
	return jprune_get(obj, w->end, key);
}

static int wj_is_object(const char *v)
{
	return v && *v == '{';
}

static int wj_is_true(struct wjson *w, const char *v)
{
	return v && w->end - v >= 4 && !memcmp(v, "true", 4);
}

/* The decoded string value of member key of obj; NULL if absent or not a string. */
static const char *wj_str(struct wjson *w, const char *obj, const char *key)
{
	const char *v = wj_get(w, obj, key), *q, *vend;
	json_t *j;

	if (!v || *v != '"')
		return NULL;
	vend = jprune_skip(v, w->end);
	/* plain ASCII (no escapes; control characters were refused by jprune) is
	 * its own decoding; the rest goes through the JSON library, which also
	 * checks the UTF-8 */
	for (q = v + 1; q < vend - 1; q++)
		if (*q == '\\' || (unsigned char)*q >= 0x80)
			break;
	if (q == vend - 1) {
		strv_push_nodup(&w->strs, xstrndup(v + 1, (size_t)(vend - v - 2)));
		return w->strs.items[w->strs.n - 1];
	}
	j = json_loadb(v, (size_t)(vend - v), JSON_DECODE_ANY, NULL);
	if (!json_is_string(j)) {
		json_decref(j);
		w->bad = 1;
		return NULL;
	}
	strv_push(&w->strs, json_string_value(j));
	json_decref(j);
	return w->strs.items[w->strs.n - 1];
}

/* An integer member (no fraction or exponent, in range), as a JSON library reads it. */
static int wj_int(struct wjson *w, const char *obj, const char *key, long long *ret)
{
	const char *v = wj_get(w, obj, key), *vend;
	char num[32];
	char *stop;
	long long n;

	if (!v)
		return 0;
	vend = jprune_skip(v, w->end);
	if (vend - v < 1 || (size_t)(vend - v) >= sizeof(num))
		return 0;
	memcpy(num, v, (size_t)(vend - v));
	num[vend - v] = '\0';
	/* jprune checked the grammar: a number is -?digits, then perhaps a fraction or
	 * an exponent that strtoll leaves unread; any other value (string, object,
	 * literal) has no digit first, so strtoll reads nothing of it */
	errno = 0;
	n = strtoll(num, &stop, 10);
	if (*stop != '\0' || errno)
		return 0;	/* out of range: *ret keeps its value */
	*ret = n;
	return 1;
}

static void webhook_setstr(char **dst, const char *s, size_t max)
{
	if (!s || !*s || *dst)
		return;
	*dst = webhook_strdup_max(s, max);
}

static int webhook_is_hex(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (webhook_hexval((unsigned char)s[i]) < 0)
			return 0;
	return s[n] == '\0';
}

/* A 40-hex object id, lowercased into out. */
static int webhook_sha(const char *s, const char *what, char out[41], struct err *e)
{
	size_t i, n;

	if (!s)
		return err_set(e, "payload has no '%s'", what);
	n = strlen(s);
	if (n == SHA256_HEX_LEN && webhook_is_hex(s, n))
		return err_set(e, "'%s' is a SHA-256 object id; only SHA-1 repositories are supported", what);
	if (n != SHA_HEX_LEN || !webhook_is_hex(s, n))
		return err_set(e, "'%s' is not a 40-digit hex object id", what);
	for (i = 0; i < n; i++)
		out[i] = (char)tolower((unsigned char)s[i]);
	out[n] = '\0';
	return 0;
}

static int webhook_ref_ok(const char *ref)
{
	const char *p;

	if (strncmp(ref, "refs/", 5) != 0 || strlen(ref) > REF_MAX || !ref[5])
		return 0;
	for (p = ref; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f || *p == '~' || *p == '^' ||
		    *p == ':' || *p == '?' || *p == '*' || *p == '[' || *p == '\\')
			return 0;
	return strstr(ref, "..") == NULL && strstr(ref, "//") == NULL &&
	       ref[strlen(ref) - 1] != '/' && strstr(ref, "@{") == NULL;
}

static void webhook_ignore(struct webhook_event *ev, const char *reason)
{
	ev->action = WEBHOOK_IGNORE;
	free(ev->ignored);
	ev->ignored = xstrdup(reason);
}

/* The commit among commits[] whose id is sha, else the last one. */
static const char *webhook_find_commit(struct wjson *w, const char *commits, const char *sha)
{
	size_t i, n = jprune_count(commits, w->end);
	const char *c;

	for (i = 0; i < n; i++) {
		const char *id = wj_str(w, jprune_at(commits, w->end, i), "id");

		if (id && strcasecmp(id, sha) == 0)
			return jprune_at(commits, w->end, i);
	}
	c = n ? jprune_at(commits, w->end, n - 1) : NULL;
	return wj_is_object(c) ? c : NULL;
}

static void webhook_commit_info(struct wjson *w, struct webhook_event *ev, const char *commit)
{
	const char *author = wj_get(w, commit, "author");

	webhook_setstr(&ev->message, wj_str(w, commit, "message"), WEBHOOK_MESSAGE_MAX);
	webhook_setstr(&ev->author, wj_str(w, author, "name"), WEBHOOK_FIELD_MAX);
}

static const char *webhook_delivery_header(const struct webhook_request *r, enum provider p)
{
	const char *d = NULL;

	switch (p) {
	case PROVIDER_GITHUB:
		d = webhook_header(r, "X-GitHub-Delivery");
		break;
	case PROVIDER_GITLAB:
		/* Idempotency-Key stays the same when GitLab retries a delivery;
		 * X-Gitlab-Event-UUID is what older GitLab versions send. */
		d = webhook_header(r, "Idempotency-Key");
		if (!d)
			d = webhook_header(r, "X-Gitlab-Event-UUID");
		break;
	case PROVIDER_GITEA:
		d = webhook_header(r, "X-Gitea-Delivery");
		if (!d)
			d = webhook_header(r, "X-Forgejo-Delivery");
		if (!d)
			d = webhook_header(r, "X-Gogs-Delivery");
		break;
	case PROVIDER_GENERIC:
		d = webhook_header(r, "X-Request-Id");
		break;
	}
	return d;
}

static const char *webhook_event_header(const struct webhook_request *r, enum provider p)
{
	const char *v = NULL;

	switch (p) {
	case PROVIDER_GITHUB:
		v = webhook_header(r, "X-GitHub-Event");
		break;
	case PROVIDER_GITLAB:
		v = webhook_header(r, "X-Gitlab-Event");
		break;
	case PROVIDER_GITEA:
		v = webhook_header(r, "X-Gitea-Event");
		if (!v)
			v = webhook_header(r, "X-Forgejo-Event");
		if (!v)
			v = webhook_header(r, "X-Gogs-Event");
		break;
	case PROVIDER_GENERIC:
		v = "push";
		break;
	}
	return v;
}

/* The fields every push payload shares: ref, before, after. */
static int webhook_ref_shas(struct wjson *w, const char *root, struct webhook_event *ev,
			    struct err *e)
{
	const char *ref = wj_str(w, root, "ref");
	const char *before = wj_str(w, root, "before");

	if (!ref)
		return err_set(e, "payload has no 'ref'");
	if (!webhook_ref_ok(ref))
		return err_set(e, "'ref' is not a valid full ref name (refs/...)");
	ev->ref = xstrdup(ref);
	if (before && webhook_sha(before, "before", ev->before, e) < 0)
		return -1;
	return webhook_sha(wj_str(w, root, "after"), "after", ev->after, e);
}

static void webhook_repo_name(struct wjson *w, const char *repo, struct webhook_event *ev)
{
	const char *owner = wj_get(w, repo, "owner");
	const char *login = wj_str(w, owner, "login");
	const char *name = wj_str(w, repo, "name");

	webhook_setstr(&ev->repo_full_name, wj_str(w, repo, "full_name"), WEBHOOK_FIELD_MAX);
	/* GitHub's legacy payloads have no full_name, only owner.name */
	if (!login)
		login = wj_str(w, owner, "name");
	if (!ev->repo_full_name && login && name && *login && *name &&
	    strlen(login) + strlen(name) < WEBHOOK_FIELD_MAX)
		ev->repo_full_name = xasprintf("%s/%s", login, name);
	webhook_setstr(&ev->clone_url, wj_str(w, repo, "clone_url"), WEBHOOK_FIELD_MAX);
}

/* --- pull and merge requests --- */

/* The request's number, its head commit and the ref the base repository keeps it
 * under (ref_fmt with the number). */
static int webhook_pr_ref(struct webhook_event *ev, long long number, const char *sha,
			  const char *ref_fmt, struct err *e)
{
	if (number <= 0 || number > WEBHOOK_PR_MAX)
		return err_set(e, "payload has no valid request number");
	ev->pr = number;
	ev->ref = xasprintf(ref_fmt, number);
	return webhook_sha(sha, "head sha", ev->after, e);
}

/* What an action word of a request event does: 1 build, 2 close (cancel), 0
 * nothing. GitHub: opened reopened synchronize closed; Gitea and Forgejo:
 * synchronized for new commits. */
static int webhook_pr_action(const char *action)
{
	static const char *const build[] = { "opened", "reopened", "synchronize", "synchronized" };
	size_t i;

	if (!action)
		return 0;
	for (i = 0; i < sizeof(build) / sizeof(build[0]); i++)
		if (!strcmp(action, build[i]))
			return 1;
	return strcmp(action, "closed") ? 0 : 2;
}

/* GitHub's and Gitea's pull_request event: the same shape. The head is a fork when
 * its repository is not the base's (GitHub sends head.repo null once the fork is
 * deleted: a fork too). */
static int webhook_parse_pr(struct wjson *w, const char *root, struct webhook_event *ev,
			    struct err *e)
{
	const char *pr = wj_get(w, root, "pull_request");
	const char *head = wj_get(w, pr, "head"), *base = wj_get(w, pr, "base");
	const char *action = wj_str(w, root, "action");
	const char *hname = wj_str(w, wj_get(w, head, "repo"), "full_name");
	const char *bname = wj_str(w, wj_get(w, base, "repo"), "full_name");
	long long number = 0;
	int what = webhook_pr_action(action);
	char *why;

	if (!wj_is_object(pr))
		return err_set(e, "payload has no 'pull_request'");
	if (!what) {
		why = xasprintf("pull request action '%s'", action ? action : "?");
		webhook_ignore(ev, why);
		free(why);
		return 0;
	}
	if (!wj_int(w, root, "number", &number))
		wj_int(w, pr, "number", &number);
	if (webhook_pr_ref(ev, number, wj_str(w, head, "sha"), "refs/pull/%lld/head", e) < 0)
		return -1;
	ev->fork = !hname || !bname || strcasecmp(hname, bname) != 0;
	webhook_repo_name(w, wj_get(w, root, "repository"), ev);
	webhook_setstr(&ev->message, wj_str(w, pr, "title"), WEBHOOK_MESSAGE_MAX);
	webhook_setstr(&ev->author, wj_str(w, wj_get(w, pr, "user"), "login"), WEBHOOK_FIELD_MAX);
	if (what == 2)
		ev->action = WEBHOOK_CLOSE;
	return 0;
}

/* GitLab's Merge Request Hook: open and reopen build, update only with new commits
 * (GitLab sends oldrev then), close and merge cancel. A fork's source project is
 * not the target. */
static int webhook_parse_mr(struct wjson *w, const char *root, struct webhook_event *ev,
			    struct err *e)
{
	const char *oa = wj_get(w, root, "object_attributes");
	const char *action = wj_str(w, oa, "action"), *last = wj_get(w, oa, "last_commit");
	const char *project = wj_get(w, root, "project");
	long long iid = 0, src = -1, dst = -2, pid = -1;
	int what = 0;
	char *why;

	if (!wj_is_object(oa))
		return err_set(e, "payload has no 'object_attributes'");
	if (action && (!strcmp(action, "open") || !strcmp(action, "reopen") ||
		       (!strcmp(action, "update") && wj_get(w, oa, "oldrev"))))
		what = 1;
	else if (action && (!strcmp(action, "close") || !strcmp(action, "merge")))
		what = 2;
	if (!what) {
		why = xasprintf("merge request action '%s'%s", action ? action : "?",
				action && !strcmp(action, "update") ? " without new commits" : "");
		webhook_ignore(ev, why);
		free(why);
		return 0;
	}
	wj_int(w, oa, "iid", &iid);
	if (webhook_pr_ref(ev, iid, wj_str(w, last, "id"), "refs/merge-requests/%lld/head", e) < 0)
		return -1;
	wj_int(w, oa, "source_project_id", &src);
	wj_int(w, oa, "target_project_id", &dst);
	ev->fork = src != dst;
	webhook_setstr(&ev->repo_full_name, wj_str(w, project, "path_with_namespace"),
		       WEBHOOK_FIELD_MAX);
	if (!wj_int(w, project, "id", &pid))
		pid = dst;
	if (pid >= 0)
		ev->project_id = xasprintf("%lld", pid);
	webhook_setstr(&ev->clone_url, wj_str(w, project, "git_http_url"), WEBHOOK_FIELD_MAX);
	webhook_commit_info(w, ev, last);
	if (what == 2)
		ev->action = WEBHOOK_CLOSE;
	return 0;
}

static int webhook_parse_github(struct wjson *w, const char *root, struct webhook_event *ev,
				struct err *e)
{
	const char *head = wj_get(w, root, "head_commit");

	if (strcmp(ev->event, "ping") == 0) {
		webhook_ignore(ev, "ping");
		return 0;
	}
	if (strcmp(ev->event, "pull_request") == 0)
		return webhook_parse_pr(w, root, ev, e);
	if (strcmp(ev->event, "push") != 0)
		return 1;
	if (webhook_ref_shas(w, root, ev, e) < 0)
		return -1;
	webhook_repo_name(w, wj_get(w, root, "repository"), ev);
	if (wj_is_true(w, wj_get(w, root, "deleted")))
		return 2;
	if (wj_is_object(head))
		webhook_commit_info(w, ev, head);
	else
		webhook_commit_info(w, ev, webhook_find_commit(w, wj_get(w, root, "commits"), ev->after));
	return 0;
}

static int webhook_parse_gitlab(struct wjson *w, const char *root, struct webhook_event *ev,
				struct err *e)
{
	const char *project = wj_get(w, root, "project");
	const char *repository = wj_get(w, root, "repository");
	const char *kind = wj_str(w, root, "object_kind");
	const char *checkout = wj_str(w, root, "checkout_sha");
	long long pid = -1;

	if (strcmp(ev->event, "Merge Request Hook") == 0 && kind && !strcmp(kind, "merge_request"))
		return webhook_parse_mr(w, root, ev, e);
	if (strcmp(ev->event, "Push Hook") != 0 && strcmp(ev->event, "Tag Push Hook") != 0 &&
	    strcmp(ev->event, "System Hook") != 0)
		return 1;
	if (!kind || (strcmp(kind, "push") != 0 && strcmp(kind, "tag_push") != 0))
		return 1;
	if (webhook_ref_shas(w, root, ev, e) < 0)
		return -1;
	/* checkout_sha is the commit an annotated tag points to; after is the tag */
	if (checkout && webhook_sha(checkout, "checkout_sha", ev->after, e) < 0)
		return -1;
	webhook_setstr(&ev->repo_full_name, wj_str(w, project, "path_with_namespace"),
		       WEBHOOK_FIELD_MAX);
	if (!wj_int(w, root, "project_id", &pid) && wj_is_object(project))
		wj_int(w, project, "id", &pid);
	if (pid >= 0)
		ev->project_id = xasprintf("%lld", pid);
	webhook_setstr(&ev->clone_url, wj_str(w, project, "git_http_url"), WEBHOOK_FIELD_MAX);
	webhook_setstr(&ev->clone_url, wj_str(w, repository, "git_http_url"), WEBHOOK_FIELD_MAX);
	webhook_commit_info(w, ev, webhook_find_commit(w, wj_get(w, root, "commits"), ev->after));
	return 0;
}

static int webhook_parse_gitea(struct wjson *w, const char *root, struct webhook_event *ev,
			       struct err *e)
{
	const char *head = wj_get(w, root, "head_commit");

	if (strcmp(ev->event, "pull_request") == 0)
		return webhook_parse_pr(w, root, ev, e);
	if (strcmp(ev->event, "push") != 0)
		return 1;
	if (webhook_ref_shas(w, root, ev, e) < 0)
		return -1;
	webhook_repo_name(w, wj_get(w, root, "repository"), ev);
	if (wj_is_object(head))
		webhook_commit_info(w, ev, head);
	else
		webhook_commit_info(w, ev, webhook_find_commit(w, wj_get(w, root, "commits"), ev->after));
	return 0;
}

static int webhook_parse_generic(struct wjson *w, const char *root, struct webhook_event *ev,
				 struct err *e)
{
	if (webhook_ref_shas(w, root, ev, e) < 0)
		return -1;
	webhook_setstr(&ev->message, wj_str(w, root, "message"), WEBHOOK_MESSAGE_MAX);
	webhook_setstr(&ev->author, wj_str(w, root, "author"), WEBHOOK_FIELD_MAX);
	return 0;
}

/* Every member name the parsers above read, at any depth (see jprune). */
static const char *const webhook_keys[] = {
	"action", "after", "author", "base", "before", "checkout_sha", "clone_url", "commits",
	"deleted", "full_name", "git_http_url", "head", "head_commit", "id", "iid",
	"last_commit", "login", "message", "name", "number", "object_attributes",
	"object_kind", "oldrev", "owner", "path_with_namespace", "project", "project_id",
	"pull_request", "ref", "repo", "repository", "sha", "source_project_id",
	"target_project_id", "title", "user", NULL
};

int webhook_parse(const struct webhook_request *r, enum provider p,
		  struct webhook_event *ev, struct err *e)
{
	struct buf form = BUF_INIT(r->body_len);
	struct buf pruned = BUF_INIT(r->body_len + 1);
	const char *data = r->body, *delivery, *event, *root;
	size_t len = r->body_len;
	struct wjson w = { NULL, STRV_INIT, 0 };
	int ret = -1, rc = 0;

	webhook_event_release(ev);
	ev->provider = p;
	ev->action = WEBHOOK_IGNORE;

	delivery = webhook_delivery_header(r, p);
	if (delivery) {
		if (!webhook_printable(delivery, DELIVERY_ID_MAX)) {
			err_set(e, "malformed delivery id header: up to %d printable characters", DELIVERY_ID_MAX);
			goto out;
		}
		ev->delivery = xstrdup(delivery);
	}
	event = webhook_event_header(r, p);
	if (!event || !*event || strlen(event) > WEBHOOK_EVENT_NAME_MAX) {
		err_set(e, "missing or malformed event header");
		goto out;
	}
	for (const char *c = event; *c; c++)
		if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f) {
			err_set(e, "malformed event header");
			goto out;
		}
	ev->event = xstrdup(event);

	if (webhook_is_form(r)) {
		if (webhook_form_payload(r->body, r->body_len, &form, e) < 0)
			goto out;
		data = form.data;
		len = form.len;
	}
	/* A push payload is mostly fields nobody here reads (GitHub's repository
	 * object alone has ~90): validate the whole body in one pass, keeping only
	 * the members read below (a few percent of the bytes), then read those in
	 * place; only the strings taken are decoded. */
	if (jprune(data, len, webhook_keys, &pruned, e) < 0) {
		err_prefix(e, "malformed JSON body");
		goto out;
	}
	root = pruned.data;
	w.end = pruned.data + pruned.len;
	if (!wj_is_object(root)) {
		err_set(e, "JSON body is not an object");
		goto out;
	}
	switch (p) {
	case PROVIDER_GITHUB:
		rc = webhook_parse_github(&w, root, ev, e);
		break;
	case PROVIDER_GITLAB:
		rc = webhook_parse_gitlab(&w, root, ev, e);
		break;
	case PROVIDER_GITEA:
		rc = webhook_parse_gitea(&w, root, ev, e);
		break;
	case PROVIDER_GENERIC:
		rc = webhook_parse_generic(&w, root, ev, e);
		break;
	}
	if (w.bad) {
		/* checked first: a field that did not decode may be why rc < 0 */
		err_set(e, "malformed JSON body: a string is not valid UTF-8 or contains \\u0000");
		goto out;
	}
	if (rc < 0)
		goto out;
	if (rc == 1) {
		char *why = xasprintf("not a push event: %s", ev->event);

		webhook_ignore(ev, why);
		free(why);
	} else if (rc == 2 || (ev->ref && strcmp(ev->after, zero_sha) == 0 && !ev->pr)) {
		webhook_ignore(ev, "ref deleted");
		ev->deleted = ev->ref != NULL;
	} else if (!ev->ignored && ev->action != WEBHOOK_CLOSE) {
		ev->action = WEBHOOK_BUILD;
	}
	ret = 0;
out:
	strv_clear(&w.strs);
	buf_release(&form);
	buf_release(&pruned);
	return ret;
}

// Globs are fnmatch(3) patterns without FNM_PATHNAME: '*' and '?' match '/'
// too, so "release/*" matches release/1.2 and release/1.2/hotfix, and "*"
// matches every name; [...] classes work as in the shell. Branch globs see the
// name without refs/heads/, tag globs the name without refs/tags/. Other refs
// (notes, pull requests) never match.
void webhook_match(const struct repo_conf *repo, struct webhook_event *ev)
{
	const struct strv *globs;
	const char *name;
	size_t i;

	if ((ev->action != WEBHOOK_BUILD && ev->action != WEBHOOK_CLOSE) || !ev->ref)
		return;
	if (ev->pr) {
		enum pr_policy pol = config_pull_requests(repo);

		if (pol == PR_NO)
			webhook_ignore(ev, "pull/merge requests are not built (pull_requests = no)");
		else if (pol == PR_SAME_REPO && ev->fork)
			webhook_ignore(ev, "request from a fork (pull_requests = same-repo)");
		return;
	}
	if (ev->action != WEBHOOK_BUILD)
		return;
	if (strncmp(ev->ref, "refs/heads/", 11) == 0) {
		name = ev->ref + 11;
		globs = &repo->branches;
		if (globs->n == 0)
			return;
	} else if (strncmp(ev->ref, "refs/tags/", 10) == 0) {
		name = ev->ref + 10;
		globs = &repo->tags;
	} else {
		webhook_ignore(ev, "ref not matched");
		return;
	}
	for (i = 0; i < globs->n; i++)
		if (fnmatch(globs->items[i], name, 0) == 0)
			return;
	webhook_ignore(ev, "ref not matched");
}

void webhook_event_release(struct webhook_event *ev)
{
	free(ev->ignored);
	free(ev->event);
	free(ev->delivery);
	free(ev->ref);
	free(ev->repo_full_name);
	free(ev->project_id);
	free(ev->clone_url);
	free(ev->message);
	free(ev->author);
	*ev = (struct webhook_event)WEBHOOK_EVENT_INIT;
}
