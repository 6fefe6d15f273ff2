#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "../lib/base/text.h"



/* Text from the core, escaped for a terminal (text.h): a few at a time,
 * freed together. */
#define NESC 8
struct esc {
	char *p[NESC];
	int i;
};

static const char *E(struct esc *e, const char *s)
{
	free(e->p[e->i]);
	e->p[e->i] = pg_escape_dup(s ? s : "");
	const char *r = e->p[e->i] ? e->p[e->i] : "?";
	e->i = (e->i + 1) % NESC;
	return r;
}

static void esc_free(struct esc *e)
{
	for (int i = 0; i < NESC; i++)
		free(e->p[i]);
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

/* "4 objects" or "7 objects (5 tracked, 2 untracked that only they hold)" */
static void objects_text(char *buf, size_t cap, uint64_t objects, uint64_t untracked)
{
	char b1[32], b2[32], b3[32];
	if (!untracked)
		snprintf(buf, cap, "%s tracked object%s", pg_fmt_count(b1, sizeof(b1), objects), objects == 1 ? "" : "s");
	else
		snprintf(buf, cap, "%s objects (%s tracked, %s untracked that only they hold)",
			 pg_fmt_count(b1, sizeof(b1), objects), pg_fmt_count(b2, sizeof(b2), objects - untracked),
			 pg_fmt_count(b3, sizeof(b3), untracked));
}

static bool in_view(const struct pg_cycle_group *gr, bool garbage_view)
{
	return (gr->kind == PG_CY_GARBAGE) == garbage_view;
}

static void print_groups(FILE *out, const struct pg_report *a, bool garbage_view)
{
	const struct pg_cycles *cy = pg_session_cycles(a->s);
	const struct pg_model *g = pg_session_model(a->s);
	char b1[32], b2[32], b3[32], ob[160];
	struct esc e = { 0 };
	size_t shown = 0, total = 0;
	/* in the one order of the groups (cycles.h): largest first */
	for (size_t i = 0; i < cy->ngroups; i++) {
		const struct pg_cycle_group *gr = &cy->groups[i];
		if (!in_view(gr, garbage_view))
			continue;
		total++;
		if (shown >= a->max_groups)
			continue;
		shown++;
		fprintf(out, "  x%-8s %s\n", pg_fmt_count(b1, sizeof(b1), gr->components), E(&e, gr->shape));
		if (gr->kind == PG_CY_DEFERRED)
			fprintf(out, "            alive until the next collection: reached only from finalizer objects this one frees\n");
		else if (gr->finalizer)
			fprintf(out, "            %s because of %s\n",
				gr->kind == PG_CY_GARBAGE ? "in gc.garbage" : "uncollectable", E(&e, gr->finalizer));
		uint64_t c = gr->components ? gr->components : 1;
		objects_text(ob, sizeof(ob), gr->objects / c, gr->untracked_objects / c);
		uint32_t v = gr->steps[0].from;
		uint32_t row = g->row[v];
		fprintf(out, "            %s, %s per cycle (%s in all", ob, pg_fmt_bytes(b2, sizeof(b2), gr->bytes / c),
			pg_fmt_bytes(b1, sizeof(b1), gr->bytes));
		if (gr->untracked_bytes)
			fprintf(out, "; tracked %s", pg_fmt_bytes(b3, sizeof(b3), gr->bytes - gr->untracked_bytes));
		fprintf(out, "); e.g. %s at 0x%" PRIx64 "\n", E(&e, g->rows[row].name), g->addr[v]);
	}
	if (total > shown)
		fprintf(out, "  ... %zu more pattern%s (--max-groups N, or --json)\n", total - shown, total - shown == 1 ? "" : "s");
	esc_free(&e);
}

static size_t count_groups(const struct pg_cycles *cy, bool garbage_view)
{
	size_t n = 0;
	for (size_t i = 0; i < cy->ngroups; i++)
		n += in_view(&cy->groups[i], garbage_view);
	return n;
}

#define ADDRS_PER_GROUP 5

/* The headline when gc.garbage is not all there: what is known, and why
 * the rest is not.  Returns true when nothing of it could be read. */
static bool garbage_unread(FILE *out, const struct pg_model *h)
{
	char b1[32], b2[32];
	struct esc e = { 0 };
	bool none = h->ngarbage == 0 || h->garbage_unreadable == h->ngarbage;
	if (h->garbage_claimed_known && none)
		fprintf(out, "gc.garbage claims %s entr%s; none could be read: %s\n\n",
			pg_fmt_count(b1, sizeof(b1), h->garbage_claimed), h->garbage_claimed == 1 ? "y" : "ies",
			E(&e, h->garbage_problem));
	else if (h->garbage_claimed_known)
		fprintf(out, "gc.garbage claims %s entr%s; %s could be read: %s\n",
			pg_fmt_count(b1, sizeof(b1), h->garbage_claimed), h->garbage_claimed == 1 ? "y" : "ies",
			pg_fmt_count(b2, sizeof(b2), h->ngarbage - h->garbage_unreadable), E(&e, h->garbage_problem));
	else if (h->garbage_exists)
		fprintf(out, "gc.garbage exists (the list at 0x%" PRIx64 ") but could not be read: %s\n\n",
			h->garbage_list, E(&e, h->garbage_problem));
	else
		fprintf(out, "gc.garbage could not be read: %s\n\n", E(&e, h->garbage_problem));
	esc_free(&e);
	return none || !h->garbage_claimed_known;
}

static void garbage_section(FILE *out, const struct pg_report *a)
{
	const struct pg_model *h = pg_session_model(a->s);
	const struct pg_cycles *cy = pg_session_cycles(a->s);
	char b1[32], b2[32], b3[32], b4[32];
	struct esc e = { 0 };
	if (!pg_session_interp(a->s)->garbage_found) {
		fprintf(out, "gc.garbage: not found in this interpreter (see warnings)\n\n");
		return;
	}
	if (h->garbage_problem && garbage_unread(out, h))
		return;
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
	if (cy) {
		uint64_t kept = 0, kb = 0, ku = 0;
		for (size_t i = 0; i < cy->ngroups; i++)
			if (cy->groups[i].kind == PG_CY_GARBAGE) {
				kept += cy->groups[i].objects;
				kb += cy->groups[i].bytes;
				ku += cy->groups[i].untracked_objects;
			}
		size_t np = count_groups(cy, true);
		char ob[160];
		objects_text(ob, sizeof(ob), kept, ku);
		fprintf(out, "gc.garbage holds %s object%s keeping %s alive (%s): %zu leak pattern%s\n",
			pg_fmt_count(b1, sizeof(b1), h->ngarbage), h->ngarbage == 1 ? "" : "s", ob, pg_fmt_bytes(b4, sizeof(b4), kb),
			np, np == 1 ? "" : "s");
		if (h->walk_limited)
			fprintf(out, "  (the walk stopped after %s tracked objects, --max-objects: only those are counted)\n",
				pg_fmt_count(b3, sizeof(b3), h->tracked));
		print_groups(out, a, true);
		fputc('\n', out);
	}
	if (cy)
		fprintf(out, "gc.garbage by type (%s in the objects themselves):\n", pg_fmt_bytes(b2, sizeof(b2), total));
	else
		fprintf(out, "gc.garbage holds %s objects (%s) of %zu type%s\n", pg_fmt_count(b1, sizeof(b1), h->ngarbage),
			pg_fmt_bytes(b2, sizeof(b2), total), ng, ng == 1 ? "" : "s");
	free(group_of);
	if (!gr) {
		esc_free(&e);
		return;
	}
	qsort(gr, ng, sizeof(*gr), group_cmp);
	for (size_t k = 0; k < ng; k++) {
		const char *name = gr[k].row == UINT32_MAX ? "<unreadable>" : h->rows[gr[k].row].name;
		bool old = gr[k].row != UINT32_MAX && h->rows[gr[k].row].oldstyle;
		fprintf(out, "  x%-9s %-10s %s%s\n", pg_fmt_count(b1, sizeof(b1), gr[k].count),
			pg_fmt_bytes(b2, sizeof(b2), gr[k].bytes), E(&e, name), old ? " (old-style instance)" : "");
		size_t shown = 0;
		for (size_t i = gr[k].first; i < h->ngarbage && shown < ADDRS_PER_GROUP; i++) {
			const struct pg_garbage_item *gi = &h->garbage[i];
			if (gi->row != gr[k].row)
				continue;
			if (gi->readable)
				fprintf(out, "      [%zu] 0x%" PRIx64 "  refcnt %" PRId64 "  %s\n", i, gi->addr,
					gi->refcnt, pg_fmt_bytes(b2, sizeof(b2), gi->size));
			else
				fprintf(out, "      [%zu] 0x%" PRIx64 "  (unreadable)\n", i, gi->addr);
			shown++;
		}
		if (gr[k].count > shown)
			fprintf(out, "      ... %s more (all with --json)\n", pg_fmt_count(b1, sizeof(b1), gr[k].count - shown));
	}
	fputc('\n', out);
	free(gr);
	esc_free(&e);
}

static void top_types(FILE *out, const struct pg_report *a, bool (*pick)(const struct pg_collect *, uint32_t))
{
	char b1[32], b2[32];
	struct esc e = { 0 };
	size_t nr = 0;
	const struct pg_model *m = pg_session_model(a->s);
	struct pg_rowsum *rs = pg_summarise(m, pg_session_collect(a->s), pick, &nr);
	for (size_t i = 0; rs && i < nr && i < 5; i++)
		fprintf(out, "      %10s %10s  %s%s\n", pg_fmt_count(b1, sizeof(b1), rs[i].count), pg_fmt_bytes(b2, sizeof(b2), rs[i].bytes),
			E(&e, m->rows[rs[i].row].name), m->rows[rs[i].row].oldstyle ? " (old-style instance)" : "");
	if (nr > 5)
		fprintf(out, "      ... %zu more types\n", nr - 5);
	free(rs);
	esc_free(&e);
}

static void collection_section(FILE *out, const struct pg_report *a)
{
	const struct pg_collect *c = pg_session_collect(a->s);
	const struct pg_model *m = pg_session_model(a->s);
	const struct pg_cycles *cy = pg_session_cycles(a->s);
	char b1[32], b2[32], b3[32], b4[32];
	if (!c->n_unreachable) {
		fprintf(out, "A full collection now would find no cyclic garbage.%s\n\n",
			m->approximate ? " (approximate: see warnings)" : "");
		return;
	}
	fprintf(out, "A full collection now would free %s tracked object%s (%s)", pg_fmt_count(b1, sizeof(b1), c->n_freed),
		c->n_freed == 1 ? "" : "s", pg_fmt_bytes(b2, sizeof(b2), c->b_freed));
	if (c->n_uncollectable)
		fprintf(out, " and leave %s tracked objects (%s) uncollectable behind %s finalizer%s, which gc.garbage would gain",
			pg_fmt_count(b3, sizeof(b3), c->n_uncollectable), pg_fmt_bytes(b4, sizeof(b4), c->b_uncollectable),
			pg_fmt_count(b1, sizeof(b1), c->n_finalizers), c->n_finalizers == 1 ? "" : "s");
	else
		fprintf(out, " and add nothing to gc.garbage");
	fprintf(out, "%s.\n", m->approximate ? " (approximate: see warnings)" : "");
	if (c->n_deferred)
		fprintf(out, "  %s more tracked object%s (%s) survive%s it, reached only from finalizer objects it frees on the way;"
			" the next collection frees %s.\n", pg_fmt_count(b1, sizeof(b1), c->n_deferred), c->n_deferred == 1 ? "" : "s",
			pg_fmt_bytes(b2, sizeof(b2), c->b_deferred), c->n_deferred == 1 ? "s" : "", c->n_deferred == 1 ? "it" : "them");
	if (cy && count_groups(cy, false)) {
		size_t np = count_groups(cy, false);
		fprintf(out, "  %zu cycle pattern%s:\n", np, np == 1 ? "" : "s");
		print_groups(out, a, false);
		/* one definition: each kind's patterns and the totals above
		 * count the same tracked objects; say where they differ */
		struct { const char *what; uint64_t n, b; enum pg_cycle_kind k; } left[] = {
			{ "freed", c->n_freed, c->b_freed, PG_CY_COLLECTABLE },
			{ "uncollectable", c->n_uncollectable, c->b_uncollectable, PG_CY_UNCOLLECTABLE },
			{ "deferred", c->n_deferred, c->b_deferred, PG_CY_DEFERRED },
		};
		for (size_t k = 0; k < 3; k++)
			if (left[k].n > cy->kind_tracked[left[k].k])
				fprintf(out, "  + %s %s tracked object%s (%s) in no pattern of their own (reached only from"
					" objects of another fate, or through a weakref the collection rescues)\n",
					pg_fmt_count(b1, sizeof(b1), left[k].n - cy->kind_tracked[left[k].k]), left[k].what,
					left[k].n - cy->kind_tracked[left[k].k] == 1 ? "" : "s",
					pg_fmt_bytes(b2, sizeof(b2), left[k].b - cy->kind_tracked_bytes[left[k].k]));
	}
	if (c->n_freed) {
		fprintf(out, "  freed:\n");
		top_types(out, a, pg_pick_freed);
	}
	if (c->n_uncollectable) {
		fprintf(out, "  uncollectable:\n");
		top_types(out, a, pg_pick_uncollectable);
	}
	if (c->n_deferred) {
		fprintf(out, "  deferred to the next collection:\n");
		top_types(out, a, pg_pick_deferred);
	}
	fputc('\n', out);
}

#define MEMBERS_SHOWN 8

static void components_section(FILE *out, const struct pg_report *a)
{
	const struct pg_cycles *cy = pg_session_cycles(a->s);
	const struct pg_model *g = pg_session_model(a->s);
	char b1[32], b2[32];
	struct esc e = { 0 };
	fprintf(out, "strongly connected components: %s in the unreachable set, %s that gc.garbage keeps alive\n",
		pg_fmt_count(b1, sizeof(b1), cy->nontrivial[0]), pg_fmt_count(b2, sizeof(b2), cy->nontrivial[1]));
	for (int view = 0; view < 2; view++) {
		for (size_t k = 0; k < cy->ncomps; k++) {
			if (cy->comp_view[k] != view || !pg_cycles_nontrivial(cy, g, (uint32_t)k))
				continue;
			uint32_t first = cy->comp_first[k], end = cy->comp_first[k + 1];
			fprintf(out, "  %s %s object%s:", view ? "gc.garbage" : "unreachable",
				pg_fmt_count(b1, sizeof(b1), end - first), end - first == 1 ? "" : "s");
			for (uint32_t m = first; m < end && m - first < MEMBERS_SHOWN; m++) {
				uint32_t v = cy->comp_members[m];
				fprintf(out, "%s %s 0x%" PRIx64, m == first ? "" : ",", E(&e, g->rows[g->row[v]].name), g->addr[v]);
			}
			if (end - first > MEMBERS_SHOWN)
				fprintf(out, ", ... %s more", pg_fmt_count(b1, sizeof(b1), end - first - MEMBERS_SHOWN));
			fputc('\n', out);
		}
	}
	fputc('\n', out);
	esc_free(&e);
}

struct hist_ent {
	uint32_t row;
	bool untracked;
	uint64_t count, bytes;
};

/* Bytes, then count, then name (as pg_rows_sorted), tracked first. */
static int hist_cmp(const void *pa, const void *pb, void *rows)
{
	const struct hist_ent *x = pa, *y = pb;
	if (x->bytes != y->bytes)
		return x->bytes > y->bytes ? -1 : 1;
	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	const struct pg_row *rx = &((const struct pg_row *)rows)[x->row], *ry = &((const struct pg_row *)rows)[y->row];
	int c = strcmp(rx->name, ry->name);
	if (c)
		return c;
	if (rx->oldstyle != ry->oldstyle)
		return (int)rx->oldstyle - (int)ry->oldstyle;
	return (int)x->untracked - (int)y->untracked;
}

int pg_report_text(FILE *out, const struct pg_report *a)
{
	const struct pg_core_info *c = pg_session_core(a->s);
	const struct pg_interp_info *in = pg_session_interp(a->s);
	const struct pg_model *h = pg_session_model(a->s);
	char b1[32], b2[32], b3[32], b4[32], b5[32];
	struct esc e = { 0 };
	const char *base = strrchr(c->path, '/');
	base = base ? base + 1 : c->path;
	if (pg_session_partial(a->s))
		fprintf(out, "PARTIAL RESULT: parts of this core could not be read; see the warnings at the end.\n\n");
	fprintf(out, "%s  pid %d  %s  Python %.40s\n", E(&e, base), c->pid, E(&e, in->modname),
		in->version[0] ? E(&e, in->version) : "2.7 (version string unreadable)");
	if (in->profile)
		fprintf(out, "  %s build; layouts from the built-in profile %s (%s)\n",
			in->debug_build ? "debug (Py_TRACE_REFS)" : "release", in->profile, E(&e, in->profile_why));
	else
		fprintf(out, "  %s build; layouts from DWARF in %s\n", in->debug_build ? "debug (Py_TRACE_REFS)" : "release",
			in->debugfile ? E(&e, in->debugfile) : "?");
	fprintf(out, "  %d thread%s, dumped by %s", c->threads, c->threads == 1 ? "" : "s",
		c->made_by == PG_MADE_KERNEL ? "the kernel" : c->made_by == PG_MADE_GCORE ? "gcore" : "an unknown tool");
	if (c->signal)
		fprintf(out, " (signal %d)", c->signal);
	if (c->command[0])
		fprintf(out, "; command: %s", c->command);
	fputs("\n\n", out);
	garbage_section(out, a);
	pg_report_retention_text(out, a);

	if (pg_session_collect(a->s))
		collection_section(out, a);
	pg_report_memory_text(out, a);
	if (pg_session_cycles(a->s) && a->components)
		components_section(out, a);
	fprintf(out, "%s%s tracked objects (%s) in generations %s / %s / %s\n", h->walk_limited ? "at least " : "",
		pg_fmt_count(b1, sizeof(b1), h->tracked), pg_fmt_bytes(b2, sizeof(b2), h->tracked_bytes), pg_fmt_count(b3, sizeof(b3), h->gens[0].count),
		pg_fmt_count(b4, sizeof(b4), h->gens[1].count), pg_fmt_count(b5, sizeof(b5), h->gens[2].count));
	if (h->walk_limited)
		fprintf(out, "  the walk stopped after %s objects (--max-objects): the lists go on\n", pg_fmt_count(b1, sizeof(b1), h->tracked));
	fprintf(out, "  thresholds %" PRId64 " / %" PRId64 " / %" PRId64 ", counters %" PRId64 " / %" PRId64 " / %" PRId64 "%s\n",
		h->gens[0].threshold, h->gens[1].threshold, h->gens[2].threshold, h->gens[0].counter,
		h->gens[1].counter, h->gens[2].counter, h->collecting ? "; core taken DURING a collection" : "");
	if (h->has_all)
		fprintf(out, "  and %s untracked objects (%s) they hold: str, int, untracked tuples and dicts, code, ...\n",
			pg_fmt_count(b1, sizeof(b1), h->untracked), pg_fmt_bytes(b2, sizeof(b2), h->untracked_bytes));
	fprintf(out, "  %10s %10s  %s\n", "count", "bytes", "type");
	/* one list: each row's tracked objects, and its untracked ones (marked) */
	size_t nent = 0;
	struct hist_ent *ent = malloc((2 * h->nrows + 1) * sizeof(*ent));
	for (uint32_t i = 0; ent && i < h->nrows; i++) {
		if (h->rows[i].count)
			ent[nent++] = (struct hist_ent){ i, false, h->rows[i].count, h->rows[i].bytes };
		if (h->rows[i].ucount)
			ent[nent++] = (struct hist_ent){ i, true, h->rows[i].ucount, h->rows[i].ubytes };
	}
	if (ent)
		qsort_r(ent, nent, sizeof(*ent), hist_cmp, h->rows);
	size_t shown = 0;
	for (size_t i = 0; i < nent && shown < a->top; i++, shown++) {
		const struct pg_row *r = &h->rows[ent[i].row];
		fprintf(out, "  %10s %10s  %s%s%s\n", pg_fmt_count(b1, sizeof(b1), ent[i].count), pg_fmt_bytes(b2, sizeof(b2), ent[i].bytes),
			E(&e, r->name), r->oldstyle ? " (old-style instance)" : "", ent[i].untracked ? "  (untracked)" : "");
	}
	if (nent > shown)
		fprintf(out, "  ... %zu more types (--top N, or --json)\n", nent - shown);
	free(ent);
	uint32_t *order = NULL;
	free(order);
	fputc('\n', out);
	size_t nw = pg_session_nwarnings(a->s);
	if (!nw) {
		fprintf(out, "warnings: none\n");
	} else {
		fprintf(out, "warnings:\n");
		for (size_t i = 0; i < nw; i++)
			fprintf(out, "  - %s\n", E(&e, pg_session_warning(a->s, i)));
		if (pg_session_warnings_dropped(a->s))
			fprintf(out, "  - ... and %zu more\n", pg_session_warnings_dropped(a->s));
	}
	esc_free(&e);
	return ferror(out) ? -1 : 0;
}
