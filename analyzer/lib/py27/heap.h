/* The heap: a walk of the three gc generation lists into a flat object
 * table, a cache of the types met, the histogram, and gc.garbage. */
#ifndef PG_HEAP_H
#define PG_HEAP_H

#include "interp.h"
#include "maps.h"

/* What a type is made from: the first builtin on its tp_base chain. */
enum pg_kind { PG_K_OTHER, PG_K_DICT, PG_K_LIST, PG_K_SET, PG_K_TUPLE, PG_K_INSTANCE, PG_K_TYPE,
	       PG_K_STRING, PG_K_UNICODE, PG_K_BYTEARRAY, PG_K_LONG };

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

struct pg_type {
	uint64_t addr;
	char *name;          /* tp_name as read, or a placeholder for a bad type */
	uint64_t flags;
	int64_t basicsize, itemsize, dictoffset, weaklistoffset;
	uint64_t traverse, clear, del, base, is_gc;
	uint32_t row;        /* histogram row of its instances (not for old-style instances) */
	uint8_t kind;
	bool valid;
};

struct pg_row {
	const char *name;    /* borrowed from a pg_type or the heap's string pool */
	bool oldstyle;
	uint64_t count, bytes;
};

struct pg_garbage_item {
	uint64_t addr;
	uint32_t row;        /* type (or old-style class) row; UINT32_MAX if unknown */
	bool readable;
	int64_t refcnt;
	uint64_t size;
};

struct pg_gen {
	uint64_t count;
	int64_t threshold, counter;
	bool complete;       /* the walk came back to the list head */
};

struct pg_heap {
	struct pg_core *core;
	struct pg_interp *in;
	struct pg_warnings *warn;
	size_t max_objects;

	struct pg_type *types;
	size_t ntypes, captypes;
	struct pg_u64map type_index;   /* type address -> index */
	struct pg_u64map class_row;    /* old-style class address -> row */
	struct pg_u64map base_kind;    /* type address -> kind, for tp_base chains */
	struct pg_row *rows;
	size_t nrows, caprows;
	struct pg_strmap row_index;
	char **pool;                   /* strings owned by the heap */
	size_t npool, cappool;

	/* the object table, in gc-list order */
	uint64_t *obj;                 /* PyObject addresses */
	uint32_t *obj_type;            /* index into types */
	uint8_t *obj_gen;
	size_t nobj, capobj;
	struct pg_bigarr obj_arr, type_arr, gen_arr;   /* their storage */
	uint64_t total_bytes;

	struct pg_gen gen[3];
	bool collecting;

	bool walk_limited;             /* --max-objects stopped the walk */

	bool garbage_exists;           /* gc.garbage was created (its pointer is not NULL) */
	bool garbage_claimed_known;    /* the list's ob_size was read and believed */
	uint64_t garbage_claimed;      /* ... and is this */
	struct pg_garbage_item *garbage;
	size_t ngarbage;               /* items whose pointers were read (the first ngarbage) */
	size_t garbage_unreadable;     /* of those, objects that could not be read */
	char *garbage_problem;         /* why gc.garbage is not all there, or NULL */
	uint64_t garbage_list;         /* address of the list object */
};

pg_error *pg_heap_walk(struct pg_core *core, struct pg_interp *in, struct pg_warnings *w,
		       size_t max_objects, struct pg_heap **ret);
void pg_heap_free(struct pg_heap *h);

/* The type entry for a type address (read and cached on first use). */
pg_error *pg_heap_type(struct pg_heap *h, uint64_t addr, uint32_t *idx);
/* Row (type name, or class name for old-style instances) of an object. */
uint32_t pg_heap_row_of(struct pg_heap *h, uint64_t obj, uint32_t type_idx);
/* sys.getsizeof() of the object: its type's __sizeof__ as CPython 2.7
 * computes it (object's: basic + items; dict and set: + their table when
 * not the small one; list: + the item array; str, unicode, bytearray,
 * long: their own rules), plus the gc head when the object is gc'd. */
uint64_t pg_heap_size_of(struct pg_heap *h, uint64_t obj, const struct pg_type *t);

/* Frees the object table (h->obj, obj_type, obj_gen; nobj stays): the
 * graph, once built, holds all of it in address order. */
void pg_heap_drop_objects(struct pg_heap *h);

#endif
