/* runfixture: running a helper program (ssh-keygen, openssl, ...) from a unit test;
 * the code is in runfixture.c (the Makefile links it into every unit test). */
#ifndef S2I_TEST_RUNFIXTURE_H
#define S2I_TEST_RUNFIXTURE_H

#include "err.h"

/* Runs argv with stdin, stdout and stderr on /dev/null: its exit status, or -1
 * (e says why) when it could not be started or waited for. */
int rf_run_quiet(const char *const *argv, struct err *e);

#endif
