#include "finalizer.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../base/alloc.h"

#define MAX_ITEMS (1ULL << 31) /* containers claiming more are not believed */
#define SETUP_LOOP 120

struct pg_finalizers {
	struct pg_heap *h;
	struct pg_reader rd;
	const struct pg_layout *L;
	uint64_t gen_type;
	/* old-style class -> where its __del__ lookup ended (one lookup per
	 * class, not per instance: a damaged class graph can be costly) */
	struct pg_u64map del_index;
	struct del_answer {
		uint64_t owner;   /* the class defining __del__, 0 when none */
		bool ok;          /* every read of the lookup succeeded */
	} *del_answers;
	size_t ndel, capdel;
	/* dict entries dict_has_del may still look at: answers past it are
	 * "could not be read" (time stays bounded whatever the dicts claim) */
	uint64_t del_scan_left;
};

pg_error *pg_finalizers_new(struct pg_heap *h, uint64_t nobj, struct pg_finalizers **ret)
{
	struct pg_finalizers *t = calloc(1, sizeof(*t));
	if (!t)
		return PG_ENOMEM;
	t->h = h;
	pg_reader_init(&t->rd, &h->core->mem);
	t->L = &h->in->L;
	/* linear in the objects: generous for real dicts (an instance's
	 * __dict__ has a few dozen entries), a bound for damaged ones */
	t->del_scan_left = ((uint64_t)1 << 22) + 32 * nobj;
	const struct pg_sym *s;
	pg_error *err = pg_symtab_find(&h->in->syms, "PyGen_Type", STT_OBJECT, &s);
	if (!err)
		t->gen_type = s->addr;
	pg_error_destroy(err);
	*ret = t;
	return NULL;
}

void pg_finalizers_free(struct pg_finalizers *t)
{
	if (!t)
		return;
	free(t->del_answers);
	pg_u64map_free(&t->del_index);
	free(t);
}

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

static uint64_t tuple_size(struct pg_finalizers *t, uint64_t tup)
{
	uint64_t n = 0;
	if (!tup || !rd(&t->rd, tup + (uint64_t)t->L->ob_size.off, &n) || n >= (1u << 24))
		return 0;
	return n;
}

/* Does dict d hold the str key "__del__"?  *ok false when unreadable. */
static bool dict_has_del(struct pg_finalizers *t, uint64_t d, bool *ok)
{
	const struct pg_layout *L = t->L;
	uint64_t mask, table;
	if (!d)
		return false;
	if (!rd(&t->rd, d + (uint64_t)L->ma_mask.off, &mask) || !rd(&t->rd, d + (uint64_t)L->ma_table.off, &table) ||
	    mask >= MAX_ITEMS || ((mask + 1) & mask)) {
		*ok = false;
		return false;
	}
	size_t esz = (size_t)L->dictentry_size;
	uint64_t str_type = t->h->in->types[PG_T_STRING];
	if (mask + 1 > t->del_scan_left) {
		*ok = false;
		return false;
	}
	t->del_scan_left -= mask + 1;
	for (uint64_t i = 0; i <= mask; i++) {
		uint64_t key, val, kt, klen;
		if (!rd(&t->rd, table + i * esz + (uint64_t)L->me_key.off, &key) ||
		    !rd(&t->rd, table + i * esz + (uint64_t)L->me_value.off, &val)) {
			*ok = false;
			return false;
		}
		if (!val || !key)
			continue;
		if (!rd(&t->rd, key + (uint64_t)L->ob_type.off, &kt) || kt != str_type ||
		    !rd(&t->rd, key + (uint64_t)L->ob_size.off, &klen) || klen != 7)
			continue;
		char buf[8];
		if (!pg_try_read(&t->rd, key + (uint64_t)L->ob_sval.off, buf, 7))
			continue;
		if (memcmp(buf, "__del__", 7) == 0)
			return true;
	}
	return false;
}

/* class_lookup(cls, "__del__") of classobject.c: the class, then its bases
 * depth-first, iteratively.  A class met again is skipped: its bases were
 * searched in full at its first visit (a DAG of bases, as diamonds make, or
 * a damaged one, stays linear).  Returns the class that defines it, 0 when
 * none. */
static uint64_t class_del_owner(struct pg_finalizers *t, uint64_t cls, bool *ok)
{
	const struct pg_layout *L = t->L;
	uint32_t ai;
	if (pg_u64map_get(&t->del_index, cls, &ai)) {
		if (!t->del_answers[ai].ok)
			*ok = false;
		return t->del_answers[ai].owner;
	}
	enum { MAX_STACK = 10000, MAX_VISITS = 100000 };
	uint64_t *stack = malloc(MAX_STACK * sizeof(*stack));
	struct pg_u64map seen = { 0 };
	bool lok = stack != NULL;
	size_t sp = 0, visits = 0;
	uint64_t found = 0;
	if (stack)
		stack[sp++] = cls;
	while (sp && !found) {
		uint64_t c = stack[--sp];
		uint32_t dummy;
		if (pg_u64map_get(&seen, c, &dummy))
			continue;
		pg_error *err = pg_u64map_put(&seen, c, 1);
		if (err || ++visits > MAX_VISITS) {
			pg_error_destroy(err);
			lok = false;
			break;
		}
		uint64_t cd, bases;
		if (!rd(&t->rd, c + (uint64_t)L->cl_dict.off, &cd)) {
			lok = false;
			continue;
		}
		if (dict_has_del(t, cd, &lok)) {
			found = c;
			break;
		}
		if (!rd(&t->rd, c + (uint64_t)L->cl_bases.off, &bases))
			continue;
		uint64_t n = tuple_size(t, bases);
		if (n > MAX_STACK - sp) {
			lok = false; /* more bases than can be searched: not believed */
			continue;
		}
		/* push in reverse so that bases[0] is searched first */
		for (uint64_t i = n; i-- > 0;) {
			uint64_t b;
			if (!rd(&t->rd, bases + (uint64_t)L->tuple_item.off + 8 * i, &b)) {
				lok = false;
				break;
			}
			if (b && !pg_u64map_get(&seen, b, &dummy))
				stack[sp++] = b;
		}
	}
	free(stack);
	pg_u64map_free(&seen);
	if (!lok)
		*ok = false;
	if (!pg_grow((void **)&t->del_answers, &t->capdel, t->ndel + 1, sizeof(*t->del_answers))) {
		pg_error *err = pg_u64map_put(&t->del_index, cls, (uint32_t)t->ndel);
		if (!err)
			t->del_answers[t->ndel++] = (struct del_answer){ found, lok };
		pg_error_destroy(err);
	}
	return found;
}

/* _PyInstance_Lookup(inst, "__del__"): the instance dict, then the class.
 * Returns the class that defines it (or the instance itself when its dict
 * does), 0 when none. */
static uint64_t instance_del_owner(struct pg_finalizers *t, uint64_t obj, bool *ok)
{
	const struct pg_layout *L = t->L;
	uint64_t d, cls;
	if (rd(&t->rd, obj + (uint64_t)L->in_dict.off, &d) && dict_has_del(t, d, ok))
		return obj;
	if (!rd(&t->rd, obj + (uint64_t)L->in_class.off, &cls) || !cls) {
		*ok = false;
		return 0;
	}
	return class_del_owner(t, cls, ok);
}

static bool gen_needs_finalizing(struct pg_finalizers *t, uint64_t obj, bool *ok)
{
	const struct pg_layout *f = t->L;
	if (!f->frames_ok) {
		*ok = false;
		return false;
	}
	uint64_t frame, top;
	int32_t iblock;
	if (!rd(&t->rd, obj + (uint64_t)f->gi_frame.off, &frame)) {
		*ok = false;
		return false;
	}
	if (!frame)
		return false;
	if (!rd(&t->rd, frame + (uint64_t)f->f_stacktop.off, &top) ||
	    !rd32(&t->rd, frame + (uint64_t)f->f_iblock.off, &iblock)) {
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
		if (!rd32(&t->rd, frame + (uint64_t)f->f_blockstack.off + (uint64_t)i * (uint64_t)f->tryblock_size +
				     (uint64_t)f->b_type.off, &btype)) {
			*ok = false;
			return false;
		}
		if (btype != SETUP_LOOP)
			return true;
	}
	return false;
}

bool pg_has_finalizer(struct pg_finalizers *t, uint64_t obj, uint32_t type_idx, bool *uncertain)
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

static char *str_object(struct pg_finalizers *t, uint64_t s)
{
	char buf[128];
	pg_error *err = pg_read_cstr(&t->rd, s + (uint64_t)t->L->ob_sval.off, buf, sizeof(buf), NULL);
	if (err) {
		pg_error_destroy(err);
		return NULL;
	}
	return strdup(buf);
}

char *pg_finalizer_source(struct pg_finalizers *t, uint64_t obj, uint32_t type_idx)
{
	struct pg_heap *h = t->h;
	const struct pg_layout *L = t->L;
	const struct pg_type *ty = &h->types[type_idx];
	bool ok = true;
	if (ty->kind == PG_K_INSTANCE) {
		uint64_t owner = instance_del_owner(t, obj, &ok), name;
		if (owner == obj)
			return strdup("__del__ in the instance's __dict__");
		if (owner && rd(&t->rd, owner + (uint64_t)L->cl_name.off, &name)) {
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
		if (rd(&t->rd, ty->addr + (uint64_t)L->tp_mro.off, &mro) && mro) {
			uint64_t n = tuple_size(t, mro);
			for (uint64_t i = 0; i < n; i++) {
				uint64_t k, kd;
				if (!rd(&t->rd, mro + (uint64_t)L->tuple_item.off + 8 * i, &k) ||
				    !rd(&t->rd, k + (uint64_t)L->tp_dict.off, &kd))
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
		if (L->frames_ok && rd(&t->rd, obj + (uint64_t)L->gi_frame.off, &frame) && frame &&
		    rd(&t->rd, frame + (uint64_t)L->f_code.off, &code) && code && L->co_name.off >= 0 &&
		    rd(&t->rd, code + (uint64_t)L->co_name.off, &name))
			fn = str_object(t, name);
		char *s = pg_asprintf("generator %s%s suspended in try/finally (or with)", fn ? fn : "", fn ? "()" : "");
		free(fn);
		return s;
	}
	return NULL;
}
