/* storefixture: a state directory for the tests that open a store, the store in it,
 * and its removal with the database files SQLite leaves there. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <cmocka.h>

#include "store.h"
#include "storefixture.h"

char sf_dir[] = "/tmp/s2i-test-store.XXXXXX";

int sf_group_setup(void **state)
{
	(void)state;
	return mkdtemp(sf_dir) ? 0 : -1;
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
	return 0;
}

int sf_group_teardown(void **state)
{
	sf_remove_db(state);
	rmdir(sf_dir);
	return 0;
}

struct store *sf_open(void)
{
	struct err e = ERR_INIT;
	struct store *s = NULL;

	if (store_open(sf_dir, &s, &e) < 0)
		fail_msg("%s", e.msg);
	return s;
}
