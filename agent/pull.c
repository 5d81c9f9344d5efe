/* pull: the image pull policy's names, parsed and printed in one place
 * (s2i-agent.conf(5) pull_policy, s2i-agent(8) build --pull-policy). */
#include <string.h>

#include "pull.h"

int pull_policy_parse(const char *s, enum pull_policy *ret)
{
	if (!s || !strcmp(s, "if-not-present"))
		*ret = PULL_IF_NOT_PRESENT;
	else if (!strcmp(s, "always"))
		*ret = PULL_ALWAYS;
	else if (!strcmp(s, "never"))
		*ret = PULL_NEVER;
	else
		return -1;
	return 0;
}

const char *pull_policy_name(enum pull_policy p)
{
	switch (p) {
	case PULL_ALWAYS: return "always";
	case PULL_NEVER: return "never";
	default: return "if-not-present";
	}
}
