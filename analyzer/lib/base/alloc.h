/* Allocation helpers: checked sizes, huge-page hints, arrays that grow in
 * place. */
#ifndef PG_ALLOC_H
#define PG_ALLOC_H

#include <stddef.h>

#include "error.h"

/* realloc of n * size bytes: NULL on overflow or failure. */
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
 * must not be made (an address-space limit, strict overcommit: asked of the
 * system at each first reservation), it falls back to realloc. */
struct pg_bigarr {
	void *p;
	size_t cap;       /* bytes usable now */
	size_t reserved;  /* bytes of the reservation; 0 when realloc'd */
};
/* Makes room for at least `bytes`; the first call reserves max(bytes, reserve). */
pg_error *pg_bigarr_need(struct pg_bigarr *a, size_t bytes, size_t reserve);
void pg_bigarr_free(struct pg_bigarr *a);

/* Gives the heap's free pages back to the system (glibc's malloc_trim):
 * after a stage frees big tables, so that the next stage's peak is its own.
 * glibc returns big freed blocks to the heap instead of the system once its
 * mmap threshold has grown past them. */
void pg_trim(void);

/* A big temporary table: n * size bytes of their own pages (mmap, zeroed)
 * from 1 MiB on, so that freeing it gives them back at once (glibc keeps
 * freed heap memory once its mmap threshold has grown); below that, calloc.
 * NULL on overflow or failure.  Free with pg_table_free only. */
void *pg_table(size_t n, size_t size);
void pg_table_free(void *p);

char *pg_strdup(const char *s);
char *pg_asprintf(const char *fmt, ...) PG_PRINTF(1, 2);

/* Grow *arr (element size esz) so that it holds at least need elements. */
pg_error *pg_grow(void **arr, size_t *cap, size_t need, size_t esz);

#endif
