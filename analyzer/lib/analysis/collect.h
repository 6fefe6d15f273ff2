/* CPython 2.7's full collection (gcmodule.c collect(2)), run offline on the
 * graph: what gc.collect() would do if it ran at the moment of the dump. */
#ifndef PG_COLLECT_H
#define PG_COLLECT_H

#include "graph.h"

enum {
	PG_S_REACHABLE = 1,     /* reachable from a root (gc_refs > 0 after subtract_refs) */
	PG_S_UNREACHABLE = 2,   /* cyclic garbage */
	PG_S_FINALIZER = 4,     /* has_finalizer() */
	PG_S_KEPT = 8,          /* unreachable and reachable from a finalizer object */
	PG_S_FREED_LATE = 16,   /* kept, but freed when the collectable part is cleared */
	PG_S_REACH_NOGARBAGE = 32, /* reachable even without gc.garbage's references */
	PG_S_RESCUED = 64,      /* a weakref handle_weakrefs() takes out (its callback is called) */
	PG_S_LEAKED = 128,      /* uncollectable: a surviving finalizer object, or reached from one */
};

struct pg_collect {
	uint8_t *state;          /* per graph index */
	size_t n_unreachable, n_finalizers, n_uncollectable, n_deferred, n_freed;
	uint64_t b_unreachable, b_finalizers, b_uncollectable, b_deferred, b_freed;
	size_t n_overcounted;    /* referents visited more often than their refcount */
	bool nogarbage_view;     /* PG_S_REACH_NOGARBAGE is set: the roots do not
				  * depend on gc.garbage's references (no refcount
				  * was overcounted), so one marking serves both */
	bool uncertain;          /* a has_finalizer() answer could not be read */
};

pg_error *pg_collect_run(struct pg_heap *h, struct pg_traverse *t, const struct pg_graph *g,
			 struct pg_collect **ret);
void pg_collect_free(struct pg_collect *c);

/* In the final sets.  After delete_garbage(), what is left of the
 * finalizer-reachable set survives the collection: the finalizer objects
 * among the survivors go to gc.garbage, and they and every unreachable
 * object they reach are leaked for good (uncollectable); the other
 * survivors (reached only from finalizer objects that were freed on the
 * way) live on in the old generation until the next collection frees them
 * (deferred).  gcmodule.c's DEBUG_UNCOLLECTABLE lines name both. */
static inline bool pg_survives(const struct pg_collect *c, uint32_t i)
{
	return (c->state[i] & (PG_S_KEPT | PG_S_FREED_LATE)) == PG_S_KEPT;
}
static inline bool pg_is_uncollectable(const struct pg_collect *c, uint32_t i)
{
	return (c->state[i] & PG_S_LEAKED) != 0;
}
static inline bool pg_is_deferred(const struct pg_collect *c, uint32_t i)
{
	return pg_survives(c, i) && !(c->state[i] & PG_S_LEAKED);
}
static inline bool pg_is_new_garbage(const struct pg_collect *c, uint32_t i)
{
	return pg_is_uncollectable(c, i) && (c->state[i] & PG_S_FINALIZER);
}

#endif
