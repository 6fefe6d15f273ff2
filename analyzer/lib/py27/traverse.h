/* Emulated tp_traverse: for one object, its referents exactly as its type's
 * tp_traverse visits them, each with a label a user understands.  Dispatch is
 * on the tp_traverse function pointer resolved to its symbol (LTO and clone
 * suffixes stripped), so subclasses of builtins and extension types work. */
#ifndef PG_PY27_TRAVERSE_H
#define PG_PY27_TRAVERSE_H

#include "heap.h"

/* The kinds of struct pg_label in this family. */
enum pg_label_kind {
	PG_L_NAME = 1,  /* payload: const char * of ours, e.g. "__dict__" */
	PG_L_INDEX,     /* payload: index, "[3]" */
	PG_L_KEY,       /* payload: address of the dict key object, "['x']" */
	PG_L_DICTKEY,   /* the key itself is the referent; payload: key address */
	PG_L_SLOT,      /* payload: address of the slot's C name in the core, ".x" */
	PG_L_LOCAL,     /* payload: address of the local's name (str object) */
	PG_L_OFFSET,    /* conservative scan: payload = byte offset in the object */
	PG_L_CELL,      /* frame cell/free var: payload = name str object */
};

struct pg_traverse;

pg_error *pg_traverse_new(struct pg_heap *h, struct pg_traverse **ret);
void pg_traverse_free(struct pg_traverse *t);

/* Visits obj's referents, reading through r (one reader per thread; the
 * type's plan must exist: pg_traverse_name makes it).  Sets *approx when a
 * conservative scan stood in for an unknown traverse function (a warning
 * names the type). */
pg_error *pg_traverse_object(struct pg_traverse *t, struct pg_reader *r, uint64_t obj, uint32_t type_idx,
			     pg_visit_fn visit, void *arg, bool *approx);

/* The traverse function's name for a type ("dict_traverse"), or NULL; makes
 * the type's plan. */
const char *pg_traverse_name(struct pg_traverse *t, uint32_t type_idx);


#endif
