/* libpycore's model of the heap: what the walk of the gc state found (types,
 * the histogram, generations, gc.garbage) and, with the graph, every tracked
 * object in address order with its type, row, size, refcount and
 * generation, and its references to other tracked objects in flat arrays
 * (CSR).  Analyses read only this; reports read this and the analyses'
 * results.  Sizes and rows are resolved once, when the model is built.
 *
 * Three facts are asked of the interpreter family on demand and need the
 * session's core to be open: an edge's label as text, whether an object has
 * a finalizer (and which), and the untracked objects a graph object refers
 * to (see lib/model/model.h: pg_model_edge_label, ...). */
#ifndef PYCORE_MODEL_H
#define PYCORE_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PG_NONE UINT32_MAX

/* What a type is made from: the first builtin on its tp_base chain. */
enum pg_kind { PG_K_OTHER, PG_K_DICT, PG_K_LIST, PG_K_SET, PG_K_TUPLE, PG_K_INSTANCE, PG_K_TYPE,
	       PG_K_STRING, PG_K_UNICODE, PG_K_BYTEARRAY, PG_K_LONG };

/* The interpreter, as the family found it. */
struct pg_interp_info {
	const char *family;     /* "CPython 2.7" */
	const char *modname;    /* the module holding the interpreter (its path in the process) */
	const char *mainfile;   /* where its ELF file was found */
	const char *debugfile;  /* where its DWARF was found (may equal mainfile) */
	const char *build_id;
	const char *version;    /* "2.7.18 (default, ...)", or "" */
	bool debug_build;       /* Py_TRACE_REFS */
	const char *layouts;    /* where the struct layouts came from: "dwarf" or "profile" */
	const char *profile;    /* the built-in profile without DWARF ("release-ucs4"), or NULL */
	const char *profile_why;/* why that profile: what the probes of the core found */
	bool garbage_found;     /* gc.garbage's static was found */
};

/* A row of the histogram: a type, or an old-style class. */
struct pg_row {
	const char *name;
	bool oldstyle;
	uint64_t count, bytes;         /* tracked objects (the gc lists) */
	uint64_t ucount, ubytes;       /* untracked objects reached from them (with every object) */
};

/* What holds objects from outside the objects: a root.  Naming a path
 * prefers the kinds in this order. */
enum pg_root_kind {
	PG_ROOT_MODULE,     /* a module's global (through sys.modules) */
	PG_ROOT_THREAD,     /* a thread's frame, exception, thread-local dict */
	PG_ROOT_INTERP,     /* the interpreter's state: sys, builtins, codecs */
	PG_ROOT_TYPE,       /* a static type object */
	PG_ROOT_GARBAGE,    /* the gc.garbage list */
	PG_ROOT_OUTSIDE,    /* held from outside: more references than the objects hold */
	PG_ROOT_KINDS
};

struct pg_root {
	uint32_t node;       /* the object held (a node index: see pg_model.nall) */
	uint8_t kind;        /* enum pg_root_kind */
	uint8_t sub;         /* the family's detail (which field) */
	uint64_t a, b;       /* the family's payload, for the name */
};

/* A type met in the heap. */
struct pg_model_type {
	uint64_t addr;
	const char *name;    /* tp_name as read (any bytes), or a placeholder for a bad type */
	uint32_t row;        /* histogram row of its instances (not for old-style instances) */
	uint8_t kind;        /* enum pg_kind */
	bool valid;          /* a readable type object with sane sizes */
	bool heaptype;
};

struct pg_garbage_item {
	uint64_t addr;
	uint32_t row;        /* type (or old-style class) row; PG_NONE if unknown */
	bool readable;
	int64_t refcnt;
	uint64_t size;
};

struct pg_gen {
	uint64_t count;
	int64_t threshold, counter;
	bool complete;       /* the walk came back to the list head */
};

/* A label in the family's terms (lib/family.h label_text makes it text). */
struct pg_label {
	uint8_t kind;
	uint64_t payload;
};

struct pg_model {
	/* --- the walk --- */
	struct pg_gen gens[3];
	bool collecting;               /* the core was taken during a collection */
	bool walk_limited;             /* --max-objects stopped the walk */
	uint64_t tracked, tracked_bytes;

	struct pg_model_type *types;
	size_t ntypes, captypes;
	struct pg_row *rows;
	size_t nrows, caprows;

	bool garbage_exists;           /* gc.garbage was created (its pointer is not NULL) */
	bool garbage_claimed_known;    /* the list's ob_size was read and believed */
	uint64_t garbage_claimed;
	uint64_t garbage_list;         /* address of the list object */
	struct pg_garbage_item *garbage;
	size_t ngarbage;               /* items whose pointers were read (the first ngarbage) */
	size_t garbage_unreadable;     /* of those, objects that could not be read */
	char *garbage_problem;         /* why gc.garbage is not all there, or NULL */

	/* --- the graph: tracked objects in address order --- */
	size_t n;
	uint64_t *addr;
	uint32_t *type;                /* index into types */
	uint32_t *row;                 /* histogram row */
	uint32_t *size;                /* sys.getsizeof (saturated: see pg_model_size) */
	int64_t *refcnt;
	uint8_t *gen;
	uint32_t *estart;              /* n + 1 */
	uint32_t *eto;                 /* edge targets, in tp_traverse's visit order */
	size_t nedges;
	bool approximate;              /* some edges come from a conservative scan */
	uint64_t approx_objects;
	bool has_graph;

	/* --- every object (PG_ANALYZE_RETENTION): nodes 0..n-1 are the
	 * graph's tracked objects, n..nall-1 the objects outside the gc lists
	 * that they reach (str, int, untracked tuples and dicts, code, static
	 * types...); addr, type, row, size and refcnt are nall long.  The
	 * edges eto does not hold (tracked -> untracked, and every edge of an
	 * untracked object) are a second CSR: xstart (nall + 1), xto. --- */
	size_t nall;
	uint64_t untracked, untracked_bytes;
	uint32_t *xstart;
	uint32_t *xto;
	size_t nxedges;
	struct pg_root *roots;         /* in the order names prefer them (see pg_root_kind) */
	size_t nroots;
	uint32_t *weak_nodes;          /* nodes whose references keep nothing alive (the interned strings' dict) */
	size_t nweak;
	bool has_all;

	/* the address index and the walk's list-order table: see lib/model/ */
	struct pg_model_private *priv;
};

/* Index of the graph object at addr, or PG_NONE. */
uint32_t pg_model_index(const struct pg_model *m, uint64_t addr);

/* sys.getsizeof of node i (sizes of 4 GiB and more are kept apart). */
uint64_t pg_model_size(const struct pg_model *m, uint32_t i);

/* Index of the node at addr (tracked or not, with every object), or PG_NONE. */
uint32_t pg_model_node(const struct pg_model *m, uint64_t addr);

/* Name of a root kind: "module", "thread", "interpreter", "static type",
 * "gc.garbage", "outside". */
const char *pg_root_kind_name(enum pg_root_kind k);

#endif
