/* err: the error report every fallible function fills for its caller.
 * Library modules never log; they describe the failure here and return -1. */
#ifndef S2I_ERR_H
#define S2I_ERR_H

#include "limits.h"

struct err {
	char msg[ERR_MSG_MAX];
};

#define ERR_INIT { { 0 } }

/* Sets the message and returns -1, so `return err_set(e, "...")` reads naturally.
 * e may be NULL. */
int err_set(struct err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prepends context: "cannot pull 'x': " + existing message. Returns -1. */
int err_prefix(struct err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Sets "what: strerror(errno)"; returns -1. */
int err_errno(struct err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
