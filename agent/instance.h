/* instance: the id of this agent instance (one per state_dir), the value of the
 * io.s2i-agent.owner label of the daemon's build containers (see s2i.h). */
#ifndef S2I_INSTANCE_H
#define S2I_INSTANCE_H

#include <stddef.h>
#include "err.h"

#define INSTANCE_ID_MAX		40	/* room for an id and its NUL */

/* Reads state_dir/S2I_INSTANCE_ID_FILE: 32 hex digits (128 random bits), created on
 * first use (mode 0600, written to a temporary file then linked into place, so that
 * concurrent callers agree on one value and nobody reads a partial file). out: at
 * least INSTANCE_ID_MAX bytes. */
int instance_id(const char *state_dir, char *out, size_t n, struct err *e);

#endif
