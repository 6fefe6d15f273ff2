/* The core file: libdwfl session (modules, build-ids, debug files), the
 * process facts from the notes, and a memory reader that layers the core's
 * bytes over the mapped ELF files' bytes. */
#ifndef PG_CORE_H
#define PG_CORE_H

#include <elfutils/libdwfl.h>
#include <string.h>

#include "../base/error.h"
#include "decompress.h"
#include "memory.h"
#include "pycore/pycore.h"

struct pg_core_options {
	const char *path;            /* "-": standard input */
	const char *exe;             /* --exe */
	const char *sysroot;         /* --sysroot */
	const char *debuginfo_path;  /* --debuginfo-path */
};

/* A file-backed mapping, from the core's NT_FILE note. */
struct pg_mapping {
	uint64_t start, end;    /* [start, end) */
	uint64_t offset;        /* file offset, in bytes */
	const char *name;       /* the file's path in the process */
};

struct pg_core {
	char *path;             /* "<stdin>" for "-" */
	int fd;
	const char *compression;  /* "zstd", "lz4", "xz", "gzip", "bzip2", or NULL (decompress.h) */
	bool decoded;           /* fd is a temporary file: decoded, or copied from a pipe */
	bool decoded_cut;       /* the compressed stream ended early or was corrupt */
	uint64_t compressed_bytes;
	char decoded_why[PG_INPUT_WHY];  /* why it was cut */
	const uint8_t *map;
	size_t size;
	Elf *elf;
	Dwfl *dwfl;
	Dwfl_Callbacks callbacks;
	char *debuginfo_path;   /* what libdwfl searches (callbacks.debuginfo_path) */
	char *sysroot;
	char *exe;
	struct pg_mem mem;
	const struct pg_log *log;
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
	uint64_t *thread_sp;     /* each thread's rsp (NT_PRSTATUS), in note order */
	int *thread_tid;         /* its LWP id */
	size_t nthread_sp;
};

/* Opens the core: libdwfl's modules, the notes, the memory.  Log lines go
 * to log (kept: it must outlive the core). */
pg_error *pg_core_open(const struct pg_core_options *opts, const struct pg_log *log, struct pg_warnings *w,
		       struct pg_core **ret);
void pg_core_close(struct pg_core *core);

/* The GNU build-id the core recorded for the file mapped at offset 0 under
 * `name` (read from the ELF header the core holds for it, never from a
 * file): hex into out (cap >= 81), true when found. */
bool pg_core_recorded_build_id(struct pg_core *core, const char *name, char *out, size_t cap);

#endif
