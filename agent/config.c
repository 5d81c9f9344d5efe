/* config: placeholder; the intake issue replaces it with the inih loader.
 * Keeps the tree linking meanwhile. */
#include <stdlib.h>

#include "config.h"

const char *config_default_path(void)
{
	const char *p = getenv(CONFIG_ENV);

	return p && *p ? p : CONFIG_DEFAULT_PATH;
}

int config_load(const char *path, struct config **ret, struct strv *errors)
{
	(void)ret;
	strv_pushf(errors, "%s:0: configuration loader not implemented yet", path);
	return -1;
}

void config_free(struct config *c)
{
	free(c);
}
