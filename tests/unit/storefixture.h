/* storefixture: the state directory the store and batch tests open their database
 * in; the code is in storefixture.c (the Makefile links it into every unit test). */
#ifndef S2I_TEST_STOREFIXTURE_H
#define S2I_TEST_STOREFIXTURE_H

/* A fresh mkdtemp directory, made by sf_group_setup (cmocka's group setup). */
extern char sf_dir[];

int sf_group_setup(void **state);
/* Removes the database (agent.db with its -wal and -shm files): a test's setup, for
 * a test that needs a database of its own. */
int sf_remove_db(void **state);
/* Removes the database (agent.db with its -wal and -shm files) and the directory. */
int sf_group_teardown(void **state);

struct store;
/* The store in sf_dir (a failed open fails the test). */
struct store *sf_open(void);

#endif
