/* buf: growable byte buffers with a mandatory size cap, and string vectors.
 * Rules (after git's strbuf): data is never NULL and always NUL terminated. */
#ifndef S2I_BUF_H
#define S2I_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <sys/types.h>

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
/* 1 when the n bytes at s are all hex digits (either case). */
int str_is_hex(const char *s, size_t n);

#endif
