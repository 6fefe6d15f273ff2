/* The memory tree: every byte of every PT_LOAD segment goes to exactly one
 * leaf, so every node is the sum of its parts and the root is the sum of
 * the segments' p_memsz.
 *
 * Who claims what, in this order (the first claim of a byte wins):
 *  - the segment holding a thread's stack pointer: that thread's stack;
 *  - the file mappings of NT_FILE (file);
 *  - glibc's heaps (lib/libc: the main heap, each thread arena's heaps) and
 *    its mmapped chunks; inside them every chunk is in use, free, cached
 *    (fastbin or tcache) or the top; an in-use chunk belongs to what the
 *    family claims it for (a Python object, a dict's table, a list's item
 *    array, an int block, a pymalloc arena), or is a C allocation;
 *  - the family's regions that lie in no chunk (pymalloc arenas, which
 *    CPython 2.7 mmaps), split as the family says;
 *  - what is left of a segment: reserved (PROT_NONE), static data (an
 *    anonymous mapping right after a file's: its bss), not dumped (past
 *    p_filesz), or unexplained.
 * Overlaps are resolved by address order: intervals are sorted by start
 * (file, heap, region, mmapped chunk on ties) and swept once per segment;
 * a region cut by an earlier one or by a segment's end counts what it got
 * as unexplained, with a warning.  No per-byte maps: sorted arrays and
 * binary searches only. */
#include "memory.h"

#include <gelf.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "../base/alloc.h"
#include "../base/maps.h"
#include "../libc/malloc.h"
#include "../membuild.h"

#define PAGE 4096
#define PARTS_BIT 0x80000000u

struct seg {
	uint64_t start, end, dumped_end;
	uint32_t flags;
	int stack;            /* thread index + 1, -1 a cached stack, or 0 */
	bool file_next;       /* starts where a file mapping ends (a bss) */
	const char *after;    /* that file */
};

/* an interned path: group / kind name / leaf_kind leaf_name */
struct cat {
	const char *group, *kind, *name, *leaf_kind, *leaf_name;
};

struct part {
	uint32_t cat;
	uint64_t bytes;
};

struct region {
	uint64_t start, end;
	uint32_t first, n;    /* parts */
	const char *group;
	bool nested;          /* it claims a chunk */
};

struct pclaim {
	uint32_t first, n;    /* parts */
	uint32_t overhead;    /* category of what the parts leave */
};

struct pg_memory_builder {
	struct pg_core *core;
	struct pg_warnings *w;
	const struct pg_log *log;
	struct pg_reader r;
	struct pg_malloc mal;
	struct seg *segs;
	size_t nsegs;
	struct pg_anon_seg *anon;
	size_t nanon;
	bool final;
	uint32_t *claim;      /* per chunk: 0, cat + 1, or PARTS_BIT | pclaim index */
	struct cat *cats;
	size_t ncats, capcats;
	struct pg_strmap catmap;
	char **strs;          /* owned strings */
	size_t nstrs, capstrs;
	struct part *parts;
	size_t nparts, capparts;
	struct region *regions;
	size_t nregions, capregions;
	struct pclaim *pclaims;
	size_t npclaims, cappclaims;
	pg_error *err;        /* the first failure of a call that cannot return one */
};

/* ---- strings and categories ------------------------------------------- */

static const char *own(struct pg_memory_builder *b, const char *s)
{
	if (!s)
		return NULL;
	char *d = pg_strdup(s);
	if (!d || pg_grow((void **)&b->strs, &b->capstrs, b->nstrs + 1, sizeof(*b->strs))) {
		free(d);
		return NULL;
	}
	b->strs[b->nstrs++] = d;
	return d;
}

static uint32_t intern(struct pg_memory_builder *b, const char *group, const char *kind, const char *name,
		       const char *leaf_kind, const char *leaf_name)
{
	char *key = pg_asprintf("%s\x1f%s\x1f%s\x1f%s\x1f%s", group ? group : "", kind ? kind : "", name ? name : "\x1e",
				leaf_kind ? leaf_kind : "", leaf_name ? leaf_name : "\x1e");
	if (!key)
		return UINT32_MAX;
	uint32_t id;
	if (pg_strmap_get(&b->catmap, key, 0, &id)) {
		free(key);
		return id;
	}
	if (pg_grow((void **)&b->cats, &b->capcats, b->ncats + 1, sizeof(*b->cats)) ||
	    pg_grow((void **)&b->strs, &b->capstrs, b->nstrs + 1, sizeof(*b->strs))) {
		free(key);
		return UINT32_MAX;
	}
	b->strs[b->nstrs++] = key;
	struct cat c = { own(b, group), own(b, kind), own(b, name), own(b, leaf_kind), own(b, leaf_name) };
	if ((group && !c.group) || !c.kind || (name && !c.name) || (leaf_kind && !c.leaf_kind) ||
	    (leaf_name && !c.leaf_name))
		return UINT32_MAX;
	id = (uint32_t)b->ncats;
	b->cats[b->ncats++] = c;
	if (pg_strmap_put(&b->catmap, key, 0, id))
		return UINT32_MAX;
	return id;
}

uint32_t pg_mb_category(struct pg_memory_builder *b, const char *group, const char *kind, const char *name,
			const char *leaf_kind, const char *leaf_name)
{
	return intern(b, group, kind, name, leaf_kind, leaf_name);
}

static pg_error *add_parts(struct pg_memory_builder *b, const struct pg_mb_part *p, size_t n, uint32_t *first)
{
	*first = (uint32_t)b->nparts;
	if (pg_grow((void **)&b->parts, &b->capparts, b->nparts + n, sizeof(*b->parts)))
		return PG_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (!p[i].bytes)
			continue;
		if (p[i].cat >= b->ncats)
			return pg_error_create(PG_ERR_INTERNAL, "memory: a part without a category");
		b->parts[b->nparts++] = (struct part){ p[i].cat, p[i].bytes };
	}
	return NULL;
}

/* ---- regions and claims ----------------------------------------------- */

pg_error *pg_mb_region(struct pg_memory_builder *b, uint64_t start, uint64_t end, const char *group,
		       const struct pg_mb_part *parts, size_t nparts)
{
	if (b->final)
		return pg_error_create(PG_ERR_INTERNAL, "memory: a region reported after the first claim");
	uint64_t sum = 0;
	for (size_t i = 0; i < nparts; i++)
		sum += parts[i].bytes;
	if (end <= start || sum != end - start)
		return pg_error_create(PG_ERR_INTERNAL, "memory: region [0x%" PRIx64 ", 0x%" PRIx64 ") parts add up to %" PRIu64,
				       start, end, sum);
	if (pg_grow((void **)&b->regions, &b->capregions, b->nregions + 1, sizeof(*b->regions)))
		return PG_ENOMEM;
	struct region *r = &b->regions[b->nregions];
	*r = (struct region){ .start = start, .end = end, .group = own(b, group) };
	if (!r->group)
		return PG_ENOMEM;
	pg_error *err = add_parts(b, parts, nparts, &r->first);
	if (err)
		return err;
	r->n = (uint32_t)b->nparts - r->first;
	b->nregions++;
	return NULL;
}

static int region_cmp(const void *a, const void *b)
{
	const struct region *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

static bool in_heap_range(const struct pg_malloc *m, size_t ci)
{
	/* heaps are sorted; a chunk is in one when its index is in its range */
	size_t lo = 0, hi = m->nheaps;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (m->heaps[mid].first <= ci)
			lo = mid + 1;
		else
			hi = mid;
	}
	while (lo > 0) {
		const struct pg_malloc_heap *h = &m->heaps[lo - 1];
		if (ci >= h->first && ci < h->first + h->n)
			return true;
		if (h->n)
			return false;
		lo--;
	}
	return false;
}

/* Fixes the chunk list: the mmapped chunks are found in the anonymous
 * segments outside the heaps and regions; regions inside chunks claim them. */
static void finalize(struct pg_memory_builder *b)
{
	if (b->final)
		return;
	b->final = true;
	if (b->nregions > 1)
		qsort(b->regions, b->nregions, sizeof(*b->regions), region_cmp);
	/* exclusions: heaps and regions, in address order */
	struct pg_anon_seg *ex = pg_reallocarray(NULL, b->mal.nheaps + b->nregions + 1, sizeof(*ex));
	if (!ex) {
		b->err = PG_ENOMEM;
		return;
	}
	size_t nex = 0, i = 0, j = 0;
	while (i < b->mal.nheaps || j < b->nregions) {
		if (j >= b->nregions || (i < b->mal.nheaps && b->mal.heaps[i].start < b->regions[j].start)) {
			ex[nex++] = (struct pg_anon_seg){ b->mal.heaps[i].start, b->mal.heaps[i].end };
			i++;
		} else {
			ex[nex++] = (struct pg_anon_seg){ b->regions[j].start, b->regions[j].end };
			j++;
		}
	}
	uint64_t *ma = NULL, *ms = NULL;
	size_t nm = 0, capa = 0, caps = 0;
	size_t e = 0;
	if (b->mal.found) {
		for (size_t s = 0; s < b->nsegs; s++) {
			const struct seg *sg = &b->segs[s];
			if (sg->stack || !(sg->flags & PF_W) || sg->dumped_end <= sg->start)
				continue;
			uint64_t p = (sg->start + PAGE - 1) & ~(uint64_t)(PAGE - 1);
			while (p < sg->dumped_end) {
				while (e < nex && ex[e].end <= p)
					e++;
				if (e < nex && ex[e].start <= p) {
					p = (ex[e].end + PAGE - 1) & ~(uint64_t)(PAGE - 1);
					continue;
				}
				uint64_t size;
				if (pg_malloc_mmapped_at(&b->r, p, sg->dumped_end, &size) && pg_malloc_chunk_of(&b->mal, p) == SIZE_MAX) {
					if (pg_grow((void **)&ma, &capa, nm + 1, 8) || pg_grow((void **)&ms, &caps, nm + 1, 8)) {
						b->err = PG_ENOMEM;
						break;
					}
					ma[nm] = p;
					ms[nm++] = size;
					p += size;
				} else {
					p += PAGE;
				}
			}
			/* exclusions are in address order, as are segments */
			while (e > 0 && ex[e - 1].end > sg->end)
				e--;
		}
	}
	free(ex);
	if (!b->err && nm)
		b->err = pg_malloc_add_mmapped(&b->mal, ma, ms, nm);
	free(ma);
	free(ms);
	if (b->mal.n_mmaps >= 0 && (uint64_t)b->mal.n_mmaps != b->mal.nmmapped)
		pg_warn(b->w, "malloc: mp_.n_mmaps says %" PRId64 " mmapped chunks, %zu were found in the core's mappings",
			b->mal.n_mmaps, b->mal.nmmapped);
	b->claim = pg_calloc(b->mal.nchunks ? b->mal.nchunks : 1, sizeof(*b->claim));
	if (!b->claim) {
		b->err = PG_ENOMEM;
		b->mal.nchunks = 0;
		return;
	}
	/* regions inside an in-use chunk claim it */
	for (size_t r = 0; r < b->nregions; r++) {
		struct region *rg = &b->regions[r];
		size_t ci = pg_malloc_chunk_of(&b->mal, rg->start);
		if (ci == SIZE_MAX || PG_CH_STATE(b->mal.chunk[ci]) != PG_CH_INUSE || b->claim[ci] ||
		    rg->end > PG_CH_ADDR(b->mal.chunk[ci]) + b->mal.csize[ci])
			continue;
		/* the region's parts are already interned under its group */
		if (pg_grow((void **)&b->pclaims, &b->cappclaims, b->npclaims + 1, sizeof(*b->pclaims))) {
			b->err = PG_ENOMEM;
			return;
		}
		uint32_t oh = intern(b, rg->group, "overhead", NULL, NULL, NULL);
		if (oh == UINT32_MAX) {
			b->err = PG_ENOMEM;
			return;
		}
		b->pclaims[b->npclaims] = (struct pclaim){ rg->first, rg->n, oh };
		b->claim[ci] = PARTS_BIT | (uint32_t)b->npclaims++;
		rg->nested = true;
	}
}

bool pg_mb_claim(struct pg_memory_builder *b, uint64_t addr, uint32_t cat)
{
	finalize(b);
	if (cat == UINT32_MAX || !b->claim)
		return false;
	size_t ci = pg_malloc_chunk_of(&b->mal, addr);
	if (ci == SIZE_MAX || PG_CH_STATE(b->mal.chunk[ci]) != PG_CH_INUSE || b->claim[ci])
		return false;
	b->claim[ci] = cat + 1;
	return true;
}

static bool claim_parts_at(struct pg_memory_builder *b, size_t ci, const struct pg_mb_part *parts, size_t nparts,
			   uint32_t rest)
{
	uint64_t sum = 0;
	for (size_t i = 0; i < nparts; i++)
		sum += parts[i].bytes;
	if (sum > b->mal.csize[ci])
		return false;
	if (pg_grow((void **)&b->pclaims, &b->cappclaims, b->npclaims + 1, sizeof(*b->pclaims))) {
		b->err = PG_ENOMEM;
		return false;
	}
	struct pclaim pc;
	pg_error *err = add_parts(b, parts, nparts, &pc.first);
	pc.n = (uint32_t)b->nparts - pc.first;
	pc.overhead = rest;
	if (err || rest >= b->ncats) {
		b->err = err ? err : pg_error_create(PG_ERR_INTERNAL, "memory: a claim without a category for its rest");
		return false;
	}
	b->pclaims[b->npclaims] = pc;
	b->claim[ci] = PARTS_BIT | (uint32_t)b->npclaims++;
	return true;
}

bool pg_mb_claim_parts(struct pg_memory_builder *b, uint64_t addr, const struct pg_mb_part *parts, size_t nparts,
		       uint32_t rest)
{
	finalize(b);
	if (!b->claim)
		return false;
	size_t ci = pg_malloc_chunk_of(&b->mal, addr);
	if (ci == SIZE_MAX || PG_CH_STATE(b->mal.chunk[ci]) != PG_CH_INUSE || b->claim[ci])
		return false;
	if (b->err)
		return false;
	return claim_parts_at(b, ci, parts, nparts, rest);
}

size_t pg_mb_nchunks(struct pg_memory_builder *b)
{
	finalize(b);
	return b->claim ? b->mal.nchunks : 0;
}

bool pg_mb_chunk(struct pg_memory_builder *b, size_t i, uint64_t *addr, uint64_t *size)
{
	finalize(b);
	if (!b->claim || i >= b->mal.nchunks)
		return false;
	*addr = PG_CH_ADDR(b->mal.chunk[i]);
	*size = b->mal.csize[i];
	return PG_CH_STATE(b->mal.chunk[i]) == PG_CH_INUSE && !b->claim[i];
}

bool pg_mb_claim_chunk(struct pg_memory_builder *b, size_t i, uint32_t cat)
{
	finalize(b);
	if (!b->claim || i >= b->mal.nchunks || cat == UINT32_MAX || PG_CH_STATE(b->mal.chunk[i]) != PG_CH_INUSE ||
	    b->claim[i])
		return false;
	b->claim[i] = cat + 1;
	return true;
}

bool pg_mb_in_chunk(struct pg_memory_builder *b, uint64_t addr)
{
	finalize(b);
	size_t ci = pg_malloc_chunk_of(&b->mal, addr);
	return ci != SIZE_MAX && PG_CH_STATE(b->mal.chunk[ci]) == PG_CH_INUSE;
}

/* ---- the tree --------------------------------------------------------- */

struct tnode {
	const char *kind, *name;
	uint64_t bytes, start, end;
	uint32_t parent;
};

struct tree {
	struct tnode *v;
	size_t n, cap;
	struct pg_strmap map;        /* "kind\x1fname" with the parent as tag -> node */
	char **keys;
	size_t nkeys, capkeys;
	struct pg_u64map leafcache;  /* (container << 32 | cat) -> node + 1... as u32 */
	pg_error *err;
};

static uint32_t node(struct tree *t, uint32_t parent, const char *kind, const char *name)
{
	if (t->err)
		return 0;
	char *key = pg_asprintf("%s\x1f%s", kind, name ? name : "\x1e");
	if (!key) {
		t->err = PG_ENOMEM;
		return 0;
	}
	uint32_t id;
	if (pg_strmap_get(&t->map, key, parent, &id)) {
		free(key);
		return id;
	}
	if (pg_grow((void **)&t->v, &t->cap, t->n + 1, sizeof(*t->v)) ||
	    pg_grow((void **)&t->keys, &t->capkeys, t->nkeys + 1, sizeof(*t->keys))) {
		free(key);
		t->err = PG_ENOMEM;
		return 0;
	}
	t->keys[t->nkeys++] = key;
	id = (uint32_t)t->n;
	t->v[t->n++] = (struct tnode){ .kind = kind, .name = name, .parent = parent };
	if (pg_strmap_put(&t->map, key, parent, id))
		t->err = PG_ENOMEM;
	return id;
}

static void add(struct tree *t, uint32_t leaf, uint64_t bytes)
{
	if (!t->err)
		t->v[leaf].bytes += bytes;
}

/* The leaf of category c under container node `in`. */
static uint32_t cat_leaf(struct tree *t, const struct pg_memory_builder *b, uint32_t in, uint32_t c)
{
	uint64_t key = ((uint64_t)in << 32) | c;
	uint32_t id;
	if (pg_u64map_get(&t->leafcache, key + 1, &id))
		return id;
	const struct cat *k = &b->cats[c];
	uint32_t at = in;
	if (k->group)
		at = node(t, at, k->group, NULL);
	at = node(t, at, k->kind, k->name);
	if (k->leaf_kind)
		at = node(t, at, k->leaf_kind, k->leaf_name);
	if (!t->err && pg_u64map_put(&t->leafcache, key + 1, at))
		t->err = PG_ENOMEM;
	return at;
}

static void add_parts_to(struct tree *t, const struct pg_memory_builder *b, uint32_t in, uint32_t first, uint32_t n)
{
	for (uint32_t i = first; i < first + n; i++)
		add(t, cat_leaf(t, b, in, b->parts[i].cat), b->parts[i].bytes);
}

/* Chunk ci's bytes under container `in`. */
static void add_chunk(struct tree *t, const struct pg_memory_builder *b, uint32_t in, size_t ci, uint32_t *fixed)
{
	uint64_t size = b->mal.csize[ci];
	switch (PG_CH_STATE(b->mal.chunk[ci])) {
	case PG_CH_FREE:
		if (!fixed[0])
			fixed[0] = node(t, in, "free", "bins");
		add(t, fixed[0], size);
		return;
	case PG_CH_CACHED:
		if (!fixed[1])
			fixed[1] = node(t, in, "free", "fastbins and tcache");
		add(t, fixed[1], size);
		return;
	case PG_CH_TOP:
		if (!fixed[2])
			fixed[2] = node(t, in, "top", NULL);
		add(t, fixed[2], size);
		return;
	}
	uint32_t cl = b->claim ? b->claim[ci] : 0;
	if (!cl) {
		if (!fixed[3])
			fixed[3] = node(t, in, "c_alloc", NULL);
		add(t, fixed[3], size);
	} else if (cl & PARTS_BIT) {
		const struct pclaim *pc = &b->pclaims[cl & ~PARTS_BIT];
		uint64_t sum = 0;
		for (uint32_t i = pc->first; i < pc->first + pc->n; i++)
			sum += b->parts[i].bytes;
		add_parts_to(t, b, in, pc->first, pc->n);
		if (size > sum)
			add(t, cat_leaf(t, b, in, pc->overhead), size - sum);
	} else {
		add(t, cat_leaf(t, b, in, cl - 1), size);
	}
}

enum { R_FILE, R_HEAP, R_REGION, R_MMAP };
struct placed {
	uint64_t start, end;
	uint8_t type;
	size_t idx;
	uint64_t got;
};

static int placed_cmp(const void *a, const void *b)
{
	const struct placed *x = a, *y = b;
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return (int)x->type - (int)y->type;
}

struct sort_ctx {
	const struct tnode *v;
};

static int child_cmp(const void *a, const void *b, void *arg)
{
	const struct sort_ctx *c = arg;
	const struct tnode *x = &c->v[*(const uint32_t *)a], *y = &c->v[*(const uint32_t *)b];
	if (x->bytes != y->bytes)
		return x->bytes > y->bytes ? -1 : 1;
	int k = strcmp(x->kind, y->kind);
	if (k)
		return k;
	if (!x->name || !y->name)
		return x->name ? 1 : y->name ? -1 : 0;
	k = strcmp(x->name, y->name);
	if (k)
		return k;
	return x->start < y->start ? -1 : x->start > y->start;
}

/* What a leaf counts as in the headline: the first kind on its way up
 * that has a share. */
static const struct {
	const char *kind, *what;
} share_of[] = {
	{ "int_free", "free int slots" },
	{ "float_free", "free float slots" },
	{ "int_live", "Python objects" },
	{ "float_live", "Python objects" },
	{ "used_blocks", "Python objects" },
	{ "python", "Python objects" },
	{ "free_blocks", "pymalloc free" },
	{ "never_used", "pymalloc free" },
	{ "empty_pools", "pymalloc free" },
	{ "arena_unused", "pymalloc free" },
	{ "free", "malloc free" },
	{ "top", "malloc free" },
	{ "c_alloc", "C allocations" },
	{ "overhead", "overhead" },
	{ "pool_overhead", "overhead" },
	{ "file", "file-backed" },
	{ "stack", "stacks" },
	{ "reserved", "reserved (PROT_NONE)" },
	{ "bss", "static data" },
	{ "not_dumped", "not dumped" },
	{ "unexplained", "unexplained" },
};

static double ms_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

struct pg_memory_private {
	char **strs;
	size_t nstrs;
	char *names;   /* the out strings */
};

/* Copies the tree into the results: breadth first, children largest first. */
static pg_error *emit(struct tree *t, struct pg_memory_builder *b, struct pg_memory *out)
{
	size_t n = t->n;
	/* children lists */
	uint32_t *cnt = calloc(n + 1, sizeof(*cnt)), *start = calloc(n + 1, sizeof(*start)), *kids = calloc(n ? n : 1, sizeof(*kids));
	uint32_t *order = calloc(n ? n : 1, sizeof(*order)), *newid = calloc(n ? n : 1, sizeof(*newid));
	out->nodes = calloc(n ? n : 1, sizeof(*out->nodes));
	if (!cnt || !start || !kids || !order || !newid || !out->nodes) {
		free(cnt), free(start), free(kids), free(order), free(newid);
		return PG_ENOMEM;
	}
	for (size_t i = 1; i < n; i++)
		cnt[t->v[i].parent]++;
	for (size_t i = 0; i < n; i++)
		start[i + 1] = start[i] + cnt[i];
	memset(cnt, 0, (n + 1) * sizeof(*cnt));
	for (size_t i = 1; i < n; i++) {
		uint32_t p = t->v[i].parent;
		kids[start[p] + cnt[p]++] = (uint32_t)i;
	}
	struct sort_ctx sc = { t->v };
	for (size_t i = 0; i < n; i++)
		if (cnt[i] > 1)
			qsort_r(kids + start[i], cnt[i], sizeof(*kids), child_cmp, &sc);
	/* breadth first: a queue in `order` */
	size_t head = 0, tail = 0;
	order[tail++] = 0;
	newid[0] = 0;
	while (head < tail) {
		uint32_t v = order[head++];
		for (uint32_t k = 0; k < cnt[v]; k++) {
			uint32_t c = kids[start[v] + k];
			newid[c] = (uint32_t)tail;
			order[tail++] = c;
		}
	}
	for (size_t i = 0; i < tail; i++) {
		uint32_t v = order[i];
		const struct tnode *x = &t->v[v];
		struct pg_memory_node *o = &out->nodes[i];
		*o = (struct pg_memory_node){ .kind = x->kind, .name = x->name, .bytes = x->bytes, .start = x->start,
					      .end = x->end, .parent = v ? newid[x->parent] : UINT32_MAX, .n = cnt[v] };
		o->first = cnt[v] ? newid[kids[start[v]]] : 0;
	}
	out->nnodes = tail;
	free(cnt), free(start), free(kids), free(order), free(newid);
	/* the strings the nodes point to stay with the results */
	out->priv = calloc(1, sizeof(*out->priv));
	if (!out->priv)
		return PG_ENOMEM;
	out->priv->strs = b->strs;
	out->priv->nstrs = b->nstrs;
	b->strs = NULL;
	b->nstrs = b->capstrs = 0;
	return NULL;
}

static void shares(struct pg_memory *out)
{
	for (size_t i = 1; i < out->nnodes; i++) {
		const struct pg_memory_node *x = &out->nodes[i];
		if (x->n)
			continue;
		const char *what = "unexplained";
		for (uint32_t v = (uint32_t)i; v != UINT32_MAX && v; v = out->nodes[v].parent) {
			bool hit = false;
			for (size_t k = 0; k < sizeof(share_of) / sizeof(share_of[0]) && !hit; k++)
				if (strcmp(out->nodes[v].kind, share_of[k].kind) == 0) {
					what = share_of[k].what;
					hit = true;
				}
			if (hit)
				break;
		}
		if (strcmp(x->kind, "unexplained") == 0)
			out->unexplained_bytes += x->bytes;
		size_t k = 0;
		while (k < out->nshares && strcmp(out->shares[k].what, what) != 0)
			k++;
		if (k == out->nshares) {
			if (k == PG_MEMORY_SHARES)
				continue;
			out->shares[out->nshares++] = (struct pg_memory_share){ what, 0 };
		}
		out->shares[k].bytes += x->bytes;
	}
	/* largest first (few: insertion sort) */
	for (size_t i = 1; i < out->nshares; i++)
		for (size_t j = i; j > 0 && out->shares[j].bytes > out->shares[j - 1].bytes; j--) {
			struct pg_memory_share tmp = out->shares[j];
			out->shares[j] = out->shares[j - 1];
			out->shares[j - 1] = tmp;
		}
	for (size_t i = 0; i < out->nnodes && out->nnodes; i++)
		if (out->nodes[i].parent == 0 && strcmp(out->nodes[i].kind, "file") == 0)
			out->file_bytes = out->nodes[i].bytes;
}

static int seg_cmp(const void *a, const void *b)
{
	const struct seg *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

static int map_cmp(const void *a, const void *b)
{
	const struct pg_mapping *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

/* The core's segments, sorted; stacks marked. */
static pg_error *read_segments(struct pg_memory_builder *b, const struct pg_mapping *maps, size_t nmaps,
			       uint64_t *total)
{
	struct pg_core *c = b->core;
	size_t phnum;
	*total = 0;
	if (elf_getphdrnum(c->elf, &phnum) != 0)
		return pg_error_create(PG_ERR_INPUT, "memory: cannot read the core's program headers");
	b->segs = pg_reallocarray(NULL, phnum ? phnum : 1, sizeof(*b->segs));
	if (!b->segs)
		return PG_ENOMEM;
	for (size_t i = 0; i < phnum; i++) {
		GElf_Phdr ph;
		if (!gelf_getphdr(c->elf, (int)i, &ph) || ph.p_type != PT_LOAD || !ph.p_memsz)
			continue;
		uint64_t end = ph.p_vaddr + ph.p_memsz;
		if (end < ph.p_vaddr)
			end = UINT64_MAX;   /* a damaged header: the segment stops at the top */
		*total += end - ph.p_vaddr;
		uint64_t filesz = ph.p_filesz < ph.p_memsz ? ph.p_filesz : ph.p_memsz;
		/* what the file really holds of it */
		uint64_t have = ph.p_offset < c->size ? c->size - ph.p_offset : 0;
		if (have < filesz)
			filesz = have;
		b->segs[b->nsegs++] = (struct seg){ .start = ph.p_vaddr, .end = end, .dumped_end = ph.p_vaddr + filesz,
						    .flags = ph.p_flags };
	}
	if (b->nsegs > 1)
		qsort(b->segs, b->nsegs, sizeof(*b->segs), seg_cmp);
	for (size_t t = 0; t < c->nthread_sp; t++) {
		uint64_t sp = c->thread_sp[t];
		for (size_t i = 0; i < b->nsegs; i++)
			if (sp >= b->segs[i].start && sp < b->segs[i].end && !b->segs[i].stack)
				b->segs[i].stack = (int)t + 1;
	}
	/* glibc's stack cache: the mapping of a thread that exited, kept for
	 * the next one, still looks as pthread made it: a guard page below,
	 * and at its top the thread's TCB (struct pthread), whose tcb and self
	 * words point at itself */
	for (size_t i = 1; i < b->nsegs; i++) {
		struct seg *g = &b->segs[i - 1], *s = &b->segs[i];
		if (s->stack || !(s->flags & PF_W) || g->end != s->start || (g->flags & PF_W) ||
		    g->end - g->start > 65536 || s->dumped_end < s->start + 4096)
			continue;
		uint64_t from = s->dumped_end - 16384 > s->start ? s->dumped_end - 16384 : s->start;
		const uint8_t *top = pg_ptr(&b->r, from, (size_t)(s->dumped_end - from));
		if (!top)
			continue;
		for (uint64_t a = (from + 7) & ~(uint64_t)7; a + 24 <= s->dumped_end; a += 8) {
			uint64_t w0, w2;
			memcpy(&w0, top + (a - from), 8);
			memcpy(&w2, top + (a - from) + 16, 8);
			if (w0 == a && w2 == a) {
				s->stack = -1;
				break;
			}
		}
	}
	/* a segment right after a file mapping (its bss), and the anonymous
	 * writable ones (where heaps can be) */
	size_t mi = 0;
	b->anon = pg_reallocarray(NULL, b->nsegs ? b->nsegs : 1, sizeof(*b->anon));
	if (!b->anon)
		return PG_ENOMEM;
	for (size_t i = 0; i < b->nsegs; i++) {
		struct seg *s = &b->segs[i];
		bool file = false;
		while (mi < nmaps && maps[mi].end <= s->start) {
			/* an ELF file's writable data mapping, then anonymous memory:
			 * its bss (the segment before holds the mapping's end) */
			if (maps[mi].end == s->start && i > 0 && b->segs[i - 1].end == s->start &&
			    (b->segs[i - 1].flags & PF_W) && !(s->flags & PF_X)) {
				s->file_next = true;
				s->after = maps[mi].name;
			}
			mi++;
		}
		for (size_t k = mi; k < nmaps && maps[k].start < s->end; k++)
			file |= maps[k].end > s->start;
		if (!file && !s->stack && (s->flags & PF_W))
			b->anon[b->nanon++] = (struct pg_anon_seg){ s->start, s->end };
	}
	return NULL;
}

pg_error *pg_memory_prepare(struct pg_core *core, const struct pg_log *log, struct pg_malloc_prep **ret)
{
	return pg_malloc_prepare(core, log, ret);
}

void pg_memory_prep_free(struct pg_malloc_prep *p)
{
	pg_malloc_prep_free(p);
}

pg_error *pg_memory_run(struct pg_core *core, struct pg_family *fam, const struct pg_model *m,
			const struct pg_log *log, struct pg_warnings *w, struct pg_malloc_prep *prep,
			struct pg_memory **ret)
{
	struct pg_memory_builder bb = { .core = core, .w = w, .log = log }, *b = &bb;
	pg_reader_init(&b->r, &core->mem);
	struct tree t = { 0 };
	struct placed *pl = NULL;
	struct pg_mapping *maps = NULL;
	struct pg_memory *out = calloc(1, sizeof(*out));
	uint64_t total = 0;
	pg_error *err = out ? NULL : PG_ENOMEM;
	size_t nmaps = core->nmaps;
	if (!err && !(maps = pg_reallocarray(NULL, nmaps ? nmaps : 1, sizeof(*maps))))
		err = PG_ENOMEM;
	if (!err) {
		if (nmaps) {
			memcpy(maps, core->maps, nmaps * sizeof(*maps));
			qsort(maps, nmaps, sizeof(*maps), map_cmp);
		}
		err = read_segments(b, maps, nmaps, &total);
	}
	double t0 = ms_now();
	if (!err)
		err = pg_malloc_find(core, log, w, b->anon, b->nanon, prep, &b->mal);
	double t1 = ms_now();
	if (!err && fam->ops->memory)
		err = fam->ops->memory(fam, m, b);
	if (!err) {
		finalize(b);
		err = b->err;
		b->err = NULL;
	}
	double t2 = ms_now();
	pg_logf(log, "memory: %zu segments, %zu heaps, %zu chunks (%zu mmapped), %zu regions; malloc %.1f ms, family %.1f ms",
		b->nsegs, b->mal.nheaps, b->mal.nchunks, b->mal.nmmapped, b->nregions, t1 - t0, t2 - t1);
	if (err)
		goto out;

	/* what is placed, in address order */
	size_t np = 0, cap = nmaps + b->mal.nheaps + b->nregions + b->mal.nmmapped + 1;
	if (!(pl = pg_reallocarray(NULL, cap, sizeof(*pl)))) {
		err = PG_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < nmaps; i++)
		if (maps[i].end > maps[i].start)
			pl[np++] = (struct placed){ maps[i].start, maps[i].end, R_FILE, i, 0 };
	for (size_t i = 0; i < b->mal.nheaps; i++)
		pl[np++] = (struct placed){ b->mal.heaps[i].start, b->mal.heaps[i].end, R_HEAP, i, 0 };
	for (size_t i = 0; i < b->nregions; i++)
		if (!b->regions[i].nested)
			pl[np++] = (struct placed){ b->regions[i].start, b->regions[i].end, R_REGION, i, 0 };
	for (size_t i = 0; i < b->mal.nchunks && np < cap; i++)
		if (!in_heap_range(&b->mal, i))
			pl[np++] = (struct placed){ PG_CH_ADDR(b->mal.chunk[i]), PG_CH_ADDR(b->mal.chunk[i]) + b->mal.csize[i],
						    R_MMAP, i, 0 };
	if (np > 1)
		qsort(pl, np, sizeof(*pl), placed_cmp);

	uint32_t root = node(&t, UINT32_MAX, "core", NULL);
	uint32_t n_file = 0, n_malloc = 0, n_mmapped = 0, n_stack = 0;
	char mname[64];
	snprintf(mname, sizeof(mname), "glibc malloc (%s)", b->mal.source ? b->mal.source : "?");
	const char *malloc_name = own(b, mname);
	/* sweep each segment */
	size_t first = 0;
	for (size_t si = 0; si < b->nsegs && !t.err; si++) {
		const struct seg *s = &b->segs[si];
		uint64_t len = s->end - s->start;
		if (s->stack) {
			if (!n_stack)
				n_stack = node(&t, root, "stack", NULL);
			char nm[80];
			if (s->stack < 0) {
				snprintf(nm, sizeof(nm), "cached thread stack 0x%" PRIx64 " (no thread: glibc keeps it)", s->start);
			} else {
				size_t ti = (size_t)s->stack - 1;
				snprintf(nm, sizeof(nm), "thread %zu (LWP %d)", ti + 1, core->thread_tid[ti]);
			}
			uint32_t x = node(&t, n_stack, "stack", own(b, nm));
			if (!t.err) {
				t.v[x].start = s->start;
				t.v[x].end = s->end;
			}
			add(&t, x, len);
			continue;
		}
		while (first < np && pl[first].end <= s->start)
			first++;
		size_t k = first;
		while (k > 0 && pl[k - 1].end > s->start)
			k--;
		uint64_t cur = s->start;
		for (;; k++) {
			uint64_t lo, hi;
			bool have = k < np && pl[k].start < s->end;
			if (have && pl[k].end <= cur)
				continue;
			lo = have ? (pl[k].start > cur ? pl[k].start : cur) : s->end;
			if (lo > cur) {
				/* what no one claims */
				uint64_t a = cur, z = lo;
				uint64_t dumped = s->dumped_end > a ? (s->dumped_end < z ? s->dumped_end : z) - a : 0;
				if (!(s->flags & PF_W)) {
					/* PROT_NONE (the kernel writes no flags; gcore calls it
					 * readable) or read-only anonymous memory */
					add(&t, node(&t, root, "reserved", NULL), z - a);
				} else if (s->file_next) {
					add(&t, node(&t, node(&t, root, "bss", NULL), "bss", s->after), z - a);
				} else {
					if (dumped)
						add(&t, node(&t, root, "unexplained", NULL), dumped);
					if (z - a > dumped)
						add(&t, node(&t, root, "not_dumped", NULL), z - a - dumped);
				}
			}
			if (!have)
				break;
			hi = pl[k].end < s->end ? pl[k].end : s->end;
			if (hi > lo) {
				pl[k].got += hi - lo;
				if (pl[k].type == R_FILE) {
					if (!n_file)
						n_file = node(&t, root, "file", NULL);
					add(&t, node(&t, n_file, "file", maps[pl[k].idx].name), hi - lo);
				}
				cur = hi;
			}
		}
	}
	/* each heap, region and mmapped chunk: whole, or what it got */
	for (size_t i = 0; i < np && !t.err; i++) {
		struct placed *p = &pl[i];
		if (p->type == R_FILE || !p->got)
			continue;
		bool whole = p->got == p->end - p->start;
		uint32_t in;
		if (p->type == R_HEAP) {
			const struct pg_malloc_heap *h = &b->mal.heaps[p->idx];
			if (!n_malloc)
				n_malloc = node(&t, root, "malloc", malloc_name);
			char nm[80];
			if (h->kind == PG_HEAP_MAIN)
				snprintf(nm, sizeof(nm), "main arena");
			else
				snprintf(nm, sizeof(nm), "thread arena 0x%" PRIx64 " heap 0x%" PRIx64, h->arena, h->start);
			in = node(&t, n_malloc, "heap", own(b, nm));
			if (!t.err) {
				t.v[in].start = h->start;
				t.v[in].end = h->end;
			}
			if (!whole) {
				add(&t, node(&t, in, "unexplained", "cut by the core's mappings"), p->got);
				continue;
			}
			uint32_t fixed[4] = { 0 };
			if (h->header)
				add(&t, node(&t, in, "overhead", "heap header"), h->header);
			if (h->tail)
				add(&t, node(&t, in, "top", NULL), h->tail);
			if (h->unwalked)
				add(&t, node(&t, in, "unexplained", "after a bad chunk header"), h->unwalked);
			for (size_t ci = h->first; ci < h->first + h->n; ci++)
				add_chunk(&t, b, in, ci, fixed);
		} else if (p->type == R_MMAP) {
			if (!n_malloc)
				n_malloc = node(&t, root, "malloc", malloc_name);
			if (!n_mmapped)
				n_mmapped = node(&t, n_malloc, "mmapped", NULL);
			if (!whole) {
				add(&t, node(&t, n_mmapped, "unexplained", "cut by the core's mappings"), p->got);
				continue;
			}
			uint32_t fixed[4] = { 0 };
			add_chunk(&t, b, n_mmapped, p->idx, fixed);
		} else {
			const struct region *r = &b->regions[p->idx];
			if (!whole) {
				pg_warn_partial(w, "memory: %s region [0x%" PRIx64 ", 0x%" PRIx64 ") overlaps another claim or a mapping's end: %" PRIu64 " of its bytes counted as unexplained",
						r->group, r->start, r->end, p->got);
				add(&t, node(&t, node(&t, root, r->group, NULL), "unexplained", "cut by another claim"), p->got);
				continue;
			}
			add_parts_to(&t, b, root, r->first, r->n);
		}
	}
	if (!t.err) {
		/* sums, bottom up (a parent is made before its children) */
		for (size_t i = t.n; i-- > 1;)
			t.v[t.v[i].parent].bytes += t.v[i].bytes;
		if (t.v[root].bytes != total)
			pg_warn_partial(w, "internal: the memory tree holds %" PRIu64 " bytes, the segments %" PRIu64, t.v[root].bytes, total);
	}
	if ((err = t.err))
		goto out;
	out->malloc_source = b->mal.found ? own(b, b->mal.source) : NULL;
	out->malloc_why = b->mal.why ? own(b, b->mal.why) : NULL;
	out->libc_debugfile = b->mal.debugfile ? own(b, b->mal.debugfile) : NULL;
	out->malloc_cached_known = b->mal.cached_known;
	if ((err = emit(&t, b, out)))
		goto out;
	shares(out);
out:
	free(pl);
	free(maps);
	for (size_t i = 0; i < t.nkeys; i++)
		free(t.keys[i]);
	free(t.keys);
	free(t.v);
	pg_strmap_free(&t.map);
	pg_u64map_free(&t.leafcache);
	pg_malloc_free(&b->mal);
	free(b->segs);
	free(b->anon);
	free(b->claim);
	free(b->cats);
	pg_strmap_free(&b->catmap);
	for (size_t i = 0; i < b->nstrs; i++)
		free(b->strs[i]);
	free(b->strs);
	free(b->parts);
	free(b->regions);
	free(b->pclaims);
	pg_error_destroy(b->err);
	if (err) {
		pg_memory_free(out);
		return err;
	}
	*ret = out;
	return NULL;
}

void pg_memory_free(struct pg_memory *mem)
{
	if (!mem)
		return;
	if (mem->priv) {
		for (size_t i = 0; i < mem->priv->nstrs; i++)
			free(mem->priv->strs[i]);
		free(mem->priv->strs);
		free(mem->priv);
	}
	free(mem->nodes);
	free(mem);
}
