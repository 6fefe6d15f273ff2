#include "alloc.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>

void *pg_reallocarray(void *p, size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size)
		return NULL;
	size_t bytes = n * size;
	void *q = realloc(p, bytes ? bytes : 1);
	if (q && bytes >= PG_HUGE_MIN)
		pg_hint_huge(q, bytes);
	return q;
}

void *pg_calloc(size_t n, size_t size)
{
	void *q = calloc(n ? n : 1, size ? size : 1);
	if (q && size && n >= PG_HUGE_MIN / size)
		pg_hint_huge(q, n * size);
	return q;
}

/* Big arrays (the graph's tables, the collection's and the cycle finder's
 * per-object arrays) are touched page after page: with 4 KiB pages every
 * 4 KiB costs a page fault, and random access in them a TLB miss.
 * Transparent huge pages cut both.  Only a hint: where THP is off, nothing
 * changes. */
void pg_hint_huge(void *p, size_t bytes)
{
	/* all the block's pages, not only its 2 MiB-aligned interior: were the
	 * block a mapping of its own (glibc's default for big blocks; main()
	 * keeps them on the heap), a hint on part of it would split it, and
	 * realloc could no longer mremap it */
	const uintptr_t page = 4096;
	uintptr_t lo = (uintptr_t)p & ~(page - 1), hi = ((uintptr_t)p + bytes + page - 1) & ~(page - 1);
	(void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
}

/* Reservations are address space only, unless the address space is
 * limited (ulimit -v) or the kernel commits every mapping (overcommit mode
 * 2): then a reservation would take what later allocations need, and the
 * arrays grow with realloc instead.  Asked each time: a few calls a run. */
static bool reservations_ok(void)
{
	struct rlimit rl;
	bool ok = getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur == RLIM_INFINITY;
	FILE *f = ok ? fopen("/proc/sys/vm/overcommit_memory", "re") : NULL;
	if (f) {
		int mode = 0;
		if (fscanf(f, "%d", &mode) == 1 && mode == 2)
			ok = false;
		fclose(f);
	}
	return ok;
}

pg_error *pg_bigarr_need(struct pg_bigarr *a, size_t bytes, size_t reserve)
{
	const size_t huge = (size_t)2 << 20;
	if (bytes <= a->cap)
		return NULL;
	if (!a->p && reserve >= huge && reserve < SIZE_MAX / 2 - 2 * huge && reservations_ok()) {
		size_t want = (reserve > bytes ? reserve : bytes) + huge - 1;
		want -= want % huge;
		uint8_t *m = mmap(NULL, want + huge, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (m != MAP_FAILED) {
			uint8_t *al = (uint8_t *)(((uintptr_t)m + huge - 1) & ~(uintptr_t)(huge - 1));
			if (al > m)
				munmap(m, (size_t)(al - m));
			if (al + want < m + want + huge)
				munmap(al + want, (size_t)(m + want + huge - (al + want)));
			(void)madvise(al, want, MADV_HUGEPAGE);
			a->p = al;
			a->cap = a->reserved = want;
			return NULL;
		}
	}
	size_t ncap = a->cap ? a->cap : 4096;
	while (ncap < bytes) {
		if (ncap > SIZE_MAX / 2)
			return PG_ENOMEM;
		ncap *= 2;
	}
	if (a->reserved) {
		/* outgrown (the bound was a guess): go on with realloc */
		void *q = pg_reallocarray(NULL, ncap, 1);
		if (!q)
			return PG_ENOMEM;
		memcpy(q, a->p, a->reserved);
		munmap(a->p, a->reserved);
		a->p = q;
		a->cap = ncap;
		a->reserved = 0;
		return NULL;
	}
	void *q = pg_reallocarray(a->p, ncap, 1);
	if (!q)
		return PG_ENOMEM;
	a->p = q;
	a->cap = ncap;
	return NULL;
}

void pg_bigarr_free(struct pg_bigarr *a)
{
	if (a->reserved)
		munmap(a->p, a->reserved);
	else
		free(a->p);
	*a = (struct pg_bigarr){ 0 };
}

char *pg_strdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

char *pg_asprintf(const char *fmt, ...)
{
	char *s = NULL;
	va_list ap;
	va_start(ap, fmt);
	int r = vasprintf(&s, fmt, ap);
	va_end(ap);
	return r < 0 ? NULL : s;
}

pg_error *pg_grow(void **arr, size_t *cap, size_t need, size_t esz)
{
	if (need <= *cap)
		return NULL;
	size_t ncap = *cap ? *cap : 16;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2)
			return PG_ENOMEM;
		ncap *= 2;
	}
	void *p = pg_reallocarray(*arr, ncap, esz);
	if (!p)
		return PG_ENOMEM;
	*arr = p;
	*cap = ncap;
	return NULL;
}

void pg_trim(void)
{
#ifdef __GLIBC__
	malloc_trim(0);
#endif
}

/* A header before the table says how it was made and how big it is. */
#define TABLE_HEAD 64
#define TABLE_MMAP_MIN ((size_t)1 << 20)

void *pg_table(size_t n, size_t size)
{
	if (size && n > (SIZE_MAX - TABLE_HEAD - 4096) / size)
		return NULL;
	size_t bytes = n * size + TABLE_HEAD;
	uint8_t *p;
	if (bytes >= TABLE_MMAP_MIN) {
		p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return NULL;
		if (bytes >= PG_HUGE_MIN)
			pg_hint_huge(p, bytes);
	} else {
		p = calloc(1, bytes);
		if (!p)
			return NULL;
	}
	memcpy(p, &bytes, sizeof(bytes));
	return p + TABLE_HEAD;
}

void pg_table_free(void *q)
{
	if (!q)
		return;
	uint8_t *p = (uint8_t *)q - TABLE_HEAD;
	size_t bytes;
	memcpy(&bytes, p, sizeof(bytes));
	if (bytes >= TABLE_MMAP_MIN)
		munmap(p, bytes);
	else
		free(p);
}
