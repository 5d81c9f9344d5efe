/* log: the daemon's and CLI's one way to report; library modules never call it.
 * Lines go to stderr as `s2i-agent: level: message` (journald adds time). */
#ifndef S2I_LOG_H
#define S2I_LOG_H

enum log_level { LOG_LVL_DEBUG, LOG_LVL_INFO, LOG_LVL_WARN, LOG_LVL_ERROR };

void log_set_level(enum log_level lvl);
void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Between log_hold() and log_flush(), lines are gathered and written together
 * (one write(2) per LOG_HOLD_MAX bytes, so each write stays atomic on a pipe):
 * for code that logs a line per item of a batch. Not nestable. */
void log_hold(void);
void log_flush(void);

#define log_debug(...)	log_msg(LOG_LVL_DEBUG, __VA_ARGS__)
#define log_info(...)	log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_warn(...)	log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_error(...)	log_msg(LOG_LVL_ERROR, __VA_ARGS__)

#endif
