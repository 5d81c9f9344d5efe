/* storefixture: a state directory for the tests that open a store, the store in it,
 * its removal with the database files SQLite leaves there, and the PostgreSQL
 * database of a run on it (emptied through libpq directly, not through the store
 * under test). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <cmocka.h>

#include <libpq-fe.h>

#include "config.h"
#include "storefixture.h"

char sf_dir[] = "/tmp/s2i-test-store.XXXXXX";

const char *sf_pg_url(void)
{
	const char *url = getenv("S2I_TEST_PG_URL");

	return url && *url ? url : NULL;
}

char *sf_pg_password(void)
{
	const char *file = getenv("S2I_TEST_PG_PASSWORD_FILE");
	struct err e = ERR_INIT;
	char *pw = NULL;
	size_t n = 0;

	if (!sf_pg_url() || !file)
		return NULL;
	if (config_read_secret(file, &pw, 1, &n, &e) < 0 || n != 1) {
		fprintf(stderr, "storefixture: %s\n", e.msg);
		abort();
	}
	return pw;
}

int sf_open(struct store **ret, struct err *e)
{
	char *pw = sf_pg_password();
	int rc = store_connect(sf_pg_url(), pw, sf_dir, ret, e);

	free(pw);
	return rc;
}

/* Drops every table: the next store_connect creates the schema again. */
static int sf_pg_empty(void)
{
	const char *keys[] = { "dbname", "password", NULL };
	const char *vals[] = { sf_pg_url(), NULL, NULL };
	PGconn *c;
	PGresult *r;
	int rc;

	char *pw = sf_pg_password();

	vals[1] = pw;
	c = PQconnectdbParams(keys, vals, 1);
	free(pw);
	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "storefixture: %s", PQerrorMessage(c));
		PQfinish(c);
		return -1;
	}
	r = PQexec(c, "SET client_min_messages = warning; DROP SCHEMA public CASCADE; "
		   "CREATE SCHEMA public");
	rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : -1;
	if (rc < 0)
		fprintf(stderr, "storefixture: %s", PQresultErrorMessage(r));
	PQclear(r);
	PQfinish(c);
	return rc;
}

int sf_group_setup(void **state)
{
	(void)state;
	if (!mkdtemp(sf_dir))
		return -1;
	return sf_pg_url() ? sf_pg_empty() : 0;
}

int sf_remove_db(void **state)
{
	static const char *const files[] = { "agent.db", "agent.db-wal", "agent.db-shm" };
	char path[512];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", sf_dir, files[i]);
		unlink(path);
	}
	return sf_pg_url() ? sf_pg_empty() : 0;
}

int sf_group_teardown(void **state)
{
	sf_remove_db(state);
	rmdir(sf_dir);
	return 0;
}

struct store *sf_store(void)
{
	struct err e = ERR_INIT;
	struct store *s = NULL;

	if (sf_open(&s, &e) < 0)
		fail_msg("%s", e.msg);
	return s;
}
