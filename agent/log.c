/* log: level-filtered lines on stderr, written with one write(2) each (or a few
 * whole lines per write while held) so lines from concurrent processes never
 * interleave. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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
	char line[LOG_LINE_MAX];
	va_list ap;
	int n, m;

	if (lvl < log_min)
		return;
	n = snprintf(line, sizeof(line), "s2i-agent: %s: ", names[lvl]);
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		return;
	n += m;
	if ((size_t)n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	if (!log_held) {
		log_write(line, (size_t)n);
		return;
	}
	if (log_len + (size_t)n > sizeof(log_buf)) {
		log_write(log_buf, log_len);
		log_len = 0;
	}
	if ((size_t)n > sizeof(log_buf)) {
		log_write(line, (size_t)n);
		return;
	}
	memcpy(log_buf + log_len, line, (size_t)n);
	log_len += (size_t)n;
}
