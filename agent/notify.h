/* notify: the client side of git hooks: the pushed refs posted as events, builds followed */
/* `s2i-agent notify` (cmd_notify.c) reads the refs with notify_read_refs, posts each with
 * notify_post and, with --follow, shows each build with notify_follow. */
#ifndef S2I_NOTIFY_H
#define S2I_NOTIFY_H

#include <stddef.h>
#include <stdio.h>

#include "limits.h"

/* One 'OLD NEW REF' line of a hook's input. */
struct notify_ref {
	char old[41];
	char new[41];
	char *ref;
	long long build;		/* > 0: a build to follow */
	int posted;			/* the agent took the event (queued, duplicate, ignored) */
};

/* notify's exit code when an event did not reach the agent (unreachable, or refused
 * it): the hooks then say how to recover, not that a build failed */
#define NOTIFY_EXIT_UNDELIVERED	3

/* Prints "s2i-agent: MESSAGE" on stderr, where git shows it as "remote: ...". */
void notify_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Reads and checks every line of in: 0 with the refs in *ret (caller frees each
 * ref and the array), -1 after saying what is wrong. */
int notify_read_refs(FILE *in, struct notify_ref **ret, size_t *ret_n);

/* The log stream made safe for the pusher's terminal (ctlesc: colours kept,
 * every other control shown as an escape), across writes that cut an escape
 * or a character in two. */
struct notify_esc {
	char held[NOTIFY_ESC_HOLD];	/* a sequence's start the next bytes may finish */
	size_t nheld;
};

#define NOTIFY_ESC_INIT { "", 0 }

/* p[0..n) after what x holds, escaped, in a new string of *ret_len bytes
 * (caller frees); a sequence at its end that may go on is held back unless end. */
char *notify_esc(struct notify_esc *x, const char *p, size_t n, int end, size_t *ret_len);

/* Posts the event for r to base/hooks/repo, signed with secret unless NULL, and says
 * what happened. 0: queued, duplicate or ignored (r->build set when there is a build);
 * -1: it did not get through. Needs httpc_global_init. */
int notify_post(const char *base, const char *repo, const char *secret, struct notify_ref *r);

/* Shows build id's log as it grows, then its final state. 0: succeeded, 1: another
 * final state, -1: the agent was lost or the build is unknown. */
int notify_follow(const char *base, long long id);

#endif
