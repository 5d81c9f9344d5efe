/* retain: the retention rules of a pass and its slices (keep_builds, keep_days): which
 * repository's rules apply, paging through the store's picks, the logs removed. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "retain.h"

#define RETAIN_PICK_MAX	64	/* ids picked per store query */

long long retain_clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct retain_policy *retain_policy_new(const struct config *c, long long now_ms)
{
	struct retain_policy *p = xcalloc(1, sizeof(*p));
	size_t i;

	p->rules = xcalloc(c->nrepos + 1, sizeof(*p->rules));
	for (i = 0; i < c->nrepos; i++) {
		p->rules[i].repo = xstrdup(c->repos[i]->name);
		p->rules[i].keep_builds = c->repos[i]->keep_builds;
		p->rules[i].keep_days = c->repos[i]->keep_days;
	}
	p->nrules = c->nrepos;
	p->other.keep_builds = c->keep_builds;
	p->other.keep_days = c->keep_days;
	p->logdir = xasprintf("%s/logs", c->state_dir);
	p->trashdir = xasprintf("%s/" RETAIN_TRASH, p->logdir);
	p->now_ms = now_ms;
	return p;
}

void retain_policy_free(struct retain_policy *p)
{
	size_t i;

	if (!p)
		return;
	for (i = 0; i < p->nrules; i++)
		free(p->rules[i].repo);
	free(p->rules);
	free(p->logdir);
	free(p->trashdir);
	free(p);
}

void retain_cursor_release(struct retain_cursor *c)
{
	free(c->repo);
	c->repo = NULL;
	c->after_id = 0;
}

void retain_tally_add(struct retain_tally *into, const struct retain_tally *t)
{
	into->rows += t->rows;
	into->logs += t->logs;
	into->bytes += t->bytes;
}

static const struct retain_rule *retain_rule_of(const struct retain_policy *p, const char *repo)
{
	size_t i;

	for (i = 0; i < p->nrules; i++)
		if (strcmp(p->rules[i].repo, repo) == 0)
			return &p->rules[i];
	return &p->other;
}

/* The log of build id, moved into the trash (or with dry only measured) into t. A
 * rename frees no blocks: the journal the transaction's fsync writes stays small, and
 * the unlinks happen later, off the writer (retain_trash_empty). */
static void retain_log(const struct retain_policy *p, long long id, int dry, struct retain_tally *t)
{
	char path[4096], to[4096];
	struct stat sb;

	if ((size_t)snprintf(path, sizeof(path), "%s/%lld.log", p->logdir, id) >= sizeof(path) ||
	    (size_t)snprintf(to, sizeof(to), "%s/%lld.log", p->trashdir, id) >= sizeof(to))
		return;
	if (lstat(path, &sb) < 0 || !S_ISREG(sb.st_mode))
		return;
	if (!dry && rename(path, to) < 0 &&
	    (errno != ENOENT || mkdir(p->trashdir, 0750) < 0 || rename(path, to) < 0) &&
	    unlink(path) < 0)
		return;
	t->logs++;
	t->bytes += sb.st_size;
}

int retain_trash_empty(const char *trashdir, long long *ret_files)
{
	struct dirent *d;
	DIR *dh = opendir(trashdir);
	int dfd, ret = 0;

	*ret_files = 0;
	if (!dh)
		return errno == ENOENT ? 0 : -1;
	dfd = dirfd(dh);
	while ((d = readdir(dh))) {
		if (d->d_name[0] == '.')
			continue;
		if (unlinkat(dfd, d->d_name, 0) == 0)
			(*ret_files)++;
		else if (errno != ENOENT)
			ret = -1;
	}
	closedir(dh);
	return ret;
}

/* The next repository of the builds after cur's: 0, 1 when there is none. */
static int retain_next_repo(struct store *st, struct retain_cursor *cur, struct err *e)
{
	char *next = NULL;
	int rc = store_keep_next_repo(st, cur->repo, &next, e);

	if (rc < 0)
		return -1;
	retain_cursor_release(cur);
	cur->repo = next;
	return rc;
}

int retain_slice(struct store *st, const struct retain_policy *p, struct retain_cursor *cur,
		 int dry, size_t max_rows, long long deadline_ms, struct retain_tally *t,
		 struct err *e)
{
	long long ids[RETAIN_PICK_MAX];
	size_t done = 0, n, i, want;
	int rc;

	if (!cur->repo && (rc = retain_next_repo(st, cur, e)) != 0)
		return rc < 0 ? -1 : 0;
	while (done < max_rows) {
		const struct retain_rule *r = retain_rule_of(p, cur->repo);
		struct store_keep k = { cur->repo, r->keep_builds, 0, cur->after_id };

		if (r->keep_days > 0)
			k.finished_before = p->now_ms - r->keep_days * 86400000LL;
		want = max_rows - done < RETAIN_PICK_MAX ? max_rows - done : RETAIN_PICK_MAX;
		n = 0;
		if ((r->keep_builds > 0 || r->keep_days > 0) &&
		    store_keep_pick(st, &k, ids, want, &n, e) < 0)
			return -1;
		for (i = 0; i < n; i++) {
			cur->after_id = ids[i];
			rc = dry ? 0 : store_keep_delete(st, ids[i], e);
			if (rc < 0)
				return -1;
			if (rc == 0) {
				t->rows++;
				retain_log(p, ids[i], dry, t);
			}
			done++;
			if (deadline_ms && retain_clock_ms() >= deadline_ms)
				return 1;
		}
		if (n == want)
			continue;	/* this repository may have more */
		if ((rc = retain_next_repo(st, cur, e)) != 0)
			return rc < 0 ? -1 : 0;
	}
	return 1;
}
