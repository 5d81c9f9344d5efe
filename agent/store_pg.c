/* store_pg: the store on PostgreSQL (libpq), shared by a fleet of agents. The same
 * semantics as the SQLite store: the schema is versioned and migrated on open under
 * an advisory lock (the first agent to start does it); delivery dedup and the replay
 * guard hold across agents through unique constraints (INSERT ... ON CONFLICT), not
 * through what one connection read; counts are read from the table, since other
 * agents change it. A connection is used by one thread. */
#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <libpq-fe.h>

#include "buf.h"
#include "limits.h"
#include "store_int.h"

/* libpq, loaded when a store is first opened on PostgreSQL (dlopen): the daemon's
 * executable does not link it, so an agent on SQLite does not carry it and what it
 * loads (OpenSSL, Kerberos, LDAP: twice the daemon's idle memory) */
#define PG_LIBPQ	"libpq.so.5"
#define PG_API(X) \
	X(PQclear) \
	X(PQcmdStatus) \
	X(PQcmdTuples) \
	X(PQconnectdbParams) \
	X(PQconninfoFree) \
	X(PQconninfoParse) \
	X(PQconsumeInput) \
	X(PQerrorMessage) \
	X(PQexec) \
	X(PQexecParams) \
	X(PQexecPrepared) \
	X(PQfinish) \
	X(PQfreemem) \
	X(PQenterPipelineMode) \
	X(PQexitPipelineMode) \
	X(PQgetResult) \
	X(PQgetisnull) \
	X(PQgetlength) \
	X(PQgetvalue) \
	X(PQisBusy) \
	X(PQnotifies) \
	X(PQntuples) \
	X(PQpipelineSync) \
	X(PQprepare) \
	X(PQreset) \
	X(PQresultErrorMessage) \
	X(PQresultStatus) \
	X(PQsendPrepare) \
	X(PQsendQuery) \
	X(PQsendQueryPrepared) \
	X(PQsendQueryParams) \
	X(PQsetNoticeProcessor) \
	X(PQsocket) \
	X(PQstatus) \
	X(PQtransactionStatus)

static struct {
#define PG_API_FIELD(f) __typeof__(&f) f;
	PG_API(PG_API_FIELD)
#undef PG_API_FIELD
} pq;
static pthread_once_t pq_once = PTHREAD_ONCE_INIT;
static char pq_error[256];	/* why it could not be loaded, "" when loaded */

static void pq_load(void)
{
	void *h = dlopen(PG_LIBPQ, RTLD_NOW | RTLD_LOCAL);
	const char *err;

	if (!h) {
		err = dlerror();
		snprintf(pq_error, sizeof(pq_error), "%s", err ? err : "unknown error");
		return;
	}
#define PG_API_LOAD(f) \
	if (!pq_error[0] && !(*(void **)&pq.f = dlsym(h, #f))) \
		snprintf(pq_error, sizeof(pq_error), "%s has no %s", PG_LIBPQ, #f);
	PG_API(PG_API_LOAD)
#undef PG_API_LOAD
}

static int pq_ready(struct err *e)
{
	pthread_once(&pq_once, pq_load);
	if (pq_error[0])
		return err_set(e, "cannot load PostgreSQL's client library (Debian's libpq5): %s",
			       pq_error);
	return 0;
}

/* pg_advisory_xact_lock key of the schema migration: "s2ia" */
#define PG_SCHEMA_LOCK	1932683617LL
/* pg_try_advisory_xact_lock key of folding build_counts: "s2ic" */
#define PG_COUNT_LOCK_SQL "1932683619"
/* notified by a COMMIT that queued builds (store_listen) */
#define PG_CHANNEL	"s2i_queued"
/* ... that added to a build's log or ended it, that asked to cancel a build: the
 * payload is the build's id */
#define PG_CHANNEL_LOG	"s2i_log"
#define PG_CHANNEL_CANCEL "s2i_cancel"
/* the payload of a notification that a build was claimed: a lease to watch */
#define PG_LEASED	"lease"
/* ... that commit statuses were queued: only these wake the status posters, so an
 * agent does not read the outbox on every delivery of the fleet */
#define PG_STATUSES	"status"
#define PG_PARAMS_MAX	16
/* statements sent before their answers are read (store_pg_add_many): bounded, so that
 * neither side's socket buffer fills while the other waits */
#define PG_PIPELINE_MAX	64
/* a connection attempt that failed after this long (ms) is not made again at once */
#define PG_SLOW_CONNECT_MS 1000

enum {
	PS_FIND_DELIVERY, PS_GET,
	PS_NEXT_QUEUED, PS_SET_RUNNING, PS_SET_FINISHED, PS_REQUEUE, PS_COUNT, PS_DEPTH, PS_STATE,
	PS_SET_SHA, PS_SET_PID, PS_SET_COMMIT, PS_STATUS_ADD, PS_STATUS_HEADS, PS_STATUS_DONE, PS_STATUS_RETRY,
	PS_STATUS_CLAIM, PS_STATUS_QUEUED, PS_QUEUED_REPOS, PS_AGENT_SEEN, PS_AGENTS,
	PS_FIND_SIGNED, PS_REF_NEWEST, PS_PRUNE_SIGNED, PS_TAG_CLAIM, PS_TAG_OWNER,
	PS_REPO_LOCK, PS_CLAIM, PS_KEEP_REPO, PS_KEEP_NTH, PS_KEEP_PICK, PS_KEEP_DELETE,
	PS_KEEP_DELIVERY, PS_LEASE_RENEW, PS_LEASE_SCAN, PS_TAKE_OVER, PS_FENCE, PS_LOG_STORED,
	PS_LOG_APPEND, PS_LOG_READ, PS_LOG_TAIL, PS_CANCEL_ASK, PS_CANCEL_PENDING, PS_ADD,
	PS_COUNT_FOLD, PS_N
};

/* the database's clock in ms: leases are compared with one clock, not each agent's */
#define PG_NOW "(extract(epoch from clock_timestamp()) * 1000)::bigint"

/* a build that may start: none of its repository's builds runs, none older waits */
#define PG_RUNNABLE "NOT EXISTS (SELECT 1 FROM builds o WHERE o.repo = builds.repo " \
	"AND (o.state = 'running' OR (o.state = 'queued' AND o.id < builds.id)))"

#define PG_BUILD_COLS "id, repo, ref, sha, before_sha, state, reason, image, image_id, " \
	"created, started, finished, provider, delivery, message, author, repo_full_name, " \
	"project_id, clone_url, attempt, pid, log_path, untrusted, retry_of, fence, agent"
#define PG_BUILD_NCOLS 26

static const char *const pg_sql[PS_N] = {
	[PS_FIND_DELIVERY] = "SELECT build_id FROM deliveries WHERE repo = $1 AND provider = $2 "
		"AND delivery = $3",
	[PS_GET] = "SELECT " PG_BUILD_COLS " FROM builds WHERE id = $1",
	[PS_NEXT_QUEUED] = "SELECT " PG_BUILD_COLS " FROM builds WHERE state = 'queued' "
		"ORDER BY id LIMIT 1",
	[PS_SET_RUNNING] = "UPDATE builds SET state = 'running', started = $2, attempt = attempt + 1, "
		"pid = $3, log_path = coalesce($4, log_path), finished = NULL, agent = $5, "
		"fence = fence + 1, lease_until = " PG_NOW " + $6 "
		"WHERE id = $1 AND state = 'queued'",
	/* a claim is a lease ($6 ms, renewed by PS_LEASE_RENEW) with a new fencing number */
	[PS_CLAIM] = "UPDATE builds SET state = 'running', started = $2, attempt = attempt + 1, "
		"pid = $3, log_path = coalesce($4, log_path), finished = NULL, agent = $5, "
		"fence = fence + 1, lease_until = " PG_NOW " + $6 "
		"WHERE id = $1 AND state = 'queued' AND " PG_RUNNABLE " RETURNING fence",
	/* held to the COMMIT: agents starting builds of one repository take turns, each
	 * seeing what the one before committed */
	[PS_REPO_LOCK] = "SELECT pg_advisory_xact_lock(hashtext('s2i_repo:' || repo)) "
		"FROM builds WHERE id = $1",
	[PS_SET_FINISHED] = "UPDATE builds SET state = $2, finished = $3, "
		"reason = coalesce($4, reason), image = coalesce($5, image), "
		"image_id = coalesce($6, image_id), pid = NULL "
		"WHERE id = $1 AND state IN ('queued', 'running')",
	[PS_REQUEUE] = "UPDATE builds SET state = 'queued', reason = coalesce($2, reason), pid = NULL, "
		"started = NULL WHERE id = $1 AND state = 'running'",
	[PS_COUNT] = "SELECT state, sum(n) FROM build_counts GROUP BY state",
	[PS_DEPTH] = "SELECT coalesce(sum(n), 0) FROM build_counts WHERE state = 'queued'",
	/* the rows of changes summed into one per state, by one agent at a time (the
	 * others skip it); what commits meanwhile stays as rows for the next fold */
	[PS_COUNT_FOLD] = "WITH l AS (SELECT pg_try_advisory_xact_lock(" PG_COUNT_LOCK_SQL ") AS got), "
		"d AS (DELETE FROM build_counts WHERE (SELECT got FROM l) RETURNING state, n) "
		"INSERT INTO build_counts SELECT state, sum(n) FROM d GROUP BY state HAVING sum(n) <> 0",
	[PS_AGENT_SEEN] = "INSERT INTO agents (id, labels, workers, seen) VALUES ($1, $2, $3, "
		PG_NOW ") ON CONFLICT (id) DO UPDATE SET labels = $2, workers = $3, seen = " PG_NOW,
	/* those heard of within $1 ms that run builds */
	[PS_AGENTS] = "SELECT labels FROM agents WHERE workers > 0 AND seen > " PG_NOW " - $1 "
		"ORDER BY id LIMIT $2",
	[PS_QUEUED_REPOS] = "SELECT repo, count(*) FROM builds WHERE state = 'queued' GROUP BY repo "
		"ORDER BY repo LIMIT $1",
	[PS_STATE] = "SELECT state FROM builds WHERE id = $1 FOR UPDATE",
	[PS_SET_SHA] = "UPDATE builds SET sha = $2 WHERE id = $1 AND sha = ''",
	[PS_SET_PID] = "UPDATE builds SET pid = $2 WHERE id = $1 AND state = 'running'",
	[PS_SET_COMMIT] = "UPDATE builds SET message = coalesce(message, $2), "
		"author = coalesce(author, $3) WHERE id = $1",
	[PS_STATUS_ADD] = "INSERT INTO statuses (build_id, state, description, next_at, created) "
		"VALUES ($1, $2, $3, $4, $4)",
	/* as store.c's: the oldest waiting status of each commit (repo + sha; a build
	 * whose commit is unknown, or that is gone, is a commit of its own); one another
	 * agent holds ($2: now) is due when its claim ends */
	[PS_STATUS_HEADS] = "SELECT s.id, s.build_id, s.state, s.description, s.attempts, "
		"CASE WHEN s.claim_until > $2 THEN greatest(s.next_at, s.claim_until) "
		"ELSE s.next_at END AS due, "
		"s.last_error, b.repo FROM statuses s LEFT JOIN builds b ON b.id = s.build_id "
		"WHERE s.id IN (SELECT min(t.id) FROM statuses t LEFT JOIN builds c ON c.id = t.build_id "
		"GROUP BY c.repo, coalesce(nullif(c.sha, ''), '#' || t.build_id)) "
		"ORDER BY due, s.id LIMIT $1",
	/* one UPDATE: of two agents claiming a row at once, the second waits for the
	 * first's COMMIT, then finds the row held and changes nothing. claim counts the
	 * claims: the token that done and retry must show ($3: now, $4: the claim's ms).
	 * A claim left set is one whose post never ended (done deletes the row, retry
	 * clears it): unsure marks the row once a claim took such a one over, for good
	 * (a later retry does not tell whether that post reached the forge), and the
	 * third column returns it */
	[PS_STATUS_CLAIM] = "UPDATE statuses s SET claimed_by = $2, claim_until = $3::bigint + $4, "
		"claim = s.claim + 1, unsure = CASE WHEN o.claim_until IS NOT NULL THEN 1 "
		"ELSE s.unsure END FROM (SELECT id, claim_until FROM statuses WHERE id = $1 "
		"FOR UPDATE) o WHERE s.id = o.id AND s.next_at <= $3 "
		"AND (s.claim_until IS NULL OR s.claim_until <= $3) "
		"RETURNING s.claim, s.attempts, s.unsure",
	[PS_STATUS_DONE] = "DELETE FROM statuses WHERE id = $1 AND claim = $2",
	/* the build's queued status is written once, by the first of the agent that
	 * queued it and the one starting it (the row lock orders them) */
	[PS_STATUS_QUEUED] = "UPDATE builds SET queued_status = 1 WHERE id = $1 AND queued_status = 0",
	[PS_STATUS_RETRY] = "UPDATE statuses SET attempts = attempts + 1, next_at = $2, "
		"last_error = $3, claimed_by = NULL, claim_until = NULL WHERE id = $1 AND claim = $4",
	[PS_FIND_SIGNED] = "SELECT build_id FROM signed_pushes WHERE repo = $1 AND digest = $2",
	[PS_REF_NEWEST] = "SELECT id, sha, state FROM builds WHERE repo = $1 AND ref = $2 "
		"ORDER BY id DESC LIMIT 1",
	[PS_PRUNE_SIGNED] = "DELETE FROM signed_pushes WHERE (repo, digest) IN "
		"(SELECT repo, digest FROM signed_pushes WHERE seen < $1 ORDER BY seen LIMIT $2)",
	[PS_TAG_CLAIM] = "INSERT INTO tag_owners (repo, image, ref, build_id) VALUES ($1, $2, $3, $4) "
		"ON CONFLICT DO NOTHING",
	[PS_TAG_OWNER] = "SELECT ref FROM tag_owners WHERE repo = $1 AND image = $2",
	/* retention, as store.c's: each through an index (builds_repo, builds_ref,
	 * statuses_build), so a slice of a pass stays short */
	[PS_KEEP_REPO] = "SELECT min(repo) FROM builds WHERE repo > $1",
	[PS_KEEP_NTH] = "SELECT id FROM builds WHERE repo = $1 ORDER BY id DESC LIMIT 1 OFFSET $2",
	[PS_KEEP_PICK] = "SELECT c.id FROM builds c WHERE c.repo = $1 AND c.id > $4 "
		"AND (c.id <= $2 OR c.finished < $3) "
		"AND c.state IN ('succeeded', 'failed', 'errored', 'canceled') "
		"AND EXISTS (SELECT 1 FROM builds r WHERE r.repo = c.repo AND r.ref = c.ref "
		"AND r.id > c.id) "
		"AND NOT EXISTS (SELECT 1 FROM statuses t WHERE t.build_id = c.id) "
		"ORDER BY c.id LIMIT $5",
	/* only a final build: one another agent started meanwhile stays */
	[PS_KEEP_DELETE] = "DELETE FROM builds WHERE id = $1 "
		"AND state IN ('succeeded', 'failed', 'errored', 'canceled') "
		"RETURNING repo, provider, delivery",
	[PS_KEEP_DELIVERY] = "DELETE FROM deliveries WHERE repo = $1 AND provider = $2 "
		"AND delivery = $3 AND build_id = $4",
	/* leases: $3 and $4 the ids and fences this agent runs, as arrays */
	[PS_LEASE_RENEW] = "UPDATE builds SET lease_until = " PG_NOW " + $2 "
		"WHERE agent = $1 AND state = 'running' "
		"AND (id, fence) IN (SELECT * FROM unnest($3::bigint[], $4::bigint[])) RETURNING id",
	[PS_LEASE_SCAN] = "SELECT " PG_BUILD_COLS ", lease_until - " PG_NOW " FROM builds "
		"WHERE state = 'running' AND lease_until IS NOT NULL ORDER BY lease_until LIMIT $1",
	/* a lease that ran out, or this agent's own (its restart): the fence moves on, so
	 * whoever held it can no longer write the build's outcome or statuses */
	[PS_TAKE_OVER] = "UPDATE builds SET fence = fence + 1, state = $3, "
		"reason = coalesce($4, reason), pid = NULL, lease_until = NULL, "
		"started = CASE WHEN $3 = 'queued' THEN NULL ELSE started END, "
		"finished = CASE WHEN $3 = 'queued' THEN NULL ELSE $5::bigint END "
		"WHERE id = $1 AND fence = $2 AND state = 'running' "
		"AND (lease_until < " PG_NOW " OR agent = $6) RETURNING fence",
	/* held to the COMMIT: a takeover waits for the write that passed this */
	[PS_FENCE] = "SELECT 1 FROM builds WHERE id = $1 AND fence = $2 FOR UPDATE",
	/* a build's log (store_log_*): the chunks of each attempt follow each other, and
	 * those of an attempt are contiguous, so what it has is the sum of their lengths */
	[PS_LOG_STORED] = "SELECT coalesce(sum(len), 0) FROM build_logs "
		"WHERE build_id = $1 AND attempt = $2",
	/* within the build's cap ($5), and the followers woken at the COMMIT */
	[PS_LOG_APPEND] = "WITH ins AS (INSERT INTO build_logs (build_id, attempt, off, len, data) "
		"SELECT $1::bigint, $2::integer, $3::bigint, length($4::bytea), $4::bytea "
		"WHERE (SELECT coalesce(sum(len), 0) FROM build_logs WHERE build_id = $1::bigint) "
		"+ length($4::bytea) <= $5::bigint "
		"ON CONFLICT DO NOTHING RETURNING build_id) "
		"SELECT pg_notify('" PG_CHANNEL_LOG "', build_id::text) FROM ins",
	[PS_LOG_READ] = "SELECT attempt, off, data FROM build_logs WHERE build_id = $1 "
		"AND (attempt, off) >= ($2::integer, $3::bigint) ORDER BY attempt, off LIMIT $4",
	/* the last chunks that hold the final $2 bytes, in order, and the log's length */
	[PS_LOG_TAIL] = "SELECT data, total FROM (SELECT attempt, off, data, len, "
		"sum(len) OVER (ORDER BY attempt DESC, off DESC) AS behind, sum(len) OVER () AS total "
		"FROM build_logs WHERE build_id = $1) t WHERE behind - len < $2 ORDER BY attempt, off",
	[PS_CANCEL_ASK] = "WITH u AS (UPDATE builds SET cancel_at = $2 WHERE id = $1 "
		"AND state = 'running' RETURNING id) "
		"SELECT pg_notify('" PG_CHANNEL_CANCEL "', id::text) FROM u",
	[PS_CANCEL_PENDING] = "SELECT id FROM builds WHERE state = 'running' "
		"AND cancel_at IS NOT NULL AND agent = $1 ORDER BY id LIMIT $2",
	/* store_pg_add_push and _add_build in one round trip (the 7th schema version) */
	[PS_ADD] = "SELECT r_id, r_dup, r_why FROM s2i_add_build($1, $2, $3, $4, $5, $6, $7, $8, "
		"$9, $10, $11, $12, $13, $14, $15, $16)",
};

/* The schema's versions, in order: migration i takes a database at version i to
 * version i + 1. A new version only ever appends a migration. */
static const char *const pg_migrations[] = {
	"CREATE TABLE builds ("
	" id bigserial PRIMARY KEY,"		/* never reused: build URLs stay valid */
	" repo text NOT NULL, ref text NOT NULL, sha text NOT NULL, before_sha text,"
	" state text NOT NULL DEFAULT 'queued', reason text, image text, image_id text,"
	" created bigint NOT NULL, started bigint, finished bigint,"
	" provider text NOT NULL, delivery text, message text, author text,"
	" repo_full_name text, project_id text, clone_url text,"
	" attempt integer NOT NULL DEFAULT 0, pid bigint, log_path text);"
	"CREATE INDEX builds_repo ON builds (repo, id);"
	"CREATE INDEX builds_state ON builds (state, id);"
	"CREATE INDEX builds_ref ON builds (repo, ref, id);"
	"CREATE TABLE deliveries ("
	" repo text NOT NULL, provider text NOT NULL, delivery text NOT NULL,"
	" build_id bigint NOT NULL, PRIMARY KEY (repo, provider, delivery));"
	"CREATE TABLE statuses ("
	" id bigserial PRIMARY KEY, build_id bigint NOT NULL, state text NOT NULL,"
	" description text, attempts integer NOT NULL DEFAULT 0, next_at bigint NOT NULL,"
	" last_error text, created bigint NOT NULL);"
	"CREATE INDEX statuses_build ON statuses (build_id, id);"
	"CREATE TABLE signed_pushes ("
	" repo text NOT NULL, digest bytea NOT NULL, build_id bigint NOT NULL,"
	" seen bigint NOT NULL, PRIMARY KEY (repo, digest));"
	"CREATE INDEX signed_pushes_seen ON signed_pushes (seen);"
	"CREATE TABLE tag_owners ("
	" repo text NOT NULL, image text NOT NULL, ref text NOT NULL, build_id bigint NOT NULL,"
	" PRIMARY KEY (repo, image));",
	/* 2: the agent that started a build (its instance id): a restarting agent
	 * takes back its own running builds, not those of the others */
	"ALTER TABLE builds ADD COLUMN agent text;",
	/* 3: pull/merge requests from forks (s2i-agent.conf(5) pull_requests), and the
	 * build a POST /builds/ID/retry was made from */
	"ALTER TABLE builds ADD COLUMN untrusted integer NOT NULL DEFAULT 0, ADD COLUMN retry_of bigint;",
	/* 4: leases (s2i-agent.conf(5) lease): until when a running build is its agent's
	 * (the database's clock, ms), and its fencing number; builds running at the
	 * upgrade get one default lease for their agents to come back */
	"ALTER TABLE builds ADD COLUMN lease_until bigint, ADD COLUMN fence bigint NOT NULL DEFAULT 0;"
	"UPDATE builds SET lease_until = " PG_NOW " + 60000 WHERE state = 'running';"
	"CREATE INDEX builds_lease ON builds (lease_until) WHERE state = 'running';",
	/* 5: the status outbox is claimed by the agent posting a row (store_status_claim):
	 * which agent, until when, and how many claims so far (the token its end shows) */
	"ALTER TABLE statuses ADD COLUMN claimed_by text, ADD COLUMN claim_until bigint, "
	"ADD COLUMN claim bigint NOT NULL DEFAULT 0;"
	/* and whether a build's queued status was written (store_status_add_queued) */
	"ALTER TABLE builds ADD COLUMN queued_status integer NOT NULL DEFAULT 0;",
	/* 6: build logs in the store, so that any agent serves any build's log; they go
	 * with their build (retention). A cancel asked of the agent running a build. */
	"CREATE TABLE build_logs ("
	" build_id bigint NOT NULL REFERENCES builds (id) ON DELETE CASCADE,"
	" attempt integer NOT NULL, off bigint NOT NULL, len integer NOT NULL,"
	" data bytea NOT NULL, PRIMARY KEY (build_id, attempt, off));"
	"ALTER TABLE builds ADD COLUMN cancel_at bigint;",
	/* 7: a delivery queued in one round trip (PS_ADD): the checks and writes of
	 * store.c's store_add_push, in its order. Each statement of a function takes
	 * its own snapshot, so an ON CONFLICT that waited for another agent's COMMIT
	 * is followed by a read that sees that agent's row. why: enum store_dup. */
	"CREATE FUNCTION s2i_add_build(p_repo text, p_provider text, p_delivery text,"
	" p_digest bytea, p_seen bigint, p_ref text, p_sha text, p_before text, p_created bigint,"
	" p_message text, p_author text, p_full_name text, p_project text, p_clone text,"
	" p_untrusted integer, p_retry_of bigint, OUT r_id bigint, OUT r_dup bigint,"
	" OUT r_why integer) LANGUAGE plpgsql AS $f$"
	" DECLARE nb record;"
	" BEGIN"
	"  r_id := 0; r_dup := 0; r_why := 0;"
	"  IF p_delivery IS NOT NULL THEN"
	"   SELECT build_id INTO r_dup FROM deliveries"
	"    WHERE repo = p_repo AND provider = p_provider AND delivery = p_delivery;"
	"   IF FOUND THEN r_why := 1; RETURN; END IF;"
	"  END IF;"
	"  IF p_digest IS NOT NULL THEN"
	"   SELECT build_id INTO r_dup FROM signed_pushes WHERE repo = p_repo AND digest = p_digest;"
	"   IF FOUND THEN r_why := 2; RETURN; END IF;"
	/* the ref's newest build is of this commit and queued, running or succeeded
	 * (store_ref_built): remembered under that build */
	"   SELECT id, sha, state INTO nb FROM builds WHERE repo = p_repo AND ref = p_ref"
	"    ORDER BY id DESC LIMIT 1;"
	"   IF FOUND AND p_sha <> '' AND nb.sha = p_sha"
	"      AND nb.state IN ('queued', 'running', 'succeeded') THEN"
	"    INSERT INTO signed_pushes (repo, digest, build_id, seen)"
	"     VALUES (p_repo, p_digest, nb.id, p_seen) ON CONFLICT DO NOTHING;"
	"    r_dup := nb.id; r_why := 3; RETURN;"
	"   END IF;"
	"  END IF;"
	/* another agent may be committing the same delivery or body right now: the
	 * unique keys decide, whatever was read above */
	"  r_id := nextval('builds_id_seq');"
	"  IF p_delivery IS NOT NULL THEN"
	"   INSERT INTO deliveries (repo, provider, delivery, build_id)"
	"    VALUES (p_repo, p_provider, p_delivery, r_id) ON CONFLICT DO NOTHING;"
	"   IF NOT FOUND THEN"
	"    SELECT build_id INTO r_dup FROM deliveries"
	"     WHERE repo = p_repo AND provider = p_provider AND delivery = p_delivery;"
	"    r_id := 0; r_why := 1; RETURN;"
	"   END IF;"
	"  END IF;"
	"  IF p_digest IS NOT NULL THEN"
	"   INSERT INTO signed_pushes (repo, digest, build_id, seen)"
	"    VALUES (p_repo, p_digest, r_id, p_seen) ON CONFLICT DO NOTHING;"
	"   IF NOT FOUND THEN"
	"    DELETE FROM deliveries WHERE repo = p_repo AND provider = p_provider"
	"     AND delivery = p_delivery AND build_id = r_id;"
	"    SELECT build_id INTO r_dup FROM signed_pushes WHERE repo = p_repo AND digest = p_digest;"
	"    r_id := 0; r_why := 2; RETURN;"
	"   END IF;"
	"  END IF;"
	"  INSERT INTO builds (id, repo, ref, sha, before_sha, state, created, provider, delivery,"
	"   message, author, repo_full_name, project_id, clone_url, untrusted, retry_of)"
	"   VALUES (r_id, p_repo, p_ref, p_sha, p_before, 'queued', p_created, p_provider,"
	"   p_delivery, p_message, p_author, p_full_name, p_project, p_clone, p_untrusted,"
	"   p_retry_of);"
	" END $f$;",
	/* 8: the agents of the fleet, each with its labels and when it was last heard of
	 * (store_agent_seen): a build whose run_on none of them matches is told apart */
	("CREATE TABLE agents (id text PRIMARY KEY, labels text NOT NULL, workers integer NOT NULL,"
	 " seen bigint NOT NULL);"),
	/* 9: the builds per state, kept by triggers as rows of changes (no row is ever
	 * updated, so agents writing at once never wait on each other), which
	 * store_pg_count_states folds and sums: counting the builds table itself took
	 * longer the longer the history, on every agent twice a second. A row per
	 * build queued (intake's one-row inserts), a row per state and statement for
	 * updates and deletes (a whole retention pass, or a bulk update by hand, in a
	 * few rows). The triggers come first: they lock the table, so the first count
	 * misses no write. */
	"CREATE TABLE build_counts (state text NOT NULL, n bigint NOT NULL);"
	"CREATE FUNCTION s2i_count_insert() RETURNS trigger LANGUAGE plpgsql AS $f$"
	" BEGIN INSERT INTO build_counts VALUES (NEW.state, 1); RETURN NULL; END $f$;"
	"CREATE FUNCTION s2i_count_change() RETURNS trigger LANGUAGE plpgsql AS $f$"
	" BEGIN"
	"  IF TG_OP = 'DELETE' THEN"
	"   INSERT INTO build_counts SELECT state, -count(*) FROM old_rows GROUP BY state;"
	"  ELSE"
	"   INSERT INTO build_counts SELECT state, sum(n) FROM (SELECT state, -1 AS n FROM old_rows"
	"    UNION ALL SELECT state, 1 FROM new_rows) c GROUP BY state HAVING sum(n) <> 0;"
	"  END IF;"
	"  RETURN NULL;"
	" END $f$;"
	"CREATE TRIGGER builds_count_insert AFTER INSERT ON builds FOR EACH ROW"
	" EXECUTE FUNCTION s2i_count_insert();"
	"CREATE TRIGGER builds_count_update AFTER UPDATE ON builds REFERENCING OLD TABLE AS old_rows"
	" NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION s2i_count_change();"
	"CREATE TRIGGER builds_count_delete AFTER DELETE ON builds REFERENCING OLD TABLE AS old_rows"
	" FOR EACH STATEMENT EXECUTE FUNCTION s2i_count_change();"
	"INSERT INTO build_counts SELECT state, count(*) FROM builds GROUP BY state;",
	/* 10: a status whose claim was once taken over from an agent that may have posted
	 * it: every later post asks the forge first (PS_STATUS_CLAIM) */
	"ALTER TABLE statuses ADD COLUMN unsure integer NOT NULL DEFAULT 0;",
};

#define PG_SCHEMA_VERSION ((int)(sizeof(pg_migrations) / sizeof(pg_migrations[0])))

struct store_pg {
	PGconn *pg_conn;
	char *pg_url;			/* as configured: it carries no password */
	char *pg_password;		/* NULL: libpq's passfile */
	char *pg_agent;			/* store_set_agent's, NULL: none set */
	long long pg_lease_ms;		/* store_set_lease's */
	int pg_queued;			/* the open transaction queued builds: NOTIFY */
	int pg_statused;		/* ... statuses: NOTIFY with PG_STATUSES */
	int pg_leased;			/* ... took a lease: NOTIFY with PG_LEASED */
	int pg_prepared;		/* the statements exist on this connection */
	long long pg_answer_ms;		/* pg_await's limit, 0: none */
	int pg_gave_up;			/* pg_await gave the connection up */
	long long pg_retry_at;		/* a slow failed connect: no other before (monotonic ms) */
	char pg_down[ERR_MSG_MAX];	/* ... and why it failed */
};

/* The parameters of one statement, as text (binary for bytea). */
struct pg_params {
	const char *pp_val[PG_PARAMS_MAX];
	int pp_len[PG_PARAMS_MAX];
	int pp_fmt[PG_PARAMS_MAX];
	char pp_num[PG_PARAMS_MAX][24];
	int pp_n;
};

static void pp_text(struct pg_params *q, const char *v)
{
	q->pp_val[q->pp_n] = v;
	q->pp_len[q->pp_n] = 0;
	q->pp_fmt[q->pp_n] = 0;
	q->pp_n++;
}

static void pp_int(struct pg_params *q, long long v)
{
	snprintf(q->pp_num[q->pp_n], sizeof(q->pp_num[0]), "%lld", v);
	pp_text(q, q->pp_num[q->pp_n]);
}

/* 0 is NULL (an unknown time, no pid) */
static void pp_opt(struct pg_params *q, long long v)
{
	if (v)
		pp_int(q, v);
	else
		pp_text(q, NULL);
}

static void pp_bytes(struct pg_params *q, const unsigned char *v, int len)
{
	q->pp_val[q->pp_n] = (const char *)v;
	q->pp_len[q->pp_n] = len;
	q->pp_fmt[q->pp_n] = 1;
	q->pp_n++;
}

/* libpq's messages end in a newline (sometimes more than one line) */
static int pg_fail_msg(struct store_pg *p, struct err *e, const char *what, const char *msg)
{
	char one[ERR_MSG_MAX];

	if (p->pg_gave_up)
		snprintf(one, sizeof(one), "no answer within %lld s: the connection is given up",
			 p->pg_answer_ms / 1000);
	else
		snprintf(one, sizeof(one), "%s", msg && *msg ? msg : "unknown error");
	one[strcspn(one, "\n")] = '\0';
	return err_set(e, "database '%s': %s: %s", p->pg_url, what, one);
}

static int pg_fail(struct store_pg *p, struct err *e, const char *what, const PGresult *r)
{
	const char *msg = r ? pq.PQresultErrorMessage(r) : NULL;

	return pg_fail_msg(p, e, what, msg && *msg ? msg : pq.PQerrorMessage(p->pg_conn));
}

static long long pg_clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits, for at most pg_answer_ms, until the next PQgetResult will not block. A
 * server that accepts and never answers (stopped, out of memory, or a link that
 * holds its packets while the kernel on the way acknowledges them) must not hold
 * the event loop or a thread for longer: past the limit the socket is shut, so
 * that libpq finds the connection lost and PQgetResult answers at once with
 * that (pg_fail names the limit); the next statement makes a new connection.
 * -1 when it gave up. */
static int pg_await(struct store_pg *p)
{
	long long until = pg_clock_ms() + p->pg_answer_ms;
	struct pollfd pfd;
	int n;

	if (!p->pg_answer_ms)
		return 0;
	while (pq.PQisBusy(p->pg_conn)) {
		long long left = until - pg_clock_ms();

		pfd.fd = pq.PQsocket(p->pg_conn);
		pfd.events = POLLIN;
		if (pfd.fd < 0)
			return 0;
		n = left > 0 ? poll(&pfd, 1, (int)left) : 0;
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0) {
			shutdown(pfd.fd, SHUT_RDWR);
			pq.PQconsumeInput(p->pg_conn);
			p->pg_gave_up = 1;
			return -1;
		}
		if (!pq.PQconsumeInput(p->pg_conn))
			return 0;	/* lost: PQgetResult says so */
	}
	return 0;
}

/* The answer to what was just sent, as PQexec gives it: the last result, or the
 * first error; NULL when nothing was sent (sent is 0). */
static PGresult *pg_answer(struct store_pg *p, int sent)
{
	PGresult *r, *last = NULL;

	p->pg_gave_up = 0;
	if (!sent)
		return NULL;
	for (;;) {
		if (pg_await(p) < 0 && pq.PQisBusy(p->pg_conn))
			break;
		if (!(r = pq.PQgetResult(p->pg_conn)))
			break;
		if (last && pq.PQresultStatus(last) == PGRES_FATAL_ERROR) {
			pq.PQclear(r);
			continue;
		}
		pq.PQclear(last);
		last = r;
	}
	return last;
}

/* PQexec, PQexecParams, PQexecPrepared and PQprepare, each answered within
 * pg_answer_ms (pg_await) */
static PGresult *pg_exec(struct store_pg *p, const char *sql)
{
	return pg_answer(p, pq.PQsendQuery(p->pg_conn, sql));
}

static PGresult *pg_exec_params(struct store_pg *p, const char *sql, int n,
				const char *const *vals, const int *lens, const int *fmts)
{
	return pg_answer(p, pq.PQsendQueryParams(p->pg_conn, sql, n, NULL, vals, lens, fmts, 0));
}

static PGresult *pg_exec_prepared(struct store_pg *p, const char *name, int n,
				  const char *const *vals, const int *lens, const int *fmts,
				  int binary)
{
	return pg_answer(p, pq.PQsendQueryPrepared(p->pg_conn, name, n, vals, lens, fmts, binary));
}

static PGresult *pg_prepare_one(struct store_pg *p, const char *name, const char *sql)
{
	return pg_answer(p, pq.PQsendPrepare(p->pg_conn, name, sql, 0, NULL));
}

/* Runs sql with no parameters; 0 when it returned status ok. */
static int pg_simple(struct store_pg *p, const char *sql, ExecStatusType ok, struct err *e,
		     const char *what)
{
	PGresult *r = pg_exec(p, sql);
	int rc = 0;

	if (pq.PQresultStatus(r) != ok)
		rc = pg_fail(p, e, what, r);
	pq.PQclear(r);
	return rc;
}

static int pg_prepare(struct store_pg *p, struct err *e)
{
	char name[16];
	PGresult *r;
	int i;

	for (i = 0; i < PS_N; i++) {
		snprintf(name, sizeof(name), "s2i_%d", i);
		r = pg_prepare_one(p, name, pg_sql[i]);
		if (pq.PQresultStatus(r) != PGRES_COMMAND_OK) {
			pg_fail(p, e, "cannot prepare a statement", r);
			pq.PQclear(r);
			return -1;
		}
		pq.PQclear(r);
	}
	p->pg_prepared = 1;
	return 0;
}

/* A connection lost outside a transaction is made again before the next statement
 * (the one that found it lost has failed already); inside one, the transaction is
 * lost and its caller rolls back. An attempt that failed slowly (a server that
 * accepts and never answers costs up to connect_timeout) is not made again before
 * twice as long has passed, so that it holds the event loop a third of the time
 * at most; a refused one (a server down) is tried again at once. */
static int pg_ready(struct store_pg *p, struct err *e)
{
	long long t0, took;

	if (pq.PQstatus(p->pg_conn) == CONNECTION_OK && p->pg_prepared)
		return 0;
	if (pq.PQstatus(p->pg_conn) != CONNECTION_OK) {
		p->pg_prepared = 0;
		p->pg_gave_up = 0;
		t0 = pg_clock_ms();
		if (t0 < p->pg_retry_at)
			return err_set(e, "database '%s': cannot connect: %s (tried again in %lld ms)",
				       p->pg_url, p->pg_down, p->pg_retry_at - t0);
		pq.PQreset(p->pg_conn);
		if (pq.PQstatus(p->pg_conn) != CONNECTION_OK) {
			took = pg_clock_ms() - t0;
			snprintf(p->pg_down, sizeof(p->pg_down), "%s", pq.PQerrorMessage(p->pg_conn));
			p->pg_down[strcspn(p->pg_down, "\n")] = '\0';
			p->pg_retry_at = took >= PG_SLOW_CONNECT_MS ? t0 + 3 * took : 0;
			return pg_fail_msg(p, e, "cannot connect", p->pg_down);
		}
		p->pg_retry_at = 0;
	}
	return pg_prepare(p, e);
}

/* Runs prepared statement which; the result (the caller's to PQclear) or NULL with e
 * set when it did not return status ok. */
static PGresult *pg_run_as(struct store_pg *p, int which, const struct pg_params *q,
			   ExecStatusType ok, int binary, struct err *e, const char *what)
{
	char name[16];
	PGresult *r;

	if (pg_ready(p, e) < 0)
		return NULL;
	snprintf(name, sizeof(name), "s2i_%d", which);
	r = pg_exec_prepared(p, name, q ? q->pp_n : 0, q ? q->pp_val : NULL,
			     q ? q->pp_len : NULL, q ? q->pp_fmt : NULL, binary);
	if (pq.PQresultStatus(r) != ok) {
		pg_fail(p, e, what, r);
		pq.PQclear(r);
		return NULL;
	}
	return r;
}

static PGresult *pg_run(struct store_pg *p, int which, const struct pg_params *q,
			ExecStatusType ok, struct err *e, const char *what)
{
	return pg_run_as(p, which, q, ok, 0, e, what);
}

/* A statement that returns no row: 0 when it changed a row, 1 when none, -1 on error. */
static int pg_change(struct store_pg *p, int which, const struct pg_params *q, struct err *e,
		     const char *what)
{
	PGresult *r = pg_run(p, which, q, PGRES_COMMAND_OK, e, what);
	int rc;

	if (!r)
		return -1;
	rc = atoll(pq.PQcmdTuples(r)) > 0 ? 0 : 1;
	pq.PQclear(r);
	return rc;
}

/* A statement that returns at most one bigint: 0 with *ret, 1 when no row, -1 on error. */
static int pg_one_id(struct store_pg *p, int which, const struct pg_params *q, long long *ret,
		     struct err *e, const char *what)
{
	PGresult *r = pg_run(p, which, q, PGRES_TUPLES_OK, e, what);
	int rc = 1;

	if (!r)
		return -1;
	if (pq.PQntuples(r) > 0 && !pq.PQgetisnull(r, 0, 0)) {
		*ret = atoll(pq.PQgetvalue(r, 0, 0));
		rc = 0;
	}
	pq.PQclear(r);
	return rc;
}

/* Brings the schema to PG_SCHEMA_VERSION in one transaction under an advisory lock:
 * agents starting together migrate once, the others wait and find it done. */
static int pg_migrate_locked(struct store_pg *p, struct err *e)
{
	char sql[160];
	PGresult *r;
	int version = 0, i;

	snprintf(sql, sizeof(sql), "BEGIN; SELECT pg_advisory_xact_lock(%lld);"
		 "CREATE TABLE IF NOT EXISTS s2i_schema (version integer NOT NULL)", PG_SCHEMA_LOCK);
	if (pg_simple(p, sql, PGRES_COMMAND_OK, e, "cannot lock the schema") < 0)
		goto fail;
	r = pg_exec(p, "SELECT max(version) FROM s2i_schema");
	if (pq.PQresultStatus(r) != PGRES_TUPLES_OK) {
		pg_fail(p, e, "cannot read the schema version", r);
		pq.PQclear(r);
		goto fail;
	}
	if (pq.PQntuples(r) > 0 && !pq.PQgetisnull(r, 0, 0))
		version = atoi(pq.PQgetvalue(r, 0, 0));
	pq.PQclear(r);
	if (version > PG_SCHEMA_VERSION) {
		err_set(e, "database '%s': schema version %d is newer than this agent's (%d): "
			"upgrade this agent", p->pg_url, version, PG_SCHEMA_VERSION);
		goto fail;
	}
	for (i = version; i < PG_SCHEMA_VERSION; i++)
		if (pg_simple(p, pg_migrations[i], PGRES_COMMAND_OK, e, "cannot migrate the schema") < 0)
			goto fail;
	snprintf(sql, sizeof(sql), "DELETE FROM s2i_schema; INSERT INTO s2i_schema VALUES (%d)",
		 PG_SCHEMA_VERSION);
	if (version < PG_SCHEMA_VERSION &&
	    pg_simple(p, sql, PGRES_COMMAND_OK, e, "cannot record the schema version") < 0)
		goto fail;
	return pg_simple(p, "COMMIT", PGRES_COMMAND_OK, e, "cannot commit the schema");
fail:
	pg_simple(p, "ROLLBACK", PGRES_COMMAND_OK, NULL, "rollback");
	return -1;
}

/* ... with no limit on the answers: a migration may take long, and an agent waits
 * for the one another agent is making */
static int pg_migrate(struct store_pg *p, struct err *e)
{
	int rc;

	p->pg_answer_ms = 0;
	rc = pg_migrate_locked(p, e);
	p->pg_answer_ms = STORE_PG_ANSWER_MS;
	return rc;
}

/* SHOW's answer for name, "" when it cannot be read. */
static void pg_show(const struct store_pg *p, const char *name, char *out, size_t len)
{
	char sql[64];
	PGresult *r;

	snprintf(sql, sizeof(sql), "SHOW %s", name);
	r = pq.PQexec(p->pg_conn, sql);
	out[0] = '\0';
	if (pq.PQresultStatus(r) == PGRES_TUPLES_OK && pq.PQntuples(r) == 1)
		snprintf(out, len, "%s", pq.PQgetvalue(r, 0, 0));
	pq.PQclear(r);
}

int store_pg_sync_mode(const struct store_pg *p)
{
	char sync[32], fsync[32];

	pg_show(p, "synchronous_commit", sync, sizeof(sync));
	pg_show(p, "fsync", fsync, sizeof(fsync));
	if (!sync[0] || !fsync[0])
		return -1;
	/* local, on, remote_write, remote_apply: the COMMIT is flushed locally first */
	return strcmp(sync, "off") != 0 && strcmp(fsync, "on") == 0 ? STORE_SYNC_FULL : 0;
}

/* The URL carries no password: it is logged, shown by ps and by `check`. The
 * messages do not repeat the URL (they would show the password). */
static int pg_check_url(const char *database, struct err *e)
{
	PQconninfoOption *opts, *o;
	char *msg = NULL;
	int rc = 0;

	if (strncmp(database, "postgresql://", 13) != 0 && strncmp(database, "postgres://", 11) != 0)
		return err_set(e, "expected sqlite or a postgresql:// URL");
	if (pq_ready(e) < 0)
		return -1;
	opts = pq.PQconninfoParse(database, &msg);
	if (!opts) {
		err_set(e, "not a valid PostgreSQL URL: %s", msg ? msg : "out of memory");
		if (e)
			e->msg[strcspn(e->msg, "\n")] = '\0';
		pq.PQfreemem(msg);
		return -1;
	}
	for (o = opts; o->keyword; o++)
		if (!strcmp(o->keyword, "password") && o->val && *o->val)
			rc = err_set(e, "the URL carries a password; put it in "
				     "database_password_file (or libpq's passfile) instead");
	pq.PQconninfoFree(opts);
	return rc;
}

int store_pg_check_url(const char *database, struct err *e)
{
	return pg_check_url(database, e);
}

/* libpq prints a server's notices on stderr; a library module does not log */
static void pg_notice(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

static int pg_connect(struct store_pg *p, struct err *e)
{
	/* dbname with expand_dbname = 1: the URL's own settings (TLS ones too)
	 * override the keywords before it */
	const char *keys[] = { "connect_timeout", "tcp_user_timeout", "dbname",
			       "fallback_application_name", "password", NULL };
	const char *vals[] = { STORE_PG_CONNECT_TIMEOUT, STORE_PG_TCP_TIMEOUT, p->pg_url,
			       "s2i-agent", p->pg_password, NULL };
	int sync;

	if (!p->pg_password)
		keys[4] = NULL;
	p->pg_conn = pq.PQconnectdbParams(keys, vals, 1);
	if (!p->pg_conn)
		return err_set(e, "database '%s': out of memory", p->pg_url);
	pq.PQsetNoticeProcessor(p->pg_conn, pg_notice, NULL);
	if (pq.PQstatus(p->pg_conn) != CONNECTION_OK)
		return pg_fail_msg(p, e, "cannot connect", pq.PQerrorMessage(p->pg_conn));
	/* a COMMIT that is not flushed would lose 202-answered deliveries on a crash of
	 * the server: refused, as store.c refuses a SQLite connection below FULL */
	sync = store_pg_sync_mode(p);
	if (sync != STORE_SYNC_FULL)
		return err_set(e, "database '%s': synchronous_commit is off or fsync is not on: "
			       "a COMMIT would not be on disk", p->pg_url);
	return 0;
}

static int pg_open_as(const char *database, const char *password, int migrate,
		      struct store_pg **ret, struct err *e)
{
	struct store_pg *p;

	if (pg_check_url(database, e) < 0)
		return err_prefix(e, "database: ");
	p = xcalloc(1, sizeof(*p));
	p->pg_url = xstrdup(database);
	p->pg_password = password ? xstrdup(password) : NULL;
	p->pg_lease_ms = CONFIG_DEFAULT_LEASE * 1000LL;
	p->pg_answer_ms = STORE_PG_ANSWER_MS;
	if (pg_connect(p, e) < 0 || (migrate && pg_migrate(p, e) < 0) || pg_prepare(p, e) < 0) {
		store_pg_free(p);
		return -1;
	}
	*ret = p;
	return 0;
}

int store_pg_open(const char *database, const char *password, struct store_pg **ret,
		  struct err *e)
{
	return pg_open_as(database, password, 1, ret, e);
}

int store_pg_reopen(const struct store_pg *p, struct store_pg **ret, struct err *e)
{
	if (pg_open_as(p->pg_url, p->pg_password, 0, ret, e) < 0)
		return -1;
	store_pg_set_agent(*ret, p->pg_agent);
	(*ret)->pg_lease_ms = p->pg_lease_ms;
	return 0;
}

int store_pg_listen(const struct store_pg *p, struct store_pg **ret, struct err *e)
{
	struct store_pg *n;

	if (pg_open_as(p->pg_url, p->pg_password, 0, &n, e) < 0)
		return -1;
	if (pg_simple(n, "LISTEN " PG_CHANNEL "; LISTEN " PG_CHANNEL_LOG "; LISTEN " PG_CHANNEL_CANCEL,
		      PGRES_COMMAND_OK, e, "cannot listen") < 0) {
		store_pg_free(n);
		return -1;
	}
	*ret = n;
	return 0;
}

int store_pg_listen_fd(const struct store_pg *p)
{
	return pq.PQstatus(p->pg_conn) == CONNECTION_OK ? pq.PQsocket(p->pg_conn) : -1;
}

int store_pg_notified(struct store_pg *p, store_heard_fn *fn, void *arg)
{
	PGnotify *n;
	int got = 0;

	if (!pq.PQconsumeInput(p->pg_conn) || pq.PQstatus(p->pg_conn) != CONNECTION_OK)
		return -1;
	while ((n = pq.PQnotifies(p->pg_conn))) {
		if (!strcmp(n->relname, PG_CHANNEL))
			got |= !n->extra || !*n->extra ? 1 : !strcmp(n->extra, PG_LEASED) ? 2 :
				!strcmp(n->extra, PG_STATUSES) ? 4 : 0;
		else if (fn && !strcmp(n->relname, PG_CHANNEL_LOG))
			fn(arg, STORE_HEARD_LOG, atoll(n->extra));
		else if (fn && !strcmp(n->relname, PG_CHANNEL_CANCEL))
			fn(arg, STORE_HEARD_CANCEL, atoll(n->extra));
		pq.PQfreemem(n);
	}
	return got;
}

void store_pg_set_agent(struct store_pg *p, const char *id)
{
	free(p->pg_agent);
	p->pg_agent = id ? xstrdup(id) : NULL;
}

void store_pg_free(struct store_pg *p)
{
	if (!p)
		return;
	pq.PQfinish(p->pg_conn);
	free(p->pg_url);
	free(p->pg_agent);
	if (p->pg_password) {
		explicit_bzero(p->pg_password, strlen(p->pg_password));
		free(p->pg_password);
	}
	free(p);
}

const char *store_pg_path(const struct store_pg *p)
{
	return p->pg_url;
}

/* Runs sql, which does nothing that needs undoing (no transaction is open): a
 * connection found lost by it (a restarted server) is made again and sql tried
 * once more, so the first batch after a restart is not refused for nothing. */
static int pg_first(struct store_pg *p, const char *sql, ExecStatusType ok, struct err *e,
		    const char *what)
{
	int tries;

	for (tries = 0; tries < 2; tries++) {
		if (pg_ready(p, e) < 0)
			return -1;
		if (pg_simple(p, sql, ok, e, what) == 0)
			return 0;
		/* tried again only on a connection found lost, not on one given up:
		 * that server would most likely not answer the next either */
		if (pq.PQstatus(p->pg_conn) == CONNECTION_OK || p->pg_gave_up)
			break;
	}
	return -1;
}

int store_pg_ping(struct store_pg *p, struct err *e)
{
	return pg_first(p, "SELECT 1", PGRES_TUPLES_OK, e, "ping");
}

int store_pg_begin(struct store_pg *p, struct err *e)
{
	return pg_first(p, "BEGIN", PGRES_COMMAND_OK, e, "cannot begin");
}

/* A build was queued: the agents listening hear of it when it is committed (a
 * NOTIFY in a transaction is sent by its COMMIT, once however many builds). */
static void pg_queued(struct store_pg *p)
{
	if (store_pg_in_transaction(p))
		p->pg_queued = 1;
	else
		pg_simple(p, "NOTIFY " PG_CHANNEL, PGRES_COMMAND_OK, NULL, "notify");
}

/* The same for a commit status queued. */
static void pg_statused(struct store_pg *p)
{
	if (store_pg_in_transaction(p))
		p->pg_statused = 1;
	else
		pg_simple(p, "NOTIFY " PG_CHANNEL ", '" PG_STATUSES "'", PGRES_COMMAND_OK, NULL,
			  "notify");
}

/* Notifies channel with a build's id: at the COMMIT inside a transaction, else now. */
static void pg_notify_id(struct store_pg *p, const char *channel, long long id)
{
	char sql[96];

	snprintf(sql, sizeof(sql), "NOTIFY %s, '%lld'", channel, id);
	pg_simple(p, sql, PGRES_COMMAND_OK, NULL, "notify");
}

int store_pg_commit(struct store_pg *p, struct err *e)
{
	PGresult *r;
	char sql[128];
	int rc = 0;

	/* one round trip: a NOTIFY that fails skips the COMMIT, whose answer is then
	 * that error */
	snprintf(sql, sizeof(sql), "%s%s%sCOMMIT", p->pg_queued ? "NOTIFY " PG_CHANNEL "; " : "",
		 p->pg_leased ? "NOTIFY " PG_CHANNEL ", '" PG_LEASED "'; " : "",
		 p->pg_statused ? "NOTIFY " PG_CHANNEL ", '" PG_STATUSES "'; " : "");
	p->pg_queued = p->pg_leased = p->pg_statused = 0;
	r = pg_exec(p, sql);
	/* COMMIT of a transaction in error answers ok and rolls back: "ROLLBACK" */
	if (pq.PQresultStatus(r) != PGRES_COMMAND_OK || strcmp(pq.PQcmdStatus(r), "COMMIT") != 0)
		rc = pg_fail(p, e, "cannot commit", r);
	pq.PQclear(r);
	return rc;
}

void store_pg_rollback(struct store_pg *p)
{
	p->pg_queued = p->pg_leased = p->pg_statused = 0;
	if (store_pg_in_transaction(p))
		pg_simple(p, "ROLLBACK", PGRES_COMMAND_OK, NULL, "rollback");
}

int store_pg_in_transaction(struct store_pg *p)
{
	PGTransactionStatusType t = pq.PQtransactionStatus(p->pg_conn);

	return t == PQTRANS_INTRANS || t == PQTRANS_INERROR || t == PQTRANS_ACTIVE;
}

int store_pg_savepoint(struct store_pg *p, struct err *e)
{
	return pg_simple(p, "SAVEPOINT op", PGRES_COMMAND_OK, e, "cannot set a savepoint");
}

int store_pg_savepoint_release(struct store_pg *p, struct err *e)
{
	return pg_simple(p, "RELEASE op", PGRES_COMMAND_OK, e, "cannot release a savepoint");
}

void store_pg_savepoint_rollback(struct store_pg *p)
{
	if (!store_pg_in_transaction(p))
		return;
	/* ROLLBACK TO ends the error state and keeps the savepoint: release it too */
	if (pg_simple(p, "ROLLBACK TO op", PGRES_COMMAND_OK, NULL, "rollback") == 0)
		pg_simple(p, "RELEASE op", PGRES_COMMAND_OK, NULL, "release");
}

static char *pg_text(const PGresult *r, int row, int col)
{
	return pq.PQgetisnull(r, row, col) ? NULL : xstrdup(pq.PQgetvalue(r, row, col));
}

static long long pg_ll(const PGresult *r, int row, int col)
{
	return pq.PQgetisnull(r, row, col) ? 0 : atoll(pq.PQgetvalue(r, row, col));
}

/* Fills b from a row selected with PG_BUILD_COLS. */
static void pg_row_build(const PGresult *r, int row, struct build *b)
{
	int n;

	memset(b, 0, sizeof(*b));
	b->id = pg_ll(r, row, 0);
	b->repo = pg_text(r, row, 1);
	b->ref = pg_text(r, row, 2);
	snprintf(b->sha, sizeof(b->sha), "%s", pq.PQgetvalue(r, row, 3));
	snprintf(b->before, sizeof(b->before), "%s", pq.PQgetvalue(r, row, 4));
	n = store_state_parse(pq.PQgetvalue(r, row, 5));
	b->state = n < 0 ? BUILD_ERRORED : (enum build_state)n;
	b->reason = pg_text(r, row, 6);
	b->image = pg_text(r, row, 7);
	b->image_id = pg_text(r, row, 8);
	b->created = pg_ll(r, row, 9);
	b->started = pg_ll(r, row, 10);
	b->finished = pg_ll(r, row, 11);
	b->provider = pg_text(r, row, 12);
	b->delivery = pg_text(r, row, 13);
	b->message = pg_text(r, row, 14);
	b->author = pg_text(r, row, 15);
	b->repo_full_name = pg_text(r, row, 16);
	b->project_id = pg_text(r, row, 17);
	b->clone_url = pg_text(r, row, 18);
	b->attempt = (int)pg_ll(r, row, 19);
	b->pid = pg_ll(r, row, 20);
	b->log_path = pg_text(r, row, 21);
	b->untrusted = (int)pg_ll(r, row, 22);
	b->retry_of = pg_ll(r, row, 23);
	b->fence = pg_ll(r, row, 24);
	b->agent = pg_text(r, row, 25);
}

static int pg_get_one(struct store_pg *p, int which, const struct pg_params *q,
		      struct build *ret, struct err *e)
{
	PGresult *r = pg_run(p, which, q, PGRES_TUPLES_OK, e, "cannot read a build");
	int rc = 1;

	if (!r)
		return -1;
	if (pq.PQntuples(r) > 0) {
		pg_row_build(r, 0, ret);
		rc = 0;
	}
	pq.PQclear(r);
	return rc;
}

int store_pg_find_delivery(struct store_pg *p, const char *repo, const char *provider,
			   const char *delivery, long long *ret_id, struct err *e)
{
	struct pg_params q = { .pp_n = 0 };

	pp_text(&q, repo);
	pp_text(&q, provider);
	pp_text(&q, delivery);
	return pg_one_id(p, PS_FIND_DELIVERY, &q, ret_id, e, "cannot look a delivery up");
}

/* The parameters of s2i_add_build (the 7th schema version) for b: digest NULL for
 * a build that is no verified push. */
static void pg_add_params(struct pg_params *q, struct build *b, const unsigned char *digest)
{
	q->pp_n = 0;
	b->id = 0;
	if (!b->created)
		b->created = store_now_ms();
	pp_text(q, b->repo);
	pp_text(q, b->provider);
	pp_text(q, b->delivery);
	if (digest)
		pp_bytes(q, digest, STORE_DIGEST_LEN);
	else
		pp_text(q, NULL);
	pp_int(q, store_now_ms());
	pp_text(q, b->ref);
	pp_text(q, b->sha);
	pp_text(q, b->before[0] ? b->before : NULL);
	pp_int(q, b->created);
	pp_text(q, b->message);
	pp_text(q, b->author);
	pp_text(q, b->repo_full_name);
	pp_text(q, b->project_id);
	pp_text(q, b->clone_url);
	pp_int(q, b->untrusted ? 1 : 0);
	pp_opt(q, b->retry_of);
}

/* s2i_add_build's answer for a: a->sa_build->id, or a->sa_dup and a->sa_why. */
static int pg_add_result(struct store_pg *p, const PGresult *r, struct store_add *a,
			 struct err *e)
{
	struct build *b = a->sa_build;
	int why;

	a->sa_dup = 0;
	a->sa_why = STORE_DUP_NONE;
	if (pq.PQresultStatus(r) != PGRES_TUPLES_OK)
		return pg_fail(p, e, "cannot queue a build", r);
	if (pq.PQntuples(r) != 1)
		return err_set(e, "database '%s': queuing a build returned no row", p->pg_url);
	b->id = pg_ll(r, 0, 0);
	a->sa_dup = pg_ll(r, 0, 1);
	why = (int)pg_ll(r, 0, 2);
	if (b->id > 0) {
		b->state = BUILD_QUEUED;
		pg_queued(p);
		return 0;
	}
	/* a duplicate whose first is gone: its row was deleted between two statements */
	if (a->sa_dup <= 0 || why <= STORE_DUP_NONE || why > STORE_DUP_BUILT)
		return err_set(e, "database '%s': %s '%s' conflicts but cannot be found", p->pg_url,
			       why == STORE_DUP_DELIVERY ? "delivery" : "a signed push",
			       b->delivery ? b->delivery : "-");
	a->sa_why = (enum store_dup)why;
	return 0;
}

static int pg_add(struct store_pg *p, struct build *b, const unsigned char *digest,
		  long long *ret_dup, enum store_dup *ret_why, struct err *e)
{
	struct store_add a = { b, digest, 0, STORE_DUP_NONE };
	struct pg_params q;
	PGresult *r;
	int rc;

	pg_add_params(&q, b, digest);
	r = pg_run(p, PS_ADD, &q, PGRES_TUPLES_OK, e, "cannot queue a build");
	if (!r)
		return -1;
	rc = pg_add_result(p, r, &a, e);
	pq.PQclear(r);
	*ret_dup = a.sa_dup;
	*ret_why = a.sa_why;
	return rc;
}

/* The statements around the adds of store_pg_add_commit: BEGIN first, then NOTIFY and
 * COMMIT (a NOTIFY even when every add was a duplicate: a listener that finds nothing
 * new costs less than a round trip to know) */
static const char *const pg_around[] = { "BEGIN", ("NOTIFY " PG_CHANNEL), "COMMIT" };

/* The answer to pg_around[k]: 0 when it is that statement's success. */
static int pg_around_result(struct store_pg *p, PGresult *r, size_t k, struct err *e)
{
	if (pq.PQresultStatus(r) != PGRES_COMMAND_OK ||
	    (k == 2 && strcmp(pq.PQcmdStatus(r), "COMMIT") != 0))
		return pg_fail(p, e, k == 0 ? "cannot begin" : "cannot commit", r);
	return 0;
}

/* Up to PG_PIPELINE_MAX statements in one round trip (libpq's pipeline mode): all
 * sent, one sync, then every answer read. The first error fails the lot, and
 * PostgreSQL skips the statements after it (PGRES_PIPELINE_ABORTED). With commit,
 * the adds are wrapped in pg_around, in that same round trip; *ret_lost then says
 * that the connection was found lost before BEGIN was answered (nothing ran). */
static int pg_add_pipeline(struct store_pg *p, struct store_add *a, size_t n, int commit,
			   int *ret_lost, struct err *e)
{
	size_t i, sent = 0, first = commit ? 1 : 0, total = n + (commit ? 3 : 0);
	struct pg_params q;
	PGresult *r;
	char name[16];
	int rc = 0, begun = !commit;

	snprintf(name, sizeof(name), "s2i_%d", PS_ADD);
	p->pg_gave_up = 0;
	if (!pq.PQenterPipelineMode(p->pg_conn))
		return pg_fail(p, e, "cannot queue builds", NULL);
	for (i = 0; i < total; i++, sent++) {
		int ok;

		if (i < first || i >= first + n) {
			ok = pq.PQsendQueryParams(p->pg_conn, pg_around[i < first ? 0 : i - first - n + 1],
						  0, NULL, NULL, NULL, NULL, 0);
		} else {
			pg_add_params(&q, a[i - first].sa_build, a[i - first].sa_digest);
			ok = pq.PQsendQueryPrepared(p->pg_conn, name, q.pp_n, q.pp_val,
						    q.pp_len, q.pp_fmt, 0);
		}
		if (!ok) {
			rc = pg_fail(p, e, "cannot queue builds", NULL);
			break;
		}
	}
	if (!pq.PQpipelineSync(p->pg_conn) && rc == 0)
		rc = pg_fail(p, e, "cannot queue builds", NULL);
	/* each statement sent: its result, then NULL; then the sync's. A connection
	 * given up (pg_await) answers no more: its transaction is lost, and whether it
	 * committed is not known (the forge's next try of a delivery that did is
	 * found a duplicate) */
	for (i = 0; i < sent && !p->pg_gave_up; i++) {
		pg_await(p);
		if ((r = pq.PQgetResult(p->pg_conn)) && rc == 0) {
			if (i < first || i >= first + n)
				rc = pg_around_result(p, r, i < first ? 0 : i - first - n + 1, e);
			else
				rc = pg_add_result(p, r, &a[i - first], e);
			if (i == 0 && rc == 0)
				begun = 1;
		}
		pq.PQclear(r);
		r = NULL;
		while (pg_await(p) == 0 && (r = pq.PQgetResult(p->pg_conn)) &&
		       pq.PQresultStatus(r) != PGRES_PIPELINE_SYNC) {
			pq.PQclear(r);
			r = NULL;
		}
		pq.PQclear(r);
		if (r)
			break;		/* a sync already: the connection failed mid-way */
	}
	if (i == sent && !p->pg_gave_up)
		while (pg_await(p) == 0 && (r = pq.PQgetResult(p->pg_conn))) {
			int sync = pq.PQresultStatus(r) == PGRES_PIPELINE_SYNC;

			pq.PQclear(r);
			if (sync)
				break;
		}
	if (ret_lost)
		*ret_lost = rc < 0 && !begun && !p->pg_gave_up &&
			    pq.PQstatus(p->pg_conn) != CONNECTION_OK;
	if (p->pg_gave_up) {
		/* lost: the next statement's connection is made anew (pg_ready), out
		 * of pipeline mode */
		rc = rc < 0 ? rc : pg_fail(p, e, "cannot queue builds", NULL);
		p->pg_prepared = 0;
	} else if (!pq.PQexitPipelineMode(p->pg_conn)) {
		/* answers still pending: a connection that cannot go on (its
		 * transaction is lost either way) is made anew */
		rc = rc < 0 ? rc : pg_fail(p, e, "cannot queue builds", NULL);
		p->pg_prepared = 0;
		pq.PQreset(p->pg_conn);
	}
	return rc;
}

int store_pg_add_many(struct store_pg *p, struct store_add *a, size_t n, struct err *e)
{
	size_t i, m;

	if (pg_ready(p, e) < 0)
		return -1;
	for (i = 0; i < n; i += m) {
		m = n - i < PG_PIPELINE_MAX ? n - i : PG_PIPELINE_MAX;
		if (pg_add_pipeline(p, a + i, m, 0, NULL, e) < 0)
			return -1;
	}
	return 0;
}

int store_pg_add_commit(struct store_pg *p, struct store_add *a, size_t n, struct err *e)
{
	int tries, lost = 0, rc = -1;

	if (n + 3 > PG_PIPELINE_MAX) {
		if (store_pg_begin(p, e) == 0 && store_pg_add_many(p, a, n, e) == 0 &&
		    store_pg_commit(p, e) == 0)
			return 0;
		store_pg_rollback(p);
		return -1;
	}
	/* a connection found lost by BEGIN (a restarted server) is made again and the
	 * whole tried once more, as pg_first does */
	for (tries = 0; tries < 2; tries++) {
		if (pg_ready(p, e) < 0)
			break;
		rc = pg_add_pipeline(p, a, n, 1, &lost, e);
		if (rc == 0 || !lost)
			break;
	}
	p->pg_queued = 0;	/* notified in the pipeline */
	if (rc < 0)
		store_pg_rollback(p);
	return rc;
}

int store_pg_add_build(struct store_pg *p, struct build *b, long long *ret_dup, struct err *e)
{
	enum store_dup why;

	return pg_add(p, b, NULL, ret_dup, &why, e);
}

int store_pg_find_push(struct store_pg *p, const struct build *b,
		       const unsigned char digest[STORE_DIGEST_LEN], long long *ret_dup,
		       enum store_dup *ret_why, struct err *e)
{
	struct pg_params q = { .pp_n = 0 };
	PGresult *r;
	long long id = 0;
	int rc, built = 0;

	if (b->delivery) {
		rc = store_pg_find_delivery(p, b->repo, b->provider, b->delivery, &id, e);
		if (rc <= 0) {
			if (rc == 0) {
				*ret_dup = id;
				*ret_why = STORE_DUP_DELIVERY;
			}
			return rc;
		}
	}
	pp_text(&q, b->repo);
	pp_bytes(&q, digest, STORE_DIGEST_LEN);
	rc = pg_one_id(p, PS_FIND_SIGNED, &q, &id, e, "cannot look a signed push up");
	if (rc <= 0) {
		if (rc == 0) {
			*ret_dup = id;
			*ret_why = STORE_DUP_REPLAY;
		}
		return rc;
	}
	q.pp_n = 0;
	pp_text(&q, b->repo);
	pp_text(&q, b->ref);
	r = pg_run(p, PS_REF_NEWEST, &q, PGRES_TUPLES_OK, e, "cannot look the ref's last build up");
	if (!r)
		return -1;
	if (pq.PQntuples(r) > 0) {
		id = pg_ll(r, 0, 0);
		built = store_ref_built(b, pq.PQgetvalue(r, 0, 1), pq.PQgetvalue(r, 0, 2));
	}
	pq.PQclear(r);
	if (!built)
		return 1;
	*ret_dup = id;
	*ret_why = STORE_DUP_BUILT;
	return 0;
}

int store_pg_add_push(struct store_pg *p, struct build *b,
		      const unsigned char digest[STORE_DIGEST_LEN], long long *ret_dup,
		      enum store_dup *ret_why, struct err *e)
{
	return pg_add(p, b, digest, ret_dup, ret_why, e);
}

int store_pg_prune_pushes(struct store_pg *p, long long before_ms, long long *ret_n,
			  struct err *e)
{
	struct pg_params q = { .pp_n = 0 };
	PGresult *r;

	pp_int(&q, before_ms);
	pp_int(&q, REPLAY_PRUNE_ROWS);
	r = pg_run(p, PS_PRUNE_SIGNED, &q, PGRES_COMMAND_OK, e, "cannot prune signed pushes");
	if (!r)
		return -1;
	*ret_n = atoll(pq.PQcmdTuples(r));
	pq.PQclear(r);
	return 0;
}

/* ---------- retention (store.h's store_keep_*) ---------- */

int store_pg_keep_next_repo(struct store_pg *p, const char *after, char **ret, struct err *e)
{
	struct pg_params q = { .pp_n = 0 };
	PGresult *r;
	char *v;

	pp_text(&q, after ? after : "");
	r = pg_run(p, PS_KEEP_REPO, &q, PGRES_TUPLES_OK, e,
		   "cannot list the repositories of the builds");
	if (!r)
		return -1;
	v = pq.PQntuples(r) > 0 ? pg_text(r, 0, 0) : NULL;
	pq.PQclear(r);
	if (!v)
		return 1;
	*ret = v;
	return 0;
}

int store_pg_keep_pick(struct store_pg *p, const struct store_keep *k, long long *ret_ids,
		       size_t max, size_t *ret_n, struct err *e)
{
	struct pg_params q = { .pp_n = 0 };
	long long nth = 0;
	PGresult *r;
	size_t n;

	/* by count: the builds from the (keep_builds + 1)-th newest down */
	if (k->keep_builds > 0) {
		pp_text(&q, k->repo);
		pp_int(&q, k->keep_builds);
		if (pg_one_id(p, PS_KEEP_NTH, &q, &nth, e, "cannot count the builds to keep") < 0)
			return -1;
		q.pp_n = 0;
	}
	pp_text(&q, k->repo);
	pp_int(&q, nth);
	pp_int(&q, k->finished_before);
	pp_int(&q, k->after_id);
	pp_int(&q, (long long)max);
	r = pg_run(p, PS_KEEP_PICK, &q, PGRES_TUPLES_OK, e, "cannot pick the builds past retention");
	if (!r)
		return -1;
	for (n = 0; n < max && (int)n < pq.PQntuples(r); n++)
		ret_ids[n] = pg_ll(r, (int)n, 0);
	pq.PQclear(r);
	*ret_n = n;
	return 0;
}

int store_pg_keep_delete(struct store_pg *p, long long id, struct err *e)
{
	struct pg_params q = { .pp_n = 0 };
	char *repo, *provider, *delivery;
	PGresult *r;
	int ret = 0;

	pp_int(&q, id);
	r = pg_run(p, PS_KEEP_DELETE, &q, PGRES_TUPLES_OK, e, "cannot delete a build");
	if (!r)
		return -1;
	if (pq.PQntuples(r) < 1) {
		pq.PQclear(r);
		return 1;	/* gone, or not final (any more) */
	}
	repo = pg_text(r, 0, 0);
	provider = pg_text(r, 0, 1);
	delivery = pg_text(r, 0, 2);
	pq.PQclear(r);
	if (repo && provider && delivery) {
		/* its delivery id goes too: the table would grow without bound otherwise */
		q.pp_n = 0;
		pp_text(&q, repo);
		pp_text(&q, provider);
		pp_text(&q, delivery);
		pp_int(&q, id);
		if (pg_change(p, PS_KEEP_DELIVERY, &q, e, "cannot delete the delivery of a build") < 0)
			ret = -1;
	}
	free(repo);
	free(provider);
	free(delivery);
	return ret;
}

int store_pg_get_build(struct store_pg *p, long long id, struct build *ret, struct err *e)
{
	struct pg_params q = { .pp_n = 0 };

	pp_int(&q, id);
	return pg_get_one(p, PS_GET, &q, ret, e);
}

int store_pg_next_queued(struct store_pg *p, struct build *ret, struct err *e)
{
	return pg_get_one(p, PS_NEXT_QUEUED, NULL, ret, e);
}

int store_pg_list_builds(struct store_pg *p, const struct store_filter *f,
			 struct build_list *ret, struct err *e)
{
	struct buf sql = BUF_INIT(1024);
	struct pg_params q = { .pp_n = 0 };
	size_t limit = f->limit ? f->limit : BUILDS_LIST_DEFAULT;
	const char *glue = " WHERE ";
	PGresult *r = NULL;
	int i, n, res = -1;

	if (limit > BUILDS_LIST_MAX)
		limit = BUILDS_LIST_MAX;
	buf_addstr(&sql, "SELECT " PG_BUILD_COLS " FROM builds");
	if (f->repo) {
		pp_text(&q, f->repo);
		buf_addf(&sql, "%srepo = $%d", glue, q.pp_n);
		glue = " AND ";
	}
	if (f->ref) {
		pp_text(&q, f->ref);
		buf_addf(&sql, "%sref = $%d", glue, q.pp_n);
		glue = " AND ";
	}
	if (f->state >= 0) {
		pp_text(&q, store_state_name((enum build_state)f->state));
		buf_addf(&sql, "%sstate = $%d", glue, q.pp_n);
		glue = " AND ";
	}
	if (f->before_id > 0) {
		pp_int(&q, f->before_id);
		buf_addf(&sql, "%sid < $%d", glue, q.pp_n);
		glue = " AND ";
	}
	if (f->mine) {
		/* an agent without an id owns nothing */
		pp_text(&q, p->pg_agent ? p->pg_agent : "");
		buf_addf(&sql, "%sagent = $%d", glue, q.pp_n);
		glue = " AND ";
	}
	if (f->runnable)
		buf_addf(&sql, "%sstate = 'queued' AND " PG_RUNNABLE, glue);
	buf_addf(&sql, " ORDER BY id %s LIMIT %zu", f->oldest_first ? "ASC" : "DESC", limit);
	if (pg_ready(p, e) < 0)
		goto out;
	r = pg_exec_params(p, sql.data, q.pp_n, q.pp_val, q.pp_len, q.pp_fmt);
	if (pq.PQresultStatus(r) != PGRES_TUPLES_OK) {
		pg_fail(p, e, "cannot list builds", r);
		goto out;
	}
	n = pq.PQntuples(r);
	ret->items = n ? xcalloc((size_t)n, sizeof(*ret->items)) : NULL;
	ret->n = (size_t)n;
	for (i = 0; i < n; i++)
		pg_row_build(r, i, &ret->items[i]);
	res = 0;
out:
	pq.PQclear(r);
	buf_release(&sql);
	return res;
}

int store_pg_set_running(struct store_pg *p, long long id, long long pid, const char *log_path,
			 long long started_ms, struct err *e)
{
	struct pg_params q = { .pp_n = 0 };

	pp_int(&q, id);
	pp_int(&q, started_ms);
	pp_opt(&q, pid);
	pp_text(&q, log_path);
	pp_text(&q, p->pg_agent);
	pp_int(&q, p->pg_lease_ms);
	return pg_change(p, PS_SET_RUNNING, &q, e, "cannot start a build");
}

int store_pg_claim(struct store_pg *p, long long id, const char *log_path, long long started_ms,
		   long long *ret_fence, struct err *e)
{
	struct pg_params q = { .pp_n = 0 };
	PGresult *r;
	int rc;

	pp_int(&q, id);
	/* outside a transaction the lock would end with its statement */
	if (store_pg_in_transaction(p)) {
		r = pg_run(p, PS_REPO_LOCK, &q, PGRES_TUPLES_OK, e,
			   "cannot lock a repository's builds");
		if (!r)
			return -1;
		pq.PQclear(r);
	}
	pp_int(&q, started_ms);
	pp_text(&q, NULL);
	pp_text(&q, log_path);
	pp_text(&q, p->pg_agent);
	pp_int(&q, p->pg_lease_ms);
	rc = pg_one_id(p, PS_CLAIM, &q, ret_fence, e, "cannot start a build");
	/* the other agents watch its lease from now on (worker_lease.c) */
	if (rc == 0 && store_pg_in_transaction(p))
		p->pg_leased = 1;
	else if (rc == 0)
		pg_simple(p, "NOTIFY " PG_CHANNEL ", '" PG_LEASED "'", PGRES_COMMAND_OK, NULL,
			  "notify");
	return rc;
}

int store_pg_claim_tag(struct store_pg *p, const char *repo, const char *image, const char *ref,
		       long long id, char **ret_owner, struct err *e)
{
	struct pg_params q = { .pp_n = 0 };
	PGresult *r;
	int rc = 0;

	pp_text(&q, repo);
	pp_text(&q, image);
	pp_text(&q, ref);
	pp_int(&q, id);
	if (pg_change(p, PS_TAG_CLAIM, &q, e, "cannot record the owner of an image name") < 0)
		return -1;
	q.pp_n = 2;
	r = pg_run(p, PS_TAG_OWNER, &q, PGRES_TUPLES_OK, e,
		   "cannot look up the owner of an image name");
	if (!r)
		return -1;
	if (pq.PQntuples(r) > 0 && strcmp(pq.PQgetvalue(r, 0, 0), ref) != 0) {
		*ret_owner = xstrdup(pq.PQgetvalue(r, 0, 0));
		rc = 1;
	}
	pq.PQclear(r);
	return rc;
}

int store_pg_set_finished_at(struct store_pg *p, long long id, enum build_state state,
			     const char *reason, const char *image, const char *image_id,
			     long long finished_ms, struct err *e)
{
	struct pg_params q = { .pp_n = 0 };
	PGresult *r;
	int prev, rc;

	pp_int(&q, id);
	r = pg_run(p, PS_STATE, &q, PGRES_TUPLES_OK, e, "cannot read a build");
	if (!r)
		return -1;
	if (pq.PQntuples(r) == 0) {
		pq.PQclear(r);
		return err_set(e, "build %lld: no such build", id);
	}
	prev = store_state_parse(pq.PQgetvalue(r, 0, 0));
	pq.PQclear(r);
	if (prev < 0)
		return err_set(e, "build %lld: unknown state in the database", id);
	if (prev != BUILD_QUEUED && prev != BUILD_RUNNING)
		return 1;
	pp_text(&q, store_state_name(state));
	pp_int(&q, finished_ms);
	pp_text(&q, reason);
	pp_text(&q, image);
	pp_text(&q, image_id);
	rc = pg_change(p, PS_SET_FINISHED, &q, e, "cannot finish a build");
	/* its repository's next build may start: on any agent */
	if (rc == 0 && prev == BUILD_RUNNING)
		pg_queued(p);
	/* and whoever follows its log learns that it has ended */
	if (rc == 0)
		pg_notify_id(p, PG_CHANNEL_LOG, id);
	return rc;
}

int store_pg_set_pid(struct store_pg *p, long long id, long long pid, struct err *e)
{
	struct pg_params q = { .pp_n = 0 };

	pp_int(&q, id);
	pp_int(&q, pid);
	return pg_change(p, PS_SET_PID, &q, e, "cannot record the process of a build");
}

int store_pg_requeue(struct store_pg *p, long long id, const char *reason, struct err *e)
{
	struct pg_params q = { .pp_n = 0 };

	int rc;

	pp_int(&q, id);
	pp_text(&q, reason);
	rc = pg_change(p, PS_REQUEUE, &q, e, "cannot requeue a build");
	if (rc == 0)
		pg_queued(p);
	return rc;
}

int store_pg_set_commit_info(struct store_pg *p, long long id, const char *message,
			     const char *author, struct err *e)
{
	struct pg_params q = { .pp_n = 0 };

	pp_int(&q, id);
	pp_text(&q, message);
	pp_text(&q, author);
	return pg_change(p, PS_SET_COMMIT, &q, e, "cannot record the commit of a build");
}

int store_pg_set_sha(struct store_pg *p, long long id, const char *sha, struct err *e)
{
	struct pg_params q = { .pp_n = 0 };

	pp_int(&q, id);
	pp_text(&q, sha);
	return pg_change(p, PS_SET_SHA, &q, e, "cannot record the commit of a build");
}

int store_pg_count_states(struct store_pg *p, long long counts[BUILD_NSTATES], struct err *e)
{
	PGresult *r;
	int i, n;

	/* not in a caller's transaction: the fold's locks would last as long */
	if (!store_pg_in_transaction(p)) {
		r = pg_run(p, PS_COUNT_FOLD, NULL, PGRES_COMMAND_OK, e, "cannot count builds");
		if (!r)
			return -1;
		pq.PQclear(r);
	}
	r = pg_run(p, PS_COUNT, NULL, PGRES_TUPLES_OK, e, "cannot count builds");
	if (!r)
		return -1;
	memset(counts, 0, sizeof(long long) * BUILD_NSTATES);
	for (i = 0; i < pq.PQntuples(r); i++) {
		n = store_state_parse(pq.PQgetvalue(r, i, 0));
		if (n >= 0)
			counts[n] = pg_ll(r, i, 1);
	}
	pq.PQclear(r);
	return 0;
}

int store_pg_queue_depth(struct store_pg *p, long long *ret, struct err *e)
{
	if (pg_one_id(p, PS_DEPTH, NULL, ret, e, "cannot count queued builds") != 0) {
		*ret = 0;
		return -1;
	}
	return 0;
}

int store_pg_status_add(struct store_pg *p, long long build_id, const char *state,
			const char *description, struct err *e)
{
	struct pg_params q = { .pp_n = 0 };

	pp_int(&q, build_id);
	pp_text(&q, state);
	pp_text(&q, description);
	pp_int(&q, store_now_ms());
	if (pg_change(p, PS_STATUS_ADD, &q, e, "cannot queue a commit status") < 0)
		return -1;
	pg_statused(p);		/* any agent may post it: they hear of it */
	return 0;
}

int store_pg_agent_seen(struct store_pg *p, const char *labels, int workers, struct err *e)
{
	struct pg_params q = { .pp_n = 0 };

	if (!p->pg_agent)
		return 0;
	pp_text(&q, p->pg_agent);
	pp_text(&q, labels);
	pp_int(&q, workers);
	return pg_change(p, PS_AGENT_SEEN, &q, e, "cannot record this agent") < 0 ? -1 : 0;
}

int store_pg_agents(struct store_pg *p, long long within_ms, struct strv *ret, struct err *e)
{
	struct pg_params q = { .pp_n = 0 };
	PGresult *r;
	int i;

	pp_int(&q, within_ms);
	pp_int(&q, STORE_AGENTS_MAX);
	r = pg_run(p, PS_AGENTS, &q, PGRES_TUPLES_OK, e, "cannot read the agents");
	if (!r)
		return -1;
	for (i = 0; i < pq.PQntuples(r); i++)
		strv_push(ret, pq.PQgetvalue(r, i, 0));
	pq.PQclear(r);
	return 0;
}

int store_pg_queued_repos(struct store_pg *p, struct store_repo_count **ret, size_t *ret_n,
			  struct err *e)
{
	struct pg_params q = { .pp_n = 0 };
	struct store_repo_count *c;
	PGresult *r;
	int i, n;

	pp_int(&q, STORE_REPOS_MAX);
	r = pg_run(p, PS_QUEUED_REPOS, &q, PGRES_TUPLES_OK, e, "cannot count queued builds");
	if (!r)
		return -1;
	n = pq.PQntuples(r);
	c = xcalloc((size_t)n + 1, sizeof(*c));
	for (i = 0; i < n; i++) {
		c[i].repo = pg_text(r, i, 0);
		c[i].n = pg_ll(r, i, 1);
	}
	pq.PQclear(r);
	*ret = c;
	*ret_n = (size_t)n;
	return 0;
}

int store_pg_status_add_queued(struct store_pg *p, long long build_id, const char *description,
			       struct err *e)
{
	struct pg_params q = { .pp_n = 0 };
	int rc;

	pp_int(&q, build_id);
	rc = pg_change(p, PS_STATUS_QUEUED, &q, e, "cannot mark a queued status");
	if (rc != 0)
		return rc < 0 ? -1 : 0;
	return store_pg_status_add(p, build_id, "queued", description, e);
}

int store_pg_status_heads(struct store_pg *p, size_t max, struct status_row *ret, size_t *ret_n,
			  struct err *e)
{
	struct pg_params q = { .pp_n = 0 };
	PGresult *r;
	size_t n = 0;

	pp_int(&q, (long long)max);
	pp_int(&q, store_now_ms());
	r = pg_run(p, PS_STATUS_HEADS, &q, PGRES_TUPLES_OK, e, "cannot read commit statuses");
	if (!r)
		return -1;
	for (n = 0; n < max && (int)n < pq.PQntuples(r); n++) {
		struct status_row *s = &ret[n];
		int i = (int)n;

		memset(s, 0, sizeof(*s));
		s->id = pg_ll(r, i, 0);
		s->build_id = pg_ll(r, i, 1);
		s->state = pg_text(r, i, 2);
		s->description = pg_text(r, i, 3);
		s->attempts = (int)pg_ll(r, i, 4);
		s->next_at = pg_ll(r, i, 5);
		s->last_error = pg_text(r, i, 6);
		s->repo = pg_text(r, i, 7);
	}
	pq.PQclear(r);
	*ret_n = n;
	return 0;
}

int store_pg_status_claim(struct store_pg *p, struct status_row *s, long long now,
			  struct err *e)
{
	struct pg_params q = { .pp_n = 0 };
	PGresult *r;
	int rc = 0;

	pp_int(&q, s->id);
	pp_text(&q, p->pg_agent);
	pp_int(&q, now);
	pp_int(&q, STATUS_CLAIM_SECONDS * 1000LL);
	r = pg_run(p, PS_STATUS_CLAIM, &q, PGRES_TUPLES_OK, e, "cannot claim a commit status");
	if (!r)
		return -1;
	if (pq.PQntuples(r) == 1) {
		s->claim = pg_ll(r, 0, 0);
		s->attempts = (int)pg_ll(r, 0, 1);
		s->taken_over = pg_ll(r, 0, 2) != 0;
		rc = 1;
	}
	pq.PQclear(r);
	return rc;
}

int store_pg_status_done(struct store_pg *p, long long id, long long claim, struct err *e)
{
	struct pg_params q = { .pp_n = 0 };

	pp_int(&q, id);
	pp_int(&q, claim);
	return pg_change(p, PS_STATUS_DONE, &q, e, "cannot delete a commit status") < 0 ? -1 : 0;
}

int store_pg_status_retry(struct store_pg *p, long long id, long long claim, long long next_at,
			  const char *error, struct err *e)
{
	struct pg_params q = { .pp_n = 0 };

	pp_int(&q, id);
	pp_int(&q, next_at);
	pp_text(&q, error);
	pp_int(&q, claim);
	return pg_change(p, PS_STATUS_RETRY, &q, e, "cannot reschedule a commit status") < 0 ?
		-1 : 0;
}

/* ---------- leases (store.h's store_lease_*, store_take_over, store_fence_check) ---------- */

void store_pg_set_lease(struct store_pg *p, long long lease_ms)
{
	p->pg_lease_ms = lease_ms;
}

/* "{1,2,3}": n numbers as a PostgreSQL array */
static char *pg_array(const long long *v, size_t n)
{
	struct buf b = BUF_INIT(64);
	size_t i;

	buf_addstr(&b, "{");
	for (i = 0; i < n; i++)
		buf_addf(&b, "%s%lld", i ? "," : "", v[i]);
	buf_addstr(&b, "}");
	return buf_detach(&b, NULL);
}

int store_pg_lease_renew(struct store_pg *p, const long long *ids, const long long *fences,
			 size_t n, int *ret_held, struct err *e)
{
	struct pg_params q = { .pp_n = 0 };
	char *aid = pg_array(ids, n), *afence = pg_array(fences, n);
	PGresult *r;
	size_t i;
	int k;

	pp_text(&q, p->pg_agent ? p->pg_agent : "");
	pp_int(&q, p->pg_lease_ms);
	pp_text(&q, aid);
	pp_text(&q, afence);
	r = pg_run(p, PS_LEASE_RENEW, &q, PGRES_TUPLES_OK, e, "cannot renew the leases");
	free(aid);
	free(afence);
	if (!r)
		return -1;
	for (i = 0; i < n; i++) {
		ret_held[i] = 0;
		for (k = 0; k < pq.PQntuples(r); k++)
			if (pg_ll(r, k, 0) == ids[i])
				ret_held[i] = 1;
	}
	pq.PQclear(r);
	return 0;
}

int store_pg_lease_expired(struct store_pg *p, size_t max, struct build_list *ret,
			   long long *ret_next_ms, struct err *e)
{
	struct pg_params q = { .pp_n = 0 };
	PGresult *r;
	long long left;
	int i, n;

	*ret_next_ms = -1;
	ret->items = NULL;
	ret->n = 0;
	/* one more than max: whether a lease that has not run out follows */
	pp_int(&q, (long long)max + 1);
	r = pg_run(p, PS_LEASE_SCAN, &q, PGRES_TUPLES_OK, e, "cannot read the leases");
	if (!r)
		return -1;
	n = pq.PQntuples(r);
	ret->items = n ? xcalloc((size_t)n, sizeof(*ret->items)) : NULL;
	for (i = 0; i < n; i++) {
		left = pg_ll(r, i, PG_BUILD_NCOLS);
		if (left > 0 || ret->n == max) {
			/* the list is in expiry order: the next one to run out */
			*ret_next_ms = left > 0 ? left : 0;
			break;
		}
		pg_row_build(r, i, &ret->items[ret->n++]);
	}
	pq.PQclear(r);
	return 0;
}

int store_pg_take_over(struct store_pg *p, long long id, long long fence, enum build_state state,
		       const char *reason, long long *ret_fence, struct err *e)
{
	struct pg_params q = { .pp_n = 0 };
	int rc;

	pp_int(&q, id);
	pp_int(&q, fence);
	pp_text(&q, store_state_name(state));
	pp_text(&q, reason);
	pp_int(&q, store_now_ms());
	pp_text(&q, p->pg_agent ? p->pg_agent : "");
	rc = pg_one_id(p, PS_TAKE_OVER, &q, ret_fence, e, "cannot take a build over");
	/* queued again, or ended: either way its repository may go on, on any agent, and
	 * whoever follows its log hears of it */
	if (rc == 0) {
		pg_queued(p);
		pg_notify_id(p, PG_CHANNEL_LOG, id);
	}
	return rc;
}

int store_pg_fence_check(struct store_pg *p, long long id, long long fence, struct err *e)
{
	struct pg_params q = { .pp_n = 0 };
	PGresult *r;
	int rc;

	pp_int(&q, id);
	pp_int(&q, fence);
	r = pg_run(p, PS_FENCE, &q, PGRES_TUPLES_OK, e, "cannot check the fencing number");
	if (!r)
		return -1;
	rc = pq.PQntuples(r) > 0 ? 0 : 1;
	pq.PQclear(r);
	return rc;
}

int store_pg_exec(struct store_pg *p, const char *sql, int n, const char *const *vals,
		  const int *lens, const int *fmts, long long *ret_n, struct err *e)
{
	PGresult *r;
	int rc = 0;

	if (pg_ready(p, e) < 0)
		return -1;
	r = pg_exec_params(p, sql, n, vals, lens, fmts);
	if (pq.PQresultStatus(r) == PGRES_TUPLES_OK)
		*ret_n = pq.PQntuples(r);
	else if (pq.PQresultStatus(r) == PGRES_COMMAND_OK)
		*ret_n = atoll(pq.PQcmdTuples(r));
	else
		rc = pg_fail(p, e, "cannot copy", r);
	pq.PQclear(r);
	return rc;
}

/* ---------- a build's log, and a cancel asked of the agent running it ---------- */

/* A binary result's integer column (int4 or int8, network order). */
static long long pg_bin_int(const PGresult *r, int row, int col)
{
	const unsigned char *v = (const unsigned char *)pq.PQgetvalue(r, row, col);
	int n = pq.PQgetlength(r, row, col), i;
	unsigned long long u = 0;

	if (pq.PQgetisnull(r, row, col) || (n != 4 && n != 8))
		return 0;
	for (i = 0; i < n; i++)
		u = u << 8 | v[i];
	return n == 4 ? (long long)(int)(unsigned)u : (long long)u;
}

/* A statement whose rows say what it did: 0 when it returned one, 1 when none, -1 on error. */
static int pg_any_row(struct store_pg *p, int which, const struct pg_params *q, struct err *e,
		      const char *what)
{
	PGresult *r = pg_run(p, which, q, PGRES_TUPLES_OK, e, what);
	int rc;

	if (!r)
		return -1;
	rc = pq.PQntuples(r) > 0 ? 0 : 1;
	pq.PQclear(r);
	return rc;
}

int store_pg_log_stored(struct store_pg *p, long long id, int attempt, long long *ret_len,
			struct err *e)
{
	struct pg_params q = { .pp_n = 0 };
	long long n = 0;

	pp_int(&q, id);
	pp_int(&q, attempt);
	if (pg_one_id(p, PS_LOG_STORED, &q, &n, e, "cannot read a build's log") < 0)
		return -1;
	*ret_len = n;
	return 0;
}

int store_pg_log_append(struct store_pg *p, long long id, int attempt, long long off,
			const void *data, size_t len, struct err *e)
{
	struct pg_params q = { .pp_n = 0 };

	if (!len || len > STORE_LOG_CHUNK_MAX)
		return err_set(e, "build %lld: a log chunk of %zu bytes", id, len);
	pp_int(&q, id);
	pp_int(&q, attempt);
	pp_int(&q, off);
	pp_bytes(&q, data, (int)len);
	pp_int(&q, STORE_LOG_MAX);
	return pg_any_row(p, PS_LOG_APPEND, &q, e, "cannot add to a build's log");
}

int store_pg_log_read(struct store_pg *p, long long id, struct store_log_pos *pos, size_t max,
		      struct buf *out, struct err *e)
{
	struct pg_params q = { .pp_n = 0 };
	PGresult *r;
	int i, n, len, rc = 1;

	pp_int(&q, id);
	pp_int(&q, pos->attempt);
	pp_int(&q, pos->off);
	pp_int(&q, STORE_LOG_READ_ROWS);
	r = pg_run_as(p, PS_LOG_READ, &q, PGRES_TUPLES_OK, 1, e, "cannot read a build's log");
	if (!r)
		return -1;
	n = pq.PQntuples(r);
	for (i = 0; i < n; i++) {
		len = pq.PQgetlength(r, i, 2);
		/* whole chunks only: the next read starts where this one stopped */
		if (rc == 0 && out->len + (size_t)len > max)
			break;
		if (buf_add(out, pq.PQgetvalue(r, i, 2), (size_t)len) < 0)
			break;
		pos->attempt = (int)pg_bin_int(r, i, 0);
		pos->off = pg_bin_int(r, i, 1) + len;
		rc = 0;
	}
	pq.PQclear(r);
	return rc;
}

int store_pg_log_tail(struct store_pg *p, long long id, size_t max, struct buf *out,
		      size_t *ret_skipped, struct err *e)
{
	struct pg_params q = { .pp_n = 0 };
	struct buf all = BUF_INIT(max + STORE_LOG_CHUNK_MAX);
	PGresult *r;
	long long total;
	size_t cut;
	int i, n, rc = 1;

	pp_int(&q, id);
	pp_int(&q, (long long)max);
	r = pg_run_as(p, PS_LOG_TAIL, &q, PGRES_TUPLES_OK, 1, e, "cannot read a build's log");
	if (!r)
		return -1;
	n = pq.PQntuples(r);
	for (i = 0; i < n; i++)
		if (buf_add(&all, pq.PQgetvalue(r, i, 0), (size_t)pq.PQgetlength(r, i, 0)) < 0)
			break;
	total = n ? pg_bin_int(r, 0, 1) : 0;
	pq.PQclear(r);
	if (all.len) {
		cut = all.len > max ? all.len - max : 0;
		if (buf_add(out, all.data + cut, all.len - cut) == 0) {
			*ret_skipped = (size_t)total - (all.len - cut);
			rc = 0;
		}
	}
	buf_release(&all);
	return rc;
}

int store_pg_cancel_ask(struct store_pg *p, long long id, struct err *e)
{
	struct pg_params q = { .pp_n = 0 };

	pp_int(&q, id);
	pp_int(&q, store_now_ms());
	return pg_any_row(p, PS_CANCEL_ASK, &q, e, "cannot ask for a cancel");
}

int store_pg_cancel_pending(struct store_pg *p, long long *ret_ids, size_t max, size_t *ret_n,
			    struct err *e)
{
	struct pg_params q = { .pp_n = 0 };
	PGresult *r;
	size_t i, n;

	*ret_n = 0;
	if (!p->pg_agent)
		return 0;
	pp_text(&q, p->pg_agent);
	pp_int(&q, (long long)max);
	r = pg_run(p, PS_CANCEL_PENDING, &q, PGRES_TUPLES_OK, e, "cannot read the cancels asked");
	if (!r)
		return -1;
	n = (size_t)pq.PQntuples(r);
	for (i = 0; i < n && i < max; i++)
		ret_ids[i] = pg_ll(r, (int)i, 0);
	pq.PQclear(r);
	*ret_n = i;
	return 0;
}
