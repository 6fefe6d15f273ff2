/* glibc malloc as the core shows it: the main heap (brk), the thread
 * arenas' heaps (64 MiB-aligned heap_info mappings) and mmapped chunks,
 * each heap walked chunk by chunk (size | flags; the next chunk's
 * PREV_INUSE says whether a chunk is in use).
 *
 * Where the numbers come from: with libc's DWARF (libc6-dbg's build-id
 * file, its build-id checked against the core's libc), main_arena, mp_ and
 * the arena list give every heap, the top chunks, the fastbins; tcache's
 * free chunks are told by tcache_key in their second word.  Without it the
 * heaps are found from the mappings (the chunk headers are
 * self-describing: a walk must end exactly at the heap's end), and
 * fastbin/tcache chunks count as in use.
 *
 * Every size read is checked against its heap's end: a bad header stops
 * that heap's walk (a warning, the result partial, the rest of the heap
 * left unwalked), never a loop.  Nothing here knows Python. */
#ifndef PG_LIBC_MALLOC_H
#define PG_LIBC_MALLOC_H

#include "../elf/core.h"

enum pg_heap_kind { PG_HEAP_MAIN, PG_HEAP_THREAD };

/* A chunk's state, in the low bits of its address (chunks are 16-aligned). */
enum pg_chunk_state {
	PG_CH_INUSE = 0,
	PG_CH_FREE = 1,     /* in a bin: the next chunk's PREV_INUSE is clear */
	PG_CH_CACHED = 2,   /* in a fastbin or the tcache: free, though it looks in use */
	PG_CH_TOP = 3,      /* the arena's top chunk */
};
#define PG_CH_STATE(a) ((unsigned)((a) & 3))
#define PG_CH_ADDR(a) ((a) & ~(uint64_t)15)

struct pg_malloc_heap {
	uint64_t start, end;     /* what this heap owns: [start, end) */
	uint64_t arena;          /* its malloc_state, 0 when unknown */
	uint8_t kind;            /* enum pg_heap_kind */
	uint64_t header;         /* bytes before the first chunk (heap_info, malloc_state, alignment) */
	uint64_t tail;           /* bytes after the last chunk: fenceposts, the rw part past
				  * heap_info.size, the brk page's rest */
	uint64_t unwalked;       /* bytes after a bad header (the walk stopped there) */
	size_t first, n;         /* its chunks: chunk[first .. first + n) */
};

struct pg_malloc {
	bool found;              /* a libc module was found */
	const char *source;      /* "dwarf" or "chunk walk" */
	char *libc;              /* libc's module name */
	char *debugfile;         /* libc's DWARF, when used */
	char *why;               /* why not "dwarf", or NULL */
	struct pg_malloc_heap *heaps;   /* sorted by start */
	size_t nheaps;
	/* every chunk of every heap, and the mmapped chunks, in address order
	 * (heaps do not overlap): address | state, and size */
	uint64_t *chunk;
	uint64_t *csize;
	size_t nchunks, capchunks;
	size_t nmmapped;         /* of them, mmapped chunks (added by pg_malloc_add_mmapped) */
	bool cached_known;       /* fastbin and tcache chunks were told apart from in-use ones */
	int64_t n_mmaps;         /* mp_.n_mmaps, -1 unknown */
	uint64_t mmapped_mem;    /* mp_.mmapped_mem (dwarf) */
};

/* Finds libc's malloc state and walks its heaps.  `segs`: the core's
 * anonymous writable segments [start, end) in address order (where heaps
 * can be), used without DWARF.  A core without libc is fine (found
 * false). */
struct pg_anon_seg {
	uint64_t start, end;
};
/* Starts reading libc's DWARF in a thread of its own (inflating its type
 * sections costs about what a walk of a small heap does), to be waited for
 * by pg_malloc_find.  *ret is set even when there is no libc. */
struct pg_malloc_prep;
pg_error *pg_malloc_prepare(struct pg_core *core, const struct pg_log *log, struct pg_malloc_prep **ret);
void pg_malloc_prep_free(struct pg_malloc_prep *p);
/* prep: from pg_malloc_prepare, or NULL (then read now). */
pg_error *pg_malloc_find(struct pg_core *core, const struct pg_log *log, struct pg_warnings *w,
			 const struct pg_anon_seg *segs, size_t nsegs, struct pg_malloc_prep *prep, struct pg_malloc *out);
void pg_malloc_free(struct pg_malloc *m);

/* Whether an mmapped chunk starts at addr (a page start inside an
 * anonymous mapping that ends at limit): its header has IS_MMAPPED, a
 * page-multiple size that fits.  *size: the chunk's bytes from addr. */
bool pg_malloc_mmapped_at(struct pg_reader *r, uint64_t addr, uint64_t limit, uint64_t *size);
/* Adds mmapped chunks found by the caller (kept in address order). */
pg_error *pg_malloc_add_mmapped(struct pg_malloc *m, const uint64_t *addr, const uint64_t *size, size_t n);

/* The chunk holding addr (its header or payload), or SIZE_MAX. */
size_t pg_malloc_chunk_of(const struct pg_malloc *m, uint64_t addr);

#endif
