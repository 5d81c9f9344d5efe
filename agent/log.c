/* log: level-filtered lines on stderr, written with one write(2) each so lines
 * from concurrent processes never interleave. */
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "limits.h"
#include "log.h"

static enum log_level log_min = LOG_LVL_INFO;

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
	if (write(STDERR_FILENO, line, (size_t)n) < 0)
		return;
}
