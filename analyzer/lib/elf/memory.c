#include "memory.h"

#include <inttypes.h>
#include <stdlib.h>

#include "../base/alloc.h"

const char *pg_source_name(enum pg_source s)
{
	switch (s) {
	case PG_SRC_CORE: return "core";
	case PG_SRC_FILE: return "file";
	case PG_SRC_HOLE: return "hole";
	case PG_SRC_TRUNC: return "truncated";
	}
	return "?";
}

const struct pg_segment *pg_mem_find(struct pg_reader *r, uint64_t addr)
{
	const struct pg_mem *m = r->m;
	size_t lo = 0, hi = m->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (m->segs[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	const struct pg_segment *s = &m->segs[lo - 1];
	if (addr >= s->end)
		return NULL;
	r->last = lo - 1;
	return s;
}

static pg_error *seg_fault(const struct pg_segment *s, uint64_t addr)
{
	if (!s)
		return pg_error_fault(addr, "address 0x%" PRIx64 " is not mapped in the process", addr);
	if (s->source == PG_SRC_TRUNC)
		return pg_error_fault(addr, "address 0x%" PRIx64 " lies in the truncated part of the core", addr);
	return pg_error_fault(addr, "address 0x%" PRIx64 " is mapped, but its bytes are neither in the core nor in a mapped file", addr);
}

uint64_t pg_mem_readable(const struct pg_mem *m)
{
	uint64_t n = 0;
	for (size_t i = 0; i < m->n; i++)
		if (m->segs[i].data)
			n += m->segs[i].end - m->segs[i].start;
	return n;
}

/* Copies [addr, addr+len) across segments.  On failure *addr is where it
 * stopped and *bad the segment there (NULL: unmapped); returns 0 when all
 * was read, 1 when the range wraps around, 2 when bytes are missing. */
static int read_span(struct pg_reader *m, uint64_t *addr, void *buf, size_t len, const struct pg_segment **bad)
{
	uint8_t *out = buf;
	uint64_t a = *addr;
	if (a + len < a)
		return 1;
	while (len) {
		const struct pg_segment *s = pg_mem_find(m, a);
		if (!s || !s->data) {
			*addr = a;
			*bad = s;
			return 2;
		}
		uint64_t avail = s->end - a;
		size_t n = avail < len ? (size_t)avail : len;
		memcpy(out, s->data + (a - s->start), n);
		out += n;
		a += n;
		len -= n;
	}
	return 0;
}

bool pg_try_read_core(struct pg_reader *m, uint64_t addr, void *buf, size_t len)
{
	uint8_t *out = buf;
	if (addr + len < addr)
		return false;
	while (len) {
		const struct pg_segment *s = pg_mem_find(m, addr);
		if (!s || !s->data || s->source != PG_SRC_CORE)
			return false;
		uint64_t avail = s->end - addr;
		size_t n = avail < len ? (size_t)avail : len;
		memcpy(out, s->data + (addr - s->start), n);
		out += n;
		addr += n;
		len -= n;
	}
	return true;
}

bool pg_try_read(struct pg_reader *m, uint64_t addr, void *buf, size_t len)
{
	const struct pg_segment *bad;
	return read_span(m, &addr, buf, len, &bad) == 0;
}

pg_error *pg_read(struct pg_reader *m, uint64_t addr, void *buf, size_t len)
{
	const struct pg_segment *bad = NULL;
	uint64_t at = addr;
	switch (read_span(m, &at, buf, len, &bad)) {
	case 0:
		return NULL;
	case 1:
		return pg_error_fault(addr, "read of %zu bytes at 0x%" PRIx64 " wraps around", len, addr);
	default:
		return seg_fault(bad, at);
	}
}

pg_error *pg_read_cstr(struct pg_reader *m, uint64_t addr, char *buf, size_t cap, bool *truncated)
{
	size_t got = 0;
	if (truncated)
		*truncated = false;
	if (cap == 0)
		return NULL;
	while (got + 1 < cap) {
		const struct pg_segment *s = pg_mem_find(m, addr);
		if (!s || !s->data) {
			buf[got] = 0;
			return seg_fault(s, addr);
		}
		const uint8_t *p = s->data + (addr - s->start);
		uint64_t avail = s->end - addr;
		size_t want = cap - 1 - got;
		size_t n = avail < want ? (size_t)avail : want;
		const uint8_t *z = memchr(p, 0, n);
		if (z) {
			memcpy(buf + got, p, (size_t)(z - p));
			buf[got + (size_t)(z - p)] = 0;
			return NULL;
		}
		memcpy(buf + got, p, n);
		got += n;
		addr += n;
	}
	buf[got] = 0;
	if (truncated)
		*truncated = true;
	return NULL;
}

static int ival_cmp(const void *a, const void *b)
{
	const struct pg_mem_piece *x = a, *y = b;
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return (x->prio < y->prio) - (x->prio > y->prio); /* higher prio first */
}

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

/* Sort and trim a list so that no two intervals overlap: where they do, the
 * earlier-starting (or higher-priority) one keeps the bytes. */
static size_t normalise(struct pg_mem_piece *v, size_t n)
{
	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), ival_cmp);
	size_t out = 0;
	uint64_t covered = 0;
	for (size_t i = 0; i < n; i++) {
		struct pg_mem_piece x = v[i];
		if (x.end <= x.start)
			continue;
		if (out && x.start < covered) {
			if (x.end <= covered)
				continue;
			if (x.data)
				x.data += covered - x.start;
			x.start = covered;
		}
		v[out++] = x;
		covered = x.end;
	}
	return out;
}

/* Overlay of two normalised lists: at each address the interval with the
 * highest prio wins.  Produces elementary pieces, then merges contiguous ones. */
static pg_error *overlay(const struct pg_mem_piece *a, size_t na, const struct pg_mem_piece *b, size_t nb, struct pg_mem *m)
{
	size_t np = 2 * (na + nb);
	uint64_t *pts = pg_reallocarray(NULL, np ? np : 1, sizeof(*pts));
	if (!pts)
		return PG_ENOMEM;
	size_t k = 0;
	for (size_t i = 0; i < na; i++) {
		pts[k++] = a[i].start;
		pts[k++] = a[i].end;
	}
	for (size_t i = 0; i < nb; i++) {
		pts[k++] = b[i].start;
		pts[k++] = b[i].end;
	}
	qsort(pts, k, sizeof(*pts), u64_cmp);
	struct pg_segment *segs = pg_reallocarray(NULL, k ? k : 1, sizeof(*segs));
	if (!segs) {
		free(pts);
		return PG_ENOMEM;
	}
	size_t ns = 0, i = 0, j = 0;
	for (size_t p = 0; p + 1 < k; p++) {
		uint64_t lo = pts[p], hi = pts[p + 1];
		if (lo == hi)
			continue;
		while (i < na && a[i].end <= lo)
			i++;
		while (j < nb && b[j].end <= lo)
			j++;
		const struct pg_mem_piece *ca = (i < na && a[i].start <= lo) ? &a[i] : NULL;
		const struct pg_mem_piece *cb = (j < nb && b[j].start <= lo) ? &b[j] : NULL;
		const struct pg_mem_piece *w = ca;
		if (!w || (cb && cb->prio > w->prio))
			w = cb;
		if (!w)
			continue;
		const uint8_t *d = w->data ? w->data + (lo - w->start) : NULL;
		if (ns && segs[ns - 1].end == lo && segs[ns - 1].source == w->source &&
		    ((!d && !segs[ns - 1].data) ||
		     (d && segs[ns - 1].data && segs[ns - 1].data + (lo - segs[ns - 1].start) == d))) {
			segs[ns - 1].end = hi;
			continue;
		}
		segs[ns++] = (struct pg_segment){ .start = lo, .end = hi, .data = d, .source = w->source };
	}
	free(pts);
	m->segs = segs;
	m->n = ns;
	if (!ns) {
		/* keep pg_ptr's fast path safe: one empty segment */
		m->segs[0] = (struct pg_segment){ 0 };
	}
	return NULL;
}


pg_error *pg_mem_build(struct pg_mem *m, struct pg_mem_piece *core, size_t ncore,
		       struct pg_mem_piece *files, size_t nfiles)
{
	ncore = normalise(core, ncore);
	nfiles = normalise(files, nfiles);
	return overlay(core, ncore, files, nfiles, m);
}

void pg_mem_free(struct pg_mem *m)
{
	free(m->segs);
	m->segs = NULL;
	m->n = 0;
}
