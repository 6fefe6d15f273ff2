/* Built-in layout profiles of CPython 2.7 on x86-64, for an interpreter
 * whose DWARF is not there (conda, stripped images, RHEL without
 * debuginfo): the struct layouts (layout.h) and the fields each emulated
 * tp_traverse handler reads (traverse.c), as the DWARF of Debian's
 * python2.7 (release) and python2.7-dbg (Py_TRACE_REFS) gives them.
 * profiles.c is generated (scripts/gen_profiles.sh) and held against that
 * DWARF field by field (test profile-*).  UCS2 builds differ only in
 * sizeof(Py_UNICODE): no struct the analyzer reads holds one inline.
 *
 * probe.c picks the profile by probing the core (exported type objects,
 * PyType_Type's ob_type, known tp_basicsize/tp_itemsize/tp_flags, the gc
 * generations), and finds the interpreter state and gc.garbage without the
 * statics' symbols. */
#ifndef PG_PY27_PROFILE_H
#define PG_PY27_PROFILE_H

#include "interp.h"

#define PG_PROFILE_FIELDS 24
#define PG_PROFILE_AUX 8

/* One handler's fields, in the order traverse.c lists them: the visited
 * fields' offsets, then the aux members (offset and size). */
struct pg_handler_profile {
	const char *fn;
	uint8_t nf, naux;
	int32_t off[PG_PROFILE_FIELDS];
	struct pg_field aux[PG_PROFILE_AUX];
};

struct pg_profile {
	const char *name;            /* "release-ucs4" */
	bool debug;                  /* Py_TRACE_REFS */
	int32_t unicode_char_size;   /* 4: UCS4, 2: UCS2 */
	const char *source;          /* what the tables were generated from */
	const struct pg_profile_entry *layout;
	size_t nlayout;
	const struct pg_handler_profile *handlers;
	size_t nhandlers;
};

/* profiles.c */
extern const struct pg_profile pg_py27_profiles[];
extern const size_t pg_py27_nprofiles;

/* The profile of that name, or NULL. */
const struct pg_profile *pg_profile_named(const char *name);
/* The handler's entry in a profile, or NULL. */
const struct pg_handler_profile *pg_profile_handler(const struct pg_profile *p, const char *fn);

/* probe.c: picks a profile for in (no DWARF), fills in->L, in->debug_build,
 * in->profile, in->profile_why, in->gen0; PG_ERR_NOT_FOUND with the reason
 * when none fits.  in->syms must be loaded. */
pg_error *pg_probe_profile(struct pg_core *core, struct pg_interp *in, const struct pg_log *log);
/* After the profile: the interpreter state through _PyThreadState_Current,
 * gc.garbage through modules['gc'].__dict__['garbage'], the version from
 * sys.version.  What is not found is a warning. */
void pg_probe_state(struct pg_core *core, struct pg_interp *in, const struct pg_log *log, struct pg_warnings *w);

/* traverse.c: the handlers' fields from a module's DWARF, as a profile's
 * table (the generator and the test): *out (caller frees) and *n. */
pg_error *pg_traverse_profile_from_dwarf(struct pg_dwarf *d, struct pg_handler_profile **out, size_t *n);

#endif
