/* webhook: provider detection, signature verification and push-event parsing
 * for GitHub, GitLab, Gitea/Forgejo and the generic event (README, "API and
 * metrics"). No I/O. */
#ifndef S2I_WEBHOOK_H
#define S2I_WEBHOOK_H

#include <stddef.h>
#include <time.h>

#include "config.h"
#include "digest.h"
#include "err.h"

enum provider { PROVIDER_GENERIC, PROVIDER_GITHUB, PROVIDER_GITLAB, PROVIDER_GITEA };

/* "generic", "github", "gitlab", "gitea" */
const char *webhook_provider_name(enum provider p);

/* Looks a request header up by name, case-insensitively; NULL when absent. */
typedef const char *(*webhook_header_fn)(void *ctx, const char *name);

struct webhook_request {
	webhook_header_fn header;
	void *header_ctx;
	const char *body;		/* raw body as received */
	size_t body_len;
	time_t now;			/* for the GitLab signing-token timestamp window */
};

/* From the headers alone (README, "API and metrics"). */
enum provider webhook_provider(const struct webhook_request *r);

/* What a hook that holds a repository's secret shows to read a build it started
 * (`s2i-agent notify --follow` on a published agent, whose read side is private):
 * WEBHOOK_BUILD_PROOF: hex HMAC-SHA256 of "s2i-agent read build ID" under the secret. */
#define WEBHOOK_BUILD_PROOF	"X-S2I-Agent-Build-Proof"
void webhook_build_proof(const char *secret, long long id, char out[2 * DIGEST_SHA256_LEN + 1]);

/* Whether the request carries the header that proves p's sender (a signature or
 * GitLab's token), from the headers alone: intake refuses one without it before it
 * reads the body. */
int webhook_signed(const struct webhook_request *r, enum provider p);

/* Checks the signature or token against each of the repo's secrets, in
 * constant time, before anything parses the body (Gitea/Forgejo's form bodies
 * are url-decoded first since they sign the JSON). Returns 0 when one secret
 * matches, 401 when the signature is missing or wrong, 400 when a header is
 * malformed; e says why (never quoting a secret). */
int webhook_verify(const struct webhook_request *r, enum provider p,
		   char *const *secrets, size_t nsecrets, struct err *e);
/* The same, and on success (0) ret_digest gets the SHA-256 of exactly what the
 * check that passed covers: the raw body (GitHub, generic, GitLab's secret token),
 * the JSON Gitea/Forgejo signed, or GitLab's signed "id.timestamp.body". A
 * delivery id is not signed, so a captured request sent again under a new one
 * has the same digest: intake refuses it as a replay (store_add_push). */
int webhook_verify_signed(const struct webhook_request *r, enum provider p,
			  char *const *secrets, size_t nsecrets,
			  unsigned char ret_digest[DIGEST_SHA256_LEN], struct err *e);

/* BUILD: queue a build of ref at after. CLOSE: a pull/merge request was closed or
 * merged: cancel the queued and running builds of its ref. IGNORE: nothing. */
enum webhook_action { WEBHOOK_BUILD, WEBHOOK_IGNORE, WEBHOOK_CLOSE };

struct webhook_event {
	enum provider provider;
	enum webhook_action action;
	char *ignored;			/* reason when action is WEBHOOK_IGNORE */
	char *event;			/* provider's event name, "push" for generic */
	char *delivery;			/* delivery id header, NULL if none */
	char *ref;			/* full ref: refs/heads/main, refs/tags/v1 */
	char before[41];
	char after[41];			/* the commit to build (tags: as sent; peeled later) */
	char *repo_full_name;		/* owner/name, GitLab path_with_namespace; NULL if unknown */
	char *project_id;		/* GitLab numeric project id; NULL otherwise */
	char *clone_url;		/* NULL if not in the payload */
	char *message;			/* head commit message, NULL if unknown */
	char *author;			/* head commit author name, NULL if unknown */
	long long pr;			/* pull/merge request number, 0 for a push */
	int fork;			/* the request's head is in another repository */
	int deleted;			/* IGNORE: the push deleted ref */
};

#define WEBHOOK_EVENT_INIT { PROVIDER_GENERIC, WEBHOOK_IGNORE, NULL, NULL, NULL, NULL, "", "", NULL, NULL, NULL, NULL, NULL, 0, 0, 0 }

/* Parses a verified request. Returns 0 with ev filled: action BUILD for a
 * push of a branch or tag with a new commit, and for a pull/merge request
 * opened, reopened or given new commits (ref: the base repository's
 * refs/pull/N/head, GitLab's refs/merge-requests/N/head; after: the head
 * commit; pr and fork set); CLOSE for a request closed or merged (ref set);
 * IGNORE with a reason for pings, deleted refs (deleted set) and other events and
 * actions.
 * Returns -1 (answer 400) on a malformed body. */
int webhook_parse(const struct webhook_request *r, enum provider p,
		  struct webhook_event *ev, struct err *e);

/* Applies the repo's branches/tags globs (s2i-agent.conf(5): default every branch, no
 * tags) and, to requests, its pull_requests (default no; same-repo leaves forks
 * out). Turns a BUILD or CLOSE event into IGNORE with a reason when it does not
 * match. */
void webhook_match(const struct repo_conf *repo, struct webhook_event *ev);

void webhook_event_release(struct webhook_event *ev);

#endif
