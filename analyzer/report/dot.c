#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "../lib/base/text.h"

/* pg_dot_str of text from the core, escaped first */
static void dot_text(FILE *out, const char *s)
{
	char *e = pg_escape_dup(s);
	pg_dot_str(out, e ? e : "?");
	free(e);
}

static void node_label(const struct pg_model *g, const struct pg_cycle_step *st, char *buf, size_t cap)
{
	uint32_t v = st->from;
	char *name = pg_escape_dup(g->rows[g->row[v]].name);
	if (st->from_len >= 0)
		snprintf(buf, cap, "%s (len %" PRId64 ")\n0x%" PRIx64, name ? name : "?", st->from_len, g->addr[v]);
	else
		snprintf(buf, cap, "%s\n0x%" PRIx64, name ? name : "?", g->addr[v]);
	free(name);
}

int pg_report_dot(FILE *out, const struct pg_report *a)
{
	const struct pg_cycles *cy = pg_session_cycles(a->s);
	const struct pg_model *g = pg_session_model(a->s);
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
			node_label(g, &gr->steps[k], buf, sizeof(buf));
			fprintf(out, "    g%zu_%zu [label=", gi, k);
			pg_dot_str(out, buf);
			if (gr->steps[k].from_finalizer)
				fprintf(out, ", style=filled, fillcolor=\"#f4cccc\", peripheries=2");
			fprintf(out, "];\n");
		}
		for (size_t k = 0; k < gr->nsteps; k++) {
			fprintf(out, "    g%zu_%zu -> g%zu_%zu [label=", gi, k, gi, (k + 1) % gr->nsteps);
			dot_text(out, gr->steps[k].label);
			fprintf(out, "];\n");
		}
		fprintf(out, "  }\n");
	}
	}
	fprintf(out, "}\n");
	return ferror(out) ? -1 : 0;
}
