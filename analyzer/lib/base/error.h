/* One error type for the whole analyzer.
 *
 * Every fallible function returns `pg_error *`: NULL on success, else an error
 * that the caller either handles (pg_error_destroy) or passes up.  Results are
 * handed out through trailing pointer arguments.  Out-of-memory is a static
 * sentinel that needs no allocation; destroying it is a no-op.
 *
 * Separately, a warnings list records what was skipped or guessed on the way
 * (the analysis goes on): see struct pg_warnings.
 */
#ifndef PG_ERROR_H
#define PG_ERROR_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum pg_error_kind {
	PG_ERR_NOMEM = 1,  /* out of memory */
	PG_ERR_INPUT,      /* the input cannot be analysed (exit 3) */
	PG_ERR_FAULT,      /* a read of core memory failed; addr says where */
	PG_ERR_NOT_FOUND,  /* a symbol, type or field is not there */
	PG_ERR_USAGE,      /* bad command line (exit 2) */
	PG_ERR_IO,         /* reading or writing a file failed */
	PG_ERR_LIMIT,      /* a resource bound was reached */
	PG_ERR_INTERNAL,
};

typedef struct pg_error {
	enum pg_error_kind kind;
	bool is_static;
	uint64_t addr;     /* for PG_ERR_FAULT */
	char *message;
} pg_error;

extern pg_error pg_enomem;

#define PG_PRINTF(a, b) __attribute__((format(printf, a, b)))

pg_error *pg_error_create(enum pg_error_kind kind, const char *fmt, ...) PG_PRINTF(2, 3);
pg_error *pg_error_fault(uint64_t addr, const char *fmt, ...) PG_PRINTF(2, 3);
/* Prefix an existing error's message ("prefix: old message"); returns err. */
pg_error *pg_error_prefix(pg_error *err, const char *fmt, ...) PG_PRINTF(2, 3);
void pg_error_destroy(pg_error *err);

/* Warnings: what the analysis skipped or guessed.  Bounded: after
 * PG_WARNINGS_MAX distinct messages, further ones are only counted. */
#define PG_WARNINGS_MAX 200
struct pg_warnings {
	char **msgs;
	size_t n, cap;
	size_t dropped;
	bool partial;   /* some result is incomplete because input was unreadable */
};
void pg_warn(struct pg_warnings *w, const char *fmt, ...) PG_PRINTF(2, 3);
/* Like pg_warn, and marks the result partial. */
void pg_warn_partial(struct pg_warnings *w, const char *fmt, ...) PG_PRINTF(2, 3);
void pg_warnings_free(struct pg_warnings *w);

/* Verbose log (stderr) of finder attempts, only with --verbose. */
extern int pg_verbose;
void pg_log(const char *fmt, ...) PG_PRINTF(1, 2);

/* Checked allocation helpers: return NULL on overflow or failure. */
void *pg_reallocarray(void *p, size_t n, size_t size);
/* Asks for transparent huge pages on the pages of [p, p+bytes) (only a
 * hint); pg_reallocarray and pg_calloc do it for arrays of PG_HUGE_MIN bytes
 * or more. */
#define PG_HUGE_MIN ((size_t)4 << 20)
void pg_hint_huge(void *p, size_t bytes);
/* calloc with the same hint. */
void *pg_calloc(size_t n, size_t size);

/* A big array that grows in place: a virtual reservation of `reserve`
 * bytes (2 MiB-aligned, no swap reserved, transparent huge pages asked for)
 * whose pages are only paid for once touched.  Growing it never moves or
 * copies it, and never splits its huge pages (as mremap would); touching
 * it faults once per 2 MiB, not once per 4 KiB (a page fault also costs
 * the TLB that a pointer-chasing walk lives on).  Where the reservation
 * cannot be made (an address-space limit), it falls back to realloc. */
struct pg_bigarr {
	void *p;
	size_t cap;       /* bytes usable now */
	size_t reserved;  /* bytes of the reservation; 0 when realloc'd */
};
/* Makes room for at least `bytes`; the first call reserves max(bytes, reserve). */
pg_error *pg_bigarr_need(struct pg_bigarr *a, size_t bytes, size_t reserve);
void pg_bigarr_free(struct pg_bigarr *a);
char *pg_strdup(const char *s);
char *pg_asprintf(const char *fmt, ...) PG_PRINTF(1, 2);

/* Grow *arr (element size esz) so that it holds at least need elements. */
pg_error *pg_grow(void **arr, size_t *cap, size_t need, size_t esz);

#endif
