#include "layout.h"

#include <dwarf.h>
#include <stdlib.h>
#include <string.h>

enum { S_GCHEAD, S_OBJECT, S_VAROBJECT, S_TYPE, S_HEAPTYPE, S_MEMBERDEF, S_LIST, S_TUPLE,
       S_DICT, S_DICTENTRY, S_SET, S_SETENTRY, S_STRING, S_CLASS, S_INSTANCE, S_GEN, S_WEAKREF,
       /* optional: values and sizes of untracked objects; without them
        * there are no previews, and their sizes are the generic ones */
       S_OPTIONAL, S_INT = S_OPTIONAL, S_FLOAT, S_LONG, S_UNICODE, S_BYTEARRAY, S_COUNT };

static const char *const struct_names[S_COUNT] = {
	[S_GCHEAD] = "PyGC_Head", [S_OBJECT] = "PyObject", [S_VAROBJECT] = "PyVarObject",
	[S_TYPE] = "PyTypeObject", [S_HEAPTYPE] = "PyHeapTypeObject", [S_MEMBERDEF] = "PyMemberDef",
	[S_LIST] = "PyListObject", [S_TUPLE] = "PyTupleObject", [S_DICT] = "PyDictObject",
	[S_DICTENTRY] = "PyDictEntry", [S_SET] = "PySetObject", [S_SETENTRY] = "setentry",
	[S_STRING] = "PyStringObject", [S_CLASS] = "PyClassObject",
	[S_INSTANCE] = "PyInstanceObject", [S_GEN] = "gc_generation", [S_WEAKREF] = "PyWeakReference",
	[S_INT] = "PyIntObject", [S_FLOAT] = "PyFloatObject", [S_LONG] = "PyLongObject",
	[S_UNICODE] = "PyUnicodeObject", [S_BYTEARRAY] = "PyByteArrayObject",
};

struct want_field {
	int s;
	const char *path;   /* member, or member.member for nested */
	size_t loff;        /* offsetof(struct pg_layout, field) */
	bool required;
};

#define F(s, path, field, req) { s, path, offsetof(struct pg_layout, field), req }
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
};

static bool is_complete(Dwarf_Die *d)
{
	int tag = dwarf_tag(d);
	if (tag != DW_TAG_structure_type && tag != DW_TAG_union_type)
		return false;
	return !dwarf_hasattr(d, DW_AT_declaration) && dwarf_hasattr(d, DW_AT_byte_size);
}

/* Peels typedefs and qualifiers; bounded (DWARF comes from untrusted files). */
static bool peel(Dwarf_Die *in, Dwarf_Die *out)
{
	return dwarf_peel_type(in, out) == 0;
}

/* Finds member `name` in struct/union die; returns its offset and type. */
static bool find_member(Dwarf_Die *st, const char *name, Dwarf_Word *off, Dwarf_Die *type)
{
	Dwarf_Die child;
	if (dwarf_child(st, &child) != 0)
		return false;
	unsigned guard = 0;
	do {
		if (++guard > 100000)
			return false;
		if (dwarf_tag(&child) != DW_TAG_member)
			continue;
		const char *n = dwarf_diename(&child);
		if (!n || strcmp(n, name) != 0)
			continue;
		Dwarf_Attribute a;
		Dwarf_Word o = 0;
		if (dwarf_attr(&child, DW_AT_data_member_location, &a) && dwarf_formudata(&a, &o) != 0)
			return false;
		*off = o;
		Dwarf_Attribute ta;
		if (!dwarf_attr(&child, DW_AT_type, &ta) || !dwarf_formref_die(&ta, type))
			return false;
		return true;
	} while (dwarf_siblingof(&child, &child) == 0);
	return false;
}

/* sizeof(*member) for a pointer member; 0 when unknown. */
static int32_t pointee_size(Dwarf_Die *st, const char *member)
{
	Dwarf_Word off, size = 0;
	Dwarf_Die type, peeled, target;
	Dwarf_Attribute a;
	if (!find_member(st, member, &off, &type) || !peel(&type, &peeled) ||
	    dwarf_tag(&peeled) != DW_TAG_pointer_type || !dwarf_attr(&peeled, DW_AT_type, &a) ||
	    !dwarf_formref_die(&a, &target) || dwarf_aggregate_size(&target, &size) != 0 || size > 8)
		return 0;
	return (int32_t)size;
}

static pg_error *field_from_die(Dwarf_Die *st, const char *sname, const char *path, struct pg_field *f)
{
	char buf[128];
	if (strlen(path) >= sizeof(buf))
		return pg_error_create(PG_ERR_INTERNAL, "field path too long");
	strcpy(buf, path);
	Dwarf_Die cur = *st, type;
	Dwarf_Word total = 0;
	char *save = NULL;
	for (char *part = strtok_r(buf, ".", &save); part; part = strtok_r(NULL, ".", &save)) {
		Dwarf_Word off;
		if (!find_member(&cur, part, &off, &type))
			return pg_error_create(PG_ERR_NOT_FOUND, "the DWARF of %s has no member %s", sname, path);
		total += off;
		Dwarf_Die peeled;
		if (!peel(&type, &peeled))
			return pg_error_create(PG_ERR_INPUT, "%s.%s: bad DWARF type", sname, path);
		cur = peeled;
	}
	Dwarf_Word size = 0;
	if (dwarf_aggregate_size(&cur, &size) != 0)
		size = 0;
	if (total > INT32_MAX || size > INT32_MAX)
		return pg_error_create(PG_ERR_INPUT, "%s.%s: absurd offset or size in DWARF", sname, path);
	f->off = (int32_t)total;
	f->size = (int32_t)size;
	return NULL;
}

pg_error *pg_dwarf_find_structs(Dwfl_Module *mod, struct pg_dwarf_want *ws, size_t n, size_t *ncu_out)
{
	/* typedef'd structs whose typedef DIE names an incomplete struct: look
	 * for the struct tag too */
	const char **tag_alias = calloc(n ? n : 1, sizeof(*tag_alias));
	if (!tag_alias)
		return &pg_enomem;
	size_t left = 0;
	for (size_t i = 0; i < n; i++)
		left += !ws[i].found;
	struct pg_cu_iter it = { 0 };
	Dwarf_Die cudie;
	size_t ncu = 0;
	while (left && pg_next_cu(mod, &it, &cudie)) {
		if (++ncu > 1000000)
			break;
		Dwarf_Die die;
		if (dwarf_child(&cudie, &die) != 0)
			continue;
		do {
			int tag = dwarf_tag(&die);
			if (tag != DW_TAG_typedef && tag != DW_TAG_structure_type && tag != DW_TAG_union_type)
				continue;
			const char *nm = dwarf_diename(&die);
			if (!nm)
				continue;
			for (size_t i = 0; i < n; i++) {
				if (ws[i].found)
					continue;
				bool byname = strcmp(nm, ws[i].name) == 0;
				bool bytag = tag != DW_TAG_typedef && tag_alias[i] && strcmp(nm, tag_alias[i]) == 0;
				if (!byname && !bytag)
					continue;
				Dwarf_Die t;
				if (tag == DW_TAG_typedef) {
					if (!peel(&die, &t))
						continue;
				} else {
					t = die;
				}
				if (is_complete(&t)) {
					ws[i].die = t;
					ws[i].found = true;
					left--;
				} else if (!tag_alias[i]) {
					tag_alias[i] = dwarf_diename(&t);
				}
			}
		} while (dwarf_siblingof(&die, &die) == 0);
	}
	free(tag_alias);
	if (ncu_out)
		*ncu_out = ncu;
	return NULL;
}

pg_error *pg_dwarf_member(Dwarf_Die *st, const char *sname, const char *path, struct pg_field *f)
{
	return field_from_die(st, sname, path, f);
}

pg_error *pg_layout_from_dwarf(Dwfl_Module *mod, struct pg_layout *l, bool *debug_build)
{
	struct pg_dwarf_want ws[S_COUNT];
	for (int i = 0; i < S_COUNT; i++)
		ws[i] = (struct pg_dwarf_want){ .name = struct_names[i] };
	size_t ncu = 0;
	pg_error *ferr = pg_dwarf_find_structs(mod, ws, S_COUNT, &ncu);
	if (ferr)
		return ferr;
	memset(l, 0, sizeof(*l));
	for (int i = 0; i < S_COUNT; i++) {
		if (!ws[i].found && i >= S_OPTIONAL) {
			pg_log("layouts: the interpreter's DWARF has no %s", ws[i].name);
			continue;
		}
		if (!ws[i].found)
			return pg_error_create(PG_ERR_NOT_FOUND,
					       "the interpreter's DWARF has no complete definition of %s",
					       ws[i].name);
		Dwarf_Word size = 0;
		if (dwarf_aggregate_size(&ws[i].die, &size) != 0 || size == 0 || size > (1 << 20))
			return pg_error_create(PG_ERR_INPUT, "DWARF: bad size for %s", ws[i].name);
		*(int32_t *)((char *)l + struct_size_off[i]) = (int32_t)size;
	}
	for (size_t k = 0; k < sizeof(fields) / sizeof(fields[0]); k++) {
		const struct want_field *wf = &fields[k];
		struct pg_field *f = (struct pg_field *)((char *)l + wf->loff);
		if (!ws[wf->s].found) {
			f->off = -1;
			f->size = 0;
			continue;
		}
		pg_error *err = field_from_die(&ws[wf->s].die, ws[wf->s].name, wf->path, f);
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
	if (ws[S_UNICODE].found && l->unicode_str.off >= 0)
		l->unicode_char_size = pointee_size(&ws[S_UNICODE].die, "str");
	*debug_build = l->ob_next.off >= 0;
	pg_log("layouts from DWARF (%zu compile units read): PyGC_Head %d bytes, PyObject %d, PyTypeObject %d%s",
	       ncu, l->gc_head_size, l->object_size, l->type_size, *debug_build ? ", Py_TRACE_REFS" : "");
	return NULL;
}
