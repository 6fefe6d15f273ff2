#include "traverse.h"

#include <gelf.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layout.h"

#define MAX_FIELDS 16
#define MAX_CHAIN 256          /* tp_base chains, class bases: bounded */
#define MAX_ITEMS (1ULL << 31) /* containers claiming more are not believed */
#define T_OBJECT_EX 16
#define SETUP_LOOP 120

enum special {
	SP_FIELDS,    /* only the listed PyObject * fields */
	SP_DICT, SP_LIST, SP_TUPLE, SP_SET, SP_SUBTYPE, SP_FRAME, SP_DEQUE,
	SP_DEFDICT,   /* fields, then the dict */
	SP_NOTHING,   /* visits nothing */
};

struct handler {
	const char *fn;     /* C name of the traverse function */
	enum special sp;
	const char *sname;  /* struct the fields belong to (NULL: none) */
	const char *fields; /* "field field=label ..." */
};

/* Every traverse function of CPython 2.7 (and Debian's built-in modules)
 * that is emulated.  Fields are visited in the order CPython visits them.
 * docs/traverse-coverage.md lists them all against the debug info. */
static const struct handler handlers[] = {
	{ "dict_traverse", SP_DICT, NULL, NULL },
	{ "list_traverse", SP_LIST, NULL, NULL },
	{ "tupletraverse", SP_TUPLE, NULL, NULL },
	{ "set_traverse", SP_SET, NULL, NULL },
	{ "subtype_traverse", SP_SUBTYPE, NULL, NULL },
	{ "frame_traverse", SP_FRAME, "PyFrameObject",
	  "f_back f_code f_builtins f_globals f_locals f_trace f_exc_type f_exc_value f_exc_traceback" },
	{ "deque_traverse", SP_DEQUE, NULL, NULL },
	{ "defdict_traverse", SP_DEFDICT, "defdictobject", "default_factory" },
	{ "type_traverse", SP_FIELDS, "PyTypeObject", "tp_dict tp_cache tp_mro tp_bases tp_base" },
	{ "func_traverse", SP_FIELDS, "PyFunctionObject",
	  "func_code func_globals func_module func_defaults func_doc func_name func_dict func_closure" },
	{ "cell_traverse", SP_FIELDS, "PyCellObject", "ob_ref=cell_contents" },
	{ "gen_traverse", SP_FIELDS, "PyGenObject", "gi_frame gi_code" },
	{ "instancemethod_traverse", SP_FIELDS, "PyMethodObject", "im_func im_self im_class" },
	{ "meth_traverse", SP_FIELDS, "PyCFunctionObject", "m_self=__self__ m_module=__module__" },
	{ "tb_traverse", SP_FIELDS, "PyTracebackObject", "tb_next tb_frame" },
	{ "module_traverse", SP_FIELDS, "PyModuleObject", "md_dict=__dict__" },
	{ "gc_traverse", SP_FIELDS, "PyWeakReference", "wr_callback=__callback__" },
	{ "property_traverse", SP_FIELDS, "propertyobject", "prop_get=fget prop_set=fset prop_del=fdel prop_doc=__doc__" },
	{ "cm_traverse", SP_FIELDS, "classmethod", "cm_callable=__func__" },
	{ "sm_traverse", SP_FIELDS, "staticmethod", "sm_callable=__func__" },
	{ "descr_traverse", SP_FIELDS, "PyDescrObject", "d_type=__objclass__" },
	{ "wrapper_traverse", SP_FIELDS, "wrapperobject", "descr self=__self__" },
	{ "super_traverse", SP_FIELDS, "superobject", "obj=__self__ type=__thisclass__ obj_type=__self_class__" },
	{ "BaseException_traverse", SP_FIELDS, "PyBaseExceptionObject", "dict=__dict__ args message" },
	{ "class_traverse", SP_FIELDS, "PyClassObject",
	  "cl_bases=__bases__ cl_dict=__dict__ cl_name=__name__ cl_getattr=__getattr__ cl_setattr=__setattr__ cl_delattr=__delattr__" },
	{ "instance_traverse", SP_FIELDS, "PyInstanceObject", "in_class=__class__ in_dict=__dict__" },
	{ "partial_traverse", SP_FIELDS, "partialobject", "fn=func args kw=keywords dict=__dict__" },
	{ "iter_traverse", SP_FIELDS, "seqiterobject", "it_seq" },
	{ "calliter_traverse", SP_FIELDS, "calliterobject", "it_callable it_sentinel" },
	{ "listiter_traverse", SP_FIELDS, "listiterobject", "it_seq" },
	{ "listreviter_traverse", SP_FIELDS, "listreviterobject", "it_seq" },
	{ "dictiter_traverse", SP_FIELDS, "dictiterobject", "di_dict di_result" },
	{ "setiter_traverse", SP_FIELDS, "setiterobject", "si_set" },
	{ "tupleiter_traverse", SP_FIELDS, "tupleiterobject", "it_seq" },
	{ "dictview_traverse", SP_FIELDS, "dictviewobject", "dv_dict" },
	{ "enum_traverse", SP_FIELDS, "enumobject", "en_sit en_result en_longindex" },
	{ "reversed_traverse", SP_FIELDS, "reversedobject", "seq" },
	{ "slice_traverse", SP_FIELDS, "PySliceObject", "start stop step" },
	{ "proxy_traverse", SP_FIELDS, "proxyobject", "dict" },
};
#define NHANDLERS (sizeof(handlers) / sizeof(handlers[0]))

size_t pg_traverse_known(const char *const **names)
{
	static const char *list[NHANDLERS];
	for (size_t i = 0; i < NHANDLERS; i++)
		list[i] = handlers[i].fn;
	*names = list;
	return NHANDLERS;
}

/* A handler made concrete for one module's layouts. */
struct resolved {
	const struct handler *h;
	uint64_t fnaddr;
	int nf;
	int32_t off[MAX_FIELDS];
	const char *label[MAX_FIELDS];
	char *labels_buf;
	bool conservative;     /* unknown: conservative scan */
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
};

struct modinfo {
	Dwfl_Module *mod;
	struct pg_symtab syms;
	bool own_syms, loaded;
	struct pg_dwarf_want *want;  /* one per handler struct name, lazily */
	bool dwarf_done;
};

struct frame_layout {
	bool ok;
	struct pg_field f_code, f_localsplus, f_valuestack, f_stacktop, f_iblock, f_blockstack;
	int32_t tryblock_size;
	struct pg_field b_type;
	struct pg_field co_nlocals, co_cellvars, co_freevars, co_varnames;
	struct pg_field gi_frame;
	struct pg_field tp_dict_off;
};

struct deque_layout {
	bool ok;
	struct pg_field leftblock, rightblock, leftindex, rightindex, len;
	struct pg_field data, rightlink;
	int32_t blocklen;
};

struct pg_traverse {
	struct pg_heap *h;
	struct pg_mem *mem;
	const struct pg_layout *L;
	struct modinfo *mods;
	size_t nmods, capmods;
	struct resolved **res;
	size_t nres, capres;
	struct pg_u64map res_index;   /* traverse fn address -> res index */
	struct type_plan *plans;      /* by type index */
	size_t nplans;
	uint64_t subtype_traverse;
	uint64_t gen_type;
	struct frame_layout fl;
	struct pg_u64map deque_mods;  /* module base -> index in deques */
	struct deque_layout dq;
};

/* ---- helpers ---------------------------------------------------------- */

static inline bool rd(struct pg_traverse *t, uint64_t addr, uint64_t *v)
{
	pg_error *err = pg_read_u64(t->mem, addr, v);
	if (err) {
		pg_error_destroy(err);
		return false;
	}
	return true;
}

static inline bool rd32(struct pg_traverse *t, uint64_t addr, int32_t *v)
{
	const uint8_t *p = pg_ptr(t->mem, addr, 4);
	if (p) {
		memcpy(v, p, 4);
		return true;
	}
	pg_error *err = pg_read(t->mem, addr, v, 4);
	if (err) {
		pg_error_destroy(err);
		return false;
	}
	return true;
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

/* Finds the DWARF structs named by handlers, once per module. */
static void module_dwarf(struct pg_traverse *t, struct modinfo *mi)
{
	if (mi->dwarf_done)
		return;
	mi->dwarf_done = true;
	mi->want = calloc(NHANDLERS, sizeof(*mi->want));
	if (!mi->want)
		return;
	for (size_t i = 0; i < NHANDLERS; i++)
		mi->want[i].name = handlers[i].sname ? handlers[i].sname : "";
	/* "" never matches a DWARF name; mark them found to stop early */
	for (size_t i = 0; i < NHANDLERS; i++)
		if (!handlers[i].sname)
			mi->want[i].found = true;
	pg_error *err = pg_dwarf_find_structs(mi->mod, mi->want, NHANDLERS, NULL);
	pg_error_destroy(err);
	(void)t;
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

static bool resolve_fields(struct modinfo *mi, size_t hi, struct resolved *r, char **why)
{
	const struct handler *h = &handlers[hi];
	if (!h->sname)
		return true;
	if (!mi->want || !mi->want[hi].found) {
		*why = pg_asprintf("no DWARF definition of %s", h->sname);
		return false;
	}
	r->labels_buf = strdup(h->fields);
	if (!r->labels_buf)
		return false;
	char *save = NULL;
	for (char *tok = strtok_r(r->labels_buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		if (r->nf >= MAX_FIELDS)
			break;
		char *eq = strchr(tok, '=');
		const char *label = tok;
		if (eq) {
			*eq = 0;
			label = eq + 1;
		}
		struct pg_field f;
		pg_error *err = pg_dwarf_member(&mi->want[hi].die, h->sname, tok, &f);
		if (err) {
			*why = pg_asprintf("%s", err->message);
			pg_error_destroy(err);
			return false;
		}
		if (f.size != 8) {
			*why = pg_asprintf("%s.%s is not a pointer", h->sname, tok);
			return false;
		}
		r->off[r->nf] = f.off;
		r->label[r->nf] = label;
		r->nf++;
	}
	return true;
}

/* The handler for a traverse function address (cached). */
static struct resolved *resolve(struct pg_traverse *t, uint64_t fnaddr, const char *tname)
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
			module_dwarf(t, mi);
			if (resolve_fields(mi, i, r, &why)) {
				r->h = &handlers[i];
				return r;
			}
			break;
		}
		if (!why)
			why = pg_asprintf("%.*s is not emulated", (int)s->baselen, s->name);
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

static void frame_layout(struct pg_traverse *t)
{
	struct pg_dwarf_want w[] = { { .name = "PyFrameObject" }, { .name = "PyTryBlock" },
				     { .name = "PyCodeObject" }, { .name = "PyGenObject" } };
	pg_error *err = pg_dwarf_find_structs(t->h->in->mod, w, 4, NULL);
	pg_error_destroy(err);
	if (!w[0].found || !w[1].found || !w[2].found || !w[3].found) {
		pg_warn(t->h->warn, "no DWARF for frames/code/generators: frames are scanned conservatively");
		return;
	}
	struct frame_layout *f = &t->fl;
	struct { Dwarf_Die *d; const char *s, *m; struct pg_field *out; } m[] = {
		{ &w[0].die, "PyFrameObject", "f_code", &f->f_code },
		{ &w[0].die, "PyFrameObject", "f_localsplus", &f->f_localsplus },
		{ &w[0].die, "PyFrameObject", "f_valuestack", &f->f_valuestack },
		{ &w[0].die, "PyFrameObject", "f_stacktop", &f->f_stacktop },
		{ &w[0].die, "PyFrameObject", "f_iblock", &f->f_iblock },
		{ &w[0].die, "PyFrameObject", "f_blockstack", &f->f_blockstack },
		{ &w[1].die, "PyTryBlock", "b_type", &f->b_type },
		{ &w[2].die, "PyCodeObject", "co_nlocals", &f->co_nlocals },
		{ &w[2].die, "PyCodeObject", "co_cellvars", &f->co_cellvars },
		{ &w[2].die, "PyCodeObject", "co_freevars", &f->co_freevars },
		{ &w[2].die, "PyCodeObject", "co_varnames", &f->co_varnames },
		{ &w[3].die, "PyGenObject", "gi_frame", &f->gi_frame },
	};
	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		err = pg_dwarf_member(m[i].d, m[i].s, m[i].m, m[i].out);
		if (err) {
			pg_warn(t->h->warn, "frames: %s", err->message);
			pg_error_destroy(err);
			return;
		}
	}
	Dwarf_Word sz;
	if (dwarf_aggregate_size(&w[1].die, &sz) != 0 || sz == 0 || sz > 64)
		return;
	f->tryblock_size = (int32_t)sz;
	f->ok = true;
}

static void deque_layout(struct pg_traverse *t, Dwfl_Module *mod)
{
	struct pg_dwarf_want w[] = { { .name = "dequeobject" }, { .name = "block" } };
	pg_error *err = pg_dwarf_find_structs(mod, w, 2, NULL);
	pg_error_destroy(err);
	if (!w[0].found || !w[1].found)
		return;
	struct deque_layout *d = &t->dq;
	struct { Dwarf_Die *die; const char *s, *m; struct pg_field *out; } m[] = {
		{ &w[0].die, "dequeobject", "leftblock", &d->leftblock },
		{ &w[0].die, "dequeobject", "rightblock", &d->rightblock },
		{ &w[0].die, "dequeobject", "leftindex", &d->leftindex },
		{ &w[0].die, "dequeobject", "rightindex", &d->rightindex },
		{ &w[0].die, "dequeobject", "len", &d->len },
		{ &w[1].die, "block", "data", &d->data },
		{ &w[1].die, "block", "rightlink", &d->rightlink },
	};
	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		err = pg_dwarf_member(m[i].die, m[i].s, m[i].m, m[i].out);
		if (err) {
			pg_error_destroy(err);
			return;
		}
	}
	d->blocklen = d->data.size / 8;
	d->ok = d->blocklen > 0;
}

pg_error *pg_traverse_new(struct pg_heap *h, struct pg_traverse **ret)
{
	struct pg_traverse *t = calloc(1, sizeof(*t));
	if (!t)
		return &pg_enomem;
	t->h = h;
	t->mem = &h->core->mem;
	t->L = &h->in->L;
	const struct pg_sym *s;
	pg_error *err = pg_symtab_find(&h->in->syms, "subtype_traverse", STT_FUNC, &s);
	if (err) {
		pg_warn(h->warn, "cannot find subtype_traverse (%s): class instances are scanned conservatively", err->message);
		pg_error_destroy(err);
	} else {
		t->subtype_traverse = s->addr;
	}
	err = pg_symtab_find(&h->in->syms, "PyGen_Type", STT_OBJECT, &s);
	if (!err)
		t->gen_type = s->addr;
	pg_error_destroy(err);
	frame_layout(t);
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
		free(t->mods[i].want);
	}
	free(t->mods);
	pg_u64map_free(&t->res_index);
	pg_u64map_free(&t->deque_mods);
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
	int depth;
	for (depth = 0; depth < MAX_CHAIN; depth++) {
		const struct pg_type *bt = &h->types[bidx];
		if (!bt->valid || bt->traverse != t->subtype_traverse)
			break;
		uint64_t nslots = 0, meta = 0;
		if (rd(t, bt->addr + (uint64_t)L->ob_size.off, &nslots) && nslots &&
		    rd(t, bt->addr + (uint64_t)L->ob_type.off, &meta)) {
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
					if (!rd32(t, m + (uint64_t)L->md_type.off, &mtype) ||
					    !rd(t, m + (uint64_t)L->md_offset.off, &off) ||
					    !rd(t, m + (uint64_t)L->md_name.off, &name)) {
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
		pg_error *err = pg_heap_type(h, next, &bidx);
		if (err) {
			pg_error_destroy(err);
			have_base = false;
			break;
		}
	}
	const struct pg_type *ty = &h->types[type_idx];
	if (depth == MAX_CHAIN) {
		pg_warn_partial(h->warn, "type %s: its tp_base chain is longer than %d (a loop?): base traversal skipped",
				ty->name, MAX_CHAIN);
		have_base = false;
	}
	const struct pg_type *base = have_base ? &h->types[bidx] : NULL;
	p->visit_dict = ty->dictoffset != (base ? base->dictoffset : 0);
	p->visit_type = (ty->flags & PG_TPFLAGS_HEAPTYPE) != 0;
	if (base && base->valid && base->traverse)
		p->base = resolve(t, base->traverse, base->name);
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
	if (!ty->valid || !ty->traverse)
		return p;
	if (t->subtype_traverse && ty->traverse == t->subtype_traverse) {
		struct type_plan tmp = { .done = true };
		plan_subtype(t, type_idx, &tmp);
		/* plan_subtype may have grown t->plans through new types */
		t->plans[type_idx] = tmp;
		return &t->plans[type_idx];
	}
	uint64_t fn = ty->traverse;
	char *name = strdup(ty->name);
	struct resolved *r = resolve(t, fn, name ? name : "?");
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
	pg_visit_fn visit;
	void *arg;
	bool *approx;
};

static inline void visit_field(struct vctx *v, uint64_t addr, uint8_t kind, uint64_t payload)
{
	uint64_t x;
	if (rd(v->t, addr, &x) && x)
		v->visit(v->arg, x, kind, payload);
}

static uint64_t object_size(struct pg_traverse *t, uint64_t obj, const struct pg_type *ty)
{
	uint64_t size = (uint64_t)ty->basicsize, n;
	if (ty->itemsize && rd(t, obj + (uint64_t)t->L->ob_size.off, &n)) {
		int64_t sn = (int64_t)n;
		uint64_t un = sn < 0 ? (uint64_t)0 - n : n;
		if (un < (1u << 24))
			size += un * (uint64_t)ty->itemsize;
	}
	return size;
}

static void scan_conservative(struct vctx *v, uint64_t obj, const struct pg_type *ty)
{
	uint64_t size = object_size(v->t, obj, ty);
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
	if (!rd(t, obj + (uint64_t)L->ma_mask.off, &mask) || !rd(t, obj + (uint64_t)L->ma_table.off, &table))
		return;
	if (mask >= MAX_ITEMS || ((mask + 1) & mask)) {
		pg_warn_partial(t->h->warn, "dict 0x%" PRIx64 ": absurd ma_mask %" PRIu64 ": its items are skipped", obj, mask);
		return;
	}
	size_t esz = (size_t)L->dictentry_size;
	const uint8_t *tab = pg_ptr(t->mem, table, (mask + 1) * esz);
	for (uint64_t i = 0; i <= mask; i++) {
		uint64_t key, val;
		if (tab) {
			memcpy(&key, tab + i * esz + L->me_key.off, 8);
			memcpy(&val, tab + i * esz + L->me_value.off, 8);
		} else if (!rd(t, table + i * esz + (uint64_t)L->me_key.off, &key) ||
			   !rd(t, table + i * esz + (uint64_t)L->me_value.off, &val)) {
			pg_warn_partial(t->h->warn, "dict 0x%" PRIx64 ": its table at 0x%" PRIx64 " is unreadable", obj, table);
			return;
		}
		if (!val)
			continue;
		if (key)
			v->visit(v->arg, key, PG_L_DICTKEY, key);
		v->visit(v->arg, val, PG_L_KEY, key);
	}
}

static void visit_array(struct vctx *v, uint64_t obj, uint64_t items, uint64_t n, const char *what)
{
	if (n >= MAX_ITEMS) {
		pg_warn_partial(v->t->h->warn, "%s 0x%" PRIx64 " claims %" PRId64 " items: they are skipped",
				what, obj, (int64_t)n);
		return;
	}
	const uint8_t *p = pg_ptr(v->t->mem, items, n * 8);
	for (uint64_t i = 0; i < n; i++) {
		uint64_t x;
		if (p) {
			memcpy(&x, p + i * 8, 8);
		} else if (!rd(v->t, items + i * 8, &x)) {
			pg_warn_partial(v->t->h->warn, "%s 0x%" PRIx64 ": item %" PRIu64 " unreadable; the rest skipped", what, obj, i);
			return;
		}
		if (x)
			v->visit(v->arg, x, PG_L_INDEX, i);
	}
}

static void visit_set(struct vctx *v, uint64_t obj)
{
	struct pg_traverse *t = v->t;
	const struct pg_layout *L = t->L;
	uint64_t mask, table;
	if (!rd(t, obj + (uint64_t)L->set_mask.off, &mask) || !rd(t, obj + (uint64_t)L->set_table.off, &table))
		return;
	if (mask >= MAX_ITEMS || ((mask + 1) & mask)) {
		pg_warn_partial(t->h->warn, "set 0x%" PRIx64 ": absurd mask: its items are skipped", obj);
		return;
	}
	size_t esz = (size_t)L->setentry_size;
	uint64_t k = 0;
	for (uint64_t i = 0; i <= mask; i++) {
		uint64_t key;
		if (!rd(t, table + i * esz + (uint64_t)L->se_key.off, &key)) {
			pg_warn_partial(t->h->warn, "set 0x%" PRIx64 ": its table is unreadable", obj);
			return;
		}
		if (key)
			v->visit(v->arg, key, PG_L_INDEX, k++);
	}
}

static uint64_t tuple_size(struct pg_traverse *t, uint64_t tup)
{
	uint64_t n = 0;
	if (!tup || !rd(t, tup + (uint64_t)t->L->ob_size.off, &n) || n >= (1u << 24))
		return 0;
	return n;
}

static void visit_frame(struct vctx *v, uint64_t obj)
{
	struct pg_traverse *t = v->t;
	const struct frame_layout *f = &t->fl;
	uint64_t code, n = 0;
	if (!rd(t, obj + (uint64_t)f->f_code.off, &code) || !code)
		return;
	int32_t nlocals;
	uint64_t cellvars = 0, freevars = 0, varnames = 0;
	if (!rd32(t, code + (uint64_t)f->co_nlocals.off, &nlocals) || nlocals < 0 ||
	    !rd(t, code + (uint64_t)f->co_cellvars.off, &cellvars) ||
	    !rd(t, code + (uint64_t)f->co_freevars.off, &freevars)) {
		pg_warn_partial(t->h->warn, "frame 0x%" PRIx64 ": its code object is unreadable; locals skipped", obj);
		return;
	}
	rd(t, code + (uint64_t)f->co_varnames.off, &varnames);
	uint64_t ncell = tuple_size(t, cellvars), nfree = tuple_size(t, freevars);
	n = (uint64_t)nlocals + ncell + nfree;
	if (n > 100000) {
		pg_warn_partial(t->h->warn, "frame 0x%" PRIx64 ": %" PRIu64 " locals is absurd; skipped", obj, n);
		return;
	}
	uint64_t nvar = tuple_size(t, varnames);
	uint64_t base = obj + (uint64_t)f->f_localsplus.off;
	uint64_t titem = (uint64_t)t->L->tuple_item.off;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t x, name = 0;
		if (!rd(t, base + 8 * i, &x) || !x)
			continue;
		uint8_t kind = PG_L_LOCAL;
		if (i < (uint64_t)nlocals) {
			if (i < nvar)
				rd(t, varnames + titem + 8 * i, &name);
		} else {
			kind = PG_L_CELL;
			uint64_t j = i - (uint64_t)nlocals;
			if (j < ncell)
				rd(t, cellvars + titem + 8 * j, &name);
			else
				rd(t, freevars + titem + 8 * (j - ncell), &name);
		}
		if (name)
			v->visit(v->arg, x, kind, name);
		else
			v->visit(v->arg, x, PG_L_INDEX, i);
	}
	uint64_t top, bottom;
	if (rd(t, obj + (uint64_t)f->f_stacktop.off, &top) && top &&
	    rd(t, obj + (uint64_t)f->f_valuestack.off, &bottom) && bottom <= top) {
		if ((top - bottom) / 8 > 100000) {
			pg_warn_partial(t->h->warn, "frame 0x%" PRIx64 ": absurd value stack; skipped", obj);
			return;
		}
		for (uint64_t p = bottom, i = 0; p < top; p += 8, i++) {
			uint64_t x;
			if (rd(t, p, &x) && x)
				v->visit(v->arg, x, PG_L_NAME, (uint64_t)(uintptr_t)"f_valuestack");
		}
	}
}

static void visit_deque(struct vctx *v, uint64_t obj, uint64_t fnaddr)
{
	struct pg_traverse *t = v->t;
	uint32_t dummy;
	if (!pg_u64map_get(&t->deque_mods, 1, &dummy)) {
		Dwfl_Module *mod = dwfl_addrmodule(t->h->core->dwfl, fnaddr);
		if (mod)
			deque_layout(t, mod);
		pg_u64map_put(&t->deque_mods, 1, 1);
		if (!t->dq.ok)
			pg_warn(t->h->warn, "deque: no DWARF layout for dequeobject/block: deques are not traversed");
	}
	const struct deque_layout *d = &t->dq;
	if (!d->ok)
		return;
	uint64_t b, right, lo, hi, len;
	if (!rd(t, obj + (uint64_t)d->leftblock.off, &b) || !rd(t, obj + (uint64_t)d->rightblock.off, &right) ||
	    !rd(t, obj + (uint64_t)d->leftindex.off, &lo) || !rd(t, obj + (uint64_t)d->rightindex.off, &hi) ||
	    !rd(t, obj + (uint64_t)d->len.off, &len))
		return;
	uint64_t blen = (uint64_t)d->blocklen, maxblocks = len / blen + 2, k = 0;
	for (uint64_t nb = 0; b && nb <= maxblocks; nb++) {
		uint64_t last = b == right ? hi : blen - 1;
		for (uint64_t i = lo; i <= last && i < blen; i++) {
			uint64_t x;
			if (rd(t, b + (uint64_t)d->data.off + 8 * i, &x) && x)
				v->visit(v->arg, x, PG_L_INDEX, k);
			k++;
		}
		lo = 0;
		if (b == right)
			return;
		if (!rd(t, b + (uint64_t)d->rightlink.off, &b))
			break;
	}
	pg_warn_partial(t->h->warn, "deque 0x%" PRIx64 ": its block list does not end where its length says", obj);
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
		if (rd(t, obj + (uint64_t)L->ob_size.off, &n) && rd(t, obj + (uint64_t)L->list_item.off, &items) &&
		    (n == 0 || items))
			visit_array(v, obj, items, n, "list");
		break;
	case SP_TUPLE:
		if (rd(t, obj + (uint64_t)L->ob_size.off, &n))
			visit_array(v, obj, obj + (uint64_t)L->tuple_item.off, n, "tuple");
		break;
	case SP_SET:
		visit_set(v, obj);
		break;
	case SP_FRAME:
		if (t->fl.ok)
			visit_frame(v, obj);
		else
			scan_conservative(v, obj, ty);
		break;
	case SP_DEQUE:
		visit_deque(v, obj, r->fnaddr);
		break;
	default:
		break;
	}
}

pg_error *pg_traverse_object(struct pg_traverse *t, uint64_t obj, uint32_t type_idx,
			     pg_visit_fn visit, void *arg, bool *approx)
{
	struct type_plan *p = plan_for(t, type_idx);
	if (!p)
		return &pg_enomem;
	struct vctx v = { t, visit, arg, approx };
	const struct pg_type *ty = &t->h->types[type_idx];
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
			if (!rd(t, obj + (uint64_t)t->L->ob_size.off, &n))
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
		visit(arg, ty->addr, PG_L_NAME, (uint64_t)(uintptr_t)"__class__");
	if (p->base)
		run_resolved(&v, p->base, obj, ty);
	return NULL;
}

/* ---- finalizers ------------------------------------------------------- */

/* Does dict d hold the str key "__del__"?  *ok false when unreadable. */
static bool dict_has_del(struct pg_traverse *t, uint64_t d, bool *ok)
{
	const struct pg_layout *L = t->L;
	uint64_t mask, table;
	if (!d)
		return false;
	if (!rd(t, d + (uint64_t)L->ma_mask.off, &mask) || !rd(t, d + (uint64_t)L->ma_table.off, &table) ||
	    mask >= MAX_ITEMS || ((mask + 1) & mask)) {
		*ok = false;
		return false;
	}
	size_t esz = (size_t)L->dictentry_size;
	uint64_t str_type = t->h->in->types[PG_T_STRING];
	for (uint64_t i = 0; i <= mask; i++) {
		uint64_t key, val, kt, klen;
		if (!rd(t, table + i * esz + (uint64_t)L->me_key.off, &key) ||
		    !rd(t, table + i * esz + (uint64_t)L->me_value.off, &val)) {
			*ok = false;
			return false;
		}
		if (!val || !key)
			continue;
		if (!rd(t, key + (uint64_t)L->ob_type.off, &kt) || kt != str_type ||
		    !rd(t, key + (uint64_t)L->ob_size.off, &klen) || klen != 7)
			continue;
		char buf[8];
		pg_error *err = pg_read(t->mem, key + (uint64_t)L->ob_sval.off, buf, 7);
		if (err) {
			pg_error_destroy(err);
			continue;
		}
		if (memcmp(buf, "__del__", 7) == 0)
			return true;
	}
	return false;
}

/* _PyInstance_Lookup(inst, "__del__"): the instance dict, then the class
 * and its bases depth-first (iteratively).  Returns the class that defines
 * it (or the instance itself when its dict does), 0 when none. */
static uint64_t instance_del_owner(struct pg_traverse *t, uint64_t obj, bool *ok)
{
	const struct pg_layout *L = t->L;
	uint64_t d, cls;
	if (rd(t, obj + (uint64_t)L->in_dict.off, &d) && dict_has_del(t, d, ok))
		return obj;
	if (!rd(t, obj + (uint64_t)L->in_class.off, &cls) || !cls) {
		*ok = false;
		return 0;
	}
	enum { MAX_STACK = 10000 };
	uint64_t *stack = malloc(MAX_STACK * sizeof(*stack));
	if (!stack) {
		*ok = false;
		return 0;
	}
	size_t sp = 0, visits = 0;
	stack[sp++] = cls;
	uint64_t found = 0;
	while (sp && !found) {
		uint64_t c = stack[--sp];
		if (++visits > 100000) {
			*ok = false;
			break;
		}
		uint64_t cd, bases;
		if (!rd(t, c + (uint64_t)L->cl_dict.off, &cd)) {
			*ok = false;
			continue;
		}
		if (dict_has_del(t, cd, ok)) {
			found = c;
			break;
		}
		if (!rd(t, c + (uint64_t)L->cl_bases.off, &bases))
			continue;
		uint64_t n = tuple_size(t, bases);
		/* push in reverse so that bases[0] is searched first */
		for (uint64_t i = n; i-- > 0;) {
			uint64_t b;
			if (sp == MAX_STACK) {
				*ok = false;
				break;
			}
			if (rd(t, bases + (uint64_t)L->tuple_item.off + 8 * i, &b) && b)
				stack[sp++] = b;
		}
	}
	free(stack);
	return found;
}

static bool gen_needs_finalizing(struct pg_traverse *t, uint64_t obj, bool *ok)
{
	const struct frame_layout *f = &t->fl;
	if (!f->ok) {
		*ok = false;
		return false;
	}
	uint64_t frame, top;
	int32_t iblock;
	if (!rd(t, obj + (uint64_t)f->gi_frame.off, &frame)) {
		*ok = false;
		return false;
	}
	if (!frame)
		return false;
	if (!rd(t, frame + (uint64_t)f->f_stacktop.off, &top) ||
	    !rd32(t, frame + (uint64_t)f->f_iblock.off, &iblock)) {
		*ok = false;
		return false;
	}
	if (!top || iblock <= 0)
		return false;
	if (iblock > 64) {
		*ok = false;
		return false;
	}
	for (int32_t i = iblock; --i >= 0;) {
		int32_t btype;
		if (!rd32(t, frame + (uint64_t)f->f_blockstack.off + (uint64_t)i * (uint64_t)f->tryblock_size +
				     (uint64_t)f->b_type.off, &btype)) {
			*ok = false;
			return false;
		}
		if (btype != SETUP_LOOP)
			return true;
	}
	return false;
}

bool pg_has_finalizer(struct pg_traverse *t, uint64_t obj, uint32_t type_idx, bool *uncertain)
{
	const struct pg_type *ty = &t->h->types[type_idx];
	bool ok = true, r = false;
	if (ty->kind == PG_K_INSTANCE)
		r = instance_del_owner(t, obj, &ok) != 0;
	else if (ty->flags & PG_TPFLAGS_HEAPTYPE)
		r = ty->del != 0;
	else if (t->gen_type && ty->addr == t->gen_type)
		r = gen_needs_finalizing(t, obj, &ok);
	if (!ok && uncertain)
		*uncertain = true;
	return r;
}

static char *str_object(struct pg_traverse *t, uint64_t s)
{
	char buf[128];
	pg_error *err = pg_read_cstr(t->mem, s + (uint64_t)t->L->ob_sval.off, buf, sizeof(buf), NULL);
	if (err) {
		pg_error_destroy(err);
		return NULL;
	}
	return strdup(buf);
}

char *pg_finalizer_source(struct pg_traverse *t, uint64_t obj, uint32_t type_idx)
{
	struct pg_heap *h = t->h;
	const struct pg_layout *L = t->L;
	const struct pg_type *ty = &h->types[type_idx];
	bool ok = true;
	if (ty->kind == PG_K_INSTANCE) {
		uint64_t owner = instance_del_owner(t, obj, &ok), name;
		if (owner == obj)
			return strdup("__del__ in the instance's __dict__");
		if (owner && rd(t, owner + (uint64_t)L->cl_name.off, &name)) {
			char *n = str_object(t, name);
			char *s = n ? pg_asprintf("%s.__del__ (old-style class)", n) : NULL;
			free(n);
			return s;
		}
		return NULL;
	}
	if (ty->flags & PG_TPFLAGS_HEAPTYPE) {
		/* the class in the MRO whose __dict__ defines __del__ */
		uint64_t mro;
		if (rd(t, ty->addr + (uint64_t)L->tp_mro.off, &mro) && mro) {
			uint64_t n = tuple_size(t, mro);
			for (uint64_t i = 0; i < n; i++) {
				uint64_t k, kd;
				if (!rd(t, mro + (uint64_t)L->tuple_item.off + 8 * i, &k) ||
				    !rd(t, k + (uint64_t)L->tp_dict.off, &kd))
					continue;
				if (dict_has_del(t, kd, &ok)) {
					uint32_t kidx;
					pg_error *err = pg_heap_type(h, k, &kidx);
					if (err) {
						pg_error_destroy(err);
						return NULL;
					}
					return pg_asprintf("%s.__del__", h->types[kidx].name);
				}
			}
		}
		return pg_asprintf("%s (tp_del)", h->types[type_idx].name);
	}
	if (t->gen_type && ty->addr == t->gen_type) {
		uint64_t code = 0, name = 0, frame = 0;
		char *fn = NULL;
		if (t->fl.ok && rd(t, obj + (uint64_t)t->fl.gi_frame.off, &frame) && frame &&
		    rd(t, frame + (uint64_t)t->fl.f_code.off, &code) && code) {
			struct pg_dwarf_want w = { .name = "PyCodeObject" };
			pg_error *err = pg_dwarf_find_structs(h->in->mod, &w, 1, NULL);
			pg_error_destroy(err);
			struct pg_field f;
			if (w.found && !(err = pg_dwarf_member(&w.die, "PyCodeObject", "co_name", &f)) &&
			    rd(t, code + (uint64_t)f.off, &name))
				fn = str_object(t, name);
			pg_error_destroy(err);
		}
		char *s = pg_asprintf("generator %s%s suspended in try/finally (or with)", fn ? fn : "", fn ? "()" : "");
		free(fn);
		return s;
	}
	return NULL;
}
