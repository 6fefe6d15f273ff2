/* The core file: libdwfl session (modules, build-ids, debug files), the
 * process facts from the notes, and a memory reader that layers the core's
 * bytes over the mapped ELF files' bytes. */
#ifndef PG_CORE_H
#define PG_CORE_H

#include <elfutils/libdwfl.h>
#include <string.h>

#include "error.h"

enum pg_source {
	PG_SRC_CORE = 1,  /* bytes from the core's PT_LOAD (p_filesz part) */
	PG_SRC_FILE,      /* bytes from a mapped ELF file on disk */
	PG_SRC_HOLE,      /* mapped in the process, but no bytes anywhere */
	PG_SRC_TRUNC,     /* the core says it holds these bytes but the file ends first */
};

struct pg_segment {
	uint64_t start, end;  /* [start, end) */
	const uint8_t *data;  /* bytes for start, or NULL for HOLE/TRUNC */
	uint8_t source;
};

struct pg_mem {
	struct pg_segment *segs;  /* sorted, non-overlapping */
	size_t n;
};

/* Index of the last segment hit, per thread (graph building runs on several
 * threads over one reader). */
extern _Thread_local size_t pg_mem_last;

struct pg_core_options {
	const char *path;
	const char *exe;             /* --exe */
	const char *sysroot;         /* --sysroot */
	const char *debuginfo_path;  /* --debuginfo-path */
};

enum pg_made_by { PG_MADE_UNKNOWN, PG_MADE_KERNEL, PG_MADE_GCORE };

/* A file-backed mapping, from the core's NT_FILE note. */
struct pg_mapping {
	uint64_t start, end;    /* [start, end) */
	uint64_t offset;        /* file offset, in bytes */
	const char *name;       /* the file's path in the process */
};

struct pg_core {
	char *path;
	int fd;
	const uint8_t *map;
	size_t size;
	Elf *elf;
	Dwfl *dwfl;
	Dwfl_Callbacks callbacks;
	char *debuginfo_path;   /* what libdwfl searches (callbacks.debuginfo_path) */
	char *sysroot;
	char *exe;
	struct pg_mem mem;
	/* from the notes */
	int pid;
	int threads;
	int signal;
	char fname[17];
	char psargs[81];
	uint64_t at_entry;
	struct pg_mapping *maps;  /* NT_FILE, in note order */
	size_t nmaps;
	char *map_names;          /* the names' storage */
	enum pg_made_by made_by;
	bool truncated;
	uint64_t expected_size;  /* file size the program headers call for */
	uint64_t missing_bytes;  /* core bytes the file should hold but does not */
};

pg_error *pg_core_open(const struct pg_core_options *opts, struct pg_warnings *w,
		       struct pg_core **ret);
void pg_core_close(struct pg_core *core);

/* Slow path of pg_ptr: finds the segment holding addr. */
const struct pg_segment *pg_mem_find(struct pg_mem *m, uint64_t addr);

/* A pointer to len readable bytes at addr when they lie in one segment,
 * else NULL (then use pg_read, which also crosses segments). */
static inline const uint8_t *pg_ptr(struct pg_mem *m, uint64_t addr, size_t len)
{
	const struct pg_segment *s = pg_mem_last < m->n ? &m->segs[pg_mem_last] : NULL;
	if (!s || !(addr >= s->start && addr < s->end)) {
		s = pg_mem_find(m, addr);
		if (!s)
			return NULL;
	}
	if (!s->data || len > s->end - addr)
		return NULL;
	return s->data + (addr - s->start);
}

/* Reads len bytes at addr, across segments; fails with PG_ERR_FAULT naming
 * why (unmapped, not in the core, core truncated). */
pg_error *pg_read(struct pg_mem *m, uint64_t addr, void *buf, size_t len);
/* The same, when only whether it worked matters: no message is made (a
 * damaged core can make a walk try millions of reads that fail). */
bool pg_try_read(struct pg_mem *m, uint64_t addr, void *buf, size_t len);

static inline pg_error *pg_read_u64(struct pg_mem *m, uint64_t addr, uint64_t *out)
{
	const uint8_t *p = pg_ptr(m, addr, 8);
	if (p) {
		memcpy(out, p, 8);
		return NULL;
	}
	return pg_read(m, addr, out, 8);
}

/* Reads a NUL-terminated string of at most cap-1 bytes; a longer one is cut
 * and *truncated set (when non-NULL). */
pg_error *pg_read_cstr(struct pg_mem *m, uint64_t addr, char *buf, size_t cap, bool *truncated);

const char *pg_source_name(enum pg_source s);

/* Reads len bytes at addr from the core's own bytes only (no file
 * underneath): what the process had in memory, as the core recorded it. */
bool pg_try_read_core(struct pg_mem *m, uint64_t addr, void *buf, size_t len);

/* The GNU build-id the core recorded for the file mapped at offset 0 under
 * `name` (read from the ELF header the core holds for it, never from a
 * file): hex into out (cap >= 81), true when found. */
bool pg_core_recorded_build_id(struct pg_core *core, const char *name, char *out, size_t cap);

/* Bytes of the process's memory that can be read (core or mapped files). */
uint64_t pg_mem_readable(const struct pg_mem *m);

#endif
