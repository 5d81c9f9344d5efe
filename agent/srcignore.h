/* srcignore: s2i's .s2iignore, the source files a build leaves out (s2i-agent(8)). */
/* s2i reads the file in the source root (after --context-dir) line by line: spaces
 * trimmed, empty and '#' lines skipped; a pattern removes every path it globs
 * (filepath.Glob, relative to the root: '*' and '?' stop at '/'), a directory with
 * everything in it; "!pattern" puts back what earlier lines removed and it matches.
 * Last match wins, per path. No I/O. */
#ifndef S2I_SRCIGNORE_H
#define S2I_SRCIGNORE_H

#include <stddef.h>

#include "buf.h"

/* s2i's file name, in the source root */
#define SRCIGNORE_FILE	".s2iignore"

struct srcignore {
	struct strv pats;	/* cleaned patterns, in file order */
	struct strv negs;	/* "!" for a negation, "" otherwise, parallel to pats */
};

#define SRCIGNORE_INIT { STRV_INIT, STRV_INIT }

/* Reads the file's text (any bytes; a line holding NUL ends at it). */
void srcignore_parse(const char *text, size_t len, struct srcignore *ret);
/* 1 when path (relative to the source root, no leading '/') itself is left out; a
 * caller walking the tree skips what is below a directory left out. */
int srcignore_match(const struct srcignore *ig, const char *path);
/* 1 when it has no pattern */
int srcignore_empty(const struct srcignore *ig);
void srcignore_release(struct srcignore *ig);

#endif
