#include "traverse.h"

#include <dwarf.h>
#include <gelf.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layout.h"
#include "profile.h"

#define MAX_FIELDS 24
#define MAX_AUX 8
#define MAX_CANDS 8            /* definitions of one struct name kept per module */
#define MAX_ITEMS (1ULL << 31) /* containers claiming more are not believed */
#define T_OBJECT_EX 16
#define SETUP_LOOP 120
#define TPFLAGS_HAVE_CLASS (1UL << 8)

enum special {
	SP_FIELDS,    /* only the listed PyObject * fields */
	SP_DICT, SP_LIST, SP_TUPLE, SP_SET, SP_SUBTYPE, SP_FRAME,
	SP_DEQUE,     /* the items, block by block (aux below) */
	SP_DEFDICT,   /* fields, then the dict */
	SP_TEEDATA,   /* fields, then values[0..numread) */
	SP_XMLPARSE,  /* handlers[i] for each named entry of handler_info[] */
	SP_CTYPES_TYPE, /* the StgDict's proto when tp_dict is a StgDict, then fields */
};

struct handler {
	const char *fn;     /* C name of the traverse function */
	enum special sp;
	const char *sname;  /* struct the fields belong to, as the module's DWARF names it */
	const char *fields; /* visited: "field field=label a.b=label ..." */
	const char *aux;    /* read by the special visitor, not visited: "path" (of sname),
	                     * "Struct/path" (of another struct), "Struct/" (its size) */
	const char *sym;    /* a data symbol of the function's module the visitor reads */
};

/* Every traverse function of CPython 2.7 (the interpreter, and the
 * lib-dynload extension modules) that is emulated; field labels are the
 * Python attribute names where there is one.  docs/traverse-coverage.md
 * lists them all against the debug info (fixtures/test_traverse_coverage.py
 * keeps the two in step).  The set and multiplicity of what is visited is
 * CPython's; the order mostly is. */
#define EXC_BASE "dict=__dict__ args message"
static const struct handler handlers[] = {
	/* Objects/, Python/ */
	{ "dict_traverse", SP_DICT, NULL, NULL, NULL, NULL },
	{ "list_traverse", SP_LIST, NULL, NULL, NULL, NULL },
	{ "tupletraverse", SP_TUPLE, NULL, NULL, NULL, NULL },
	{ "set_traverse", SP_SET, NULL, NULL, NULL, NULL },
	{ "subtype_traverse", SP_SUBTYPE, NULL, NULL, NULL, NULL },
	{ "frame_traverse", SP_FRAME, "PyFrameObject",
	  "f_back f_code f_builtins f_globals f_locals f_trace f_exc_type f_exc_value f_exc_traceback", NULL, NULL },
	{ "type_traverse", SP_FIELDS, "PyTypeObject", "tp_dict=__dict__ tp_cache tp_mro=__mro__ tp_bases=__bases__ tp_base=__base__", NULL, NULL },
	{ "func_traverse", SP_FIELDS, "PyFunctionObject",
	  "func_code func_globals func_module=__module__ func_defaults func_doc func_name func_dict=__dict__ func_closure", NULL, NULL },
	{ "cell_traverse", SP_FIELDS, "PyCellObject", "ob_ref=cell_contents", NULL, NULL },
	{ "gen_traverse", SP_FIELDS, "PyGenObject", "gi_frame gi_code", NULL, NULL },
	{ "instancemethod_traverse", SP_FIELDS, "PyMethodObject", "im_func im_self im_class", NULL, NULL },
	{ "meth_traverse", SP_FIELDS, "PyCFunctionObject", "m_self=__self__ m_module=__module__", NULL, NULL },
	{ "tb_traverse", SP_FIELDS, "PyTracebackObject", "tb_next tb_frame", NULL, NULL },
	{ "module_traverse", SP_FIELDS, "PyModuleObject", "md_dict=__dict__", NULL, NULL },
	{ "gc_traverse", SP_FIELDS, "PyWeakReference", "wr_callback=__callback__", NULL, NULL },
	{ "property_traverse", SP_FIELDS, "propertyobject", "prop_get=fget prop_set=fset prop_del=fdel prop_doc=__doc__", NULL, NULL },
	{ "cm_traverse", SP_FIELDS, "classmethod", "cm_callable=__func__", NULL, NULL },
	{ "sm_traverse", SP_FIELDS, "staticmethod", "sm_callable=__func__", NULL, NULL },
	{ "descr_traverse", SP_FIELDS, "PyDescrObject", "d_type=__objclass__", NULL, NULL },
	{ "wrapper_traverse", SP_FIELDS, "wrapperobject", "descr self=__self__", NULL, NULL },
	{ "proxy_traverse", SP_FIELDS, "proxyobject", "dict", NULL, NULL },
	{ "super_traverse", SP_FIELDS, "superobject", "obj=__self__ type=__thisclass__ obj_type=__self_class__", NULL, NULL },
	{ "class_traverse", SP_FIELDS, "PyClassObject",
	  "cl_bases=__bases__ cl_dict=__dict__ cl_name=__name__ cl_getattr=__getattr__ cl_setattr=__setattr__ cl_delattr=__delattr__", NULL, NULL },
	{ "instance_traverse", SP_FIELDS, "PyInstanceObject", "in_class=__class__ in_dict=__dict__", NULL, NULL },
	{ "iter_traverse", SP_FIELDS, "seqiterobject", "it_seq", NULL, NULL },
	{ "calliter_traverse", SP_FIELDS, "calliterobject", "it_callable it_sentinel", NULL, NULL },
	{ "listiter_traverse", SP_FIELDS, "listiterobject", "it_seq", NULL, NULL },
	{ "listreviter_traverse", SP_FIELDS, "listreviterobject", "it_seq", NULL, NULL },
	{ "tupleiter_traverse", SP_FIELDS, "tupleiterobject", "it_seq", NULL, NULL },
	{ "bytearrayiter_traverse", SP_FIELDS, "bytesiterobject", "it_seq", NULL, NULL },
	{ "dictiter_traverse", SP_FIELDS, "dictiterobject", "di_dict di_result", NULL, NULL },
	{ "dictview_traverse", SP_FIELDS, "dictviewobject", "dv_dict", NULL, NULL },
	{ "setiter_traverse", SP_FIELDS, "setiterobject", "si_set", NULL, NULL },
	{ "enum_traverse", SP_FIELDS, "enumobject", "en_sit en_result en_longindex", NULL, NULL },
	{ "reversed_traverse", SP_FIELDS, "reversedobject", "seq", NULL, NULL },
	{ "slice_traverse", SP_FIELDS, "PySliceObject", "start stop step", NULL, NULL },
	/* memoryview: base and the buffer's owner, usually the same object twice */
	{ "memory_traverse", SP_FIELDS, "PyMemoryViewObject", "base view.obj=obj", NULL, NULL },
	/* Objects/exceptions.c: the subclasses visit their fields, then BaseException's */
	{ "BaseException_traverse", SP_FIELDS, "PyBaseExceptionObject", EXC_BASE, NULL, NULL },
	{ "EnvironmentError_traverse", SP_FIELDS, "PyEnvironmentErrorObject",
	  "myerrno=errno strerror filename " EXC_BASE, NULL, NULL },
	{ "SyntaxError_traverse", SP_FIELDS, "PySyntaxErrorObject",
	  "msg filename lineno offset text print_file_and_line " EXC_BASE, NULL, NULL },
	{ "SystemExit_traverse", SP_FIELDS, "PySystemExitObject", "code " EXC_BASE, NULL, NULL },
	{ "UnicodeError_traverse", SP_FIELDS, "PyUnicodeErrorObject", "encoding object reason " EXC_BASE, NULL, NULL },
	/* Modules/ built into Debian's python2.7 */
	{ "partial_traverse", SP_FIELDS, "partialobject", "fn=func args kw=keywords dict=__dict__", NULL, NULL },
	{ "deque_traverse", SP_DEQUE, "dequeobject", NULL,
	  "leftblock rightblock leftindex rightindex len block/data block/rightlink", NULL },
	{ "dequeiter_traverse", SP_FIELDS, "dequeiterobject", "deque", NULL, NULL },
	{ "defdict_traverse", SP_DEFDICT, "defdictobject", "default_factory", NULL, NULL },
	{ "local_traverse", SP_FIELDS, "localobject", "args kw dummies", NULL, NULL },
	{ "arrayiter_traverse", SP_FIELDS, "arrayiterobject", "ao", NULL, NULL },
	{ "zipimporter_traverse", SP_FIELDS, "ZipImporter", "files=_files", NULL, NULL },
	{ "attrgetter_traverse", SP_FIELDS, "attrgetterobject", "attr", NULL, NULL },
	{ "itemgetter_traverse", SP_FIELDS, "itemgetterobject", "item", NULL, NULL },
	{ "methodcaller_traverse", SP_FIELDS, "methodcallerobject", "args kwds", NULL, NULL },
	{ "Pickler_traverse", SP_FIELDS, "Picklerobject",
	  "write memo fast_memo arg file pers_func=persistent_id inst_pers_func=inst_persistent_id dispatch_table",
	  NULL, NULL },
	{ "Unpickler_traverse", SP_FIELDS, "Unpicklerobject",
	  "readline read file memo stack arg pers_func=persistent_load last_string find_class=find_global", NULL, NULL },
	/* Modules/_io */
	{ "iobase_traverse", SP_FIELDS, "iobase", "dict=__dict__", NULL, NULL },
	{ "fileio_traverse", SP_FIELDS, "fileio", "dict=__dict__", NULL, NULL },
	{ "bytesio_traverse", SP_FIELDS, "bytesio", "dict=__dict__", NULL, NULL },
	{ "stringio_traverse", SP_FIELDS, "stringio", "dict=__dict__", NULL, NULL },
	{ "buffered_traverse", SP_FIELDS, "buffered", "raw dict=__dict__", NULL, NULL },
	{ "bufferedrwpair_traverse", SP_FIELDS, "rwpair", "dict=__dict__", NULL, NULL },
	{ "textiowrapper_traverse", SP_FIELDS, "textio",
	  "buffer encoding encoder decoder readnl decoded_chars pending_bytes snapshot errors raw dict=__dict__", NULL, NULL },
	/* Modules/itertoolsmodule.c */
	{ "groupby_traverse", SP_FIELDS, "groupbyobject", "it keyfunc tgtkey currkey currvalue", NULL, NULL },
	{ "_grouper_traverse", SP_FIELDS, "_grouperobject", "parent tgtkey", NULL, NULL },
	{ "teedataobject_traverse", SP_TEEDATA, "teedataobject", "it nextlink", "numread values", NULL },
	{ "tee_traverse", SP_FIELDS, "teeobject", "dataobj", NULL, NULL },
	{ "cycle_traverse", SP_FIELDS, "cycleobject", "it saved", NULL, NULL },
	{ "dropwhile_traverse", SP_FIELDS, "dropwhileobject", "it func", NULL, NULL },
	{ "takewhile_traverse", SP_FIELDS, "takewhileobject", "it func", NULL, NULL },
	{ "islice_traverse", SP_FIELDS, "isliceobject", "it", NULL, NULL },
	{ "starmap_traverse", SP_FIELDS, "starmapobject", "it func", NULL, NULL },
	{ "imap_traverse", SP_FIELDS, "imapobject", "iters func", NULL, NULL },
	{ "chain_traverse", SP_FIELDS, "chainobject", "source active", NULL, NULL },
	{ "product_traverse", SP_FIELDS, "productobject", "pools result", NULL, NULL },
	{ "combinations_traverse", SP_FIELDS, "combinationsobject", "pool result", NULL, NULL },
	{ "cwr_traverse", SP_FIELDS, "cwrobject", "pool result", NULL, NULL },
	{ "permutations_traverse", SP_FIELDS, "permutationsobject", "pool result", NULL, NULL },
	{ "compress_traverse", SP_FIELDS, "compressobject", "data selectors", NULL, NULL },
	{ "ifilter_traverse", SP_FIELDS, "ifilterobject", "it func", NULL, NULL },
	{ "ifilterfalse_traverse", SP_FIELDS, "ifilterfalseobject", "it func", NULL, NULL },
	{ "count_traverse", SP_FIELDS, "countobject", "long_cnt long_step", NULL, NULL },
	{ "izip_traverse", SP_FIELDS, "izipobject", "ittuple result", NULL, NULL },
	{ "repeat_traverse", SP_FIELDS, "repeatobject", "element", NULL, NULL },
	{ "izip_longest_traverse", SP_FIELDS, "iziplongestobject", "ittuple result fillvalue", NULL, NULL },
	/* lib-dynload */
	{ "Reader_traverse", SP_FIELDS, "ReaderObj", "dialect input_iter fields", NULL, NULL },
	{ "Writer_traverse", SP_FIELDS, "WriterObj", "dialect writeline", NULL, NULL },
	{ "scanner_traverse", SP_FIELDS, "PyScannerObject",
	  "encoding strict object_hook pairs_hook=object_pairs_hook parse_float parse_int parse_constant", NULL, NULL },
	{ "encoder_traverse", SP_FIELDS, "PyEncoderObject",
	  "markers defaultfn=default encoder indent key_separator item_separator sort_keys skipkeys", NULL, NULL },
	{ "context_traverse", SP_FIELDS, "PySSLContext", "set_hostname=servername_callback", NULL, NULL },
	/* errors may hold ERROR_STRICT..ERROR_REPLACE ((PyObject *)1..3), which
	 * CPython skips and which are no objects here either */
	{ "mbiencoder_traverse", SP_FIELDS, "MultibyteIncrementalEncoderObject", "errors", NULL, NULL },
	{ "mbidecoder_traverse", SP_FIELDS, "MultibyteIncrementalDecoderObject", "errors", NULL, NULL },
	{ "mbstreamreader_traverse", SP_FIELDS, "MultibyteStreamReaderObject", "errors stream", NULL, NULL },
	{ "mbstreamwriter_traverse", SP_FIELDS, "MultibyteStreamWriterObject", "errors stream", NULL, NULL },
	{ "xmlparse_traverse", SP_XMLPARSE, "xmlparseobject", NULL, "handlers HandlerInfo/ HandlerInfo/name", "handler_info" },
	{ "PyCData_traverse", SP_FIELDS, "CDataObject", "b_objects=_objects b_base=_b_base_", NULL, NULL },
	{ "PyCFuncPtr_traverse", SP_FIELDS, "PyCFuncPtrObject",
	  "callable restype checker errcheck argtypes converters paramflags thunk b_objects=_objects b_base=_b_base_",
	  NULL, NULL },
	{ "PyCField_traverse", SP_FIELDS, "CFieldObject", "proto", NULL, NULL },
	{ "CThunkObject_traverse", SP_FIELDS, "CThunkObject", "converters callable restype", NULL, NULL },
	/* ctypes metatypes: the StgDict's proto (_type_), then type_traverse */
	{ "CDataType_traverse", SP_CTYPES_TYPE, "PyTypeObject",
	  "tp_dict=__dict__ tp_cache tp_mro=__mro__ tp_bases=__bases__ tp_base=__base__",
	  "tp_flags tp_dict StgDictObject/proto", "PyCStgDict_Type" },
};
#define NHANDLERS (sizeof(handlers) / sizeof(handlers[0]))

/* A handler made concrete for one module's layouts. */
struct resolved {
	const struct handler *h;
	uint64_t fnaddr;
	int nf;
	int32_t off[MAX_FIELDS];
	const char *label[MAX_FIELDS];
	char *labels_buf;
	int naux;
	struct pg_field aux[MAX_AUX];
	uint64_t sym, symsize;       /* handler->sym in the function's module */
	bool conservative;           /* unknown: conservative scan */
};

/* Per type: how its instances are traversed. */
struct type_plan {
	bool done;
	struct resolved *r;          /* the type's tp_traverse */
	/* subtype_traverse only: */
	uint32_t nslots;
	int32_t *slot_off;
	uint64_t *slot_name;         /* address of the member's C name */
	bool visit_dict, visit_type;
	struct resolved *base;       /* the nearest base's other traverse, or NULL */
	uint8_t owned;               /* a non-gc type whose objects own references (enum owned) */
};

/* Objects that are not gc'd but own references (their tp_dealloc drops
 * them): what the retention analysis follows beyond tp_traverse. */
enum owned { OWN_NONE, OWN_CODE, OWN_UNICODE, OWN_FILE };

/* What traverse needs of a module: its symbols, and in its DWARF the
 * complete definitions of every struct a handler names (a name can mean
 * different structs in different files: Debian's python2.7 has three
 * `block`s, so the one from the traverse function's own source file is
 * preferred) and the compile unit defining each handler's function. */
struct modinfo {
	Dwfl_Module *mod;
	struct pg_symtab syms;
	bool own_syms, loaded;
	struct pg_dwarf *dw;         /* the interpreter's is the interpreter's; others ours */
	bool own_dw;
	struct pg_dwarf_struct *defs; /* sorted by name; lazily */
	char **owned;                /* names made for "Struct/" aux entries */
	size_t ndefs, nowned;
	bool dwarf_done;
	struct pg_dwarf_func fn[NHANDLERS];
};

struct pg_traverse {
	struct pg_heap *h;
	struct pg_reader rd;          /* for plans (made by one thread, before the others read) */
	const struct pg_layout *L;
	struct modinfo *mods;
	size_t nmods, capmods;
	struct resolved **res;
	size_t nres, capres;
	struct pg_u64map res_index;   /* traverse fn address -> res index */
	struct type_plan *plans;      /* by type index */
	size_t nplans;
	uint64_t subtype_traverse;
	uint64_t code_type, file_type;
	/* setobject.c's (and dictobject.c's) `dummy`: the key of a deleted
	 * entry, which set_traverse skips */
	uint64_t dummy[4];
	size_t ndummy;
	/* without DWARF (a built-in profile): the handlers' fields from the
	 * profile, and each traverse function known by a type's identity */
	const struct pg_profile *prof;
	struct pg_u64map prof_fn;     /* traverse fn address -> handler index */
};

/* ---- helpers ---------------------------------------------------------- */

static inline bool rd(struct pg_reader *r, uint64_t addr, uint64_t *v)
{
	const uint8_t *p = pg_ptr(r, addr, 8);
	if (p) {
		memcpy(v, p, 8);
		return true;
	}
	return pg_try_read(r, addr, v, 8);
}

static inline bool rd32(struct pg_reader *r, uint64_t addr, int32_t *v)
{
	const uint8_t *p = pg_ptr(r, addr, 4);
	if (p) {
		memcpy(v, p, 4);
		return true;
	}
	return pg_try_read(r, addr, v, 4);
}

static struct modinfo *modinfo_for(struct pg_traverse *t, Dwfl_Module *mod)
{
	for (size_t i = 0; i < t->nmods; i++)
		if (t->mods[i].mod == mod)
			return &t->mods[i];
	if (pg_grow((void **)&t->mods, &t->capmods, t->nmods + 1, sizeof(*t->mods)))
		return NULL;
	struct modinfo *mi = &t->mods[t->nmods++];
	memset(mi, 0, sizeof(*mi));
	mi->mod = mod;
	if (mod == t->h->in->mod) {
		mi->syms = t->h->in->syms;
		mi->loaded = true;
	} else {
		pg_error *err = pg_symtab_load(mod, &mi->syms);
		if (err) {
			pg_error_destroy(err);
		} else {
			mi->own_syms = true;
			mi->loaded = true;
		}
	}
	return mi;
}

/* ---- struct definitions from a module's DWARF ------------------------- */

static int sdef_cmp(const void *a, const void *b)
{
	return strcmp(((const struct pg_dwarf_struct *)a)->name, ((const struct pg_dwarf_struct *)b)->name);
}

static struct pg_dwarf_struct *sdef_find(struct modinfo *mi, const char *name, size_t len)
{
	size_t lo = 0, hi = mi->ndefs;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strncmp(mi->defs[mid].name, name, len);
		if (c == 0 && mi->defs[mid].name[len])
			c = 1;
		if (c < 0)
			lo = mid + 1;
		else if (c > 0)
			hi = mid;
		else
			return &mi->defs[mid];
	}
	return NULL;
}

/* The names every handler wants: its struct and the "Struct/" of its aux. */
static bool want_names(struct modinfo *mi)
{
	size_t cap = 2 * NHANDLERS;
	mi->defs = calloc(cap, sizeof(*mi->defs));
	mi->owned = calloc(cap, sizeof(*mi->owned));
	if (!mi->defs || !mi->owned)
		return false;
	for (size_t i = 0; i < NHANDLERS; i++) {
		const struct handler *h = &handlers[i];
		if (h->sname && !sdef_find(mi, h->sname, strlen(h->sname))) {
			mi->defs[mi->ndefs++].name = h->sname;
			qsort(mi->defs, mi->ndefs, sizeof(*mi->defs), sdef_cmp);
		}
		for (const char *p = h->aux; p && *p;) {
			const char *end = strchr(p, ' '), *slash = strchr(p, '/');
			if (!end)
				end = p + strlen(p);
			if (slash && slash < end && !sdef_find(mi, p, (size_t)(slash - p)) && mi->ndefs < cap) {
				/* names point into handlers[]: not NUL-terminated there */
				char *nm = strndup(p, (size_t)(slash - p));
				if (!nm)
					return false;
				mi->owned[mi->nowned++] = nm;
				mi->defs[mi->ndefs++].name = nm;
				qsort(mi->defs, mi->ndefs, sizeof(*mi->defs), sdef_cmp);
			}
			p = *end ? end + 1 : end;
		}
	}
	return true;
}

/* One pass over the module's compile units for every wanted name. */
static void module_dwarf(struct pg_traverse *t, struct modinfo *mi)
{
	if (mi->dwarf_done)
		return;
	mi->dwarf_done = true;
	if (!want_names(mi))
		return;
	for (size_t i = 0; i < NHANDLERS; i++)
		mi->fn[i].name = handlers[i].fn;
	if (mi->mod == t->h->in->mod) {
		mi->dw = t->h->in->dwarf;
		if (!mi->dw)
			return; /* a built-in profile */
	} else {
		pg_error *err = pg_dwarf_open(mi->mod, &mi->dw);
		if (err) {
			pg_error_destroy(err);
			mi->dw = NULL;
			return;
		}
		mi->own_dw = true;
	}
	pg_error *err = pg_dwarf_scan(mi->dw, mi->defs, mi->ndefs, mi->fn, NHANDLERS, false, NULL);
	pg_error_destroy(err);
}

/* Is compile unit `cu` the one that defines the traverse function? */
static bool cu_is(const char *cu, const char *src)
{
	return cu && src && strcmp(cu, src) == 0;
}

/* Calls fn for each member path handler h needs from struct `sname` (its
 * visited fields when sname is its own struct, and its aux paths). */
static pg_error *each_path(const struct handler *h, const char *sname, Dwarf_Die *d,
			   pg_error *(*fn)(void *arg, Dwarf_Die *d, const char *sname, const char *path, const char *label),
			   void *arg)
{
	char buf[512];
	bool own = h->sname && strcmp(h->sname, sname) == 0;
	for (int pass = 0; pass < 2; pass++) {
		const char *spec = pass == 0 ? (own ? h->fields : NULL) : h->aux;
		if (!spec)
			continue;
		if (strlen(spec) >= sizeof(buf))
			return pg_error_create(PG_ERR_INTERNAL, "%s: field list too long", h->fn);
		strcpy(buf, spec);
		char *save = NULL;
		for (char *tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
			const char *label = NULL;
			char *eq = pass == 0 ? strchr(tok, '=') : NULL;
			if (eq) {
				*eq = 0;
				label = eq + 1;
			}
			char *slash = pass == 1 ? strchr(tok, '/') : NULL;
			if (slash) {
				*slash = 0;
				if (strcmp(tok, sname) != 0)
					continue;
				tok = slash + 1;
			} else if (!own) {
				continue;
			}
			pg_error *err = fn(arg, d, sname, tok, label ? label : tok);
			if (err)
				return err;
		}
	}
	return NULL;
}

static pg_error *check_path(void *arg, Dwarf_Die *d, const char *sname, const char *path, const char *label)
{
	(void)arg;
	(void)label;
	if (!*path)
		return NULL;
	struct pg_field f;
	return pg_dwarf_member(d, sname, path, &f);
}

/* The definition of sname for handler h: from the function's own source
 * file if it has one there, else the first that has every member h needs. */
static bool pick_struct(struct modinfo *mi, const struct handler *h, const char *sname, const char *src,
			Dwarf_Die *out, char **why)
{
	struct pg_dwarf_struct *s = sdef_find(mi, sname, strlen(sname));
	if (!s || s->n == 0) {
		*why = pg_asprintf("no DWARF definition of %s", sname);
		return false;
	}
	pg_error *first = NULL;
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < s->n; i++) {
			if ((pass == 0) != cu_is(s->cu[i], src))
				continue;
			pg_error *err = each_path(h, sname, &s->die[i], check_path, NULL);
			if (!err) {
				pg_error_destroy(first);
				*out = s->die[i];
				return true;
			}
			if (!first)
				first = err;
			else
				pg_error_destroy(err);
		}
	}
	*why = pg_asprintf("%s", first->message);
	pg_error_destroy(first);
	return false;
}

struct fill {
	struct resolved *r;
	char *labels;     /* where the labels are copied */
	size_t used, cap;
	bool aux;
};

static pg_error *fill_path(void *arg, Dwarf_Die *d, const char *sname, const char *path, const char *label)
{
	struct fill *fl = arg;
	struct resolved *r = fl->r;
	struct pg_field f = { 0, 0 };
	if (*path) {
		pg_error *err = pg_dwarf_member(d, sname, path, &f);
		if (err)
			return err;
	} else {
		Dwarf_Word sz;
		if (dwarf_aggregate_size(d, &sz) != 0 || sz == 0 || sz > (1 << 20))
			return pg_error_create(PG_ERR_INPUT, "DWARF: bad size for %s", sname);
		f.size = (int32_t)sz;
	}
	if (fl->aux) {
		if (r->naux >= MAX_AUX)
			return pg_error_create(PG_ERR_INTERNAL, "too many aux fields for %s", sname);
		r->aux[r->naux++] = f;
		return NULL;
	}
	if (r->nf >= MAX_FIELDS)
		return pg_error_create(PG_ERR_INTERNAL, "too many fields for %s", sname);
	if (f.size != 8)
		return pg_error_create(PG_ERR_INPUT, "%s.%s is not a pointer", sname, path);
	size_t len = strlen(label) + 1;
	if (fl->used + len > fl->cap)
		return pg_error_create(PG_ERR_INTERNAL, "labels of %s too long", sname);
	memcpy(fl->labels + fl->used, label, len);
	r->off[r->nf] = f.off;
	r->label[r->nf] = fl->labels + fl->used;
	fl->used += len;
	r->nf++;
	return NULL;
}

/* Resolves handler hi for the module holding r->fnaddr: its fields, its aux
 * members (in the order the handler lists them) and its symbol. */
static bool resolve_handler(struct pg_traverse *t, struct modinfo *mi, size_t hi, struct resolved *r, char **why)
{
	const struct handler *h = &handlers[hi];
	if (!h->sname)
		return true;
	module_dwarf(t, mi);
	const char *src = mi->fn[hi].cu;
	Dwarf_Die own;
	if (!pick_struct(mi, h, h->sname, src, &own, why))
		return false;
	size_t cap = (h->fields ? strlen(h->fields) : 0) + 1;
	r->labels_buf = malloc(cap);
	if (!r->labels_buf)
		return false;
	struct fill fl = { r, r->labels_buf, 0, cap, false };
	/* the visited fields first, then the aux in their listed order */
	struct handler fields_only = *h;
	fields_only.aux = NULL;
	pg_error *err = each_path(&fields_only, h->sname, &own, fill_path, &fl);
	fl.aux = true;
	char buf[256];
	if (!err && h->aux && strlen(h->aux) < sizeof(buf)) {
		strcpy(buf, h->aux);
		char *save = NULL;
		for (char *tok = strtok_r(buf, " ", &save); tok && !err; tok = strtok_r(NULL, " ", &save)) {
			char *slash = strchr(tok, '/');
			Dwarf_Die d = own;
			const char *sname = h->sname, *path = tok;
			if (slash) {
				*slash = 0;
				sname = tok;
				path = slash + 1;
				if (!pick_struct(mi, h, sname, src, &d, why))
					return false;
			}
			err = fill_path(&fl, &d, sname, path, path);
		}
	}
	if (err) {
		*why = pg_asprintf("%s", err->message);
		pg_error_destroy(err);
		return false;
	}
	if (h->sym && !t) {
		/* the profile generator: the symbol is the core's business */
	} else if (h->sym) {
		const struct pg_sym *s;
		err = mi->loaded ? pg_symtab_find(&mi->syms, h->sym, STT_OBJECT, &s)
				 : pg_error_create(PG_ERR_NOT_FOUND, "no symbols");
		if (err) {
			*why = pg_asprintf("%s: %s", h->sym, err->message);
			pg_error_destroy(err);
			return false;
		}
		r->sym = s->addr;
		r->symsize = s->size;
	}
	return true;
}

static struct resolved *new_resolved(struct pg_traverse *t, uint64_t fnaddr)
{
	struct resolved *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->fnaddr = fnaddr;
	if (pg_grow((void **)&t->res, &t->capres, t->nres + 1, sizeof(*t->res)) ||
	    pg_u64map_put(&t->res_index, fnaddr, (uint32_t)t->nres)) {
		free(r);
		return NULL;
	}
	t->res[t->nres++] = r;
	return r;
}

static size_t handler_index(const char *fn)
{
	for (size_t i = 0; i < NHANDLERS; i++)
		if (strcmp(handlers[i].fn, fn) == 0)
			return i;
	return NHANDLERS;
}

/* Handler hi from the built-in profile: the labels from the handler's
 * field list, the offsets from the profile (in the same order). */
static bool resolve_from_profile(struct pg_traverse *t, size_t hi, struct resolved *r, char **why)
{
	const struct handler *h = &handlers[hi];
	if (!h->sname)
		return true;
	const struct pg_handler_profile *hp = pg_profile_handler(t->prof, h->fn);
	if (!hp) {
		*why = pg_asprintf("%s: no built-in layout of %s in profile %s", h->fn, h->sname, t->prof->name);
		return false;
	}
	/* ctypes' StgDict is known by its tp_name instead (visit_ctypes_type) */
	if (h->sym && h->sp != SP_CTYPES_TYPE) {
		*why = pg_asprintf("%s needs the static %s, which has no dynamic symbol", h->fn, h->sym);
		return false;
	}
	size_t cap = (h->fields ? strlen(h->fields) : 0) + 1;
	r->labels_buf = malloc(cap);
	if (!r->labels_buf)
		return false;
	size_t used = 0;
	const char *p = h->fields ? h->fields : "";
	while (*p) {
		size_t len = strcspn(p, " ");
		const char *eq = memchr(p, '=', len);
		const char *lab = eq ? eq + 1 : p;
		size_t llen = eq ? len - (size_t)(eq + 1 - p) : len;
		if (r->nf >= hp->nf || r->nf >= MAX_FIELDS) {
			*why = pg_asprintf("%s: profile %s has %u fields, the handler more", h->fn, t->prof->name, hp->nf);
			return false;
		}
		memcpy(r->labels_buf + used, lab, llen);
		r->labels_buf[used + llen] = 0;
		r->label[r->nf] = r->labels_buf + used;
		r->off[r->nf] = hp->off[r->nf];
		r->nf++;
		used += llen + 1;
		p += len;
		while (*p == ' ')
			p++;
	}
	if (r->nf != hp->nf || hp->naux > MAX_AUX) {
		*why = pg_asprintf("%s: profile %s has %u fields, the handler %d", h->fn, t->prof->name, hp->nf, r->nf);
		return false;
	}
	r->naux = hp->naux;
	memcpy(r->aux, hp->aux, sizeof(r->aux[0]) * hp->naux);
	return true;
}

/* The tp_name of static types whose type object has no dynamic symbol (the
 * exported ones are known by their address: see pg_traverse_new). */
static const struct {
	const char *tp_name, *fn;
} static_type_names[] = {
	{ "method-wrapper", "wrapper_traverse" }, { "setiterator", "setiter_traverse" },
	{ "method_descriptor", "descr_traverse" }, { "classmethod_descriptor", "descr_traverse" },
	{ "functools.partial", "partial_traverse" }, { "collections.deque", "deque_traverse" },
	{ "deque_iterator", "dequeiter_traverse" }, { "deque_reverse_iterator", "dequeiter_traverse" },
	{ "collections.defaultdict", "defdict_traverse" }, { "thread._local", "local_traverse" },
	{ "arrayiterator", "arrayiter_traverse" }, { "zipimport.zipimporter", "zipimporter_traverse" },
	{ "operator.attrgetter", "attrgetter_traverse" }, { "operator.itemgetter", "itemgetter_traverse" },
	{ "operator.methodcaller", "methodcaller_traverse" }, { "cPickle.Pickler", "Pickler_traverse" },
	{ "cPickle.Unpickler", "Unpickler_traverse" }, { "_io._IOBase", "iobase_traverse" },
	{ "itertools.groupby", "groupby_traverse" }, { "itertools._grouper", "_grouper_traverse" },
	{ "itertools.tee_dataobject", "teedataobject_traverse" }, { "itertools.tee", "tee_traverse" },
	{ "itertools.cycle", "cycle_traverse" }, { "itertools.dropwhile", "dropwhile_traverse" },
	{ "itertools.takewhile", "takewhile_traverse" }, { "itertools.islice", "islice_traverse" },
	{ "itertools.starmap", "starmap_traverse" }, { "itertools.imap", "imap_traverse" },
	{ "itertools.chain", "chain_traverse" }, { "itertools.product", "product_traverse" },
	{ "itertools.combinations", "combinations_traverse" },
	{ "itertools.combinations_with_replacement", "cwr_traverse" },
	{ "itertools.permutations", "permutations_traverse" }, { "itertools.compress", "compress_traverse" },
	{ "itertools.ifilter", "ifilter_traverse" }, { "itertools.ifilterfalse", "ifilterfalse_traverse" },
	{ "itertools.count", "count_traverse" }, { "itertools.izip", "izip_traverse" },
	{ "itertools.repeat", "repeat_traverse" }, { "itertools.izip_longest", "izip_longest_traverse" },
	{ "_csv.reader", "Reader_traverse" }, { "_csv.writer", "Writer_traverse" },
	{ "_json.Scanner", "scanner_traverse" }, { "_json.Encoder", "encoder_traverse" },
	{ "_ssl._SSLContext", "context_traverse" },
	{ "_ctypes.PyCStructType", "CDataType_traverse" }, { "_ctypes.UnionType", "CDataType_traverse" },
	{ "_ctypes.PyCPointerType", "CDataType_traverse" }, { "_ctypes.PyCFuncPtrType", "CDataType_traverse" },
	{ "_ctypes._CData", "PyCData_traverse" }, { "_ctypes.Structure", "PyCData_traverse" },
	{ "_ctypes.Union", "PyCData_traverse" }, { "_ctypes.Array", "PyCData_traverse" },
	{ "_ctypes._SimpleCData", "PyCData_traverse" }, { "_ctypes._Pointer", "PyCData_traverse" },
	{ "_ctypes.PyCFuncPtr", "PyCFuncPtr_traverse" }, { "_ctypes.CField", "PyCField_traverse" },
	{ "_ctypes.CThunkObject", "CThunkObject_traverse" },
	{ "MultibyteIncrementalEncoder", "mbiencoder_traverse" },
	{ "MultibyteIncrementalDecoder", "mbidecoder_traverse" },
	{ "MultibyteStreamReader", "mbstreamreader_traverse" },
	{ "MultibyteStreamWriter", "mbstreamwriter_traverse" },
};

/* Without a symbol: the handler a built-in profile knows the function by
 * (a type's identity, or a static type's tp_name), or NHANDLERS. */
static size_t profile_dispatch(struct pg_traverse *t, uint64_t fnaddr, const char *tname, bool static_type)
{
	uint32_t idx;
	if (pg_u64map_get(&t->prof_fn, fnaddr, &idx))
		return idx;
	if (!static_type)
		return NHANDLERS;
	for (size_t i = 0; i < sizeof(static_type_names) / sizeof(static_type_names[0]); i++)
		if (strcmp(static_type_names[i].tp_name, tname) == 0) {
			size_t hi = handler_index(static_type_names[i].fn);
			if (hi < NHANDLERS)
				pg_error_destroy(pg_u64map_put(&t->prof_fn, fnaddr, (uint32_t)hi));
			return hi;
		}
	return NHANDLERS;
}

/* The handler for a traverse function address (cached). */
static struct resolved *resolve(struct pg_traverse *t, uint64_t fnaddr, const char *tname, bool static_type)
{
	uint32_t idx;
	if (pg_u64map_get(&t->res_index, fnaddr, &idx))
		return t->res[idx];
	struct resolved *r = new_resolved(t, fnaddr);
	if (!r)
		return NULL;
	Dwfl_Module *mod = dwfl_addrmodule(t->h->core->dwfl, fnaddr);
	struct modinfo *mi = mod ? modinfo_for(t, mod) : NULL;
	const struct pg_sym *s = mi && mi->loaded ? pg_symtab_at(&mi->syms, fnaddr) : NULL;
	char *why = NULL;
	if (s && s->addr == fnaddr) {
		for (size_t i = 0; i < NHANDLERS; i++) {
			if (strlen(handlers[i].fn) != s->baselen || memcmp(handlers[i].fn, s->name, s->baselen) != 0)
				continue;
			if (resolve_handler(t, mi, i, r, &why)) {
				r->h = &handlers[i];
				pg_logf(t->h->log, "traverse: type %s: %s emulated (%s%s%d fields, %d aux)", tname, handlers[i].fn,
					handlers[i].sname ? handlers[i].sname : "", handlers[i].sname ? ": " : "", r->nf, r->naux);
				return r;
			}
			break;
		}
		if (!why)
			why = pg_asprintf("%.*s is not emulated", (int)s->baselen, s->name);
	} else if (t->prof) {
		size_t hi = profile_dispatch(t, fnaddr, tname, static_type);
		if (hi < NHANDLERS && resolve_from_profile(t, hi, r, &why)) {
			r->h = &handlers[hi];
			pg_logf(t->h->log, "traverse: type %s: %s emulated by its identity (profile %s: %d fields, %d aux)",
				tname, handlers[hi].fn, t->prof->name, r->nf, r->naux);
			return r;
		}
		if (!why)
			why = pg_asprintf("tp_traverse 0x%" PRIx64 " has no symbol, and the type is none the built-in "
					  "profile knows by its identity or name", fnaddr);
	} else {
		why = pg_asprintf("tp_traverse 0x%" PRIx64 " has no symbol", fnaddr);
	}
	r->conservative = true;
	pg_warn(t->h->warn, "type %s: %s; its objects' referents come from a conservative scan (results marked approximate)",
		tname, why ? why : "unknown traverse");
	free(why);
	return r;
}

/* ---- setup ------------------------------------------------------------ */

/* The exported type objects (and the exception types behind the exported
 * PyExc_* pointers) whose tp_traverse is the handler's function: without
 * DWARF and .symtab, each traverse function is known by a type's identity. */
static const struct {
	const char *sym, *fn;
	bool pointer;   /* the symbol holds the type's address */
} type_identities[] = {
	{ "PyDict_Type", "dict_traverse", false }, { "PyList_Type", "list_traverse", false },
	{ "PyTuple_Type", "tupletraverse", false }, { "PySet_Type", "set_traverse", false },
	{ "PyFrozenSet_Type", "set_traverse", false }, { "PyFrame_Type", "frame_traverse", false },
	{ "PyType_Type", "type_traverse", false }, { "PyFunction_Type", "func_traverse", false },
	{ "PyCell_Type", "cell_traverse", false }, { "PyGen_Type", "gen_traverse", false },
	{ "PyMethod_Type", "instancemethod_traverse", false }, { "PyCFunction_Type", "meth_traverse", false },
	{ "PyTraceBack_Type", "tb_traverse", false }, { "PyModule_Type", "module_traverse", false },
	{ "_PyWeakref_RefType", "gc_traverse", false }, { "_PyWeakref_ProxyType", "gc_traverse", false },
	{ "_PyWeakref_CallableProxyType", "gc_traverse", false },
	{ "PyProperty_Type", "property_traverse", false }, { "PyClassMethod_Type", "cm_traverse", false },
	{ "PyStaticMethod_Type", "sm_traverse", false }, { "PyMemberDescr_Type", "descr_traverse", false },
	{ "PyGetSetDescr_Type", "descr_traverse", false }, { "PyWrapperDescr_Type", "descr_traverse", false },
	{ "PyDictProxy_Type", "proxy_traverse", false }, { "PySuper_Type", "super_traverse", false },
	{ "PyClass_Type", "class_traverse", false }, { "PyInstance_Type", "instance_traverse", false },
	{ "PySeqIter_Type", "iter_traverse", false }, { "PyCallIter_Type", "calliter_traverse", false },
	{ "PyListIter_Type", "listiter_traverse", false }, { "PyListRevIter_Type", "listreviter_traverse", false },
	{ "PyTupleIter_Type", "tupleiter_traverse", false }, { "PyByteArrayIter_Type", "bytearrayiter_traverse", false },
	{ "PyDictIterKey_Type", "dictiter_traverse", false }, { "PyDictIterValue_Type", "dictiter_traverse", false },
	{ "PyDictIterItem_Type", "dictiter_traverse", false }, { "PyDictKeys_Type", "dictview_traverse", false },
	{ "PyDictItems_Type", "dictview_traverse", false }, { "PyDictValues_Type", "dictview_traverse", false },
	{ "PyEnum_Type", "enum_traverse", false }, { "PyReversed_Type", "reversed_traverse", false },
	{ "PySlice_Type", "slice_traverse", false }, { "PyMemoryView_Type", "memory_traverse", false },
	{ "PyIOBase_Type", "iobase_traverse", false }, { "PyFileIO_Type", "fileio_traverse", false },
	{ "PyBytesIO_Type", "bytesio_traverse", false }, { "PyStringIO_Type", "stringio_traverse", false },
	{ "PyBufferedReader_Type", "buffered_traverse", false }, { "PyBufferedWriter_Type", "buffered_traverse", false },
	{ "PyBufferedRandom_Type", "buffered_traverse", false },
	{ "PyBufferedRWPair_Type", "bufferedrwpair_traverse", false },
	{ "PyTextIOWrapper_Type", "textiowrapper_traverse", false },
	{ "PyExc_BaseException", "BaseException_traverse", true },
	{ "PyExc_EnvironmentError", "EnvironmentError_traverse", true },
	{ "PyExc_SyntaxError", "SyntaxError_traverse", true }, { "PyExc_SystemExit", "SystemExit_traverse", true },
	{ "PyExc_UnicodeEncodeError", "UnicodeError_traverse", true },
};

static void profile_identities(struct pg_traverse *t)
{
	struct pg_heap *h = t->h;
	size_t known = 0, n = sizeof(type_identities) / sizeof(type_identities[0]);
	for (size_t i = 0; i < n; i++) {
		const struct pg_sym *s;
		pg_error *err = pg_symtab_find(&h->in->syms, type_identities[i].sym, STT_OBJECT, &s);
		uint64_t type = 0, fn = 0;
		if (!err) {
			type = s->addr;
			if (type_identities[i].pointer && !rd(&t->rd, s->addr, &type))
				type = 0;
		}
		pg_error_destroy(err);
		size_t hi = handler_index(type_identities[i].fn);
		if (!type || (type & 7) || hi == NHANDLERS || !rd(&t->rd, type + (uint64_t)t->L->tp_traverse.off, &fn) ||
		    !fn) {
			pg_logf(h->log, "traverse: %s: not found or unreadable (its %s is known by no identity)",
				type_identities[i].sym, type_identities[i].fn);
			continue;
		}
		uint32_t prev;
		if (pg_u64map_get(&t->prof_fn, fn, &prev) && prev != hi) {
			pg_warn(h->warn, "%s's tp_traverse 0x%" PRIx64 " is also %s's: the built-in profile keeps %s",
				type_identities[i].sym, fn, handlers[prev].fn, handlers[prev].fn);
			continue;
		}
		pg_error_destroy(pg_u64map_put(&t->prof_fn, fn, (uint32_t)hi));
		known++;
	}
	pg_logf(h->log, "traverse: profile %s: %zu of %zu type identities give their traverse function", t->prof->name,
		known, n);
}

pg_error *pg_traverse_new(struct pg_heap *h, struct pg_traverse **ret)
{
	struct pg_traverse *t = calloc(1, sizeof(*t));
	if (!t)
		return PG_ENOMEM;
	t->h = h;
	pg_reader_init(&t->rd, &h->core->mem);
	t->L = &h->in->L;
	const struct pg_sym *s;
	t->prof = h->in->profile;
	if (t->prof)
		profile_identities(t);
	pg_error *err = pg_symtab_find(&h->in->syms, "subtype_traverse", STT_FUNC, &s);
	if (err && t->prof) {
		/* found on the first gc heap type (plan_for) */
		pg_error_destroy(err);
	} else if (err) {
		pg_warn(h->warn, "cannot find subtype_traverse (%s): class instances are scanned conservatively", err->message);
		pg_error_destroy(err);
	} else {
		t->subtype_traverse = s->addr;
	}
	if (!t->L->frames_ok)
		pg_warn(h->warn, "no DWARF for frames/code/generators: frames are scanned conservatively");
	/* the dummy keys: every `dummy` static that points at a str
	 * "<dummy key>" (dictobject.c's and setobject.c's have one name) */
	size_t first, count;
	pg_symtab_range(&h->in->syms, "dummy", &first, &count);
	for (size_t i = first; i < first + count && t->ndummy < 4; i++) {
		const struct pg_sym *ds = &h->in->syms.by_addr[h->in->syms.by_name[i]];
		uint64_t obj = 0, type = 0;
		char text[16] = "";
		if (ds->type != STT_OBJECT || !pg_try_read(&t->rd, ds->addr, &obj, 8) || !obj ||
		    !pg_try_read(&t->rd, obj + (uint64_t)t->L->ob_type.off, &type, 8) || type != h->in->types[PG_T_STRING] ||
		    !pg_try_read(&t->rd, obj + (uint64_t)t->L->ob_sval.off, text, 12) || memcmp(text, "<dummy key>", 12) != 0)
			continue;
		t->dummy[t->ndummy++] = obj;
	}
	err = pg_symtab_find(&h->in->syms, "PyCode_Type", STT_OBJECT, &s);
	if (!err)
		t->code_type = s->addr;
	pg_error_destroy(err);
	err = pg_symtab_find(&h->in->syms, "PyFile_Type", STT_OBJECT, &s);
	if (!err)
		t->file_type = s->addr;
	pg_error_destroy(err);
	*ret = t;
	return NULL;
}

void pg_traverse_free(struct pg_traverse *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nres; i++) {
		free(t->res[i]->labels_buf);
		free(t->res[i]);
	}
	free(t->res);
	for (size_t i = 0; i < t->nplans; i++) {
		free(t->plans[i].slot_off);
		free(t->plans[i].slot_name);
	}
	free(t->plans);
	for (size_t i = 0; i < t->nmods; i++) {
		if (t->mods[i].own_syms)
			pg_symtab_free(&t->mods[i].syms);
		for (size_t j = 0; j < t->mods[i].nowned; j++)
			free(t->mods[i].owned[j]);
		free(t->mods[i].owned);
		free(t->mods[i].defs);
		if (t->mods[i].own_dw)
			pg_dwarf_close(t->mods[i].dw);
	}
	free(t->mods);
	pg_u64map_free(&t->res_index);
	pg_u64map_free(&t->prof_fn);
	free(t);
}

/* ---- plans ------------------------------------------------------------ */

static bool add_slot(struct type_plan *p, size_t *cap, int32_t off, uint64_t name)
{
	if (p->nslots == *cap) {
		size_t ncap = *cap ? *cap * 2 : 8;
		int32_t *o = pg_reallocarray(p->slot_off, ncap, sizeof(*o));
		if (!o)
			return false;
		p->slot_off = o;
		uint64_t *n = pg_reallocarray(p->slot_name, ncap, sizeof(*n));
		if (!n)
			return false;
		p->slot_name = n;
		*cap = ncap;
	}
	p->slot_off[p->nslots] = off;
	p->slot_name[p->nslots] = name;
	p->nslots++;
	return true;
}

static void plan_subtype(struct pg_traverse *t, uint32_t type_idx, struct type_plan *p)
{
	struct pg_heap *h = t->h;
	const struct pg_layout *L = t->L;
	size_t cap = 0;
	uint32_t bidx = type_idx;
	bool have_base = true;
	int walk = PG_BASE_OK;
	struct pg_base_walk bw;
	pg_base_walk_init(&bw, h->types[type_idx].addr);
	for (;;) {
		const struct pg_type *bt = &h->types[bidx];
		if (!bt->valid || bt->traverse != t->subtype_traverse)
			break;
		uint64_t nslots = 0, meta = 0;
		if (rd(&t->rd, bt->addr + (uint64_t)L->ob_size.off, &nslots) && nslots &&
		    rd(&t->rd, bt->addr + (uint64_t)L->ob_type.off, &meta)) {
			uint32_t midx;
			pg_error *err = pg_heap_type(h, meta, &midx);
			bt = &h->types[bidx]; /* types may have moved */
			if (err || !h->types[midx].valid || nslots > 100000) {
				pg_warn(h->warn, "type %s: its __slots__ are unreadable", bt->name);
				pg_error_destroy(err);
			} else {
				uint64_t members = bt->addr + (uint64_t)h->types[midx].basicsize;
				for (uint64_t i = 0; i < nslots; i++) {
					uint64_t m = members + i * (uint64_t)L->memberdef_size, off, name;
					int32_t mtype;
					if (!rd32(&t->rd, m + (uint64_t)L->md_type.off, &mtype) ||
					    !rd(&t->rd, m + (uint64_t)L->md_offset.off, &off) ||
					    !rd(&t->rd, m + (uint64_t)L->md_name.off, &name)) {
						pg_warn(h->warn, "type %s: slot %" PRIu64 " unreadable", bt->name, i);
						break;
					}
					if (mtype == T_OBJECT_EX && off < (1u << 20) && !add_slot(p, &cap, (int32_t)off, name))
						break;
				}
			}
		}
		uint64_t next = bt->base;
		if (!next) {
			have_base = false;
			break;
		}
		if ((walk = pg_base_walk_step(&bw, next)) != PG_BASE_OK)
			break;
		pg_error *err = pg_heap_type(h, next, &bidx);
		if (err) {
			pg_error_destroy(err);
			have_base = false;
			break;
		}
	}
	const struct pg_type *ty = &h->types[type_idx];
	if (walk != PG_BASE_OK) {
		pg_warn_partial(h->warn, "type %s: %s: base traversal skipped", ty->name, pg_base_walk_error(walk));
		have_base = false;
	}
	const struct pg_type *base = have_base ? &h->types[bidx] : NULL;
	p->visit_dict = ty->dictoffset != (base ? base->dictoffset : 0);
	p->visit_type = (ty->flags & PG_TPFLAGS_HEAPTYPE) != 0;
	if (base && base->valid && base->traverse)
		p->base = resolve(t, base->traverse, base->name, !(base->flags & PG_TPFLAGS_HEAPTYPE));
}

static struct type_plan *plan_for(struct pg_traverse *t, uint32_t type_idx)
{
	struct pg_heap *h = t->h;
	if (type_idx >= t->nplans) {
		size_t n = h->ntypes > type_idx ? h->ntypes : type_idx + 1;
		struct type_plan *np = pg_reallocarray(t->plans, n, sizeof(*np));
		if (!np)
			return NULL;
		memset(np + t->nplans, 0, (n - t->nplans) * sizeof(*np));
		t->plans = np;
		t->nplans = n;
	}
	struct type_plan *p = &t->plans[type_idx];
	if (p->done)
		return p;
	p->done = true;
	const struct pg_type *ty = &h->types[type_idx];
	if (ty->valid && !(ty->flags & PG_TPFLAGS_HAVE_GC)) {
		if (ty->addr && ty->addr == t->code_type)
			p->owned = OWN_CODE;
		else if (ty->addr && ty->addr == h->in->types[PG_T_UNICODE])
			p->owned = OWN_UNICODE;
		else if (ty->addr && ty->addr == t->file_type)
			p->owned = OWN_FILE;
		return p;
	}
	if (!ty->valid || !ty->traverse)
		return p;
	if (t->prof && !t->subtype_traverse && (ty->flags & PG_TPFLAGS_HEAPTYPE) && (ty->flags & PG_TPFLAGS_HAVE_GC) &&
	    !pg_u64map_get(&t->prof_fn, ty->traverse, &(uint32_t){ 0 })) {
		/* type_new gives every gc heap type subtype_traverse */
		t->subtype_traverse = ty->traverse;
		pg_logf(h->log, "traverse: subtype_traverse is 0x%" PRIx64 " (the tp_traverse of heap type %s)", ty->traverse,
			ty->name);
	}
	if (t->subtype_traverse && ty->traverse == t->subtype_traverse) {
		struct type_plan tmp = { .done = true };
		plan_subtype(t, type_idx, &tmp);
		/* plan_subtype may have grown t->plans through new types */
		t->plans[type_idx] = tmp;
		return &t->plans[type_idx];
	}
	uint64_t fn = ty->traverse;
	char *name = strdup(ty->name);
	struct resolved *r = resolve(t, fn, name ? name : "?", !(ty->flags & PG_TPFLAGS_HEAPTYPE));
	free(name);
	t->plans[type_idx].r = r;
	return &t->plans[type_idx];
}

const char *pg_traverse_name(struct pg_traverse *t, uint32_t type_idx)
{
	struct type_plan *p = plan_for(t, type_idx);
	if (!p)
		return NULL;
	if (p->r)
		return p->r->h ? p->r->h->fn : NULL;
	return t->h->types[type_idx].traverse == t->subtype_traverse ? "subtype_traverse" : NULL;
}

/* ---- visiting --------------------------------------------------------- */

struct vctx {
	struct pg_traverse *t;
	struct pg_reader *r;
	pg_visit_fn visit;
	void *arg;
	bool *approx;
};

static inline void emit(struct vctx *v, uint64_t ref, uint8_t kind, uint64_t payload)
{
	struct pg_label l = { kind, payload };
	v->visit(v->arg, ref, &l);
}

static inline void visit_field(struct vctx *v, uint64_t addr, uint8_t kind, uint64_t payload)
{
	uint64_t x;
	if (rd(v->r, addr, &x) && x)
		emit(v, x, kind, payload);
}

static uint64_t object_size(struct pg_reader *r, const struct pg_layout *L, uint64_t obj, const struct pg_type *ty)
{
	uint64_t size = (uint64_t)ty->basicsize, n;
	if (ty->itemsize && rd(r, obj + (uint64_t)L->ob_size.off, &n)) {
		int64_t sn = (int64_t)n;
		uint64_t un = sn < 0 ? (uint64_t)0 - n : n;
		if (un < (1u << 24))
			size += un * (uint64_t)ty->itemsize;
	}
	return size;
}

static void scan_conservative(struct vctx *v, uint64_t obj, const struct pg_type *ty)
{
	uint64_t size = object_size(v->r, v->t->L, obj, ty);
	if (size > (1u << 20))
		size = 1u << 20;
	*v->approx = true;
	for (uint64_t off = (uint64_t)v->t->L->object_size; off + 8 <= size; off += 8)
		visit_field(v, obj + off, PG_L_OFFSET, off);
}

static void visit_dict(struct vctx *v, uint64_t obj)
{
	struct pg_traverse *t = v->t;
	const struct pg_layout *L = t->L;
	uint64_t mask, table;
	if (!rd(v->r, obj + (uint64_t)L->ma_mask.off, &mask) || !rd(v->r, obj + (uint64_t)L->ma_table.off, &table))
		return;
	if (mask >= MAX_ITEMS || ((mask + 1) & mask)) {
		pg_warn_partial(t->h->warn, "dict 0x%" PRIx64 ": absurd ma_mask %" PRIu64 ": its items are skipped", obj, mask);
		return;
	}
	size_t esz = (size_t)L->dictentry_size;
	const uint8_t *tab = pg_ptr(v->r, table, (mask + 1) * esz);
	for (uint64_t i = 0; i <= mask; i++) {
		uint64_t key, val;
		if (tab) {
			memcpy(&key, tab + i * esz + L->me_key.off, 8);
			memcpy(&val, tab + i * esz + L->me_value.off, 8);
		} else if (!rd(v->r, table + i * esz + (uint64_t)L->me_key.off, &key) ||
			   !rd(v->r, table + i * esz + (uint64_t)L->me_value.off, &val)) {
			pg_warn_partial(t->h->warn, "dict 0x%" PRIx64 ": its table at 0x%" PRIx64 " is unreadable", obj, table);
			return;
		}
		if (!val)
			continue;
		if (key)
			emit(v, key, PG_L_DICTKEY, key);
		emit(v, val, PG_L_KEY, key);
	}
}

static void visit_array(struct vctx *v, uint64_t obj, uint64_t items, uint64_t n, const char *what)
{
	if (n >= MAX_ITEMS) {
		pg_warn_partial(v->t->h->warn, "%s 0x%" PRIx64 " claims %" PRId64 " items: they are skipped",
				what, obj, (int64_t)n);
		return;
	}
	const uint8_t *p = pg_ptr(v->r, items, n * 8);
	for (uint64_t i = 0; i < n; i++) {
		uint64_t x;
		if (p) {
			memcpy(&x, p + i * 8, 8);
		} else if (!rd(v->r, items + i * 8, &x)) {
			pg_warn_partial(v->t->h->warn, "%s 0x%" PRIx64 ": item %" PRIu64 " unreadable; the rest skipped", what, obj, i);
			return;
		}
		if (x)
			emit(v, x, PG_L_INDEX, i);
	}
}

static void visit_set(struct vctx *v, uint64_t obj)
{
	struct pg_traverse *t = v->t;
	const struct pg_layout *L = t->L;
	uint64_t mask, table;
	if (!rd(v->r, obj + (uint64_t)L->set_mask.off, &mask) || !rd(v->r, obj + (uint64_t)L->set_table.off, &table))
		return;
	if (mask >= MAX_ITEMS || ((mask + 1) & mask)) {
		pg_warn_partial(t->h->warn, "set 0x%" PRIx64 ": absurd mask: its items are skipped", obj);
		return;
	}
	size_t esz = (size_t)L->setentry_size;
	uint64_t k = 0;
	for (uint64_t i = 0; i <= mask; i++) {
		uint64_t key;
		if (!rd(v->r, table + i * esz + (uint64_t)L->se_key.off, &key)) {
			pg_warn_partial(t->h->warn, "set 0x%" PRIx64 ": its table is unreadable", obj);
			return;
		}
		if (!key)
			continue;
		bool dummy = false;
		for (size_t d = 0; d < t->ndummy; d++)
			dummy |= key == t->dummy[d];
		if (!dummy)
			emit(v, key, PG_L_INDEX, k++);
	}
}

static uint64_t tuple_size(struct pg_reader *r, const struct pg_layout *L, uint64_t tup)
{
	uint64_t n = 0;
	if (!tup || !rd(r, tup + (uint64_t)L->ob_size.off, &n) || n >= (1u << 24))
		return 0;
	return n;
}

static void visit_frame(struct vctx *v, uint64_t obj)
{
	struct pg_traverse *t = v->t;
	const struct pg_layout *f = t->L;
	uint64_t code, n = 0;
	if (!rd(v->r, obj + (uint64_t)f->f_code.off, &code) || !code)
		return;
	int32_t nlocals;
	uint64_t cellvars = 0, freevars = 0, varnames = 0;
	if (!rd32(v->r, code + (uint64_t)f->co_nlocals.off, &nlocals) || nlocals < 0 ||
	    !rd(v->r, code + (uint64_t)f->co_cellvars.off, &cellvars) ||
	    !rd(v->r, code + (uint64_t)f->co_freevars.off, &freevars)) {
		pg_warn_partial(t->h->warn, "frame 0x%" PRIx64 ": its code object is unreadable; locals skipped", obj);
		return;
	}
	rd(v->r, code + (uint64_t)f->co_varnames.off, &varnames);
	uint64_t ncell = tuple_size(v->r, t->L, cellvars), nfree = tuple_size(v->r, t->L, freevars);
	n = (uint64_t)nlocals + ncell + nfree;
	if (n > 100000) {
		pg_warn_partial(t->h->warn, "frame 0x%" PRIx64 ": %" PRIu64 " locals is absurd; skipped", obj, n);
		return;
	}
	uint64_t nvar = tuple_size(v->r, t->L, varnames);
	uint64_t base = obj + (uint64_t)f->f_localsplus.off;
	uint64_t titem = (uint64_t)t->L->tuple_item.off;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t x, name = 0;
		if (!rd(v->r, base + 8 * i, &x) || !x)
			continue;
		uint8_t kind = PG_L_LOCAL;
		if (i < (uint64_t)nlocals) {
			if (i < nvar)
				rd(v->r, varnames + titem + 8 * i, &name);
		} else {
			kind = PG_L_CELL;
			uint64_t j = i - (uint64_t)nlocals;
			if (j < ncell)
				rd(v->r, cellvars + titem + 8 * j, &name);
			else
				rd(v->r, freevars + titem + 8 * (j - ncell), &name);
		}
		if (name)
			emit(v, x, kind, name);
		else
			emit(v, x, PG_L_INDEX, i);
	}
	uint64_t top, bottom;
	if (rd(v->r, obj + (uint64_t)f->f_stacktop.off, &top) && top &&
	    rd(v->r, obj + (uint64_t)f->f_valuestack.off, &bottom) && bottom <= top) {
		if ((top - bottom) / 8 > 100000) {
			pg_warn_partial(t->h->warn, "frame 0x%" PRIx64 ": absurd value stack; skipped", obj);
			return;
		}
		for (uint64_t p = bottom, i = 0; p < top; p += 8, i++) {
			uint64_t x;
			if (rd(v->r, p, &x) && x)
				emit(v, x, PG_L_NAME, (uint64_t)(uintptr_t)"f_valuestack");
		}
	}
}

/* deque_traverse: from leftblock along rightlink; aux: leftblock rightblock
 * leftindex rightindex len block.data block.rightlink */
static void visit_deque(struct vctx *v, const struct resolved *r, uint64_t obj)
{
	struct pg_traverse *t = v->t;
	const struct pg_field *a = r->aux;
	if (r->naux != 7 || a[5].size < 8)
		return;
	uint64_t b, right, lo, hi, len;
	if (!rd(v->r, obj + (uint64_t)a[0].off, &b) || !rd(v->r, obj + (uint64_t)a[1].off, &right) ||
	    !rd(v->r, obj + (uint64_t)a[2].off, &lo) || !rd(v->r, obj + (uint64_t)a[3].off, &hi) ||
	    !rd(v->r, obj + (uint64_t)a[4].off, &len))
		return;
	uint64_t blen = (uint64_t)a[5].size / 8, maxblocks = len / blen + 2, k = 0;
	for (uint64_t nb = 0; b && nb <= maxblocks; nb++) {
		uint64_t last = b == right ? hi : blen - 1;
		for (uint64_t i = lo; i <= last && i < blen; i++) {
			uint64_t x;
			if (rd(v->r, b + (uint64_t)a[5].off + 8 * i, &x) && x)
				emit(v, x, PG_L_INDEX, k);
			k++;
		}
		lo = 0;
		if (b == right)
			return;
		if (!rd(v->r, b + (uint64_t)a[6].off, &b))
			break;
	}
	pg_warn_partial(t->h->warn, "deque 0x%" PRIx64 ": its block list does not end where its length says", obj);
}

/* teedataobject_traverse: values[0..numread); aux: numread values */
static void visit_teedata(struct vctx *v, const struct resolved *r, uint64_t obj)
{
	struct pg_traverse *t = v->t;
	int32_t n;
	if (r->naux != 2 || !rd32(v->r, obj + (uint64_t)r->aux[0].off, &n))
		return;
	int32_t cap = r->aux[1].size / 8;
	if (n < 0 || n > cap) {
		pg_warn_partial(t->h->warn, "itertools tee data 0x%" PRIx64 ": numread %d is outside 0..%d; its values are skipped",
				obj, n, cap);
		return;
	}
	for (int32_t i = 0; i < n; i++)
		visit_field(v, obj + (uint64_t)r->aux[1].off + 8 * (uint64_t)i, PG_L_INDEX, (uint64_t)i);
}

/* xmlparse_traverse: handlers[i] while handler_info[i].name != NULL; aux:
 * handlers sizeof(HandlerInfo) HandlerInfo.name; sym: handler_info */
static void visit_xmlparse(struct vctx *v, const struct resolved *r, uint64_t obj)
{
	struct pg_traverse *t = v->t;
	uint64_t arr;
	if (r->naux != 3 || r->aux[1].size <= 0 || !rd(v->r, obj + (uint64_t)r->aux[0].off, &arr) || !arr)
		return;
	uint64_t esz = (uint64_t)r->aux[1].size, n = r->symsize / esz;
	if (n > 4096)
		n = 4096;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t name;
		if (!rd(v->r, r->sym + i * esz + (uint64_t)r->aux[2].off, &name)) {
			pg_warn_partial(t->h->warn, "pyexpat handler_info is unreadable; xmlparser handlers skipped");
			return;
		}
		if (!name)
			return;
		visit_field(v, arr + 8 * i, PG_L_SLOT, name);
	}
}

/* CDataType_traverse: PyType_stgdict(type)->proto when the type's tp_dict
 * is exactly a StgDict (then type_traverse, the fields); aux: tp_flags
 * tp_dict StgDictObject.proto; sym: PyCStgDict_Type */
static void visit_ctypes_type(struct vctx *v, const struct resolved *r, uint64_t obj)
{
	struct pg_traverse *t = v->t;
	uint64_t flags = 0, dict, dtype;
	if (r->naux != 3)
		return;
	if (r->aux[0].size == 8) {
		if (!rd(v->r, obj + (uint64_t)r->aux[0].off, &flags))
			return;
	} else {
		int32_t f32;
		if (!rd32(v->r, obj + (uint64_t)r->aux[0].off, &f32))
			return;
		flags = (uint32_t)f32;
	}
	if (!(flags & TPFLAGS_HAVE_CLASS) || !rd(v->r, obj + (uint64_t)r->aux[1].off, &dict) || !dict ||
	    !rd(v->r, dict + (uint64_t)t->L->ob_type.off, &dtype))
		return;
	if (!r->sym && t->prof) {
		/* a built-in profile: PyCStgDict_Type has no dynamic symbol, its
		 * tp_name says it */
		uint64_t name;
		char buf[8] = "";
		if (!rd(v->r, dtype + (uint64_t)t->L->tp_name.off, &name) || !pg_try_read(v->r, name, buf, 8) ||
		    memcmp(buf, "StgDict", 8) != 0)
			return;
	} else if (dtype != r->sym) {
		return;
	}
	visit_field(v, dict + (uint64_t)r->aux[2].off, PG_L_NAME, (uint64_t)(uintptr_t)"_type_");
}

static void run_resolved(struct vctx *v, const struct resolved *r, uint64_t obj, const struct pg_type *ty)
{
	struct pg_traverse *t = v->t;
	const struct pg_layout *L = t->L;
	if (r->conservative || !r->h) {
		scan_conservative(v, obj, ty);
		return;
	}
	for (int i = 0; i < r->nf; i++)
		visit_field(v, obj + (uint64_t)r->off[i], PG_L_NAME, (uint64_t)(uintptr_t)r->label[i]);
	uint64_t n, items;
	switch (r->h->sp) {
	case SP_DICT:
	case SP_DEFDICT:
		visit_dict(v, obj);
		break;
	case SP_LIST:
		if (rd(v->r, obj + (uint64_t)L->ob_size.off, &n) && rd(v->r, obj + (uint64_t)L->list_item.off, &items) &&
		    (n == 0 || items))
			visit_array(v, obj, items, n, "list");
		break;
	case SP_TUPLE:
		if (rd(v->r, obj + (uint64_t)L->ob_size.off, &n))
			visit_array(v, obj, obj + (uint64_t)L->tuple_item.off, n, "tuple");
		break;
	case SP_SET:
		visit_set(v, obj);
		break;
	case SP_FRAME:
		if (t->L->frames_ok)
			visit_frame(v, obj);
		else
			scan_conservative(v, obj, ty);
		break;
	case SP_DEQUE:
		visit_deque(v, r, obj);
		break;
	case SP_TEEDATA:
		visit_teedata(v, r, obj);
		break;
	case SP_XMLPARSE:
		visit_xmlparse(v, r, obj);
		break;
	case SP_CTYPES_TYPE:
		visit_ctypes_type(v, r, obj);
		break;
	default:
		break;
	}
}

/* The references a non-gc object owns (code_dealloc, unicode_dealloc,
 * file_dealloc drop them), each field when the DWARF has it. */
struct owned_field {
	const struct pg_field *f;
	const char *label;
};

static void visit_owned(struct vctx *v, uint8_t kind, uint64_t obj)
{
	const struct pg_layout *L = v->t->L;
	const struct owned_field code[] = {
		{ &L->co_code, "co_code" }, { &L->co_consts, "co_consts" }, { &L->co_names, "co_names" },
		{ &L->co_varnames, "co_varnames" }, { &L->co_freevars, "co_freevars" },
		{ &L->co_cellvars, "co_cellvars" }, { &L->co_filename, "co_filename" },
		{ &L->co_name, "co_name" }, { &L->co_lnotab, "co_lnotab" },
	}, unicode[] = {
		{ &L->unicode_defenc, "defenc" },
	}, file[] = {
		{ &L->file_name, "name" }, { &L->file_mode, "mode" }, { &L->file_encoding, "encoding" },
		{ &L->file_errors, "errors" },
	};
	const struct owned_field *tab = kind == OWN_CODE ? code : kind == OWN_UNICODE ? unicode : file;
	size_t n = kind == OWN_CODE ? sizeof(code) / sizeof(code[0])
		 : kind == OWN_UNICODE ? 1 : sizeof(file) / sizeof(file[0]);
	for (size_t i = 0; i < n; i++)
		if (tab[i].f->off >= 0 && tab[i].f->size == 8)
			visit_field(v, obj + (uint64_t)tab[i].f->off, PG_L_NAME, (uint64_t)(uintptr_t)tab[i].label);
}

pg_error *pg_traverse_object(struct pg_traverse *t, struct pg_reader *r, uint64_t obj, uint32_t type_idx,
			     pg_visit_fn visit, void *arg, bool *approx)
{
	struct type_plan *p = plan_for(t, type_idx);
	if (!p)
		return PG_ENOMEM;
	struct vctx v = { t, r, visit, arg, approx };
	const struct pg_type *ty = &t->h->types[type_idx];
	if (p->owned) {
		visit_owned(&v, p->owned, obj);
		return NULL;
	}
	if (p->r) {
		run_resolved(&v, p->r, obj, ty);
		return NULL;
	}
	if (!ty->valid || ty->traverse != t->subtype_traverse || !t->subtype_traverse)
		return NULL;
	/* subtype_traverse: slots, __dict__, the heap type, the base's traverse */
	for (uint32_t i = 0; i < p->nslots; i++)
		visit_field(&v, obj + (uint64_t)p->slot_off[i], PG_L_SLOT, p->slot_name[i]);
	if (p->visit_dict && ty->dictoffset) {
		int64_t off = ty->dictoffset;
		if (off < 0) {
			uint64_t n;
			if (!rd(v.r, obj + (uint64_t)t->L->ob_size.off, &n))
				goto after_dict;
			int64_t sn = (int64_t)n;
			uint64_t un = sn < 0 ? (uint64_t)0 - n : n;
			if (un > (1u << 24))
				goto after_dict;
			uint64_t size = (uint64_t)ty->basicsize + un * (uint64_t)ty->itemsize;
			size = (size + 7) & ~(uint64_t)7;
			off += (int64_t)size;
		}
		if (off > 0)
			visit_field(&v, obj + (uint64_t)off, PG_L_NAME, (uint64_t)(uintptr_t)"__dict__");
	}
after_dict:
	if (p->visit_type)
		emit(&v, ty->addr, PG_L_NAME, (uint64_t)(uintptr_t)"__class__");
	if (p->base)
		run_resolved(&v, p->base, obj, ty);
	return NULL;
}


/* ---- built-in profiles: the generator's and the test's side ------------ */

pg_error *pg_traverse_profile_from_dwarf(struct pg_dwarf *d, struct pg_handler_profile **out, size_t *n)
{
	struct modinfo mi;
	memset(&mi, 0, sizeof(mi));
	mi.dw = d;
	mi.dwarf_done = true;
	pg_error *err = NULL;
	*out = calloc(NHANDLERS, sizeof(**out));
	*n = 0;
	if (!*out || !want_names(&mi)) {
		err = PG_ENOMEM;
		goto done;
	}
	for (size_t i = 0; i < NHANDLERS; i++)
		mi.fn[i].name = handlers[i].fn;
	err = pg_dwarf_scan(d, mi.defs, mi.ndefs, mi.fn, NHANDLERS, false, NULL);
	if (err)
		goto done;
	for (size_t i = 0; i < NHANDLERS; i++) {
		if (!handlers[i].sname || (handlers[i].sym && handlers[i].sp != SP_CTYPES_TYPE))
			continue;
		struct resolved r;
		memset(&r, 0, sizeof(r));
		char *why = NULL;
		bool ok = resolve_handler(NULL, &mi, i, &r, &why);
		free(why);
		if (ok && r.nf <= PG_PROFILE_FIELDS && r.naux <= PG_PROFILE_AUX) {
			struct pg_handler_profile *hp = &(*out)[(*n)++];
			hp->fn = handlers[i].fn;
			hp->nf = (uint8_t)r.nf;
			hp->naux = (uint8_t)r.naux;
			memcpy(hp->off, r.off, sizeof(r.off[0]) * (size_t)r.nf);
			memcpy(hp->aux, r.aux, sizeof(r.aux[0]) * (size_t)r.naux);
		}
		free(r.labels_buf);
	}
done:
	for (size_t j = 0; j < mi.nowned; j++)
		free(mi.owned[j]);
	free(mi.owned);
	free(mi.defs);
	if (err) {
		free(*out);
		*out = NULL;
		*n = 0;
	}
	return err;
}
