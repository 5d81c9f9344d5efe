/* buf: capped byte buffers, string vectors and aborting allocators.
 * Every buffer carries its own cap so no input can grow one without bound. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "buf.h"
#include "err.h"

char buf_empty[1];
char *strv_empty[1];

static void oom(void)
{
	fputs("s2i-agent: out of memory\n", stderr);
	abort();
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		oom();
	return p;
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		oom();
	return p;
}

void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		oom();
	return p;
}

char *xstrdup(const char *s)
{
	char *p = strdup(s);

	if (!p)
		oom();
	return p;
}

char *xstrndup(const char *s, size_t n)
{
	char *p = strndup(s, n);

	if (!p)
		oom();
	return p;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	if (vasprintf(&p, fmt, ap) < 0)
		oom();
	va_end(ap);
	return p;
}

void buf_init(struct buf *b, size_t max)
{
	b->data = buf_empty;
	b->len = 0;
	b->alloc = 0;
	b->max = max;
}

static int buf_grow(struct buf *b, size_t extra)
{
	size_t want;

	if (extra > b->max || b->len > b->max - extra) {
		errno = EMSGSIZE;
		return -1;
	}
	want = b->len + extra + 1;
	if (want <= b->alloc)
		return 0;
	if (want < b->alloc * 2)
		want = b->alloc * 2;
	if (want < 64)
		want = 64;
	if (b->alloc == 0) {
		b->data = xmalloc(want);
		b->data[0] = '\0';
	} else {
		b->data = xrealloc(b->data, want);
	}
	b->alloc = want;
	return 0;
}

int buf_add(struct buf *b, const void *p, size_t n)
{
	if (buf_grow(b, n) < 0)
		return -1;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int buf_addstr(struct buf *b, const char *s)
{
	return buf_add(b, s, strlen(s));
}

int buf_addch(struct buf *b, char c)
{
	return buf_add(b, &c, 1);
}

int buf_vaddf(struct buf *b, const char *fmt, va_list ap)
{
	char small[256];
	va_list cp;
	int n;

	va_copy(cp, ap);
	n = vsnprintf(small, sizeof(small), fmt, cp);
	va_end(cp);
	if (n < 0)
		return -1;
	if ((size_t)n < sizeof(small))
		return buf_add(b, small, (size_t)n);
	if (buf_grow(b, (size_t)n) < 0)
		return -1;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int buf_addf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = buf_vaddf(b, fmt, ap);
	va_end(ap);
	return r;
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->alloc)
		b->data[0] = '\0';
}

void buf_release(struct buf *b)
{
	if (b->alloc)
		free(b->data);
	buf_init(b, b->max);
}

char *buf_detach(struct buf *b, size_t *ret_len)
{
	char *p = b->alloc ? b->data : xstrdup("");

	if (ret_len)
		*ret_len = b->len;
	buf_init(b, b->max);
	return p;
}

static void strv_grow(struct strv *v)
{
	if (v->n + 2 <= v->alloc)
		return;
	v->alloc = v->alloc ? v->alloc * 2 : 8;
	if (v->items == strv_empty)
		v->items = xcalloc(v->alloc, sizeof(char *));
	else
		v->items = xrealloc(v->items, v->alloc * sizeof(char *));
}

void strv_push_nodup(struct strv *v, char *s)
{
	strv_grow(v);
	v->items[v->n++] = s;
	v->items[v->n] = NULL;
}

void strv_push(struct strv *v, const char *s)
{
	strv_push_nodup(v, xstrdup(s));
}

void strv_pushf(struct strv *v, const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	if (vasprintf(&p, fmt, ap) < 0)
		oom();
	va_end(ap);
	strv_push_nodup(v, p);
}

void strv_clear(struct strv *v)
{
	size_t i;

	for (i = 0; i < v->n; i++)
		free(v->items[i]);
	if (v->items != strv_empty)
		free(v->items);
	v->items = strv_empty;
	v->n = v->alloc = 0;
}

void strv_copy(struct strv *dst, const struct strv *src)
{
	size_t i;

	for (i = 0; i < src->n; i++)
		strv_push(dst, src->items[i]);
}

ssize_t xread_full(int fd, void *p, size_t n)
{
	size_t len = 0;

	while (len < n) {
		ssize_t r = read(fd, (char *)p + len, n - len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		len += (size_t)r;
	}
	return (ssize_t)len;
}

static int xput_full(int fd, const void *p, size_t n, int sock)
{
	const char *c = p;

	while (n > 0) {
		ssize_t w = sock ? send(fd, c, n, MSG_NOSIGNAL) : write(fd, c, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		if (w == 0) {
			errno = EIO;
			return -1;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

int xwrite_full(int fd, const void *p, size_t n)
{
	return xput_full(fd, p, n, 0);
}

int xsend_full(int fd, const void *p, size_t n)
{
	return xput_full(fd, p, n, 1);
}

int xopen_regular(const char *path, int extra_flags, struct stat *ret_st, struct err *e)
{
	struct stat st;
	int fd, saved;

	/*
	 * O_NONBLOCK so that a FIFO (or a device) at the path does not block
	 * the open itself, waiting for a writer, before the S_ISREG check can
	 * refuse it; cleared again so that reads of the regular file behave.
	 */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | extra_flags);
	if (fd < 0)
		return err_errno(e, "cannot open '%s'", path);
	if (fstat(fd, &st) < 0) {
		saved = errno;
		err_errno(e, "cannot stat '%s'", path);
		close(fd);
		errno = saved;
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		err_set(e, "'%s' is not a regular file", path);
		close(fd);
		errno = EINVAL;
		return -1;
	}
	if (!(extra_flags & O_NONBLOCK) && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0) {
		saved = errno;
		err_errno(e, "cannot read '%s'", path);
		close(fd);
		errno = saved;
		return -1;
	}
	if (ret_st)
		*ret_st = st;
	return fd;
}

int str_is_hex(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]))
			return 0;
	return 1;
}

int str_is_digits(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return 0;
	return 1;
}
