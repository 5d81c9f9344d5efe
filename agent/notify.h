/* notify: the client side of git hooks: the pushed refs posted as events, builds followed */
/* `s2i-agent notify` (cmd_notify.c) reads the refs with notify_read_refs, posts each with
 * notify_post and, with --follow, shows each build with notify_follow. */
#ifndef S2I_NOTIFY_H
#define S2I_NOTIFY_H

#include <stdio.h>

/* One 'OLD NEW REF' line of a hook's input. */
struct notify_ref {
	char old[41];
	char new[41];
	char *ref;
	long long build;		/* > 0: a build to follow */
};

/* Prints "s2i-agent: MESSAGE" on stderr, where git shows it as "remote: ...". */
void notify_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Reads and checks every line of in: 0 with the refs in *ret (caller frees each
 * ref and the array), -1 after saying what is wrong. */
int notify_read_refs(FILE *in, struct notify_ref **ret, size_t *ret_n);

/* Posts the event for r to base/hooks/repo, signed with secret unless NULL, and says
 * what happened. 0: queued, duplicate or ignored (r->build set when there is a build);
 * -1: it did not get through. Needs httpc_global_init. */
int notify_post(const char *base, const char *repo, const char *secret, struct notify_ref *r);

/* Shows build id's log as it grows, then its final state. 0: succeeded, 1: another
 * final state, -1: the agent was lost or the build is unknown. */
int notify_follow(const char *base, long long id);

#endif
