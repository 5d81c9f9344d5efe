/* storefixture: the state directory the store and batch tests open their database
 * in, and the PostgreSQL database they use instead when tests/run gives them one
 * (S2I_TEST_PG_URL, S2I_TEST_PG_PASSWORD_FILE: tests/lib/pg.sh's); the code is in
 * storefixture.c (the Makefile links it into every unit test). */
#ifndef S2I_TEST_STOREFIXTURE_H
#define S2I_TEST_STOREFIXTURE_H

#include "store.h"

/* A fresh mkdtemp directory, made by sf_group_setup (cmocka's group setup). */
extern char sf_dir[];

/* The PostgreSQL URL the test runs against, NULL: SQLite. */
const char *sf_pg_url(void);
/* The password of sf_pg_url's user (the caller frees), NULL on SQLite. */
char *sf_pg_password(void);
/* store_connect to the test's database: SQLite in sf_dir or sf_pg_url. */
int sf_open(struct store **ret, struct err *e);

/* Makes sf_dir; on PostgreSQL also empties the database (sf_remove_db). */
int sf_group_setup(void **state);
/* Removes the database (agent.db with its -wal and -shm files; on PostgreSQL every
 * table): a test's setup, for a test that needs a database of its own. */
int sf_remove_db(void **state);
/* Removes the database (agent.db with its -wal and -shm files) and the directory. */
int sf_group_teardown(void **state);

/* sf_open's store; a failed open fails the test (cmocka). */
struct store *sf_store(void);

#endif
