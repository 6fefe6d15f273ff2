#include <stdlib.h>
#include <string.h>

#include "report.h"

const char *pg_made_by_name(enum pg_made_by m)
{
	switch (m) {
	case PG_MADE_KERNEL: return "kernel";
	case PG_MADE_GCORE: return "gcore";
	default: return "unknown";
	}
}

static const struct pg_heap *g_sort_heap;

static int row_cmp(const void *a, const void *b)
{
	const struct pg_row *x = &g_sort_heap->rows[*(const uint32_t *)a];
	const struct pg_row *y = &g_sort_heap->rows[*(const uint32_t *)b];
	if (x->bytes != y->bytes)
		return x->bytes > y->bytes ? -1 : 1;
	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	int c = strcmp(x->name, y->name);
	return c ? c : (int)x->oldstyle - (int)y->oldstyle;
}

uint32_t *pg_rows_sorted(const struct pg_heap *h)
{
	uint32_t *idx = malloc((h->nrows ? h->nrows : 1) * sizeof(*idx));
	if (!idx)
		return NULL;
	for (size_t i = 0; i < h->nrows; i++)
		idx[i] = (uint32_t)i;
	g_sort_heap = h;
	qsort(idx, h->nrows, sizeof(*idx), row_cmp);
	g_sort_heap = NULL;
	return idx;
}
