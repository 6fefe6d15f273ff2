/* CPython 2.7's memory, told to the memory tree (lib/membuild.h):
 *  - pymalloc (Objects/obmalloc.c): `arenas[maxarenas]` of struct
 *    arena_object; each arena's carved pools (pool_header: ref.count used
 *    blocks, szidx, nextoffset/maxnextoffset: the blocks never used; the
 *    rest of the pool's blocks are free), empty pools, and what is not
 *    carved yet.  2.7 mmaps its arenas: each is a region of its own.
 *  - the int and float free lists (intobject.c, floatobject.c):
 *    `block_list` (PyIntBlocks, each a malloc chunk) and `free_list` (the
 *    free slots, chained through ob_type): each block's live and free
 *    slots.  Both files call their statics block_list and free_list: each
 *    is taken from DWARF by its defining file (the compile unit of the
 *    declaration, which LTO's concrete DIE names as its abstract origin),
 *    and checked against the symbol table at that address.
 *  - what Python objects own outside pymalloc: the tables of dicts and
 *    sets, list item arrays, unicode buffers, bytearray buffers (found by a
 *    scan of the pools of those types' size classes: tracked or not), and
 *    objects of more than 512 bytes (a scan of the unclaimed chunks'
 *    headers: a tracked object after its PyGC_Head, or an object whose
 *    type is known).
 * obmalloc.c's constants are macros (no DWARF): POOL_SIZE (4 KiB, the
 * page), ARENA_SIZE (256 KiB), SMALL_REQUEST_THRESHOLD (512); ALIGNMENT is
 * derived from sizeof(usedpools) (two pointers per size class), and every
 * pool header is checked against them. */
#include "heap.h"
#include "profile.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "../base/alloc.h"
#include "../membuild.h"

#define POOL_SIZE 4096u
#define ARENA_SIZE (256u << 10)
#define SMALL_REQUEST_THRESHOLD 512u
#define MAX_CLASSES 64
#define DEBUG_PAD 16    /* PYMALLOC_DEBUG: two size_t before each block (Py_DEBUG builds) */

struct pm {
	struct pg_heap *h;
	const struct pg_model *m;
	struct pg_memory_builder *b;
	struct pg_reader *r;
	struct pg_warnings *w;
	uint64_t bias;
	/* obmalloc */
	uint64_t arenas_var, maxarenas_var;
	unsigned nclasses, align;
	int32_t ao_size, ao_address, ao_pool_address, ao_nfree, ao_ntotal;
	int32_t ph_size, ph_count, ph_szidx, ph_next, ph_maxnext, overhead;
	/* int and float blocks */
	uint64_t int_blocks_var, int_free_var, float_blocks_var, float_free_var;
	int32_t intblock_size, intblock_objs_off, floatblock_size, floatblock_objs_off;
	uint32_t cat_used[MAX_CLASSES], cat_free[MAX_CLASSES], cat_never[MAX_CLASSES];
	uint32_t cat_pool_overhead, cat_empty, cat_unused;
	/* pools of the size classes whose objects own a buffer */
	uint64_t *scan_pools;
	size_t nscan, capscan;
	uint8_t scan_class[MAX_CLASSES];
	size_t pad;
};

static inline uint64_t ld(const uint8_t *p, int32_t off, int32_t size)
{
	uint64_t v = 0;
	memcpy(&v, p + off, size == 4 ? 4 : 8);
	return v;
}

static const char *class_name(unsigned i, unsigned align, char *buf, size_t cap)
{
	snprintf(buf, cap, "%u B", (i + 1) * align);
	return buf;
}

/* The statics, by DWARF (defining file) or by the symbol table. */
static void find_statics(struct pm *p)
{
	struct pg_interp *in = p->h->in;
	struct pg_dwarf_var v[] = {
		{ "arenas", "obmalloc.c", 0 },     { "maxarenas", "obmalloc.c", 0 }, { "block_list", "intobject.c", 0 },
		{ "free_list", "intobject.c", 0 }, { "block_list", "floatobject.c", 0 }, { "free_list", "floatobject.c", 0 },
	};
	pg_error *err = NULL;
	if (in->dwarf) /* without it (a built-in profile): the symbols, where they exist */
		err = pg_dwarf_vars(in->dwarf, v, sizeof(v) / sizeof(v[0]));
	pg_error_destroy(err);
	uint64_t *out[] = { &p->arenas_var, &p->maxarenas_var, &p->int_blocks_var, &p->int_free_var,
			    &p->float_blocks_var, &p->float_free_var };
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		if (!v[i].addr)
			continue;
		uint64_t a = v[i].addr + p->bias;
		const struct pg_sym *s = pg_symtab_at(&in->syms, a);
		/* the symbol at that address must carry the C name */
		if (s && s->addr == a && strncmp(s->name, v[i].name, strlen(v[i].name)) == 0 &&
		    (s->name[strlen(v[i].name)] == 0 || s->name[strlen(v[i].name)] == '.'))
			*out[i] = a;
		else
			pg_logf(p->h->log, "memory: DWARF puts %s (%s) at 0x%" PRIx64 ", where the symbol table has %s",
				v[i].name, v[i].file, a, s ? s->name : "nothing");
	}
	/* unique names also through the symbol table */
	const struct pg_sym *s;
	if (!p->arenas_var && !(err = pg_symtab_find(&in->syms, "arenas", STT_OBJECT, &s)))
		p->arenas_var = s->addr;
	pg_error_destroy(err);
	err = NULL;
	if (!p->maxarenas_var && !(err = pg_symtab_find(&in->syms, "maxarenas", STT_OBJECT, &s)))
		p->maxarenas_var = s->addr;
	pg_error_destroy(err);
	err = pg_symtab_find(&in->syms, "usedpools", STT_OBJECT, &s);
	if (!err && s->size >= 16 && s->size % 16 == 0 && s->size / 16 <= MAX_CLASSES &&
	    SMALL_REQUEST_THRESHOLD % (s->size / 16) == 0) {
		p->nclasses = (unsigned)(s->size / 16);
		p->align = SMALL_REQUEST_THRESHOLD / p->nclasses;
	}
	pg_error_destroy(err);
}

static void find_layouts(struct pm *p)
{
	struct pg_dwarf_struct ws[4] = { { .name = "arena_object" }, { .name = "pool_header" }, { .name = "PyIntBlock" },
					 { .name = "PyFloatBlock" } };
	if (!p->h->in->dwarf) {
		pg_warn(p->w, "memory: no DWARF for the interpreter (built-in profile %s): pymalloc's arenas and the int and "
			      "float blocks are not laid out, their bytes count as unexplained",
			p->h->in->profile ? p->h->in->profile->name : "?");
		return;
	}
	pg_error *err = pg_dwarf_scan(p->h->in->dwarf, ws, 4, NULL, 0, true, NULL);
	pg_error_destroy(err);
	struct pg_field f;
	p->ao_size = p->ph_size = p->intblock_size = p->floatblock_size = 0;
#define FLD(i, path, dst)                                                             \
	((err = pg_dwarf_member(&ws[i].die[0], ws[i].name, path, &f)) ? (pg_error_destroy(err), false) \
								       : ((dst) = f.off, true))
	if (ws[0].n && FLD(0, "address", p->ao_address) && FLD(0, "pool_address", p->ao_pool_address) &&
	    FLD(0, "nfreepools", p->ao_nfree) && FLD(0, "ntotalpools", p->ao_ntotal))
		p->ao_size = pg_dwarf_struct_size(&ws[0].die[0]);
	if (ws[1].n && FLD(1, "ref", p->ph_count) && FLD(1, "szidx", p->ph_szidx) && FLD(1, "nextoffset", p->ph_next) &&
	    FLD(1, "maxnextoffset", p->ph_maxnext))
		p->ph_size = pg_dwarf_struct_size(&ws[1].die[0]);
	if (ws[2].n && FLD(2, "objects", p->intblock_objs_off))
		p->intblock_size = pg_dwarf_struct_size(&ws[2].die[0]);
	if (ws[3].n && FLD(3, "objects", p->floatblock_objs_off))
		p->floatblock_size = pg_dwarf_struct_size(&ws[3].die[0]);
#undef FLD
	if (p->align)
		p->overhead = (p->ph_size + (int32_t)p->align - 1) & ~((int32_t)p->align - 1);
}

/* ---- pymalloc --------------------------------------------------------- */

/* A type whose objects own a buffer, and the size class they live in. */
static void plan_scan(struct pm *p)
{
	const struct pg_layout *L = &p->h->in->L;
	int32_t sizes[] = { L->dict_size + L->gc_head_size, L->list_size + L->gc_head_size, L->set_size + L->gc_head_size,
			    L->unicode_size, L->bytearray_size };
	/* where the object starts in its block: after a PyGC_Head (1) or at it (2) */
	const uint8_t where[] = { 1, 1, 1, 2, 2 };
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		if (sizes[i] <= 0 || !p->align)
			continue;
		uint64_t n = (uint64_t)sizes[i] + (p->h->in->debug_build ? 2 * DEBUG_PAD : 0);
		if (n > SMALL_REQUEST_THRESHOLD)
			continue;
		unsigned cls = (unsigned)((n + p->align - 1) / p->align) - 1;
		if (cls < MAX_CLASSES)
			p->scan_class[cls] |= where[i];
	}
}

static pg_error *one_arena(struct pm *p, uint64_t base, uint64_t pool_address, uint32_t nfree, uint32_t ntotal,
			   bool *warned)
{
	uint64_t used[MAX_CLASSES] = { 0 }, freeb[MAX_CLASSES] = { 0 }, never[MAX_CLASSES] = { 0 };
	uint64_t pool_overhead = 0, empty = 0, unused = 0;
	uint64_t first = (base + POOL_SIZE - 1) & ~(uint64_t)(POOL_SIZE - 1);
	uint64_t end = base + ARENA_SIZE;
	if (pool_address < first || pool_address > end || (pool_address - first) % POOL_SIZE || ntotal > ARENA_SIZE / POOL_SIZE ||
	    nfree > ntotal) {
		if (!*warned)
			pg_warn_partial(p->w, "pymalloc: arena at 0x%" PRIx64 " has an absurd header (next pool 0x%" PRIx64 ", %u of %u pools free): its pools are not read",
					base, pool_address, nfree, ntotal);
		*warned = true;
		pool_address = first;
		unused = ARENA_SIZE;
		struct pg_mb_part part = { p->cat_unused, unused };
		return pg_mb_region(p->b, base, end, "pymalloc", &part, 1);
	}
	unused = (first - base) + (end - pool_address);
	uint32_t nempty = 0;
	for (uint64_t pool = first; pool < pool_address; pool += POOL_SIZE) {
		uint8_t hdr[128];
		const uint8_t *ph = pg_ptr(p->r, pool, (size_t)p->ph_size);
		if (!ph) {
			if (!pg_try_read(p->r, pool, hdr, (size_t)p->ph_size)) {
				unused += POOL_SIZE;  /* its bytes are not in the core: nothing to tell */
				continue;
			}
			ph = hdr;
		}
		uint32_t count = (uint32_t)ld(ph, p->ph_count, 4), szidx = (uint32_t)ld(ph, p->ph_szidx, 4);
		uint32_t next = (uint32_t)ld(ph, p->ph_next, 4), maxnext = (uint32_t)ld(ph, p->ph_maxnext, 4);
		if (count == 0) {
			empty += POOL_SIZE;
			nempty++;
			continue;
		}
		uint32_t size = (szidx + 1) * p->align;
		if (szidx >= p->nclasses || maxnext != POOL_SIZE - size || next > POOL_SIZE ||
		    next < (uint32_t)p->overhead) {
			if (!*warned)
				pg_warn_partial(p->w, "pymalloc: pool at 0x%" PRIx64 " has a bad header (size class %u, next offset %u, max %u): counted as unexplained",
						pool, szidx, next, maxnext);
			*warned = true;
			unused += POOL_SIZE;
			continue;
		}
		uint32_t nblocks = (POOL_SIZE - (uint32_t)p->overhead) / size;
		uint32_t nnever = next <= maxnext ? (maxnext - next) / size + 1 : 0;
		if (nnever > nblocks)
			nnever = nblocks;
		uint32_t nused = count < nblocks - nnever ? count : nblocks - nnever;
		used[szidx] += (uint64_t)nused * size;
		never[szidx] += (uint64_t)nnever * size;
		freeb[szidx] += (uint64_t)(nblocks - nused - nnever) * size;
		pool_overhead += POOL_SIZE - (uint64_t)nblocks * size;
		if (p->scan_class[szidx]) {
			if (pg_grow((void **)&p->scan_pools, &p->capscan, p->nscan + 1, sizeof(*p->scan_pools)))
				return PG_ENOMEM;
			p->scan_pools[p->nscan++] = pool | szidx;
		}
	}
	if (nempty + (end - pool_address) / POOL_SIZE != nfree && !*warned) {
		pg_warn(p->w, "pymalloc: arena at 0x%" PRIx64 " says %u pools are free, its pools show %" PRIu64,
			base, nfree, nempty + (end - pool_address) / POOL_SIZE);
		*warned = true;
	}
	struct pg_mb_part parts[3 * MAX_CLASSES + 3];
	size_t n = 0;
	for (unsigned i = 0; i < p->nclasses; i++) {
		if (used[i])
			parts[n++] = (struct pg_mb_part){ p->cat_used[i], used[i] };
		if (freeb[i])
			parts[n++] = (struct pg_mb_part){ p->cat_free[i], freeb[i] };
		if (never[i])
			parts[n++] = (struct pg_mb_part){ p->cat_never[i], never[i] };
	}
	if (pool_overhead)
		parts[n++] = (struct pg_mb_part){ p->cat_pool_overhead, pool_overhead };
	if (empty)
		parts[n++] = (struct pg_mb_part){ p->cat_empty, empty };
	if (unused)
		parts[n++] = (struct pg_mb_part){ p->cat_unused, unused };
	return pg_mb_region(p->b, base, end, "pymalloc", parts, n);
}

static pg_error *arenas(struct pm *p)
{
	if (!p->arenas_var || !p->maxarenas_var || !p->nclasses || !p->ao_size || !p->ph_size || p->ph_size > 128) {
		pg_warn(p->w, "pymalloc: its arena table or layouts were not found (arenas%s, maxarenas%s, usedpools%s): its arenas count as unexplained",
			p->arenas_var ? "" : " missing", p->maxarenas_var ? "" : " missing", p->nclasses ? "" : " missing");
		return NULL;
	}
	char nm[32];
	for (unsigned i = 0; i < p->nclasses; i++) {
		const char *c = class_name(i, p->align, nm, sizeof(nm));
		p->cat_used[i] = pg_mb_category(p->b, "pymalloc", "used_blocks", NULL, "size_class", c);
		p->cat_free[i] = pg_mb_category(p->b, "pymalloc", "free_blocks", NULL, "size_class", c);
		p->cat_never[i] = pg_mb_category(p->b, "pymalloc", "never_used", NULL, "size_class", c);
		if (p->cat_used[i] == UINT32_MAX || p->cat_free[i] == UINT32_MAX || p->cat_never[i] == UINT32_MAX)
			return PG_ENOMEM;
	}
	p->cat_pool_overhead = pg_mb_category(p->b, "pymalloc", "pool_overhead", NULL, NULL, NULL);
	p->cat_empty = pg_mb_category(p->b, "pymalloc", "empty_pools", NULL, NULL, NULL);
	p->cat_unused = pg_mb_category(p->b, "pymalloc", "arena_unused", NULL, NULL, NULL);
	if (p->cat_pool_overhead == UINT32_MAX || p->cat_empty == UINT32_MAX || p->cat_unused == UINT32_MAX)
		return PG_ENOMEM;
	uint64_t table, nmax = 0;
	if (!pg_try_read(p->r, p->arenas_var, &table, 8) || !pg_try_read(p->r, p->maxarenas_var, &nmax, 4)) {
		pg_warn_partial(p->w, "pymalloc: `arenas` or `maxarenas` is unreadable: its arenas count as unexplained");
		return NULL;
	}
	nmax &= 0xffffffffu;
	/* the table is in the core: a longer one than its bytes is not believed */
	uint64_t most = pg_mem_readable(p->r->m) / (uint64_t)p->ao_size;
	if (nmax > most) {
		pg_warn_partial(p->w, "pymalloc: maxarenas is %" PRIu64 ", more than the core can hold: read as %" PRIu64, nmax, most);
		nmax = most;
	}
	bool warned = false;
	uint64_t nseen = 0, most_arenas = pg_mem_readable(p->r->m) / ARENA_SIZE + 1;
	uint8_t buf[64 * 128];
	size_t per = sizeof(buf) / (size_t)p->ao_size;
	for (uint64_t i = 0; i < nmax; i += per) {
		size_t k = nmax - i < per ? (size_t)(nmax - i) : per;
		if (!pg_try_read(p->r, table + i * (uint64_t)p->ao_size, buf, k * (size_t)p->ao_size)) {
			pg_warn_partial(p->w, "pymalloc: the arena table at 0x%" PRIx64 " is unreadable from entry %" PRIu64 " on: the rest is not read",
					table, i);
			break;
		}
		for (size_t j = 0; j < k; j++) {
			const uint8_t *a = buf + j * (size_t)p->ao_size;
			uint64_t base = ld(a, p->ao_address, 8);
			if (!base)
				continue;
			/* an arena is 16-aligned memory of the core (mmap or malloc
			 * gave it), and there are no more of them than fit */
			uint64_t probe;
			if (base + ARENA_SIZE < base || (base & 15) || nseen >= most_arenas ||
			    !pg_try_read(p->r, base, &probe, 8)) {
				if (!warned)
					pg_warn_partial(p->w, "pymalloc: arena entry %" PRIu64 " has an address 0x%" PRIx64 " that is no arena of the core: skipped",
							i + j, base);
				warned = true;
				continue;
			}
			nseen++;
			pg_error *err = one_arena(p, base, ld(a, p->ao_pool_address, 8), (uint32_t)ld(a, p->ao_nfree, 4),
						  (uint32_t)ld(a, p->ao_ntotal, 4), &warned);
			if (err && err->kind != PG_ERR_INTERNAL)
				return err;
			pg_error_destroy(err);
		}
	}
	return NULL;
}

/* ---- int and float blocks --------------------------------------------- */

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static size_t block_of(const uint64_t *blocks, size_t n, uint64_t addr, uint64_t bsize)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (blocks[mid] <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo && addr - blocks[lo - 1] < bsize ? lo - 1 : SIZE_MAX;
}

static pg_error *free_list_blocks(struct pm *p, const char *what, uint64_t blocks_var, uint64_t free_var,
				  int32_t bsize, int32_t objs_off, int32_t osize)
{
	if (!blocks_var || !free_var || bsize <= 0 || osize <= 0 || objs_off < 0 || objs_off >= bsize) {
		pg_warn(p->w, "memory: %s's block_list/free_list were not found: its blocks count as C allocations", what);
		return NULL;
	}
	uint64_t nobj = (uint64_t)(bsize - objs_off) / (uint64_t)osize;
	const struct pg_layout *L = &p->h->in->L;
	uint64_t b;
	if (!pg_try_read(p->r, blocks_var, &b, 8)) {
		pg_warn_partial(p->w, "memory: %s's block_list is unreadable", what);
		return NULL;
	}
	uint64_t *blocks = NULL;
	uint32_t *nfree = NULL;
	size_t n = 0, cap = 0;
	uint64_t most = pg_mem_readable(p->r->m) / (uint64_t)bsize + 1;
	pg_error *err = NULL;
	while (b) {
		if (n >= most) {
			pg_warn_partial(p->w, "memory: %s's block list is longer than the core can hold (a loop?): cut", what);
			break;
		}
		uint64_t next;
		if ((b & 7) || !pg_try_read(p->r, b, &next, 8)) {
			pg_warn_partial(p->w, "memory: %s's block list leads to 0x%" PRIx64 ", unreadable: cut", what, b);
			break;
		}
		if ((err = pg_grow((void **)&blocks, &cap, n + 1, sizeof(*blocks))))
			goto out;
		blocks[n++] = b;
		b = next;
	}
	if (n > 1)
		qsort(blocks, n, sizeof(*blocks), u64_cmp);
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (!k || blocks[i] >= blocks[k - 1] + (uint64_t)bsize)
			blocks[k++] = blocks[i];
	if (k < n)
		pg_warn_partial(p->w, "memory: %s's block list has overlapping or repeated blocks", what);
	n = k;
	nfree = calloc(n ? n : 1, sizeof(*nfree));
	if (!nfree) {
		err = PG_ENOMEM;
		goto out;
	}
	/* the free slots, chained through ob_type */
	uint64_t f;
	if (!pg_try_read(p->r, free_var, &f, 8))
		f = 0;
	size_t last = SIZE_MAX;
	for (uint64_t steps = 0; f; steps++) {
		if (steps > n * nobj) {
			pg_warn_partial(p->w, "memory: %s's free list holds more slots than its blocks (a loop?): cut", what);
			break;
		}
		size_t bi = last != SIZE_MAX && f - blocks[last] < (uint64_t)bsize ? last : block_of(blocks, n, f, (uint64_t)bsize);
		if (bi == SIZE_MAX || (f - blocks[bi] - (uint64_t)objs_off) % (uint64_t)osize ||
		    f - blocks[bi] < (uint64_t)objs_off) {
			pg_warn_partial(p->w, "memory: %s's free list leads to 0x%" PRIx64 ", no slot of its blocks: cut", what, f);
			break;
		}
		last = bi;
		nfree[bi]++;
		if (!pg_try_read(p->r, f + (uint64_t)L->ob_type.off, &f, 8)) {
			pg_warn_partial(p->w, "memory: %s's free list is unreadable after 0x%" PRIx64 ": cut", what, f);
			break;
		}
	}
	bool is_int = strcmp(what, "int") == 0;
	uint32_t live = pg_mb_category(p->b, is_int ? "int_blocks" : "float_blocks", is_int ? "int_live" : "float_live", NULL, NULL, NULL);
	uint32_t dead = pg_mb_category(p->b, is_int ? "int_blocks" : "float_blocks", is_int ? "int_free" : "float_free", NULL, NULL, NULL);
	uint32_t rest = pg_mb_category(p->b, is_int ? "int_blocks" : "float_blocks", "overhead", NULL, NULL, NULL);
	if (live == UINT32_MAX || dead == UINT32_MAX || rest == UINT32_MAX) {
		err = PG_ENOMEM;
		goto out;
	}
	size_t unclaimed = 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t fr = nfree[i] < nobj ? nfree[i] : nobj;
		struct pg_mb_part parts[2] = { { live, (nobj - fr) * (uint64_t)osize }, { dead, fr * (uint64_t)osize } };
		if (!pg_mb_claim_parts(p->b, blocks[i], parts, 2, rest))
			unclaimed++;
	}
	if (unclaimed)
		pg_warn(p->w, "memory: %zu of %zu %s blocks are in no in-use malloc chunk", unclaimed, n, what);
out:
	free(blocks);
	free(nfree);
	return err;
}

/* ---- what objects own ------------------------------------------------- */

struct owned {
	uint32_t dict, list, set, unicode, bytearray;
};

static void claim_owned(struct pm *p, const struct owned *c, uint64_t obj, uint64_t type, const uint8_t *o, size_t have)
{
	const struct pg_layout *L = &p->h->in->L;
	const uint64_t *T = p->h->in->types;
#define GET(f) ((f).off >= 0 && (size_t)(f).off + 8 <= have ? ld(o, (f).off, 8) : 0)
	if (type == T[PG_T_DICT]) {
		uint64_t t = GET(L->ma_table);
		if (t && t != obj + (uint64_t)L->ma_smalltable.off)
			pg_mb_claim(p->b, t, c->dict);
	} else if (type == T[PG_T_LIST]) {
		uint64_t t = GET(L->list_item);
		if (t)
			pg_mb_claim(p->b, t, c->list);
	} else if (type == T[PG_T_SET] || type == T[PG_T_FROZENSET]) {
		uint64_t t = GET(L->set_table);
		if (t && t != obj + (uint64_t)L->set_smalltable.off)
			pg_mb_claim(p->b, t, c->set);
	} else if (type == T[PG_T_UNICODE]) {
		uint64_t t = GET(L->unicode_str);
		if (t)
			pg_mb_claim(p->b, t, c->unicode);
	} else if (type == T[PG_T_BYTEARRAY]) {
		uint64_t t = GET(L->bytearray_bytes);
		if (t)
			pg_mb_claim(p->b, t, c->bytearray);
	}
#undef GET
}

/* The pools of those size classes, block by block: live objects of the
 * builtin types (refcount > 0: a freed block keeps a refcount of 0). */
static void scan_pools(struct pm *p, const struct owned *c)
{
	const struct pg_layout *L = &p->h->in->L;
	for (size_t i = 0; i < p->nscan; i++) {
		uint64_t pool = p->scan_pools[i] & ~(uint64_t)(POOL_SIZE - 1);
		unsigned szidx = (unsigned)(p->scan_pools[i] & (POOL_SIZE - 1));
		uint32_t size = (szidx + 1) * p->align;
		const uint8_t *pg = pg_ptr(p->r, pool, POOL_SIZE);
		if (!pg || szidx >= MAX_CLASSES)
			continue;
		uint8_t where = p->scan_class[szidx];
		uint32_t next = (uint32_t)ld(pg, p->ph_next, 4);
		if (next > POOL_SIZE)
			next = POOL_SIZE;
		for (uint32_t off = (uint32_t)p->overhead; off + size <= next; off += size) {
			/* an object of a gc'd type after its PyGC_Head, else at the block */
			for (int gc = 0; gc < 2; gc++) {
				if (!(where & (gc ? 1 : 2)))
					continue;
				size_t at = off + p->pad + (gc ? (size_t)L->gc_head_size : 0);
				if (at + (size_t)L->ob_type.off + 8 > off + size)
					continue;
				uint64_t rc = ld(pg, (int32_t)at + L->ob_refcnt.off, 8), type = ld(pg, (int32_t)at + L->ob_type.off, 8);
				if ((int64_t)rc <= 0 || !type)
					continue;
				claim_owned(p, c, pool + at, type, pg + at, off + size - at);
			}
		}
	}
}

/* Tracked subclasses of dict, list and set (bigger than the builtins' size
 * classes) own their buffers too. */
static void scan_subclasses(struct pm *p, const struct owned *c)
{
	const struct pg_model *m = p->m;
	const struct pg_layout *L = &p->h->in->L;
	const uint64_t *T = p->h->in->types;
	if (!m->has_graph)
		return;
	for (size_t i = 0; i < m->n; i++) {
		const struct pg_model_type *t = &m->types[m->type[i]];
		if ((t->kind != PG_K_DICT && t->kind != PG_K_LIST && t->kind != PG_K_SET) || t->addr == T[PG_T_DICT] ||
		    t->addr == T[PG_T_LIST] || t->addr == T[PG_T_SET] || t->addr == T[PG_T_FROZENSET])
			continue;
		uint64_t obj = m->addr[i], v;
		if (t->kind == PG_K_DICT && !pg_try_read(p->r, obj + (uint64_t)L->ma_table.off, &v, 8))
			continue;
		if (t->kind == PG_K_LIST && !pg_try_read(p->r, obj + (uint64_t)L->list_item.off, &v, 8))
			continue;
		if (t->kind == PG_K_SET && !pg_try_read(p->r, obj + (uint64_t)L->set_table.off, &v, 8))
			continue;
		if (t->kind == PG_K_DICT && v != obj + (uint64_t)L->ma_smalltable.off)
			pg_mb_claim(p->b, v, c->dict);
		else if (t->kind == PG_K_LIST && v)
			pg_mb_claim(p->b, v, c->list);
		else if (t->kind == PG_K_SET && v != obj + (uint64_t)L->set_smalltable.off)
			pg_mb_claim(p->b, v, c->set);
	}
}

static const char *static_name(const uint64_t *T, uint64_t type)
{
	static const char *const names[PG_T_COUNT] = {
		[PG_T_TYPE] = "type", [PG_T_OBJECT] = "object", [PG_T_DICT] = "dict", [PG_T_LIST] = "list",
		[PG_T_TUPLE] = "tuple", [PG_T_SET] = "set", [PG_T_FROZENSET] = "frozenset", [PG_T_INSTANCE] = "instance",
		[PG_T_CLASS] = "classobj", [PG_T_STRING] = "str", [PG_T_UNICODE] = "unicode", [PG_T_INT] = "int",
		[PG_T_LONG] = "long", [PG_T_FLOAT] = "float", [PG_T_BOOL] = "bool", [PG_T_BYTEARRAY] = "bytearray",
	};
	for (int t = 0; t < PG_T_COUNT; t++)
		if (T[t] && T[t] == type)
			return names[t];
	return NULL;
}

/* The unclaimed in-use chunks: an object at the start of the payload
 * (after its PyGC_Head when tracked) is what the chunk holds. */
static pg_error *scan_chunks(struct pm *p)
{
	const struct pg_layout *L = &p->h->in->L;
	const struct pg_model *m = p->m;
	struct pg_heap *h = p->h;
	uint32_t *row_cat = calloc(m->nrows ? m->nrows : 1, sizeof(*row_cat));
	if (!row_cat)
		return PG_ENOMEM;
	size_t n = pg_mb_nchunks(p->b);
	size_t need = p->pad + (size_t)L->gc_head_size + (size_t)L->ob_type.off + 8;
	for (size_t i = 0; i < n; i++) {
		uint64_t addr, size;
		if (!pg_mb_chunk(p->b, i, &addr, &size) || size < 16 + need)
			continue;
		uint64_t payload = addr + 16 + p->pad;
		const uint8_t *o = pg_ptr(p->r, payload, need - p->pad);
		if (!o)
			continue;
		uint32_t cat = UINT32_MAX;
		uint64_t tracked = payload + (uint64_t)L->gc_head_size;
		uint32_t gi = m->has_graph ? pg_model_index(m, tracked) : PG_NONE;
		if (gi != PG_NONE) {
			uint32_t row = m->row[gi];
			if (!row_cat[row])
				row_cat[row] = pg_mb_category(p->b, "python", "object", m->rows[row].name, NULL, NULL) + 1;
			cat = row_cat[row] - 1;
		} else {
			for (int gc = 0; gc < 2 && cat == UINT32_MAX; gc++) {
				size_t at = gc ? (size_t)L->gc_head_size : 0;
				uint64_t rc = ld(o, (int32_t)at + L->ob_refcnt.off, 8), type = ld(o, (int32_t)at + L->ob_type.off, 8);
				if ((int64_t)rc <= 0)
					continue;
				const char *name = static_name(h->in->types, type);
				uint32_t ti;
				if (!name && pg_u64map_get(&h->type_index, type, &ti) && h->types[ti].valid)
					name = h->types[ti].name;
				if (name)
					cat = pg_mb_category(p->b, "python", "object", name, NULL, NULL);
			}
		}
		if (cat != UINT32_MAX)
			pg_mb_claim_chunk(p->b, i, cat);
	}
	free(row_cat);
	return NULL;
}

static double ms_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

pg_error *pg_py27_memory(struct pg_heap *h, const struct pg_model *m, struct pg_memory_builder *b)
{
	struct pm p = { .h = h, .m = m, .b = b, .r = &h->rd, .w = h->warn };
	p.pad = h->in->debug_build ? DEBUG_PAD : 0;
	GElf_Addr bias = 0;
	dwfl_module_getelf(h->in->mod, &bias);
	p.bias = bias;
	double t0 = ms_now();
	find_statics(&p);
	double t1 = ms_now();
	find_layouts(&p);
	plan_scan(&p);
	double t2 = ms_now();
	pg_logf(h->log, "memory: arenas 0x%" PRIx64 ", maxarenas 0x%" PRIx64 ", %u size classes of %u B; int blocks 0x%" PRIx64
		", free list 0x%" PRIx64 "; float blocks 0x%" PRIx64 ", free list 0x%" PRIx64,
		p.arenas_var, p.maxarenas_var, p.nclasses, p.align, p.int_blocks_var, p.int_free_var, p.float_blocks_var,
		p.float_free_var);
	/* regions first (the builder fixes the chunk list at the first claim) */
	pg_error *err = arenas(&p);
	double t3 = ms_now();
	if (!err)
		err = free_list_blocks(&p, "int", p.int_blocks_var, p.int_free_var, p.intblock_size, p.intblock_objs_off,
				       h->in->L.int_size);
	if (!err)
		err = free_list_blocks(&p, "float", p.float_blocks_var, p.float_free_var, p.floatblock_size,
				       p.floatblock_objs_off, h->in->L.float_size);
	if (!err) {
		struct owned c = {
			pg_mb_category(b, "python", "dict_table", "dict", NULL, NULL),
			pg_mb_category(b, "python", "list_array", "list", NULL, NULL),
			pg_mb_category(b, "python", "set_table", "set", NULL, NULL),
			pg_mb_category(b, "python", "unicode_buffer", "unicode", NULL, NULL),
			pg_mb_category(b, "python", "bytearray_buffer", "bytearray", NULL, NULL),
		};
		double t4 = ms_now();
		scan_pools(&p, &c);
		scan_subclasses(&p, &c);
		double t5 = ms_now();
		err = scan_chunks(&p);
		pg_logf(h->log, "memory: statics %.1f ms, layouts %.1f ms, arenas %.1f ms, int/float blocks %.1f ms, pools and subclasses %.1f ms, chunk headers %.1f ms",
			t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, ms_now() - t5);
	}
	free(p.scan_pools);
	return err;
}
