/* The memory tree (pycore/memory.h): the core's segments, its file
 * mappings and threads (lib/elf), glibc's heaps (lib/libc), and what the
 * interpreter family says of its own regions and of the chunks its objects
 * own (lib/membuild.h), resolved into one tree whose sums are exact.  It
 * reads no Python struct. */
#ifndef PG_ANALYSIS_MEMORY_H
#define PG_ANALYSIS_MEMORY_H

#include "../family.h"
#include "pycore/memory.h"

/* Starts what can run beside the walk (reading libc's DWARF); *ret is for
 * pg_memory_run and pg_memory_prep_free. */
struct pg_malloc_prep;
pg_error *pg_memory_prepare(struct pg_core *core, const struct pg_log *log, struct pg_malloc_prep **ret);
void pg_memory_prep_free(struct pg_malloc_prep *p);
/* prep may be NULL. */
pg_error *pg_memory_run(struct pg_core *core, struct pg_family *fam, const struct pg_model *m,
			const struct pg_log *log, struct pg_warnings *w, struct pg_malloc_prep *prep,
			struct pg_memory **ret);
void pg_memory_free(struct pg_memory *mem);

#endif
