/* store_int: what store.c (the interface and its SQLite implementation) shares
 * with store_pg.c (the PostgreSQL implementation). A store opened on PostgreSQL
 * forwards every call of store.h to the store_pg_* function of the same name. */
#ifndef S2I_STORE_INT_H
#define S2I_STORE_INT_H

#include "store.h"

struct store_pg;

/* The push's ref was last built (or is being built) at its commit: the newest
 * build of the ref, with sha and state (a state name) as stored. */
int store_ref_built(const struct build *b, const char *sha, const char *state);

/* database: a postgresql:// URI; password NULL for libpq's own (PGPASSFILE, ~/.pgpass). */
int store_pg_open(const char *database, const char *password, struct store_pg **ret,
		  struct err *e);
/* Another connection to p's database (another thread's). */
int store_pg_reopen(const struct store_pg *p, struct store_pg **ret, struct err *e);
int store_pg_check_url(const char *database, struct err *e);
void store_pg_free(struct store_pg *p);
void store_pg_set_agent(struct store_pg *p, const char *id);
int store_pg_listen(const struct store_pg *p, struct store_pg **ret, struct err *e);
int store_pg_listen_fd(const struct store_pg *p);
int store_pg_notified(struct store_pg *p, store_heard_fn *fn, void *arg);
const char *store_pg_path(const struct store_pg *p);
/* STORE_SYNC_FULL when a COMMIT is flushed (synchronous_commit not off, fsync on) */
int store_pg_sync_mode(const struct store_pg *p);
int store_pg_ping(struct store_pg *p, struct err *e);
int store_pg_begin(struct store_pg *p, struct err *e);
int store_pg_commit(struct store_pg *p, struct err *e);
void store_pg_rollback(struct store_pg *p);
int store_pg_in_transaction(struct store_pg *p);
int store_pg_savepoint(struct store_pg *p, struct err *e);
int store_pg_savepoint_release(struct store_pg *p, struct err *e);
void store_pg_savepoint_rollback(struct store_pg *p);
int store_pg_add_build(struct store_pg *p, struct build *b, long long *ret_dup, struct err *e);
int store_pg_add_push(struct store_pg *p, struct build *b,
		      const unsigned char digest[STORE_DIGEST_LEN], long long *ret_dup,
		      enum store_dup *ret_why, struct err *e);
int store_pg_add_many(struct store_pg *p, struct store_add *a, size_t n, struct err *e);
int store_pg_add_commit(struct store_pg *p, struct store_add *a, size_t n, struct err *e);
int store_pg_find_push(struct store_pg *p, const struct build *b,
		       const unsigned char digest[STORE_DIGEST_LEN], long long *ret_dup,
		       enum store_dup *ret_why, struct err *e);
int store_pg_prune_pushes(struct store_pg *p, long long before_ms, long long *ret_n,
			  struct err *e);
int store_pg_keep_next_repo(struct store_pg *p, const char *after, char **ret, struct err *e);
int store_pg_keep_pick(struct store_pg *p, const struct store_keep *k, long long *ret_ids,
		       size_t max, size_t *ret_n, struct err *e);
int store_pg_keep_delete(struct store_pg *p, long long id, struct err *e);
int store_pg_find_delivery(struct store_pg *p, const char *repo, const char *provider,
			   const char *delivery, long long *ret_id, struct err *e);
int store_pg_get_build(struct store_pg *p, long long id, struct build *ret, struct err *e);
int store_pg_list_builds(struct store_pg *p, const struct store_filter *f,
			 struct build_list *ret, struct err *e);
int store_pg_next_queued(struct store_pg *p, struct build *ret, struct err *e);
int store_pg_set_running(struct store_pg *p, long long id, long long pid, const char *log_path,
			 long long started_ms, struct err *e);
int store_pg_claim(struct store_pg *p, long long id, const char *log_path, long long started_ms,
		   long long *ret_fence, struct err *e);
void store_pg_set_lease(struct store_pg *p, long long lease_ms);
int store_pg_lease_renew(struct store_pg *p, const long long *ids, const long long *fences,
			 size_t n, int *ret_held, struct err *e);
int store_pg_lease_expired(struct store_pg *p, size_t max, struct build_list *ret,
			   long long *ret_next_ms, struct err *e);
int store_pg_take_over(struct store_pg *p, long long id, long long fence, enum build_state state,
		       const char *reason, long long *ret_fence, struct err *e);
int store_pg_fence_check(struct store_pg *p, long long id, long long fence, struct err *e);
int store_pg_set_commit_info(struct store_pg *p, long long id, const char *message,
			     const char *author, struct err *e);
int store_pg_claim_tag(struct store_pg *p, const char *repo, const char *image, const char *ref,
		       long long id, char **ret_owner, struct err *e);
int store_pg_set_finished_at(struct store_pg *p, long long id, enum build_state state,
			     const char *reason, const char *image, const char *image_id,
			     long long finished_ms, struct err *e);
int store_pg_set_pid(struct store_pg *p, long long id, long long pid, struct err *e);
int store_pg_requeue(struct store_pg *p, long long id, const char *reason, struct err *e);
int store_pg_set_sha(struct store_pg *p, long long id, const char *sha, struct err *e);
int store_pg_count_states(struct store_pg *p, long long counts[BUILD_NSTATES], struct err *e);
int store_pg_queue_depth(struct store_pg *p, long long *ret, struct err *e);
int store_pg_status_add(struct store_pg *p, long long build_id, const char *state,
			const char *description, struct err *e);
int store_pg_status_heads(struct store_pg *p, size_t max, struct status_row *ret, size_t *ret_n,
			  struct err *e);
int store_pg_agent_seen(struct store_pg *p, const char *labels, int workers, struct err *e);
int store_pg_agents(struct store_pg *p, long long within_ms, struct strv *ret, struct err *e);
int store_pg_queued_repos(struct store_pg *p, struct store_repo_count **ret, size_t *ret_n,
			  struct err *e);
int store_pg_status_add_queued(struct store_pg *p, long long build_id, const char *description,
			       struct err *e);
int store_pg_status_claim(struct store_pg *p, struct status_row *r, long long now,
			  struct err *e);
int store_pg_status_done(struct store_pg *p, long long id, long long claim, struct err *e);
int store_pg_status_retry(struct store_pg *p, long long id, long long claim, long long next_at,
			  const char *error, struct err *e);
int store_pg_log_stored(struct store_pg *p, long long id, int attempt, long long *ret_len,
			struct err *e);
int store_pg_log_append(struct store_pg *p, long long id, int attempt, long long off,
			const void *data, size_t len, struct err *e);
int store_pg_log_read(struct store_pg *p, long long id, struct store_log_pos *pos, size_t max,
		      struct buf *out, struct err *e);
int store_pg_log_tail(struct store_pg *p, long long id, size_t max, struct buf *out,
		      size_t *ret_skipped, struct err *e);
int store_pg_cancel_ask(struct store_pg *p, long long id, struct err *e);
int store_pg_cancel_pending(struct store_pg *p, long long *ret_ids, size_t max, size_t *ret_n,
			    struct err *e);

/* For store_migrate.c, which copies one store into another: the SQLite connection
 * of s (NULL on PostgreSQL), and the PostgreSQL one (NULL on SQLite). */
struct sqlite3;
struct sqlite3 *store_sqlite(struct store *s);
struct store_pg *store_pg_of(struct store *s);
/* Runs sql once with n parameters, text or (fmts[i] = 1) binary, vals[i] NULL for
 * NULL; *ret_n: the rows it returned, or changed when it returns none. */
int store_pg_exec(struct store_pg *p, const char *sql, int n, const char *const *vals,
		  const int *lens, const int *fmts, long long *ret_n, struct err *e);

#endif
