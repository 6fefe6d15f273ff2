#include "maps.h"

#include <stdlib.h>
#include <string.h>

static pg_error *u64_rehash(struct pg_u64map *m, size_t ncap)
{
	uint64_t *keys = calloc(ncap, sizeof(*keys));
	uint32_t *vals = calloc(ncap, sizeof(*vals));
	if (!keys || !vals) {
		free(keys);
		free(vals);
		return PG_ENOMEM;
	}
	for (size_t i = 0; i < m->cap; i++) {
		if (!m->keys[i])
			continue;
		size_t j = pg_hash64(m->keys[i]) & (ncap - 1);
		while (keys[j])
			j = (j + 1) & (ncap - 1);
		keys[j] = m->keys[i];
		vals[j] = m->vals[i];
	}
	free(m->keys);
	free(m->vals);
	m->keys = keys;
	m->vals = vals;
	m->cap = ncap;
	return NULL;
}

pg_error *pg_u64map_put(struct pg_u64map *m, uint64_t key, uint32_t val)
{
	if ((m->n + 1) * 2 > m->cap) {
		pg_error *err = u64_rehash(m, m->cap ? m->cap * 2 : 64);
		if (err)
			return err;
	}
	size_t i = pg_hash64(key) & (m->cap - 1);
	while (m->keys[i] && m->keys[i] != key)
		i = (i + 1) & (m->cap - 1);
	if (!m->keys[i])
		m->n++;
	m->keys[i] = key;
	m->vals[i] = val;
	return NULL;
}

void pg_u64map_free(struct pg_u64map *m)
{
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof(*m));
}

static size_t str_hash(const char *s, uint32_t tag)
{
	uint64_t h = 1469598103934665603ULL ^ tag;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return (size_t)h;
}

bool pg_strmap_get(const struct pg_strmap *m, const char *key, uint32_t tag, uint32_t *val)
{
	if (!m->cap)
		return false;
	size_t i = str_hash(key, tag) & (m->cap - 1);
	while (m->keys[i]) {
		if (m->tags[i] == tag && strcmp(m->keys[i], key) == 0) {
			*val = m->vals[i];
			return true;
		}
		i = (i + 1) & (m->cap - 1);
	}
	return false;
}

pg_error *pg_strmap_put(struct pg_strmap *m, const char *key, uint32_t tag, uint32_t val)
{
	if ((m->n + 1) * 2 > m->cap) {
		size_t ncap = m->cap ? m->cap * 2 : 64;
		const char **keys = calloc(ncap, sizeof(*keys));
		uint32_t *tags = calloc(ncap, sizeof(*tags));
		uint32_t *vals = calloc(ncap, sizeof(*vals));
		if (!keys || !tags || !vals) {
			free(keys);
			free(tags);
			free(vals);
			return PG_ENOMEM;
		}
		for (size_t i = 0; i < m->cap; i++) {
			if (!m->keys[i])
				continue;
			size_t j = str_hash(m->keys[i], m->tags[i]) & (ncap - 1);
			while (keys[j])
				j = (j + 1) & (ncap - 1);
			keys[j] = m->keys[i];
			tags[j] = m->tags[i];
			vals[j] = m->vals[i];
		}
		free(m->keys);
		free(m->tags);
		free(m->vals);
		m->keys = keys;
		m->tags = tags;
		m->vals = vals;
		m->cap = ncap;
	}
	size_t i = str_hash(key, tag) & (m->cap - 1);
	while (m->keys[i] && !(m->tags[i] == tag && strcmp(m->keys[i], key) == 0))
		i = (i + 1) & (m->cap - 1);
	if (!m->keys[i])
		m->n++;
	m->keys[i] = key;
	m->tags[i] = tag;
	m->vals[i] = val;
	return NULL;
}

void pg_strmap_free(struct pg_strmap *m)
{
	free(m->keys);
	free(m->tags);
	free(m->vals);
	memset(m, 0, sizeof(*m));
}
