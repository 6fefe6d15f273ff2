/* Text that comes from the core (type and class names, dict keys, shapes
 * built from them) is bytes: any bytes.  How a name looks never decides
 * whether a type is valid; only how it is shown:
 *  - for JSON, UTF-8 with every invalid sequence replaced by U+FFFD, as
 *    Python 2.7's name.decode('utf-8', 'replace') does (one U+FFFD per
 *    maximal invalid prefix, the rules of PyUnicode_DecodeUTF8Stateful);
 *  - for people, valid UTF-8 as it is, control bytes escaped as Python
 *    writes them (\n, \t, \r, \x01), invalid bytes as \xNN.  Backslashes
 *    stay as they are: labels hold repr()s of keys, escaped already. */
#ifndef PG_TEXT_H
#define PG_TEXT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* UTF-8 of s[0..n) with invalid sequences replaced; out must hold
 * 3 * n + 1 bytes.  Returns the length written (NUL-terminated).
 * One difference from Python 2.7: a UTF-8-encoded surrogate (ED A0..BF xx),
 * which Python 2.7 decodes to a lone surrogate that JSON cannot carry as
 * UTF-8, is replaced too (one U+FFFD). */
size_t pg_utf8_clean(const char *s, size_t n, char *out);
/* The same, malloc'd; NULL when out of memory. */
char *pg_utf8_dup(const char *s);
/* True when s is valid UTF-8 in the sense above (nothing to replace). */
int pg_utf8_valid(const char *s);

/* s escaped for a terminal, malloc'd; NULL when out of memory. */
char *pg_escape_dup(const char *s);
/* Writes s escaped; returns EOF on a write error. */
int pg_fputs_escaped(const char *s, FILE *out);

/* A count with thousands separators, a size in B/KiB/MiB/GiB/TiB: into buf */
const char *pg_fmt_count(char *buf, size_t cap, uint64_t v);
const char *pg_fmt_bytes(char *buf, size_t cap, uint64_t v);

#endif
