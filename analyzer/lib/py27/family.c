/* CPython 2.7 as an interpreter family (lib/family.h): the glue between the
 * session and this folder's parts (interp, layout, heap, traverse,
 * finalizer, values). */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "../base/alloc.h"
#include "../family.h"
#include "finalizer.h"
#include "profile.h"
#include "heap.h"
#include "roots.h"
#include "traverse.h"
#include "values.h"

struct py27 {
	struct pg_family base;
	struct pg_core *core;
	const struct pg_log *log;
	struct pg_warnings *warn;
	struct pg_interp *in;
	struct pg_heap heap;
	struct pg_traverse *trav;      /* made by prepare (or on first need) */
	struct pg_finalizers *fin;
	struct pg_interp_info info;
};

static struct py27 *P(struct pg_family *f)
{
	return (struct py27 *)f;
}

static void py27_close(struct pg_family *f)
{
	struct py27 *p = P(f);
	if (!p)
		return;
	pg_traverse_free(p->trav);
	pg_finalizers_free(p->fin);
	pg_heap_fini(&p->heap);
	pg_interp_free(p->in);
	free(p);
}

static pg_error *py27_open(struct pg_core *core, const struct pg_log *log, struct pg_warnings *w,
			   struct pg_family **ret)
{
	struct py27 *p = calloc(1, sizeof(*p));
	if (!p)
		return PG_ENOMEM;
	p->base.ops = &pg_py27_family;
	p->core = core;
	p->log = log;
	p->warn = w;
	pg_error *err = pg_interp_find(core, log, w, &p->in);
	if (err) {
		free(p);
		return err;
	}
	pg_heap_init(&p->heap, core, p->in, w, log);
	struct pg_interp *in = p->in;
	p->info = (struct pg_interp_info){
		.family = "CPython 2.7", .modname = in->modname, .mainfile = in->mainfile, .debugfile = in->debugfile,
		.build_id = in->build_id, .version = in->version, .debug_build = in->debug_build,
		.layouts = in->profile ? "profile" : "dwarf", .profile = in->profile ? in->profile->name : NULL,
		.profile_why = in->profile ? in->profile_why : NULL,
		.garbage_found = in->garbage_var != 0 || in->garbage_absent,
	};
	*ret = &p->base;
	return NULL;
}

static const struct pg_interp_info *py27_info(const struct pg_family *f)
{
	return &((const struct py27 *)f)->info;
}

static pg_error *py27_walk(struct pg_family *f, size_t max_objects, struct pg_model *m)
{
	return pg_heap_walk(&P(f)->heap, m, max_objects);
}

/* The traversal and finalizer states, made once (by prepare, before the
 * graph's threads start, or by the first query that needs them). */
static pg_error *ready(struct py27 *p)
{
	pg_error *err = NULL;
	if (!p->trav)
		err = pg_traverse_new(&p->heap, &p->trav);
	if (!err && !p->fin)
		err = pg_finalizers_new(&p->heap, p->heap.m ? p->heap.m->tracked : 0, &p->fin);
	return err;
}

static pg_error *py27_prepare(struct pg_family *f, struct pg_model *m)
{
	struct py27 *p = P(f);
	(void)m;
	pg_error *err = ready(p);
	if (err)
		return err;
	for (uint32_t ti = 0; ti < p->heap.ntypes; ti++)
		(void)pg_traverse_name(p->trav, ti);
	return NULL;
}

static pg_error *py27_traverse(struct pg_family *f, struct pg_reader *r, uint64_t obj, uint32_t type,
			       pg_visit_fn visit, void *arg, bool *approx)
{
	struct py27 *p = P(f);
	pg_error *err = ready(p);
	if (err)
		return err;
	return pg_traverse_object(p->trav, r, obj, type, visit, arg, approx);
}

static int64_t py27_refcount(struct pg_family *f, struct pg_reader *r, uint64_t obj)
{
	struct py27 *p = P(f);
	uint64_t rc = 0;
	pg_error *err = pg_read_u64(r, obj + (uint64_t)p->in->L.ob_refcnt.off, &rc);
	if (err) {
		pg_warn_partial(p->warn, "object 0x%" PRIx64 ": refcount unreadable: %s", obj, err->message);
		pg_error_destroy(err);
	}
	return (int64_t)rc;
}

static void py27_weakrefs(struct pg_family *f, uint64_t obj, uint32_t type, size_t bound, pg_weakref_fn fn, void *arg)
{
	struct py27 *p = P(f);
	const struct pg_layout *L = &p->in->L;
	const struct pg_type *t = &p->heap.types[type];
	if (!(t->flags & PG_TPFLAGS_HAVE_WEAKREFS) || t->weaklistoffset <= 0 || t->weaklistoffset > t->basicsize)
		return;
	struct pg_reader *r = &p->heap.rd;
	uint64_t wr;
	pg_error *err = pg_read_u64(r, obj + (uint64_t)t->weaklistoffset, &wr);
	for (size_t guard = 0; !err && wr && guard < bound; guard++) {
		uint64_t cb = 0, next = 0;
		if ((err = pg_read_u64(r, wr + (uint64_t)L->wr_callback.off, &cb)) ||
		    (err = pg_read_u64(r, wr + (uint64_t)L->wr_next.off, &next)))
			break;
		fn(arg, wr, cb != 0);
		wr = next;
	}
	if (err) {
		pg_warn_partial(p->warn, "weakref list of 0x%" PRIx64 " unreadable: %s", obj, err->message);
		pg_error_destroy(err);
	}
}

static bool py27_has_finalizer(struct pg_family *f, uint64_t obj, uint32_t type, bool *uncertain)
{
	struct py27 *p = P(f);
	pg_error *err = ready(p);
	if (err) {
		pg_error_destroy(err);
		if (uncertain)
			*uncertain = true;
		return false;
	}
	return pg_has_finalizer(p->fin, obj, type, uncertain);
}

static char *py27_finalizer_text(struct pg_family *f, uint64_t obj, uint32_t type)
{
	struct py27 *p = P(f);
	pg_error *err = ready(p);
	if (err) {
		pg_error_destroy(err);
		return NULL;
	}
	return pg_finalizer_source(p->fin, obj, type);
}

static void py27_label_text(struct pg_family *f, const struct pg_label *l, char *buf, size_t cap)
{
	pg_label_text(&P(f)->heap, l, buf, cap);
}

struct untracked {
	const struct pg_model *m;
	void (*fn)(void *arg, uint64_t addr);
	void *arg;
};

static void untracked_visit(void *arg, uint64_t ref, const struct pg_label *label)
{
	(void)label;
	struct untracked *u = arg;
	if (pg_model_index(u->m, ref) == PG_NONE)
		u->fn(u->arg, ref);
}

static void py27_untracked_referents(struct pg_family *f, const struct pg_model *m, uint64_t obj, uint32_t type,
				     void (*fn)(void *arg, uint64_t addr), void *arg)
{
	struct py27 *p = P(f);
	struct untracked u = { m, fn, arg };
	bool approx = false;
	pg_error_destroy(py27_traverse(f, &p->heap.rd, obj, type, untracked_visit, &u, &approx));
}

/* The type entry of an object anywhere in the core, when its type pointer
 * leads to a valid type object. */
static bool object_type(struct py27 *p, uint64_t addr, uint32_t *idx)
{
	uint64_t type;
	if (addr & 7)
		return false;
	pg_error *err = pg_read_u64(&p->heap.rd, addr + (uint64_t)p->in->L.ob_type.off, &type);
	if (!err)
		err = pg_heap_type(&p->heap, type, idx);
	if (err) {
		pg_error_destroy(err);
		return false;
	}
	return p->heap.types[*idx].valid;
}

static bool py27_refcnt_size(struct pg_family *f, struct pg_model *m, uint64_t addr, int64_t *refcnt, uint64_t *size)
{
	struct py27 *p = P(f);
	(void)m;
	uint64_t rc, type;
	uint32_t tidx;
	pg_error *err = pg_read_u64(&p->heap.rd, addr + (uint64_t)p->in->L.ob_refcnt.off, &rc);
	if (!err)
		err = pg_read_u64(&p->heap.rd, addr + (uint64_t)p->in->L.ob_type.off, &type);
	if (!err)
		err = pg_heap_type(&p->heap, type, &tidx);
	if (err) {
		pg_error_destroy(err);
		return false;
	}
	*refcnt = (int64_t)rc;
	*size = pg_heap_size_of(&p->heap, addr, &p->heap.types[tidx]);
	return true;
}

static int64_t py27_length(struct pg_family *f, uint64_t obj, uint32_t type)
{
	struct py27 *p = P(f);
	const struct pg_type *t = &p->heap.types[type];
	const struct pg_layout *L = &p->in->L;
	uint64_t n = 0;
	pg_error *err = NULL;
	if (t->kind == PG_K_DICT)
		err = pg_read_u64(&p->heap.rd, obj + (uint64_t)L->ma_used.off, &n);
	else if (t->kind == PG_K_LIST || t->kind == PG_K_TUPLE)
		err = pg_read_u64(&p->heap.rd, obj + (uint64_t)L->ob_size.off, &n);
	else
		return -1;
	if (err) {
		pg_error_destroy(err);
		return -1;
	}
	return (int64_t)n;
}

static pg_error *py27_describe(struct pg_family *f, struct pg_model *m, uint64_t addr, struct pg_object_desc *out)
{
	struct py27 *p = P(f);
	struct pg_heap *h = &p->heap;
	(void)m;
	uint32_t tidx;
	uint32_t i = pg_model_index(m, addr);
	if (i != PG_NONE)
		tidx = m->type[i];
	else if (!object_type(p, addr, &tidx))
		return pg_error_create(PG_ERR_NOT_FOUND, "0x%" PRIx64 " is not an object in this core", addr);
	memset(out, 0, sizeof(*out));
	out->type = tidx;
	out->row = pg_heap_row_of(h, addr, tidx);
	const struct pg_type *t = &h->types[tidx]; /* the row lookup may have added types */
	out->size = pg_heap_size_of(h, addr, t);
	uint64_t rc;
	pg_error *err = pg_read_u64(&h->rd, addr + (uint64_t)p->in->L.ob_refcnt.off, &rc);
	out->have_refcnt = !err;
	out->refcnt = (int64_t)rc;
	pg_error_destroy(err);
	out->value = pg_value_repr(h, addr, 80, 0);
	if (t->kind == PG_K_TYPE) {
		uint32_t self;
		err = pg_heap_type(h, addr, &self);
		if (!err && h->types[self].valid)
			out->type_object = h->types[self].name;
		pg_error_destroy(err);
		t = &h->types[tidx]; /* types may have moved */
	}
	/* PyObject_IS_GC: its tp_traverse runs */
	out->gc = (t->flags & PG_TPFLAGS_HAVE_GC) != 0;
	if (out->gc && t->kind == PG_K_TYPE) {
		uint64_t flags;
		err = pg_read_u64(&h->rd, addr + (uint64_t)p->in->L.tp_flags.off, &flags);
		out->gc = !err && (flags & PG_TPFLAGS_HEAPTYPE);
		pg_error_destroy(err);
	}
	return NULL;
}

/* Refcounts above this are not believed (a damaged header). */
#define MAX_REFCNT (1LL << 48)

static bool py27_object_facts(struct pg_family *f, struct pg_model *m, struct pg_reader *r, uint64_t addr,
			      struct pg_node_facts *out)
{
	struct py27 *p = P(f);
	struct pg_heap *h = &p->heap;
	const struct pg_layout *L = &p->in->L;
	(void)m;
	uint64_t hdr[2];
	if (addr & 7)
		return false;
	const uint8_t *ptr = pg_ptr(r, addr, (size_t)L->object_size);
	if (ptr) {
		memcpy(&hdr[0], ptr + L->ob_refcnt.off, 8);
		memcpy(&hdr[1], ptr + L->ob_type.off, 8);
	} else if (!pg_try_read(r, addr + (uint64_t)L->ob_refcnt.off, &hdr[0], 8) ||
		   !pg_try_read(r, addr + (uint64_t)L->ob_type.off, &hdr[1], 8)) {
		return false;
	}
	int64_t rc = (int64_t)hdr[0];
	if (rc <= 0 || rc > MAX_REFCNT || !hdr[1] || (hdr[1] & 7))
		return false;
	uint32_t tidx;
	pg_error *err = pg_heap_type(h, hdr[1], &tidx);
	if (err) {
		pg_error_destroy(err);
		return false;
	}
	if (!h->types[tidx].valid)
		return false;
	out->type = tidx;
	out->row = pg_heap_row_of(h, addr, tidx);
	out->size = pg_heap_size_of(h, addr, &h->types[tidx]);
	out->refcnt = rc;
	return true;
}

static pg_error *py27_roots(struct pg_family *f, struct pg_model *m, pg_root_fn fn, void *arg)
{
	return pg_py27_roots(&P(f)->heap, m, fn, arg);
}

static void py27_root_text(struct pg_family *f, const struct pg_root *r, char *name, size_t ncap, char *expr,
			   size_t ecap)
{
	pg_py27_root_text(&P(f)->heap, r, name, ncap, expr, ecap);
}

static pg_error *py27_memory(struct pg_family *f, const struct pg_model *m, struct pg_memory_builder *b)
{
	return pg_py27_memory(&P(f)->heap, m, b);
}

const struct pg_family_ops pg_py27_family = {
	.name = "CPython 2.7",
	.open = py27_open,
	.close = py27_close,
	.info = py27_info,
	.walk = py27_walk,
	.prepare = py27_prepare,
	.traverse = py27_traverse,
	.refcount = py27_refcount,
	.weakrefs = py27_weakrefs,
	.has_finalizer = py27_has_finalizer,
	.finalizer_text = py27_finalizer_text,
	.label_text = py27_label_text,
	.untracked_referents = py27_untracked_referents,
	.refcnt_size = py27_refcnt_size,
	.length = py27_length,
	.describe = py27_describe,
	.object_facts = py27_object_facts,
	.roots = py27_roots,
	.root_text = py27_root_text,
	.memory = py27_memory,
};
