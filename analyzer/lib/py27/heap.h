/* CPython 2.7's heap: the types met (read and cached once), their kinds,
 * sys.getsizeof, the walk of the three gc generation lists into the model,
 * and gc.garbage. */
#ifndef PG_PY27_HEAP_H
#define PG_PY27_HEAP_H

#include "../base/maps.h"
#include "../model/model.h"
#include "interp.h"

#define PG_TPFLAGS_HEAPTYPE (1UL << 9)
#define PG_TPFLAGS_HAVE_GC (1UL << 14)
#define PG_TPFLAGS_HAVE_WEAKREFS (1UL << 6)

/* One walker for tp_base chains (types' kinds here, subtype_traverse's
 * plan in traverse.c): loops are found by Brent's method, so a legitimate
 * hierarchy of any depth (Python sets no limit) is walked, and the length
 * is bounded for damaged cores. */
#define PG_MAX_BASE_CHAIN 65536
#define PG_STR_(x) #x
#define PG_STR(x) PG_STR_(x)
enum { PG_BASE_OK, PG_BASE_LOOP, PG_BASE_LONG };
struct pg_base_walk {
	uint64_t cur, mark;
	unsigned long power, lam;
	size_t steps;
};
void pg_base_walk_init(struct pg_base_walk *w, uint64_t type);
/* Moves to `next` (the current type's tp_base, not NULL): PG_BASE_OK, or
 * PG_BASE_LOOP / PG_BASE_LONG when the chain must not be followed. */
int pg_base_walk_step(struct pg_base_walk *w, uint64_t next);
/* "its tp_base chain loops" / "... is longer than N", for a warning. */
const char *pg_base_walk_error(int r);

/* The 2.7 part of a type entry; the index is the model's (m->types). */
struct pg_type {
	uint64_t addr;
	const char *name;    /* the model type's name */
	uint64_t flags;
	int64_t basicsize, itemsize, dictoffset, weaklistoffset;
	uint64_t traverse, clear, del, base, is_gc;
	uint32_t row;        /* histogram row of its instances (not for old-style instances) */
	uint8_t kind;
	bool valid;
};

struct pg_heap {
	struct pg_core *core;
	struct pg_interp *in;
	struct pg_warnings *warn;
	const struct pg_log *log;
	struct pg_reader rd;           /* the session's own reads (one thread) */
	struct pg_model *m;            /* generic type entries, rows, generations, gc.garbage */

	struct pg_type *types;
	size_t ntypes, captypes;
	struct pg_u64map type_index;   /* type address -> index */
	struct pg_u64map class_row;    /* old-style class address -> row */
	struct pg_u64map base_kind;    /* type address -> kind, for tp_base chains */
};

void pg_heap_init(struct pg_heap *h, struct pg_core *core, struct pg_interp *in, struct pg_warnings *w,
		  const struct pg_log *log);
void pg_heap_fini(struct pg_heap *h);

/* The gc state into m: the generation lists (objects in list order, the
 * histogram), gcmodule's `collecting` flag, gc.garbage. */
pg_error *pg_heap_walk(struct pg_heap *h, struct pg_model *m, size_t max_objects);

/* The type entry for a type address (read and cached on first use). */
pg_error *pg_heap_type(struct pg_heap *h, uint64_t addr, uint32_t *idx);
/* Row (type name, or class name for old-style instances) of an object. */
uint32_t pg_heap_row_of(struct pg_heap *h, uint64_t obj, uint32_t type_idx);
/* sys.getsizeof() of the object: its type's __sizeof__ as CPython 2.7
 * computes it (object's: basic + items; dict and set: + their table when
 * not the small one; list: + the item array; str, unicode, bytearray,
 * long: their own rules), plus the gc head when the object is gc'd. */
uint64_t pg_heap_size_of(struct pg_heap *h, uint64_t obj, const struct pg_type *t);

/* The memory tree's part (lib/py27/memory.c, lib/membuild.h): pymalloc's
 * arenas, the int and float blocks, the chunks Python objects own. */
struct pg_memory_builder;
pg_error *pg_py27_memory(struct pg_heap *h, const struct pg_model *m, struct pg_memory_builder *b);

#endif
