/* gitsrc: opens a build source (directory, work tree, bare repository, URL) with libgit2,
 * fetches into mirrors, resolves the commit, its submodules and its metadata. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <git2.h>

#include "gitsrc.h"

int gitsrc_open(const char *source, const struct gitsrc_opts *o, struct gitsrc **ret, struct err *e)
{
	(void)source; (void)o; (void)ret;
	return err_set(e, "gitsrc: not implemented yet");
}

int gitsrc_resolve(struct gitsrc *s, const char *ref, const char *sha, struct err *e)
{
	(void)s; (void)ref; (void)sha;
	return err_set(e, "gitsrc: not implemented yet");
}

enum gitsrc_kind gitsrc_kind(const struct gitsrc *s) { (void)s; return GITSRC_PLAIN; }
int gitsrc_is_git(const struct gitsrc *s) { (void)s; return 0; }
const struct gitsrc_info *gitsrc_info(const struct gitsrc *s) { (void)s; return NULL; }
const struct gitsrc_fetch_stats *gitsrc_fetch_stats(const struct gitsrc *s) { (void)s; return NULL; }
const char *gitsrc_path(const struct gitsrc *s) { (void)s; return ""; }
const char *gitsrc_context_dir(const struct gitsrc *s) { (void)s; return ""; }

int gitsrc_walk(struct gitsrc *s, gitsrc_walk_fn fn, void *ctx, struct err *e)
{
	(void)s; (void)fn; (void)ctx;
	return err_set(e, "gitsrc: not implemented yet");
}

int gitsrc_entry_read(struct gitsrc *s, const struct gitsrc_entry *ent, gitsrc_sink_fn sink,
		      void *ctx, struct err *e)
{
	(void)s; (void)ent; (void)sink; (void)ctx;
	return err_set(e, "gitsrc: not implemented yet");
}

int gitsrc_read_file(struct gitsrc *s, const char *path, size_t max, struct buf *out,
		     unsigned *ret_mode, struct err *e)
{
	(void)s; (void)path; (void)max; (void)out; (void)ret_mode;
	return err_set(e, "gitsrc: not implemented yet");
}

void gitsrc_free(struct gitsrc *s) { (void)s; }

int gitsrc_is_url(const char *source) { (void)source; return 0; }
