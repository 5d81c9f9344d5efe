/* store_copy: one agent's SQLite history copied into a fleet's PostgreSQL store
 * (s2i-agent migrate): builds with their ids, delivery ids, the replay guard, image
 * name owners, the commit statuses still to post and the builds' logs, in one
 * transaction. */
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "buf.h"
#include "limits.h"
#include "store_int.h"

#define COPY_COLS_MAX	32

/* One table: what is read from SQLite (its columns in order) and the statement
 * that writes a row into PostgreSQL ($1.. the columns, then $agent where said). */
struct copy_table {
	const char *ct_name;
	const char *ct_select;
	const char *ct_insert;
	int ct_agent;			/* the agent's id is the last parameter */
	size_t ct_tally;		/* the rows written count in this store_copy_tally field */
};

static const struct copy_table copy_builds = {
	"builds",
	"SELECT id, repo, ref, sha, before_sha, state, reason, image, image_id, created, started, "
	"finished, provider, delivery, message, author, repo_full_name, project_id, clone_url, "
	"attempt, pid, log_path, untrusted, retry_of FROM builds ORDER BY id",
	/* a build that was started is this agent's: its recovery takes it back; the
	 * agent queued the queued status of each already (store_status_add_queued) */
	"INSERT INTO builds (id, repo, ref, sha, before_sha, state, reason, image, image_id, "
	"created, started, finished, provider, delivery, message, author, repo_full_name, "
	"project_id, clone_url, attempt, pid, log_path, untrusted, retry_of, agent, "
	"queued_status) VALUES "
	"($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, "
	"$20, $21, $22, $23, $24, CASE WHEN $11::bigint IS NULL THEN NULL ELSE $25 END, 1) "
	"ON CONFLICT (id) DO NOTHING",
	1, offsetof(struct store_copy_tally, sct_builds),
};

/* the build already there is this one (an earlier run of migrate), not another's */
#define COPY_SAME_BUILD "SELECT 1 FROM builds WHERE id = $1::bigint AND repo = $2 " \
	"AND ref = $3 AND sha = $4 AND created = $5::bigint"

static const struct copy_table copy_rest[] = {
	{ "deliveries", "SELECT repo, provider, delivery, build_id FROM deliveries",
	  "INSERT INTO deliveries (repo, provider, delivery, build_id) VALUES ($1, $2, $3, $4) "
	  "ON CONFLICT DO NOTHING", 0, offsetof(struct store_copy_tally, sct_deliveries) },
	{ "signed_pushes", "SELECT repo, digest, build_id, seen FROM signed_pushes",
	  "INSERT INTO signed_pushes (repo, digest, build_id, seen) VALUES ($1, $2, $3, $4) "
	  "ON CONFLICT DO NOTHING", 0, offsetof(struct store_copy_tally, sct_pushes) },
	{ "tag_owners", "SELECT repo, image, ref, build_id FROM tag_owners",
	  "INSERT INTO tag_owners (repo, image, ref, build_id) VALUES ($1, $2, $3, $4) "
	  "ON CONFLICT DO NOTHING", 0, offsetof(struct store_copy_tally, sct_tags) },
};

/* the statuses of the builds this run copied, in their order (new ids) */
static const struct copy_table copy_statuses = {
	"statuses",
	"SELECT build_id, state, description, attempts, next_at, last_error, created "
	"FROM statuses ORDER BY id",
	"INSERT INTO statuses (build_id, state, description, attempts, next_at, last_error, "
	"created) VALUES ($1, $2, $3, $4, $5, $6, $7)",
	0, offsetof(struct store_copy_tally, sct_statuses),
};

/* The build ids this run inserted, ascending (builds are read in id order). */
struct copy_ids {
	long long *ci_ids;
	size_t ci_n, ci_cap;
};

static void copy_ids_add(struct copy_ids *c, long long id)
{
	if (c->ci_n == c->ci_cap) {
		c->ci_cap = c->ci_cap ? 2 * c->ci_cap : 256;
		c->ci_ids = xrealloc(c->ci_ids, c->ci_cap * sizeof(*c->ci_ids));
	}
	c->ci_ids[c->ci_n++] = id;
}

static int copy_ids_has(const struct copy_ids *c, long long id)
{
	size_t lo = 0, hi = c->ci_n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (c->ci_ids[mid] == id)
			return 1;
		if (c->ci_ids[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/* The current row of st as parameters: text, blobs binary, NULL as NULL. */
struct copy_row {
	const char *cr_val[COPY_COLS_MAX];
	int cr_len[COPY_COLS_MAX];
	int cr_fmt[COPY_COLS_MAX];
	int cr_n;
};

static void copy_row_read(sqlite3_stmt *st, const char *agent, int with_agent, struct copy_row *r)
{
	int i, n = sqlite3_column_count(st);

	for (i = 0; i < n && i < COPY_COLS_MAX - 1; i++) {
		int type = sqlite3_column_type(st, i);

		r->cr_fmt[i] = type == SQLITE_BLOB;
		r->cr_val[i] = type == SQLITE_NULL ? NULL :
			type == SQLITE_BLOB ? sqlite3_column_blob(st, i) :
			(const char *)sqlite3_column_text(st, i);
		r->cr_len[i] = sqlite3_column_bytes(st, i);
	}
	if (with_agent) {
		r->cr_val[i] = agent;
		r->cr_len[i] = 0;
		r->cr_fmt[i] = 0;
		i++;
	}
	r->cr_n = i;
}

static long long copy_row_id(const struct copy_row *r, int col)
{
	return r->cr_val[col] ? atoll(r->cr_val[col]) : 0;
}

/* Copies every row of t, counting those written in tally. keep: only rows whose
 * first column is one of its ids (statuses), NULL for all; inserted: gets the id
 * (first column) of each row inserted (builds), and a build already there must be
 * this one (sct_builds_there). */
static int copy_table(struct store *from, struct store_pg *to, const struct copy_table *t,
		      const char *agent, const struct copy_ids *keep, struct copy_ids *inserted,
		      struct store_copy_tally *tally, struct err *e)
{
	long long *written = (long long *)(void *)((char *)tally + t->ct_tally);
	sqlite3 *db = store_sqlite(from);
	sqlite3_stmt *st = NULL;
	struct copy_row r;
	long long n;
	int rc;

	if (sqlite3_prepare_v2(db, t->ct_select, -1, &st, NULL) != SQLITE_OK)
		return err_set(e, "database '%s': cannot read %s: %s", store_path(from), t->ct_name,
			       sqlite3_errmsg(db));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		copy_row_read(st, agent, t->ct_agent, &r);
		if (keep && !copy_ids_has(keep, copy_row_id(&r, 0)))
			continue;
		if (store_pg_exec(to, t->ct_insert, r.cr_n, r.cr_val, r.cr_len, r.cr_fmt, &n, e) < 0)
			goto fail;
		if (n > 0) {
			++*written;
			if (inserted)
				copy_ids_add(inserted, copy_row_id(&r, 0));
			continue;
		}
		if (!inserted)
			continue;
		tally->sct_builds_there++;
		/* the id is taken: by this build (copied before) or by another history;
		 * its id, repo, ref, sha and created (the columns of copy_builds) */
		r.cr_val[4] = r.cr_val[9];
		if (store_pg_exec(to, COPY_SAME_BUILD, 5, r.cr_val, r.cr_len, r.cr_fmt, &n, e) < 0)
			goto fail;
		if (n == 0) {
			err_set(e, "the target already holds a build %s that is not this agent's "
				"(repository '%s', ref '%s'): build ids would clash; migrate into "
				"a database that holds no other builds", r.cr_val[0],
				r.cr_val[1] ? r.cr_val[1] : "", r.cr_val[2] ? r.cr_val[2] : "");
			goto fail;
		}
	}
	if (rc != SQLITE_DONE) {
		err_set(e, "database '%s': cannot read %s: %s", store_path(from), t->ct_name,
			sqlite3_errmsg(db));
		goto fail;
	}
	sqlite3_finalize(st);
	return 0;
fail:
	sqlite3_finalize(st);
	return -1;
}

/* The log file of build id (as the agent that ran it wrote it, every attempt) into
 * the store's chunks, as the attempt it ended with, up to STORE_LOG_MAX bytes: any
 * agent of the fleet serves it then. A file that is gone is no error. */
static int copy_log(struct store *to, long long id, int attempt, const char *path,
		    struct store_copy_tally *t, struct err *e)
{
	char *chunk = NULL;
	long long off = 0;
	ssize_t n;
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return 0;
	chunk = xmalloc(STORE_LOG_CHUNK_MAX);
	while ((n = xread_full(fd, chunk, STORE_LOG_CHUNK_MAX)) > 0) {
		rc = store_log_append(to, id, attempt, off, chunk, (size_t)n, e);
		if (rc != 0)
			break;		/* -1, or 1: past the cap, the rest stays out */
		off += n;
	}
	if (n < 0 && rc == 0)
		rc = err_errno(e, "cannot read '%s'", path);
	if (off > 0) {
		t->sct_logs++;
		t->sct_log_bytes += off;
	}
	free(chunk);
	close(fd);
	return rc < 0 ? -1 : 0;
}

/* The logs of the builds this run copied. */
static int copy_logs(struct store *from, struct store *to, const struct copy_ids *ids,
		     struct store_copy_tally *t, struct err *e)
{
	sqlite3 *db = store_sqlite(from);
	sqlite3_stmt *st = NULL;
	int rc;

	if (sqlite3_prepare_v2(db, "SELECT id, attempt, log_path FROM builds "
			       "WHERE log_path IS NOT NULL ORDER BY id", -1, &st, NULL) != SQLITE_OK)
		return err_set(e, "database '%s': cannot read builds: %s", store_path(from),
			       sqlite3_errmsg(db));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		long long id = sqlite3_column_int64(st, 0);
		int attempt = sqlite3_column_int(st, 1);

		if (!copy_ids_has(ids, id))
			continue;
		if (copy_log(to, id, attempt > 0 ? attempt : 1,
			     (const char *)sqlite3_column_text(st, 2), t, e) < 0) {
			sqlite3_finalize(st);
			return -1;
		}
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return err_set(e, "database '%s': cannot read builds: %s", store_path(from),
			       sqlite3_errmsg(db));
	return 0;
}

int store_copy(struct store *from, struct store *to, const char *agent,
	       struct store_copy_tally *t, struct err *e)
{
	struct store_pg *pg = store_pg_of(to);
	struct copy_ids ids = { NULL, 0, 0 };
	long long n;
	size_t i;

	memset(t, 0, sizeof(*t));
	if (!store_sqlite(from) || !pg)
		return err_set(e, "migrate copies an SQLite store into a PostgreSQL one");
	if (sqlite3_exec(store_sqlite(from), "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
		return err_set(e, "database '%s': cannot begin: %s", store_path(from),
			       sqlite3_errmsg(store_sqlite(from)));
	if (store_begin(to, e) < 0)
		goto fail;
	if (copy_table(from, pg, &copy_builds, agent, NULL, &ids, t, e) < 0)
		goto fail;
	for (i = 0; i < sizeof(copy_rest) / sizeof(copy_rest[0]); i++)
		if (copy_table(from, pg, &copy_rest[i], agent, NULL, NULL, t, e) < 0)
			goto fail;
	if (copy_table(from, pg, &copy_statuses, agent, &ids, NULL, t, e) < 0 ||
	    copy_logs(from, to, &ids, t, e) < 0)
		goto fail;
	/* the fleet's next build gets an id after every copied one */
	if (store_pg_exec(pg, "SELECT setval('builds_id_seq', m) FROM (SELECT max(id) AS m "
			  "FROM builds) x, builds_id_seq s WHERE m > s.last_value", 0, NULL, NULL,
			  NULL, &n, e) < 0)
		goto fail;
	if (store_commit(to, e) < 0)
		goto fail;
	sqlite3_exec(store_sqlite(from), "COMMIT", NULL, NULL, NULL);
	free(ids.ci_ids);
	return 0;
fail:
	store_rollback(to);
	sqlite3_exec(store_sqlite(from), "ROLLBACK", NULL, NULL, NULL);
	free(ids.ci_ids);
	memset(t, 0, sizeof(*t));
	return -1;
}
