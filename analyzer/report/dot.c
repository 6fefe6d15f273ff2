#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "text.h"

/* A Graphviz string (UTF-8, Graphviz's default charset) of text already
 * escaped for people (text.h): quotes and backslashes escaped, a line
 * break as \n. */
static void dot_str(FILE *out, const char *s)
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

/* dot_str of text from the core, escaped first */
static void dot_text(FILE *out, const char *s)
{
	char *e = pg_escape_dup(s);
	dot_str(out, e ? e : "?");
	free(e);
}

static void node_label(const struct pg_analysis *a, uint32_t v, char *buf, size_t cap)
{
	const struct pg_graph *g = a->graph;
	struct pg_heap *h = a->heap;
	uint32_t row = pg_heap_row_of(h, g->addr[v], g->type[v]);
	const struct pg_type *t = &h->types[g->type[v]];
	uint64_t n = 0;
	pg_error *err = NULL;
	if (t->kind == PG_K_DICT)
		err = pg_read_u64(&h->core->mem, g->addr[v] + (uint64_t)h->in->L.ma_used.off, &n);
	else if (t->itemsize || t->kind == PG_K_LIST)
		err = pg_read_u64(&h->core->mem, g->addr[v] + (uint64_t)h->in->L.ob_size.off, &n);
	pg_error_destroy(err);
	char *name = pg_escape_dup(h->rows[row].name);
	if (!err && (t->kind == PG_K_DICT || t->kind == PG_K_LIST || t->kind == PG_K_TUPLE))
		snprintf(buf, cap, "%s (len %" PRIu64 ")\n0x%" PRIx64, name ? name : "?", n, g->addr[v]);
	else
		snprintf(buf, cap, "%s\n0x%" PRIx64, name ? name : "?", g->addr[v]);
	free(name);
}

int pg_report_dot(FILE *out, const struct pg_analysis *a)
{
	const struct pg_cycles *cy = a->cycles;
	const struct pg_graph *g = a->graph;
	char buf[512];
	fprintf(out, "digraph pycore_garbage {\n  rankdir=LR;\n  node [shape=box, fontname=\"monospace\", fontsize=10];\n"
		     "  edge [fontname=\"monospace\", fontsize=9];\n");
	/* the groups the text report shows, in its order: gc.garbage's
	 * patterns, then the collection's */
	for (int pass = 0; pass < 2; pass++) {
	size_t shown = 0;
	for (size_t gi = 0; gi < cy->ngroups && shown < a->max_groups; gi++) {
		const struct pg_cycle_group *gr = &cy->groups[gi];
		if ((gr->kind == PG_CY_GARBAGE) != (pass == 0))
			continue;
		shown++;
		fprintf(out, "  subgraph cluster_%zu {\n    label=", gi);
		snprintf(buf, sizeof(buf), "x%" PRIu64 " %s%s%s", gr->components, pg_cycle_kind_name(gr->kind),
			 gr->finalizer ? ": " : "", gr->finalizer ? gr->finalizer : "");
		dot_text(out, buf);
		fprintf(out, ";\n");
		for (size_t k = 0; k < gr->nsteps; k++) {
			uint32_t v = gr->steps[k].from;
			node_label(a, v, buf, sizeof(buf));
			fprintf(out, "    g%zu_%zu [label=", gi, k);
			dot_str(out, buf);
			bool fin = a->coll && (a->coll->state[v] & PG_S_FINALIZER);
			if (!fin && gr->kind == PG_CY_GARBAGE)
				fin = pg_has_finalizer(a->trav, g->addr[v], g->type[v], NULL);
			if (fin)
				fprintf(out, ", style=filled, fillcolor=\"#f4cccc\", peripheries=2");
			fprintf(out, "];\n");
		}
		for (size_t k = 0; k < gr->nsteps; k++) {
			pg_label_format(a->heap, &gr->steps[k].label, buf, sizeof(buf));
			fprintf(out, "    g%zu_%zu -> g%zu_%zu [label=", gi, k, gi, (k + 1) % gr->nsteps);
			dot_text(out, buf);
			fprintf(out, "];\n");
		}
		fprintf(out, "  }\n");
	}
	}
	fprintf(out, "}\n");
	return ferror(out) ? -1 : 0;
}
