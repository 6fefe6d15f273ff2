/* libpycore's analyses' results, read by reports (and by anyone embedding
 * the library): the offline collection and the cycles.  Both read only the
 * model (pycore/model.h); indices are the model's graph indices. */
#ifndef PYCORE_ANALYSIS_H
#define PYCORE_ANALYSIS_H

#include "pycore/model.h"

/* ---- the collection: CPython 2.7's collect(2), offline ---------------- */

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


/* ---- reference cycles -------------------------------------------------- */

enum pg_cycle_kind { PG_CY_COLLECTABLE, PG_CY_UNCOLLECTABLE, PG_CY_GARBAGE, PG_CY_DEFERRED };

struct pg_cycle_step {
	uint32_t from, to;       /* graph indices */
	char *label;             /* the edge's label as text: "__dict__", "['t']" */
	int64_t from_len;        /* the length a user would see of `from` (dict, list, tuple), or -1 */
	bool from_finalizer;     /* `from` has a finalizer */
};

struct pg_cycle_group {
	enum pg_cycle_kind kind;
	char *shape;             /* "MyApiClient.t -> T._api_client -> MyApiClient" */
	char *key;               /* grouping key: canonical rotation + type multiset */
	char *finalizer;         /* "ApiClient.__del__", or NULL */
	uint64_t components, objects, bytes;   /* objects/bytes: tracked + untracked */
	uint64_t untracked_objects, untracked_bytes;  /* the non-gc part of them */
	uint32_t example_comp;   /* component id of the example */
	struct pg_cycle_step *steps;  /* the example cycle, raw edges (__dict__ hops kept) */
	size_t nsteps;
};

struct pg_cycles {
	struct pg_cycle_group *groups;   /* largest first: bytes, then components, then as found */
	size_t ngroups;
	uint64_t nontrivial[2];          /* per view: (a) unreachable, (b) garbage */
	/* tracked objects and bytes the groups of each kind hold (indexed by
	 * enum pg_cycle_kind): in view (a), each kind's count never exceeds the
	 * collection's; what is left belongs to no pattern (reached only from
	 * objects of another fate, or through a weakref the collection rescues) */
	uint64_t kind_tracked[4], kind_tracked_bytes[4];
	uint32_t *comp_first;            /* component members, CSR */
	uint32_t *comp_members;
	size_t ncomps;
	uint8_t *comp_view;              /* per component: 0 (a) or 1 (b) */
	uint32_t *comp_group;            /* per component: index in groups, or PG_NONE (trivial) */
};


const char *pg_cycle_kind_name(enum pg_cycle_kind k);


/* ---- retention: what holds the memory, and through what ---------------
 *
 * Over every object (pg_model.nall nodes) from a virtual root whose edges
 * go to the roots (pg_model.roots, then each object whose refcount is
 * more than the references found: "held from outside"): the dominator
 * tree (weak references and the interned strings' dict keep nothing
 * alive), each node's retained count and bytes (what would be freed with
 * it), and the retainers: from each top-level dominator, down while one
 * child keeps at least 80% of its parent's retained bytes. */

struct pg_retained_type {
	uint32_t row;             /* histogram row */
	uint64_t count, bytes;
};

#define PG_RETAINER_TYPES 3
struct pg_retainer {
	uint32_t node;            /* the accumulation point */
	uint32_t top;             /* the top-level dominator it was reached from */
	uint64_t count, bytes;    /* what it retains, itself included */
	uint32_t root;            /* index in pg_retention.roots of the root of its path, or PG_NONE */
	uint32_t *path;           /* nodes from the root's object to node */
	size_t npath;
	struct pg_retained_type types[PG_RETAINER_TYPES];  /* the largest inside, by bytes */
	size_t ntypes;
};

struct pg_retention {
	uint32_t *pre;            /* per node: 0 when no root reaches it, else its slot below (1: the virtual root) */
	uint32_t *idom;           /* per slot: the immediate dominator's slot */
	uint32_t *node_of;        /* per slot: the node (the virtual root's: nall) */
	uint64_t *ret_bytes;      /* per slot */
	uint32_t *ret_count;      /* per slot */
	size_t nreached;          /* nodes a root reaches */
	uint64_t reached_bytes;
	uint64_t unreached, unreached_bytes;  /* reached by no root: cyclic garbage and what only it holds */
	struct pg_root *roots;    /* the model's roots, then the ones held from outside */
	size_t nroots, noutside;
	uint64_t toplevel;        /* top-level dominators */
	struct pg_retainer *retainers;   /* largest first */
	size_t nretainers;
	double ms[6];             /* time of its stages (--verbose): roots, search, predecessors, dominators, retainers, paths */
};

#define PG_RETAINERS_MAX 100

/* Retained count and bytes of a node; false when no root reaches it. */
static inline bool pg_retained(const struct pg_retention *r, uint32_t node, uint64_t *count, uint64_t *bytes)
{
	uint32_t k = r->pre[node];
	if (!k)
		return false;
	*count = r->ret_count[k];
	*bytes = r->ret_bytes[k];
	return true;
}
/* A component with more than one object, or one that refers to itself. */
bool pg_cycles_nontrivial(const struct pg_cycles *cy, const struct pg_model *m, uint32_t comp);

#endif
