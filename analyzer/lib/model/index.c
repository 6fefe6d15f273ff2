#include "index.h"

#include <stdlib.h>
#include <string.h>

pg_error *pg_index_add(struct pg_index *x, uint64_t a, bool *dup)
{
	*dup = false;
	if (a & 7) {
		*dup = true; /* cannot be an object; the walk rejects these */
		return NULL;
	}
	uint64_t key = (a >> 15) + 1;
	uint32_t ci;
	if (!pg_u64map_get(&x->chunks, key, &ci)) {
		pg_error *err;
		ci = (uint32_t)x->nchunks;
		if ((err = pg_grow((void **)&x->chunk, &x->capchunks, x->nchunks + 1, sizeof(*x->chunk))) ||
		    (err = pg_u64map_put(&x->chunks, key, ci)))
			return err;
		memset(&x->chunk[ci], 0, sizeof(x->chunk[ci]));
		x->nchunks++;
	}
	unsigned bit = (unsigned)(a >> 3) & 4095;
	uint64_t mask = 1ULL << (bit & 63);
	if (x->chunk[ci].w[bit >> 6].bits & mask)
		*dup = true; /* a damaged list met twice: count it once */
	x->chunk[ci].w[bit >> 6].bits |= mask;
	return NULL;
}

static int cmp_key(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

pg_error *pg_index_finish(struct pg_index *x)
{
	/* chunks in address order: (key, chunk number) pairs sorted */
	uint64_t *order = pg_reallocarray(NULL, x->nchunks ? x->nchunks : 1, 2 * sizeof(uint64_t));
	if (!order)
		return PG_ENOMEM;
	size_t k = 0;
	for (size_t ci = 0; ci < x->chunks.cap; ci++)
		if (x->chunks.keys[ci]) {
			order[2 * k] = x->chunks.keys[ci];
			order[2 * k + 1] = x->chunks.vals[ci];
			k++;
		}
	qsort(order, k, 2 * sizeof(uint64_t), cmp_key);
	size_t sum = 0;
	for (size_t o = 0; o < k; o++) {
		struct pg_index_chunk *c = &x->chunk[order[2 * o + 1]];
		for (int w = 0; w < 64; w++) {
			c->w[w].base = sum;
			sum += (unsigned)__builtin_popcountll(c->w[w].bits);
		}
	}
	free(order);
	x->n = sum;
	return NULL;
}

void pg_index_free(struct pg_index *x)
{
	free(x->chunk);
	pg_u64map_free(&x->chunks);
	memset(x, 0, sizeof(*x));
}
