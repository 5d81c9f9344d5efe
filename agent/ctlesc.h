/* ctlesc: text from outside (commit subjects, refs, build output) made safe for a
 * terminal or a log line: control characters shown as escapes instead of obeyed. */
#ifndef S2I_CTLESC_H
#define S2I_CTLESC_H

#include <stddef.h>

#define CTLESC_KEEP_NL	0x1	/* '\n' passes (multi-line text); else shown as \n */
#define CTLESC_KEEP_SGR	0x2	/* ESC [ digits and ';' m (colours) passes */

/* Copies s[0..n) into out (cap bytes, always NUL-terminated when cap > 0) with every
 * C0 control but '\t' (and '\n' with CTLESC_KEEP_NL), DEL, C1 control (U+0080..U+009F),
 * bidirectional embedding, override or isolate (U+202A..U+202E, U+2066..U+2069) and
 * byte that is not valid UTF-8 written as a visible escape (\r, \x1b, \u202e). An
 * escape or character that does not fit is left out whole. Returns the length written. */
size_t ctlesc(char *out, size_t cap, const char *s, size_t n, unsigned flags);

/* Bytes of out that ctlesc may need for n bytes of input (plus the NUL). */
#define CTLESC_MAX(n) ((n) * 6 + 1)

#endif
