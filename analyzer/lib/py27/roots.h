/* CPython 2.7's roots: what the interpreter's own state holds (module
 * globals through sys.modules, each thread's frames and exception state,
 * the interpreter's dicts, the interned strings' dict, static types,
 * gc.garbage), and their names as a user reads them. */
#ifndef PG_PY27_ROOTS_H
#define PG_PY27_ROOTS_H

#include "../family.h"
#include "heap.h"

/* The `sub` of a root (struct pg_root), per kind. */
enum {
	PG_R_GLOBAL = 0, PG_R_MODULE_DICT, PG_R_MODULE,  /* PG_ROOT_MODULE (a global: only for names) */
	PG_R_FRAME = 0, PG_R_CUREXC_TYPE, PG_R_CUREXC_VALUE, PG_R_CUREXC_TB,  /* PG_ROOT_THREAD */
	PG_R_EXC_TYPE, PG_R_EXC_VALUE, PG_R_EXC_TB, PG_R_TSDICT, PG_R_ASYNC_EXC, PG_R_PROFILEOBJ,
	PG_R_TRACEOBJ, PG_R_TRASH,
	PG_R_MODULES = 0, PG_R_SYSDICT, PG_R_BUILTINS, PG_R_RELOADING, PG_R_CODEC_PATH,  /* PG_ROOT_INTERP */
	PG_R_CODEC_CACHE, PG_R_CODEC_ERRORS, PG_R_INTERNED,
};

pg_error *pg_py27_roots(struct pg_heap *h, struct pg_model *m, pg_root_fn fn, void *arg);
void pg_py27_root_text(struct pg_heap *h, const struct pg_root *r, char *name, size_t ncap, char *expr,
		       size_t ecap);

#endif
