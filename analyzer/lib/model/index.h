/* Address -> index of the graph's objects: per 32 KiB chunk of address
 * space holding objects, a bitmap of object starts (8-byte granularity)
 * with running counts.  With the chunks' counts summed in address order, an
 * object's rank in address order is its index: one hash probe, one bitmap
 * word, a popcount.  Filling tables by scattering each object straight to
 * its rank needs no sort. */
#ifndef PG_INDEX_H
#define PG_INDEX_H

#include "../base/maps.h"

struct pg_index_chunk {
	/* per bitmap word (64 object starts, 512 bytes of address space) the
	 * index of its first object, side by side so that a lookup touches
	 * one cache line */
	struct {
		uint64_t bits;
		uint64_t base;
	} w[64];
};

struct pg_index {
	struct pg_u64map chunks;   /* (addr >> 15) + 1 -> chunk number */
	struct pg_index_chunk *chunk;
	size_t nchunks, capchunks;
	size_t n;                  /* objects, once finished */
};

#define PG_INDEX_NONE UINT32_MAX

/* Marks an object start; *dup is set when addr was marked before, and for
 * a misaligned addr (which cannot be an object: it is not marked). */
pg_error *pg_index_add(struct pg_index *x, uint64_t addr, bool *dup);
/* Computes the ranks: afterwards pg_index_find works, x->n is the count. */
pg_error *pg_index_finish(struct pg_index *x);
static inline uint32_t pg_index_find(const struct pg_index *x, uint64_t addr)
{
	uint32_t ci;
	if ((addr & 7) || !pg_u64map_get(&x->chunks, (addr >> 15) + 1, &ci))
		return PG_INDEX_NONE;
	const struct pg_index_chunk *c = &x->chunk[ci];
	unsigned bit = (unsigned)(addr >> 3) & 4095, w = bit >> 6;
	uint64_t word = c->w[w].bits, mask = 1ULL << (bit & 63);
	if (!(word & mask))
		return PG_INDEX_NONE;
	return (uint32_t)c->w[w].base + (uint32_t)__builtin_popcountll(word & (mask - 1));
}
void pg_index_free(struct pg_index *x);

#endif
