/* buf: growable byte buffers with a mandatory size cap, string vectors, and the
 * small helpers written once: aborting allocators, whole reads and writes on a
 * file descriptor, opening a file that must be regular, digit-run checks.
 * Rules (after git's strbuf): data is never NULL and always NUL terminated. */
#ifndef S2I_BUF_H
#define S2I_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

struct err;

extern char buf_empty[];

struct buf {
	char *data;
	size_t len;
	size_t alloc;
	size_t max;		/* appends that would exceed this fail */
};

#define BUF_INIT(max) { buf_empty, 0, 0, (max) }

void buf_init(struct buf *b, size_t max);
/* Each append returns 0, or -1 (errno = EMSGSIZE) when the cap would be passed
 * (the buffer is then unchanged), or ENOMEM. */
int buf_add(struct buf *b, const void *p, size_t n);
int buf_addstr(struct buf *b, const char *s);
int buf_addch(struct buf *b, char c);
int buf_addf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vaddf(struct buf *b, const char *fmt, va_list ap);
void buf_reset(struct buf *b);		/* len = 0, keeps memory */
void buf_release(struct buf *b);	/* frees, back to BUF_INIT state (keeps max) */
char *buf_detach(struct buf *b, size_t *ret_len);	/* caller owns; buffer reset */

/* strv: NULL-terminated vector of owned strings; items is never NULL. */
extern char *strv_empty[];

struct strv {
	char **items;
	size_t n;
	size_t alloc;
};

#define STRV_INIT { strv_empty, 0, 0 }

void strv_push(struct strv *v, const char *s);		/* copies s */
void strv_pushf(struct strv *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void strv_push_nodup(struct strv *v, char *s);		/* takes s */
void strv_clear(struct strv *v);
/* Deep copy of a NULL-terminated array. */
void strv_copy(struct strv *dst, const struct strv *src);

/* Allocation helpers that abort on out-of-memory: a small daemon has no
 * meaningful way to continue, and systemd restarts it. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Reads from fd until n bytes or end of file (EINTR retried): the bytes read, or
 * -1 with errno. A file of exactly n bytes or more reads n: ask one byte more than
 * the largest size accepted to tell "too large". */
ssize_t xread_full(int fd, void *p, size_t n);
/* Writes all n bytes to fd, retrying short writes and EINTR: 0, or -1 with errno
 * (EIO when the kernel accepts nothing and reports no error). xsend_full is the
 * same on a socket with MSG_NOSIGNAL, so a closed peer is EPIPE, not SIGPIPE. */
int xwrite_full(int fd, const void *p, size_t n);
int xsend_full(int fd, const void *p, size_t n);
/* Opens path read-only (O_CLOEXEC | O_NOCTTY | extra_flags, e.g. O_NOFOLLOW) and
 * checks it is a regular file: the descriptor with *ret_st filled (ret_st may be
 * NULL), or -1 with e saying "cannot open 'path'", "cannot stat 'path'" or
 * "'path' is not a regular file" (errno kept from the failing call, or EINVAL). */
int xopen_regular(const char *path, int extra_flags, struct stat *ret_st, struct err *e);
/* 1 when the n bytes at s are all hex digits (either case). */
int str_is_hex(const char *s, size_t n);
/* 1 when s is a non-empty run of decimal digits (an id, not a value: no sign,
 * no bound; parse it with strtoul where the value matters). */
int str_is_digits(const char *s);

#endif
