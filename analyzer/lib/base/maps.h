/* Small hash maps: u64 -> u32 (addresses to indices) and string -> u32.
 * Open addressing, linear probing, power-of-two capacity. */
#ifndef PG_MAPS_H
#define PG_MAPS_H

#include "alloc.h"

struct pg_u64map {
	uint64_t *keys;   /* 0 = empty (no object lives at address 0) */
	uint32_t *vals;
	size_t cap, n;
};

static inline size_t pg_hash64(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	return (size_t)k;
}

/* Returns true and *val when key is present. */
static inline bool pg_u64map_get(const struct pg_u64map *m, uint64_t key, uint32_t *val)
{
	if (!m->cap)
		return false;
	size_t i = pg_hash64(key) & (m->cap - 1);
	while (m->keys[i]) {
		if (m->keys[i] == key) {
			*val = m->vals[i];
			return true;
		}
		i = (i + 1) & (m->cap - 1);
	}
	return false;
}
pg_error *pg_u64map_put(struct pg_u64map *m, uint64_t key, uint32_t val);
void pg_u64map_free(struct pg_u64map *m);

struct pg_strmap {
	const char **keys;  /* borrowed: the caller keeps them alive */
	uint32_t *tags;     /* a small extra key part (e.g. old-style flag) */
	uint32_t *vals;
	size_t cap, n;
};
bool pg_strmap_get(const struct pg_strmap *m, const char *key, uint32_t tag, uint32_t *val);
pg_error *pg_strmap_put(struct pg_strmap *m, const char *key, uint32_t tag, uint32_t val);
void pg_strmap_free(struct pg_strmap *m);

#endif
