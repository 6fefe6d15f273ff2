/* The layout profile: sizes and field offsets of the CPython structs the
 * analyzer reads, filled from the DWARF of the interpreter that made the core.
 * Nothing here is a guess: a required field that the DWARF lacks is an error. */
#ifndef PG_LAYOUT_H
#define PG_LAYOUT_H

#include <stdio.h>

#include "../elf/dwarf.h"

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
	int32_t frame_size, tryblock_size, code_size, genobj_size;
	struct pg_field f_code, f_localsplus, f_valuestack, f_stacktop, f_iblock, f_blockstack, b_type,
		co_nlocals, co_cellvars, co_freevars, co_varnames, co_name, gi_frame;
	bool frames_ok;              /* all of those are there */

	/* roots and owned references of non-gc objects (optional: without
	 * them, what they would name is "held from outside") */
	int32_t interp_size, tstate_size, module_size, file_size;
	struct pg_field is_next, is_tstate_head, is_modules, is_sysdict, is_builtins, is_modules_reloading,
		is_codec_search_path, is_codec_search_cache, is_codec_error_registry;
	struct pg_field ts_next, ts_frame, ts_c_profileobj, ts_c_traceobj, ts_curexc_type, ts_curexc_value,
		ts_curexc_traceback, ts_exc_type, ts_exc_value, ts_exc_traceback, ts_dict, ts_async_exc,
		ts_thread_id, ts_trash_delete_later, ts_interp;
	struct pg_field md_dict;
	struct pg_field f_back, f_globals, f_lasti, f_lineno;
	struct pg_field co_argcount, co_flags, co_code, co_consts, co_names, co_filename, co_firstlineno, co_lnotab;
	struct pg_field unicode_defenc, ob_sstate;
	struct pg_field file_name, file_mode, file_encoding, file_errors;
};

/* Fills *l from the module's DWARF.  *debug_build is set when PyObject has
 * the Py_TRACE_REFS list fields. */
pg_error *pg_layout_from_dwarf(struct pg_dwarf *d, const struct pg_log *log, struct pg_layout *l, bool *debug_build);

/* A built-in profile's layout (lib/py27/profile.h): the entries name
 * pg_layout members ("gc_next") and struct sizes ("sizeof PyGC_Head"). */
struct pg_profile_entry {
	const char *name;
	int32_t off, size;
};
void pg_layout_from_entries(const struct pg_profile_entry *e, size_t n, int32_t unicode_char_size,
			    struct pg_layout *l, bool *debug_build);
/* The layout as profile entries, one C initializer a line (the generator). */
void pg_layout_print_entries(const struct pg_layout *l, FILE *out);
/* Calls fn for each member or size where a and b differ (the names as in
 * the entries); returns how many differ.  *compared: how many were held. */
size_t pg_layout_compare(const struct pg_layout *a, const struct pg_layout *b,
			 void (*fn)(void *arg, const char *name, int32_t aoff, int32_t asize, int32_t boff, int32_t bsize),
			 void *arg, size_t *compared);

#endif
