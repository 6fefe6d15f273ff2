/* How a core reaches the analyzer: a regular file as it is, or (compressed
 * with zstd, lz4, xz, gzip or bzip2, recognised by its magic bytes, never by
 * its name; or read from a pipe, which cannot be mapped) decoded by the
 * format's own library, in fixed-size buffers, into an unlinked temporary
 * file under $TMPDIR (default /tmp) whose zero pages are left as holes. */
#ifndef PG_DECOMPRESS_H
#define PG_DECOMPRESS_H

#include <stdbool.h>
#include <stdint.h>

#include "../base/error.h"

/* At most this many decoded bytes (a decompression bomb stops here with an
 * error); the environment variable PYCORE_MAX_DECODED lowers or raises it. */
#define PG_DECODED_MAX ((uint64_t)1 << 40)

#define PG_INPUT_WHY 160
struct pg_input {
	int fd;                  /* what to map: the input's own fd, or the temporary file */
	const char *compression; /* "zstd", "lz4", "xz", "gzip", "bzip2"; NULL when stored as is */
	bool temporary;          /* fd is an unlinked temporary file (decoded, or copied from a pipe) */
	bool cut;                /* the compressed stream ends early or is corrupt: fd holds what came out before */
	uint64_t in_bytes;       /* bytes read from the input */
	uint64_t out_bytes;      /* bytes in the temporary file */
	char why[PG_INPUT_WHY];  /* when cut: why ("the stream ends there", "corrupt: ...") */
};

/* Takes fd (a regular file, a pipe, a socket...; it is closed when another
 * fd is returned, and on error).  name is what messages call the input.  A
 * cut stream is a partial warning in w (and ret->cut), not an error: the
 * core is what was decoded.  Errors (PG_ERR_INPUT, one line): unreadable
 * input, no room in $TMPDIR (how much was written), more than the decoded
 * limit, a stream that is neither an ELF file nor a compressed one. */
pg_error *pg_input_open(int fd, const char *name, const struct pg_log *log, struct pg_warnings *w,
			struct pg_input *ret);

#endif
