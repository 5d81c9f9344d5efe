/* store: the store's interface and its SQLite implementation (schema, prepared
 * statements, row <-> struct build). Durability rule: WAL with synchronous=FULL, so
 * a COMMIT has reached the disk. A store on PostgreSQL forwards each call to
 * store_pg.c (st_pg). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "buf.h"
#include "limits.h"
#include "runner.h"
#include "store_int.h"

static const char *const store_states[BUILD_NSTATES] = {
	"queued", "running", "succeeded", "failed", "errored", "canceled"
};

enum {
	ST_ADD_BUILD, ST_FIND_DELIVERY, ST_ADD_DELIVERY, ST_GET, ST_NEXT_QUEUED, ST_SET_RUNNING,
	ST_SET_FINISHED, ST_REQUEUE, ST_COUNT, ST_BEGIN, ST_COMMIT, ST_ROLLBACK, ST_PING,
	ST_STATUS_ADD, ST_STATUS_HEADS, ST_STATUS_DONE, ST_STATUS_RETRY, ST_STATE, ST_SET_SHA,
	ST_SET_PID, ST_SET_COMMIT, ST_SAVEPOINT, ST_RELEASE, ST_ROLLBACK_TO,
	ST_FIND_SIGNED, ST_ADD_SIGNED, ST_REF_NEWEST, ST_PRUNE_SIGNED,
	ST_KEEP_REPO, ST_KEEP_NTH, ST_KEEP_PICK, ST_KEEP_DELETE, ST_KEEP_DELIVERY,
	ST_QUEUED_REPOS, ST_N
};

#define BUILD_COLS "id, repo, ref, sha, before_sha, state, reason, image, image_id, created, " \
	"started, finished, provider, delivery, message, author, repo_full_name, project_id, " \
	"clone_url, attempt, pid, log_path, untrusted, retry_of"

static const char *const store_sql[ST_N] = {
	[ST_ADD_BUILD] = "INSERT INTO builds (repo, ref, sha, before_sha, state, created, provider, "
		"delivery, message, author, repo_full_name, project_id, clone_url, untrusted, retry_of) "
		"VALUES (?1, ?2, ?3, ?4, 'queued', ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
	[ST_FIND_DELIVERY] = "SELECT build_id FROM deliveries WHERE repo = ?1 AND provider = ?2 "
		"AND delivery = ?3",
	[ST_ADD_DELIVERY] = "INSERT INTO deliveries (repo, provider, delivery, build_id) "
		"VALUES (?1, ?2, ?3, ?4)",
	[ST_GET] = "SELECT " BUILD_COLS " FROM builds WHERE id = ?1",
	[ST_NEXT_QUEUED] = "SELECT " BUILD_COLS " FROM builds WHERE state = 'queued' "
		"ORDER BY id LIMIT 1",
	[ST_SET_RUNNING] = "UPDATE builds SET state = 'running', started = ?2, attempt = attempt + 1, "
		"pid = ?3, log_path = coalesce(?4, log_path), finished = NULL "
		"WHERE id = ?1 AND state = 'queued'",
	[ST_SET_FINISHED] = "UPDATE builds SET state = ?2, finished = ?3, "
		"reason = coalesce(?4, reason), image = coalesce(?5, image), "
		"image_id = coalesce(?6, image_id), pid = NULL "
		"WHERE id = ?1 AND state IN ('queued', 'running')",
	[ST_REQUEUE] = "UPDATE builds SET state = 'queued', reason = coalesce(?2, reason), pid = NULL, "
		"started = NULL WHERE id = ?1 AND state = 'running'",
	[ST_COUNT] = "SELECT state, count(*) FROM builds GROUP BY state",
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_PING] = "SELECT 1",
	[ST_QUEUED_REPOS] = "SELECT repo, count(*) FROM builds WHERE state = 'queued' GROUP BY repo "
		"ORDER BY repo LIMIT ?1",
	[ST_STATUS_ADD] = "INSERT INTO statuses (build_id, state, description, next_at, created) "
		"VALUES (?1, ?2, ?3, ?4, ?4)",
	/* the statuses of one commit (repo + sha) go out in order, whatever build they
	 * belong to: only the oldest row of each commit is eligible. A build whose
	 * commit is not known (or that is gone) is a commit of its own. */
	[ST_STATUS_HEADS] = "SELECT s.id, s.build_id, s.state, s.description, s.attempts, s.next_at, "
		"s.last_error, b.repo FROM statuses s LEFT JOIN builds b ON b.id = s.build_id "
		"WHERE s.id IN (SELECT min(t.id) FROM statuses t LEFT JOIN builds c ON c.id = t.build_id "
		"GROUP BY c.repo, coalesce(nullif(c.sha, ''), t.build_id)) "
		"ORDER BY s.next_at, s.id LIMIT ?1",
	[ST_STATUS_DONE] = "DELETE FROM statuses WHERE id = ?1",
	[ST_STATUS_RETRY] = "UPDATE statuses SET attempts = attempts + 1, next_at = ?2, "
		"last_error = ?3 WHERE id = ?1",
	[ST_STATE] = "SELECT state FROM builds WHERE id = ?1",
	[ST_SET_SHA] = "UPDATE builds SET sha = ?2 WHERE id = ?1 AND sha = ''",
	[ST_SET_PID] = "UPDATE builds SET pid = ?2 WHERE id = ?1 AND state = 'running'",
	[ST_SET_COMMIT] = "UPDATE builds SET message = coalesce(message, ?2), "
		"author = coalesce(author, ?3) WHERE id = ?1",
	[ST_SAVEPOINT] = "SAVEPOINT op",
	[ST_RELEASE] = "RELEASE op",
	[ST_ROLLBACK_TO] = "ROLLBACK TO op",
	[ST_FIND_SIGNED] = "SELECT build_id FROM signed_pushes WHERE repo = ?1 AND digest = ?2",
	[ST_ADD_SIGNED] = "INSERT INTO signed_pushes (repo, digest, build_id, seen) "
		"VALUES (?1, ?2, ?3, ?4)",
	[ST_REF_NEWEST] = "SELECT id, sha, state FROM builds WHERE repo = ?1 AND ref = ?2 "
		"ORDER BY id DESC LIMIT 1",
	[ST_PRUNE_SIGNED] = "DELETE FROM signed_pushes WHERE (repo, digest) IN "
		"(SELECT repo, digest FROM signed_pushes WHERE seen < ?1 ORDER BY seen LIMIT ?2)",
	/* retention (store_keep_*): each through an index, none with a window
	 * function, so a slice of a pass costs the writer milliseconds */
	[ST_KEEP_REPO] = "SELECT min(repo) FROM builds WHERE repo > ?1",
	[ST_KEEP_NTH] = "SELECT id FROM builds WHERE repo = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2",
	[ST_KEEP_PICK] = "SELECT c.id, c.finished FROM builds c WHERE c.repo = ?1 AND c.id > ?4 "
		"AND (c.id <= ?2 OR c.finished < ?3) "
		"AND c.state IN ('succeeded', 'failed', 'errored', 'canceled') "
		"AND EXISTS (SELECT 1 FROM builds r WHERE r.repo = c.repo AND r.ref = c.ref "
		"AND r.id > c.id) "
		"AND NOT EXISTS (SELECT 1 FROM statuses t WHERE t.build_id = c.id) "
		"ORDER BY c.id LIMIT ?5",
	[ST_KEEP_DELETE] = "DELETE FROM builds WHERE id = ?1 "
		"AND state IN ('succeeded', 'failed', 'errored', 'canceled') "
		"RETURNING state, repo, provider, delivery",
	[ST_KEEP_DELIVERY] = "DELETE FROM deliveries WHERE repo = ?1 AND provider = ?2 "
		"AND delivery = ?3 AND build_id = ?4",
};

static const char store_schema[] =
	"CREATE TABLE IF NOT EXISTS builds ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"	/* never reused: build URLs stay valid */
	" repo TEXT NOT NULL, ref TEXT NOT NULL, sha TEXT NOT NULL, before_sha TEXT,"
	" state TEXT NOT NULL DEFAULT 'queued', reason TEXT, image TEXT, image_id TEXT,"
	" created INTEGER NOT NULL, started INTEGER, finished INTEGER,"
	" provider TEXT NOT NULL, delivery TEXT, message TEXT, author TEXT,"
	" repo_full_name TEXT, project_id TEXT, clone_url TEXT,"
	" attempt INTEGER NOT NULL DEFAULT 0, pid INTEGER, log_path TEXT,"
	" untrusted INTEGER NOT NULL DEFAULT 0,"
	" retry_of INTEGER);"	/* the build a retry was made from */
	/* the queue is read through builds_state; builds_queued, an index of the
	 * first versions, only cost every insert a page: dropped */
	"DROP INDEX IF EXISTS builds_queued;"
	"CREATE INDEX IF NOT EXISTS builds_repo ON builds(repo, id);"
	"CREATE INDEX IF NOT EXISTS builds_state ON builds(state, id);"
	"CREATE TABLE IF NOT EXISTS deliveries ("
	" repo TEXT NOT NULL, provider TEXT NOT NULL, delivery TEXT NOT NULL,"
	" build_id INTEGER NOT NULL,"
	" PRIMARY KEY (repo, provider, delivery)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS statuses ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT, build_id INTEGER NOT NULL, state TEXT NOT NULL,"
	" description TEXT, attempts INTEGER NOT NULL DEFAULT 0, next_at INTEGER NOT NULL,"
	" last_error TEXT, created INTEGER NOT NULL);"
	"CREATE INDEX IF NOT EXISTS statuses_build ON statuses(build_id, id);"
	/* the replay guard: the digest of each push's signed material, per repo,
	 * unique by constraint (so it holds across batches, restarts and connections);
	 * kept REPLAY_KEEP_DAYS, pruned through signed_pushes_seen */
	"CREATE TABLE IF NOT EXISTS signed_pushes ("
	" repo TEXT NOT NULL, digest BLOB NOT NULL, build_id INTEGER NOT NULL,"
	" seen INTEGER NOT NULL,"
	" PRIMARY KEY (repo, digest)) WITHOUT ROWID;"
	"CREATE INDEX IF NOT EXISTS signed_pushes_seen ON signed_pushes(seen);"
	/* a ref's newest build, looked up for every push */
	"CREATE INDEX IF NOT EXISTS builds_ref ON builds(repo, ref, id);"
	/* which ref owns an image name its tag template makes from the ref: two refs
	 * the sanitizing maps to one tag (release/1.0, release-1.0) must not
	 * overwrite each other's image; the first to build it keeps it */
	"CREATE TABLE IF NOT EXISTS tag_owners ("
	" repo TEXT NOT NULL, image TEXT NOT NULL, ref TEXT NOT NULL, build_id INTEGER NOT NULL,"
	" PRIMARY KEY (repo, image)) WITHOUT ROWID;"
	"PRAGMA user_version = 1;";

struct store {
	struct store_pg *st_pg;		/* set: the store is PostgreSQL's, nothing below is used */
	sqlite3 *st_db;
	char *st_path;
	sqlite3_stmt *st_stmt[ST_N];
	/* Builds per state, kept in memory so intake's queue check and /metrics cost
	 * nothing: committed counts, plus the changes of the open transaction. */
	long long st_counts[BUILD_NSTATES];
	long long st_delta[BUILD_NSTATES];
	long long st_delta_sp[BUILD_NSTATES];	/* st_delta at the savepoint */
	int st_wal_frames;		/* after the last commit (store_wal_manual) */
	int st_given;			/* shared: st_counts are store_give_counts's */
};

const char *store_state_name(enum build_state s)
{
	return (unsigned)s < BUILD_NSTATES ? store_states[s] : "unknown";
}

int store_state_parse(const char *name)
{
	int i;

	for (i = 0; i < BUILD_NSTATES; i++)
		if (!strcmp(name, store_states[i]))
			return i;
	return -1;
}

int store_state_final(enum build_state s)
{
	return s >= BUILD_SUCCEEDED;
}

long long store_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int store_fail(struct store *s, struct err *e, const char *what)
{
	return err_set(e, "database '%s': %s: %s", s->st_path, what, sqlite3_errmsg(s->st_db));
}

static sqlite3_stmt *store_stmt(struct store *s, int which)
{
	sqlite3_stmt *st = s->st_stmt[which];

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return st;
}

/* Runs a statement that returns no row; the reset leaves no read transaction open. */
static int store_exec(struct store *s, sqlite3_stmt *st, struct err *e, const char *what)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return store_fail(s, e, what);
	return 0;
}

/* Accounts a build entering (d = 1) or leaving (d = -1) a state. */
static void store_bump(struct store *s, enum build_state state, int d)
{
	if (sqlite3_get_autocommit(s->st_db))
		s->st_counts[state] += d;
	else
		s->st_delta[state] += d;
}

static int store_load_counts(struct store *s, struct err *e)
{
	sqlite3_stmt *st = store_stmt(s, ST_COUNT);
	const unsigned char *name;
	int rc, n;

	memset(s->st_counts, 0, sizeof(s->st_counts));
	memset(s->st_delta, 0, sizeof(s->st_delta));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		name = sqlite3_column_text(st, 0);
		n = name ? store_state_parse((const char *)name) : -1;
		if (n >= 0)
			s->st_counts[n] = sqlite3_column_int64(st, 1);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return store_fail(s, e, "cannot count builds");
	return 0;
}

static void store_bind_text(sqlite3_stmt *st, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

static void store_bind_time(sqlite3_stmt *st, int i, long long v)
{
	if (v)
		sqlite3_bind_int64(st, i, v);
	else
		sqlite3_bind_null(st, i);
}

int store_sync_mode(const struct store *s)
{
	sqlite3_stmt *st = NULL;
	int sync = -1;

	if (s->st_pg)
		return store_pg_sync_mode(s->st_pg);
	if (sqlite3_prepare_v2(s->st_db, "PRAGMA synchronous", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		sync = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return sync;
}

/* Reads back what SQLite made of our PRAGMAs: a build that dropped FULL (or a
 * connection SQLite left in another journal mode) would lose 202-answered deliveries
 * on a power loss, which no crash test can see; so a connection that is not
 * synchronous=FULL in WAL mode is refused. */
static int store_check_durable(struct store *s, struct err *e)
{
	sqlite3_stmt *st = NULL;
	int sync = store_sync_mode(s);
	char mode[16] = "";

	if (sqlite3_prepare_v2(s->st_db, "PRAGMA journal_mode", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		snprintf(mode, sizeof(mode), "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	if (sync != STORE_SYNC_FULL || strcmp(mode, "wal") != 0) {
		err_set(e, "database '%s': synchronous=%d journal_mode='%s', not FULL (%d) in WAL mode: "
			"a COMMIT would not be on disk", s->st_path, sync, mode, STORE_SYNC_FULL);
		return -1;
	}
	return 0;
}


/* The state directory, created if missing, must be writable by us. It holds every
 * build's log and the database: refused when anyone may write into it (an attacker could swap agent.db or a log for a link). */
static int store_dir_ready(const char *state_dir, struct err *e)
{
	struct stat sb;

	if (mkdir(state_dir, 0750) < 0 && errno != EEXIST) {
		err_errno(e, "cannot create state directory '%s'", state_dir);
		return -1;
	}
	/* SQLite only says "unable to open database file" for a read-only state */
	if (access(state_dir, W_OK) < 0) {
		err_errno(e, "state directory '%s' is not writable", state_dir);
		return -1;
	}
	if (stat(state_dir, &sb) < 0) {
		err_errno(e, "cannot stat state directory '%s'", state_dir);
		return -1;
	}
	if (!S_ISDIR(sb.st_mode)) {
		err_set(e, "state directory '%s' is not a directory", state_dir);
		return -1;
	}
	if (sb.st_mode & S_IWOTH) {
		err_set(e, "state directory '%s' is writable by every user (mode %04o); "
			"run chmod o-w on it", state_dir, (unsigned)(sb.st_mode & 07777));
		return -1;
	}
	return 0;
}

/* SQLite creates the database 0644 (less the umask) and gives the WAL and shm files
 * the database's mode: created here first, 0600, so builds' records and the
 * deliveries' metadata stay the agent's own whoever starts it. */
static int store_create_private(const char *path, struct err *e)
{
	struct stat sb;
	int fd;

	/* An existing database is not opened: this process may hold it open through
	 * SQLite already (serve opens a connection per thread), and closing any
	 * descriptor of a file drops every POSIX lock the process has on it. Another
	 * process (s2i-agent prune, sqlite3) closing its connection last would then
	 * delete the WAL this one still writes to. */
	if (lstat(path, &sb) == 0) {
		if (!S_ISREG(sb.st_mode))
			return err_set(e, "database '%s': not a regular file", path);
		if ((sb.st_mode & 077) && chmod(path, sb.st_mode & 0700) < 0)
			return err_errno(e, "database '%s': cannot make it private", path);
		return 0;
	}
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		err_errno(e, "database '%s': cannot open", path);
		return -1;
	}
	if (fstat(fd, &sb) == 0 && (sb.st_mode & 077) && fchmod(fd, sb.st_mode & 0700) < 0) {
		err_errno(e, "database '%s': cannot make it private", path);
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

int store_lock_dir(const char *state_dir, int *ret_fd, struct err *e)
{
	char *path = NULL, pid[32] = "";
	ssize_t n;
	int fd = -1, len;

	if (store_dir_ready(state_dir, e) < 0)
		return -1;
	path = xasprintf("%s/%s", state_dir, STORE_LOCK_FILE);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		err_errno(e, "cannot open '%s'", path);
		goto fail;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK) {
			err_errno(e, "cannot lock '%s'", path);
			goto fail;
		}
		n = pread(fd, pid, sizeof(pid) - 1, 0);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		err_set(e, "state directory '%s' is in use by another s2i-agent serve (pid %s); "
			"give each agent its own state_dir", state_dir, pid[0] ? pid : "unknown");
		goto fail;
	}
	len = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)len, 0) != len) {
		err_errno(e, "cannot write '%s'", path);
		goto fail;
	}
	free(path);
	*ret_fd = fd;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	free(path);
	return -1;
}

/* Adds builds.COL (DECL) to a database made before it, unless it has it. */
static int store_add_column(struct store *s, const char *col, const char *decl, struct err *e)
{
	sqlite3_stmt *probe = NULL;
	char sql[200];

	snprintf(sql, sizeof(sql), "SELECT %s FROM builds LIMIT 0", col);
	if (sqlite3_prepare_v2(s->st_db, sql, -1, &probe, NULL) == SQLITE_OK) {
		sqlite3_finalize(probe);
		return 0;
	}
	snprintf(sql, sizeof(sql), "ALTER TABLE builds ADD COLUMN %s %s", col, decl);
	if (sqlite3_exec(s->st_db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return err_set(e, "database '%s': cannot add the column '%s' to builds: %s", s->st_path,
			       col, sqlite3_errmsg(s->st_db));
	return 0;
}

/* Columns added after the first release: a database made before them gets them
 * (CREATE TABLE IF NOT EXISTS leaves an existing table as it was). */
static int store_migrate(struct store *s, struct err *e)
{
	/* builds.untrusted: pull/merge requests from forks (s2i-agent.conf(5)) */
	if (store_add_column(s, "untrusted", "INTEGER NOT NULL DEFAULT 0", e) < 0)
		return -1;
	/* builds.retry_of: the build a POST /builds/ID/retry was made from */
	return store_add_column(s, "retry_of", "INTEGER", e);
}

int store_open(const char *state_dir, struct store **ret, struct err *e)
{
	struct store *s = xcalloc(1, sizeof(*s));
	int i;

	if (store_dir_ready(state_dir, e) < 0)
		goto fail;
	s->st_path = xasprintf("%s/agent.db", state_dir);
	if (store_create_private(s->st_path, e) < 0)
		goto fail;
	if (sqlite3_open_v2(s->st_path, &s->st_db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL)) {
		if (!s->st_db) {
			err_set(e, "database '%s': cannot open", s->st_path);
			goto fail;
		}
		store_fail(s, e, "cannot open");
		goto fail;
	}
	sqlite3_busy_timeout(s->st_db, STORE_BUSY_TIMEOUT_MS);
	/* WAL: readers never block the writer and a commit is one sequential append;
	 * FULL: that append is fsynced before COMMIT returns, so a 202 survives a
	 * power loss, not only a crash of the agent. Group commit pays for the fsync. */
	if (sqlite3_exec(s->st_db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
			 "PRAGMA foreign_keys = OFF; PRAGMA cache_size = " STORE_CACHE_KIB ";"
			 "PRAGMA temp_store = MEMORY;", NULL, NULL, NULL) != SQLITE_OK) {
		store_fail(s, e, "cannot configure");
		goto fail;
	}
	if (store_check_durable(s, e) < 0)
		goto fail;
	if (sqlite3_exec(s->st_db, store_schema, NULL, NULL, NULL) != SQLITE_OK) {
		store_fail(s, e, "cannot create tables");
		goto fail;
	}
	if (store_migrate(s, e) < 0)
		goto fail;
	for (i = 0; i < ST_N; i++) {
		if (sqlite3_prepare_v3(s->st_db, store_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
				       &s->st_stmt[i], NULL) != SQLITE_OK) {
			store_fail(s, e, "cannot prepare statement");
			goto fail;
		}
	}
	if (store_load_counts(s, e) < 0)
		goto fail;
	*ret = s;
	return 0;
fail:
	store_free(s);
	return -1;
}

int store_open_checkpointer(const char *path, struct store **ret, struct err *e)
{
	struct store *s = xcalloc(1, sizeof(*s));

	s->st_path = xstrdup(path);
	if (sqlite3_open_v2(path, &s->st_db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL)) {
		if (!s->st_db)
			err_set(e, "database '%s': cannot open", path);
		else
			store_fail(s, e, "cannot open");
		store_free(s);
		return -1;
	}
	/* FULL: the checkpoint fsyncs the WAL before and the database after copying */
	if (sqlite3_exec(s->st_db, "PRAGMA synchronous = FULL;", NULL, NULL, NULL) != SQLITE_OK) {
		store_fail(s, e, "cannot configure");
		store_free(s);
		return -1;
	}
	if (store_check_durable(s, e) < 0) {
		store_free(s);
		return -1;
	}
	*ret = s;
	return 0;
}

void store_free(struct store *s)
{
	int i;

	if (!s)
		return;
	store_pg_free(s->st_pg);
	for (i = 0; i < ST_N; i++)
		sqlite3_finalize(s->st_stmt[i]);
	sqlite3_close(s->st_db);
	free(s->st_path);
	free(s);
}

struct sqlite3 *store_sqlite(struct store *s)
{
	return s->st_pg ? NULL : s->st_db;
}

struct store_pg *store_pg_of(struct store *s)
{
	return s->st_pg;
}

const char *store_path(const struct store *s)
{
	return s->st_pg ? store_pg_path(s->st_pg) : s->st_path;
}

int store_check_database(const char *database, struct err *e)
{
	if (!database || !strcmp(database, "sqlite"))
		return 0;
	return store_pg_check_url(database, e);
}

int store_connect(const char *database, const char *password, const char *state_dir,
		  struct store **ret, struct err *e)
{
	struct store *s;

	if (!database || !strcmp(database, "sqlite"))
		return store_open(state_dir, ret, e);
	s = xcalloc(1, sizeof(*s));
	if (store_pg_open(database, password, &s->st_pg, e) < 0) {
		free(s);
		return -1;
	}
	*ret = s;
	return 0;
}

int store_reopen(const struct store *s, const char *state_dir, struct store **ret,
		 struct err *e)
{
	struct store *n;

	if (!s->st_pg)
		return store_open(state_dir, ret, e);
	n = xcalloc(1, sizeof(*n));
	if (store_pg_reopen(s->st_pg, &n->st_pg, e) < 0) {
		free(n);
		return -1;
	}
	*ret = n;
	return 0;
}

void store_set_agent(struct store *s, const char *id)
{
	if (s->st_pg)
		store_pg_set_agent(s->st_pg, id);
}

int store_listen(const struct store *s, struct store **ret, struct err *e)
{
	struct store *n;

	*ret = NULL;
	if (!s->st_pg)
		return 0;
	n = xcalloc(1, sizeof(*n));
	if (store_pg_listen(s->st_pg, &n->st_pg, e) < 0) {
		free(n);
		return -1;
	}
	*ret = n;
	return 0;
}

int store_listen_fd(const struct store *s)
{
	return s->st_pg ? store_pg_listen_fd(s->st_pg) : -1;
}

int store_notified(struct store *s, store_heard_fn *fn, void *arg)
{
	return s->st_pg ? store_pg_notified(s->st_pg, fn, arg) : 0;
}

int store_shared(const struct store *s)
{
	return s->st_pg != NULL;
}

int store_ping(struct store *s, struct err *e)
{
	if (s->st_pg)
		return store_pg_ping(s->st_pg, e);
	sqlite3_stmt *st = store_stmt(s, ST_PING);
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	if (rc != SQLITE_ROW)
		return store_fail(s, e, "ping");
	return 0;
}

int store_begin(struct store *s, struct err *e)
{
	if (s->st_pg)
		return store_pg_begin(s->st_pg, e);
	memset(s->st_delta, 0, sizeof(s->st_delta));
	return store_exec(s, store_stmt(s, ST_BEGIN), e, "cannot begin");
}

int store_commit(struct store *s, struct err *e)
{
	if (s->st_pg)
		return store_pg_commit(s->st_pg, e);
	int i;

	if (store_exec(s, store_stmt(s, ST_COMMIT), e, "cannot commit") < 0)
		return -1;
	for (i = 0; i < BUILD_NSTATES; i++)
		s->st_counts[i] += s->st_delta[i];
	memset(s->st_delta, 0, sizeof(s->st_delta));
	return 0;
}

void store_rollback(struct store *s)
{
	if (s->st_pg) {
		store_pg_rollback(s->st_pg);
		return;
	}
	if (!sqlite3_get_autocommit(s->st_db))
		store_exec(s, store_stmt(s, ST_ROLLBACK), NULL, "rollback");
	memset(s->st_delta, 0, sizeof(s->st_delta));
}

int store_in_transaction(struct store *s)
{
	if (s->st_pg)
		return store_pg_in_transaction(s->st_pg);
	return !sqlite3_get_autocommit(s->st_db);
}

int store_savepoint(struct store *s, struct err *e)
{
	if (s->st_pg)
		return store_pg_savepoint(s->st_pg, e);
	memcpy(s->st_delta_sp, s->st_delta, sizeof(s->st_delta));
	return store_exec(s, store_stmt(s, ST_SAVEPOINT), e, "cannot set a savepoint");
}

int store_savepoint_release(struct store *s, struct err *e)
{
	if (s->st_pg)
		return store_pg_savepoint_release(s->st_pg, e);
	return store_exec(s, store_stmt(s, ST_RELEASE), e, "cannot release a savepoint");
}

void store_savepoint_rollback(struct store *s)
{
	if (s->st_pg) {
		store_pg_savepoint_rollback(s->st_pg);
		return;
	}
	if (!store_in_transaction(s))
		return;
	/* ROLLBACK TO keeps the savepoint open: release it too */
	if (store_exec(s, store_stmt(s, ST_ROLLBACK_TO), NULL, "rollback") == 0)
		store_exec(s, store_stmt(s, ST_RELEASE), NULL, "release");
	memcpy(s->st_delta, s->st_delta_sp, sizeof(s->st_delta));
}

static int store_wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
	struct store *s = arg;

	(void)db;
	(void)name;
	s->st_wal_frames = frames;
	return SQLITE_OK;
}

void store_wal_manual(struct store *s)
{
	if (s->st_pg)
		return;
	/* replaces SQLite's auto-checkpoint hook, which is what wal_autocheckpoint sets */
	sqlite3_wal_hook(s->st_db, store_wal_hook, s);
}

int store_wal_frames(const struct store *s)
{
	return s->st_wal_frames;
}

int store_checkpoint(struct store *s, int *ret_left, struct err *e)
{
	if (s->st_pg) {
		*ret_left = 0;
		return 0;
	}
	int log = 0, copied = 0;
	int rc = sqlite3_wal_checkpoint_v2(s->st_db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &copied);

	*ret_left = log > copied ? log - copied : 0;
	if (rc == SQLITE_BUSY)
		return 1;
	if (rc != SQLITE_OK)
		return store_fail(s, e, "cannot checkpoint");
	return 0;
}

void store_delta(const struct store *s, long long ret[BUILD_NSTATES])
{
	memcpy(ret, s->st_delta, sizeof(s->st_delta));
}

void build_release(struct build *b)
{
	free(b->repo);
	free(b->ref);
	free(b->reason);
	free(b->image);
	free(b->image_id);
	free(b->provider);
	free(b->delivery);
	free(b->message);
	free(b->author);
	free(b->repo_full_name);
	free(b->project_id);
	free(b->clone_url);
	free(b->log_path);
	free(b->agent);
	memset(b, 0, sizeof(*b));
}

void build_list_release(struct build_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		build_release(&l->items[i]);
	free(l->items);
	l->items = NULL;
	l->n = 0;
}

static char *store_col_text(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return t ? xstrdup((const char *)t) : NULL;
}

static void store_col_hex(sqlite3_stmt *st, int i, char out[41])
{
	const unsigned char *t = sqlite3_column_text(st, i);

	snprintf(out, 41, "%s", t ? (const char *)t : "");
}

/* Fills b from a row selected with BUILD_COLS. */
static void store_row_build(sqlite3_stmt *st, struct build *b)
{
	const unsigned char *state;
	int n;

	memset(b, 0, sizeof(*b));
	b->id = sqlite3_column_int64(st, 0);
	b->repo = store_col_text(st, 1);
	b->ref = store_col_text(st, 2);
	store_col_hex(st, 3, b->sha);
	store_col_hex(st, 4, b->before);
	state = sqlite3_column_text(st, 5);
	n = state ? store_state_parse((const char *)state) : -1;
	b->state = n < 0 ? BUILD_ERRORED : (enum build_state)n;
	b->reason = store_col_text(st, 6);
	b->image = store_col_text(st, 7);
	b->image_id = store_col_text(st, 8);
	b->created = sqlite3_column_int64(st, 9);
	b->started = sqlite3_column_int64(st, 10);
	b->finished = sqlite3_column_int64(st, 11);
	b->provider = store_col_text(st, 12);
	b->delivery = store_col_text(st, 13);
	b->message = store_col_text(st, 14);
	b->author = store_col_text(st, 15);
	b->repo_full_name = store_col_text(st, 16);
	b->project_id = store_col_text(st, 17);
	b->clone_url = store_col_text(st, 18);
	b->attempt = sqlite3_column_int(st, 19);
	b->pid = sqlite3_column_int64(st, 20);
	b->log_path = store_col_text(st, 21);
	b->untrusted = sqlite3_column_int(st, 22);
	b->retry_of = sqlite3_column_int64(st, 23);
}

int store_find_delivery(struct store *s, const char *repo, const char *provider,
			const char *delivery, long long *ret_id, struct err *e)
{
	if (s->st_pg)
		return store_pg_find_delivery(s->st_pg, repo, provider, delivery, ret_id, e);
	sqlite3_stmt *st = store_stmt(s, ST_FIND_DELIVERY);
	int rc;

	sqlite3_bind_text(st, 1, repo, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, provider, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, delivery, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*ret_id = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc == SQLITE_DONE)
		return 1;
	return store_fail(s, e, "cannot look a delivery up");
}

/* Inserts b as a queued build and its delivery id, unchecked. */
static int store_insert_build(struct store *s, struct build *b, struct err *e)
{
	sqlite3_stmt *st;

	if (!b->created)
		b->created = store_now_ms();
	b->state = BUILD_QUEUED;
	st = store_stmt(s, ST_ADD_BUILD);
	store_bind_text(st, 1, b->repo);
	store_bind_text(st, 2, b->ref);
	store_bind_text(st, 3, b->sha);
	store_bind_text(st, 4, b->before[0] ? b->before : NULL);
	sqlite3_bind_int64(st, 5, b->created);
	store_bind_text(st, 6, b->provider);
	store_bind_text(st, 7, b->delivery);
	store_bind_text(st, 8, b->message);
	store_bind_text(st, 9, b->author);
	store_bind_text(st, 10, b->repo_full_name);
	store_bind_text(st, 11, b->project_id);
	store_bind_text(st, 12, b->clone_url);
	sqlite3_bind_int(st, 13, b->untrusted ? 1 : 0);
	if (b->retry_of)
		sqlite3_bind_int64(st, 14, b->retry_of);
	if (store_exec(s, st, e, "cannot insert a build") < 0)
		return -1;
	b->id = sqlite3_last_insert_rowid(s->st_db);
	store_bump(s, BUILD_QUEUED, 1);
	if (b->delivery) {
		st = store_stmt(s, ST_ADD_DELIVERY);
		sqlite3_bind_text(st, 1, b->repo, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, b->provider, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, b->delivery, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, b->id);
		if (store_exec(s, st, e, "cannot record a delivery") < 0)
			return -1;
	}
	return 0;
}

int store_add_build(struct store *s, struct build *b, long long *ret_dup, struct err *e)
{
	if (s->st_pg)
		return store_pg_add_build(s->st_pg, b, ret_dup, e);
	int rc;

	*ret_dup = 0;
	if (b->delivery) {
		rc = store_find_delivery(s, b->repo, b->provider, b->delivery, ret_dup, e);
		if (rc < 0)
			return -1;
		if (rc == 0) {
			b->id = 0;
			return 0;
		}
		*ret_dup = 0;
	}
	return store_insert_build(s, b, e);
}

/* ---------- replay guard ---------- */

int store_ref_built(const struct build *b, const char *sha, const char *state)
{
	return b->sha[0] && sha && !strcmp(sha, b->sha) && state &&
		(!strcmp(state, "queued") || !strcmp(state, "running") ||
		 !strcmp(state, "succeeded"));
}

int store_find_push(struct store *s, const struct build *b,
		    const unsigned char digest[STORE_DIGEST_LEN], long long *ret_dup,
		    enum store_dup *ret_why, struct err *e)
{
	if (s->st_pg)
		return store_pg_find_push(s->st_pg, b, digest, ret_dup, ret_why, e);
	sqlite3_stmt *st;
	const unsigned char *sha, *state;
	long long id = 0;
	int rc, built = 0;

	if (b->delivery) {
		rc = store_find_delivery(s, b->repo, b->provider, b->delivery, &id, e);
		if (rc <= 0) {
			if (rc == 0) {
				*ret_dup = id;
				*ret_why = STORE_DUP_DELIVERY;
			}
			return rc;
		}
	}
	st = store_stmt(s, ST_FIND_SIGNED);
	sqlite3_bind_text(st, 1, b->repo, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, digest, STORE_DIGEST_LEN, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		id = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW) {
		*ret_dup = id;
		*ret_why = STORE_DUP_REPLAY;
		return 0;
	}
	if (rc != SQLITE_DONE)
		return store_fail(s, e, "cannot look a signed push up");
	/* a push of the commit the ref is built at (or being built at) builds nothing:
	 * this also holds a replay whose digest was pruned, as long as the branch has
	 * not moved since */
	st = store_stmt(s, ST_REF_NEWEST);
	sqlite3_bind_text(st, 1, b->repo, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, b->ref, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		id = sqlite3_column_int64(st, 0);
		sha = sqlite3_column_text(st, 1);
		state = sqlite3_column_text(st, 2);
		built = store_ref_built(b, (const char *)sha, (const char *)state);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store_fail(s, e, "cannot look the ref's last build up");
	if (!built)
		return 1;
	*ret_dup = id;
	*ret_why = STORE_DUP_BUILT;
	return 0;
}

static int store_add_signed(struct store *s, const char *repo,
			    const unsigned char digest[STORE_DIGEST_LEN], long long build_id,
			    struct err *e)
{
	sqlite3_stmt *st = store_stmt(s, ST_ADD_SIGNED);

	sqlite3_bind_text(st, 1, repo, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, digest, STORE_DIGEST_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, build_id);
	sqlite3_bind_int64(st, 4, store_now_ms());
	return store_exec(s, st, e, "cannot record a signed push");
}

int store_add_push(struct store *s, struct build *b, const unsigned char digest[STORE_DIGEST_LEN],
		   long long *ret_dup, enum store_dup *ret_why, struct err *e)
{
	if (s->st_pg)
		return store_pg_add_push(s->st_pg, b, digest, ret_dup, ret_why, e);
	long long dup = 0;
	enum store_dup why = STORE_DUP_NONE;
	int rc = store_find_push(s, b, digest, &dup, &why, e);

	*ret_dup = 0;
	*ret_why = STORE_DUP_NONE;
	if (rc < 0)
		return -1;
	if (rc == 0) {
		/* an already built push is remembered too: replayed once the branch
		 * has moved on, it would roll the image back */
		if (why == STORE_DUP_BUILT && store_add_signed(s, b->repo, digest, dup, e) < 0)
			return -1;
		b->id = 0;
		*ret_dup = dup;
		*ret_why = why;
		return 0;
	}
	if (store_insert_build(s, b, e) < 0)
		return -1;
	return store_add_signed(s, b->repo, digest, b->id, e);
}

int store_add_many(struct store *s, struct store_add *a, size_t n, struct err *e)
{
	size_t i;

	if (s->st_pg)
		return store_pg_add_many(s->st_pg, a, n, e);
	for (i = 0; i < n; i++) {
		a[i].sa_why = STORE_DUP_NONE;
		if (a[i].sa_digest ?
		    store_add_push(s, a[i].sa_build, a[i].sa_digest, &a[i].sa_dup, &a[i].sa_why, e) :
		    store_add_build(s, a[i].sa_build, &a[i].sa_dup, e))
			return -1;
		if (a[i].sa_dup && a[i].sa_why == STORE_DUP_NONE)
			a[i].sa_why = STORE_DUP_DELIVERY;
	}
	return 0;
}

int store_add_commit(struct store *s, struct store_add *a, size_t n, struct err *e)
{
	if (s->st_pg)
		return store_pg_add_commit(s->st_pg, a, n, e);
	if (store_begin(s, e) == 0 && store_add_many(s, a, n, e) == 0 && store_commit(s, e) == 0)
		return 0;
	store_rollback(s);
	return -1;
}

int store_prune_pushes(struct store *s, long long before_ms, long long *ret_n, struct err *e)
{
	if (s->st_pg)
		return store_pg_prune_pushes(s->st_pg, before_ms, ret_n, e);
	sqlite3_stmt *st = store_stmt(s, ST_PRUNE_SIGNED);

	sqlite3_bind_int64(st, 1, before_ms);
	sqlite3_bind_int(st, 2, REPLAY_PRUNE_ROWS);
	if (store_exec(s, st, e, "cannot prune signed pushes") < 0)
		return -1;
	*ret_n = sqlite3_changes(s->st_db);
	return 0;
}

/* ---------- retention ---------- */

int store_keep_next_repo(struct store *s, const char *after, char **ret, struct err *e)
{
	if (s->st_pg)
		return store_pg_keep_next_repo(s->st_pg, after, ret, e);
	sqlite3_stmt *st = store_stmt(s, ST_KEEP_REPO);
	const unsigned char *v;
	int rc;

	sqlite3_bind_text(st, 1, after ? after : "", -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	v = rc == SQLITE_ROW ? sqlite3_column_text(st, 0) : NULL;
	if (v)
		*ret = xstrdup((const char *)v);
	sqlite3_reset(st);
	if (rc != SQLITE_ROW)
		return store_fail(s, e, "cannot list the repositories of the builds");
	return v ? 0 : 1;
}

int store_keep_pick(struct store *s, const struct store_keep *k, long long *ret_ids, size_t max,
		    size_t *ret_n, struct err *e)
{
	if (s->st_pg)
		return store_pg_keep_pick(s->st_pg, k, ret_ids, max, ret_n, e);
	sqlite3_stmt *st = store_stmt(s, ST_KEEP_NTH);
	long long nth = 0;
	size_t n = 0;
	int rc;

	/* by count: the builds from the (keep_builds + 1)-th newest down */
	if (k->keep_builds > 0) {
		sqlite3_bind_text(st, 1, k->repo, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, k->keep_builds);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW)
			nth = sqlite3_column_int64(st, 0);
		sqlite3_reset(st);
		if (rc != SQLITE_ROW && rc != SQLITE_DONE)
			return store_fail(s, e, "cannot count the builds to keep");
	}
	st = store_stmt(s, ST_KEEP_PICK);
	sqlite3_bind_text(st, 1, k->repo, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, nth);
	sqlite3_bind_int64(st, 3, k->finished_before);
	sqlite3_bind_int64(st, 4, k->after_id);
	sqlite3_bind_int64(st, 5, (long long)max);
	while (n < max && (rc = sqlite3_step(st)) == SQLITE_ROW)
		ret_ids[n++] = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (n < max && rc != SQLITE_DONE)
		return store_fail(s, e, "cannot pick the builds past retention");
	*ret_n = n;
	return 0;
}

int store_keep_delete(struct store *s, long long id, struct err *e)
{
	if (s->st_pg)
		return store_pg_keep_delete(s->st_pg, id, e);
	sqlite3_stmt *st = store_stmt(s, ST_KEEP_DELETE);
	char *repo = NULL, *provider = NULL, *delivery = NULL;
	int rc, state = -1, ret = -1;

	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		state = store_state_parse((const char *)sqlite3_column_text(st, 0));
		repo = store_col_text(st, 1);
		provider = store_col_text(st, 2);
		delivery = store_col_text(st, 3);
		rc = sqlite3_step(st);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		store_fail(s, e, "cannot delete a build");
		goto out;
	}
	ret = 1;		/* gone, or not final (any more) */
	if (state < 0)
		goto out;
	store_bump(s, (enum build_state)state, -1);
	ret = 0;
	if (delivery && repo && provider) {
		/* its delivery id goes too: the table would grow without bound otherwise */
		st = store_stmt(s, ST_KEEP_DELIVERY);
		store_bind_text(st, 1, repo);
		store_bind_text(st, 2, provider);
		store_bind_text(st, 3, delivery);
		sqlite3_bind_int64(st, 4, id);
		ret = store_exec(s, st, e, "cannot delete the delivery of a build");
	}
out:
	free(repo);
	free(provider);
	free(delivery);
	return ret;
}

static int store_get_one(struct store *s, sqlite3_stmt *st, struct build *ret, struct err *e)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW)
		store_row_build(st, ret);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc == SQLITE_DONE)
		return 1;
	return store_fail(s, e, "cannot read a build");
}

int store_get_build(struct store *s, long long id, struct build *ret, struct err *e)
{
	if (s->st_pg)
		return store_pg_get_build(s->st_pg, id, ret, e);
	sqlite3_stmt *st = store_stmt(s, ST_GET);

	sqlite3_bind_int64(st, 1, id);
	return store_get_one(s, st, ret, e);
}

int store_next_queued(struct store *s, struct build *ret, struct err *e)
{
	if (s->st_pg)
		return store_pg_next_queued(s->st_pg, ret, e);
	return store_get_one(s, store_stmt(s, ST_NEXT_QUEUED), ret, e);
}

int store_list_builds(struct store *s, const struct store_filter *f, struct build_list *ret,
		      struct err *e)
{
	if (s->st_pg)
		return store_pg_list_builds(s->st_pg, f, ret, e);
	struct buf sql = BUF_INIT(4096);
	sqlite3_stmt *st = NULL;
	size_t limit = f->limit ? f->limit : BUILDS_LIST_DEFAULT, alloc;
	int rc, i = 1, res = -1;
	const char *glue = " WHERE ";

	if (limit > BUILDS_LIST_MAX)
		limit = BUILDS_LIST_MAX;
	buf_addstr(&sql, "SELECT " BUILD_COLS " FROM builds");
	if (f->repo) {
		buf_addf(&sql, "%srepo = ?%d", glue, i++);
		glue = " AND ";
	}
	if (f->ref) {
		buf_addf(&sql, "%sref = ?%d", glue, i++);
		glue = " AND ";
	}
	if (f->state >= 0) {
		buf_addf(&sql, "%sstate = ?%d", glue, i++);
		glue = " AND ";
	}
	if (f->before_id > 0)
		buf_addf(&sql, "%sid < ?%d", glue, i++);
	buf_addf(&sql, " ORDER BY id %s LIMIT %zu", f->oldest_first ? "ASC" : "DESC", limit);
	if (sqlite3_prepare_v2(s->st_db, sql.data, -1, &st, NULL) != SQLITE_OK) {
		store_fail(s, e, "cannot list builds");
		goto out;
	}
	i = 1;
	if (f->repo)
		sqlite3_bind_text(st, i++, f->repo, -1, SQLITE_STATIC);
	if (f->ref)
		sqlite3_bind_text(st, i++, f->ref, -1, SQLITE_STATIC);
	if (f->state >= 0)
		sqlite3_bind_text(st, i++, store_state_name((enum build_state)f->state), -1,
				  SQLITE_STATIC);
	if (f->before_id > 0)
		sqlite3_bind_int64(st, i++, f->before_id);
	ret->items = NULL;
	ret->n = 0;
	alloc = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (ret->n == alloc) {
			alloc = alloc ? alloc * 2 : 16;
			ret->items = xrealloc(ret->items, alloc * sizeof(*ret->items));
		}
		store_row_build(st, &ret->items[ret->n++]);
	}
	if (rc != SQLITE_DONE) {
		store_fail(s, e, "cannot list builds");
		build_list_release(ret);
		goto out;
	}
	res = 0;
out:
	sqlite3_finalize(st);
	buf_release(&sql);
	return res;
}

/* The state of build id, -1 with e set when absent or on error. */
static int store_state_of(struct store *s, long long id, struct err *e)
{
	sqlite3_stmt *st = store_stmt(s, ST_STATE);
	const unsigned char *name;
	int rc, n = -1;

	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		name = sqlite3_column_text(st, 0);
		n = name ? store_state_parse((const char *)name) : -1;
	}
	sqlite3_reset(st);
	if (rc == SQLITE_DONE)
		return err_set(e, "build %lld: no such build", id);
	if (rc != SQLITE_ROW)
		return store_fail(s, e, "cannot read a build");
	if (n < 0)
		return err_set(e, "build %lld: unknown state in the database", id);
	return n;
}

/* Returns 0 when a row changed, 1 when none did. */
static int store_changed(struct store *s)
{
	return sqlite3_changes(s->st_db) > 0 ? 0 : 1;
}

int store_set_running(struct store *s, long long id, long long pid, const char *log_path,
		      struct err *e)
{
	return store_set_running_at(s, id, pid, log_path, store_now_ms(), e);
}

int store_set_running_at(struct store *s, long long id, long long pid, const char *log_path,
			 long long started_ms, struct err *e)
{
	if (s->st_pg)
		return store_pg_set_running(s->st_pg, id, pid, log_path, started_ms, e);
	sqlite3_stmt *st = store_stmt(s, ST_SET_RUNNING);

	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, started_ms);
	store_bind_time(st, 3, pid);
	store_bind_text(st, 4, log_path);
	if (store_exec(s, st, e, "cannot start a build") < 0)
		return -1;
	if (store_changed(s))
		return 1;
	store_bump(s, BUILD_QUEUED, -1);
	store_bump(s, BUILD_RUNNING, 1);
	return 0;
}

int store_claim(struct store *s, long long id, const char *log_path, long long started_ms,
		long long *ret_fence, struct err *e)
{
	*ret_fence = 0;
	if (s->st_pg)
		return store_pg_claim(s->st_pg, id, log_path, started_ms, ret_fence, e);
	return store_set_running_at(s, id, 0, log_path, started_ms, e);
}

void store_set_lease(struct store *s, long long lease_ms)
{
	if (s->st_pg)
		store_pg_set_lease(s->st_pg, lease_ms);
}

int store_lease_renew(struct store *s, const long long *ids, const long long *fences, size_t n,
		      int *ret_held, struct err *e)
{
	size_t i;

	if (s->st_pg && n)
		return store_pg_lease_renew(s->st_pg, ids, fences, n, ret_held, e);
	for (i = 0; i < n; i++)
		ret_held[i] = 1;
	return 0;
}

int store_lease_expired(struct store *s, size_t max, struct build_list *ret,
			long long *ret_next_ms, struct err *e)
{
	if (s->st_pg)
		return store_pg_lease_expired(s->st_pg, max, ret, ret_next_ms, e);
	ret->items = NULL;
	ret->n = 0;
	*ret_next_ms = -1;
	return 0;
}

int store_take_over(struct store *s, long long id, long long fence, enum build_state state,
		    const char *reason, long long *ret_fence, struct err *e)
{
	if (s->st_pg)
		return store_pg_take_over(s->st_pg, id, fence, state, reason, ret_fence, e);
	return err_set(e, "build %lld: no leases on SQLite", id);
}

int store_fence_check(struct store *s, long long id, long long fence, struct err *e)
{
	if (s->st_pg)
		return store_pg_fence_check(s->st_pg, id, fence, e);
	return 0;
}

int store_claim_tag(struct store *s, const char *repo, const char *image, const char *ref,
		    long long id, char **ret_owner, struct err *e)
{
	if (s->st_pg)
		return store_pg_claim_tag(s->st_pg, repo, image, ref, id, ret_owner, e);
	static const char *const sql[] = {
		"INSERT OR IGNORE INTO tag_owners (repo, image, ref, build_id) VALUES (?1, ?2, ?3, ?4)",
		"SELECT ref FROM tag_owners WHERE repo = ?1 AND image = ?2",
	};
	sqlite3_stmt *st = NULL;
	const char *owner;
	size_t i;
	int rc = 0, step;

	for (i = 0; i < 2 && rc == 0; i++) {
		if (sqlite3_prepare_v2(s->st_db, sql[i], -1, &st, NULL) != SQLITE_OK)
			return store_fail(s, e, "cannot look up the owner of an image name");
		store_bind_text(st, 1, repo);
		store_bind_text(st, 2, image);
		if (i == 0) {
			store_bind_text(st, 3, ref);
			sqlite3_bind_int64(st, 4, id);
		}
		step = sqlite3_step(st);
		if (step == SQLITE_ROW && (owner = (const char *)sqlite3_column_text(st, 0)) &&
		    strcmp(owner, ref)) {
			*ret_owner = xstrdup(owner);
			rc = 1;
		} else if (step != SQLITE_DONE && step != SQLITE_ROW) {
			rc = store_fail(s, e, "cannot record the owner of an image name");
		}
		sqlite3_finalize(st);
	}
	return rc;
}

int store_set_finished(struct store *s, long long id, enum build_state state, const char *reason,
		       const char *image, const char *image_id, struct err *e)
{
	return store_set_finished_at(s, id, state, reason, image, image_id, store_now_ms(), e);
}

int store_set_finished_at(struct store *s, long long id, enum build_state state,
			  const char *reason, const char *image, const char *image_id,
			  long long finished_ms, struct err *e)
{
	sqlite3_stmt *st;
	int prev;

	if (!store_state_final(state))
		return err_set(e, "build %lld: '%s' is not a final state", id,
			       store_state_name(state));
	if (s->st_pg)
		return store_pg_set_finished_at(s->st_pg, id, state, reason, image, image_id,
						finished_ms, e);
	if ((prev = store_state_of(s, id, e)) < 0)
		return -1;
	if (prev != BUILD_QUEUED && prev != BUILD_RUNNING)
		return 1;
	st = store_stmt(s, ST_SET_FINISHED);
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_text(st, 2, store_state_name(state), -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, finished_ms);
	store_bind_text(st, 4, reason);
	store_bind_text(st, 5, image);
	store_bind_text(st, 6, image_id);
	if (store_exec(s, st, e, "cannot finish a build") < 0)
		return -1;
	if (store_changed(s))
		return 1;
	store_bump(s, (enum build_state)prev, -1);
	store_bump(s, state, 1);
	return 0;
}

int store_requeue(struct store *s, long long id, const char *reason, struct err *e)
{
	if (s->st_pg)
		return store_pg_requeue(s->st_pg, id, reason, e);
	sqlite3_stmt *st = store_stmt(s, ST_REQUEUE);

	sqlite3_bind_int64(st, 1, id);
	store_bind_text(st, 2, reason);
	if (store_exec(s, st, e, "cannot requeue a build") < 0)
		return -1;
	if (store_changed(s))
		return 1;
	store_bump(s, BUILD_RUNNING, -1);
	store_bump(s, BUILD_QUEUED, 1);
	return 0;
}

int store_set_sha(struct store *s, long long id, const char *sha, struct err *e)
{
	if (s->st_pg)
		return store_pg_set_sha(s->st_pg, id, sha, e);
	sqlite3_stmt *st = store_stmt(s, ST_SET_SHA);

	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_text(st, 2, sha, -1, SQLITE_STATIC);
	if (store_exec(s, st, e, "cannot record the commit of a build") < 0)
		return -1;
	return store_changed(s);
}

int store_set_commit_info(struct store *s, long long id, const char *message, const char *author,
			  struct err *e)
{
	if (s->st_pg)
		return store_pg_set_commit_info(s->st_pg, id, message, author, e);
	sqlite3_stmt *st = store_stmt(s, ST_SET_COMMIT);

	sqlite3_bind_int64(st, 1, id);
	store_bind_text(st, 2, message);
	store_bind_text(st, 3, author);
	if (store_exec(s, st, e, "cannot record the commit of a build") < 0)
		return -1;
	return store_changed(s);
}

int store_set_pid(struct store *s, long long id, long long pid, struct err *e)
{
	if (s->st_pg)
		return store_pg_set_pid(s->st_pg, id, pid, e);
	sqlite3_stmt *st = store_stmt(s, ST_SET_PID);

	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, pid);
	if (store_exec(s, st, e, "cannot record the process of a build") < 0)
		return -1;
	return store_changed(s);
}

int store_count_states(struct store *s, long long counts[BUILD_NSTATES], struct err *e)
{
	if (s->st_pg && !s->st_given)
		return store_pg_count_states(s->st_pg, counts, e);
	int i;

	(void)e;
	for (i = 0; i < BUILD_NSTATES; i++)
		counts[i] = s->st_counts[i] + s->st_delta[i];
	return 0;
}

int store_queue_depth(struct store *s, long long *ret, struct err *e)
{
	if (s->st_pg && !s->st_given)
		return store_pg_queue_depth(s->st_pg, ret, e);
	(void)e;
	*ret = s->st_counts[BUILD_QUEUED] + s->st_delta[BUILD_QUEUED];
	return 0;
}

int store_agent_seen(struct store *s, const char *labels, int workers, struct err *e)
{
	return s->st_pg ? store_pg_agent_seen(s->st_pg, labels, workers, e) : 0;
}

int store_agents(struct store *s, long long within_ms, struct strv *ret, struct err *e)
{
	return s->st_pg ? store_pg_agents(s->st_pg, within_ms, ret, e) : 0;
}

void store_repo_counts_free(struct store_repo_count *c, size_t n)
{
	while (n > 0)
		free(c[--n].repo);
	free(c);
}

int store_queued_repos(struct store *s, struct store_repo_count **ret, size_t *ret_n,
		       struct err *e)
{
	if (s->st_pg)
		return store_pg_queued_repos(s->st_pg, ret, ret_n, e);
	sqlite3_stmt *st = store_stmt(s, ST_QUEUED_REPOS);
	struct store_repo_count *c = xcalloc(STORE_REPOS_MAX, sizeof(*c));
	size_t n = 0;
	int rc;

	sqlite3_bind_int64(st, 1, STORE_REPOS_MAX);
	while (n < STORE_REPOS_MAX && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		c[n].repo = store_col_text(st, 0);
		c[n++].n = sqlite3_column_int64(st, 1);
	}
	sqlite3_reset(st);
	if (n < STORE_REPOS_MAX && rc != SQLITE_DONE) {
		store_repo_counts_free(c, n);
		return store_fail(s, e, "cannot count queued builds");
	}
	*ret = c;
	*ret_n = n;
	return 0;
}

void store_give_counts(struct store *s, const long long counts[BUILD_NSTATES])
{
	if (!s->st_pg)
		return;
	memcpy(s->st_counts, counts, sizeof(s->st_counts));
	s->st_given = 1;
}

void store_note_queued(struct store *s, long long n)
{
	s->st_counts[BUILD_QUEUED] += n;
}

void store_note_counts(struct store *s, const long long delta[BUILD_NSTATES])
{
	int i;

	for (i = 0; i < BUILD_NSTATES; i++)
		s->st_counts[i] += delta[i];
}

void status_row_release(struct status_row *r)
{
	free(r->state);
	free(r->description);
	free(r->last_error);
	free(r->repo);
	memset(r, 0, sizeof(*r));
}

int store_status_add(struct store *s, long long build_id, const char *state,
		     const char *description, struct err *e)
{
	if (s->st_pg)
		return store_pg_status_add(s->st_pg, build_id, state, description, e);
	sqlite3_stmt *st = store_stmt(s, ST_STATUS_ADD);

	sqlite3_bind_int64(st, 1, build_id);
	sqlite3_bind_text(st, 2, state, -1, SQLITE_STATIC);
	store_bind_text(st, 3, description);
	sqlite3_bind_int64(st, 4, store_now_ms());
	return store_exec(s, st, e, "cannot queue a commit status");
}

int store_status_add_queued(struct store *s, long long build_id, const char *description,
			    struct err *e)
{
	if (s->st_pg)
		return store_pg_status_add_queued(s->st_pg, build_id, description, e);
	return store_status_add(s, build_id, "queued", description, e);
}

int store_status_heads(struct store *s, size_t max, struct status_row *ret, size_t *ret_n,
		       struct err *e)
{
	if (s->st_pg)
		return store_pg_status_heads(s->st_pg, max, ret, ret_n, e);
	sqlite3_stmt *st = store_stmt(s, ST_STATUS_HEADS);
	size_t n = 0;
	int rc = SQLITE_DONE;

	sqlite3_bind_int64(st, 1, (sqlite3_int64)max);
	while (n < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct status_row *r = &ret[n++];

		memset(r, 0, sizeof(*r));
		r->id = sqlite3_column_int64(st, 0);
		r->build_id = sqlite3_column_int64(st, 1);
		r->state = store_col_text(st, 2);
		r->description = store_col_text(st, 3);
		r->attempts = sqlite3_column_int(st, 4);
		r->next_at = sqlite3_column_int64(st, 5);
		r->last_error = store_col_text(st, 6);
		r->repo = store_col_text(st, 7);
	}
	sqlite3_reset(st);
	if (n < max && rc != SQLITE_DONE) {
		while (n > 0)
			status_row_release(&ret[--n]);
		return store_fail(s, e, "cannot read commit statuses");
	}
	*ret_n = n;
	return 0;
}

int store_status_claim(struct store *s, struct status_row *r, long long now, struct err *e)
{
	if (s->st_pg)
		return store_pg_status_claim(s->st_pg, r, now, e);
	r->claim = 1;
	return 1;
}

int store_status_done(struct store *s, long long id, long long claim, struct err *e)
{
	if (s->st_pg)
		return store_pg_status_done(s->st_pg, id, claim, e);
	sqlite3_stmt *st = store_stmt(s, ST_STATUS_DONE);

	(void)claim;
	sqlite3_bind_int64(st, 1, id);
	return store_exec(s, st, e, "cannot delete a commit status");
}

int store_status_retry(struct store *s, long long id, long long claim, long long next_at,
		       const char *error, struct err *e)
{
	if (s->st_pg)
		return store_pg_status_retry(s->st_pg, id, claim, next_at, error, e);
	sqlite3_stmt *st = store_stmt(s, ST_STATUS_RETRY);

	(void)claim;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, next_at);
	store_bind_text(st, 3, error);
	return store_exec(s, st, e, "cannot reschedule a commit status");
}

/* RFC 3339 UTC, second precision; null when unknown. */
static json_t *store_json_time(long long ms)
{
	char out[32];
	struct tm tm;
	time_t t;

	if (!ms)
		return json_null();
	t = (time_t)(ms / 1000);
	gmtime_r(&t, &tm);
	strftime(out, sizeof(out), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return json_string(out);
}

static json_t *store_json_str(const char *s)
{
	return s && *s ? json_string(s) : json_null();
}

json_t *store_build_json(const struct build *b)
{
	json_t *o = json_object();

	json_object_set_new(o, "id", json_integer(b->id));
	json_object_set_new(o, "repo", store_json_str(b->repo));
	json_object_set_new(o, "ref", store_json_str(b->ref));
	json_object_set_new(o, "sha", store_json_str(b->sha));
	json_object_set_new(o, "state", json_string(store_state_name(b->state)));
	json_object_set_new(o, "reason", store_json_str(b->reason));
	json_object_set_new(o, "image", store_json_str(b->image));
	json_object_set_new(o, "image_id", store_json_str(b->image_id));
	json_object_set_new(o, "created", store_json_time(b->created));
	json_object_set_new(o, "started", store_json_time(b->started));
	json_object_set_new(o, "finished", store_json_time(b->finished));
	json_object_set_new(o, "duration_ms", b->started && b->finished && b->finished >= b->started ?
			    json_integer(b->finished - b->started) : json_null());
	json_object_set_new(o, "provider", store_json_str(b->provider));
	json_object_set_new(o, "delivery", store_json_str(b->delivery));
	json_object_set_new(o, "retry_of", b->retry_of ? json_integer(b->retry_of) : json_null());
	json_object_set_new(o, "agent", b->agent ? json_string(b->agent) : json_null());
	if (runner_pr_number(b->ref))
		json_object_set_new(o, "pr", json_integer(runner_pr_number(b->ref)));
	if (b->untrusted)
		json_object_set_new(o, "untrusted", json_true());
	return o;
}

/* ---------- a build's log, a cancel asked: a shared store's only ---------- */

int store_log_stored(struct store *s, long long id, int attempt, long long *ret_len,
		     struct err *e)
{
	*ret_len = 0;
	return s->st_pg ? store_pg_log_stored(s->st_pg, id, attempt, ret_len, e) : 0;
}

int store_log_append(struct store *s, long long id, int attempt, long long off,
		     const void *data, size_t len, struct err *e)
{
	return s->st_pg ? store_pg_log_append(s->st_pg, id, attempt, off, data, len, e) : 1;
}

int store_log_read(struct store *s, long long id, struct store_log_pos *pos, size_t max,
		   struct buf *out, struct err *e)
{
	return s->st_pg ? store_pg_log_read(s->st_pg, id, pos, max, out, e) : 1;
}

int store_log_tail(struct store *s, long long id, size_t max, struct buf *out,
		   size_t *ret_skipped, struct err *e)
{
	*ret_skipped = 0;
	return s->st_pg ? store_pg_log_tail(s->st_pg, id, max, out, ret_skipped, e) : 1;
}

int store_cancel_ask(struct store *s, long long id, struct err *e)
{
	return s->st_pg ? store_pg_cancel_ask(s->st_pg, id, e) : 1;
}

int store_cancel_pending(struct store *s, long long *ret_ids, size_t max, size_t *ret_n,
			 struct err *e)
{
	*ret_n = 0;
	return s->st_pg ? store_pg_cancel_pending(s->st_pg, ret_ids, max, ret_n, e) : 0;
}
