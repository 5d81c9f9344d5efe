/* log: level-filtered lines on stderr, written with one write(2) each (or a few
 * whole lines per write while held) so lines from concurrent processes never
 * interleave; control characters in a message are written as escapes (ctlesc). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ctlesc.h"
#include "limits.h"
#include "log.h"

static enum log_level log_min = LOG_LVL_INFO;
static int log_held;
static char log_buf[LOG_HOLD_MAX];
static size_t log_len;

static void log_write(const char *s, size_t n)
{
	if (write(STDERR_FILENO, s, n) < 0)
		return;
}

void log_hold(void)
{
	log_held = 1;
}

void log_flush(void)
{
	if (log_len)
		log_write(log_buf, log_len);
	log_len = 0;
	log_held = 0;
}

void log_set_level(enum log_level lvl)
{
	log_min = lvl;
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	static const char *names[] = { "debug", "info", "warning", "error" };
	char line[LOG_LINE_MAX], msg[LOG_LINE_MAX];
	size_t n;
	va_list ap;
	int m;

	if (lvl < log_min)
		return;
	va_start(ap, fmt);
	m = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (m < 0)
		return;
	if ((size_t)m >= sizeof(msg))
		m = sizeof(msg) - 1;
	n = (size_t)snprintf(line, sizeof(line), "s2i-agent: %s: ", names[lvl]);
	/* refs, repository names and subjects come from pushers: a '\n' in one must not
	 * start a forged line, nor an escape sequence reach the operator's terminal */
	n += ctlesc(line + n, sizeof(line) - n - 1, msg, (size_t)m, 0);
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	if (!log_held) {
		log_write(line, n);
		return;
	}
	if (log_len + n > sizeof(log_buf)) {
		log_write(log_buf, log_len);
		log_len = 0;
	}
	if (n > sizeof(log_buf)) {
		log_write(line, n);
		return;
	}
	memcpy(log_buf + log_len, line, n);
	log_len += n;
}
