/* What holds the memory: the retainers (text section, JSON keys), the
 * untracked objects' histogram (JSON), --why. */
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/base/text.h"
#include "report.h"

#define TEXT_RETAINERS 10





static void fput_esc(FILE *out, const char *s)
{
	pg_fputs_escaped(s ? s : "", out);
}

static const char *row_name(const struct pg_model *m, uint32_t row)
{
	return row < m->nrows ? m->rows[row].name : "?";
}

int pg_report_retention_text(FILE *out, const struct pg_report *a)
{
	const struct pg_retention *r = pg_session_retention(a->s);
	const struct pg_model *m = pg_session_model(a->s);
	if (!r || !m)
		return 0;
	char b1[32], b2[32], b3[32];
	fprintf(out, "What holds the memory: %s objects (%s) are reached from the roots",
		pg_fmt_count(b1, sizeof(b1), r->nreached), pg_fmt_bytes(b2, sizeof(b2), r->reached_bytes));
	if (r->unreached)
		fprintf(out, "; %s (%s) from none (cyclic garbage)", pg_fmt_count(b3, sizeof(b3), r->unreached),
			pg_fmt_bytes(b1, sizeof(b1), r->unreached_bytes));
	fprintf(out, ".\n");
	size_t shown = r->nretainers < TEXT_RETAINERS ? r->nretainers : TEXT_RETAINERS;
	if (shown)
		fprintf(out, "  largest retainers (what would be freed with each):\n");
	for (size_t q = 0; q < shown; q++) {
		const struct pg_retainer *rt = &r->retainers[q];
		fprintf(out, "  %2zu. %10s in %s object%s  ", q + 1, pg_fmt_bytes(b1, sizeof(b1), rt->bytes),
			pg_fmt_count(b2, sizeof(b2), rt->count), rt->count == 1 ? "" : "s");
		fput_esc(out, row_name(m, m->row[rt->node]));
		fprintf(out, " at 0x%" PRIx64 "\n", m->addr[rt->node]);
		char *expr = pg_session_retainer_expr(a->s, rt);
		if (expr) {
			fprintf(out, "      ");
			fput_esc(out, expr);
			fputc('\n', out);
		}
		free(expr);
		const char *kind;
		char *name = pg_session_retainer_root(a->s, rt, &kind);
		if (name) {
			fprintf(out, "      root: ");
			fput_esc(out, name);
			fputc('\n', out);
			free(name);
		}
		fprintf(out, "      holds: ");
		for (size_t t = 0; t < rt->ntypes; t++) {
			fprintf(out, "%s%s ", t ? ", " : "", pg_fmt_count(b1, sizeof(b1), rt->types[t].count));
			fput_esc(out, row_name(m, rt->types[t].row));
			fprintf(out, " (%s)", pg_fmt_bytes(b2, sizeof(b2), rt->types[t].bytes));
		}
		fputc('\n', out);
	}
	if (r->nretainers > shown)
		fprintf(out, "  ... %zu more in --json; --why ADDR for the path to any object\n", r->nretainers - shown);
	else
		fprintf(out, "  --why ADDR for the path to any object\n");
	fputc('\n', out);
	return ferror(out) ? -1 : 0;
}

int pg_report_retention_json(json_t *root, const struct pg_report *a)
{
	const struct pg_retention *r = pg_session_retention(a->s);
	const struct pg_model *m = pg_session_model(a->s);
	if (!r || !m || !m->has_all)
		return 0;
	json_t *u = json_object();
	json_object_set_new(u, "count", json_integer((json_int_t)m->untracked));
	json_object_set_new(u, "bytes", json_integer((json_int_t)m->untracked_bytes));
	json_object_set_new(root, "untracked", u);
	/* the untracked part of the histogram, bytes first */
	json_t *types = json_array();
	uint32_t *order = malloc((m->nrows + 1) * sizeof(*order));
	size_t k = 0;
	for (uint32_t i = 0; order && i < m->nrows; i++)
		if (m->rows[i].ucount)
			order[k++] = i;
	for (size_t i = 1; i < k; i++) {
		/* insertion sort: rows are few */
		uint32_t x = order[i];
		size_t j = i;
		while (j > 0) {
			const struct pg_row *p = &m->rows[order[j - 1]], *q = &m->rows[x];
			bool before = q->ubytes > p->ubytes || (q->ubytes == p->ubytes && q->ucount > p->ucount) ||
				      (q->ubytes == p->ubytes && q->ucount == p->ucount && x < order[j - 1]);
			if (!before)
				break;
			order[j] = order[j - 1];
			j--;
		}
		order[j] = x;
	}
	for (size_t i = 0; i < k; i++) {
		const struct pg_row *row = &m->rows[order[i]];
		json_t *o = json_object();
		json_object_set_new(o, "type", pg_json_str(row->name));
		json_object_set_new(o, "oldstyle", json_boolean(row->oldstyle));
		json_object_set_new(o, "count", json_integer((json_int_t)row->ucount));
		json_object_set_new(o, "bytes", json_integer((json_int_t)row->ubytes));
		json_array_append_new(types, o);
	}
	free(order);
	json_object_set_new(root, "untracked_types", types);
	json_t *ret = json_object();
	json_object_set_new(ret, "reached", json_integer((json_int_t)r->nreached));
	json_object_set_new(ret, "reached_bytes", json_integer((json_int_t)r->reached_bytes));
	json_object_set_new(ret, "unreached", json_integer((json_int_t)r->unreached));
	json_object_set_new(ret, "unreached_bytes", json_integer((json_int_t)r->unreached_bytes));
	json_object_set_new(ret, "top_level", json_integer((json_int_t)r->toplevel));
	json_t *kinds = json_object();
	uint64_t per[PG_ROOT_KINDS] = { 0 };
	for (size_t i = 0; i < r->nroots; i++)
		if (r->roots[i].kind < PG_ROOT_KINDS)
			per[r->roots[i].kind]++;
	for (int kd = 0; kd < PG_ROOT_KINDS; kd++)
		json_object_set_new(kinds, pg_root_kind_name((enum pg_root_kind)kd), json_integer((json_int_t)per[kd]));
	json_object_set_new(ret, "roots", kinds);
	json_object_set_new(root, "retention", ret);
	json_t *list = json_array();
	for (size_t q = 0; q < r->nretainers; q++) {
		const struct pg_retainer *rt = &r->retainers[q];
		json_t *o = json_object();
		json_object_set_new(o, "addr", pg_json_addr(m->addr[rt->node]));
		json_object_set_new(o, "type", pg_json_str(row_name(m, m->row[rt->node])));
		json_t *rj = json_object();
		json_object_set_new(rj, "count", json_integer((json_int_t)rt->count));
		json_object_set_new(rj, "bytes", json_integer((json_int_t)rt->bytes));
		json_object_set_new(o, "retained", rj);
		json_t *rootj = json_null();
		const char *kind;
		char *name = pg_session_retainer_root(a->s, rt, &kind);
		if (name) {
			rootj = json_object();
			json_object_set_new(rootj, "kind", json_string(kind));
			json_object_set_new(rootj, "name", pg_json_str(name));
			free(name);
		}
		json_object_set_new(o, "root", rootj);
		char *expr = pg_session_retainer_expr(a->s, rt);
		json_object_set_new(o, "path", expr ? pg_json_str(expr) : json_null());
		free(expr);
		json_object_set_new(o, "top_level", pg_json_addr(m->addr[rt->top]));
		json_t *tj = json_array();
		for (size_t t = 0; t < rt->ntypes; t++) {
			json_t *e = json_object();
			json_object_set_new(e, "type", pg_json_str(row_name(m, rt->types[t].row)));
			json_object_set_new(e, "count", json_integer((json_int_t)rt->types[t].count));
			json_object_set_new(e, "bytes", json_integer((json_int_t)rt->types[t].bytes));
			json_array_append_new(tj, e);
		}
		json_object_set_new(o, "holds", tj);
		json_array_append_new(list, o);
	}
	json_object_set_new(root, "retainers", list);
	return 0;
}

int pg_report_why(FILE *out, const struct pg_report *a, const struct pg_why *w, bool as_json)
{
	(void)a;
	if (as_json) {
		json_t *root = json_object(), *o = json_object();
		json_object_set_new(root, "schema", json_string("pycore-garbage/1"));
		json_object_set_new(o, "addr", pg_json_addr(w->addr));
		json_object_set_new(o, "type", pg_json_str(w->type));
		json_object_set_new(o, "reached", json_boolean(w->reached));
		if (w->reached) {
			json_t *rj = json_object();
			json_object_set_new(rj, "kind", json_string(w->root_kind));
			json_object_set_new(rj, "name", pg_json_str(w->root_name));
			json_object_set_new(o, "root", rj);
			json_object_set_new(o, "expr", pg_json_str(w->expr));
			json_t *p = json_array();
			for (size_t i = 0; i < w->nsteps; i++) {
				json_t *e = json_object();
				json_object_set_new(e, "addr", pg_json_addr(w->steps[i].addr));
				json_object_set_new(e, "type", pg_json_str(w->steps[i].type));
				json_object_set_new(e, "label", w->steps[i].label ? pg_json_str(w->steps[i].label) : json_null());
				json_array_append_new(p, e);
			}
			json_object_set_new(o, "path", p);
			json_t *rt = json_object();
			json_object_set_new(rt, "count", json_integer((json_int_t)w->retained_count));
			json_object_set_new(rt, "bytes", json_integer((json_int_t)w->retained_bytes));
			json_object_set_new(o, "retained", rt);
		} else {
			json_object_set_new(o, "root", json_null());
			json_object_set_new(o, "path", json_array());
			json_object_set_new(o, "referenced", json_boolean(w->in_graph));
			if (w->group) {
				json_t *g = json_object();
				json_object_set_new(g, "shape", pg_json_str(w->group->shape));
				json_object_set_new(g, "kind", json_string(pg_cycle_kind_name(w->group->kind)));
				json_object_set_new(o, "cycle_group", g);
			} else {
				json_object_set_new(o, "cycle_group", json_null());
			}
		}
		json_object_set_new(root, "why", o);
		int r = json_dumpf(root, out, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
		json_decref(root);
		if (r == 0 && fputc('\n', out) == EOF)
			r = -1;
		return r;
	}
	char b1[32], b2[32];
	fprintf(out, "0x%" PRIx64 "  ", w->addr);
	fput_esc(out, w->type);
	fputc('\n', out);
	if (w->reached) {
		fprintf(out, "  held by: ");
		fput_esc(out, w->expr);
		fprintf(out, "\n  root: ");
		fput_esc(out, w->root_name);
		fprintf(out, " (%s)\n", w->root_kind);
		fprintf(out, "  retains %s in %s object%s\n", pg_fmt_bytes(b1, sizeof(b1), w->retained_bytes),
			pg_fmt_count(b2, sizeof(b2), w->retained_count), w->retained_count == 1 ? "" : "s");
		fprintf(out, "  path (%zu step%s):\n", w->nsteps - 1, w->nsteps == 2 ? "" : "s");
		for (size_t i = 0; i < w->nsteps; i++) {
			fprintf(out, "    ");
			if (w->steps[i].label) {
				fprintf(out, "--");
				fput_esc(out, w->steps[i].label);
				fprintf(out, "--> ");
			}
			fput_esc(out, w->steps[i].type);
			fprintf(out, " at 0x%" PRIx64 "\n", w->steps[i].addr);
		}
	} else if (!w->in_graph) {
		fprintf(out, "  no object of the heap refers to it and no root holds it: only C code can "
			     "(or it is garbage about to be freed)\n");
	} else {
		fprintf(out, "  no root reaches it: it is cyclic garbage, or held only by some");
		if (w->group) {
			fprintf(out, "\n  cycle group: ");
			fput_esc(out, w->group->shape);
			fprintf(out, " (%s)\n", pg_cycle_kind_name(w->group->kind));
		} else {
			fprintf(out, "\n  (no cycle group found for it: see --object for its referrers)\n");
		}
	}
	return ferror(out) ? -1 : 0;
}
