#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "../lib/base/text.h"

const char *pg_made_by_name(enum pg_made_by m)
{
	switch (m) {
	case PG_MADE_KERNEL: return "kernel";
	case PG_MADE_GCORE: return "gcore";
	default: return "unknown";
	}
}

static int row_cmp(const void *a, const void *b, void *rows)
{
	const struct pg_row *x = &((const struct pg_row *)rows)[*(const uint32_t *)a];
	const struct pg_row *y = &((const struct pg_row *)rows)[*(const uint32_t *)b];
	if (x->bytes != y->bytes)
		return x->bytes > y->bytes ? -1 : 1;
	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	int c = strcmp(x->name, y->name);
	return c ? c : (int)x->oldstyle - (int)y->oldstyle;
}

uint32_t *pg_rows_sorted(const struct pg_model *m)
{
	uint32_t *idx = malloc((m->nrows ? m->nrows : 1) * sizeof(*idx));
	if (!idx)
		return NULL;
	for (size_t i = 0; i < m->nrows; i++)
		idx[i] = (uint32_t)i;
	qsort_r(idx, m->nrows, sizeof(*idx), row_cmp, m->rows);
	return idx;
}

bool pg_pick_unreachable(const struct pg_collect *c, uint32_t i)
{
	return c->state[i] & PG_S_UNREACHABLE;
}

bool pg_pick_uncollectable(const struct pg_collect *c, uint32_t i)
{
	return pg_is_uncollectable(c, i);
}

bool pg_pick_finalizer(const struct pg_collect *c, uint32_t i)
{
	return pg_is_new_garbage(c, i);
}

bool pg_pick_deferred(const struct pg_collect *c, uint32_t i)
{
	return (c->state[i] & PG_S_UNREACHABLE) && pg_is_deferred(c, i);
}

bool pg_pick_freed(const struct pg_collect *c, uint32_t i)
{
	return (c->state[i] & PG_S_UNREACHABLE) && !pg_survives(c, i);
}

static int rowsum_cmp(const void *a, const void *b)
{
	const struct pg_rowsum *x = a, *y = b;
	if (x->bytes != y->bytes)
		return x->bytes > y->bytes ? -1 : 1;
	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return (x->row > y->row) - (x->row < y->row);
}

struct pg_rowsum *pg_summarise(const struct pg_model *m, const struct pg_collect *c,
			       bool (*pick)(const struct pg_collect *, uint32_t), size_t *nrows_out)
{
	*nrows_out = 0;
	size_t cap = m->nrows;
	struct pg_rowsum *rs = calloc(cap + 1, sizeof(*rs));
	if (!rs)
		return NULL;
	for (uint32_t i = 0; i < m->n; i++) {
		if (!pick(c, i))
			continue;
		uint32_t row = m->row[i];
		if (row >= cap)
			continue;
		rs[row].row = row;
		rs[row].count++;
		rs[row].bytes += pg_model_size(m, i);
	}
	size_t k = 0;
	for (size_t r = 0; r < cap; r++)
		if (rs[r].count)
			rs[k++] = rs[r];
	qsort(rs, k, sizeof(*rs), rowsum_cmp);
	*nrows_out = k;
	return rs;
}

const char *pg_state_text(const struct pg_collect *c, uint32_t i)
{
	if (i == PG_NONE)
		return "untracked: not in the gc lists";
	if (!c)
		return "not computed";
	if (c->state[i] & PG_S_REACHABLE)
		return "reachable";
	if (pg_is_new_garbage(c, i))
		return "unreachable, uncollectable: has a finalizer, gc.garbage would gain it";
	if (pg_is_uncollectable(c, i))
		return "unreachable, uncollectable: reached from a finalizer";
	if (pg_is_deferred(c, i))
		return "unreachable, survives a full collection (reached only from finalizer objects it frees); the next one frees it";
	return "unreachable, freed by a full collection";
}

/* A string from the core (or made of such) for JSON: UTF-8, invalid bytes
 * as U+FFFD; null for none */
json_t *pg_json_str(const char *s)
{
	char *u = s ? pg_utf8_dup(s) : NULL;
	json_t *j = u ? json_string(u) : NULL;
	free(u);
	return j ? j : json_null();
}

json_t *pg_json_addr(uint64_t addr)
{
	char buf[24];
	snprintf(buf, sizeof(buf), "0x%" PRIx64, addr);
	return json_string(buf);
}

/* A Graphviz string (UTF-8, Graphviz's default charset) of text already
 * escaped for people (text.h): quotes and backslashes escaped, a line
 * break as \n. */
void pg_dot_str(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		if (*s == '\n') {
			fputs("\\n", out);
			continue;
		}
		if (*s == '"' || *s == '\\')
			fputc('\\', out);
		fputc(*s, out);
	}
	fputc('"', out);
}
