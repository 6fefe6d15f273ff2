/* Python 2.7 values read from the core and written as repr() writes them
 * (PyString_Repr, unicodeescape_string, int_repr, long_format with its
 * 'L', float_repr's shortest round-trip digits, bool, None): previews for
 * --object and dict keys in edge labels. */
#ifndef PG_VALUES_H
#define PG_VALUES_H

#include "heap.h"

/* repr() of obj when it is a str, unicode, int, bool, long, float, None, or
 * (depth allowing) a tuple of those; NULL otherwise or when unreadable.
 * A str or unicode longer than max characters is written as
 * repr(s[:max]) + "..."; a number whose repr is longer than max as its
 * first max characters + "...".  Caller frees. */
char *pg_value_repr(struct pg_heap *h, uint64_t obj, size_t max, int depth);

/* A label as a user reads it: "__dict__", "[3]", "['key']", ".slot",
 * "f_locals['x']", "<key 'k'>", "+24?" (a conservative scan's offset). */
void pg_label_text(struct pg_heap *h, const struct pg_label *l, char *buf, size_t cap);

/* repr() of a double, as Python 2.7's float_repr (shortest digits that
 * read back to the same double; exponent from 1e16 and below 1e-4). */
void pg_float_repr(double d, char *buf, size_t cap);

#endif
