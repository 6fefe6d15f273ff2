/* Reference cycles: strongly connected components over (a) the unreachable
 * set of the simulated collection and (b) what gc.garbage keeps alive, one
 * representative cycle per component with labelled edges, and components
 * grouped by shape. */
#ifndef PG_CYCLES_H
#define PG_CYCLES_H

#include "collect.h"

enum pg_cycle_kind { PG_CY_COLLECTABLE, PG_CY_UNCOLLECTABLE, PG_CY_GARBAGE, PG_CY_DEFERRED };

struct pg_cycle_step {
	uint32_t from, to;       /* graph indices */
	struct pg_label label;
};

struct pg_cycle_group {
	enum pg_cycle_kind kind;
	char *shape;             /* "MyApiClient.t -> T._api_client -> MyApiClient" */
	char *key;               /* grouping key: canonical rotation + type multiset */
	char *finalizer;         /* "ApiClient.__del__", or NULL */
	uint64_t components, objects, bytes;   /* objects/bytes: tracked + untracked */
	uint64_t untracked_objects, untracked_bytes;  /* the non-gc part of them */
	uint32_t example_comp;   /* component id of the example */
	struct pg_cycle_step *steps;  /* the example cycle, raw edges */
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
	uint32_t *comp;                  /* per graph index: component id or PG_NONE */
	uint32_t *comp_first;            /* component members, CSR */
	uint32_t *comp_members;
	size_t ncomps;
	uint8_t *comp_view;              /* per component: 0 (a) or 1 (b) */
};

pg_error *pg_cycles_find(struct pg_heap *h, struct pg_traverse *t, const struct pg_graph *g,
			 const struct pg_collect *c, struct pg_cycles **ret);
void pg_cycles_free(struct pg_cycles *cy);

const char *pg_cycle_kind_name(enum pg_cycle_kind k);
/* A component with more than one object, or one that refers to itself. */
bool pg_cycles_nontrivial(const struct pg_cycles *cy, const struct pg_graph *g, uint32_t comp);

#endif
