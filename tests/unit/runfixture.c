/* runfixture: a helper program run quietly, through the agent's own child module. */
#include <stddef.h>

#include "child.h"
#include "runfixture.h"

int rf_run_quiet(const char *const *argv, struct err *e)
{
	struct child c = CHILD_INIT;
	int status = -1;

	c.argv = argv;
	c.in = CHILD_NULL;
	c.out = CHILD_NULL;
	c.err = CHILD_NULL;
	if (child_start(&c, e) < 0 || child_finish(&c, &status, e) < 0)
		return -1;
	return status;
}
