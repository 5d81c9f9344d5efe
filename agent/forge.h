/* forge: commit statuses on GitHub, GitLab and Gitea/Forgejo (s2i-agent.conf(5),
 * status): builds the exact request each API documents, sends it with libcurl
 * (httpc) and classifies the answer. */
#ifndef S2I_FORGE_H
#define S2I_FORGE_H

#include <stddef.h>
#include <time.h>

#include "buf.h"
#include "config.h"
#include "err.h"

/* What a status post is about. Strings are borrowed for the call. */
struct forge_build {
	long long id;
	const char *sha;		/* 40 (or 64) lowercase hex */
	const char *ref;		/* full ref, may be NULL (GitLab gets its short name) */
	const char *state;		/* a build state (README "API and metrics"): queued running
					 * succeeded failed errored canceled
					 * (a word of the forge's own, e.g. "pending", passes as is) */
	const char *description;	/* NULL: a default per state; cut to STATUS_DESCRIPTION_MAX characters */
};

/* One request, ready to send or to compare in tests. Holds the token (in a
 * header): never print headers; use forge_request_summary() for messages. */
struct forge_request {
	enum status_kind kind;
	char *url;			/* POST target */
	struct strv headers;		/* "Name: value" */
	char *body;			/* compact JSON */
	char *state;			/* the forge's state word, e.g. "pending" */
	char *repo;			/* owner/name or GitLab id/path the status went to */
	char *token;			/* copy, so messages can be scrubbed of it */
	long timeout;			/* seconds for the whole exchange (STATUS_TIMEOUT) */
	long connect_timeout;		/* seconds (STATUS_CONNECT_TIMEOUT) */
	char *list_url;			/* GET: the commit's statuses (forge_find), same headers */
};

#define FORGE_REQUEST_INIT { STATUS_NONE, NULL, STRV_INIT, NULL, NULL, NULL, NULL, 0, 0, NULL }

/* Builds the request for repo rc (status, status_api, status_repo,
 * status_token, status_context). The repo is status_repo, else payload_repo
 * (owner/name, or GitLab's project id or path from the webhook; may be NULL),
 * else derived from rc->url. status_api defaults to https://api.github.com
 * (GitHub Enterprise hosts: https://HOST/api/v3), https://HOST/api/v4 (GitLab)
 * and https://HOST/api/v1 (Gitea) for the host of rc->url. target_url is
 * public_url/builds/ID (omitted when public_url is NULL or empty).
 * Fails (ret untouched) when rc->status is STATUS_NONE or something is missing. */
int forge_request_build(const struct repo_conf *rc, const struct forge_build *b,
			const char *public_url, const char *payload_repo,
			struct forge_request *ret, struct err *e);
void forge_request_release(struct forge_request *r);
/* The payload_repo to pass from a webhook's fields (struct webhook_event,
 * struct build): GitLab's numeric project id when known (it survives renames
 * and moves), else the full name (owner/name, GitLab path_with_namespace); NULL
 * when neither is known (generic events), so the url decides. */
const char *forge_payload_repo(enum status_kind kind, const char *full_name, const char *project_id);
/* "POST URL (state)": safe for logs, holds no secret. Caller frees. */
char *forge_request_summary(const struct forge_request *r);

enum forge_outcome {
	FORGE_DONE,			/* 2xx (or GitLab saying the status already is in that state) */
	FORGE_RETRY,			/* 5xx, 408, 429, rate limit, network error or timeout */
	FORGE_FAILED,			/* any other answer: retrying will not help */
};

struct forge_answer {
	enum forge_outcome outcome;
	long http_code;			/* 0 when no answer came */
	long retry_after;		/* seconds the forge asked to wait (Retry-After,
					 * rate-limit reset), 0 when it did not say */
};

/* Sends r. Returns 0 when the forge accepted it (FORGE_DONE); -1 otherwise
 * with ret->outcome RETRY or FAILED and e saying why, quoting the forge's
 * message but never the token. ret is always filled. */
int forge_post(const struct forge_request *r, struct forge_answer *ret, struct err *e);

/* Whether the forge already has r's status: GETs r->list_url (the commit's
 * statuses: GitHub's and Gitea's commits/{sha}/statuses, GitLab's
 * repository/commits/{sha}/statuses) and looks for one with r's context (GitLab:
 * name), state, target_url and description. 1 found, 0 not found, -1 the GET
 * failed: ret->outcome RETRY or FAILED and e saying why (never the token). A post
 * whose agent died may have reached the forge: asking first keeps it from being
 * posted twice. */
int forge_find(const struct forge_request *r, struct forge_answer *ret, struct err *e);
/* forge_find's look: whether list (a forge's JSON list of statuses) holds the one
 * body (a request's body) posts. 1 yes, 0 no, -1 list or body is not JSON of that shape. */
int forge_status_listed(const char *list, const char *body);

/* Classifies an answer: code (0 = no answer), the response headers as
 * "Name: value" lines (NULL-terminated, may be NULL) and the body (may be NULL).
 * now is used for HTTP-dates and rate-limit resets. Fills ret; for every
 * non-2xx answer writes "HTTP CODE: the forge's message" (at most msgsz bytes)
 * into msg, else makes it empty. */
void forge_classify(enum status_kind kind, long code, char *const *headers, const char *body,
		    time_t now, struct forge_answer *ret, char *msg, size_t msgsz);

/* Retry-After: delta-seconds or an HTTP-date (relative to now). 0 and the
 * seconds (never negative) in *ret, or -1 when v is neither. */
int forge_parse_retry_after(const char *v, time_t now, long *ret);

/* Delay before retry number attempt (1 = first retry): STATUS_RETRY_MIN
 * doubling up to STATUS_RETRY_MAX, with "equal jitter" (a value in
 * [d/2, d] picked by rnd, any random number), and at least retry_after
 * (itself capped at STATUS_RETRY_MAX). */
long forge_backoff(unsigned attempt, long retry_after, unsigned long rnd);

/* The forge's state word for a build state (README "API and metrics"), NULL if unknown. */
const char *forge_state(enum status_kind kind, const char *build_state);

/* Derives host and repo path from a git URL: https://host[:port]/owner/name(.git),
 * http://..., ssh://[user@]host[:port]/owner/name(.git), [user@]host:owner/name(.git).
 * *ret_base is the web base ("https://host[:port]" for http(s), "https://host"
 * for ssh), *ret_path the path without .git ("group/sub/name" for GitLab). */
int forge_parse_url(const char *url, char **ret_base, char **ret_host, char **ret_path,
		    struct err *e);

/* The description as sent: invalid UTF-8 replaced, control characters turned
 * into spaces, at most STATUS_DESCRIPTION_MAX characters (code points; a cut
 * one ends with U+2026). Caller frees. */
char *forge_description(const char *s);

/* Percent-encodes every byte but A-Z a-z 0-9 - . _ ~ (GitLab project paths). Caller frees. */
char *forge_urlencode(const char *s);

#endif
