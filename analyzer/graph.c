#include "graph.h"
#include "values.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_chunk_key(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

uint32_t pg_graph_index(const struct pg_graph *g, uint64_t addr)
{
	uint32_t ci;
	if ((addr & 7) || !pg_u64map_get(&g->chunks, (addr >> 15) + 1, &ci))
		return PG_NONE;
	const struct pg_chunk *c = &g->chunk[ci];
	unsigned bit = (unsigned)(addr >> 3) & 4095, w = bit >> 6;
	uint64_t word = c->w[w].bits, mask = 1ULL << (bit & 63);
	if (!(word & mask))
		return PG_NONE;
	return (uint32_t)c->w[w].base + (uint32_t)__builtin_popcountll(word & (mask - 1));
}

/* One thread's share of the graph: a range of objects, its own edges. */
struct builder {
	struct pg_heap *h;
	struct pg_traverse *t;
	struct pg_graph *g;
	size_t lo, hi;
	struct pg_bigarr eto;
	size_t nedges, capedges, reserve;
	uint64_t approx;
	pg_error *err;
};

static void on_visit(void *arg, uint64_t ref, uint8_t kind, uint64_t payload)
{
	(void)kind;
	(void)payload;
	struct builder *b = arg;
	if (b->err)
		return;
	uint32_t j = pg_graph_index(b->g, ref);
	if (j == PG_NONE)
		return;
	if (b->nedges == b->capedges) {
		size_t ncap = b->capedges ? b->capedges * 2 : 1 << 16;
		pg_error *err = ncap < SIZE_MAX / sizeof(uint32_t) ? pg_bigarr_need(&b->eto, ncap * sizeof(uint32_t), b->reserve)
								    : &pg_enomem;
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
	const struct pg_layout *L = &b->h->in->L;
	const struct pg_graph *g = b->g;
	for (size_t i = b->lo; i < b->hi && !b->err; i++) {
		b->g->estart[i] = b->nedges;
		uint64_t rc = 0;
		pg_error *rerr = pg_read_u64(&b->h->core->mem, g->addr[i] + (uint64_t)L->ob_refcnt.off, &rc);
		if (rerr) {
			pg_warn_partial(b->h->warn, "object 0x%" PRIx64 ": refcount unreadable: %s", g->addr[i], rerr->message);
			pg_error_destroy(rerr);
		}
		b->g->refcnt[i] = (int64_t)rc;
		bool approx = false;
		pg_error *err = pg_traverse_object(b->t, g->addr[i], g->type[i], on_visit, b, &approx);
		if (err && !b->err)
			b->err = err;
		b->approx += approx;
	}
	return NULL;
}

pg_error *pg_graph_build(struct pg_heap *h, struct pg_traverse *t, struct pg_graph **ret)
{
	struct pg_graph *g = calloc(1, sizeof(*g));
	if (!g)
		return &pg_enomem;
	size_t n = h->nobj;
	pg_error *err = NULL;
	if (n >= PG_NONE) {
		err = pg_error_create(PG_ERR_LIMIT, "%zu objects: more than the graph can index", n);
		goto fail;
	}
	/* The index first: per 32 KiB chunk holding objects, a bitmap of object
	 * starts.  With the chunks' counts summed in address order, an object's
	 * rank in address order is its index (pg_graph_index), so the tables
	 * are filled by scattering each object straight to its place: no sort,
	 * no copy of the object list. */
	size_t capchunks = 0, dups = 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t a = h->obj[i];
		if (a & 7) {
			dups++; /* cannot be an object; the walk rejects these */
			continue;
		}
		uint64_t key = (a >> 15) + 1;
		uint32_t ci;
		if (!pg_u64map_get(&g->chunks, key, &ci)) {
			ci = (uint32_t)g->nchunks;
			if ((err = pg_grow((void **)&g->chunk, &capchunks, g->nchunks + 1, sizeof(*g->chunk))) ||
			    (err = pg_u64map_put(&g->chunks, key, ci)))
				goto fail;
			memset(&g->chunk[ci], 0, sizeof(g->chunk[ci]));
			g->nchunks++;
		}
		unsigned bit = (unsigned)(a >> 3) & 4095;
		uint64_t mask = 1ULL << (bit & 63);
		if (g->chunk[ci].w[bit >> 6].bits & mask)
			dups++; /* a damaged list met twice: count it once */
		g->chunk[ci].w[bit >> 6].bits |= mask;
	}
	{
		/* chunks in address order: (key, chunk number) pairs sorted */
		uint64_t *order = pg_reallocarray(NULL, g->nchunks ? g->nchunks : 1, 2 * sizeof(uint64_t));
		if (!order) {
			err = &pg_enomem;
			goto fail;
		}
		size_t k = 0;
		for (size_t ci = 0; ci < g->chunks.cap; ci++)
			if (g->chunks.keys[ci]) {
				order[2 * k] = g->chunks.keys[ci];
				order[2 * k + 1] = g->chunks.vals[ci];
				k++;
			}
		qsort(order, k, 2 * sizeof(uint64_t), cmp_chunk_key);
		size_t sum = 0;
		for (size_t o = 0; o < k; o++) {
			struct pg_chunk *c = &g->chunk[order[2 * o + 1]];
			for (int w = 0; w < 64; w++) {
				c->w[w].base = sum;
				sum += (unsigned)__builtin_popcountll(c->w[w].bits);
			}
		}
		free(order);
		n = sum;
	}
	g->n = n;
	g->addr = pg_reallocarray(NULL, n + 1, sizeof(*g->addr));
	g->type = pg_reallocarray(NULL, n + 1, sizeof(*g->type));
	g->gen = pg_reallocarray(NULL, n + 1, sizeof(*g->gen));
	g->refcnt = pg_reallocarray(NULL, n + 1, sizeof(*g->refcnt));
	g->estart = pg_reallocarray(NULL, n + 1, sizeof(*g->estart));
	if (!g->addr || !g->type || !g->gen || !g->refcnt || !g->estart) {
		err = &pg_enomem;
		goto fail;
	}
	/* scatter; an address met twice keeps its first type and generation */
	for (size_t i = h->nobj; i-- > 0;) {
		uint32_t j = pg_graph_index(g, h->obj[i]);
		if (j == PG_NONE)
			continue;
		g->addr[j] = h->obj[i];
		g->type[j] = h->obj_type[i];
		g->gen[j] = h->obj_gen[i];
	}
	/* the tables in list order are not needed any more */
	pg_heap_drop_objects(h);
	if (dups)
		pg_warn_partial(h->warn, "%zu objects were found twice in the generation lists (damaged links)", dups);

	/* every type's traversal plan is made before the threads start: they
	 * only read the plans and the core */
	for (uint32_t ti = 0; ti < h->ntypes; ti++)
		(void)pg_traverse_name(t, ti);
	enum { MAX_THREADS = 2 };
	struct builder parts[MAX_THREADS];
	size_t nparts = n >= 200000 ? MAX_THREADS : 1;
	/* edges: each is a pointer word read from the core, so the readable
	 * bytes / 8 bound them (a reservation, paid for only as it fills; a
	 * hostile core that breaks the bound makes it fall back to realloc) */
	uint64_t readable = pg_mem_readable(&h->core->mem);
	uint64_t most = readable / 8 + 1;
	size_t reserve = (size_t)(most < UINT32_MAX ? most : UINT32_MAX) * sizeof(uint32_t);
	for (size_t p = 0; p < nparts; p++)
		parts[p] = (struct builder){ .h = h, .t = t, .g = g, .lo = n * p / nparts, .hi = n * (p + 1) / nparts,
					     .reserve = reserve };
	pthread_t tid[MAX_THREADS];
	bool started[MAX_THREADS] = { false };
	for (size_t p = 1; p < nparts; p++)
		started[p] = pthread_create(&tid[p], NULL, build_part, &parts[p]) == 0;
	build_part(&parts[0]);
	for (size_t p = 1; p < nparts; p++) {
		if (started[p])
			pthread_join(tid[p], NULL);
		else
			build_part(&parts[p]);
	}
	size_t total = 0;
	for (size_t p = 0; p < nparts; p++) {
		if (!err)
			err = parts[p].err;
		total += parts[p].nedges;
		g->approx_objects += parts[p].approx;
	}
	if (!err) {
		/* the first part's array becomes the graph's; the others follow */
		g->eto_arr = parts[0].eto;
		parts[0].eto = (struct pg_bigarr){ 0 };
		err = pg_bigarr_need(&g->eto_arr, (total ? total : 1) * sizeof(uint32_t), reserve);
		g->eto = g->eto_arr.p;
		if (!err && nparts > 1) {
			size_t off = parts[0].nedges;
			for (size_t p = 1; p < nparts; p++) {
				if (parts[p].nedges)
					memcpy(g->eto + off, parts[p].eto.p, parts[p].nedges * sizeof(uint32_t));
				for (size_t i = parts[p].lo; i < parts[p].hi; i++)
					g->estart[i] += off;
				off += parts[p].nedges;
			}
		}
	}
	for (size_t p = 0; p < nparts; p++)
		pg_bigarr_free(&parts[p].eto);
	g->nedges = total;
	g->estart[n] = total;
	g->approximate = g->approx_objects > 0;
	if (err)
		goto fail;
	*ret = g;
	return NULL;
fail:
	pg_graph_free(g);
	return err;
}

void pg_graph_free(struct pg_graph *g)
{
	if (!g)
		return;
	free(g->addr);
	free(g->type);
	free(g->gen);
	free(g->refcnt);
	free(g->estart);
	pg_bigarr_free(&g->eto_arr);
	free(g->chunk);
	pg_u64map_free(&g->chunks);
	free(g);
}

struct label_finder {
	const struct pg_graph *g;
	uint64_t target;
	struct pg_label *out;
	size_t cap, n;
};

static void find_label(void *arg, uint64_t ref, uint8_t kind, uint64_t payload)
{
	struct label_finder *f = arg;
	if (ref == f->target && f->n < f->cap)
		f->out[f->n++] = (struct pg_label){ kind, payload };
}

size_t pg_graph_labels(struct pg_heap *h, struct pg_traverse *t, const struct pg_graph *g,
		       uint32_t i, uint32_t j, struct pg_label *out, size_t cap)
{
	(void)h;
	struct label_finder f = { g, g->addr[j], out, cap, 0 };
	bool approx = false;
	pg_error *err = pg_traverse_object(t, g->addr[i], g->type[i], find_label, &f, &approx);
	pg_error_destroy(err);
	return f.n;
}

/* Short repr of a dict key: str, unicode, int, long, float, bool, None,
 * tuples of those (values.h); else its type name and address. */
#define KEY_MAX 40
static void key_repr(struct pg_heap *h, uint64_t key, char *buf, size_t cap)
{
	char *r = pg_value_repr(h, key, KEY_MAX, 2);
	if (r) {
		snprintf(buf, cap, "%s", r);
		free(r);
		return;
	}
	uint64_t type;
	uint32_t idx;
	pg_error *err = pg_read_u64(&h->core->mem, key + (uint64_t)h->in->L.ob_type.off, &type);
	if (!err)
		err = pg_heap_type(h, type, &idx);
	if (err) {
		pg_error_destroy(err);
		snprintf(buf, cap, "?");
		return;
	}
	snprintf(buf, cap, "<%s 0x%" PRIx64 ">", h->types[idx].name, key);
}

void pg_label_format(struct pg_heap *h, const struct pg_label *l, char *buf, size_t cap)
{
	char tmp[160];
	const struct pg_layout *L = &h->in->L;
	pg_error *err;
	switch (l->kind) {
	case PG_L_NAME:
		snprintf(buf, cap, "%s", (const char *)(uintptr_t)l->payload);
		return;
	case PG_L_INDEX:
		snprintf(buf, cap, "[%" PRIu64 "]", l->payload);
		return;
	case PG_L_KEY:
		key_repr(h, l->payload, tmp, sizeof(tmp));
		snprintf(buf, cap, "[%s]", tmp);
		return;
	case PG_L_DICTKEY:
		key_repr(h, l->payload, tmp, sizeof(tmp));
		snprintf(buf, cap, "<key %s>", tmp);
		return;
	case PG_L_SLOT:
		err = pg_read_cstr(&h->core->mem, l->payload, tmp, 64, NULL);
		if (err) {
			pg_error_destroy(err);
			snprintf(buf, cap, ".<slot>");
			return;
		}
		snprintf(buf, cap, ".%s", tmp);
		return;
	case PG_L_LOCAL:
	case PG_L_CELL:
		err = pg_read_cstr(&h->core->mem, l->payload + (uint64_t)L->ob_sval.off, tmp, 64, NULL);
		if (err) {
			pg_error_destroy(err);
			snprintf(buf, cap, "f_localsplus");
			return;
		}
		snprintf(buf, cap, "f_locals['%s']", tmp);
		return;
	case PG_L_OFFSET:
		snprintf(buf, cap, "+%" PRIu64 "?", l->payload);
		return;
	}
	snprintf(buf, cap, "?");
}
