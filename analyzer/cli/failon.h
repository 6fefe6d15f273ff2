/* --fail-on COND[,COND...] and --allow FILE: a verdict for CI.
 *
 *   garbage>N           gc.garbage holds more than N objects
 *   uncollectable>N     a full collection now would leave more than N tracked
 *                       objects uncollectable
 *   type:NAME>N         more than N objects of type (or old-style class) NAME,
 *                       tracked and, with retention, untracked
 *   retained:PATH>SIZE  the retainer whose path is PATH (as the report prints
 *                       it) retains more than SIZE bytes (suffix K, M, G: 1024s)
 *   growth:NAME>N       (with the diff subcommand) NAME's count grew by more
 *                       than N from the first core to the second
 *
 * --allow FILE: cycle shapes, one a line as the report prints them ('#'
 * starts a comment): objects in those patterns count for neither garbage>N
 * nor uncollectable>N. */
#ifndef PG_FAILON_H
#define PG_FAILON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "pycore/pycore.h"

enum pg_cond_kind { PG_COND_GARBAGE, PG_COND_UNCOLLECTABLE, PG_COND_TYPE, PG_COND_RETAINED, PG_COND_GROWTH };

struct pg_cond {
	enum pg_cond_kind kind;
	char *name;          /* NAME or PATH, else NULL */
	uint64_t limit;      /* holds when the value is more than this */
	char *text;          /* the condition as given */
};

struct pg_conds {
	struct pg_cond *v;
	size_t n;
	char **allow;        /* --allow's shapes */
	size_t nallow;
};

/* Adds the comma-separated conditions of spec (commas inside brackets,
 * parentheses or quotes belong to a PATH).  On a malformed one: false, and
 * why (one line) in why[cap]. */
bool pg_conds_parse(struct pg_conds *c, const char *spec, char *why, size_t cap);
/* Reads --allow's file; false with why[cap] when it cannot be read. */
bool pg_conds_allow_load(struct pg_conds *c, const char *path, char *why, size_t cap);
void pg_conds_free(struct pg_conds *c);
bool pg_conds_has(const struct pg_conds *c, enum pg_cond_kind k);

/* Evaluates every condition but growth: on the session's results; each
 * that holds is said on err.  Returns how many hold. */
size_t pg_conds_eval(const struct pg_conds *c, pg_session *s, FILE *err);

/* growth:NAME>N over per-type count deltas (second core minus first; a
 * name absent from d grew by 0), for the diff subcommand.  Each that holds
 * is said on err; returns how many hold. */
struct pg_type_delta {
	const char *name;
	int64_t delta;
};
size_t pg_conds_eval_growth(const struct pg_conds *c, const struct pg_type_delta *d, size_t nd, FILE *err);

/* The size syntax of retained: "1048576", "512K", "1.5M", "2G". */
bool pg_parse_size_suffix(const char *s, uint64_t *out);

#endif
