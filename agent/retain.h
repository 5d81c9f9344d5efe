/* retain: retention of build history (s2i-agent.conf(5) keep_builds, keep_days): a
 * pass over the repositories of the builds deletes, slice by slice, the builds past
 * their rules and their logs, or only counts them for a dry run. Shared by the
 * daemon's passes (worker_keep.c) and `s2i-agent prune`. */
#ifndef S2I_RETAIN_H
#define S2I_RETAIN_H

#include <stddef.h>

#include "config.h"
#include "err.h"
#include "store.h"

/* the folder of state_dir/logs where a pass moves the logs it deletes */
#define RETAIN_TRASH	".trash"

/* One repository's rules; keep_* 0: that rule is off. */
struct retain_rule {
	char *repo;
	long keep_builds;
	long keep_days;
};

/* The rules of a pass, copied from a configuration (it may be reloaded meanwhile). */
struct retain_policy {
	struct retain_rule *rules;
	size_t nrules;
	struct retain_rule other;	/* a repository no [repo] names any more: [agent]'s */
	char *logdir;			/* build logs: LOGDIR/ID.log */
	char *trashdir;			/* LOGDIR/RETAIN_TRASH: the logs a pass took out */
	long long now_ms;		/* keep_days counts back from here */
};

/* Where a pass stands: the repository it is at (NULL: before the first) and, in it,
 * the last build it looked at. */
struct retain_cursor {
	char *repo;
	long long after_id;
};

#define RETAIN_CURSOR_INIT { NULL, 0 }

/* What a slice or a pass freed (or, dry, would free). */
struct retain_tally {
	long long rows;
	long long logs;
	long long bytes;		/* of those logs */
};

/* The rules of c with the logs of state_dir and now as the clock. */
struct retain_policy *retain_policy_new(const struct config *c, long long now_ms);
void retain_policy_free(struct retain_policy *p);
void retain_cursor_release(struct retain_cursor *c);
void retain_tally_add(struct retain_tally *into, const struct retain_tally *t);

/* Looks at up to max_rows builds past retention from *cur on, deleting each with its
 * log (dry: counting what that would free) into *t; stops early once the monotonic
 * clock (retain_clock_ms) passes deadline_ms (0: no deadline). 0 when the pass is
 * over (*cur back at the start), 1 when there is more, -1 with e set. A build's log
 * goes right after its row, inside the caller's transaction, into the trash
 * (retain_trash_empty unlinks it later): a rolled back slice leaves rows without
 * logs, which the next pass deletes. */
int retain_slice(struct store *st, const struct retain_policy *p, struct retain_cursor *cur,
		 int dry, size_t max_rows, long long deadline_ms, struct retain_tally *t,
		 struct err *e);

/* The logs in trashdir (a pass's RETAIN_TRASH) unlinked, no sync; *ret_files counts
 * them. 0, or -1 (errno) when the directory cannot be read or a file stays. */
int retain_trash_empty(const char *trashdir, long long *ret_files);

/* CLOCK_MONOTONIC in ms. */
long long retain_clock_ms(void);

#endif
