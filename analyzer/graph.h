/* The object graph: tracked objects sorted by address (so that reading them
 * walks the core in memory order), their refcounts, and labelled edges to
 * other tracked objects in flat arrays (CSR). */
#ifndef PG_GRAPH_H
#define PG_GRAPH_H

#include "traverse.h"

#define PG_NONE UINT32_MAX

struct pg_label {
	uint8_t kind;
	uint64_t payload;
};

struct pg_chunk {
	/* per bitmap word (64 object starts, 512 bytes of address space) the
	 * index of its first object, side by side so that a lookup touches
	 * one cache line */
	struct {
		uint64_t bits;
		uint64_t base;   /* graph index of the word's first object */
	} w[64];
};

struct pg_graph {
	size_t n;
	uint64_t *addr;      /* sorted */
	uint32_t *type;      /* type index in the heap */
	uint8_t *gen;
	int64_t *refcnt;
	uint64_t *estart;    /* n + 1 */
	uint32_t *eto;            /* edge targets; labels are found again on demand */
	struct pg_bigarr eto_arr; /* their storage */
	size_t nedges;
	/* address -> index: per 32 KiB chunk holding objects, a bitmap of object
	 * starts (8-byte granularity) with running counts: one hash probe, one
	 * bitmap word, a popcount */
	struct pg_u64map chunks;  /* (addr >> 15) + 1 -> chunk number */
	struct pg_chunk *chunk;
	size_t nchunks;
	bool approximate;         /* some edges come from a conservative scan */
	uint64_t approx_objects;
};

pg_error *pg_graph_build(struct pg_heap *h, struct pg_traverse *t, struct pg_graph **ret);
void pg_graph_free(struct pg_graph *g);

/* Index of the tracked object at addr, or PG_NONE. */
uint32_t pg_graph_index(const struct pg_graph *g, uint64_t addr);

/* The labels of the edges from object i to object j (in visit order), found
 * by traversing i again: at most cap of them; returns how many. */
size_t pg_graph_labels(struct pg_heap *h, struct pg_traverse *t, const struct pg_graph *g,
		       uint32_t i, uint32_t j, struct pg_label *out, size_t cap);

/* A label as a user reads it: "__dict__", "[3]", "['key']", ".slot", ... */
void pg_label_format(struct pg_heap *h, const struct pg_label *l, char *buf, size_t cap);

#endif
