#include "malloc.h"

#include <elfutils/libdwelf.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "../base/alloc.h"
#include "../elf/dwarf.h"
#include "../elf/symbols.h"

/* glibc's constants for x86-64 (malloc/malloc.c, malloc/arena.c): they are
 * macros, in no DWARF; every value read is checked against them. */
#define SIZE_SZ 8
#define MALLOC_ALIGNMENT 16
#define MINSIZE 32
#define PREV_INUSE 1
#define IS_MMAPPED 2
#define NON_MAIN_ARENA 4
#define HEAP_MAX_SIZE ((uint64_t)64 << 20)   /* 2 * DEFAULT_MMAP_THRESHOLD_MAX */
#define PAGE 4096
#define MAX_ARENAS 4096
#define MAX_HEAPS_PER_ARENA 4096
#define MAX_HEAPS 4096          /* in all: a damaged arena list cannot make more */

/* What libc's DWARF says (offsets; -1 absent). */
struct libc_layout {
	int32_t ms_size, ms_top, ms_fastbins, ms_nfastbins, ms_next, ms_system_mem;
	int32_t mp_sbrk_base, mp_n_mmaps, mp_mmapped_mem;
	int32_t hi_size, hi_ar_ptr, hi_prev, hi_hsize, hi_mprotect;
	uint64_t main_arena, mp, tcache_key;
};

struct ctx {
	struct pg_core *core;
	const struct pg_log *log;
	struct pg_warnings *w;
	struct pg_reader r;
	struct pg_malloc *m;
	bool dwarf;
	struct libc_layout L;
	uint64_t tcache_key;
	bool have_key;
};

static inline uint64_t align16(uint64_t a)
{
	return (a + 15) & ~(uint64_t)15;
}

static bool rd64(struct ctx *c, uint64_t addr, uint64_t *v)
{
	const uint8_t *p = pg_ptr(&c->r, addr, 8);
	if (p) {
		memcpy(v, p, 8);
		return true;
	}
	return pg_try_read(&c->r, addr, v, 8);
}

/* ---- finding libc ----------------------------------------------------- */

struct find_libc {
	Dwfl_Module *mod;
	const char *name;
};

static int find_libc_cb(Dwfl_Module *mod, void **ud, const char *name, Dwarf_Addr start, void *arg)
{
	(void)ud;
	(void)start;
	struct find_libc *f = arg;
	const char *base = strrchr(name, '/');
	base = base ? base + 1 : name;
	if (!f->mod && (strncmp(base, "libc.so", 7) == 0 || strncmp(base, "libc-2.", 7) == 0)) {
		f->mod = mod;
		f->name = name;
	}
	return DWARF_CB_OK;
}

/* The build-id of the debug file libdwfl found must be the module's. */
static bool debug_build_id_matches(Dwfl_Module *mod, const char *debugfile)
{
	const unsigned char *want = NULL;
	GElf_Addr vaddr;
	int wantlen = dwfl_module_build_id(mod, &want, &vaddr);
	if (wantlen <= 0 || !debugfile)
		return false;
	int fd = open(debugfile, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	Elf *e = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	const void *have = NULL;
	ssize_t havelen = e ? dwelf_elf_gnu_build_id(e, &have) : -1;
	bool ok = havelen == wantlen && memcmp(have, want, (size_t)wantlen) == 0;
	if (e)
		elf_end(e);
	close(fd);
	return ok;
}

static pg_error *field(Dwarf_Die *st, const char *sname, const char *path, int32_t *off, int32_t *size)
{
	struct pg_field f;
	pg_error *err = pg_dwarf_member(st, sname, path, &f);
	if (err)
		return err;
	*off = f.off;
	if (size)
		*size = f.size;
	return NULL;
}

/* The three structs' layouts from libc's DWARF; *why on failure. */
static bool layout_from(struct pg_dwarf *d, struct libc_layout *L, char **why)
{
	struct pg_dwarf_struct ws[3] = { { .name = "malloc_state" }, { .name = "malloc_par" }, { .name = "heap_info" } };
	/* all three are defined in malloc.c's unit (arena.c is included in it) */
	pg_error *err = pg_dwarf_scan_file(d, "malloc.c", ws, 3);
	for (int i = 0; !err && i < 3 && ws[i].n; i++)
		if (i == 2)
			goto found;
	pg_error_destroy(err);
	err = pg_dwarf_scan(d, ws, 3, NULL, 0, true, NULL);
found:
	for (int i = 0; !err && i < 3; i++)
		if (!ws[i].n)
			err = pg_error_create(PG_ERR_NOT_FOUND, "libc's DWARF has no %s", ws[i].name);
	if (!err) {
		int32_t fsz = 0;
		L->ms_size = pg_dwarf_struct_size(&ws[0].die[0]);
		L->hi_size = pg_dwarf_struct_size(&ws[2].die[0]);
		if ((err = field(&ws[0].die[0], "malloc_state", "top", &L->ms_top, NULL)) ||
		    (err = field(&ws[0].die[0], "malloc_state", "fastbinsY", &L->ms_fastbins, &fsz)) ||
		    (err = field(&ws[0].die[0], "malloc_state", "next", &L->ms_next, NULL)) ||
		    (err = field(&ws[0].die[0], "malloc_state", "system_mem", &L->ms_system_mem, NULL)) ||
		    (err = field(&ws[1].die[0], "malloc_par", "sbrk_base", &L->mp_sbrk_base, NULL)) ||
		    (err = field(&ws[1].die[0], "malloc_par", "n_mmaps", &L->mp_n_mmaps, NULL)) ||
		    (err = field(&ws[1].die[0], "malloc_par", "mmapped_mem", &L->mp_mmapped_mem, NULL)) ||
		    (err = field(&ws[2].die[0], "heap_info", "ar_ptr", &L->hi_ar_ptr, NULL)) ||
		    (err = field(&ws[2].die[0], "heap_info", "prev", &L->hi_prev, NULL)) ||
		    (err = field(&ws[2].die[0], "heap_info", "size", &L->hi_hsize, NULL)) ||
		    (err = field(&ws[2].die[0], "heap_info", "mprotect_size", &L->hi_mprotect, NULL))) {
			/* err says which */
		}
		L->ms_nfastbins = fsz / 8;
		if (!err && (!L->ms_size || !L->hi_size || L->ms_nfastbins <= 0 || L->ms_nfastbins > 64))
			err = pg_error_create(PG_ERR_INPUT, "libc's DWARF gives absurd malloc struct sizes");
	}
	if (err) {
		*why = pg_asprintf("libc's debug info is not usable: %s", err->message);
		pg_error_destroy(err);
		return false;
	}
	return true;
}

/* Reading libc's DWARF (inflating its type sections) costs as much as a
 * walk of a small heap: it is started in a thread of its own when the
 * session starts, and waited for here.  Only the path-based fast handle is
 * used there (no libdwfl call leaves the session's thread). */
struct pg_malloc_prep {
	Dwfl_Module *mod;
	char *name;
	char *debugfile;
	char *why;               /* no DWARF: why (set by prepare or by the worker) */
	pthread_t th;
	bool started, joined;
	bool worker_ok;          /* the worker read the layouts */
	bool worker_notfound;    /* the file has no compressed sections: read it through libdwfl */
	struct libc_layout L;
};

static void *prep_worker(void *arg)
{
	struct pg_malloc_prep *p = arg;
	struct pg_dwarf *d = NULL;
	pg_error *err = pg_dwarf_open_path(p->debugfile, &d);
	if (err) {
		p->worker_notfound = err->kind == PG_ERR_NOT_FOUND;
		if (!p->worker_notfound)
			p->why = pg_asprintf("libc's debug info is not usable: %s", err->message);
		pg_error_destroy(err);
		return NULL;
	}
	p->worker_ok = layout_from(d, &p->L, &p->why);
	pg_dwarf_close(d);
	return NULL;
}

pg_error *pg_malloc_prepare(struct pg_core *core, const struct pg_log *log, struct pg_malloc_prep **ret)
{
	struct pg_malloc_prep *p = calloc(1, sizeof(*p));
	if (!p)
		return PG_ENOMEM;
	*ret = p;
	struct find_libc f = { 0 };
	dwfl_getmodules(core->dwfl, find_libc_cb, &f, 0);
	if (!f.mod)
		return NULL;
	p->mod = f.mod;
	p->name = pg_strdup(f.name);
	const char *debugfile = NULL;
	dwfl_module_getsymtab(f.mod);
	dwfl_module_info(f.mod, NULL, NULL, NULL, NULL, NULL, NULL, &debugfile);
	if (!debugfile) {
		/* libdwfl names no file for what a debuginfod server gave (it
		 * keeps the client's descriptor, found by build-id): read its
		 * DWARF through libdwfl, in this thread */
		Dwarf_Addr bias;
		const char *mainfile = NULL;
		Dwarf *dw = getenv("DEBUGINFOD_URLS") ? dwfl_module_getdwarf(f.mod, &bias) : NULL;
		dwfl_module_info(f.mod, NULL, NULL, NULL, NULL, NULL, &mainfile, &debugfile);
		if (dw && !debugfile) {
			const unsigned char *id = NULL;
			GElf_Addr vaddr;
			int n = dwfl_module_build_id(f.mod, &id, &vaddr);
			char hex[2 * 64 + 1] = "";
			for (int i = 0; i < n && i < 64; i++)
				snprintf(hex + 2 * i, 3, "%02x", id[i]);
			p->debugfile = pg_asprintf("debuginfod (build-id %s)", hex);
			if (!p->debugfile)
				return PG_ENOMEM;
			p->worker_notfound = true;   /* load_dwarf reads it through libdwfl */
			return NULL;
		}
	}
	if (!debugfile) {
		p->why = pg_asprintf("no debug file for libc (install libc6-dbg%s)",
				     getenv("DEBUGINFOD_URLS") ? ", or serve it from DEBUGINFOD_URLS"
							       : ", or set DEBUGINFOD_URLS");
		return NULL;
	}
	if (!debug_build_id_matches(f.mod, debugfile)) {
		p->why = pg_asprintf("libc's debug file %s has another build-id than the core's libc", debugfile);
		return NULL;
	}
	p->debugfile = pg_strdup(debugfile);
	if (!p->debugfile)
		return PG_ENOMEM;
	if (pthread_create(&p->th, NULL, prep_worker, p) == 0) {
		p->started = true;
	} else {
		pg_logf(log, "malloc: no thread for libc's DWARF: read now");
		prep_worker(p);
	}
	return NULL;
}

static void prep_join(struct pg_malloc_prep *p)
{
	if (p && p->started && !p->joined) {
		pthread_join(p->th, NULL);
		p->joined = true;
	}
}

void pg_malloc_prep_free(struct pg_malloc_prep *p)
{
	if (!p)
		return;
	prep_join(p);
	free(p->name);
	free(p->debugfile);
	free(p->why);
	free(p);
}

/* libc's DWARF: the layouts (from the worker, or read now) and main_arena,
 * mp_, tcache_key from its symbol table.  On failure *why says what was
 * missing. */
static bool load_dwarf(struct ctx *c, struct pg_malloc_prep *p, char **why)
{
	struct libc_layout *L = &c->L;
	prep_join(p);
	if (!p->debugfile) {
		*why = p->why ? pg_strdup(p->why) : pg_asprintf("no debug file for libc");
		return false;
	}
	if (p->worker_ok) {
		*L = p->L;
	} else if (p->worker_notfound) {
		struct pg_dwarf *d = NULL;
		pg_error *err = pg_dwarf_open(p->mod, &d);
		bool ok = !err && layout_from(d, L, why);
		if (err) {
			*why = pg_asprintf("libc's debug info is not usable: %s", err->message);
			pg_error_destroy(err);
		}
		pg_dwarf_close(d);
		if (!ok)
			return false;
	} else {
		*why = p->why ? pg_strdup(p->why) : pg_asprintf("libc's debug info is not usable");
		return false;
	}
	struct pg_symtab syms = { 0 };
	pg_error *err = pg_symtab_load(p->mod, &syms);
	const struct pg_sym *s;
	if (!err && !(err = pg_symtab_find(&syms, "main_arena", STT_OBJECT, &s)))
		L->main_arena = s->addr;
	if (!err && !(err = pg_symtab_find(&syms, "mp_", STT_OBJECT, &s)))
		L->mp = s->addr;
	if (!err) {
		pg_error *e2 = pg_symtab_find(&syms, "tcache_key", STT_OBJECT, &s);
		if (!e2)
			L->tcache_key = s->addr;
		pg_error_destroy(e2);
	}
	pg_symtab_free(&syms);
	if (err) {
		*why = pg_asprintf("libc's symbols: %s", err->message);
		pg_error_destroy(err);
		return false;
	}
	c->m->debugfile = pg_strdup(p->debugfile);
	return true;
}

/* ---- chunks ----------------------------------------------------------- */

static pg_error *add_chunk(struct pg_malloc *m, uint64_t addr, uint64_t size, unsigned state)
{
	if (m->nchunks == m->capchunks) {
		size_t cap = m->capchunks ? m->capchunks * 2 : 4096;
		uint64_t *a = pg_reallocarray(m->chunk, cap, 8);
		if (!a)
			return PG_ENOMEM;
		m->chunk = a;
		uint64_t *s = pg_reallocarray(m->csize, cap, 8);
		if (!s)
			return PG_ENOMEM;
		m->csize = s;
		m->capchunks = cap;
	}
	m->chunk[m->nchunks] = addr | state;
	m->csize[m->nchunks] = size;
	m->nchunks++;
	return NULL;
}

/* Walks [first, chunks_end) of heap h.  top: the top chunk's address (0:
 * the last chunk is the top).  Old heaps of an arena end in fenceposts. */
static pg_error *walk_heap(struct ctx *c, struct pg_malloc_heap *h, uint64_t first, uint64_t chunks_end, uint64_t top)
{
	struct pg_malloc *m = c->m;
	h->first = m->nchunks;
	h->header = first - h->start;
	h->tail = h->end - chunks_end;
	uint64_t p = first;
	const char *bad = NULL;
	uint64_t hdr = 0;
	while (p < chunks_end) {
		if (!rd64(c, p + 8, &hdr)) {
			bad = "unreadable";
			break;
		}
		uint64_t sz = hdr & ~(uint64_t)7;
		uint64_t left = chunks_end - p;
		if (sz < MINSIZE) {
			/* fenceposts: a 16-byte chunk and a 0-byte one at the end */
			if ((sz == 16 || sz == 0) && left <= 4 * MINSIZE) {
				h->tail += left;
				p = chunks_end;
				break;
			}
			bad = "too small";
			break;
		}
		if ((sz & 15) || (hdr & IS_MMAPPED)) {
			bad = "misaligned or marked mmapped";
			break;
		}
		if (sz > left) {
			bad = "past the heap's end";
			break;
		}
		uint64_t next = p + sz;
		unsigned state;
		if (next == chunks_end || (top && p == top)) {
			state = PG_CH_TOP;
		} else {
			uint64_t nh;
			if (!rd64(c, next + 8, &nh)) {
				bad = "followed by an unreadable one";
				break;
			}
			state = (nh & PREV_INUSE) ? PG_CH_INUSE : PG_CH_FREE;
			if (state == PG_CH_INUSE && c->have_key && sz >= MINSIZE) {
				uint64_t key;
				if (rd64(c, p + 24, &key) && key == c->tcache_key)
					state = PG_CH_CACHED;
			}
		}
		pg_error *err = add_chunk(m, p, sz, state);
		if (err)
			return err;
		if (state == PG_CH_TOP && next != chunks_end) {
			/* the top chunk ends before the heap does: the rest is slack */
			h->tail += chunks_end - next;
			p = chunks_end;
			break;
		}
		p = next;
	}
	if (bad) {
		h->unwalked = chunks_end - p;
		pg_warn_partial(c->w, "malloc: %s heap at 0x%" PRIx64 ": chunk header at 0x%" PRIx64 " (size field 0x%" PRIx64 ") is %s; the walk stops, %" PRIu64 " bytes after it are not classified",
				h->kind == PG_HEAP_MAIN ? "main" : "thread arena", h->start, p, hdr, bad, h->unwalked);
	}
	h->n = m->nchunks - h->first;
	return NULL;
}

static bool have_heap(const struct pg_malloc *m, uint64_t start)
{
	for (size_t i = 0; i < m->nheaps; i++)
		if (m->heaps[i].start == start)
			return true;
	return false;
}

static pg_error *new_heap(struct pg_malloc *m, struct pg_malloc_heap **ret)
{
	*ret = NULL;
	if (m->nheaps >= MAX_HEAPS)
		return pg_error_create(PG_ERR_LIMIT, "more than %d malloc heaps", MAX_HEAPS);
	struct pg_malloc_heap *v = pg_reallocarray(m->heaps, m->nheaps + 1, sizeof(*v));
	if (!v)
		return PG_ENOMEM;
	m->heaps = v;
	*ret = &v[m->nheaps++];
	memset(*ret, 0, sizeof(**ret));
	return NULL;
}

static const struct pg_anon_seg *seg_of(const struct pg_anon_seg *segs, size_t n, uint64_t addr)
{
	for (size_t i = 0; i < n; i++)
		if (addr >= segs[i].start && addr < segs[i].end)
			return &segs[i];
	return NULL;
}

/* ---- with DWARF ------------------------------------------------------- */

static pg_error *dwarf_heaps(struct ctx *c, const struct pg_anon_seg *segs, size_t nsegs)
{
	struct libc_layout *L = &c->L;
	struct pg_malloc *m = c->m;
	uint64_t sbrk_base = 0, top = 0, topsz = 0, v;
	if (L->tcache_key && rd64(c, L->tcache_key, &c->tcache_key) && c->tcache_key)
		c->have_key = true;
	m->cached_known = c->have_key;
	if (rd64(c, L->mp + (uint64_t)L->mp_n_mmaps, &v))
		m->n_mmaps = (int32_t)(uint32_t)v;
	if (rd64(c, L->mp + (uint64_t)L->mp_mmapped_mem, &v))
		m->mmapped_mem = v;
	/* the main heap: [mp_.sbrk_base, its mapping's end); chunks up to the
	 * end of main_arena.top */
	if (!rd64(c, L->mp + (uint64_t)L->mp_sbrk_base, &sbrk_base) ||
	    !rd64(c, L->main_arena + (uint64_t)L->ms_top, &top))
		pg_warn_partial(c->w, "malloc: mp_.sbrk_base or main_arena.top is unreadable: the main heap is not walked");
	else if (sbrk_base) {
		const struct pg_anon_seg *s = seg_of(segs, nsegs, sbrk_base);
		if (!s) {
			pg_warn_partial(c->w, "malloc: the main heap's start 0x%" PRIx64 " is in no anonymous mapping of the core", sbrk_base);
		} else {
			struct pg_malloc_heap *h = NULL;
			pg_error *err = new_heap(m, &h);
			if (err)
				return err;
			h->kind = PG_HEAP_MAIN;
			h->arena = L->main_arena;
			h->start = sbrk_base;
			h->end = s->end;
			uint64_t end = s->end;
			if (top >= sbrk_base && top < s->end && rd64(c, top + 8, &topsz) &&
			    (topsz & ~(uint64_t)7) <= s->end - top)
				end = top + (topsz & ~(uint64_t)7);
			else
				pg_warn(c->w, "malloc: main_arena.top 0x%" PRIx64 " is not in the main heap: walked to the mapping's end", top);
			uint64_t first = align16(sbrk_base) < end ? align16(sbrk_base) : end;
			if ((err = walk_heap(c, h, first, end, top)))
				return err;
		}
	}
	/* the thread arenas: main_arena.next around to main_arena; each
	 * arena's heaps from heap_for_ptr(top) along heap_info.prev */
	uint64_t a;
	if (!rd64(c, L->main_arena + (uint64_t)L->ms_next, &a)) {
		pg_warn_partial(c->w, "malloc: main_arena.next is unreadable: thread arenas are not walked");
		return NULL;
	}
	for (int na = 0; a && a != L->main_arena; na++) {
		if (na >= MAX_ARENAS) {
			pg_warn_partial(c->w, "malloc: the arena list does not come back to main_arena after %d arenas: cut", MAX_ARENAS);
			break;
		}
		uint64_t atop, next;
		if (!rd64(c, a + (uint64_t)L->ms_top, &atop) || !rd64(c, a + (uint64_t)L->ms_next, &next)) {
			pg_warn_partial(c->w, "malloc: arena 0x%" PRIx64 " is unreadable: the arena list is cut there", a);
			break;
		}
		bool seen = false;
		for (size_t k = 0; k < m->nheaps && !seen; k++)
			seen = m->heaps[k].arena == a;
		if (seen) {
			pg_warn_partial(c->w, "malloc: the arena list comes back to arena 0x%" PRIx64 ": cut there", a);
			break;
		}
		if (m->nheaps >= MAX_HEAPS) {
			pg_warn_partial(c->w, "malloc: more than %d heaps: the arena list is cut", MAX_HEAPS);
			break;
		}
		uint64_t heap = atop & ~(HEAP_MAX_SIZE - 1);
		for (int nh = 0; heap && nh < MAX_HEAPS_PER_ARENA && m->nheaps < MAX_HEAPS; nh++) {
			if (have_heap(m, heap)) {
				pg_warn_partial(c->w, "malloc: arena 0x%" PRIx64 ": its heap list comes back to 0x%" PRIx64 ": cut there", a, heap);
				break;
			}
			uint64_t ar, prev, size, mprot;
			if (!rd64(c, heap + (uint64_t)L->hi_ar_ptr, &ar) || !rd64(c, heap + (uint64_t)L->hi_prev, &prev) ||
			    !rd64(c, heap + (uint64_t)L->hi_hsize, &size) || !rd64(c, heap + (uint64_t)L->hi_mprotect, &mprot) ||
			    ar != a || size > mprot || mprot > HEAP_MAX_SIZE || size < (uint64_t)L->hi_size) {
				pg_warn_partial(c->w, "malloc: arena 0x%" PRIx64 ": heap_info at 0x%" PRIx64 " is unreadable or does not belong to it: its heaps are cut there",
						a, heap);
				break;
			}
			const struct pg_anon_seg *s = seg_of(segs, nsegs, heap);
			uint64_t end = heap + mprot;
			if (s && end > s->end)
				end = s->end;
			struct pg_malloc_heap *h = NULL;
			pg_error *err = new_heap(m, &h);
			if (err)
				return err;
			h->kind = PG_HEAP_THREAD;
			h->arena = a;
			h->start = heap;
			h->end = end;
			uint64_t first = (a >= heap && a < heap + HEAP_MAX_SIZE) ? align16(a + (uint64_t)L->ms_size)
										 : align16(heap + (uint64_t)L->hi_size);
			uint64_t cend = heap + size < end ? heap + size : end;
			if (first > cend)
				first = cend;
			if ((err = walk_heap(c, h, first, cend, atop >= heap && atop < cend ? atop : 0)))
				return err;
			if (prev && (prev & (HEAP_MAX_SIZE - 1))) {
				pg_warn_partial(c->w, "malloc: heap_info.prev 0x%" PRIx64 " is not a heap: cut", prev);
				break;
			}
			heap = prev;
		}
		a = next;
	}
	return NULL;
}

/* Fastbins of every arena: their chunks look in use. */
static void mark_fastbins(struct ctx *c)
{
	struct libc_layout *L = &c->L;
	struct pg_malloc *m = c->m;
	size_t budget = m->nchunks + 16;   /* every fastbin entry is a distinct chunk */
	for (size_t hi = 0; hi < m->nheaps; hi++) {
		uint64_t a = m->heaps[hi].arena;
		bool seen = false;
		for (size_t k = 0; k < hi; k++)
			seen |= m->heaps[k].arena == a;
		if (!a || seen)
			continue;
		for (int b = 0; b < L->ms_nfastbins; b++) {
			uint64_t e;
			if (!rd64(c, a + (uint64_t)L->ms_fastbins + 8u * (uint64_t)b, &e))
				break;
			for (; e; budget--) {
				size_t ci = budget ? pg_malloc_chunk_of(m, e) : SIZE_MAX;
				if (ci == SIZE_MAX || PG_CH_ADDR(m->chunk[ci]) != e) {
					pg_warn_partial(c->w, "malloc: fastbin %d of arena 0x%" PRIx64 " leads to 0x%" PRIx64 ", not a chunk: the rest of that bin counts as in use",
							b, a, e);
					break;
				}
				if (PG_CH_STATE(m->chunk[ci]) == PG_CH_INUSE)
					m->chunk[ci] = PG_CH_ADDR(m->chunk[ci]) | PG_CH_CACHED;
				uint64_t fd;
				if (!rd64(c, e + 16, &fd))
					break;
				e = fd ^ ((e + 16) >> 12);   /* REVEAL_PTR (safe-linking, glibc >= 2.32) */
			}
		}
	}
}

/* ---- without DWARF ---------------------------------------------------- */

/* Whether a walk from first reaches exactly end (no state recorded); with
 * max_steps, whether its first max_steps chunks are sane. */
static bool walks_to(struct ctx *c, uint64_t first, uint64_t end, size_t max_steps)
{
	uint64_t p = first, hdr;
	for (size_t n = 0; p < end; n++) {
		if (n == max_steps)
			return true;
		if (!rd64(c, p + 8, &hdr))
			return false;
		uint64_t sz = hdr & ~(uint64_t)7;
		if (n == 0 && !(hdr & PREV_INUSE))
			return false;
		if (sz < MINSIZE || (sz & 15) || (hdr & IS_MMAPPED) || sz > end - p)
			return false;
		p += sz;
	}
	return p == end;
}

static pg_error *walk_heaps_from_mappings(struct ctx *c, const struct pg_anon_seg *segs, size_t nsegs)
{
	struct pg_malloc *m = c->m;
	bool have_main = false;
	int main_tries = 0;
	for (size_t i = 0; i < nsegs; i++) {
		const struct pg_anon_seg *s = &segs[i];
		uint64_t len = s->end - s->start;
		uint64_t ar, prev, size, mprot;
		/* a thread arena's heap: 64 MiB-aligned, heap_info first */
		if (!(s->start & (HEAP_MAX_SIZE - 1)) && rd64(c, s->start, &ar) && rd64(c, s->start + 8, &prev) &&
		    rd64(c, s->start + 16, &size) && rd64(c, s->start + 24, &mprot) && size <= mprot &&
		    mprot <= HEAP_MAX_SIZE && mprot == len && !(size & (PAGE - 1)) && size >= PAGE &&
		    !(prev & (HEAP_MAX_SIZE - 1))) {
			/* the first chunk: after heap_info (and the arena's
			 * malloc_state in its first heap), found as the place
			 * from which the chunks lead exactly to the end */
			uint64_t from = ar > s->start && ar < s->start + PAGE ? ar : s->start + 32;
			uint64_t first = 0;
			int tries = 0;
			for (uint64_t cand = align16(from); cand < s->start + 2 * PAGE && !first && tries < 8; cand += 16) {
				if (!walks_to(c, cand, s->start + size, 8))
					continue;
				tries++;
				if (walks_to(c, cand, s->start + size, SIZE_MAX))
					first = cand;
			}
			if (first) {
				struct pg_malloc_heap *h = NULL;
				pg_error *err = new_heap(m, &h);
				if (err)
					return err;
				h->kind = PG_HEAP_THREAD;
				h->start = s->start;
				h->end = s->end;
				h->arena = ar;
				if ((err = walk_heap(c, h, first, s->start + size, 0)))
					return err;
				continue;
			}
		}
		/* the main heap: the lowest mapping whose chunks lead from its
		 * start to its end */
		if (!have_main && main_tries < 8 && walks_to(c, align16(s->start), s->end, 8)) {
			main_tries++;
			if (!walks_to(c, align16(s->start), s->end, SIZE_MAX))
				continue;
			struct pg_malloc_heap *h = NULL;
			pg_error *err = new_heap(m, &h);
			if (err)
				return err;
			h->kind = PG_HEAP_MAIN;
			h->start = s->start;
			h->end = s->end;
			if ((err = walk_heap(c, h, align16(s->start), s->end, 0)))
				return err;
			have_main = true;
		}
	}
	return NULL;
}

/* ---- the API ---------------------------------------------------------- */

static int heap_cmp(const void *a, const void *b)
{
	const struct pg_malloc_heap *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

/* Heaps in address order, and their chunks with them. */
static pg_error *sort_heaps(struct pg_malloc *m)
{
	bool sorted = true;
	for (size_t i = 1; i < m->nheaps; i++)
		sorted &= m->heaps[i - 1].start < m->heaps[i].start;
	if (sorted)
		return NULL;
	qsort(m->heaps, m->nheaps, sizeof(*m->heaps), heap_cmp);
	uint64_t *a = pg_reallocarray(NULL, m->nchunks ? m->nchunks : 1, 8);
	uint64_t *s = pg_reallocarray(NULL, m->nchunks ? m->nchunks : 1, 8);
	if (!a || !s) {
		free(a);
		free(s);
		return PG_ENOMEM;
	}
	size_t k = 0;
	for (size_t i = 0; i < m->nheaps; i++) {
		struct pg_malloc_heap *h = &m->heaps[i];
		if (h->n) {
			memcpy(a + k, m->chunk + h->first, h->n * 8);
			memcpy(s + k, m->csize + h->first, h->n * 8);
		}
		h->first = k;
		k += h->n;
	}
	free(m->chunk);
	free(m->csize);
	m->chunk = a;
	m->csize = s;
	m->capchunks = m->nchunks ? m->nchunks : 1;
	return NULL;
}

/* Heaps that overlap an earlier one (a damaged arena list) are dropped. */
static void drop_overlaps(struct ctx *c)
{
	struct pg_malloc *m = c->m;
	size_t k = 0;
	for (size_t i = 0; i < m->nheaps; i++) {
		if (k && m->heaps[i].start < m->heaps[k - 1].end) {
			pg_warn_partial(c->w, "malloc: heap at 0x%" PRIx64 " overlaps the one at 0x%" PRIx64 ": left out",
					m->heaps[i].start, m->heaps[k - 1].start);
			continue;
		}
		m->heaps[k++] = m->heaps[i];
	}
	m->nheaps = k;
}

pg_error *pg_malloc_find(struct pg_core *core, const struct pg_log *log, struct pg_warnings *w,
			 const struct pg_anon_seg *segs, size_t nsegs, struct pg_malloc_prep *prep, struct pg_malloc *out)
{
	memset(out, 0, sizeof(*out));
	out->n_mmaps = -1;
	struct ctx c = { .core = core, .log = log, .w = w, .m = out };
	pg_reader_init(&c.r, &core->mem);
	struct pg_malloc_prep *mine = NULL;
	if (!prep) {
		pg_error *err = pg_malloc_prepare(core, log, &mine);
		if (err) {
			pg_malloc_prep_free(mine);
			return err;
		}
		prep = mine;
	}
	struct find_libc f = { prep->mod, prep->name };
	if (!f.mod) {
		pg_logf(log, "malloc: no libc module in the core");
		out->source = "chunk walk";
		out->why = pg_asprintf("no libc module in the core");
	} else {
		out->found = true;
		out->libc = pg_strdup(f.name);
		c.dwarf = load_dwarf(&c, prep, &out->why);
		out->source = c.dwarf ? "dwarf" : "chunk walk";
		pg_logf(log, "malloc: libc %s, %s%s%s", f.name, c.dwarf ? "DWARF " : "no DWARF: ",
			c.dwarf ? out->debugfile : out->why ? out->why : "", "");
	}
	pg_error *err = c.dwarf ? dwarf_heaps(&c, segs, nsegs) : walk_heaps_from_mappings(&c, segs, nsegs);
	if (err && err->kind == PG_ERR_LIMIT) {
		pg_warn_partial(w, "malloc: %s: the rest is not walked", err->message);
		pg_error_destroy(err);
		err = NULL;
	}
	if (!err)
		err = sort_heaps(out);
	if (!err) {
		drop_overlaps(&c);
		/* dropped heaps leave their chunks behind: rebuild the list */
		size_t k = 0;
		for (size_t i = 0; i < out->nheaps; i++) {
			struct pg_malloc_heap *h = &out->heaps[i];
			if (h->n) {
				memmove(out->chunk + k, out->chunk + h->first, h->n * 8);
				memmove(out->csize + k, out->csize + h->first, h->n * 8);
			}
			h->first = k;
			k += h->n;
		}
		out->nchunks = k;
	}
	if (!err && c.dwarf)
		mark_fastbins(&c);
	pg_malloc_prep_free(mine);
	return err;
}

bool pg_malloc_mmapped_at(struct pg_reader *r, uint64_t addr, uint64_t limit, uint64_t *size)
{
	uint64_t h[2];
	const uint8_t *p = pg_ptr(r, addr, 16);
	if (p)
		memcpy(h, p, 16);
	else if (!pg_try_read(r, addr, h, 16))
		return false;
	uint64_t sz = h[1] & ~(uint64_t)7;
	if ((h[1] & 7) != IS_MMAPPED || h[0] != 0 || sz < PAGE || (sz & (PAGE - 1)) || addr + sz < addr ||
	    addr + sz > limit)
		return false;
	*size = sz;
	return true;
}

pg_error *pg_malloc_add_mmapped(struct pg_malloc *m, const uint64_t *addr, const uint64_t *size, size_t n)
{
	/* a merge of two address-ordered lists; mmapped chunks lie outside
	 * every heap, so each heap's range moves by the new chunks below it */
	size_t total = m->nchunks + n;
	uint64_t *a = pg_reallocarray(NULL, total ? total : 1, 8), *s = pg_reallocarray(NULL, total ? total : 1, 8);
	if (!a || !s) {
		free(a);
		free(s);
		return PG_ENOMEM;
	}
	size_t j = 0;
	for (size_t hi = 0; hi < m->nheaps; hi++) {
		while (j < n && addr[j] < m->heaps[hi].start)
			j++;
		m->heaps[hi].first += j;
	}
	size_t i = 0, k = 0;
	j = 0;
	while (i < m->nchunks || j < n) {
		if (j >= n || (i < m->nchunks && PG_CH_ADDR(m->chunk[i]) < addr[j])) {
			a[k] = m->chunk[i];
			s[k++] = m->csize[i++];
		} else {
			a[k] = addr[j] | PG_CH_INUSE;
			s[k++] = size[j++];
		}
	}
	free(m->chunk);
	free(m->csize);
	m->chunk = a;
	m->csize = s;
	m->nchunks = m->capchunks = total;
	m->nmmapped += n;
	return NULL;
}

size_t pg_malloc_chunk_of(const struct pg_malloc *m, uint64_t addr)
{
	size_t lo = 0, hi = m->nchunks;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (PG_CH_ADDR(m->chunk[mid]) <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return SIZE_MAX;
	size_t i = lo - 1;
	return addr - PG_CH_ADDR(m->chunk[i]) < m->csize[i] ? i : SIZE_MAX;
}

void pg_malloc_free(struct pg_malloc *m)
{
	if (!m)
		return;
	free(m->heaps);
	free(m->chunk);
	free(m->csize);
	free(m->libc);
	free(m->debugfile);
	free(m->why);
	memset(m, 0, sizeof(*m));
}
