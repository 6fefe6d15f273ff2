/* Every object: the graph's tracked objects reach objects that are in no
 * gc list (str, unicode, int, long, float, untracked dicts and tuples,
 * code, static types ...).  Each becomes a node (n, n+1, ... in the order
 * met), with its type, size, refcount and its own references; then the
 * family's roots are met, and what they hold that is not a node yet is
 * added the same way.
 *
 * The referents of the tracked objects were kept by the graph's threads as
 * addresses (a batch, in address order of their holders): each address is
 * looked up once in a hash map, and the headers of the new ones are
 * prefetched a few entries ahead, so that reading them is not one cache
 * miss after another.  A referent that is no object (unreadable, no valid
 * type, refcount <= 0) is dropped with its edge, and counted. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

#define PREFETCH_AHEAD 16
#define HOT_SLOTS 4096

struct all {
	struct pg_model *m;
	struct pg_family *f;
	struct pg_reader rd;
	struct pg_u64map map;        /* address -> node - n + 1, or 0 for "no object" (see lookup) */
	size_t n;                    /* tracked */
	/* the untracked nodes, in the order met */
	uint64_t *addr;
	uint32_t *type, *row, *size;
	int64_t *refcnt;
	size_t nu, capu;
	size_t next;                 /* the next node whose references are read */
	uint32_t *xstart;            /* over nall: grown with the nodes */
	size_t capx;
	size_t nx, capxto;           /* edges in m->priv->xto_arr */
	size_t xreserve;
	uint64_t dropped, limit;
	size_t max_edges;
	bool edges_cut;
	pg_error *err;
	/* the last few addresses looked up, direct-mapped: a heap's popular
	 * referents (interned keys, small values) cost one probe, not a
	 * hash-table walk */
	struct {
		uint64_t addr;
		uint32_t node;
	} hot[HOT_SLOTS];
};

/* A marker stored in the map for addresses that are no object. */
#define NOT_OBJECT UINT32_MAX

static void add_edge(struct all *a, uint32_t to)
{
	struct pg_model_private *p = a->m->priv;
	if (a->err)
		return;
	if (a->nx == a->capxto) {
		size_t ncap = a->capxto ? a->capxto * 2 : 1 << 16;
		a->err = pg_bigarr_need(&p->xto_arr, ncap * sizeof(uint32_t), a->xreserve);
		if (a->err)
			return;
		a->capxto = p->xto_arr.cap / sizeof(uint32_t);
	}
	if (a->nx >= a->max_edges) {
		/* each reference is a word of the core: more than it holds is
		 * containers sharing tables (damage); stop there */
		if (!a->edges_cut)
			pg_warn_partial(p->warn, "more references than the core's words (%zu): the rest of the untracked "
						  "objects' references are dropped", a->nx);
		a->edges_cut = true;
		return;
	}
	if (a->nx >= UINT32_MAX) {
		a->err = pg_error_create(PG_ERR_LIMIT, "more than %u references: more than the graph can hold", UINT32_MAX);
		return;
	}
	((uint32_t *)p->xto_arr.p)[a->nx++] = to;
}

static pg_error *grow_nodes(struct all *a)
{
	size_t ncap = a->capu ? a->capu * 2 : 4096;
	uint64_t *ad = pg_reallocarray(a->addr, ncap, sizeof(*ad));
	if (ad)
		a->addr = ad;
	uint32_t *ty = ad ? pg_reallocarray(a->type, ncap, sizeof(*ty)) : NULL;
	if (ty)
		a->type = ty;
	uint32_t *ro = ty ? pg_reallocarray(a->row, ncap, sizeof(*ro)) : NULL;
	if (ro)
		a->row = ro;
	uint32_t *si = ro ? pg_reallocarray(a->size, ncap, sizeof(*si)) : NULL;
	if (si)
		a->size = si;
	int64_t *rc = si ? pg_reallocarray(a->refcnt, ncap, sizeof(*rc)) : NULL;
	if (rc)
		a->refcnt = rc;
	if (!rc)
		return PG_ENOMEM;
	a->capu = ncap;
	return NULL;
}

/* The node at addr, known not to be a tracked object: an untracked node
 * met before, or a new one (read now); PG_NONE when addr is no object. */
static uint32_t lookup_untracked_slow(struct all *a, uint64_t addr)
{
	struct pg_model *m = a->m;
	uint32_t v;
	if (pg_u64map_get(&a->map, addr, &v))
		return v == NOT_OBJECT ? PG_NONE : (uint32_t)a->n + v;
	if (a->err)
		return PG_NONE;
	struct pg_node_facts nf;
	if (a->nu >= a->limit || !a->f->ops->object_facts(a->f, m, &a->rd, addr, &nf)) {
		a->dropped++;
		a->err = pg_u64map_put(&a->map, addr, NOT_OBJECT);
		return PG_NONE;
	}
	if (a->nu == a->capu && (a->err = grow_nodes(a)))
		return PG_NONE;
	size_t k = a->nu++;
	a->addr[k] = addr;
	a->type[k] = nf.type;
	a->row[k] = nf.row;
	a->size[k] = nf.size < UINT32_MAX ? (uint32_t)nf.size : UINT32_MAX;
	a->refcnt[k] = nf.refcnt;
	m->rows[nf.row].ucount++;
	m->rows[nf.row].ubytes += nf.size;
	m->untracked++;
	m->untracked_bytes += nf.size;
	if (nf.size >= UINT32_MAX && (a->err = pg_model_walk_big(m, addr, nf.size)))
		return PG_NONE;
	if ((a->err = pg_u64map_put(&a->map, addr, (uint32_t)k)))
		return PG_NONE;
	return (uint32_t)(a->n + k);
}

static inline uint32_t lookup_untracked(struct all *a, uint64_t addr)
{
	size_t h = (size_t)(addr >> 4) & (HOT_SLOTS - 1);
	if (a->hot[h].addr == addr)
		return a->hot[h].node;
	uint32_t v = lookup_untracked_slow(a, addr);
	if (!a->err) {
		a->hot[h].addr = addr;
		a->hot[h].node = v;
	}
	return v;
}

/* The node at addr: a tracked object's index, or as above. */
static uint32_t lookup(struct all *a, uint64_t addr)
{
	uint32_t j = pg_index_find(&a->m->priv->index, addr);
	return j != PG_NONE ? j : lookup_untracked(a, addr);
}

static void untracked_visit(void *arg, uint64_t ref, const struct pg_label *label)
{
	(void)label;
	struct all *a = arg;
	if (ref & 7) {
		a->dropped += ref >= 4096;
		return;
	}
	uint32_t j = lookup(a, ref);
	if (j != PG_NONE)
		add_edge(a, j);
}

static void prefetch(struct all *a, uint64_t addr)
{
	const uint8_t *p = pg_ptr(&a->rd, addr, 16);
	if (p)
		__builtin_prefetch(p);
}

/* The references of every node met and not read yet (which may meet more). */
static void read_nodes(struct all *a)
{
	struct pg_model *m = a->m;
	struct pg_family *f = a->f;
	while (a->next < a->nu && !a->err) {
		size_t k = a->next++;
		if (a->next + PREFETCH_AHEAD < a->nu)
			prefetch(a, a->addr[a->next + PREFETCH_AHEAD]);
		size_t node = a->n + k;
		if (node + 1 >= a->capx) {
			size_t ncap = a->capx * 2;
			uint32_t *x = pg_reallocarray(a->xstart, ncap, sizeof(*x));
			if (!x) {
				a->err = PG_ENOMEM;
				return;
			}
			a->xstart = x;
			a->capx = ncap;
		}
		a->xstart[node] = (uint32_t)a->nx;
		size_t nx0 = a->nx;
		bool approx = false;
		pg_error *err = f->ops->traverse(f, &a->rd, a->addr[k], a->type[k], untracked_visit, a, &approx);
		if (err) {
			pg_error_destroy(err);
			a->nx = nx0;
		}
		if (approx)
			a->nx = nx0;   /* a conservative scan's words are not believed */
	}
	(void)m;
}

struct root_ctx {
	struct all *a;
};

static pg_error *on_root(void *arg, uint64_t addr, const struct pg_root *r, bool weak)
{
	struct all *a = arg;
	struct pg_model *m = a->m;
	struct pg_model_private *p = m->priv;
	uint32_t node = lookup(a, addr);
	if (a->err)
		return NULL;
	if (node == PG_NONE)
		return NULL;
	pg_error *err = pg_grow((void **)&m->roots, &p->caproots, m->nroots + 1, sizeof(*m->roots));
	if (err)
		return err;
	m->roots[m->nroots] = *r;
	m->roots[m->nroots].node = node;
	m->nroots++;
	if (weak) {
		if ((err = pg_grow((void **)&m->weak_nodes, &p->capweak, m->nweak + 1, sizeof(*m->weak_nodes))))
			return err;
		m->weak_nodes[m->nweak++] = node;
	}
	return NULL;
}

pg_error *pg_model_build_all(struct pg_model *m)
{
	struct pg_model_private *p = m->priv;
	if (!m->has_graph || !p->want_all || !p->ustart)
		return pg_error_create(PG_ERR_INTERNAL, "every object needs the graph built with them");
	/* on the heap: its cache of recent lookups is 64 KiB */
	struct all *a = pg_calloc(1, sizeof(*a));
	if (!a)
		return PG_ENOMEM;
	a->m = m;
	a->f = p->fam;
	a->n = m->n;
	pg_reader_init(&a->rd, p->mem);
	/* every object takes at least 16 bytes of readable memory; every
	 * reference a word of it */
	uint64_t readable = pg_mem_readable(p->mem);
	a->limit = readable / 16 + 1;
	if (a->limit > (uint64_t)UINT32_MAX - 2 - m->n)
		a->limit = (uint64_t)UINT32_MAX - 2 - m->n;
	uint64_t most = readable / 8 + 1;
	a->xreserve = (size_t)(most < UINT32_MAX ? most : UINT32_MAX) * sizeof(uint32_t);
	a->max_edges = (size_t)(most < UINT32_MAX ? most : UINT32_MAX);
	a->capx = m->n + 4096;
	a->xstart = pg_reallocarray(NULL, a->capx, sizeof(*a->xstart));
	pg_error *err = a->xstart ? NULL : PG_ENOMEM;
	/* the tracked objects' untracked referents, part by part, in order */
	for (size_t k = 0; k < p->nparts && !err; k++) {
		const uint64_t *ub = p->ubuf[k].p;
		size_t nub = p->nubuf[k];
		for (size_t i = p->part_lo[k]; i < p->part_hi[k] && !a->err; i++) {
			size_t lo = p->ustart[i], hi = i + 1 < p->part_hi[k] ? p->ustart[i + 1] : nub;
			a->xstart[i] = (uint32_t)a->nx;
			for (size_t e = lo; e < hi && !a->err; e++) {
				if (e + PREFETCH_AHEAD < hi)
					prefetch(a, ub[e + PREFETCH_AHEAD]);
				uint32_t j = lookup_untracked(a, ub[e]);
				if (j != PG_NONE)
					add_edge(a, j);
			}
		}
		pg_bigarr_free(&p->ubuf[k]);
		p->nubuf[k] = 0;
		err = a->err;
	}
	free(p->ustart);
	p->ustart = NULL;
	/* what they hold, then the roots and what those hold */
	if (!err) {
		read_nodes(a);
		err = a->err;
	}
	if (!err && p->fam->ops->roots) {
		err = p->fam->ops->roots(p->fam, m, on_root, a);
		if (!err)
			err = a->err;
		if (!err) {
			read_nodes(a);
			err = a->err;
		}
	}
	if (!err && a->nu >= a->limit)
		pg_warn_partial(p->warn, "more untracked objects than the core can hold (%zu): the rest are not counted",
				a->nu);
	a->dropped += p->misaligned;
	/* an intact heap refers to objects only: a referent that is none
	 * (unreadable, no valid type, a refcount of 0 or less) is damage */
	if (!err && a->dropped)
		pg_warn_partial(p->warn, "%" PRIu64 " referents of the heap's objects are no objects (unreadable, no "
					  "valid type, or a refcount of 0 or less): dropped, and what only they hold with them",
				a->dropped);
	/* the nodes into the model's tables */
	size_t n = m->n, nall = n + a->nu;
	if (!err) {
		/* the graph's reservations grow in place (model.c) */
		void **tab[5] = { (void **)&m->addr, (void **)&m->type, (void **)&m->row, (void **)&m->size,
				  (void **)&m->refcnt };
		const void *tail[5] = { a->addr, a->type, a->row, a->size, a->refcnt };
		const size_t esz[5] = { sizeof(*m->addr), sizeof(*m->type), sizeof(*m->row), sizeof(*m->size),
					sizeof(*m->refcnt) };
		for (int k = 0; k < 5 && !err; k++) {
			if ((err = pg_bigarr_need(&p->node_arr[k], (nall + 1) * esz[k], 0)))
				break;
			*tab[k] = p->node_arr[k].p;
			if (a->nu)
				memcpy((uint8_t *)*tab[k] + n * esz[k], tail[k], a->nu * esz[k]);
		}
	}
	if (!err && nall + 1 > a->capx) {
		uint32_t *x = pg_reallocarray(a->xstart, nall + 1, sizeof(*x));
		if (x) {
			a->xstart = x;
			a->capx = nall + 1;
		} else {
			err = PG_ENOMEM;
		}
	}
	/* the address index of the untracked nodes: rank -> node */
	if (!err) {
		for (size_t k = 0; k < a->nu && !err; k++) {
			bool dup;
			err = pg_index_add(&p->uindex, a->addr[k], &dup);
		}
		if (!err)
			err = pg_index_finish(&p->uindex);
		if (!err && !(p->uperm = pg_reallocarray(NULL, a->nu + 1, sizeof(*p->uperm))))
			err = PG_ENOMEM;
		for (size_t k = 0; k < a->nu && !err; k++) {
			uint32_t r = pg_index_find(&p->uindex, a->addr[k]);
			if (r != PG_NONE)
				p->uperm[r] = (uint32_t)k;
		}
	}
	free(a->addr);
	free(a->type);
	free(a->row);
	free(a->size);
	free(a->refcnt);
	pg_u64map_free(&a->map);
	if (err) {
		free(a->xstart);
		free(a);
		return err;
	}
	pg_trim();   /* the referents' addresses and the map are gone */
	a->xstart[nall] = (uint32_t)a->nx;
	m->xstart = a->xstart;
	m->xto = p->xto_arr.p;
	m->nxedges = a->nx;
	m->nall = nall;
	m->has_all = true;
	free(a);
	return NULL;
}

uint32_t pg_model_node(const struct pg_model *m, uint64_t addr)
{
	uint32_t i = pg_index_find(&m->priv->index, addr);
	if (i != PG_NONE || !m->has_all)
		return i;
	uint32_t r = pg_index_find(&m->priv->uindex, addr);
	return r == PG_NONE ? PG_NONE : (uint32_t)m->n + m->priv->uperm[r];
}

void pg_model_want_all(struct pg_model *m)
{
	m->priv->want_all = true;
}

void pg_model_all_free(struct pg_model *m)
{
	struct pg_model_private *p = m->priv;
	for (size_t k = 0; k < 2; k++)
		pg_bigarr_free(&p->ubuf[k]);
	free(p->ustart);
	pg_index_free(&p->uindex);
	free(p->uperm);
	pg_bigarr_free(&p->xto_arr);
	free(m->xstart);
	free(m->roots);
	free(m->weak_nodes);
}

const char *pg_root_kind_name(enum pg_root_kind k)
{
	static const char *const names[PG_ROOT_KINDS] = {
		[PG_ROOT_MODULE] = "module", [PG_ROOT_THREAD] = "thread", [PG_ROOT_INTERP] = "interpreter",
		[PG_ROOT_TYPE] = "static type", [PG_ROOT_GARBAGE] = "gc.garbage", [PG_ROOT_OUTSIDE] = "outside",
	};
	return (unsigned)k < PG_ROOT_KINDS ? names[k] : "?";
}
