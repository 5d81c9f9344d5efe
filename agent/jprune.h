/* jprune: a one-pass JSON validator that copies a document keeping only the
 * object members whose key is in a given set, so a large webhook payload is
 * reduced to the few fields intake reads before a DOM parser sees it. */
#ifndef S2I_JPRUNE_H
#define S2I_JPRUNE_H

#include <stddef.h>

#include "buf.h"
#include "err.h"

/* Appends to out the document in[0..len) with every object member whose key is
 * not in keep (NULL-terminated) dropped, at any depth; arrays and the values
 * of kept members are copied (pruned the same way), whitespace is dropped.
 * Strings are copied as written (escapes undecoded) and keys with escapes
 * never match. Returns -1 with e set ("... at byte N") when the input is not
 * one valid JSON value (RFC 8259 grammar; nesting up to JPRUNE_DEPTH_MAX).
 * The output is never longer than the input. */
int jprune(const char *in, size_t len, const char *const *keep, struct buf *out, struct err *e);

#endif
