/* The heap: a walk of the three gc generation lists into a flat object
 * table, a cache of the types met, the histogram, and gc.garbage. */
#ifndef PG_HEAP_H
#define PG_HEAP_H

#include "interp.h"
#include "maps.h"

enum pg_kind { PG_K_OTHER, PG_K_DICT, PG_K_LIST, PG_K_SET, PG_K_TUPLE, PG_K_INSTANCE, PG_K_TYPE };

#define PG_TPFLAGS_HEAPTYPE (1UL << 9)
#define PG_TPFLAGS_HAVE_GC (1UL << 14)
#define PG_TPFLAGS_HAVE_WEAKREFS (1UL << 6)

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

	bool garbage_exists;           /* gc.garbage was created */
	struct pg_garbage_item *garbage;
	size_t ngarbage;
	uint64_t garbage_list;         /* address of the list object */
};

pg_error *pg_heap_walk(struct pg_core *core, struct pg_interp *in, struct pg_warnings *w,
		       size_t max_objects, struct pg_heap **ret);
void pg_heap_free(struct pg_heap *h);

/* The type entry for a type address (read and cached on first use). */
pg_error *pg_heap_type(struct pg_heap *h, uint64_t addr, uint32_t *idx);
/* Row (type name, or class name for old-style instances) of an object. */
uint32_t pg_heap_row_of(struct pg_heap *h, uint64_t obj, uint32_t type_idx);
/* Bytes a user would count for the object: basic + items + gc head + owned
 * tables (dict, set) and item arrays (list). */
uint64_t pg_heap_size_of(struct pg_heap *h, uint64_t obj, const struct pg_type *t);

/* Frees the object table (h->obj, obj_type, obj_gen; nobj stays): the
 * graph, once built, holds all of it in address order. */
void pg_heap_drop_objects(struct pg_heap *h);

#endif
