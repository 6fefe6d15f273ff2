#include "layout.h"

#include <stdlib.h>
#include <string.h>

enum { S_GCHEAD, S_OBJECT, S_VAROBJECT, S_TYPE, S_HEAPTYPE, S_MEMBERDEF, S_LIST, S_TUPLE,
       S_DICT, S_DICTENTRY, S_SET, S_SETENTRY, S_STRING, S_CLASS, S_INSTANCE, S_GEN, S_WEAKREF,
       /* optional: values and sizes of untracked objects; without them
        * there are no previews, and their sizes are the generic ones */
       S_OPTIONAL, S_INT = S_OPTIONAL, S_FLOAT, S_LONG, S_UNICODE, S_BYTEARRAY,
       /* frames, code and generators: traverse of frames, finalizers of
        * generators (without them frames are scanned conservatively) */
       S_FRAME, S_TRYBLOCK, S_CODE, S_GENOBJ,
       /* the roots: interpreter and thread states, modules; files' names */
       S_INTERP, S_TSTATE, S_MODULE, S_FILE, S_COUNT };

static const char *const struct_names[S_COUNT] = {
	[S_GCHEAD] = "PyGC_Head", [S_OBJECT] = "PyObject", [S_VAROBJECT] = "PyVarObject",
	[S_TYPE] = "PyTypeObject", [S_HEAPTYPE] = "PyHeapTypeObject", [S_MEMBERDEF] = "PyMemberDef",
	[S_LIST] = "PyListObject", [S_TUPLE] = "PyTupleObject", [S_DICT] = "PyDictObject",
	[S_DICTENTRY] = "PyDictEntry", [S_SET] = "PySetObject", [S_SETENTRY] = "setentry",
	[S_STRING] = "PyStringObject", [S_CLASS] = "PyClassObject",
	[S_INSTANCE] = "PyInstanceObject", [S_GEN] = "gc_generation", [S_WEAKREF] = "PyWeakReference",
	[S_INT] = "PyIntObject", [S_FLOAT] = "PyFloatObject", [S_LONG] = "PyLongObject",
	[S_UNICODE] = "PyUnicodeObject", [S_BYTEARRAY] = "PyByteArrayObject",
	[S_FRAME] = "PyFrameObject", [S_TRYBLOCK] = "PyTryBlock", [S_CODE] = "PyCodeObject",
	[S_GENOBJ] = "PyGenObject", [S_INTERP] = "PyInterpreterState", [S_TSTATE] = "PyThreadState",
	[S_MODULE] = "PyModuleObject", [S_FILE] = "PyFileObject",
};

struct want_field {
	int s;
	const char *path;   /* member, or member.member for nested */
	size_t loff;        /* offsetof(struct pg_layout, field) */
	bool required;
	const char *lname;  /* the pg_layout member's name: built-in profiles use it */
};

#define F(s, path, field, req) { s, path, offsetof(struct pg_layout, field), req, #field }
static const struct want_field fields[] = {
	F(S_GCHEAD, "gc.gc_next", gc_next, true),
	F(S_GCHEAD, "gc.gc_prev", gc_prev, true),
	F(S_GCHEAD, "gc.gc_refs", gc_refs, true),
	F(S_OBJECT, "ob_refcnt", ob_refcnt, true),
	F(S_OBJECT, "ob_type", ob_type, true),
	F(S_OBJECT, "_ob_next", ob_next, false),
	F(S_VAROBJECT, "ob_size", ob_size, true),
	F(S_TYPE, "tp_name", tp_name, true),
	F(S_TYPE, "tp_basicsize", tp_basicsize, true),
	F(S_TYPE, "tp_itemsize", tp_itemsize, true),
	F(S_TYPE, "tp_flags", tp_flags, true),
	F(S_TYPE, "tp_dealloc", tp_dealloc, true),
	F(S_TYPE, "tp_traverse", tp_traverse, true),
	F(S_TYPE, "tp_clear", tp_clear, true),
	F(S_TYPE, "tp_dictoffset", tp_dictoffset, true),
	F(S_TYPE, "tp_weaklistoffset", tp_weaklistoffset, true),
	F(S_TYPE, "tp_base", tp_base, true),
	F(S_TYPE, "tp_bases", tp_bases, true),
	F(S_TYPE, "tp_mro", tp_mro, true),
	F(S_TYPE, "tp_dict", tp_dict, true),
	F(S_TYPE, "tp_del", tp_del, true),
	F(S_TYPE, "tp_is_gc", tp_is_gc, true),
	F(S_TYPE, "tp_members", tp_members, true),
	F(S_HEAPTYPE, "ht_name", ht_name, true),
	F(S_HEAPTYPE, "ht_slots", ht_slots, true),
	F(S_MEMBERDEF, "name", md_name, true),
	F(S_MEMBERDEF, "type", md_type, true),
	F(S_MEMBERDEF, "offset", md_offset, true),
	F(S_MEMBERDEF, "flags", md_flags, true),
	F(S_LIST, "ob_item", list_item, true),
	F(S_LIST, "allocated", list_allocated, true),
	F(S_TUPLE, "ob_item", tuple_item, true),
	F(S_DICT, "ma_fill", ma_fill, true),
	F(S_DICT, "ma_used", ma_used, true),
	F(S_DICT, "ma_mask", ma_mask, true),
	F(S_DICT, "ma_table", ma_table, true),
	F(S_DICT, "ma_smalltable", ma_smalltable, true),
	F(S_DICTENTRY, "me_hash", me_hash, true),
	F(S_DICTENTRY, "me_key", me_key, true),
	F(S_DICTENTRY, "me_value", me_value, true),
	F(S_SET, "fill", set_fill, true),
	F(S_SET, "used", set_used, true),
	F(S_SET, "mask", set_mask, true),
	F(S_SET, "table", set_table, true),
	F(S_SET, "smalltable", set_smalltable, true),
	F(S_SETENTRY, "key", se_key, true),
	F(S_SETENTRY, "hash", se_hash, true),
	F(S_STRING, "ob_shash", ob_shash, true),
	F(S_STRING, "ob_sval", ob_sval, true),
	F(S_CLASS, "cl_bases", cl_bases, true),
	F(S_CLASS, "cl_dict", cl_dict, true),
	F(S_CLASS, "cl_name", cl_name, true),
	F(S_CLASS, "cl_getattr", cl_getattr, true),
	F(S_INSTANCE, "in_class", in_class, true),
	F(S_INSTANCE, "in_dict", in_dict, true),
	F(S_GEN, "head", gen_head, true),
	F(S_GEN, "threshold", gen_threshold, true),
	F(S_GEN, "count", gen_count, true),
	F(S_WEAKREF, "wr_callback", wr_callback, true),
	F(S_WEAKREF, "wr_next", wr_next, true),
	F(S_INT, "ob_ival", int_ival, false),
	F(S_FLOAT, "ob_fval", float_fval, false),
	F(S_LONG, "ob_digit", long_digit, false),
	F(S_UNICODE, "length", unicode_length, false),
	F(S_UNICODE, "str", unicode_str, false),
	F(S_BYTEARRAY, "ob_alloc", bytearray_alloc, false),
	F(S_BYTEARRAY, "ob_bytes", bytearray_bytes, false),
	F(S_FRAME, "f_code", f_code, false),
	F(S_FRAME, "f_localsplus", f_localsplus, false),
	F(S_FRAME, "f_valuestack", f_valuestack, false),
	F(S_FRAME, "f_stacktop", f_stacktop, false),
	F(S_FRAME, "f_iblock", f_iblock, false),
	F(S_FRAME, "f_blockstack", f_blockstack, false),
	F(S_TRYBLOCK, "b_type", b_type, false),
	F(S_CODE, "co_nlocals", co_nlocals, false),
	F(S_CODE, "co_cellvars", co_cellvars, false),
	F(S_CODE, "co_freevars", co_freevars, false),
	F(S_CODE, "co_varnames", co_varnames, false),
	F(S_CODE, "co_name", co_name, false),
	F(S_GENOBJ, "gi_frame", gi_frame, false),
	F(S_FRAME, "f_back", f_back, false),
	F(S_FRAME, "f_globals", f_globals, false),
	F(S_FRAME, "f_lasti", f_lasti, false),
	F(S_FRAME, "f_lineno", f_lineno, false),
	F(S_CODE, "co_argcount", co_argcount, false),
	F(S_CODE, "co_flags", co_flags, false),
	F(S_CODE, "co_code", co_code, false),
	F(S_CODE, "co_consts", co_consts, false),
	F(S_CODE, "co_names", co_names, false),
	F(S_CODE, "co_filename", co_filename, false),
	F(S_CODE, "co_firstlineno", co_firstlineno, false),
	F(S_CODE, "co_lnotab", co_lnotab, false),
	F(S_UNICODE, "defenc", unicode_defenc, false),
	F(S_STRING, "ob_sstate", ob_sstate, false),
	F(S_INTERP, "next", is_next, false),
	F(S_INTERP, "tstate_head", is_tstate_head, false),
	F(S_INTERP, "modules", is_modules, false),
	F(S_INTERP, "sysdict", is_sysdict, false),
	F(S_INTERP, "builtins", is_builtins, false),
	F(S_INTERP, "modules_reloading", is_modules_reloading, false),
	F(S_INTERP, "codec_search_path", is_codec_search_path, false),
	F(S_INTERP, "codec_search_cache", is_codec_search_cache, false),
	F(S_INTERP, "codec_error_registry", is_codec_error_registry, false),
	F(S_TSTATE, "next", ts_next, false),
	F(S_TSTATE, "frame", ts_frame, false),
	F(S_TSTATE, "c_profileobj", ts_c_profileobj, false),
	F(S_TSTATE, "c_traceobj", ts_c_traceobj, false),
	F(S_TSTATE, "curexc_type", ts_curexc_type, false),
	F(S_TSTATE, "curexc_value", ts_curexc_value, false),
	F(S_TSTATE, "curexc_traceback", ts_curexc_traceback, false),
	F(S_TSTATE, "exc_type", ts_exc_type, false),
	F(S_TSTATE, "exc_value", ts_exc_value, false),
	F(S_TSTATE, "exc_traceback", ts_exc_traceback, false),
	F(S_TSTATE, "dict", ts_dict, false),
	F(S_TSTATE, "async_exc", ts_async_exc, false),
	F(S_TSTATE, "thread_id", ts_thread_id, false),
	F(S_TSTATE, "trash_delete_later", ts_trash_delete_later, false),
	F(S_TSTATE, "interp", ts_interp, false),
	F(S_MODULE, "md_dict", md_dict, false),
	F(S_FILE, "f_name", file_name, false),
	F(S_FILE, "f_mode", file_mode, false),
	F(S_FILE, "f_encoding", file_encoding, false),
	F(S_FILE, "f_errors", file_errors, false),
};
#undef F

static const size_t struct_size_off[S_COUNT] = {
	[S_GCHEAD] = offsetof(struct pg_layout, gc_head_size),
	[S_OBJECT] = offsetof(struct pg_layout, object_size),
	[S_VAROBJECT] = offsetof(struct pg_layout, varobject_size),
	[S_TYPE] = offsetof(struct pg_layout, type_size),
	[S_HEAPTYPE] = offsetof(struct pg_layout, heaptype_size),
	[S_MEMBERDEF] = offsetof(struct pg_layout, memberdef_size),
	[S_LIST] = offsetof(struct pg_layout, list_size),
	[S_TUPLE] = offsetof(struct pg_layout, tuple_size),
	[S_DICT] = offsetof(struct pg_layout, dict_size),
	[S_DICTENTRY] = offsetof(struct pg_layout, dictentry_size),
	[S_SET] = offsetof(struct pg_layout, set_size),
	[S_SETENTRY] = offsetof(struct pg_layout, setentry_size),
	[S_STRING] = offsetof(struct pg_layout, string_size),
	[S_CLASS] = offsetof(struct pg_layout, class_size),
	[S_INSTANCE] = offsetof(struct pg_layout, instance_size),
	[S_GEN] = offsetof(struct pg_layout, gen_size),
	[S_WEAKREF] = offsetof(struct pg_layout, weakref_size),
	[S_INT] = offsetof(struct pg_layout, int_size),
	[S_FLOAT] = offsetof(struct pg_layout, float_size),
	[S_LONG] = offsetof(struct pg_layout, long_size),
	[S_UNICODE] = offsetof(struct pg_layout, unicode_size),
	[S_BYTEARRAY] = offsetof(struct pg_layout, bytearray_size),
	[S_FRAME] = offsetof(struct pg_layout, frame_size),
	[S_TRYBLOCK] = offsetof(struct pg_layout, tryblock_size),
	[S_CODE] = offsetof(struct pg_layout, code_size),
	[S_GENOBJ] = offsetof(struct pg_layout, genobj_size),
	[S_INTERP] = offsetof(struct pg_layout, interp_size),
	[S_TSTATE] = offsetof(struct pg_layout, tstate_size),
	[S_MODULE] = offsetof(struct pg_layout, module_size),
	[S_FILE] = offsetof(struct pg_layout, file_size),
};

/* What follows from the fields: frames usable, a debug build. */
static void finish(struct pg_layout *l, bool *debug_build)
{
	/* frames: every field there, and a sane PyTryBlock */
	l->frames_ok = l->f_code.off >= 0 && l->f_localsplus.off >= 0 && l->f_valuestack.off >= 0 &&
		       l->f_stacktop.off >= 0 && l->f_iblock.off >= 0 && l->f_blockstack.off >= 0 &&
		       l->b_type.off >= 0 && l->co_nlocals.off >= 0 && l->co_cellvars.off >= 0 &&
		       l->co_freevars.off >= 0 && l->co_varnames.off >= 0 && l->gi_frame.off >= 0 &&
		       l->tryblock_size > 0 && l->tryblock_size <= 64;
	*debug_build = l->ob_next.off >= 0;
}

pg_error *pg_layout_from_dwarf(struct pg_dwarf *d, const struct pg_log *log, struct pg_layout *l, bool *debug_build)
{
	struct pg_dwarf_struct ws[S_COUNT];
	for (int i = 0; i < S_COUNT; i++)
		ws[i] = (struct pg_dwarf_struct){ .name = struct_names[i] };
	size_t ncu = 0;
	pg_error *ferr = pg_dwarf_scan(d, ws, S_COUNT, NULL, 0, true, &ncu);
	if (ferr)
		return ferr;
	memset(l, 0, sizeof(*l));
	for (int i = 0; i < S_COUNT; i++) {
		if (!ws[i].n && i >= S_OPTIONAL) {
			pg_logf(log, "layouts: the interpreter's DWARF has no %s", ws[i].name);
			continue;
		}
		if (!ws[i].n)
			return pg_error_create(PG_ERR_NOT_FOUND,
					       "the interpreter's DWARF has no complete definition of %s",
					       ws[i].name);
		int32_t size = pg_dwarf_struct_size(&ws[i].die[0]);
		if (!size)
			return pg_error_create(PG_ERR_INPUT, "DWARF: bad size for %s", ws[i].name);
		*(int32_t *)((char *)l + struct_size_off[i]) = size;
	}
	for (size_t k = 0; k < sizeof(fields) / sizeof(fields[0]); k++) {
		const struct want_field *wf = &fields[k];
		struct pg_field *f = (struct pg_field *)((char *)l + wf->loff);
		if (!ws[wf->s].n) {
			f->off = -1;
			f->size = 0;
			continue;
		}
		pg_error *err = pg_dwarf_member(&ws[wf->s].die[0], ws[wf->s].name, wf->path, f);
		if (err) {
			if (wf->required || err->kind != PG_ERR_NOT_FOUND)
				return err;
			pg_error_destroy(err);
			f->off = -1;
			f->size = 0;
			continue;
		}
		int32_t ssize = *(int32_t *)((char *)l + struct_size_off[wf->s]);
		if (f->off + (f->size ? f->size : 1) > ssize &&
		    !(f->size == 0 && f->off <= ssize))
			return pg_error_create(PG_ERR_INPUT, "DWARF: %s.%s lies outside the struct",
					       ws[wf->s].name, wf->path);
	}
	l->unicode_char_size = 0;
	if (ws[S_UNICODE].n && l->unicode_str.off >= 0)
		l->unicode_char_size = pg_dwarf_pointee_size(&ws[S_UNICODE].die[0], "str");
	finish(l, debug_build);
	pg_logf(log, "layouts from DWARF (%zu compile units read): PyGC_Head %d bytes, PyObject %d, PyTypeObject %d%s",
		ncu, l->gc_head_size, l->object_size, l->type_size, *debug_build ? ", Py_TRACE_REFS" : "");
	return NULL;
}

#define NFIELDS (sizeof(fields) / sizeof(fields[0]))

static int32_t *size_slot(struct pg_layout *l, int i)
{
	return (int32_t *)((char *)l + struct_size_off[i]);
}

void pg_layout_from_entries(const struct pg_profile_entry *e, size_t n, int32_t unicode_char_size,
			    struct pg_layout *l, bool *debug_build)
{
	memset(l, 0, sizeof(*l));
	for (size_t k = 0; k < NFIELDS; k++)
		*(struct pg_field *)((char *)l + fields[k].loff) = (struct pg_field){ -1, 0 };
	for (size_t j = 0; j < n; j++) {
		if (strncmp(e[j].name, "sizeof ", 7) == 0) {
			for (int i = 0; i < S_COUNT; i++)
				if (strcmp(struct_names[i], e[j].name + 7) == 0)
					*size_slot(l, i) = e[j].off;
			continue;
		}
		for (size_t k = 0; k < NFIELDS; k++)
			if (strcmp(fields[k].lname, e[j].name) == 0)
				*(struct pg_field *)((char *)l + fields[k].loff) = (struct pg_field){ e[j].off, e[j].size };
	}
	l->unicode_char_size = l->unicode_str.off >= 0 ? unicode_char_size : 0;
	finish(l, debug_build);
}

void pg_layout_print_entries(const struct pg_layout *l, FILE *out)
{
	for (int i = 0; i < S_COUNT; i++)
		fprintf(out, "\t{ \"sizeof %s\", %d, 0 },\n", struct_names[i], *size_slot((struct pg_layout *)l, i));
	for (size_t k = 0; k < NFIELDS; k++) {
		const struct pg_field *f = (const struct pg_field *)((const char *)l + fields[k].loff);
		if (f->off >= 0)
			fprintf(out, "\t{ \"%s\", %d, %d },\n", fields[k].lname, f->off, f->size);
	}
}

size_t pg_layout_compare(const struct pg_layout *a, const struct pg_layout *b,
			 void (*fn)(void *arg, const char *name, int32_t aoff, int32_t asize, int32_t boff, int32_t bsize),
			 void *arg, size_t *compared)
{
	size_t diff = 0, n = 0;
	char name[64];
	for (int i = 0; i < S_COUNT; i++) {
		int32_t x = *size_slot((struct pg_layout *)a, i), y = *size_slot((struct pg_layout *)b, i);
		n++;
		if (x != y) {
			snprintf(name, sizeof(name), "sizeof %s", struct_names[i]);
			fn(arg, name, x, 0, y, 0);
			diff++;
		}
	}
	for (size_t k = 0; k < NFIELDS; k++) {
		const struct pg_field *x = (const struct pg_field *)((const char *)a + fields[k].loff);
		const struct pg_field *y = (const struct pg_field *)((const char *)b + fields[k].loff);
		n++;
		if (x->off != y->off || (x->off >= 0 && x->size != y->size)) {
			fn(arg, fields[k].lname, x->off, x->size, y->off, y->size);
			diff++;
		}
	}
	n++;
	if (a->unicode_char_size != b->unicode_char_size) {
		fn(arg, "unicode_char_size", a->unicode_char_size, 0, b->unicode_char_size, 0);
		diff++;
	}
	if (compared)
		*compared = n;
	return diff;
}
