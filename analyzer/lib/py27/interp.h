/* Interpreter discovery: which module is Python 2.7, its symbols, its debug
 * info, its layouts, and where its gc state lives. */
#ifndef PG_INTERP_H
#define PG_INTERP_H

#include "../elf/core.h"
#include "../elf/dwarf.h"
#include "../elf/symbols.h"
#include "layout.h"

/* Static types the analyzer recognises by address. */
enum pg_static_type {
	PG_T_TYPE, PG_T_OBJECT, PG_T_DICT, PG_T_LIST, PG_T_TUPLE, PG_T_SET, PG_T_FROZENSET,
	PG_T_INSTANCE, PG_T_CLASS, PG_T_STRING, PG_T_UNICODE, PG_T_INT, PG_T_LONG,
	PG_T_FLOAT, PG_T_BOOL, PG_T_BYTEARRAY, PG_T_COUNT
};

struct pg_profile;

struct pg_interp {
	Dwfl_Module *mod;
	struct pg_dwarf *dwarf;   /* the interpreter's DWARF (fast handle) */
	const char *modname;    /* the module's name (path of the mapped file) */
	const char *mainfile;   /* where libdwfl found the ELF file */
	const char *debugfile;  /* where libdwfl found the DWARF (may equal mainfile) */
	char build_id[65];
	struct pg_symtab syms;
	struct pg_layout L;
	bool debug_build;
	char version[256];      /* "2.7.18 (default, ...) [GCC ...]" or "" */
	uint64_t gen0;          /* address of generations[0] */
	uint64_t garbage_var;   /* address of the `garbage` static, 0 if not found */
	uint64_t collecting_var;
	uint64_t types[PG_T_COUNT];
	uint64_t none;          /* _Py_NoneStruct, 0 if not found */
	/* without DWARF: the built-in profile the probe chose (profile.h) and
	 * why; the interpreter state it found (roots use it when interp_head
	 * has no symbol); gc.garbage's absence when the gc module was never
	 * imported (then the list does not exist: empty) */
	const struct pg_profile *profile;
	char profile_why[512];
	uint64_t interp_state;
	bool garbage_absent;
};

/* Finds the interpreter: PG_ERR_NOT_FOUND when no module of the core is a
 * Python 2.7 interpreter (with the message a user should read when no
 * other family finds one either). */
pg_error *pg_interp_find(struct pg_core *core, const struct pg_log *log, struct pg_warnings *w,
			 struct pg_interp **ret);
void pg_interp_free(struct pg_interp *in);

#endif
