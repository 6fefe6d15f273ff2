#include "heap.h"

#include "../base/alloc.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME_MAX_LEN 4096

static inline uint64_t ld64(const uint8_t *p, int32_t off)
{
	uint64_t v;
	memcpy(&v, p + off, 8);
	return v;
}

static inline int64_t lds64(const uint8_t *p, int32_t off)
{
	int64_t v;
	memcpy(&v, p + off, 8);
	return v;
}

/* Reads a C string for a name: any bytes (how a name looks never decides
 * whether a type is valid; text.h says how names are shown).  NULL (and a
 * warning) when unreadable; a name longer than NAME_MAX_LEN is cut. */
static char *read_name(struct pg_heap *h, uint64_t addr, const char *what, uint64_t owner)
{
	char *buf = malloc(NAME_MAX_LEN + 1);
	if (!buf)
		return NULL;
	bool cut = false;
	pg_error *err = pg_read_cstr(&h->rd, addr, buf, NAME_MAX_LEN + 1, &cut);
	if (err) {
		pg_warn(h->warn, "%s of 0x%" PRIx64 " unreadable: %s", what, owner, err->message);
		pg_error_destroy(err);
		free(buf);
		return NULL;
	}
	if (cut) {
		pg_warn(h->warn, "%s of 0x%" PRIx64 " is longer than %d bytes: cut", what, owner, NAME_MAX_LEN);
		strcpy(buf + NAME_MAX_LEN - 3, "...");
	}
	char *s = strdup(buf);
	free(buf);
	return s;
}

void pg_base_walk_init(struct pg_base_walk *w, uint64_t type)
{
	*w = (struct pg_base_walk){ .cur = type, .mark = type, .power = 1 };
}

int pg_base_walk_step(struct pg_base_walk *w, uint64_t next)
{
	/* Brent's cycle detection: `mark` is re-set at powers of two, so a
	 * loop is caught after at most twice its length plus its tail, while
	 * a legitimate deep hierarchy (Python sets no limit) is walked. */
	if (next == w->mark)
		return PG_BASE_LOOP;
	if (++w->steps >= PG_MAX_BASE_CHAIN)
		return PG_BASE_LONG;
	if (++w->lam == w->power) {
		w->mark = next;
		w->power *= 2;
		w->lam = 0;
	}
	w->cur = next;
	return PG_BASE_OK;
}

const char *pg_base_walk_error(int r)
{
	return r == PG_BASE_LOOP ? "its tp_base chain loops"
				 : "its tp_base chain is longer than " PG_STR(PG_MAX_BASE_CHAIN);
}

static uint8_t static_kind(const uint64_t *T, uint64_t cur, bool *known)
{
	*known = true;
	if (cur == T[PG_T_DICT])
		return PG_K_DICT;
	if (cur == T[PG_T_LIST])
		return PG_K_LIST;
	if (cur == T[PG_T_SET] || cur == T[PG_T_FROZENSET])
		return PG_K_SET;
	if (cur == T[PG_T_TUPLE])
		return PG_K_TUPLE;
	if (cur == T[PG_T_TYPE])
		return PG_K_TYPE;
	if (cur == T[PG_T_STRING])
		return PG_K_STRING;
	if (cur == T[PG_T_UNICODE])
		return PG_K_UNICODE;
	if (cur == T[PG_T_BYTEARRAY])
		return PG_K_BYTEARRAY;
	if (cur == T[PG_T_LONG])
		return PG_K_LONG;
	if (cur == T[PG_T_OBJECT])
		return PG_K_OTHER;
	*known = false;
	return PG_K_OTHER;
}

/* The kind of a type: that of the first builtin on its tp_base chain.
 * Every type the walk passes is remembered with the answer, so that the
 * bases of a deep hierarchy, met one by one later, cost one lookup each. */
static uint8_t kind_of(struct pg_heap *h, uint64_t addr, uint64_t base_of_addr, const char *name)
{
	const uint64_t *T = h->in->types;
	if (addr == T[PG_T_INSTANCE])
		return PG_K_INSTANCE;
	struct pg_base_walk w;
	pg_base_walk_init(&w, addr);
	uint64_t *chain = NULL;
	size_t n = 0, cap = 0;
	uint8_t kind = PG_K_OTHER;
	uint64_t cur = addr, next = base_of_addr;
	for (;;) {
		bool known;
		uint32_t memo;
		kind = static_kind(T, cur, &known);
		if (known)
			break;
		if (pg_u64map_get(&h->base_kind, cur, &memo)) {
			kind = (uint8_t)memo;
			break;
		}
		if (pg_grow((void **)&chain, &cap, n + 1, sizeof(*chain)))
			break;
		chain[n++] = cur;
		if (cur != addr) {
			pg_error *err = pg_read_u64(&h->rd, cur + (uint64_t)h->in->L.tp_base.off, &next);
			if (err) {
				pg_warn_partial(h->warn, "type %s: a base type at 0x%" PRIx64 " is unreadable (%s)",
						name, cur, err->message);
				pg_error_destroy(err);
				kind = PG_K_OTHER;
				break;
			}
		}
		if (!next)
			break;
		int r = pg_base_walk_step(&w, next);
		if (r != PG_BASE_OK) {
			pg_warn_partial(h->warn, "type %s: %s", name, pg_base_walk_error(r));
			kind = PG_K_OTHER;
			break;
		}
		cur = next;
	}
	for (size_t i = 0; i < n; i++)
		if (pg_u64map_put(&h->base_kind, chain[i], kind))
			break;
	free(chain);
	return kind;
}

pg_error *pg_heap_type(struct pg_heap *h, uint64_t addr, uint32_t *idx)
{
	if (pg_u64map_get(&h->type_index, addr, idx))
		return NULL;
	const struct pg_layout *L = &h->in->L;
	pg_error *err = pg_grow((void **)&h->types, &h->captypes, h->ntypes + 1, sizeof(*h->types));
	if (err)
		return err;
	struct pg_type t = { .addr = addr };
	char *name = NULL;
	uint8_t *buf = malloc((size_t)L->type_size);
	if (!buf)
		return PG_ENOMEM;
	pg_error *rerr = pg_read(&h->rd, addr, buf, (size_t)L->type_size);
	if (rerr) {
		pg_warn_partial(h->warn, "type object at 0x%" PRIx64 " unreadable (%s): its objects are counted as <unreadable type>",
				addr, rerr->message);
		pg_error_destroy(rerr);
	} else {
		t.flags = ld64(buf, L->tp_flags.off);
		t.basicsize = lds64(buf, L->tp_basicsize.off);
		t.itemsize = lds64(buf, L->tp_itemsize.off);
		t.dictoffset = lds64(buf, L->tp_dictoffset.off);
		t.weaklistoffset = lds64(buf, L->tp_weaklistoffset.off);
		t.traverse = ld64(buf, L->tp_traverse.off);
		t.clear = ld64(buf, L->tp_clear.off);
		t.del = ld64(buf, L->tp_del.off);
		t.base = ld64(buf, L->tp_base.off);
		t.is_gc = ld64(buf, L->tp_is_gc.off);
		/* a type object is 8-aligned, and its own type is a type (the
		 * metatype's tp_flags carry Py_TPFLAGS_TYPE_SUBCLASS) */
		uint64_t meta = ld64(buf, L->ob_type.off), mflags = 0;
		pg_error *merr = meta ? pg_read_u64(&h->rd, meta + (uint64_t)L->tp_flags.off, &mflags) : NULL;
		bool is_type = !(addr & 7) && meta && !merr && (mflags & (1UL << 31));
		pg_error_destroy(merr);
		name = is_type ? read_name(h, ld64(buf, L->tp_name.off), "tp_name", addr) : NULL;
		t.valid = is_type && t.basicsize >= L->object_size && t.basicsize <= (1 << 24) &&
			  t.itemsize >= 0 && t.itemsize <= (1 << 16);
		if (!is_type)
			pg_warn_partial(h->warn, "objects whose type pointer 0x%" PRIx64 " is not a type object: counted as <bad type>, their contents skipped",
					addr);
		else if (!name)
			pg_warn_partial(h->warn, "type object at 0x%" PRIx64 ": its name is unreadable; its objects are counted as <type 0x%" PRIx64 " with an unreadable name>",
					addr, addr);
		if (is_type && !t.valid)
			pg_warn_partial(h->warn, "type object at 0x%" PRIx64 " (%s) has an absurd size: its objects' sizes are unknown",
					addr, name ? name : "name unreadable");
	}
	free(buf);
	if (!name)
		name = pg_asprintf(rerr ? "<unreadable type 0x%" PRIx64 ">" : t.valid ? "<type 0x%" PRIx64 " with an unreadable name>"
				   : "<bad type 0x%" PRIx64 ">", addr);
	if (!name)
		return PG_ENOMEM;
	t.name = name;
	t.kind = t.valid ? kind_of(h, addr, t.base, name) : PG_K_OTHER;
	err = pg_model_row(h->m, name, false, &t.row);
	struct pg_model_type mt = { .addr = addr, .name = name, .row = t.row, .kind = t.kind, .valid = t.valid,
				    .heaptype = (t.flags & PG_TPFLAGS_HEAPTYPE) != 0 };
	uint32_t midx;
	if (!err)
		err = pg_model_add_type(h->m, &mt, &midx);
	if (err) {
		free(name);
		return err;
	}
	/* the model owns the name now; both tables share the index */
	*idx = (uint32_t)h->ntypes;
	h->types[h->ntypes++] = t;
	return pg_u64map_put(&h->type_index, addr, *idx);
}

/* The histogram row of an old-style instance: its class's name. */
static uint32_t instance_row(struct pg_heap *h, uint64_t obj, uint32_t type_idx)
{
	const struct pg_layout *L = &h->in->L;
	uint64_t cls;
	pg_error *err = pg_read_u64(&h->rd, obj + (uint64_t)L->in_class.off, &cls);
	if (err) {
		pg_error_destroy(err);
		return h->types[type_idx].row;
	}
	uint32_t row;
	if (pg_u64map_get(&h->class_row, cls, &row))
		return row;
	char *name = NULL;
	uint64_t clsname, clstype;
	if (pg_try_read(&h->rd, cls + (uint64_t)L->ob_type.off, &clstype, 8) &&
	    clstype == h->in->types[PG_T_CLASS] &&
	    pg_try_read(&h->rd, cls + (uint64_t)L->cl_name.off, &clsname, 8) && clsname)
		name = read_name(h, clsname + (uint64_t)L->ob_sval.off, "class name", cls);
	else
		pg_warn(h->warn, "old-style instance 0x%" PRIx64 " has no readable class", obj);
	if (!name)
		name = pg_asprintf("<instance of unreadable class 0x%" PRIx64 ">", cls);
	if (!pg_model_own(h->m, name))
		return h->types[type_idx].row;
	if (pg_model_row(h->m, name, true, &row))
		return h->types[type_idx].row;
	if (pg_u64map_put(&h->class_row, cls, row))
		return row;
	return row;
}

uint32_t pg_heap_row_of(struct pg_heap *h, uint64_t obj, uint32_t type_idx)
{
	if (h->types[type_idx].kind == PG_K_INSTANCE)
		return instance_row(h, obj, type_idx);
	return h->types[type_idx].row;
}

uint64_t pg_heap_size_of(struct pg_heap *h, uint64_t obj, const struct pg_type *t)
{
	if (!t->valid)
		return 0;
	const struct pg_layout *L = &h->in->L;
	struct pg_reader *m = &h->rd;
	uint64_t size = (uint64_t)t->basicsize, n = 0;
	bool have_n = t->itemsize && pg_try_read(m, obj + (uint64_t)L->ob_size.off, &n, 8);
	if (have_n) {
		/* object.__sizeof__ takes ob_size as it is; only long's is
		 * signed (its __sizeof__ takes the absolute value) */
		uint64_t un = (int64_t)n < 0 ? (uint64_t)0 - n : n;
		if ((int64_t)n < 0 && t->kind != PG_K_LONG)
			pg_warn_partial(h->warn, "object 0x%" PRIx64 " (%s) claims %" PRId64 " items: its size is not counted",
					obj, t->name, (int64_t)n);
		else if (un <= (1ULL << 40) / (uint64_t)t->itemsize)
			size += un * (uint64_t)t->itemsize;
		else
			pg_warn_partial(h->warn, "object 0x%" PRIx64 " (%s) claims %" PRId64 " items: its size is not counted",
					obj, t->name, (int64_t)n);
	}
	uint64_t a, b;
	bool gc = (t->flags & PG_TPFLAGS_HAVE_GC) != 0;
	switch (t->kind) {
	case PG_K_DICT:
		if (pg_try_read(m, obj + (uint64_t)L->ma_table.off, &a, 8) &&
		    pg_try_read(m, obj + (uint64_t)L->ma_mask.off, &b, 8) &&
		    a != obj + (uint64_t)L->ma_smalltable.off && b < (1ULL << 34))
			size += (b + 1) * (uint64_t)L->dictentry_size;
		break;
	case PG_K_SET:
		if (pg_try_read(m, obj + (uint64_t)L->set_table.off, &a, 8) &&
		    pg_try_read(m, obj + (uint64_t)L->set_mask.off, &b, 8) &&
		    a != obj + (uint64_t)L->set_smalltable.off && b < (1ULL << 34))
			size += (b + 1) * (uint64_t)L->setentry_size;
		break;
	case PG_K_LIST:
		if (pg_try_read(m, obj + (uint64_t)L->list_allocated.off, &a, 8) && a < (1ULL << 37))
			size += a * 8;
		break;
	case PG_K_STRING:
		/* PyStringObject_SIZE, whatever the subclass's basicsize */
		size -= (uint64_t)t->basicsize;
		size += (uint64_t)L->ob_sval.off + 1;
		break;
	case PG_K_UNICODE:
		if (L->unicode_size > 0 && L->unicode_char_size > 0 &&
		    pg_try_read(m, obj + (uint64_t)L->unicode_length.off, &a, 8) && a < (1ULL << 36))
			size = (uint64_t)L->unicode_size + (a + 1) * (uint64_t)L->unicode_char_size;
		break;
	case PG_K_BYTEARRAY:
		if (L->bytearray_alloc.off >= 0 && pg_try_read(m, obj + (uint64_t)L->bytearray_alloc.off, &a, 8) &&
		    a < (1ULL << 40))
			size += a;
		break;
	case PG_K_TYPE:
		/* PyObject_IS_GC: type objects are gc'd when they are heap types */
		if (!pg_try_read(m, obj + (uint64_t)L->tp_flags.off, &a, 8) || !(a & PG_TPFLAGS_HEAPTYPE))
			gc = false;
		break;
	default:
		break;
	}
	if (gc)
		size += (uint64_t)L->gc_head_size;
	return size;
}

/* One direction of a generation walk.  Each step checks the link back
 * (forward: node->gc_prev == where we came from; backward: node->gc_next),
 * which also rules out loops that do not pass through the head. */
struct cursor {
	uint64_t node;     /* next node to read */
	uint64_t came;     /* last accepted node (or the head) */
	int32_t link;      /* offset of the link to follow (gc_next or gc_prev) */
	int32_t back;      /* offset of the link that must point at `came` */
	bool ok;
	const char *dir;
};

struct walk {
	struct pg_heap *h;
	size_t max_objects;
	int g;
	uint64_t heads[3];
	size_t hdr;
	uint64_t odd_refs, n, last_type;
	uint32_t last_idx;
	bool have_last;
};

/* Reads, checks and accepts the cursor's node; false when the cursor stops. */
static bool step(struct walk *w, struct cursor *c, pg_error **err)
{
	struct pg_heap *h = w->h;
	const struct pg_layout *L = &h->in->L;
	struct pg_reader *m = &h->rd;
	uint64_t node = c->node;
	uint8_t tmp[256];
	if (h->m->tracked >= w->max_objects) {
		h->m->walk_limited = true;
		pg_warn_partial(h->warn, "stopped after %" PRIu64 " objects (--max-objects): generation %d and later are incomplete",
				h->m->tracked, w->g);
		return c->ok = false;
	}
	if (node & 7) {
		pg_warn_partial(h->warn, "generation %d: %s link to misaligned address 0x%" PRIx64 " after %" PRIu64 " objects; the list is cut there",
				w->g, c->dir, node, w->n);
		return c->ok = false;
	}
	if (node == w->heads[0] || node == w->heads[1] || node == w->heads[2]) {
		pg_warn_partial(h->warn, "generation %d: the list runs into another generation's head after %" PRIu64 " objects; cut there",
				w->g, w->n);
		return c->ok = false;
	}
	const uint8_t *p = pg_ptr(m, node, w->hdr);
	if (!p) {
		pg_error *rerr = pg_read(m, node, tmp, w->hdr);
		if (rerr) {
			pg_warn_partial(h->warn, "generation %d: object at 0x%" PRIx64 " (%s walk, after %" PRIu64 " objects) unreadable: %s; the list is cut there",
					w->g, node, c->dir, w->n, rerr->message);
			pg_error_destroy(rerr);
			return c->ok = false;
		}
		p = tmp;
	}
	uint64_t back = ld64(p, c->back);
	if (back != c->came) {
		pg_warn_partial(h->warn, "generation %d: broken link at 0x%" PRIx64 ": it points back to 0x%" PRIx64 ", not to 0x%" PRIx64 " (%s walk, after %" PRIu64 " objects); the list is cut there",
				w->g, node, back, c->came, c->dir, w->n);
		return c->ok = false;
	}
	/* start the next node's miss now, so that it overlaps with this
	 * node's work (type, size, histogram): the walk is a pointer chase */
	uint64_t next = ld64(p, c->link);
	const uint8_t *np = pg_ptr(m, next, w->hdr);
	if (np) {
		__builtin_prefetch(np);
		__builtin_prefetch(np + w->hdr - 1);
	}
	if (lds64(p, L->gc_refs.off) != -3)
		w->odd_refs++;
	uint64_t obj = node + (uint64_t)L->gc_head_size;
	uint64_t type = ld64(p, L->gc_head_size + L->ob_type.off);
	uint32_t idx;
	if (w->have_last && type == w->last_type) {
		idx = w->last_idx;
	} else {
		*err = pg_heap_type(h, type, &idx);
		if (*err)
			return c->ok = false;
		w->last_type = type;
		w->last_idx = idx;
		w->have_last = true;
	}
	const struct pg_type *t = &h->types[idx];
	uint32_t row = t->kind == PG_K_INSTANCE ? instance_row(h, obj, idx) : t->row;
	uint64_t size = pg_heap_size_of(h, obj, t);
	if ((*err = pg_model_walk_add(h->m, obj, idx, (uint8_t)w->g, row, size)))
		return c->ok = false;
	w->n++;
	c->came = node;
	c->node = next;
	return true;
}

/* Walks a generation list from both ends at once: two independent pointer
 * chases, so the memory system overlaps their misses.  The walks stop where
 * they meet; when one is cut by a bad link, the other goes on to the cut. */
static pg_error *walk_generation(struct pg_heap *h, int g, uint64_t gens_base, size_t max_objects)
{
	const struct pg_layout *L = &h->in->L;
	struct pg_reader *m = &h->rd;
	struct pg_gen *gen = &h->m->gens[g];
	uint64_t gbase = gens_base + (uint64_t)g * (uint64_t)L->gen_size;
	uint64_t head = gbase + (uint64_t)L->gen_head.off;
	uint64_t v, first, last;
	pg_error *err = pg_read_u64(m, gbase + (uint64_t)L->gen_threshold.off, &v);
	if (err)
		return pg_error_prefix(err, "generation %d", g);
	gen->threshold = (int32_t)(uint32_t)v;
	err = pg_read_u64(m, gbase + (uint64_t)L->gen_count.off, &v);
	if (err)
		return pg_error_prefix(err, "generation %d", g);
	gen->counter = (int32_t)(uint32_t)v;
	if ((err = pg_read_u64(m, head + (uint64_t)L->gc_next.off, &first)) ||
	    (err = pg_read_u64(m, head + (uint64_t)L->gc_prev.off, &last)))
		return pg_error_prefix(err, "generation %d list head", g);
	struct walk w = { .h = h, .max_objects = max_objects, .g = g, .hdr = (size_t)L->gc_head_size + (size_t)L->varobject_size };
	if (w.hdr > 256)
		return pg_error_create(PG_ERR_INPUT, "PyGC_Head + PyVarObject of %zu bytes is absurd", w.hdr);
	for (int i = 0; i < 3; i++)
		w.heads[i] = gens_base + (uint64_t)i * (uint64_t)L->gen_size + (uint64_t)L->gen_head.off;
	struct cursor fw = { first, head, L->gc_next.off, L->gc_prev.off, true, "forward" };
	struct cursor bw = { last, head, L->gc_prev.off, L->gc_next.off, true, "backward" };
	bool met = false;
	while (fw.ok || bw.ok) {
		if (fw.ok) {
			if (fw.node == bw.came) {
				met = true;
				break;
			}
			step(&w, &fw, &err);
			if (err)
				return err;
		}
		if (bw.ok) {
			if (bw.node == fw.came) {
				met = true;
				break;
			}
			step(&w, &bw, &err);
			if (err)
				return err;
		}
	}
	if (w.odd_refs && !h->m->collecting)
		pg_warn(h->warn, "generation %d: %" PRIu64 " objects have gc_refs other than GC_REACHABLE (-3)", g, w.odd_refs);
	gen->count = w.n;
	gen->complete = met;
	return NULL;
}

/* Says why gc.garbage (or part of it) could not be read: a warning, and
 * the first reason kept for the report's headline. */
static void garbage_problem(struct pg_heap *h, const char *fmt, ...) PG_PRINTF(2, 3);
static void garbage_problem(struct pg_heap *h, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *m = NULL;
	if (vasprintf(&m, fmt, ap) < 0)
		m = NULL;
	va_end(ap);
	pg_warn_partial(h->warn, "%s", m ? m : "gc.garbage: unreadable");
	if (!h->m->garbage_problem)
		h->m->garbage_problem = m;
	else
		free(m);
}

static pg_error *read_garbage(struct pg_heap *h)
{
	const struct pg_layout *L = &h->in->L;
	struct pg_reader *m = &h->rd;
	uint64_t list;
	pg_error *err = pg_read_u64(m, h->in->garbage_var, &list);
	if (err) {
		garbage_problem(h, "gc.garbage: the pointer to the list is unreadable: %s", err->message);
		pg_error_destroy(err);
		return NULL;
	}
	if (!list)
		return NULL; /* gc.garbage not created yet: empty */
	h->m->garbage_list = list;
	h->m->garbage_exists = true;
	uint64_t type, size, items, alloc;
	if ((err = pg_read_u64(m, list + (uint64_t)L->ob_type.off, &type)) ||
	    (err = pg_read_u64(m, list + (uint64_t)L->ob_size.off, &size)) ||
	    (err = pg_read_u64(m, list + (uint64_t)L->list_item.off, &items)) ||
	    (err = pg_read_u64(m, list + (uint64_t)L->list_allocated.off, &alloc))) {
		garbage_problem(h, "gc.garbage: the list at 0x%" PRIx64 " is unreadable: %s", list, err->message);
		pg_error_destroy(err);
		return NULL;
	}
	uint32_t tidx;
	if ((err = pg_heap_type(h, type, &tidx)))
		return err;
	if (h->types[tidx].kind != PG_K_LIST) {
		garbage_problem(h, "gc.garbage at 0x%" PRIx64 " is not a list (type %s)", list, h->types[tidx].name);
		return NULL;
	}
	/* every item is a pointer in the core: more than its readable bytes
	 * hold is not believed */
	uint64_t most = pg_mem_readable(h->rd.m) / 8;
	if ((int64_t)size < 0 || size > alloc || size > most) {
		garbage_problem(h, "gc.garbage claims %" PRId64 " items (allocated %" PRId64 "): not believed, not read",
				(int64_t)size, (int64_t)alloc);
		return NULL;
	}
	h->m->garbage_claimed = size;
	h->m->garbage_claimed_known = true;
	h->m->garbage = calloc(size ? size : 1, sizeof(*h->m->garbage));
	if (!h->m->garbage)
		return PG_ENOMEM;
	for (uint64_t i = 0; i < size; i++) {
		uint64_t item;
		err = pg_read_u64(m, items + 8 * i, &item);
		if (err) {
			garbage_problem(h, "gc.garbage: item %" PRIu64 " of %" PRIu64 " is unreadable (%s); the rest is skipped",
					i, size, err->message);
			pg_error_destroy(err);
			break;
		}
		struct pg_garbage_item *gi = &h->m->garbage[h->m->ngarbage++];
		gi->addr = item;
		gi->row = UINT32_MAX;
		uint64_t refcnt, itype;
		if ((err = pg_read_u64(m, item + (uint64_t)L->ob_refcnt.off, &refcnt)) ||
		    (err = pg_read_u64(m, item + (uint64_t)L->ob_type.off, &itype))) {
			h->m->garbage_unreadable++;
			garbage_problem(h, "gc.garbage[%" PRIu64 "] at 0x%" PRIx64 " is unreadable: %s", i, item, err->message);
			pg_error_destroy(err);
			continue;
		}
		if ((err = pg_heap_type(h, itype, &tidx)))
			return err;
		gi->readable = true;
		gi->refcnt = (int64_t)refcnt;
		gi->row = pg_heap_row_of(h, item, tidx);
		gi->size = pg_heap_size_of(h, item, &h->types[tidx]);
	}
	return NULL;
}

void pg_heap_init(struct pg_heap *h, struct pg_core *core, struct pg_interp *in, struct pg_warnings *w,
		  const struct pg_log *log)
{
	memset(h, 0, sizeof(*h));
	h->core = core;
	h->in = in;
	h->warn = w;
	h->log = log;
	pg_reader_init(&h->rd, &core->mem);
}

pg_error *pg_heap_walk(struct pg_heap *h, struct pg_model *m, size_t max_objects)
{
	struct pg_interp *in = h->in;
	pg_error *err = NULL;
	h->m = m;
	if (in->collecting_var) {
		uint64_t v;
		err = pg_read_u64(&h->rd, in->collecting_var, &v);
		if (err) {
			pg_warn(h->warn, "gcmodule's collecting flag unreadable: %s", err->message);
			pg_error_destroy(err);
			err = NULL;
		} else if ((uint32_t)v) {
			m->collecting = true;
			pg_warn_partial(h->warn, "the core was taken during a garbage collection: the generation lists are being moved between and may be inconsistent");
		}
	}
	uint64_t gens_base = in->gen0 - (uint64_t)in->L.gen_head.off;
	for (int g = 0; g < 3 && !err; g++)
		err = walk_generation(h, g, gens_base, max_objects);
	if (!err && in->garbage_var)
		err = read_garbage(h);
	return err;
}

void pg_heap_fini(struct pg_heap *h)
{
	free(h->types);
	pg_u64map_free(&h->type_index);
	pg_u64map_free(&h->class_row);
	pg_u64map_free(&h->base_kind);
}
