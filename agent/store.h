/* store: the agent's durable state in SQLite under state_dir (builds, delivery ids,
 * commit statuses waiting to be posted). A connection is used by one thread: the
 * event loop reads through its own, the writer thread (batch.c) writes through another. */
#ifndef S2I_STORE_H
#define S2I_STORE_H

#include <stddef.h>

#include <jansson.h>

#include "err.h"

enum build_state {
	BUILD_QUEUED, BUILD_RUNNING, BUILD_SUCCEEDED, BUILD_FAILED, BUILD_ERRORED,
	BUILD_CANCELED, BUILD_NSTATES
};

/* "queued", "running", ...: the names of the README's "API and metrics" */
const char *store_state_name(enum build_state s);
/* -1 when the name is not a state */
int store_state_parse(const char *name);
int store_state_final(enum build_state s);

/* A build row. Strings are owned (build_release frees them); NULL where unknown.
 * Times are milliseconds since the epoch, 0 where unknown. */
struct build {
	long long id;
	char *repo;
	char *ref;
	char sha[41];
	char before[41];
	enum build_state state;
	char *reason;
	char *image;
	char *image_id;
	long long created, started, finished;
	char *provider;			/* "github", "gitlab", "gitea", "generic", "manual" */
	char *delivery;
	char *message;			/* head commit message, author: from the payload */
	char *author;
	char *repo_full_name;		/* owner/name on the forge (for statuses) */
	char *project_id;		/* GitLab numeric project id */
	char *clone_url;
	int attempt;			/* times the build was started */
	long long pid;			/* the build's process while running, else 0 */
	char *log_path;
	int untrusted;			/* a request from a fork: built without secrets,
					 * network or push (s2i-agent.conf(5) pull_requests) */
	long long retry_of;		/* the build this one retries (POST /builds/ID/retry), else 0 */
	long long fence;		/* shared store: its fencing number (store_claim), else 0 */
	char *agent;			/* shared store: the agent that started it (its
					 * instance id), NULL: none or SQLite */
};

#define BUILD_INIT { 0 }

void build_release(struct build *b);
/* The build object of the README's "API and metrics" (RFC 3339 UTC times, null
 * where unknown). */
json_t *store_build_json(const struct build *b);

struct store;

/* Opens (creating if needed) state_dir/agent.db: WAL, synchronous=FULL (a commit
 * is on disk when it returns), busy timeout. state_dir is created if missing. */
/* One serve per state directory: takes an exclusive lock on state_dir/serve.lock
 * (created, with this pid in it) for as long as *ret_fd stays open; a second agent
 * on the same directory gets an error naming the first one's pid. */
int store_lock_dir(const char *state_dir, int *ret_fd, struct err *e);
int store_open(const char *state_dir, struct store **ret, struct err *e);
/* The store of [agent] database: NULL or "sqlite" is store_open(state_dir); a
 * postgresql:// URL (libpq's URI: its TLS settings pass through) is the store a
 * fleet of agents shares, its schema created or migrated here by the first agent
 * to get its advisory lock. password (database_password_file's) NULL: libpq's own
 * passfile. A URL carrying a password is refused, as is a server whose COMMIT does
 * not reach the disk (synchronous_commit off or fsync off). */
int store_connect(const char *database, const char *password, const char *state_dir,
		  struct store **ret, struct err *e);
/* Another connection to s's database (each thread has its own). */
int store_reopen(const struct store *s, const char *state_dir, struct store **ret,
		 struct err *e);
/* 1 when other agents share the database (PostgreSQL): the counts are then read
 * from it, and store_delta, store_note_* and the WAL calls do nothing. */
int store_shared(const struct store *s);
/* Checks a database setting without connecting: sqlite, or a postgresql:// URL
 * without a password. */
int store_check_database(const char *database, struct err *e);
/* This agent's id (instance.h) on a shared store: recorded on the builds it starts,
 * so that its recovery takes back only its own (store_filter.mine). Copied by
 * store_reopen; nothing on SQLite, whose builds are all this agent's. */
void store_set_agent(struct store *s, const char *id);

/* Wake-ups on a shared store (PostgreSQL's LISTEN/NOTIFY): a COMMIT that queued
 * builds (or requeued one) notifies every agent listening, as does one that claimed
 * a build (a lease to watch) or queued commit statuses. store_listen opens a
 * connection of its own to s's database that only listens; watch store_listen_fd for
 * reading, then store_notified says since its last call: 1 when builds were queued,
 * | 2 when builds were claimed, | 4 when statuses were queued, 0 when none, -1 when
 * the connection is lost (free it, listen again later).
 * What else it heard goes to fn, one call per build (fn may be NULL):
 * STORE_HEARD_LOG, a build's log grew or the build ended (store_log_append,
 * store_set_finished); STORE_HEARD_CANCEL, a cancel was asked (store_cancel_ask).
 * On SQLite store_listen gives *ret = NULL: one agent, nobody else queues. */
enum store_heard { STORE_HEARD_LOG, STORE_HEARD_CANCEL };
typedef void store_heard_fn(void *arg, enum store_heard what, long long id);
int store_listen(const struct store *s, struct store **ret, struct err *e);
int store_listen_fd(const struct store *s);
int store_notified(struct store *s, store_heard_fn *fn, void *arg);
void store_free(struct store *s);
const char *store_path(const struct store *s);
/* Cheap "the database answers" check for /healthz. */
int store_ping(struct store *s, struct err *e);

/* Transactions: group commit wraps many writes in one. Writes outside a
 * transaction commit on their own. */
int store_begin(struct store *s, struct err *e);
int store_commit(struct store *s, struct err *e);
void store_rollback(struct store *s);
/* 1 inside a transaction (SQLite may end one by itself on an error, e.g. SQLITE_FULL). */
int store_in_transaction(struct store *s);
/* One savepoint inside a transaction: the writes since store_savepoint are undone
 * by store_savepoint_rollback (the transaction goes on) or kept by _release. */
int store_savepoint(struct store *s, struct err *e);
int store_savepoint_release(struct store *s, struct err *e);
void store_savepoint_rollback(struct store *s);
/* The changes of the open transaction to the builds per state (for another
 * connection's counts, see store_note_counts). */
void store_delta(const struct store *s, long long ret[BUILD_NSTATES]);

/* Checkpoints off the commit path. SQLite's own checkpoint runs inside the COMMIT
 * that grows the WAL past its limit: it writes the copied pages to the database
 * file and fsyncs it, and every delivery waiting on that COMMIT waits for that too.
 * store_wal_manual() turns it off for the writer's connection and records the WAL's
 * length after each of its commits (store_wal_frames); the daemon copies the WAL
 * back from a thread of its own through store_checkpoint(). */
void store_wal_manual(struct store *s);
/* A bare connection to the database at path (store_path of another), for
 * store_checkpoint only: no schema, no statements, little memory. */
int store_open_checkpointer(const char *path, struct store **ret, struct err *e);
/* SQLite's number for PRAGMA synchronous = FULL */
#define STORE_SYNC_FULL 2
/* in state_dir: held by the serve process that owns the directory */
#define STORE_LOCK_FILE "serve.lock"
/* SQLite's synchronous level of this connection (STORE_SYNC_FULL on every
 * connection store_open and store_open_checkpointer return), -1 on error. */
int store_sync_mode(const struct store *s);
/* Frames in the WAL after this connection's last commit (store_wal_manual only). */
int store_wal_frames(const struct store *s);
/* Copies what it can of the WAL into the database without waiting for anyone
 * (SQLite's PASSIVE mode); *ret_left: frames still to copy. 1 when another
 * checkpoint was running, 0 done, -1 error. */
int store_checkpoint(struct store *s, int *ret_left, struct err *e);

/* Inserts b as a queued build (b->created set to now when 0) and, when
 * b->delivery is set, records (repo, provider, delivery) for idempotency.
 * Returns 0 with b->id set, or 0 with b->id = 0 and *ret_dup = the earlier
 * build when that delivery was already seen; -1 on error. */
int store_add_build(struct store *s, struct build *b, long long *ret_dup, struct err *e);

/* Replay guard (intake). A verified push carries the SHA-256 of what its signature
 * covers (webhook_verify_signed); a delivery id is not signed, so it cannot tell a
 * replay from a new event. Why a push queues nothing: */
enum store_dup {
	STORE_DUP_NONE,
	STORE_DUP_DELIVERY,		/* its delivery id queued a build already */
	STORE_DUP_REPLAY,		/* the repo saw its signed material (the same digest) */
	STORE_DUP_BUILT			/* the ref's newest build is of its commit and is
					 * queued, running or succeeded */
};
#define STORE_DIGEST_LEN	32	/* SHA-256 */

/* store_add_build for a verified push: 0 with b->id set, or 0 with b->id = 0,
 * *ret_dup = the earlier build and *ret_why when it is one of the above. The
 * digest is recorded per repo (UNIQUE) with the build, or with the ref's build
 * when STORE_DUP_BUILT, for REPLAY_KEEP_DAYS. -1 on error. */
int store_add_push(struct store *s, struct build *b, const unsigned char digest[STORE_DIGEST_LEN],
		   long long *ret_dup, enum store_dup *ret_why, struct err *e);
/* Many store_add_push (sa_digest set) and store_add_build (sa_digest NULL) calls,
 * in order, in the open transaction, each filling its sa_build->id or sa_dup and
 * sa_why (STORE_DUP_DELIVERY for a build's known delivery). On PostgreSQL they take
 * one round trip per 64 rather than one each (the group commit's deliveries); -1
 * on error, the transaction is then lost. */
struct store_add {
	struct build *sa_build;
	const unsigned char *sa_digest;
	long long sa_dup;
	enum store_dup sa_why;
};
int store_add_many(struct store *s, struct store_add *a, size_t n, struct err *e);
/* store_add_many in a transaction of its own, committed (no transaction may be
 * open): 0 once committed, -1 on error (nothing written). On PostgreSQL BEGIN, the
 * adds, the NOTIFY and the COMMIT take one round trip (up to 61 adds). */
int store_add_commit(struct store *s, struct store_add *a, size_t n, struct err *e);
/* The same checks, writing nothing (a full queue still answers duplicates): 0 with
 * *ret_dup and *ret_why, 1 when the push would queue a build, -1 on error. */
int store_find_push(struct store *s, const struct build *b,
		    const unsigned char digest[STORE_DIGEST_LEN], long long *ret_dup,
		    enum store_dup *ret_why, struct err *e);
/* Forgets digests first seen before before_ms, at most REPLAY_PRUNE_ROWS of them;
 * *ret_n: how many. */
int store_prune_pushes(struct store *s, long long before_ms, long long *ret_n, struct err *e);

/* Retention (s2i-agent.conf(5), keep_builds and keep_days): which builds a pass
 * may delete, and deleting them. Never picked: a build that is not final, the
 * newest build of its ref, a build with a commit status still to post. */
struct store_keep {
	const char *repo;
	long keep_builds;		/* > 0: builds past the repo's newest keep_builds */
	long long finished_before;	/* > 0: builds that finished before (ms) */
	long long after_id;		/* only builds with a larger id (paging) */
};

/* The first repository name of the builds after `after` ("" or NULL: the first):
 * 0 with *ret (caller frees), 1 when there is none, -1 on error. */
int store_keep_next_repo(struct store *s, const char *after, char **ret, struct err *e);
/* Up to max ids of k->repo's builds past retention, oldest first, into ret_ids. */
int store_keep_pick(struct store *s, const struct store_keep *k, long long *ret_ids, size_t max,
		    size_t *ret_n, struct err *e);
/* Deletes a final build and its delivery id (the state counts follow): 0, 1 when
 * it is gone or not final, -1 on error. Its log is the caller's. */
int store_keep_delete(struct store *s, long long id, struct err *e);

/* The build a delivery queued: 0 with *ret_id, 1 when unseen, -1 on error. */
int store_find_delivery(struct store *s, const char *repo, const char *provider,
			const char *delivery, long long *ret_id, struct err *e);

/* 0 with *ret filled, 1 when there is no such build, -1 on error. */
int store_get_build(struct store *s, long long id, struct build *ret, struct err *e);

struct store_filter {
	const char *repo;		/* NULL: any */
	const char *ref;		/* NULL: any */
	int state;			/* -1: any, else enum build_state */
	size_t limit;			/* 0: BUILDS_LIST_DEFAULT; capped at BUILDS_LIST_MAX */
	int oldest_first;		/* default newest first */
	long long before_id;		/* > 0: only builds with a smaller id */
	int mine;			/* only the builds this agent started (store_set_agent) */
	int runnable;			/* shared store: only queued builds that may start
					 * now, the oldest queued of a repository none of
					 * whose builds runs on any agent */
};

#define STORE_FILTER_INIT { NULL, NULL, -1, 0, 0, 0, 0, 0 }

struct build_list {
	struct build *items;
	size_t n;
};

#define BUILD_LIST_INIT { NULL, 0 }

int store_list_builds(struct store *s, const struct store_filter *f, struct build_list *ret,
		      struct err *e);
void build_list_release(struct build_list *l);

/* The oldest queued build: 0 with *ret filled, 1 when none, -1 on error. */
int store_next_queued(struct store *s, struct build *ret, struct err *e);
/* queued -> running: started = now, attempt + 1, pid and log path recorded.
 * Returns 1 (nothing changed) when the build is not queued. */
int store_set_running(struct store *s, long long id, long long pid, const char *log_path,
		      struct err *e);
/* The same with the start time given (ms since the epoch): the worker's own clock for
 * the build, so the log's "succeeded in" and the API's duration_ms agree. */
int store_set_running_at(struct store *s, long long id, long long pid, const char *log_path,
			 long long started_ms, struct err *e);
/* The scheduler's store_set_running: on a shared store it also returns 1 when
 * another build of the repository runs (on any agent) or is older and queued, so
 * that a repository's builds run one at a time and in push order across the fleet
 * (agents starting builds of one repository take turns through a lock held to the
 * COMMIT). On SQLite the worker keeps that order itself. */
int store_claim(struct store *s, long long id, const char *log_path, long long started_ms,
		long long *ret_fence, struct err *e);

/* Leases, on a shared store (s2i-agent.conf(5) lease). A claim is a lease: the build
 * is its agent's (store_set_agent) for lease_ms, renewed by store_lease_renew, and
 * gets a new fencing number (*ret_fence of store_claim). Once a lease has run out
 * another agent takes the build over (store_take_over), which moves the number on;
 * a write carrying the old number is then refused (store_fence_check). Expiries
 * are on the database's clock. On SQLite (one agent) there are no leases: fences
 * are 0, every lease is held and none runs out. */
void store_set_lease(struct store *s, long long lease_ms);
/* Renews this agent's leases on the builds ids[i] at fences[i]: *ret_held[i] = 1
 * when it still holds it, 0 when the build was taken over (or ended). */
int store_lease_renew(struct store *s, const long long *ids, const long long *fences, size_t n,
		      int *ret_held, struct err *e);
/* The running builds whose lease ran out (any agent's), the first expired first, at
 * most max (with fence and attempt); *ret_next_ms: ms until the next lease runs
 * out, -1 when no other build runs (0: more past max). */
int store_lease_expired(struct store *s, size_t max, struct build_list *ret,
			long long *ret_next_ms, struct err *e);
/* Takes over build id held at fence, when its lease ran out or it is this agent's
 * own (its restart): state BUILD_QUEUED runs it again, a final state ends it with
 * reason. 0 with *ret_fence the new number, 1 when it was renewed or someone else
 * took it first, -1 on error. */
int store_take_over(struct store *s, long long id, long long fence, enum build_state state,
		    const char *reason, long long *ret_fence, struct err *e);
/* In a transaction: 0 when build id's fencing number is still fence (the row stays
 * locked to the COMMIT, so no takeover can land between), 1 when it moved on (the
 * write that carries it is refused), -1 on error. */
int store_fence_check(struct store *s, long long id, long long fence, struct err *e);
/* The image name a build of repo's ref writes, made from the ref by the tag
 * template: the first ref to claim it owns it. 0 when ref owns it (now or
 * before), 1 with *ret_owner (caller frees) when another ref does, -1 on error. */
int store_claim_tag(struct store *s, const char *repo, const char *image, const char *ref,
		    long long id, char **ret_owner, struct err *e);
/* -> a final state with finished = now; reason/image/image_id may be NULL (kept
 * as they were). Returns 1 when the build was already final. */
int store_set_finished(struct store *s, long long id, enum build_state state, const char *reason,
		       const char *image, const char *image_id, struct err *e);
/* The same with the time it finished (a result recorded late keeps its real end). */
int store_set_finished_at(struct store *s, long long id, enum build_state state,
			  const char *reason, const char *image, const char *image_id,
			  long long finished_ms, struct err *e);
/* The commit's subject and author, where the build has none yet (a payload's stay);
 * either may be NULL. 1 when nothing changed. */
int store_set_commit_info(struct store *s, long long id, const char *message, const char *author,
			  struct err *e);
/* The build's process, once started (after store_set_running). 1 when not running. */
int store_set_pid(struct store *s, long long id, long long pid, struct err *e);
/* running -> queued again (for a rerun after a crash), reason kept for the record. */
int store_requeue(struct store *s, long long id, const char *reason, struct err *e);

/* Records the commit a build resolved its ref to (manual builds queued with a
 * ref only have sha ""). Returns 1 when the build already had a sha. */
int store_set_sha(struct store *s, long long id, const char *sha, struct err *e);

/* counts[state] for every state, and the number of queued builds. Both are
 * kept in memory (loaded at open, updated by the calls above), so they cost
 * nothing; this is why build states must only change through this module. */
int store_count_states(struct store *s, long long counts[BUILD_NSTATES], struct err *e);
int store_queue_depth(struct store *s, long long *ret, struct err *e);
/* The queued builds of each repository (at most STORE_REPOS_MAX repositories, by
 * name): *ret (store_repo_counts_free) and *ret_n; untouched on failure. */
struct store_repo_count {
	char *repo;
	long long n;
};
int store_queued_repos(struct store *s, struct store_repo_count **ret, size_t *ret_n,
		       struct err *e);
void store_repo_counts_free(struct store_repo_count *c, size_t n);
/* A fleet's agents (shared store): this one (store_set_agent) is running, with these
 * labels ("k=v,..." as config_labels_str writes them) and workers; and the labels
 * of those heard of within within_ms that run builds (workers > 0), pushed onto
 * *ret (at most STORE_AGENTS_MAX). Nothing on SQLite: no agent but this one. */
struct strv;
int store_agent_seen(struct store *s, const char *labels, int workers, struct err *e);
int store_agents(struct store *s, long long within_ms, struct strv *ret, struct err *e);
/* A shared store's counts as another connection read them (the daemon's writer
 * thread, batch.c, every BATCH_COUNTS_MS): from then on store_count_states and
 * store_queue_depth on s answer the last ones given, without a query, so that the
 * event loop never waits on the database for them. Nothing on SQLite, whose counts
 * are kept in memory anyway. */
void store_give_counts(struct store *s, const long long counts[BUILD_NSTATES]);
/* n builds were queued through another connection to the same database (the
 * intake's writer thread, batch.c): keeps this connection's counts right. */
void store_note_queued(struct store *s, long long n);
/* The same for any change committed through another connection (store_delta). */
void store_note_counts(struct store *s, const long long delta[BUILD_NSTATES]);

/* Commit statuses waiting to be posted to a forge (README, "API and metrics"): kept
 * until posted so they survive restarts. State is the forge's word ("pending",
 * "success"...). */
struct status_row {
	long long id;
	long long build_id;
	char *state;
	char *description;
	int attempts;
	long long next_at;		/* ms since the epoch */
	char *last_error;
	char *repo;			/* its build's repo, NULL when the build is gone */
	long long claim;		/* store_status_claim's token, 0: not claimed */
	int taken_over;			/* store_status_claim took over a claim still in flight
					 * (its agent died, maybe after the forge had the post) */
};

#define STATUS_ROW_INIT { 0 }

void status_row_release(struct status_row *r);
int store_status_add(struct store *s, long long build_id, const char *state,
		     const char *description, struct err *e);
/* A build's queued status, once: on a shared store the agent that queued the
 * build and another starting it may both write it, and the starting agent writes
 * it with the build's start, ahead of the running status (PostgreSQL's row lock on
 * the build orders them, and the first one only writes it). On SQLite, as
 * store_status_add. */
int store_status_add_queued(struct store *s, long long build_id, const char *description,
			    struct err *e);
/* The first waiting status of each commit (repo + sha; a build whose commit is
 * not known, or that is gone, counts as a commit of its own), earliest next_at
 * first, then oldest: at most max rows into ret[0..*ret_n). Posting only these,
 * and each only after the one before it is done, keeps a commit's statuses in
 * order (a retry's `pending` cannot land after the first build's `success`).
 * The rows of ret are the caller's to release; untouched on failure. */
int store_status_heads(struct store *s, size_t max, struct status_row *ret, size_t *ret_n,
		       struct err *e);
/* Claims r (a row store_status_heads returned) to post it, when it is due at now
 * and no other agent holds it: 1 with r->claim and r->attempts set, 0 when it is
 * not (gone, held, not due), -1 on error. On a shared store the claim is a row
 * update, so of two agents only one gets it; it lasts STATUS_CLAIM_SECONDS, after
 * which another agent may take it over (its agent died), and heads gives a held
 * row's next_at as the end of its claim; r->taken_over says whether the claim
 * taken was such an expired one, whose post may have reached the forge. On SQLite the one agent's table of posts
 * in flight is the claim: always 1. */
int store_status_claim(struct store *s, struct status_row *r, long long now, struct err *e);
/* The post of a claimed row is over: done deletes it, retry puts it back after
 * next_at. Both only with the claim still held (claim: r->claim): a claim taken
 * over meanwhile is the other agent's to end. */
int store_status_done(struct store *s, long long id, long long claim, struct err *e);
int store_status_retry(struct store *s, long long id, long long claim, long long next_at,
		       const char *error, struct err *e);

/* s2i-agent migrate: copies from (an agent's SQLite store) into to (a fleet's
 * PostgreSQL) in one transaction: builds keep their ids (their URLs stay valid),
 * those the agent started are recorded as agent's (its recovery on to takes them
 * back), with their delivery ids, replay guard digests, image name owners, the
 * commit statuses still to post and their logs (the files their log_path names, into
 * the store's chunks, store_log_append). Again on the same stores, it copies only what is
 * new (the build ids already there and their statuses are skipped); a build id the
 * target holds for another build fails the whole copy, nothing written. */
struct store_copy_tally {
	long long sct_builds, sct_builds_there, sct_deliveries, sct_pushes, sct_tags,
		  sct_statuses, sct_logs, sct_log_bytes;
};

int store_copy(struct store *from, struct store *to, const char *agent,
	       struct store_copy_tally *t, struct err *e);

/* A build's log on a shared store, so that any agent serves it, live and after the
 * agent that ran it is gone. That agent copies what its log file gains into chunks
 * (store_log_append, batched); pruning a build deletes them. A chunk is placed by
 * the attempt that wrote it and its offset in that attempt's bytes, and the log
 * reads attempt after attempt. A build's chunks hold at most STORE_LOG_MAX bytes.
 * On SQLite (one agent, who has the log file) these calls find nothing: 1. */
struct store_log_pos {
	int attempt;
	long long off;
};

#define STORE_LOG_POS_INIT { 0, 0 }

struct buf;

/* The bytes the attempt's chunks hold, into *ret_len (0 on SQLite). */
int store_log_stored(struct store *s, long long id, int attempt, long long *ret_len,
		     struct err *e);
/* Adds data[0..len) (at most STORE_LOG_CHUNK_MAX) at off of the attempt's bytes, and
 * wakes the agents following the log at the COMMIT: 0, 1 when that would take the
 * build's chunks past STORE_LOG_MAX (nothing added), -1 on error. */
int store_log_append(struct store *s, long long id, int attempt, long long off,
		     const void *data, size_t len, struct err *e);
/* Appends to out the chunks from *pos on, whole, up to max bytes (at least one
 * chunk), and moves *pos past them: 0, 1 when there is none, -1 on error. */
int store_log_read(struct store *s, long long id, struct store_log_pos *pos, size_t max,
		   struct buf *out, struct err *e);
/* Appends the log's last max bytes at most to out, *ret_skipped the bytes before
 * them: 0, 1 when the build has no chunks, -1 on error. */
int store_log_tail(struct store *s, long long id, size_t max, struct buf *out,
		   size_t *ret_skipped, struct err *e);
/* Asks the agent running build id to stop it (it hears STORE_HEARD_CANCEL at the
 * COMMIT, or finds it with store_cancel_pending): 0, 1 when it is not running. */
int store_cancel_ask(struct store *s, long long id, struct err *e);
/* Up to max of this agent's (store_set_agent) running builds whose cancel was
 * asked, into ret_ids[0..*ret_n). */
int store_cancel_pending(struct store *s, long long *ret_ids, size_t max, size_t *ret_n,
			 struct err *e);

/* Wall clock in ms since the epoch. */
long long store_now_ms(void);

#endif
