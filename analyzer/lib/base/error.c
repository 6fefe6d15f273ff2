#include "error.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <string.h>

pg_error pg_enomem = {
	.kind = PG_ERR_NOMEM, .is_static = true, .message = (char *)"out of memory",
};

int pg_verbose;

static pg_error *vcreate(enum pg_error_kind kind, uint64_t addr, const char *fmt, va_list ap)
{
	pg_error *e = malloc(sizeof(*e));
	if (!e)
		return &pg_enomem;
	if (vasprintf(&e->message, fmt, ap) < 0) {
		free(e);
		return &pg_enomem;
	}
	e->kind = kind;
	e->is_static = false;
	e->addr = addr;
	return e;
}

pg_error *pg_error_create(enum pg_error_kind kind, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	pg_error *e = vcreate(kind, 0, fmt, ap);
	va_end(ap);
	return e;
}

pg_error *pg_error_fault(uint64_t addr, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	pg_error *e = vcreate(PG_ERR_FAULT, addr, fmt, ap);
	va_end(ap);
	return e;
}

pg_error *pg_error_prefix(pg_error *err, const char *fmt, ...)
{
	if (!err || err->is_static)
		return err;
	char *prefix = NULL, *msg = NULL;
	va_list ap;
	va_start(ap, fmt);
	int r = vasprintf(&prefix, fmt, ap);
	va_end(ap);
	if (r < 0)
		return err;
	if (asprintf(&msg, "%s: %s", prefix, err->message) >= 0) {
		free(err->message);
		err->message = msg;
	}
	free(prefix);
	return err;
}

void pg_error_destroy(pg_error *err)
{
	if (!err || err->is_static)
		return;
	free(err->message);
	free(err);
}

/* Warnings may come from several threads while the graph is built. */
static pthread_mutex_t warn_lock = PTHREAD_MUTEX_INITIALIZER;

static void vwarn_locked(struct pg_warnings *w, const char *fmt, va_list ap);

static void vwarn(struct pg_warnings *w, const char *fmt, va_list ap)
{
	pthread_mutex_lock(&warn_lock);
	vwarn_locked(w, fmt, ap);
	pthread_mutex_unlock(&warn_lock);
}

static void vwarn_locked(struct pg_warnings *w, const char *fmt, va_list ap)
{
	if (w->n >= PG_WARNINGS_MAX) {
		w->dropped++;
		return;
	}
	char *m = NULL;
	if (vasprintf(&m, fmt, ap) < 0) {
		w->dropped++;
		return;
	}
	for (size_t i = 0; i < w->n; i++) {
		if (strcmp(w->msgs[i], m) == 0) {
			free(m);
			return;
		}
	}
	if (pg_grow((void **)&w->msgs, &w->cap, w->n + 1, sizeof(char *))) {
		free(m);
		w->dropped++;
		return;
	}
	w->msgs[w->n++] = m;
	if (pg_verbose)
		fprintf(stderr, "pycore-garbage: warning: %s\n", m);
}

void pg_warn(struct pg_warnings *w, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vwarn(w, fmt, ap);
	va_end(ap);
}

void pg_warn_partial(struct pg_warnings *w, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vwarn(w, fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&warn_lock);
	w->partial = true;
	pthread_mutex_unlock(&warn_lock);
}

void pg_warnings_free(struct pg_warnings *w)
{
	for (size_t i = 0; i < w->n; i++)
		free(w->msgs[i]);
	free(w->msgs);
	w->msgs = NULL;
	w->n = w->cap = 0;
}

void pg_log(const char *fmt, ...)
{
	if (!pg_verbose)
		return;
	va_list ap;
	va_start(ap, fmt);
	fputs("pycore-garbage: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

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
 * arrays grow with realloc instead. */
static bool reservations_allowed;
static pthread_once_t reservations_once = PTHREAD_ONCE_INIT;

static void check_reservations(void)
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
	reservations_allowed = ok;
}

static bool reservations_ok(void)
{
	pthread_once(&reservations_once, check_reservations);
	return reservations_allowed;
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
			return &pg_enomem;
		ncap *= 2;
	}
	if (a->reserved) {
		/* outgrown (the bound was a guess): go on with realloc */
		void *q = pg_reallocarray(NULL, ncap, 1);
		if (!q)
			return &pg_enomem;
		memcpy(q, a->p, a->reserved);
		munmap(a->p, a->reserved);
		a->p = q;
		a->cap = ncap;
		a->reserved = 0;
		return NULL;
	}
	void *q = pg_reallocarray(a->p, ncap, 1);
	if (!q)
		return &pg_enomem;
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
			return &pg_enomem;
		ncap *= 2;
	}
	void *p = pg_reallocarray(*arr, ncap, esz);
	if (!p)
		return &pg_enomem;
	*arr = p;
	*cap = ncap;
	return NULL;
}
