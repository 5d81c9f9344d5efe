/* s2i_log: a build's log lines — the agent's step lines, the scripts' output cut into
 * lines per stream, and the status lines of pulls and pushes. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "s2i_int.h"

static void s2i_emit(struct s2i_ctx *c, enum s2i_log_kind kind, const char *line, size_t len)
{
	if (c->log)
		c->log(c->log_arg, kind, line, len);
}

void s2i_step(struct s2i_ctx *c, enum s2i_log_kind kind, const char *fmt, ...)
{
	char line[LOG_LINE_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line))
		n = sizeof(line) - 1;
	s2i_emit(c, kind, line, (size_t)n);
}

static void s2i_lines_feed(struct s2i_ctx *c, struct s2i_lines *l, enum s2i_log_kind kind,
			   const char *p, size_t n)
{
	while (n) {
		const char *nl = memchr(p, '\n', n);
		size_t take = nl ? (size_t)(nl - p) : n;

		if (take > sizeof(l->line) - 1 - l->len)
			take = sizeof(l->line) - 1 - l->len;
		memcpy(l->line + l->len, p, take);
		l->len += take;
		p += take;
		n -= take;
		if (nl && p == nl) {
			p++;
			n--;
		} else if (l->len < sizeof(l->line) - 1) {
			continue;	/* partial line, wait for more */
		}
		while (l->len && l->line[l->len - 1] == '\r')
			l->len--;
		l->line[l->len] = '\0';
		s2i_emit(c, kind, l->line, l->len);
		l->len = 0;
	}
}

void s2i_lines_flush(struct s2i_ctx *c)
{
	if (c->out_lines.len) {
		c->out_lines.line[c->out_lines.len] = '\0';
		s2i_emit(c, S2I_LOG_STDOUT, c->out_lines.line, c->out_lines.len);
		c->out_lines.len = 0;
	}
	if (c->err_lines.len) {
		c->err_lines.line[c->err_lines.len] = '\0';
		s2i_emit(c, S2I_LOG_STDERR, c->err_lines.line, c->err_lines.len);
		c->err_lines.len = 0;
	}
}

/* engine_output_fn: a script's output to the log. */
int s2i_on_output(void *arg, int stream, const void *data, size_t len, struct err *e)
{
	struct s2i_ctx *c = arg;

	(void)e;
	if (c->quiet_scripts)
		return 0;
	if (stream == ENGINE_STDERR)
		s2i_lines_feed(c, &c->err_lines, S2I_LOG_STDERR, data, len);
	else
		s2i_lines_feed(c, &c->out_lines, S2I_LOG_STDOUT, data, len);
	return 0;
}

/* Pull and push progress: the status lines, not every progress bar update. */
int s2i_on_progress(void *arg, const char *line, struct err *e)
{
	struct s2i_ctx *c = arg;
	static const char *const noisy[] = {
		"Downloading", "Extracting", "Pushing", "Waiting", "Preparing", "Verifying Checksum",
	};
	size_t i;

	(void)e;
	for (i = 0; i < sizeof(noisy) / sizeof(noisy[0]); i++)
		if (strstr(line, noisy[i]))
			return 0;
	s2i_step(c, S2I_LOG_STEP, "    %s", line);
	return 0;
}
