/* C statics: the writable data of every module of the process (its .data
 * and .bss: the PT_LOAD segments with PF_W), searched for a pointer.  What
 * names an object that C code holds: `extensions` (import.c), a cache in an
 * extension module. */
#ifndef PG_STATICS_H
#define PG_STATICS_H

#include "core.h"

/* The first word of a module's writable data that holds `target`: the
 * symbol it lies in ("extensions", "small_ints+8") and the module's file
 * name, in buf; false when no module's data holds it (or none can be read).
 * Free lists' slots are skipped: they keep stale addresses of dead objects;
 * so are words no symbol names (a module without .symtab: they may be free
 * lists' slots too).
 * At most `budget` bytes are read in all (a damaged core cannot make it
 * read the whole address space). */
bool pg_static_holder(struct pg_core *core, uint64_t target, size_t budget, char *buf, size_t cap);

#endif
