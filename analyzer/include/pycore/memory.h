/* libpycore's memory tree (PG_ANALYZE_MEMORY): every byte of the core's
 * memory, classified.  The root is the core's memory (the sum of its
 * PT_LOAD p_memsz); each node's children add up exactly to it.  Kinds are
 * documented in docs/json-schema.md ("memory"). */
#ifndef PYCORE_MEMORY_H
#define PYCORE_MEMORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pg_memory_node {
	const char *kind;        /* "core", "file", "stack", "malloc", "heap", "pymalloc", ... */
	const char *name;        /* a file's path, "main arena", "32 B", ...; or NULL */
	uint64_t bytes;
	uint64_t start, end;     /* the address range of a node that is one range (a heap, a
				  * thread's stack); 0, 0 otherwise */
	uint32_t parent;         /* UINT32_MAX for the root */
	uint32_t first, n;       /* children: nodes[first .. first + n), largest first */
};

/* The headline's shares: the leaves summed by what they are. */
struct pg_memory_share {
	const char *what;        /* "Python objects", "free int slots", "malloc free", ... */
	uint64_t bytes;
};
#define PG_MEMORY_SHARES 16

struct pg_memory {
	struct pg_memory_node *nodes;   /* nodes[0] is the root */
	size_t nnodes;
	const char *malloc_source;      /* "dwarf", "chunk walk", or NULL (no libc in the core) */
	const char *malloc_why;         /* why not "dwarf", or NULL */
	const char *libc_debugfile;     /* libc's DWARF, when used */
	bool malloc_cached_known;       /* fastbin and tcache chunks counted as free */
	struct pg_memory_share shares[PG_MEMORY_SHARES];  /* largest first */
	size_t nshares;
	uint64_t file_bytes;            /* the "file" node's bytes (non-file memory: root - this) */
	uint64_t unexplained_bytes;     /* every "unexplained" leaf */
	struct pg_memory_private *priv;
};

#endif
