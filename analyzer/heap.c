#include "heap.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME_MAX_LEN 200
#define MAX_BASE_CHAIN 256

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

static char *pool_add(struct pg_heap *h, char *s)
{
	if (!s)
		return NULL;
	if (pg_grow((void **)&h->pool, &h->cappool, h->npool + 1, sizeof(char *))) {
		free(s);
		return NULL;
	}
	h->pool[h->npool++] = s;
	return s;
}

static pg_error *row_for(struct pg_heap *h, const char *name, bool oldstyle, uint32_t *row)
{
	if (pg_strmap_get(&h->row_index, name, oldstyle, row))
		return NULL;
	pg_error *err = pg_grow((void **)&h->rows, &h->caprows, h->nrows + 1, sizeof(*h->rows));
	if (err)
		return err;
	*row = (uint32_t)h->nrows;
	h->rows[h->nrows++] = (struct pg_row){ .name = name, .oldstyle = oldstyle };
	return pg_strmap_put(&h->row_index, name, oldstyle, *row);
}

static bool printable_name(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isprint((unsigned char)*s))
			return false;
	return true;
}

/* Reads a C string for a name; NULL (and a warning) if unreadable or odd. */
static char *read_name(struct pg_heap *h, uint64_t addr, const char *what, uint64_t owner)
{
	char buf[NAME_MAX_LEN + 1];
	bool cut = false;
	pg_error *err = pg_read_cstr(&h->core->mem, addr, buf, sizeof(buf), &cut);
	if (err) {
		pg_warn(h->warn, "%s of 0x%" PRIx64 " unreadable: %s", what, owner, err->message);
		pg_error_destroy(err);
		return NULL;
	}
	if (!printable_name(buf)) {
		pg_warn(h->warn, "%s of 0x%" PRIx64 " is not a printable name", what, owner);
		return NULL;
	}
	if (cut)
		strcpy(buf + NAME_MAX_LEN - 3, "...");
	return strdup(buf);
}

static uint8_t kind_of(struct pg_heap *h, uint64_t addr, uint64_t base_of_addr)
{
	const uint64_t *T = h->in->types;
	if (addr == T[PG_T_INSTANCE])
		return PG_K_INSTANCE;
	uint64_t cur = addr, next = base_of_addr;
	for (int depth = 0; cur && depth < MAX_BASE_CHAIN; depth++) {
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
		if (cur == T[PG_T_OBJECT])
			return PG_K_OTHER;
		/* next base */
		if (depth == 0) {
			cur = next;
			continue;
		}
		uint64_t b;
		pg_error *err = pg_read_u64(&h->core->mem, cur + (uint64_t)h->in->L.tp_base.off, &b);
		if (err) {
			pg_error_destroy(err);
			return PG_K_OTHER;
		}
		cur = b;
	}
	return PG_K_OTHER;
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
	uint8_t *buf = malloc((size_t)L->type_size);
	if (!buf)
		return &pg_enomem;
	pg_error *rerr = pg_read(&h->core->mem, addr, buf, (size_t)L->type_size);
	if (rerr) {
		pg_warn_partial(h->warn, "type object at 0x%" PRIx64 " unreadable (%s): its objects are counted as <unreadable type>",
				addr, rerr->message);
		pg_error_destroy(rerr);
	} else {
		t.flags = ld64(buf, L->tp_flags.off);
		t.basicsize = lds64(buf, L->tp_basicsize.off);
		t.itemsize = lds64(buf, L->tp_itemsize.off);
		t.dictoffset = lds64(buf, L->tp_dictoffset.off);
		t.traverse = ld64(buf, L->tp_traverse.off);
		t.clear = ld64(buf, L->tp_clear.off);
		t.del = ld64(buf, L->tp_del.off);
		t.base = ld64(buf, L->tp_base.off);
		t.is_gc = ld64(buf, L->tp_is_gc.off);
		t.name = read_name(h, ld64(buf, L->tp_name.off), "tp_name", addr);
		t.valid = t.name && t.basicsize >= L->object_size && t.basicsize <= (1 << 24) &&
			  t.itemsize >= 0 && t.itemsize <= (1 << 16) && ld64(buf, L->ob_type.off) != 0;
		if (t.name && !t.valid)
			pg_warn_partial(h->warn, "type object at 0x%" PRIx64 " (%s) has an absurd size: its objects' sizes are unknown",
					addr, t.name);
	}
	free(buf);
	if (!t.name)
		t.name = pg_asprintf(rerr ? "<unreadable type 0x%" PRIx64 ">" : "<bad type 0x%" PRIx64 ">", addr);
	if (!t.name)
		return &pg_enomem;
	t.kind = t.valid ? kind_of(h, addr, t.base) : PG_K_OTHER;
	err = row_for(h, t.name, false, &t.row);
	if (err) {
		free(t.name);
		return err;
	}
	*idx = (uint32_t)h->ntypes;
	h->types[h->ntypes++] = t;
	return pg_u64map_put(&h->type_index, addr, *idx);
}

/* The histogram row of an old-style instance: its class's name. */
static uint32_t instance_row(struct pg_heap *h, uint64_t obj, uint32_t type_idx)
{
	const struct pg_layout *L = &h->in->L;
	uint64_t cls;
	pg_error *err = pg_read_u64(&h->core->mem, obj + (uint64_t)L->in_class.off, &cls);
	if (err) {
		pg_error_destroy(err);
		return h->types[type_idx].row;
	}
	uint32_t row;
	if (pg_u64map_get(&h->class_row, cls, &row))
		return row;
	char *name = NULL;
	uint64_t clsname, clstype;
	if (!pg_read_u64(&h->core->mem, cls + (uint64_t)L->ob_type.off, &clstype) &&
	    clstype == h->in->types[PG_T_CLASS] &&
	    !pg_read_u64(&h->core->mem, cls + (uint64_t)L->cl_name.off, &clsname) && clsname)
		name = read_name(h, clsname + (uint64_t)L->ob_sval.off, "class name", cls);
	else
		pg_warn(h->warn, "old-style instance 0x%" PRIx64 " has no readable class", obj);
	if (!name)
		name = pg_asprintf("<instance of unreadable class 0x%" PRIx64 ">", cls);
	if (!pool_add(h, name))
		return h->types[type_idx].row;
	if (row_for(h, name, true, &row))
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
	struct pg_mem *m = &h->core->mem;
	uint64_t size = (uint64_t)t->basicsize;
	if (t->flags & PG_TPFLAGS_HAVE_GC)
		size += (uint64_t)L->gc_head_size;
	if (t->itemsize) {
		uint64_t v;
		if (!pg_read_u64(m, obj + (uint64_t)L->ob_size.off, &v)) {
			int64_t n = (int64_t)v;
			uint64_t un = n < 0 ? (uint64_t)0 - v : v;
			if (un <= (1ULL << 40) / (uint64_t)t->itemsize)
				size += un * (uint64_t)t->itemsize;
			else
				pg_warn_partial(h->warn, "object 0x%" PRIx64 " (%s) claims %" PRId64 " items: its size is not counted",
						obj, t->name, n);
		}
	}
	uint64_t a, b;
	switch (t->kind) {
	case PG_K_DICT:
		if (!pg_read_u64(m, obj + (uint64_t)L->ma_table.off, &a) &&
		    !pg_read_u64(m, obj + (uint64_t)L->ma_mask.off, &b) &&
		    a != obj + (uint64_t)L->ma_smalltable.off && b < (1ULL << 34))
			size += (b + 1) * (uint64_t)L->dictentry_size;
		break;
	case PG_K_SET:
		if (!pg_read_u64(m, obj + (uint64_t)L->set_table.off, &a) &&
		    !pg_read_u64(m, obj + (uint64_t)L->set_mask.off, &b) &&
		    a != obj + (uint64_t)L->set_smalltable.off && b < (1ULL << 34))
			size += (b + 1) * (uint64_t)L->setentry_size;
		break;
	case PG_K_LIST:
		if (!pg_read_u64(m, obj + (uint64_t)L->list_allocated.off, &a) && a < (1ULL << 37))
			size += a * 8;
		break;
	default:
		break;
	}
	return size;
}

static pg_error *grow_objects(struct pg_heap *h)
{
	size_t ncap = h->capobj ? h->capobj * 2 : 4096;
	uint64_t *o = pg_reallocarray(h->obj, ncap, sizeof(*o));
	if (!o)
		return &pg_enomem;
	h->obj = o;
	uint32_t *t = pg_reallocarray(h->obj_type, ncap, sizeof(*t));
	if (!t)
		return &pg_enomem;
	h->obj_type = t;
	uint8_t *g = pg_reallocarray(h->obj_gen, ncap, sizeof(*g));
	if (!g)
		return &pg_enomem;
	h->obj_gen = g;
	h->capobj = ncap;
	return NULL;
}

static pg_error *walk_generation(struct pg_heap *h, int g, uint64_t gens_base)
{
	const struct pg_layout *L = &h->in->L;
	struct pg_mem *m = &h->core->mem;
	struct pg_gen *gen = &h->gen[g];
	uint64_t gbase = gens_base + (uint64_t)g * (uint64_t)L->gen_size;
	uint64_t head = gbase + (uint64_t)L->gen_head.off;
	uint64_t v;
	pg_error *err = pg_read_u64(m, gbase + (uint64_t)L->gen_threshold.off, &v);
	if (err)
		return pg_error_prefix(err, "generation %d", g);
	gen->threshold = (int32_t)(uint32_t)v;
	err = pg_read_u64(m, gbase + (uint64_t)L->gen_count.off, &v);
	if (err)
		return pg_error_prefix(err, "generation %d", g);
	gen->counter = (int32_t)(uint32_t)v;
	uint64_t node;
	err = pg_read_u64(m, head + (uint64_t)L->gc_next.off, &node);
	if (err)
		return pg_error_prefix(err, "generation %d list head", g);
	uint64_t heads[3];
	for (int i = 0; i < 3; i++)
		heads[i] = gens_base + (uint64_t)i * (uint64_t)L->gen_size + (uint64_t)L->gen_head.off;

	const size_t hdr = (size_t)L->gc_head_size + (size_t)L->varobject_size;
	const int32_t o_next = L->gc_next.off, o_prev = L->gc_prev.off, o_refs = L->gc_refs.off;
	const int32_t o_type = L->gc_head_size + L->ob_type.off;
	uint8_t tmp[256];
	if (hdr > sizeof(tmp))
		return pg_error_create(PG_ERR_INPUT, "PyGC_Head + PyVarObject of %zu bytes is absurd", hdr);
	uint64_t prev = head, last_type = 0, odd_refs = 0, n = 0;
	uint32_t last_idx = 0;
	while (node != head) {
		if (h->nobj >= h->max_objects) {
			pg_warn_partial(h->warn, "stopped after %zu objects (--max-objects): generation %d and later are incomplete",
					h->nobj, g);
			return NULL;
		}
		if (node & 7) {
			pg_warn_partial(h->warn, "generation %d: link to misaligned address 0x%" PRIx64 " after %" PRIu64 " objects; rest of the list skipped",
					g, node, n);
			return NULL;
		}
		if (node == heads[0] || node == heads[1] || node == heads[2]) {
			pg_warn_partial(h->warn, "generation %d: the list runs into another generation's head after %" PRIu64 " objects; rest skipped",
					g, n);
			return NULL;
		}
		const uint8_t *p = pg_ptr(m, node, hdr);
		if (!p) {
			pg_error *rerr = pg_read(m, node, tmp, hdr);
			if (rerr) {
				pg_warn_partial(h->warn, "generation %d: object %" PRIu64 " unreadable (%s); rest of the list skipped",
						g, n, rerr->message);
				pg_error_destroy(rerr);
				return NULL;
			}
			p = tmp;
		}
		uint64_t next = ld64(p, o_next);
		if (ld64(p, o_prev) != prev) {
			pg_warn_partial(h->warn, "generation %d: broken back link at 0x%" PRIx64 " (gc_prev 0x%" PRIx64 ", came from 0x%" PRIx64 ") after %" PRIu64 " objects; rest of the list skipped",
					g, node, ld64(p, o_prev), prev, n);
			return NULL;
		}
		if (lds64(p, o_refs) != -3)
			odd_refs++;
		uint64_t obj = node + (uint64_t)L->gc_head_size;
		uint64_t type = ld64(p, o_type);
		uint32_t idx;
		if (type == last_type && n) {
			idx = last_idx;
		} else {
			err = pg_heap_type(h, type, &idx);
			if (err)
				return err;
			last_type = type;
			last_idx = idx;
		}
		if (h->nobj == h->capobj && (err = grow_objects(h)))
			return err;
		h->obj[h->nobj] = obj;
		h->obj_type[h->nobj] = idx;
		h->obj_gen[h->nobj] = (uint8_t)g;
		h->nobj++;
		const struct pg_type *t = &h->types[idx];
		uint32_t row = t->kind == PG_K_INSTANCE ? instance_row(h, obj, idx) : t->row;
		uint64_t size = pg_heap_size_of(h, obj, t);
		h->rows[row].count++;
		h->rows[row].bytes += size;
		h->total_bytes += size;
		prev = node;
		node = next;
		n++;
	}
	uint64_t head_prev;
	if (!pg_read_u64(m, head + (uint64_t)o_prev, &head_prev) && head_prev != prev)
		pg_warn(h->warn, "generation %d: the list head's gc_prev does not point at its last object", g);
	if (odd_refs && !h->collecting)
		pg_warn(h->warn, "generation %d: %" PRIu64 " objects have gc_refs other than GC_REACHABLE (-3)", g, odd_refs);
	gen->count = n;
	gen->complete = true;
	return NULL;
}

static pg_error *read_garbage(struct pg_heap *h)
{
	const struct pg_layout *L = &h->in->L;
	struct pg_mem *m = &h->core->mem;
	uint64_t list;
	pg_error *err = pg_read_u64(m, h->in->garbage_var, &list);
	if (err) {
		pg_warn_partial(h->warn, "gc.garbage pointer unreadable: %s", err->message);
		pg_error_destroy(err);
		return NULL;
	}
	if (!list)
		return NULL; /* gc.garbage not created yet: empty */
	h->garbage_list = list;
	uint64_t type, size, items, alloc;
	if ((err = pg_read_u64(m, list + (uint64_t)L->ob_type.off, &type)) ||
	    (err = pg_read_u64(m, list + (uint64_t)L->ob_size.off, &size)) ||
	    (err = pg_read_u64(m, list + (uint64_t)L->list_item.off, &items)) ||
	    (err = pg_read_u64(m, list + (uint64_t)L->list_allocated.off, &alloc))) {
		pg_warn_partial(h->warn, "gc.garbage list at 0x%" PRIx64 " unreadable: %s", list, err->message);
		pg_error_destroy(err);
		return NULL;
	}
	uint32_t tidx;
	if ((err = pg_heap_type(h, type, &tidx)))
		return err;
	if (h->types[tidx].kind != PG_K_LIST) {
		pg_warn_partial(h->warn, "gc.garbage at 0x%" PRIx64 " is not a list (type %s)", list, h->types[tidx].name);
		return NULL;
	}
	h->garbage_exists = true;
	if ((int64_t)size < 0 || size > alloc || size > h->max_objects) {
		pg_warn_partial(h->warn, "gc.garbage claims %" PRId64 " items (allocated %" PRId64 "): not read",
				(int64_t)size, (int64_t)alloc);
		return NULL;
	}
	h->garbage = calloc(size ? size : 1, sizeof(*h->garbage));
	if (!h->garbage)
		return &pg_enomem;
	for (uint64_t i = 0; i < size; i++) {
		uint64_t item;
		err = pg_read_u64(m, items + 8 * i, &item);
		if (err) {
			pg_warn_partial(h->warn, "gc.garbage: item %" PRIu64 " of %" PRIu64 " unreadable (%s); the rest is skipped",
					i, size, err->message);
			pg_error_destroy(err);
			break;
		}
		struct pg_garbage_item *gi = &h->garbage[h->ngarbage++];
		gi->addr = item;
		gi->row = UINT32_MAX;
		uint64_t refcnt, itype;
		if ((err = pg_read_u64(m, item + (uint64_t)L->ob_refcnt.off, &refcnt)) ||
		    (err = pg_read_u64(m, item + (uint64_t)L->ob_type.off, &itype))) {
			pg_warn_partial(h->warn, "gc.garbage[%" PRIu64 "] at 0x%" PRIx64 " unreadable: %s", i, item, err->message);
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

pg_error *pg_heap_walk(struct pg_core *core, struct pg_interp *in, struct pg_warnings *w,
		       size_t max_objects, struct pg_heap **ret)
{
	struct pg_heap *h = calloc(1, sizeof(*h));
	if (!h)
		return &pg_enomem;
	h->core = core;
	h->in = in;
	h->warn = w;
	h->max_objects = max_objects;
	pg_error *err = NULL;
	if (in->collecting_var) {
		uint64_t v;
		err = pg_read_u64(&core->mem, in->collecting_var, &v);
		if (err) {
			pg_warn(w, "gcmodule's collecting flag unreadable: %s", err->message);
			pg_error_destroy(err);
			err = NULL;
		} else if ((uint32_t)v) {
			h->collecting = true;
			pg_warn_partial(w, "the core was taken during a garbage collection: the generation lists are being moved between and may be inconsistent");
		}
	}
	uint64_t gens_base = in->gen0 - (uint64_t)in->L.gen_head.off;
	for (int g = 0; g < 3 && !err; g++)
		err = walk_generation(h, g, gens_base);
	if (!err && in->garbage_var)
		err = read_garbage(h);
	if (err) {
		pg_heap_free(h);
		return err;
	}
	*ret = h;
	return NULL;
}

void pg_heap_free(struct pg_heap *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < h->ntypes; i++)
		free(h->types[i].name);
	for (size_t i = 0; i < h->npool; i++)
		free(h->pool[i]);
	free(h->pool);
	free(h->types);
	free(h->rows);
	pg_u64map_free(&h->type_index);
	pg_u64map_free(&h->class_row);
	pg_strmap_free(&h->row_index);
	free(h->obj);
	free(h->obj_type);
	free(h->obj_gen);
	free(h->garbage);
	free(h);
}
