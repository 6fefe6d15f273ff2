#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

/* 1234567 -> "1,234,567" */
static const char *num(char *buf, size_t cap, uint64_t v)
{
	char tmp[32];
	int n = snprintf(tmp, sizeof(tmp), "%" PRIu64, v);
	size_t o = 0;
	for (int i = 0; i < n && o + 2 < cap; i++) {
		if (i && (n - i) % 3 == 0)
			buf[o++] = ',';
		buf[o++] = tmp[i];
	}
	buf[o] = 0;
	return buf;
}

static const char *bytes(char *buf, size_t cap, uint64_t v)
{
	static const char *const unit[] = { "KiB", "MiB", "GiB", "TiB" };
	if (v < 1024) {
		snprintf(buf, cap, "%" PRIu64 " B", v);
		return buf;
	}
	double d = (double)v / 1024;
	int u = 0;
	while (d >= 1024 && u < 3) {
		d /= 1024;
		u++;
	}
	snprintf(buf, cap, d < 10 ? "%.1f %s" : "%.0f %s", d, unit[u]);
	return buf;
}

struct garb_group {
	uint32_t row;
	uint64_t count, bytes;
	size_t first;  /* index of the first item */
};

static int group_cmp(const void *a, const void *b)
{
	const struct garb_group *x = a, *y = b;
	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return (x->first > y->first) - (x->first < y->first);
}

static const struct pg_cycles *g_sort_groups;

static int order_cmp(const void *a, const void *b)
{
	const struct pg_cycle_group *x = &g_sort_groups->groups[*(const size_t *)a];
	const struct pg_cycle_group *y = &g_sort_groups->groups[*(const size_t *)b];
	if (x->bytes != y->bytes)
		return x->bytes > y->bytes ? -1 : 1;
	if (x->components != y->components)
		return x->components > y->components ? -1 : 1;
	return (*(const size_t *)a > *(const size_t *)b) - (*(const size_t *)a < *(const size_t *)b);
}

static void print_groups(FILE *out, const struct pg_analysis *a, bool garbage_view)
{
	const struct pg_cycles *cy = a->cycles;
	const struct pg_graph *g = a->graph;
	char b1[32], b2[32], b3[32];
	size_t shown = 0, total = 0;
	/* groups are printed largest first: bytes, then components */
	size_t *order = malloc((cy->ngroups + 1) * sizeof(*order));
	if (!order)
		return;
	for (size_t i = 0; i < cy->ngroups; i++)
		if ((cy->groups[i].kind == PG_CY_GARBAGE) == garbage_view)
			order[total++] = i;
	g_sort_groups = cy;
	qsort(order, total, sizeof(*order), order_cmp);
	g_sort_groups = NULL;
	for (size_t k = 0; k < total && shown < a->max_groups; k++, shown++) {
		const struct pg_cycle_group *gr = &cy->groups[order[k]];
		fprintf(out, "  x%-8s %s%s\n", num(b1, sizeof(b1), gr->components), gr->shape,
			gr->kind == PG_CY_COLLECTABLE ? "" : "");
		if (gr->finalizer)
			fprintf(out, "            %s because of %s\n",
				gr->kind == PG_CY_GARBAGE ? "in gc.garbage" : "uncollectable", gr->finalizer);
		uint64_t per = gr->components ? gr->objects / gr->components : 0;
		uint64_t perb = gr->components ? gr->bytes / gr->components : 0;
		uint32_t v = gr->steps[0].from;
		uint32_t row = pg_heap_row_of(a->heap, g->addr[v], g->type[v]);
		fprintf(out, "            %s objects, %s per cycle (%s in all); e.g. %s at 0x%" PRIx64 "\n",
			num(b2, sizeof(b2), per), bytes(b3, sizeof(b3), perb), bytes(b1, sizeof(b1), gr->bytes),
			a->heap->rows[row].name, g->addr[v]);
	}
	if (total > shown)
		fprintf(out, "  ... %zu more pattern%s (--max-groups N, or --json)\n", total - shown, total - shown == 1 ? "" : "s");
	free(order);
}

static size_t count_groups(const struct pg_cycles *cy, bool garbage_view)
{
	size_t n = 0;
	for (size_t i = 0; i < cy->ngroups; i++)
		n += (cy->groups[i].kind == PG_CY_GARBAGE) == garbage_view;
	return n;
}

#define ADDRS_PER_GROUP 5

static void garbage_section(FILE *out, const struct pg_analysis *a)
{
	const struct pg_heap *h = a->heap;
	char b1[32], b2[32];
	if (!a->in->garbage_var) {
		fprintf(out, "gc.garbage: not found in this interpreter (see warnings)\n\n");
		return;
	}
	if (!h->ngarbage) {
		fprintf(out, "gc.garbage is %s\n\n", h->garbage_exists ? "empty" : "not created yet (empty)");
		return;
	}
	struct garb_group *gr = calloc(h->ngarbage, sizeof(*gr));
	/* group of each row; the last slot is for unreadable items */
	size_t *group_of = malloc((h->nrows + 1) * sizeof(*group_of));
	size_t ng = 0;
	uint64_t total = 0;
	for (size_t r = 0; group_of && r <= h->nrows; r++)
		group_of[r] = SIZE_MAX;
	for (size_t i = 0; gr && group_of && i < h->ngarbage; i++) {
		const struct pg_garbage_item *gi = &h->garbage[i];
		size_t slot = gi->row < h->nrows ? gi->row : h->nrows;
		size_t k = group_of[slot];
		if (k == SIZE_MAX) {
			k = group_of[slot] = ng;
			gr[ng++] = (struct garb_group){ .row = gi->row, .first = i };
		}
		gr[k].count++;
		gr[k].bytes += gi->size;
		total += gi->size;
	}
	if (a->cycles) {
		uint64_t kept = 0, kb = 0;
		for (size_t i = 0; i < a->cycles->ngroups; i++)
			if (a->cycles->groups[i].kind == PG_CY_GARBAGE) {
				kept += a->cycles->groups[i].objects;
				kb += a->cycles->groups[i].bytes;
			}
		size_t np = count_groups(a->cycles, true);
		char b3[32], b4[32];
		fprintf(out, "gc.garbage holds %s object%s keeping %s alive (%s): %zu leak pattern%s\n",
			num(b1, sizeof(b1), h->ngarbage), h->ngarbage == 1 ? "" : "s", num(b3, sizeof(b3), kept), bytes(b4, sizeof(b4), kb),
			np, np == 1 ? "" : "s");
		print_groups(out, a, true);
		fputc('\n', out);
	}
	if (a->cycles)
		fprintf(out, "gc.garbage by type (%s in the objects themselves):\n", bytes(b2, sizeof(b2), total));
	else
		fprintf(out, "gc.garbage holds %s objects (%s) of %zu type%s\n", num(b1, sizeof(b1), h->ngarbage),
			bytes(b2, sizeof(b2), total), ng, ng == 1 ? "" : "s");
	free(group_of);
	if (!gr)
		return;
	qsort(gr, ng, sizeof(*gr), group_cmp);
	for (size_t k = 0; k < ng; k++) {
		const char *name = gr[k].row == UINT32_MAX ? "<unreadable>" : h->rows[gr[k].row].name;
		bool old = gr[k].row != UINT32_MAX && h->rows[gr[k].row].oldstyle;
		fprintf(out, "  x%-9s %-10s %s%s\n", num(b1, sizeof(b1), gr[k].count),
			bytes(b2, sizeof(b2), gr[k].bytes), name, old ? " (old-style instance)" : "");
		size_t shown = 0;
		for (size_t i = gr[k].first; i < h->ngarbage && shown < ADDRS_PER_GROUP; i++) {
			const struct pg_garbage_item *gi = &h->garbage[i];
			if (gi->row != gr[k].row)
				continue;
			if (gi->readable)
				fprintf(out, "      [%zu] 0x%" PRIx64 "  refcnt %" PRId64 "  %s\n", i, gi->addr,
					gi->refcnt, bytes(b2, sizeof(b2), gi->size));
			else
				fprintf(out, "      [%zu] 0x%" PRIx64 "  (unreadable)\n", i, gi->addr);
			shown++;
		}
		if (gr[k].count > shown)
			fprintf(out, "      ... %s more (all with --json)\n", num(b1, sizeof(b1), gr[k].count - shown));
	}
	fputc('\n', out);
	free(gr);
}

static void top_types(FILE *out, const struct pg_analysis *a, bool (*pick)(const struct pg_collect *, uint32_t))
{
	char b1[32], b2[32];
	size_t nr = 0;
	struct pg_rowsum *rs = pg_summarise(a, pick, &nr);
	for (size_t i = 0; rs && i < nr && i < 5; i++)
		fprintf(out, "      %10s %10s  %s%s\n", num(b1, sizeof(b1), rs[i].count), bytes(b2, sizeof(b2), rs[i].bytes),
			a->heap->rows[rs[i].row].name, a->heap->rows[rs[i].row].oldstyle ? " (old-style instance)" : "");
	if (nr > 5)
		fprintf(out, "      ... %zu more types\n", nr - 5);
	free(rs);
}

static void collection_section(FILE *out, const struct pg_analysis *a)
{
	const struct pg_collect *c = a->coll;
	char b1[32], b2[32], b3[32], b4[32];
	if (!c->n_unreachable) {
		fprintf(out, "A full collection now would find no cyclic garbage.%s\n\n",
			a->graph->approximate ? " (approximate: see warnings)" : "");
		return;
	}
	fprintf(out, "A full collection now would free %s objects (%s)", num(b1, sizeof(b1), c->n_freed),
		bytes(b2, sizeof(b2), c->b_freed));
	if (c->n_uncollectable)
		fprintf(out, " and leave %s uncollectable objects (%s) behind %s finalizer%s, which gc.garbage would gain",
			num(b3, sizeof(b3), c->n_uncollectable), bytes(b4, sizeof(b4), c->b_uncollectable),
			num(b1, sizeof(b1), c->n_finalizers), c->n_finalizers == 1 ? "" : "s");
	else
		fprintf(out, " and add nothing to gc.garbage");
	fprintf(out, "%s.\n", a->graph->approximate ? " (approximate: see warnings)" : "");
	if (a->cycles && count_groups(a->cycles, false)) {
		size_t np = count_groups(a->cycles, false);
		fprintf(out, "  %zu cycle pattern%s:\n", np, np == 1 ? "" : "s");
		print_groups(out, a, false);
	}
	if (c->n_freed) {
		fprintf(out, "  freed:\n");
		top_types(out, a, pg_pick_freed);
	}
	if (c->n_uncollectable) {
		fprintf(out, "  uncollectable:\n");
		top_types(out, a, pg_pick_uncollectable);
	}
	fputc('\n', out);
}

int pg_report_text(FILE *out, const struct pg_analysis *a)
{
	const struct pg_core *c = a->core;
	const struct pg_interp *in = a->in;
	const struct pg_heap *h = a->heap;
	char b1[32], b2[32], b3[32], b4[32], b5[32];
	const char *base = strrchr(c->path, '/');
	base = base ? base + 1 : c->path;
	if (a->warn->partial)
		fprintf(out, "PARTIAL RESULT: parts of this core could not be read; see the warnings at the end.\n\n");
	fprintf(out, "%s  pid %d  %s  Python %.40s\n", base, c->pid, in->modname,
		in->version[0] ? in->version : "2.7 (version string unreadable)");
	fprintf(out, "  %s build; layouts from DWARF in %s\n", in->debug_build ? "debug (Py_TRACE_REFS)" : "release",
		in->debugfile ? in->debugfile : "?");
	fprintf(out, "  %d thread%s, dumped by %s", c->threads, c->threads == 1 ? "" : "s",
		c->made_by == PG_MADE_KERNEL ? "the kernel" : c->made_by == PG_MADE_GCORE ? "gcore" : "an unknown tool");
	if (c->signal)
		fprintf(out, " (signal %d)", c->signal);
	if (c->psargs[0])
		fprintf(out, "; command: %s", c->psargs);
	fputs("\n\n", out);
	garbage_section(out, a);

	if (a->coll)
		collection_section(out, a);
	fprintf(out, "%s tracked objects (%s) in generations %s / %s / %s\n", num(b1, sizeof(b1), h->nobj),
		bytes(b2, sizeof(b2), h->total_bytes), num(b3, sizeof(b3), h->gen[0].count),
		num(b4, sizeof(b4), h->gen[1].count), num(b5, sizeof(b5), h->gen[2].count));
	fprintf(out, "  thresholds %" PRId64 " / %" PRId64 " / %" PRId64 ", counters %" PRId64 " / %" PRId64 " / %" PRId64 "%s\n",
		h->gen[0].threshold, h->gen[1].threshold, h->gen[2].threshold, h->gen[0].counter,
		h->gen[1].counter, h->gen[2].counter, h->collecting ? "; core taken DURING a collection" : "");
	fprintf(out, "  %10s %10s  %s\n", "count", "bytes", "type");
	uint32_t *order = pg_rows_sorted(h);
	size_t shown = 0, nonzero = 0;
	for (size_t i = 0; order && i < h->nrows; i++) {
		const struct pg_row *r = &h->rows[order[i]];
		if (!r->count)
			continue;
		nonzero++;
		if (shown >= a->top)
			continue;
		fprintf(out, "  %10s %10s  %s%s\n", num(b1, sizeof(b1), r->count), bytes(b2, sizeof(b2), r->bytes),
			r->name, r->oldstyle ? " (old-style instance)" : "");
		shown++;
	}
	if (nonzero > shown)
		fprintf(out, "  ... %zu more types (--top N, or --json)\n", nonzero - shown);
	free(order);
	fputc('\n', out);
	if (!a->warn->n) {
		fprintf(out, "warnings: none\n");
	} else {
		fprintf(out, "warnings:\n");
		for (size_t i = 0; i < a->warn->n; i++)
			fprintf(out, "  - %s\n", a->warn->msgs[i]);
		if (a->warn->dropped)
			fprintf(out, "  - ... and %zu more\n", a->warn->dropped);
	}
	return ferror(out) ? -1 : 0;
}
