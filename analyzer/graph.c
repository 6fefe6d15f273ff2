#include "graph.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct node {
	uint64_t addr;
	uint32_t type;
	uint32_t gen;
};

/* LSD radix sort on addr bits 3..50 (objects are 8-aligned, user space < 2^47). */
static pg_error *radix_sort(struct node *v, size_t n)
{
	if (n < 2)
		return NULL;
	struct node *tmp = pg_reallocarray(NULL, n ? n : 1, sizeof(*tmp));
	if (!tmp)
		return &pg_enomem;
	size_t *count = malloc((1 << 16) * sizeof(*count));
	if (!count) {
		free(tmp);
		return &pg_enomem;
	}
	struct node *src = v, *dst = tmp;
	for (int shift = 3; shift < 64; shift += 16) {
		memset(count, 0, (1 << 16) * sizeof(*count));
		for (size_t i = 0; i < n; i++)
			count[(src[i].addr >> shift) & 0xffff]++;
		if (count[(src[0].addr >> shift) & 0xffff] == n)
			continue; /* all equal in this digit */
		size_t sum = 0;
		for (size_t d = 0; d < (1 << 16); d++) {
			size_t c = count[d];
			count[d] = sum;
			sum += c;
		}
		for (size_t i = 0; i < n; i++)
			dst[count[(src[i].addr >> shift) & 0xffff]++] = src[i];
		struct node *s = src;
		src = dst;
		dst = s;
	}
	if (src != v)
		memcpy(v, src, n * sizeof(*v));
	free(count);
	free(tmp);
	return NULL;
}

uint32_t pg_graph_index(const struct pg_graph *g, uint64_t addr)
{
	uint32_t ci;
	if ((addr & 7) || !pg_u64map_get(&g->chunks, (addr >> 15) + 1, &ci))
		return PG_NONE;
	const struct pg_chunk *c = &g->chunk[ci];
	unsigned bit = (unsigned)(addr >> 3) & 4095, w = bit >> 6;
	uint64_t word = c->bits[w], mask = 1ULL << (bit & 63);
	if (!(word & mask))
		return PG_NONE;
	return c->first + c->prefix[w] + (uint32_t)__builtin_popcountll(word & (mask - 1));
}

/* One thread's share of the graph: a range of objects, its own edges. */
struct builder {
	struct pg_heap *h;
	struct pg_traverse *t;
	struct pg_graph *g;
	size_t lo, hi;
	uint32_t *eto;
	size_t nedges, capedges;
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
		uint32_t *to = pg_reallocarray(b->eto, ncap, sizeof(*to));
		if (!to) {
			b->err = &pg_enomem;
			return;
		}
		b->eto = to;
		b->capedges = ncap;
	}
	b->eto[b->nedges++] = j;
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
	struct node *nodes = pg_reallocarray(NULL, n ? n : 1, sizeof(*nodes));
	if (!nodes) {
		err = &pg_enomem;
		goto fail;
	}
	for (size_t i = 0; i < n; i++)
		nodes[i] = (struct node){ h->obj[i], h->obj_type[i], h->obj_gen[i] };
	err = radix_sort(nodes, n);
	if (err) {
		free(nodes);
		goto fail;
	}
	g->n = n;
	g->addr = pg_reallocarray(NULL, n + 1, sizeof(*g->addr));
	g->type = pg_reallocarray(NULL, n + 1, sizeof(*g->type));
	g->gen = pg_reallocarray(NULL, n + 1, sizeof(*g->gen));
	g->refcnt = pg_reallocarray(NULL, n + 1, sizeof(*g->refcnt));
	g->estart = pg_reallocarray(NULL, n + 1, sizeof(*g->estart));
	if (!g->addr || !g->type || !g->gen || !g->refcnt || !g->estart) {
		free(nodes);
		err = &pg_enomem;
		goto fail;
	}
	uint64_t lastchunk = 0;
	size_t capchunks = 0, dups = 0, k = 0;
	struct pg_chunk *cur = NULL;
	for (size_t i = 0; i < n; i++) {
		if (k && nodes[i].addr == g->addr[k - 1]) {
			dups++; /* a damaged list met twice: count it once */
			continue;
		}
		g->addr[k] = nodes[i].addr;
		g->type[k] = nodes[i].type;
		g->gen[k] = (uint8_t)nodes[i].gen;
		if (nodes[i].addr & 7) {
			dups++; /* cannot be an object; the walk rejects these */
			continue;
		}
		uint64_t chunk = (nodes[i].addr >> 15) + 1;
		if (chunk != lastchunk) {
			err = pg_grow((void **)&g->chunk, &capchunks, g->nchunks + 1, sizeof(*g->chunk));
			if (!err)
				err = pg_u64map_put(&g->chunks, chunk, (uint32_t)g->nchunks);
			if (err) {
				free(nodes);
				goto fail;
			}
			cur = &g->chunk[g->nchunks++];
			memset(cur, 0, sizeof(*cur));
			cur->first = (uint32_t)k;
			lastchunk = chunk;
		}
		unsigned bit = (unsigned)(nodes[i].addr >> 3) & 4095;
		cur->bits[bit >> 6] |= 1ULL << (bit & 63);
		k++;
	}
	free(nodes);
	n = g->n = k;
	for (size_t ci = 0; ci < g->nchunks; ci++) {
		struct pg_chunk *c = &g->chunk[ci];
		unsigned sum = 0;
		for (int w = 0; w < 64; w++) {
			c->prefix[w] = (uint16_t)sum;
			sum += (unsigned)__builtin_popcountll(c->bits[w]);
		}
	}
	if (dups)
		pg_warn_partial(h->warn, "%zu objects were found twice in the generation lists (damaged links)", dups);

	/* every type's traversal plan is made before the threads start: they
	 * only read the plans and the core */
	for (uint32_t ti = 0; ti < h->ntypes; ti++)
		(void)pg_traverse_name(t, ti);
	enum { MAX_THREADS = 2 };
	struct builder parts[MAX_THREADS];
	size_t nparts = n >= 200000 ? MAX_THREADS : 1;
	for (size_t p = 0; p < nparts; p++)
		parts[p] = (struct builder){ .h = h, .t = t, .g = g, .lo = n * p / nparts, .hi = n * (p + 1) / nparts };
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
		g->eto = parts[0].eto;
		parts[0].eto = NULL;
		if (nparts > 1) {
			uint32_t *to = pg_reallocarray(g->eto, total ? total : 1, sizeof(*to));
			if (!to) {
				err = &pg_enomem;
			} else {
				g->eto = to;
				size_t off = parts[0].nedges;
				for (size_t p = 1; p < nparts; p++) {
					memcpy(g->eto + off, parts[p].eto, parts[p].nedges * sizeof(*to));
					for (size_t i = parts[p].lo; i < parts[p].hi; i++)
						g->estart[i] += off;
					off += parts[p].nedges;
				}
			}
		}
	}
	for (size_t p = 0; p < nparts; p++)
		free(parts[p].eto);
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
	free(g->eto);
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

/* Short repr of a dict key: str, unicode (ASCII part), int, float, tuple
 * (of those); else its type name. */
static void key_repr(struct pg_heap *h, uint64_t key, char *buf, size_t cap, int depth)
{
	const struct pg_layout *L = &h->in->L;
	struct pg_mem *m = &h->core->mem;
	uint64_t type;
	pg_error *err = pg_read_u64(m, key + (uint64_t)L->ob_type.off, &type);
	if (err) {
		pg_error_destroy(err);
		snprintf(buf, cap, "?");
		return;
	}
	const uint64_t *T = h->in->types;
	uint64_t v;
	if (type == T[PG_T_STRING]) {
		char s[48];
		bool cut = false;
		err = pg_read_cstr(m, key + (uint64_t)L->ob_sval.off, s, sizeof(s), &cut);
		if (err) {
			pg_error_destroy(err);
			snprintf(buf, cap, "'?'");
			return;
		}
		for (char *p = s; *p; p++)
			if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f || *p == '\'')
				*p = '?';
		snprintf(buf, cap, "'%s%s'", s, cut ? "..." : "");
	} else if (type == T[PG_T_INT]) {
		/* PyIntObject: ob_ival follows the header */
		err = pg_read_u64(m, key + (uint64_t)L->object_size, &v);
		if (err) {
			pg_error_destroy(err);
			snprintf(buf, cap, "?");
			return;
		}
		snprintf(buf, cap, "%" PRId64, (int64_t)v);
	} else if (type == T[PG_T_FLOAT]) {
		double d;
		err = pg_read(m, key + (uint64_t)L->object_size, &d, sizeof(d));
		if (err) {
			pg_error_destroy(err);
			snprintf(buf, cap, "?");
			return;
		}
		snprintf(buf, cap, "%g", d);
	} else if (type == T[PG_T_TUPLE] && depth < 2) {
		uint64_t n = 0;
		err = pg_read_u64(m, key + (uint64_t)L->ob_size.off, &n);
		pg_error_destroy(err);
		size_t o = (size_t)snprintf(buf, cap, "(");
		for (uint64_t i = 0; i < n && i < 4 && o + 8 < cap; i++) {
			uint64_t item;
			err = pg_read_u64(m, key + (uint64_t)L->tuple_item.off + 8 * i, &item);
			if (err) {
				pg_error_destroy(err);
				break;
			}
			key_repr(h, item, buf + o, cap - o, depth + 1);
			o += strlen(buf + o);
			if (o + 3 < cap)
				o += (size_t)snprintf(buf + o, cap - o, i + 1 < n ? ", " : "");
		}
		if (n > 4 && o + 5 < cap)
			o += (size_t)snprintf(buf + o, cap - o, "...");
		if (o + 2 < cap)
			snprintf(buf + o, cap - o, n == 1 ? ",)" : ")");
	} else if (type == T[PG_T_UNICODE]) {
		snprintf(buf, cap, "u'...'");
	} else {
		uint32_t idx;
		err = pg_heap_type(h, type, &idx);
		if (err) {
			pg_error_destroy(err);
			snprintf(buf, cap, "?");
			return;
		}
		snprintf(buf, cap, "<%s 0x%" PRIx64 ">", h->types[idx].name, key);
	}
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
		key_repr(h, l->payload, tmp, sizeof(tmp), 0);
		snprintf(buf, cap, "[%s]", tmp);
		return;
	case PG_L_DICTKEY:
		key_repr(h, l->payload, tmp, sizeof(tmp), 0);
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
