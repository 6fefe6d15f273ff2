/* The memory builder: what an interpreter family tells the memory tree
 * (lib/analysis/memory.c) about the process's memory.  The family knows
 * its allocator's regions and which malloc chunks its objects own; the
 * tree knows the core's segments and glibc's heaps.
 *
 * In this order:
 *  1. pg_mb_region() for each region the family knows whole (a pymalloc
 *     arena): its bytes split into parts.  A region inside an in-use malloc
 *     chunk claims that chunk; else it stands in its mapping.
 *  2. claims: the in-use malloc chunk holding an address belongs to a
 *     category (pg_mb_claim), or is split into parts (pg_mb_claim_parts:
 *     an int block's live and free slots).  The first claim wins.
 *  3. pg_mb_chunk() lists the chunks still unclaimed (for a scan of their
 *     headers).
 * The first call of 2 or 3 fixes the chunk list (mmapped chunks are found
 * then, around the regions of 1): regions reported later are refused.
 *
 * Names (kinds, type names) are copied: the caller's may go away. */
#ifndef PG_MEMBUILD_H
#define PG_MEMBUILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

struct pg_memory_builder;

/* A category: the bytes go to node (kind, name) under a node of kind
 * `group` (NULL: under the place itself), and optionally to a leaf
 * (leaf_kind, leaf_name) under that.  UINT32_MAX when out of memory. */
uint32_t pg_mb_category(struct pg_memory_builder *b, const char *group, const char *kind, const char *name,
			const char *leaf_kind, const char *leaf_name);

/* One part of a region or claim. */
struct pg_mb_part {
	uint32_t cat;
	uint64_t bytes;
};

/* A region the family knows whole: [start, end) = the parts (their bytes
 * must add up to end - start); `group` names it in warnings and holds what
 * a chunk around it adds ("overhead"). */
pg_error *pg_mb_region(struct pg_memory_builder *b, uint64_t start, uint64_t end, const char *group,
		       const struct pg_mb_part *parts, size_t nparts);

/* The in-use chunk holding addr (its header or payload) belongs to cat:
 * true when it was in use and unclaimed. */
bool pg_mb_claim(struct pg_memory_builder *b, uint64_t addr, uint32_t cat);
/* The in-use chunk holding addr is split into parts; what the parts leave
 * of the chunk goes to `rest`. */
bool pg_mb_claim_parts(struct pg_memory_builder *b, uint64_t addr, const struct pg_mb_part *parts, size_t nparts,
		       uint32_t rest);

/* The chunks, in address order: how many, and chunk i's address and size
 * (true when it is in use and unclaimed). */
size_t pg_mb_nchunks(struct pg_memory_builder *b);
bool pg_mb_chunk(struct pg_memory_builder *b, size_t i, uint64_t *addr, uint64_t *size);
bool pg_mb_claim_chunk(struct pg_memory_builder *b, size_t i, uint32_t cat);
/* Whether addr lies in an in-use chunk (for telling a pointer into malloc
 * from one into a region). */
bool pg_mb_in_chunk(struct pg_memory_builder *b, uint64_t addr);

#endif
