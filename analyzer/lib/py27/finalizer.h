/* has_finalizer() of CPython 2.7's gcmodule.c, and where a finalizer comes
 * from: old-style instances (__del__ in the instance dict or the class
 * chain, depth-first, no __getattr__), heap types with tp_del, generators
 * suspended in a block other than a loop. */
#ifndef PG_PY27_FINALIZER_H
#define PG_PY27_FINALIZER_H

#include "heap.h"

struct pg_finalizers;

/* nobj: the tracked objects (bounds the lookups' work on damaged class
 * graphs). */
pg_error *pg_finalizers_new(struct pg_heap *h, uint64_t nobj, struct pg_finalizers **ret);
void pg_finalizers_free(struct pg_finalizers *t);

/* has_finalizer() for obj; errors reading it count as "no finalizer" with
 * *uncertain set (when not NULL). */
bool pg_has_finalizer(struct pg_finalizers *t, uint64_t obj, uint32_t type_idx, bool *uncertain);

/* Where the finalizer comes from, for the report: "ApiClient.__del__",
 * "generator g() suspended in try/finally (or with)"; NULL when unknown.
 * Caller frees. */
char *pg_finalizer_source(struct pg_finalizers *t, uint64_t obj, uint32_t type_idx);

#endif
