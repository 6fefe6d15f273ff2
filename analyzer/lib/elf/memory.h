/* The process's memory as a core shows it: layered segments (the mapped ELF
 * files' bytes underneath, the core's own bytes on top up to p_filesz, an
 * explicit hole from p_filesz to p_memsz, and what a truncated core lacks),
 * with where each byte came from.  Reads cross segments.
 *
 * A pg_mem is immutable once built; reading goes through a pg_reader, a
 * cursor that remembers the last segment hit: one per thread or stage, so
 * that readers never share mutable state. */
#ifndef PG_MEMORY_H
#define PG_MEMORY_H

#include <string.h>

#include "../base/error.h"

enum pg_source {
	PG_SRC_CORE = 1,  /* bytes from the core's PT_LOAD (p_filesz part) */
	PG_SRC_FILE,      /* bytes from a mapped ELF file on disk */
	PG_SRC_HOLE,      /* mapped in the process, but no bytes anywhere */
	PG_SRC_TRUNC,     /* the core says it holds these bytes but the file ends first */
};
const char *pg_source_name(enum pg_source s);

struct pg_segment {
	uint64_t start, end;  /* [start, end) */
	const uint8_t *data;  /* bytes for start, or NULL for HOLE/TRUNC */
	uint8_t source;
};

struct pg_mem {
	struct pg_segment *segs;  /* sorted, non-overlapping; at least one (maybe empty) */
	size_t n;
};

/* An interval a layer offers, for building: where two of a layer overlap,
 * the earlier-starting (or higher-prio) one keeps the bytes; between the
 * layers, the higher prio wins. */
struct pg_mem_piece {
	uint64_t start, end;
	const uint8_t *data;
	uint8_t source;
	uint8_t prio;
};
/* Builds m from the core's pieces over the files' pieces (both arrays are
 * sorted and trimmed in place). */
pg_error *pg_mem_build(struct pg_mem *m, struct pg_mem_piece *core, size_t ncore,
		       struct pg_mem_piece *files, size_t nfiles);
void pg_mem_free(struct pg_mem *m);

/* Bytes of the process's memory that can be read (core or mapped files). */
uint64_t pg_mem_readable(const struct pg_mem *m);

struct pg_reader {
	const struct pg_mem *m;
	size_t last;   /* index of the last segment hit */
};
static inline void pg_reader_init(struct pg_reader *r, const struct pg_mem *m)
{
	r->m = m;
	r->last = 0;
}

/* The segment holding addr, or NULL. */
const struct pg_segment *pg_mem_find(struct pg_reader *r, uint64_t addr);

/* A pointer to len readable bytes at addr when they lie in one segment,
 * else NULL (then use pg_read, which also crosses segments). */
static inline const uint8_t *pg_ptr(struct pg_reader *r, uint64_t addr, size_t len)
{
	const struct pg_segment *s = &r->m->segs[r->last];
	if (!(addr >= s->start && addr < s->end)) {
		s = pg_mem_find(r, addr);
		if (!s)
			return NULL;
	}
	if (!s->data || len > s->end - addr)
		return NULL;
	return s->data + (addr - s->start);
}

/* Reads len bytes at addr, across segments; fails with PG_ERR_FAULT naming
 * why (unmapped, not in the core, core truncated). */
pg_error *pg_read(struct pg_reader *r, uint64_t addr, void *buf, size_t len);
/* The same, when only whether it worked matters: no message is made (a
 * damaged core can make a walk try millions of reads that fail). */
bool pg_try_read(struct pg_reader *r, uint64_t addr, void *buf, size_t len);
/* The same from the core's own bytes only (no file underneath): what the
 * process had in memory, as the core recorded it. */
bool pg_try_read_core(struct pg_reader *r, uint64_t addr, void *buf, size_t len);

static inline pg_error *pg_read_u64(struct pg_reader *r, uint64_t addr, uint64_t *out)
{
	const uint8_t *p = pg_ptr(r, addr, 8);
	if (p) {
		memcpy(out, p, 8);
		return NULL;
	}
	return pg_read(r, addr, out, 8);
}

/* Reads a NUL-terminated string of at most cap-1 bytes; a longer one is cut
 * and *truncated set (when non-NULL). */
pg_error *pg_read_cstr(struct pg_reader *r, uint64_t addr, char *buf, size_t cap, bool *truncated);

#endif
