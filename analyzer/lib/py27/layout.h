/* The layout profile: sizes and field offsets of the CPython structs the
 * analyzer reads, filled from the DWARF of the interpreter that made the core.
 * Nothing here is a guess: a required field that the DWARF lacks is an error. */
#ifndef PG_LAYOUT_H
#define PG_LAYOUT_H

#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>

#include "error.h"

struct pg_field {
	int32_t off;   /* -1: absent */
	int32_t size;
};

struct pg_layout {
	int32_t gc_head_size;
	struct pg_field gc_next, gc_prev, gc_refs;

	int32_t object_size;
	struct pg_field ob_refcnt, ob_type, ob_next; /* ob_next: Py_TRACE_REFS builds */
	int32_t varobject_size;
	struct pg_field ob_size;

	int32_t type_size;
	struct pg_field tp_name, tp_basicsize, tp_itemsize, tp_flags, tp_dealloc,
		tp_traverse, tp_clear, tp_dictoffset, tp_weaklistoffset, tp_base,
		tp_bases, tp_mro, tp_dict, tp_del, tp_is_gc, tp_members;
	int32_t heaptype_size;
	struct pg_field ht_name, ht_slots;
	int32_t memberdef_size;
	struct pg_field md_name, md_type, md_offset, md_flags;

	int32_t list_size;
	struct pg_field list_item, list_allocated;
	int32_t tuple_size;
	struct pg_field tuple_item;
	int32_t dict_size;
	struct pg_field ma_fill, ma_used, ma_mask, ma_table, ma_smalltable;
	int32_t dictentry_size;
	struct pg_field me_hash, me_key, me_value;
	int32_t set_size;
	struct pg_field set_fill, set_used, set_mask, set_table, set_smalltable;
	int32_t setentry_size;
	struct pg_field se_key, se_hash;
	int32_t string_size;
	struct pg_field ob_shash, ob_sval;
	int32_t class_size;
	struct pg_field cl_bases, cl_dict, cl_name, cl_getattr;
	int32_t instance_size;
	struct pg_field in_class, in_dict;
	int32_t gen_size;
	struct pg_field gen_head, gen_threshold, gen_count;
	int32_t weakref_size;
	struct pg_field wr_callback, wr_next;
	/* optional (off -1 when the DWARF lacks them) */
	int32_t int_size, float_size, long_size, unicode_size, bytearray_size;
	struct pg_field int_ival, float_fval, long_digit, unicode_length, unicode_str,
		bytearray_alloc, bytearray_bytes;
	int32_t unicode_char_size;   /* sizeof(Py_UNICODE): 2 or 4; 0 unknown */
};

/* One struct wanted from a module's DWARF, by typedef name or struct tag;
 * only a complete definition counts. */
struct pg_dwarf_want {
	const char *name;
	bool found;
	Dwarf_Die die;
};
/* One pass over the module's compile units for all of ws[0..n). */
pg_error *pg_dwarf_find_structs(Dwfl_Module *mod, struct pg_dwarf_want *ws, size_t n, size_t *ncu);
/* Offset and size of member `path` (a.b for nested members) of struct st. */
pg_error *pg_dwarf_member(Dwarf_Die *st, const char *sname, const char *path, struct pg_field *f);

/* Iterating a module's compile units: through the fast handle for the
 * interpreter (dwarf_fast.c), through libdwfl for any other module. */
struct pg_cu_iter {
	Dwarf_Off off;
	Dwarf_Die *dwfl_cu;
	bool done;
};
bool pg_next_cu(Dwfl_Module *mod, struct pg_cu_iter *it, Dwarf_Die *cu);
/* Opens the module's debug file at path with only the type sections
 * inflated; false when that does not apply (libdw is used as usual). */
bool pg_dwarf_fast_open(Dwfl_Module *mod, const char *path);
void pg_dwarf_fast_close(void);
bool pg_module_has_dwarf(Dwfl_Module *mod);

/* Fills *l from the module's DWARF.  *debug_build is set when PyObject has
 * the Py_TRACE_REFS list fields. */
pg_error *pg_layout_from_dwarf(Dwfl_Module *mod, struct pg_layout *l, bool *debug_build);

#endif
