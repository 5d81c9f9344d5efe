/* srctar: writes the upload tar with libarchive from git trees, directories and memory,
 * plus the thread bridge that turns the pushed stream into a readable fd. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "srctar.h"

int srctar_new(srctar_write_fn fn, void *ctx, const struct srctar_opts *o, struct srctar **ret,
	       struct err *e)
{
	(void)fn; (void)ctx; (void)o; (void)ret;
	return err_set(e, "srctar: not implemented yet");
}

int srctar_add_source(struct srctar *t, const char *prefix, struct gitsrc *src,
		      const struct strv *exclude, struct err *e)
{
	(void)t; (void)prefix; (void)src; (void)exclude;
	return err_set(e, "srctar: not implemented yet");
}

int srctar_add_dir(struct srctar *t, const char *prefix, const char *dir,
		   const struct strv *exclude, struct err *e)
{
	(void)t; (void)prefix; (void)dir; (void)exclude;
	return err_set(e, "srctar: not implemented yet");
}

int srctar_add_file(struct srctar *t, const char *name, unsigned mode, const void *data,
		    size_t len, struct err *e)
{
	(void)t; (void)name; (void)mode; (void)data; (void)len;
	return err_set(e, "srctar: not implemented yet");
}

int srctar_add_path(struct srctar *t, const char *name, const char *path, unsigned mode,
		    struct err *e)
{
	(void)t; (void)name; (void)path; (void)mode;
	return err_set(e, "srctar: not implemented yet");
}

int srctar_add_dirent(struct srctar *t, const char *name, unsigned mode, struct err *e)
{
	(void)t; (void)name; (void)mode;
	return err_set(e, "srctar: not implemented yet");
}

int srctar_finish(struct srctar *t, struct err *e)
{
	(void)t;
	return err_set(e, "srctar: not implemented yet");
}

uint64_t srctar_bytes(const struct srctar *t) { (void)t; return 0; }
void srctar_free(struct srctar *t) { (void)t; }

int srctar_check_exclude(const struct strv *exclude, struct err *e)
{
	(void)exclude;
	return err_set(e, "srctar: not implemented yet");
}

int srctar_pipe_start(const struct srctar_opts *o, srctar_fill_fn fill, void *ctx,
		      int *ret_fd, struct srctar_pipe **ret, struct err *e)
{
	(void)o; (void)fill; (void)ctx; (void)ret_fd; (void)ret;
	return err_set(e, "srctar: not implemented yet");
}

int srctar_pipe_finish(struct srctar_pipe *p, struct err *e)
{
	(void)p; (void)e;
	return 0;
}
