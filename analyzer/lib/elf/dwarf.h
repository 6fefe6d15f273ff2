/* A module's DWARF: one struct finder for everything that reads layouts
 * (the interpreter's profile, the traverse handlers of extension modules),
 * member offsets, and a fast handle that inflates only the type sections of
 * a compressed debug file (Debian compresses .debug_info, .debug_loc,
 * .debug_line, ...: about 10 MB inflated; layouts need the type part).
 * Each pg_dwarf belongs to its opener: nothing here is shared. */
#ifndef PG_DWARF_H
#define PG_DWARF_H

#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>

#include "../base/error.h"

struct pg_field {
	int32_t off;   /* -1: absent */
	int32_t size;
};

struct pg_dwarf;

/* The module's DWARF (PG_ERR_NOT_FOUND when it has none). */
pg_error *pg_dwarf_open(Dwfl_Module *mod, struct pg_dwarf **ret);
/* The fast handle of a debug file by its path, without libdwfl (so a
 * worker thread may open it): PG_ERR_NOT_FOUND when the file has no
 * compressed type sections (then pg_dwarf_open reads it as it is).  path
 * is borrowed. */
pg_error *pg_dwarf_open_path(const char *path, struct pg_dwarf **ret);
void pg_dwarf_close(struct pg_dwarf *d);
/* Where the DWARF came from (libdwfl's debug file name), or NULL. */
const char *pg_dwarf_file(const struct pg_dwarf *d);

/* A struct wanted by typedef name or struct tag: its complete definitions
 * (a name can mean different structs in different files: Debian's
 * python2.7 has three `block`s), each with the name of its compile unit. */
#define PG_DWARF_CANDS 8
struct pg_dwarf_struct {
	const char *name;               /* in */
	size_t n;                       /* out: definitions found, in CU order */
	Dwarf_Die die[PG_DWARF_CANDS];
	const char *cu[PG_DWARF_CANDS];
	const char *tag;                /* the tag of an incomplete struct a typedef named */
};
/* A function wanted: the compile unit that defines it (its source file). */
struct pg_dwarf_func {
	const char *name;               /* in */
	const char *cu;                 /* out, or NULL */
};
/* One pass over the compile units for all of them.  With first_only, the
 * pass stops once every struct has a definition (and functions are not
 * looked for). *ncu (when not NULL): compile units read. */
pg_error *pg_dwarf_scan(struct pg_dwarf *d, struct pg_dwarf_struct *s, size_t ns,
			struct pg_dwarf_func *f, size_t nf, bool first_only, size_t *ncu);

/* A file-scope variable wanted by name and by the source file that
 * defines it (statics of one name live in several files: intobject.c's
 * and floatobject.c's free_list).  Under LTO the variable's address is on
 * a concrete DIE whose DW_AT_abstract_origin leads to the declaration in
 * the source file's compile unit: that unit decides. */
struct pg_dwarf_var {
	const char *name;               /* in */
	const char *file;               /* in: the source's base name, "intobject.c" */
	uint64_t addr;                  /* out: its DWARF address (add the module's bias), 0 if not found */
};
/* One pass over every compile unit's top-level variables. */
pg_error *pg_dwarf_vars(struct pg_dwarf *d, struct pg_dwarf_var *v, size_t nv);

/* The same, looking only into the compile units whose source's base name
 * is `file` ("malloc.c"): the other units' DIEs are not read. */
pg_error *pg_dwarf_scan_file(struct pg_dwarf *d, const char *file, struct pg_dwarf_struct *s, size_t ns);

/* Offset and size of member `path` (a.b for nested members) of struct st. */
pg_error *pg_dwarf_member(Dwarf_Die *st, const char *sname, const char *path, struct pg_field *f);
/* sizeof(*member) for a pointer member; 0 when unknown. */
int32_t pg_dwarf_pointee_size(Dwarf_Die *st, const char *member);
/* The struct's size, or 0 when absent or absurd (over 1 MiB). */
int32_t pg_dwarf_struct_size(Dwarf_Die *st);

#endif
