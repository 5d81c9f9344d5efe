/* pull: the image pull policy, one enum for the configuration (pull_policy keys),
 * the s2i build options and the engine's image_ensure. */
#ifndef S2I_PULL_H
#define S2I_PULL_H

enum pull_policy {
	PULL_IF_NOT_PRESENT = 0,	/* the default */
	PULL_ALWAYS,
	PULL_NEVER,
};

/* The accepted names, for "expected ..." messages. */
#define PULL_POLICY_NAMES "always, never or if-not-present"

/* 0 with *ret set (NULL is the default, if-not-present), or -1 when s is none of
 * PULL_POLICY_NAMES (*ret untouched): the caller words the error. */
int pull_policy_parse(const char *s, enum pull_policy *ret);
const char *pull_policy_name(enum pull_policy p);

#endif
