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

/* Reading jprune's output without building a tree. Its output is compact (no
 * whitespace) and valid, which these functions rely on: they must only be given
 * pointers into a jprune output buffer that ends at end. A value is a pointer
 * to its first byte, NULL when absent; strings stay encoded (decode them with a
 * JSON library). */

/* The value of member key in the object at obj (the last one if the key repeats,
 * as JSON libraries do), or NULL when obj is not an object or has no such key. */
const char *jprune_get(const char *obj, const char *end, const char *key);
/* Element i of the array at arr, or NULL. */
const char *jprune_at(const char *arr, const char *end, size_t i);
/* Number of elements of the array at arr (0 when it is not an array). */
size_t jprune_count(const char *arr, const char *end);
/* The first byte after the value at v. */
const char *jprune_skip(const char *v, const char *end);

#endif
