/* What an interpreter family provides: everything that knows how one
 * Python's objects are laid out and what its gc does.  CPython 2.7
 * (lib/py27/) is the one family today; the session tries each registered
 * family's open() in turn (lib/families.c) and keeps the first that finds
 * its interpreter in the core.
 *
 * Nothing outside a family's folder reads a Python struct field: the model
 * (lib/model/) is filled through walk() and the object hooks, analyses read
 * the model, reports read results.
 *
 * To add a family (say CPython 3.x):
 *  1. a folder lib/pyNN/ with a `const struct pg_family_ops` (family.c);
 *  2. open(): find the interpreter module (symbols, DWARF or a built-in
 *     profile), say PG_ERR_NOT_FOUND when the core holds none of yours, so
 *     that the next family is tried; fill the pg_interp_info;
 *  3. walk(): the gc state into the model (types, histogram rows,
 *     generations, gc.garbage, and the tracked objects in list order);
 *  4. the object hooks: traverse (tp_traverse, with labels), facts
 *     (refcount, weak references), has_finalizer and its text, labels as
 *     text, untracked referents, the --object description;
 *  5. policy: what the collection does with finalizers (2.7: __del__ in a
 *     cycle goes to gc.garbage; 3.4+: PEP 442 finalizes and frees);
 *  6. register it in lib/families.c, and add fixtures made with that
 *     interpreter (fixtures/make_core.sh) to the suite.
 */
#ifndef PG_FAMILY_H
#define PG_FAMILY_H

#include "elf/core.h"
#include "pycore/model.h"

/* A referent as tp_traverse visits it: the label is in the family's terms
 * (kind + payload); label_text() makes it text. */
typedef void (*pg_visit_fn)(void *arg, uint64_t referent, const struct pg_label *label);

/* A weak reference to an object: the weakref object, and whether it has a
 * callback. */
typedef void (*pg_weakref_fn)(void *arg, uint64_t weakref, bool has_callback);

/* What --object shows of any object (the family fills it; the session adds
 * referents and referrers). */
struct pg_object_desc {
	uint32_t type;          /* index in the model's types */
	uint32_t row;           /* histogram row (old-style instances: their class) */
	uint64_t size;          /* sys.getsizeof */
	int64_t refcnt;
	bool have_refcnt;
	bool gc;                /* PyObject_IS_GC: its tp_traverse runs */
	char *value;            /* repr preview, or NULL */
	const char *type_object;/* for a type object: the type it is */
};

/* An object outside the gc lists, as the family reads it. */
struct pg_node_facts {
	uint32_t type, row;
	uint64_t size;          /* sys.getsizeof */
	int64_t refcnt;
};

/* A root met by roots(): the object at addr, held as r says (r->node is
 * the model's to fill). */
typedef pg_error *(*pg_root_fn)(void *arg, uint64_t addr, const struct pg_root *r, bool weak);

struct pg_family;
struct pg_memory_builder;  /* lib/membuild.h */

struct pg_family_ops {
	const char *name;
	/* Finds the family's interpreter: PG_ERR_NOT_FOUND when the core holds
	 * none (then *ret is untouched); any other error stops the session. */
	pg_error *(*open)(struct pg_core *core, const struct pg_log *log, struct pg_warnings *w,
			  struct pg_family **ret);
	void (*close)(struct pg_family *f);
	const struct pg_interp_info *(*info)(const struct pg_family *f);

	/* The gc state into m: types, rows (the histogram), generations,
	 * gc.garbage, and the tracked objects in list order (m->walk_*). */
	pg_error *(*walk)(struct pg_family *f, size_t max_objects, struct pg_model *m);
	/* Before any traverse(): plans for every type met so far (the graph
	 * is built by several threads, which then only read them). */
	pg_error *(*prepare)(struct pg_family *f, struct pg_model *m);
	/* obj's referents, as its type's tp_traverse visits them.  Thread-safe
	 * after prepare(), with one reader per thread.  *approx is set when a
	 * conservative scan stood in for an unknown traverse function. */
	pg_error *(*traverse)(struct pg_family *f, struct pg_reader *r, uint64_t obj, uint32_t type,
			      pg_visit_fn visit, void *arg, bool *approx);
	/* ob_refcnt of a graph object (thread-safe; 0 and a warning when
	 * unreadable). */
	int64_t (*refcount)(struct pg_family *f, struct pg_reader *r, uint64_t obj);
	/* The weak references to obj (its weakref list; a warning, and the
	 * result marked partial, when unreadable).  At most `bound` of them. */
	void (*weakrefs)(struct pg_family *f, uint64_t obj, uint32_t type, size_t bound, pg_weakref_fn fn, void *arg);

	/* has_finalizer() of the family's gc; *uncertain set when unreadable. */
	bool (*has_finalizer)(struct pg_family *f, uint64_t obj, uint32_t type, bool *uncertain);
	/* "ApiClient.__del__", ...; NULL when unknown.  Caller frees. */
	char *(*finalizer_text)(struct pg_family *f, uint64_t obj, uint32_t type);
	/* A label as a user reads it: "__dict__", "[3]", "['key']", ".slot" */
	void (*label_text)(struct pg_family *f, const struct pg_label *l, char *buf, size_t cap);
	/* Referents of obj that are not graph objects (strings, ints, untracked
	 * tuples), once per visit. */
	void (*untracked_referents)(struct pg_family *f, const struct pg_model *m, uint64_t obj, uint32_t type,
				    void (*fn)(void *arg, uint64_t addr), void *arg);
	/* Refcount and size of any object; false when it cannot be read (or
	 * is no object). */
	bool (*refcnt_size)(struct pg_family *f, struct pg_model *m, uint64_t addr, int64_t *refcnt, uint64_t *size);
	/* The length a user would see (dict, list, tuple), or -1. */
	int64_t (*length)(struct pg_family *f, uint64_t obj, uint32_t type);
	/* --object: any object in the core (PG_ERR_NOT_FOUND when addr is
	 * none); may add types to m. */
	pg_error *(*describe)(struct pg_family *f, struct pg_model *m, uint64_t addr, struct pg_object_desc *out);

	/* --- every object, and the roots (retention) --- */
	/* An object outside the gc lists met as a referent: false when addr
	 * is no object (the reference is then dropped).  May add types to m;
	 * one thread. */
	bool (*object_facts)(struct pg_family *f, struct pg_model *m, struct pg_reader *r, uint64_t addr,
			     struct pg_node_facts *out);
	/* Calls fn for each object the interpreter's own state holds (module
	 * globals through sys.modules, each thread's frames and exception
	 * state, the interpreter's dicts, static types, gc.garbage), in the
	 * order names prefer them; `weak` for a holder whose references keep
	 * nothing alive (the interned strings' dict).  Roots that cannot be
	 * read are skipped with a warning. */
	pg_error *(*roots)(struct pg_family *f, struct pg_model *m, pg_root_fn fn, void *arg);
	/* A root as a user reads it: its name ("module myservice.cache global
	 * _RENDER_CACHE", "thread 140159375869632 worker_loop()") and the
	 * expression a path from it starts with ("myservice.cache._RENDER_CACHE",
	 * "thread 140159375869632 worker_loop()"). */
	void (*root_text)(struct pg_family *f, const struct pg_root *r, char *name, size_t ncap, char *expr,
			  size_t ecap);

	/* --- the memory tree (issue 11) --- */
	/* The family's own regions (its allocator's arenas, split as it
	 * knows them) and the malloc chunks its objects own, told to the
	 * builder (lib/membuild.h).  NULL: the family knows none. */
	pg_error *(*memory)(struct pg_family *f, const struct pg_model *m, struct pg_memory_builder *b);
};

/* Every family state begins with this. */
struct pg_family {
	const struct pg_family_ops *ops;
};

/* The registered families, in the order they are tried (NULL-terminated). */
extern const struct pg_family_ops *const pg_families[];
extern const struct pg_family_ops pg_py27_family;

#endif
