#include "model.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

pg_error *pg_model_new(struct pg_family *fam, const struct pg_mem *mem, struct pg_warnings *w, bool keep_objects,
		       struct pg_model **ret)
{
	struct pg_model *m = calloc(1, sizeof(*m));
	struct pg_model_private *p = calloc(1, sizeof(*p));
	if (!m || !p) {
		free(m);
		free(p);
		return PG_ENOMEM;
	}
	m->priv = p;
	p->fam = fam;
	p->mem = mem;
	p->warn = w;
	p->keep_objects = keep_objects;
	/* the object table grows in place inside a reservation sized for the
	 * most objects this core can hold (each tracked object takes at least
	 * a gc head and an object header of the readable memory: 48 bytes) */
	p->reserve = (size_t)(pg_mem_readable(mem) / 48 + 1);
	*ret = m;
	return NULL;
}

static void free_walk(struct pg_model_private *p)
{
	pg_bigarr_free(&p->arr_addr);
	pg_bigarr_free(&p->arr_type);
	pg_bigarr_free(&p->arr_row);
	pg_bigarr_free(&p->arr_size);
	pg_bigarr_free(&p->arr_gen);
	p->w_addr = NULL;
	p->w_type = p->w_row = p->w_size = NULL;
	p->w_gen = NULL;
	p->capwalk = 0;
}

void pg_model_free(struct pg_model *m)
{
	if (!m)
		return;
	struct pg_model_private *p = m->priv;
	for (size_t i = 0; i < m->ntypes; i++)
		free((char *)m->types[i].name);
	free(m->types);
	free(m->rows);
	free(m->garbage);
	free(m->garbage_problem);
	if (p && p->node_arrs) {
		/* reservations (with every object: see pg_model_build_graph) */
		for (int k = 0; k < 5; k++)
			pg_bigarr_free(&p->node_arr[k]);
	} else {
		free(m->addr);
		free(m->type);
		free(m->row);
		free(m->size);
		free(m->refcnt);
	}
	free(m->gen);
	free(m->estart);
	if (p) {
		for (size_t i = 0; i < p->npool; i++)
			free(p->pool[i]);
		free(p->pool);
		pg_strmap_free(&p->row_index);
		pg_u64map_free(&p->big_sizes);
		free(p->big);
		free_walk(p);
		pg_index_free(&p->index);
		pg_bigarr_free(&p->eto_arr);
		pg_model_all_free(m);
		free(p);
	}
	free(m);
}

char *pg_model_own(struct pg_model *m, char *s)
{
	struct pg_model_private *p = m->priv;
	if (!s)
		return NULL;
	if (pg_grow((void **)&p->pool, &p->cappool, p->npool + 1, sizeof(char *))) {
		free(s);
		return NULL;
	}
	p->pool[p->npool++] = s;
	return s;
}

pg_error *pg_model_row(struct pg_model *m, const char *name, bool oldstyle, uint32_t *row)
{
	struct pg_model_private *p = m->priv;
	if (pg_strmap_get(&p->row_index, name, oldstyle, row))
		return NULL;
	pg_error *err = pg_grow((void **)&m->rows, &m->caprows, m->nrows + 1, sizeof(*m->rows));
	if (err)
		return err;
	*row = (uint32_t)m->nrows;
	m->rows[m->nrows++] = (struct pg_row){ .name = name, .oldstyle = oldstyle };
	return pg_strmap_put(&p->row_index, name, oldstyle, *row);
}

pg_error *pg_model_add_type(struct pg_model *m, const struct pg_model_type *t, uint32_t *idx)
{
	pg_error *err = pg_grow((void **)&m->types, &m->captypes, m->ntypes + 1, sizeof(*m->types));
	if (err)
		return err;
	*idx = (uint32_t)m->ntypes;
	m->types[m->ntypes++] = *t;
	return NULL;
}

pg_error *pg_model_walk_grow(struct pg_model *m)
{
	struct pg_model_private *p = m->priv;
	size_t ncap = p->capwalk ? p->capwalk * 2 : 4096;
	size_t r = p->reserve;
	pg_error *err;
	if ((err = pg_bigarr_need(&p->arr_addr, ncap * sizeof(uint64_t), r * sizeof(uint64_t))) ||
	    (err = pg_bigarr_need(&p->arr_type, ncap * sizeof(uint32_t), r * sizeof(uint32_t))) ||
	    (err = pg_bigarr_need(&p->arr_row, ncap * sizeof(uint32_t), r * sizeof(uint32_t))) ||
	    (err = pg_bigarr_need(&p->arr_size, ncap * sizeof(uint32_t), r * sizeof(uint32_t))) ||
	    (err = pg_bigarr_need(&p->arr_gen, ncap, r)))
		return err;
	p->w_addr = p->arr_addr.p;
	p->w_type = p->arr_type.p;
	p->w_row = p->arr_row.p;
	p->w_size = p->arr_size.p;
	p->w_gen = p->arr_gen.p;
	p->capwalk = ncap;
	return NULL;
}

pg_error *pg_model_walk_big(struct pg_model *m, uint64_t addr, uint64_t size)
{
	struct pg_model_private *p = m->priv;
	pg_error *err = pg_grow((void **)&p->big, &p->capbig, p->nbig + 1, sizeof(*p->big));
	if (err)
		return err;
	p->big[p->nbig].addr = addr;
	p->big[p->nbig].size = size;
	return pg_u64map_put(&p->big_sizes, addr, (uint32_t)p->nbig++);
}

uint64_t pg_model_size(const struct pg_model *m, uint32_t i)
{
	uint32_t k;
	if (m->size[i] != UINT32_MAX || !pg_u64map_get(&m->priv->big_sizes, m->addr[i], &k))
		return m->size[i];
	return m->priv->big[k].size;
}

uint32_t pg_model_index(const struct pg_model *m, uint64_t addr)
{
	return pg_index_find(&m->priv->index, addr);
}

/* ---- the graph -------------------------------------------------------- */

/* One thread's share of the graph: a range of objects, its own edges. */
struct builder {
	struct pg_model *m;
	struct pg_reader rd;
	size_t lo, hi;
	struct pg_bigarr eto;
	size_t nedges, capedges, reserve;
	/* with every object: the referents that are no graph object, as
	 * addresses (lib/model/all.c makes them nodes) */
	bool all;
	struct pg_bigarr ubuf;
	size_t nu, capu;
	uint64_t misaligned;           /* referents that cannot be objects (past the first page) */
	uint64_t approx;
	pg_error *err;
};

static void on_visit(void *arg, uint64_t ref, const struct pg_label *label)
{
	(void)label;
	struct builder *b = arg;
	if (b->err)
		return;
	uint32_t j = pg_index_find(&b->m->priv->index, ref);
	if (j == PG_NONE) {
		if (!b->all)
			return;
		if (ref & 7) {
			/* (PyObject *)1..3 are markers some types keep (multibyte
			 * codecs' error modes): not objects, not damage either */
			b->misaligned += ref >= 4096;
			return;
		}
		if (b->nu == b->capu) {
			size_t ncap = b->capu ? b->capu * 2 : 1 << 16;
			pg_error *err = ncap < SIZE_MAX / sizeof(uint64_t)
				? pg_bigarr_need(&b->ubuf, ncap * sizeof(uint64_t), b->reserve * 2) : PG_ENOMEM;
			if (err) {
				b->err = err;
				return;
			}
			b->capu = b->ubuf.cap / sizeof(uint64_t);
		}
		((uint64_t *)b->ubuf.p)[b->nu++] = ref;
		return;
	}
	if (b->nedges == b->capedges) {
		size_t ncap = b->capedges ? b->capedges * 2 : 1 << 16;
		pg_error *err = ncap < SIZE_MAX / sizeof(uint32_t) ? pg_bigarr_need(&b->eto, ncap * sizeof(uint32_t), b->reserve)
								    : PG_ENOMEM;
		if (err) {
			b->err = err;
			return;
		}
		b->capedges = b->eto.cap / sizeof(uint32_t);
	}
	((uint32_t *)b->eto.p)[b->nedges++] = j;
}

static void *build_part(void *arg)
{
	struct builder *b = arg;
	struct pg_model *m = b->m;
	struct pg_family *f = m->priv->fam;
	for (size_t i = b->lo; i < b->hi && !b->err; i++) {
		if (b->nedges > UINT32_MAX) {
			b->err = pg_error_create(PG_ERR_LIMIT, "more than %u references: more than the graph can hold",
						 UINT32_MAX);
			break;
		}
		m->estart[i] = (uint32_t)b->nedges;
		size_t nu0 = b->nu;
		if (b->all) {
			if (nu0 > UINT32_MAX) {
				b->err = pg_error_create(PG_ERR_LIMIT, "more than %u references to untracked objects", UINT32_MAX);
				break;
			}
			m->priv->ustart[i] = (uint32_t)nu0;
		}
		m->refcnt[i] = f->ops->refcount(f, &b->rd, m->addr[i]);
		bool approx = false;
		pg_error *err = f->ops->traverse(f, &b->rd, m->addr[i], m->type[i], on_visit, b, &approx);
		if (err && !b->err)
			b->err = err;
		else
			pg_error_destroy(err);
		b->approx += approx;
		/* a conservative scan's words that are no graph object are not
		 * believed to be objects */
		if (approx)
			b->nu = nu0;
	}
	return NULL;
}

pg_error *pg_model_build_graph(struct pg_model *m)
{
	struct pg_model_private *p = m->priv;
	struct pg_family *f = p->fam;
	size_t nw = p->nwalk;
	pg_error *err = NULL;
	if (nw >= PG_NONE)
		return pg_error_create(PG_ERR_LIMIT, "%zu objects: more than the graph can index", nw);
	/* the index first: a rank per address, so that the tables are filled
	 * by scattering each object straight to its place (index.h) */
	size_t dups = 0;
	for (size_t i = 0; i < nw; i++) {
		bool dup;
		if ((err = pg_index_add(&p->index, p->w_addr[i], &dup)))
			return err;
		dups += dup;
	}
	if ((err = pg_index_finish(&p->index)))
		return err;
	size_t n = p->index.n;
	m->n = n;
	if (p->want_all) {
		/* the untracked nodes follow the tracked ones in these tables:
		 * reservations for the most nodes the core can hold (one object
		 * per 16 readable bytes), so that they grow without a copy */
		size_t most = (size_t)(pg_mem_readable(p->mem) / 16) + n + 2;
		const size_t esz[5] = { sizeof(*m->addr), sizeof(*m->type), sizeof(*m->row), sizeof(*m->size),
					sizeof(*m->refcnt) };
		for (int k = 0; k < 5; k++)
			if ((err = pg_bigarr_need(&p->node_arr[k], (n + 1) * esz[k], most * esz[k])))
				return err;
		p->node_arrs = true;
		m->addr = p->node_arr[0].p;
		m->type = p->node_arr[1].p;
		m->row = p->node_arr[2].p;
		m->size = p->node_arr[3].p;
		m->refcnt = p->node_arr[4].p;
	} else {
		m->addr = pg_reallocarray(NULL, n + 1, sizeof(*m->addr));
		m->type = pg_reallocarray(NULL, n + 1, sizeof(*m->type));
		m->row = pg_reallocarray(NULL, n + 1, sizeof(*m->row));
		m->size = pg_reallocarray(NULL, n + 1, sizeof(*m->size));
		m->refcnt = pg_reallocarray(NULL, n + 1, sizeof(*m->refcnt));
	}
	m->gen = pg_reallocarray(NULL, n + 1, sizeof(*m->gen));
	m->estart = pg_reallocarray(NULL, n + 1, sizeof(*m->estart));
	if (!m->addr || !m->type || !m->row || !m->size || !m->gen || !m->refcnt || !m->estart)
		return PG_ENOMEM;
	if (p->want_all && !(p->ustart = pg_reallocarray(NULL, n + 1, sizeof(*p->ustart))))
		return PG_ENOMEM;
	/* scatter; an address met twice keeps its first type and generation */
	for (size_t i = nw; i-- > 0;) {
		uint32_t j = pg_index_find(&p->index, p->w_addr[i]);
		if (j == PG_NONE)
			continue;
		m->addr[j] = p->w_addr[i];
		m->type[j] = p->w_type[i];
		m->row[j] = p->w_row[i];
		m->size[j] = p->w_size[i];
		m->gen[j] = p->w_gen[i];
	}
	/* the table in list order is not needed any more */
	free_walk(p);
	if (dups)
		pg_warn_partial(p->warn, "%zu objects were found twice in the generation lists (damaged links)", dups);

	/* every type's traversal plan is made before the threads start: they
	 * only read the plans and the core */
	if ((err = f->ops->prepare(f, m)))
		return err;
	enum { MAX_THREADS = 2 };
	struct builder parts[MAX_THREADS];
	size_t nparts = n >= 200000 ? MAX_THREADS : 1;
	/* edges: each is a pointer word read from the core, so the readable
	 * bytes / 8 bound them (a reservation, paid for only as it fills; a
	 * hostile core that breaks the bound makes it fall back to realloc) */
	uint64_t most = pg_mem_readable(p->mem) / 8 + 1;
	size_t reserve = (size_t)(most < UINT32_MAX ? most : UINT32_MAX) * sizeof(uint32_t);
	for (size_t k = 0; k < nparts; k++) {
		parts[k] = (struct builder){ .m = m, .lo = n * k / nparts, .hi = n * (k + 1) / nparts, .reserve = reserve,
					     .all = p->want_all };
		pg_reader_init(&parts[k].rd, p->mem);
	}
	pthread_t tid[MAX_THREADS];
	bool started[MAX_THREADS] = { false };
	for (size_t k = 1; k < nparts; k++)
		started[k] = pthread_create(&tid[k], NULL, build_part, &parts[k]) == 0;
	build_part(&parts[0]);
	for (size_t k = 1; k < nparts; k++) {
		if (started[k])
			pthread_join(tid[k], NULL);
		else
			build_part(&parts[k]);
	}
	size_t total = 0;
	for (size_t k = 0; k < nparts; k++) {
		if (!err)
			err = parts[k].err;
		total += parts[k].nedges;
		m->approx_objects += parts[k].approx;
	}
	if (!err && total > UINT32_MAX)
		err = pg_error_create(PG_ERR_LIMIT, "%zu references: more than the graph can hold", total);
	if (!err) {
		/* the first part's array becomes the graph's; the others follow */
		p->eto_arr = parts[0].eto;
		parts[0].eto = (struct pg_bigarr){ 0 };
		err = pg_bigarr_need(&p->eto_arr, (total ? total : 1) * sizeof(uint32_t), reserve);
		m->eto = p->eto_arr.p;
		if (!err && nparts > 1) {
			size_t off = parts[0].nedges;
			for (size_t k = 1; k < nparts; k++) {
				if (parts[k].nedges)
					memcpy(m->eto + off, parts[k].eto.p, parts[k].nedges * sizeof(uint32_t));
				for (size_t i = parts[k].lo; i < parts[k].hi; i++)
					m->estart[i] += (uint32_t)off;
				off += parts[k].nedges;
			}
		}
	}
	for (size_t k = 0; k < nparts; k++) {
		pg_bigarr_free(&parts[k].eto);
		/* the untracked referents go on to pg_model_build_all */
		p->nparts = nparts;
		p->ubuf[k] = parts[k].ubuf;
		p->nubuf[k] = parts[k].nu;
		p->part_lo[k] = parts[k].lo;
		p->part_hi[k] = parts[k].hi;
		p->misaligned += parts[k].misaligned;
	}
	if (err)
		return err;
	m->nedges = total;
	m->estart[n] = (uint32_t)total;
	m->approximate = m->approx_objects > 0;
	m->has_graph = true;
	return NULL;
}

/* ---- facts asked of the family ---------------------------------------- */

bool pg_model_has_finalizer(const struct pg_model *m, uint32_t i, bool *uncertain)
{
	struct pg_family *f = m->priv->fam;
	return f->ops->has_finalizer(f, m->addr[i], m->type[i], uncertain);
}

char *pg_model_finalizer_text(const struct pg_model *m, uint32_t i)
{
	struct pg_family *f = m->priv->fam;
	return f->ops->finalizer_text(f, m->addr[i], m->type[i]);
}

struct label_finder {
	uint64_t target;
	struct pg_label *out;
	size_t cap, n;
};

static void find_label(void *arg, uint64_t ref, const struct pg_label *label)
{
	struct label_finder *lf = arg;
	if (ref == lf->target && lf->n < lf->cap)
		lf->out[lf->n++] = *label;
}

size_t pg_model_edge_labels(const struct pg_model *m, uint32_t i, uint32_t j, struct pg_label *out, size_t cap)
{
	struct label_finder lf = { m->addr[j], out, cap, 0 };
	bool approx = false;
	pg_model_referents(m, i, find_label, &lf, &approx);
	return lf.n;
}

void pg_model_label_text(const struct pg_model *m, const struct pg_label *l, char *buf, size_t cap)
{
	struct pg_family *f = m->priv->fam;
	f->ops->label_text(f, l, buf, cap);
}

void pg_model_untracked_referents(const struct pg_model *m, uint32_t i, void (*fn)(void *arg, uint64_t addr),
				  void *arg)
{
	struct pg_family *f = m->priv->fam;
	f->ops->untracked_referents(f, m, m->addr[i], m->type[i], fn, arg);
}

bool pg_model_refcnt_size(struct pg_model *m, uint64_t addr, int64_t *refcnt, uint64_t *size)
{
	struct pg_family *f = m->priv->fam;
	return f->ops->refcnt_size(f, m, addr, refcnt, size);
}

void pg_model_referents_of(const struct pg_model *m, uint64_t addr, uint32_t type, pg_visit_fn fn, void *arg,
			   bool *approx)
{
	struct pg_family *f = m->priv->fam;
	struct pg_reader rd;
	pg_reader_init(&rd, m->priv->mem);
	pg_error_destroy(f->ops->traverse(f, &rd, addr, type, fn, arg, approx));
}

void pg_model_referents(const struct pg_model *m, uint32_t i, pg_visit_fn fn, void *arg, bool *approx)
{
	pg_model_referents_of(m, m->addr[i], m->type[i], fn, arg, approx);
}

int64_t pg_model_length(const struct pg_model *m, uint32_t i)
{
	struct pg_family *f = m->priv->fam;
	return f->ops->length(f, m->addr[i], m->type[i]);
}

struct weak_map {
	const struct pg_model *m;
	void (*fn)(void *arg, uint32_t weakref, bool callback);
	void *arg;
};

static void weak_visit(void *arg, uint64_t wr, bool callback)
{
	struct weak_map *w = arg;
	uint32_t j = pg_model_index(w->m, wr);
	if (j != PG_NONE)
		w->fn(w->arg, j, callback);
}

void pg_model_weakrefs(const struct pg_model *m, uint32_t i, void (*fn)(void *arg, uint32_t weakref, bool callback),
		       void *arg)
{
	struct pg_family *f = m->priv->fam;
	struct weak_map w = { m, fn, arg };
	f->ops->weakrefs(f, m->addr[i], m->type[i], m->n + 1, weak_visit, &w);
}
