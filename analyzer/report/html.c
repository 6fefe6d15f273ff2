/* --html: one self-contained page (inline CSS, JS and SVG; nothing is
 * fetched).  The answer first: the leak patterns with their example cycle
 * drawn (the finalizer object shaded), the largest retainers with their
 * paths, the memory as a picture; then gc.garbage, the histogram (sortable),
 * threads and warnings.  Every address shown opens its details (type, size,
 * referents, referrers, the --why path) from JSON embedded in the page for
 * at most HTML_DETAILS addresses.  Cycles are laid out by Graphviz's
 * library (libgvc) when the build has it, else by a drawing of our own; the
 * page says which.  Results only, like every report. */
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "html_assets.h"
#include "../lib/base/text.h"

#ifdef PG_HAVE_GVC
#include <graphviz/gvc.h>
#endif

#define HTML_DETAILS 400        /* addresses whose details are embedded */
#define HTML_REFS 25            /* referents and referrers per address */
#define HTML_WHY_STEPS 40
#define HTML_HIST_ROWS 2000
#define HTML_GARBAGE_ROWS 50
#define HTML_RETAINERS 25
#define HTML_THREAD_ROOTS 200

struct html {
	FILE *out;
	const struct pg_report *a;
	const struct pg_model *m;
	uint64_t *addrs;            /* addresses shown, in order met */
	size_t naddrs, capaddrs;
	bool gvc_used, own_used;
	void *gvc;                  /* one Graphviz context for the page (libgvc 2.42
				     * reads freed memory when a second one is made) */
};

/* ---- text ------------------------------------------------------------ */

/* HTML text of s as it is (already fit for people) */
static void h_raw(FILE *out, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '&': fputs("&amp;", out); break;
		case '<': fputs("&lt;", out); break;
		case '>': fputs("&gt;", out); break;
		case '"': fputs("&quot;", out); break;
		case '\'': fputs("&#39;", out); break;
		default: fputc(*s, out);
		}
	}
}

/* text from the core: escaped for people (text.h), then for HTML */
static void h_text(FILE *out, const char *s)
{
	char *e = pg_escape_dup(s ? s : "");
	h_raw(out, e ? e : "?");
	free(e);
}



static const char *row_name(const struct pg_model *m, uint32_t row)
{
	return row < m->nrows ? m->rows[row].name : "?";
}

/* An address that opens its details; remembered for the embedded data. */
static void h_addr(struct html *h, uint64_t addr)
{
	bool seen = false;
	for (size_t i = 0; i < h->naddrs && !seen; i++)
		seen = h->addrs[i] == addr;
	if (!seen && h->naddrs < HTML_DETAILS) {
		if (h->naddrs == h->capaddrs) {
			size_t nc = h->capaddrs ? 2 * h->capaddrs : 64;
			uint64_t *na = realloc(h->addrs, nc * sizeof(*na));
			if (na) {
				h->addrs = na;
				h->capaddrs = nc;
			}
		}
		if (h->naddrs < h->capaddrs)
			h->addrs[h->naddrs++] = addr;
	}
	fprintf(h->out, "<a class=\"addr\" href=\"#0x%" PRIx64 "\" data-a=\"0x%" PRIx64 "\">0x%" PRIx64 "</a>", addr, addr,
		addr);
}

/* ---- the cycles' pictures -------------------------------------------- */

static void node_label(const struct pg_model *g, const struct pg_cycle_step *st, char *buf, size_t cap)
{
	char *name = pg_escape_dup(row_name(g, g->row[st->from]));
	if (st->from_len >= 0)
		snprintf(buf, cap, "%s (len %" PRId64 ")\n0x%" PRIx64, name ? name : "?", st->from_len, g->addr[st->from]);
	else
		snprintf(buf, cap, "%s\n0x%" PRIx64, name ? name : "?", g->addr[st->from]);
	free(name);
}

#ifdef PG_HAVE_GVC

/* The group's cycle laid out by libgvc as SVG; false when Graphviz could
 * not (no layout or render plugin): the caller draws it itself. */
static bool draw_gvc(struct html *h, const struct pg_cycle_group *gr)
{
	char *dot = NULL, buf[512];
	size_t dlen = 0;
	FILE *f = open_memstream(&dot, &dlen);
	if (!f)
		return false;
	fprintf(f, "digraph c {\n rankdir=LR; bgcolor=\"transparent\";\n node [shape=box, style=\"rounded,filled\", "
		   "fillcolor=\"#ffffff\", fontname=\"monospace\", fontsize=10];\n edge [fontname=\"monospace\", fontsize=9];\n");
	for (size_t k = 0; k < gr->nsteps; k++) {
		node_label(h->m, &gr->steps[k], buf, sizeof(buf));
		fprintf(f, " n%zu [id=\"pga_0x%" PRIx64 "\", label=", k, h->m->addr[gr->steps[k].from]);
		pg_dot_str(f, buf);
		if (gr->steps[k].from_finalizer)
			fprintf(f, ", fillcolor=\"#f4cccc\", peripheries=2");
		fprintf(f, "];\n");
	}
	for (size_t k = 0; k < gr->nsteps; k++) {
		char *l = pg_escape_dup(gr->steps[k].label ? gr->steps[k].label : "?");
		fprintf(f, " n%zu -> n%zu [label=", k, (k + 1) % gr->nsteps);
		pg_dot_str(f, l ? l : "?");
		fprintf(f, "];\n");
		free(l);
	}
	fprintf(f, "}\n");
	if (fclose(f) != 0) {
		free(dot);
		return false;
	}
	bool ok = false;
	if (!h->gvc)
		h->gvc = gvContext();
	GVC_t *gvc = h->gvc;
	Agraph_t *g = gvc ? agmemread(dot) : NULL;
	if (g && gvLayout(gvc, g, "dot") == 0) {
		char *svg = NULL;
		unsigned int len = 0;
		if (gvRenderData(gvc, g, "svg", &svg, &len) == 0 && svg) {
			/* from <svg on: no XML prolog or DOCTYPE inside HTML */
			char *start = strstr(svg, "<svg");
			if (start) {
				fputs("<div class=\"cycle gvc\">", h->out);
				fwrite(start, 1, len - (size_t)(start - svg), h->out);
				fputs("</div>\n", h->out);
				ok = true;
			}
		}
		if (svg)
			gvFreeRenderData(svg);
		gvFreeLayout(gvc, g);
	}
	if (g)
		agclose(g);
	free(dot);
	return ok;
}
#endif

/* Our own drawing: the cycle's objects on a circle, the edges as arrows. */
static void draw_own(struct html *h, const struct pg_cycle_group *gr, size_t gi)
{
	FILE *out = h->out;
	size_t n = gr->nsteps;
	char buf[512];
	double bw = 80;
	for (size_t k = 0; k < n; k++) {
		node_label(h->m, &gr->steps[k], buf, sizeof(buf));
		char *nl = strchr(buf, '\n');
		size_t l1 = nl ? (size_t)(nl - buf) : strlen(buf);
		double w = 7.0 * (double)(l1 > 14 ? l1 : 14) + 16;
		if (w > bw)
			bw = w;
	}
	if (bw > 360)
		bw = 360;
	double bh = 34;
	double r = n <= 1 ? 0 : fmax(70.0, (double)n * (bw + 40) / (2 * M_PI));
	if (n == 2)
		r = bw * 0.5 + 60;
	double W = 2 * r + bw + 40, H = 2 * r + bh + 70;
	double cx = W / 2, cy = H / 2;
	fprintf(out, "<div class=\"cycle own\"><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
		     "viewBox=\"0 0 %.0f %.0f\"><defs><marker id=\"arr%zu\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" "
		     "markerWidth=\"8\" markerHeight=\"8\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#333\"/>"
		     "</marker></defs>\n", W, H, W, H, gi);
	double *px = malloc((n ? n : 1) * sizeof(*px)), *py = malloc((n ? n : 1) * sizeof(*py));
	if (!px || !py) {
		free(px);
		free(py);
		fputs("</svg></div>\n", out);
		return;
	}
	for (size_t k = 0; k < n; k++) {
		double t = -M_PI / 2 + 2 * M_PI * (double)k / (double)n;
		px[k] = cx + r * cos(t);
		py[k] = cy + r * sin(t);
	}
	for (size_t k = 0; k < n; k++) {
		size_t j = (k + 1) % n;
		char *l = pg_escape_dup(gr->steps[k].label ? gr->steps[k].label : "?");
		if (j == k) {
			/* an object that refers to itself */
			fprintf(out, "<path d=\"M%.1f,%.1f c 40,-50 80,0 %.1f,%.1f\" fill=\"none\" stroke=\"#333\" "
				     "marker-end=\"url(#arr%zu)\"/>", px[k] + bw / 2 - 10, py[k] - bh / 2, 10.0, bh / 2, gi);
			fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" class=\"el\">", px[k] + bw / 2 + 30, py[k] - bh / 2 - 14);
		} else {
			double dx = px[j] - px[k], dy = py[j] - py[k];
			double len = sqrt(dx * dx + dy * dy);
			/* from box edge to box edge */
			double sx = fabs(dx) > 1e-9 ? (bw / 2) / fabs(dx) : 1e9, sy = fabs(dy) > 1e-9 ? (bh / 2) / fabs(dy) : 1e9;
			double s = fmin(sx, sy);
			if (s > 0.45)
				s = 0.45;
			fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333\" "
				     "marker-end=\"url(#arr%zu)\"/>", px[k] + dx * s, py[k] + dy * s, px[j] - dx * s, py[j] - dy * s,
				gi);
			double ox = len > 0 ? -dy / len * 12 : 0, oy = len > 0 ? dx / len * 12 : 0;
			fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" class=\"el\" text-anchor=\"middle\">", (px[k] + px[j]) / 2 + ox,
				(py[k] + py[j]) / 2 + oy);
		}
		h_raw(out, l ? l : "?");
		fputs("</text>\n", out);
		free(l);
	}
	for (size_t k = 0; k < n; k++) {
		node_label(h->m, &gr->steps[k], buf, sizeof(buf));
		char *nl = strchr(buf, '\n');
		if (nl)
			*nl = 0;
		fprintf(out, "<g class=\"node\" id=\"pga_0x%" PRIx64 "\"><rect x=\"%.1f\" y=\"%.1f\" width=\"%.0f\" "
			     "height=\"%.0f\" rx=\"5\" fill=\"%s\" stroke=\"#333\" stroke-width=\"%s\"/>",
			h->m->addr[gr->steps[k].from], px[k] - bw / 2, py[k] - bh / 2, bw, bh,
			gr->steps[k].from_finalizer ? "#f4cccc" : "#ffffff", gr->steps[k].from_finalizer ? "2.5" : "1");
		fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", px[k], py[k] - 3);
		h_raw(out, buf);
		fprintf(out, "</text><text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" class=\"na\">", px[k], py[k] + 11);
		h_raw(out, nl ? nl + 1 : "");
		fputs("</text></g>\n", out);
	}
	free(px);
	free(py);
	fputs("</svg></div>\n", out);
}

static void draw_cycle(struct html *h, const struct pg_cycle_group *gr, size_t gi)
{
	if (!gr->nsteps)
		return;
#ifdef PG_HAVE_GVC
	if (draw_gvc(h, gr)) {
		h->gvc_used = true;
		return;
	}
#endif
	h->own_used = true;
	draw_own(h, gr, gi);
}

/* ---- sections --------------------------------------------------------- */

static void pattern(struct html *h, const struct pg_cycle_group *gr, size_t gi)
{
	FILE *out = h->out;
	char b1[32], b2[32], b3[32];
	uint64_t c = gr->components ? gr->components : 1;
	fprintf(out, "<div class=\"pattern k-%s\"><h3><span class=\"count\">x%s</span> <span class=\"shape\">",
		pg_cycle_kind_name(gr->kind), pg_fmt_count(b1, sizeof(b1), gr->components));
	h_text(out, gr->shape);
	fputs("</span></h3>\n<p>", out);
	if (gr->kind == PG_CY_DEFERRED)
		fputs("alive until the next collection: reached only from finalizer objects this one frees", out);
	else if (gr->finalizer) {
		fputs(gr->kind == PG_CY_GARBAGE ? "in gc.garbage" : "uncollectable", out);
		fputs(" because of <span class=\"fin\">", out);
		h_text(out, gr->finalizer);
		fputs("</span>", out);
	} else {
		fputs(gr->kind == PG_CY_COLLECTABLE ? "collectable: a full collection frees it" : pg_cycle_kind_name(gr->kind), out);
	}
	fprintf(out, "</p>\n<p>%s objects (%s untracked), %s per cycle, %s in all; e.g. ", pg_fmt_count(b1, sizeof(b1), gr->objects / c),
		pg_fmt_count(b3, sizeof(b3), gr->untracked_objects / c), pg_fmt_bytes(b2, sizeof(b2), gr->bytes / c),
		pg_fmt_bytes(b3, sizeof(b3), gr->bytes));
	h_text(out, row_name(h->m, h->m->row[gr->steps[0].from]));
	fputs(" at ", out);
	h_addr(h, h->m->addr[gr->steps[0].from]);
	fputs("</p>\n", out);
	draw_cycle(h, gr, gi);
	/* every object of the drawing opens its details too */
	fputs("<p class=\"members\">in the cycle: ", out);
	for (size_t k = 0; k < gr->nsteps; k++) {
		if (k)
			fputs(" &rarr; ", out);
		h_text(out, row_name(h->m, h->m->row[gr->steps[k].from]));
		fputc(' ', out);
		h_addr(h, h->m->addr[gr->steps[k].from]);
		fputs(" <span class=\"label\">", out);
		h_text(out, gr->steps[k].label);
		fputs("</span>", out);
	}
	fputs("</p></div>\n", out);
}

static void verdict(struct html *h)
{
	FILE *out = h->out;
	const struct pg_model *m = h->m;
	const struct pg_collect *c = pg_session_collect(h->a->s);
	const struct pg_cycles *cy = pg_session_cycles(h->a->s);
	char b1[32], b2[32], b3[32];
	fputs("<p class=\"verdict\">", out);
	if (!pg_session_interp(h->a->s)->garbage_found)
		fputs("gc.garbage: not found in this interpreter (see warnings). ", out);
	else if (!m->ngarbage)
		fputs("gc.garbage is empty. ", out);
	else {
		uint64_t kept = 0, kb = 0;
		size_t np = 0;
		for (size_t i = 0; cy && i < cy->ngroups; i++)
			if (cy->groups[i].kind == PG_CY_GARBAGE) {
				kept += cy->groups[i].objects;
				kb += cy->groups[i].bytes;
				np++;
			}
		fprintf(out, "gc.garbage holds <b>%s</b> object%s", pg_fmt_count(b1, sizeof(b1), m->ngarbage), m->ngarbage == 1 ? "" : "s");
		if (cy)
			fprintf(out, " keeping %s objects alive (%s): <b>%zu leak pattern%s</b>", pg_fmt_count(b2, sizeof(b2), kept),
				pg_fmt_bytes(b3, sizeof(b3), kb), np, np == 1 ? "" : "s");
		fputs(". ", out);
	}
	if (c) {
		if (!c->n_unreachable)
			fputs("A full collection now would find no cyclic garbage.", out);
		else {
			fprintf(out, "A full collection now would free %s tracked objects (%s)", pg_fmt_count(b1, sizeof(b1), c->n_freed),
				pg_fmt_bytes(b2, sizeof(b2), c->b_freed));
			if (c->n_uncollectable)
				fprintf(out, " and leave <b>%s</b> uncollectable behind %s finalizer%s.",
					pg_fmt_count(b3, sizeof(b3), c->n_uncollectable), pg_fmt_count(b1, sizeof(b1), c->n_finalizers),
					c->n_finalizers == 1 ? "" : "s");
			else
				fputs(" and add nothing to gc.garbage.", out);
		}
	}
	fputs("</p>\n", out);
}

static void patterns_section(struct html *h)
{
	FILE *out = h->out;
	const struct pg_cycles *cy = pg_session_cycles(h->a->s);
	fputs("<section id=\"patterns\"><h2>Leak patterns</h2>\n", out);
	if (!cy) {
		fputs("<p>The cycle analysis did not run.</p></section>\n", out);
		return;
	}
	/* gc.garbage's patterns, then the collection's: the text report's order */
	size_t total = 0;
	for (int pass = 0; pass < 2; pass++) {
		size_t shown = 0, inview = 0;
		for (size_t gi = 0; gi < cy->ngroups; gi++) {
			const struct pg_cycle_group *gr = &cy->groups[gi];
			if ((gr->kind == PG_CY_GARBAGE) != (pass == 0))
				continue;
			inview++;
			if (shown >= h->a->max_groups)
				continue;
			if (!shown)
				fputs(pass == 0 ? "<h3 class=\"view\">what gc.garbage keeps alive</h3>\n"
						: "<h3 class=\"view\">what a full collection would find now</h3>\n",
				      out);
			shown++;
			pattern(h, gr, gi);
		}
		if (inview > shown)
			fprintf(out, "<p class=\"more\">... %zu more pattern%s (--max-groups N, or --json)</p>\n", inview - shown,
				inview - shown == 1 ? "" : "s");
		total += inview;
	}
	if (!total)
		fputs("<p>No reference cycles among the unreachable objects, and none that gc.garbage keeps.</p>\n", out);
	fputs("<p class=\"layout\">", out);
	if (h->gvc_used && !h->own_used)
		fputs("Cycles laid out by Graphviz (libgvc, the dot layout).", out);
	else if (h->gvc_used)
		fputs("Cycles laid out by Graphviz (libgvc), some by pycore-garbage's own drawing (Graphviz could not lay them out).", out);
	else if (h->own_used)
#ifdef PG_HAVE_GVC
		fputs("Cycles drawn by pycore-garbage's own layout (Graphviz's library could not lay them out).", out);
#else
		fputs("Cycles drawn by pycore-garbage's own layout (built without Graphviz's library, libgvc).", out);
#endif
	fputs(" Finalizer objects are shaded.</p>\n</section>\n", out);
}

static void retainers_section(struct html *h)
{
	FILE *out = h->out;
	const struct pg_retention *r = pg_session_retention(h->a->s);
	const struct pg_model *m = h->m;
	char b1[32], b2[32];
	fputs("<section id=\"retainers\"><h2>Largest retainers</h2>\n", out);
	if (!r) {
		fputs("<p>The retention analysis did not run (--no-retention, --no-collect).</p></section>\n", out);
		return;
	}
	fprintf(out, "<p>%s objects (%s) are reached from the roots", pg_fmt_count(b1, sizeof(b1), r->nreached),
		pg_fmt_bytes(b2, sizeof(b2), r->reached_bytes));
	if (r->unreached)
		fprintf(out, "; %s (%s) from none (cyclic garbage)", pg_fmt_count(b1, sizeof(b1), r->unreached),
			pg_fmt_bytes(b2, sizeof(b2), r->unreached_bytes));
	fputs(". What would be freed with each:</p>\n<table class=\"sortable\"><thead><tr><th data-t=\"n\">#</th>"
	      "<th data-t=\"n\">retained</th><th data-t=\"n\">objects</th><th>type</th><th>address</th><th>path</th>"
	      "<th>root</th><th>holds</th></tr></thead><tbody>\n", out);
	for (size_t q = 0; q < r->nretainers && q < HTML_RETAINERS; q++) {
		const struct pg_retainer *rt = &r->retainers[q];
		fprintf(out, "<tr><td data-v=\"%zu\">%zu</td><td data-v=\"%" PRIu64 "\">%s</td><td data-v=\"%" PRIu64 "\">%s</td><td>",
			q + 1, q + 1, rt->bytes, pg_fmt_bytes(b1, sizeof(b1), rt->bytes), rt->count, pg_fmt_count(b2, sizeof(b2), rt->count));
		h_text(out, row_name(m, m->row[rt->node]));
		fputs("</td><td>", out);
		h_addr(h, m->addr[rt->node]);
		fputs("</td><td class=\"path\">", out);
		char *expr = pg_session_retainer_expr(h->a->s, rt);
		h_text(out, expr ? expr : "");
		free(expr);
		fputs("</td><td>", out);
		const char *kind;
		char *name = pg_session_retainer_root(h->a->s, rt, &kind);
		h_text(out, name ? name : "");
		free(name);
		fputs("</td><td>", out);
		for (size_t t = 0; t < rt->ntypes; t++) {
			fprintf(out, "%s%s ", t ? ", " : "", pg_fmt_count(b1, sizeof(b1), rt->types[t].count));
			h_text(out, row_name(m, rt->types[t].row));
			fprintf(out, " (%s)", pg_fmt_bytes(b2, sizeof(b2), rt->types[t].bytes));
		}
		fputs("</td></tr>\n", out);
	}
	fputs("</tbody></table>\n", out);
	if (r->nretainers > HTML_RETAINERS)
		fprintf(out, "<p class=\"more\">... %zu more in --json</p>\n", r->nretainers - HTML_RETAINERS);
	fputs("</section>\n", out);
}

static const char *const palette[] = { "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948",
				       "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac", "#86bcb6", "#d37295" };
#define NPAL (sizeof(palette) / sizeof(palette[0]))

static const char *mem_label(const struct pg_memory_node *x, char *buf, size_t cap)
{
	if (x->name) {
		char *e = pg_escape_dup(x->name);
		snprintf(buf, cap, "%s %s", x->kind, e ? e : "?");
		free(e);
	} else {
		snprintf(buf, cap, "%s", x->kind);
	}
	return buf;
}

static void memory_section(struct html *h)
{
	FILE *out = h->out;
	const struct pg_memory *mem = pg_session_memory(h->a->s);
	char b1[32], lb[600];
	fputs("<section id=\"memory\"><h2>Memory</h2>\n", out);
	if (!mem || !mem->nnodes || !mem->nodes[0].bytes) {
		fputs("<p>The memory tree did not run (--no-memory).</p></section>\n", out);
		return;
	}
	const struct pg_memory_node *root = &mem->nodes[0];
	fprintf(out, "<p>%s in the core, by what it is:</p>\n", pg_fmt_bytes(b1, sizeof(b1), root->bytes));
	/* the shares as one stacked bar */
	const double W = 960, BH = 36;
	uint64_t sum = 0;
	for (size_t i = 0; i < mem->nshares; i++)
		sum += mem->shares[i].bytes;
	fprintf(out, "<svg class=\"bar\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\">",
		W, BH, W, BH);
	double x = 0;
	for (size_t i = 0; sum && i < mem->nshares; i++) {
		double w = W * (double)mem->shares[i].bytes / (double)sum;
		fprintf(out, "<rect x=\"%.2f\" y=\"0\" width=\"%.2f\" height=\"%.0f\" fill=\"%s\"><title>", x, w, BH,
			palette[i % NPAL]);
		h_text(out, mem->shares[i].what);
		fprintf(out, ": %s</title></rect>", pg_fmt_bytes(b1, sizeof(b1), mem->shares[i].bytes));
		x += w;
	}
	fputs("</svg>\n<ul class=\"legend\">", out);
	for (size_t i = 0; i < mem->nshares; i++) {
		fprintf(out, "<li><span class=\"sw\" style=\"background:%s\"></span>", palette[i % NPAL]);
		h_text(out, mem->shares[i].what);
		fprintf(out, " %s (%.1f%%)</li>", pg_fmt_bytes(b1, sizeof(b1), mem->shares[i].bytes),
			100.0 * (double)mem->shares[i].bytes / (double)root->bytes);
	}
	fputs("</ul>\n", out);
	/* the tree's first two levels as a treemap (slice and dice) */
	const double TW = 960, TH = 320;
	fprintf(out, "<svg class=\"treemap\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
		     "viewBox=\"0 0 %.0f %.0f\">\n", TW, TH, TW, TH);
	double x0 = 0;
	for (uint32_t c = 0; c < root->n; c++) {
		const struct pg_memory_node *ch = &mem->nodes[root->first + c];
		double w = TW * (double)ch->bytes / (double)root->bytes;
		if (w < 0.5) {
			x0 += w;
			continue;
		}
		const char *col = palette[c % NPAL];
		fprintf(out, "<g><rect x=\"%.2f\" y=\"0\" width=\"%.2f\" height=\"%.0f\" fill=\"%s\" stroke=\"#fff\"><title>", x0, w,
			TH, col);
		h_raw(out, mem_label(ch, lb, sizeof(lb)));
		fprintf(out, ": %s</title></rect>\n", pg_fmt_bytes(b1, sizeof(b1), ch->bytes));
		double y0 = 18;
		for (uint32_t k = 0; ch->bytes && k < ch->n; k++) {
			const struct pg_memory_node *gc = &mem->nodes[ch->first + k];
			double hh = (TH - 18) * (double)gc->bytes / (double)ch->bytes;
			if (hh >= 0.5) {
				fprintf(out, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"%s\" "
					     "fill-opacity=\"0.55\" stroke=\"#fff\"><title>", x0 + 2, y0, w > 4 ? w - 4 : w, hh, col);
				h_raw(out, mem_label(gc, lb, sizeof(lb)));
				fprintf(out, ": %s</title></rect>\n", pg_fmt_bytes(b1, sizeof(b1), gc->bytes));
				if (hh > 14 && w > 70) {
					fprintf(out, "<text x=\"%.2f\" y=\"%.2f\" class=\"tm\">", x0 + 5, y0 + 12);
					mem_label(gc, lb, sizeof(lb));
					int maxc = (int)((w - 8) / 6.5);
					if ((int)strlen(lb) > maxc && maxc > 1)
						lb[maxc] = 0;
					h_raw(out, lb);
					fputs("</text>\n", out);
				}
			}
			y0 += hh;
		}
		if (w > 60) {
			fprintf(out, "<text x=\"%.2f\" y=\"13\" class=\"tm b\">", x0 + 4);
			mem_label(ch, lb, sizeof(lb));
			int maxc = (int)((w - 8) / 7);
			if ((int)strlen(lb) > maxc && maxc > 1)
				lb[maxc] = 0;
			h_raw(out, lb);
			fputs("</text>", out);
		}
		fputs("</g>\n", out);
		x0 += w;
	}
	fputs("</svg>\n<p class=\"note\">Each column is a part of the core's memory, its boxes the parts of it (hover for names and sizes).",
	      out);
	if (mem->malloc_source) {
		fputs(" glibc malloc's state from ", out);
		h_raw(out, mem->malloc_source);
		fputs(".", out);
	}
	fputs("</p>\n</section>\n", out);
}

static void garbage_section(struct html *h)
{
	FILE *out = h->out;
	const struct pg_model *m = h->m;
	char b1[32];
	fputs("<section id=\"garbage\"><h2>gc.garbage</h2>\n", out);
	if (!m->ngarbage) {
		fputs("<p>gc.garbage is empty.</p></section>\n", out);
		return;
	}
	fputs("<table class=\"sortable\"><thead><tr><th data-t=\"n\">index</th><th>address</th><th>type</th>"
	      "<th data-t=\"n\">refcount</th><th data-t=\"n\">size</th></tr></thead><tbody>\n", out);
	for (size_t i = 0; i < m->ngarbage && i < HTML_GARBAGE_ROWS; i++) {
		const struct pg_garbage_item *gi = &m->garbage[i];
		fprintf(out, "<tr><td data-v=\"%zu\">%zu</td><td>", i, i);
		h_addr(h, gi->addr);
		fputs("</td><td>", out);
		h_text(out, gi->row == PG_NONE ? "<unreadable>" : row_name(m, gi->row));
		if (gi->readable)
			fprintf(out, "</td><td data-v=\"%" PRId64 "\">%" PRId64 "</td><td data-v=\"%" PRIu64 "\">%s</td></tr>\n",
				gi->refcnt, gi->refcnt, gi->size, pg_fmt_bytes(b1, sizeof(b1), gi->size));
		else
			fputs("</td><td data-v=\"0\">?</td><td data-v=\"0\">?</td></tr>\n", out);
	}
	fputs("</tbody></table>\n", out);
	if (m->ngarbage > HTML_GARBAGE_ROWS)
		fprintf(out, "<p class=\"more\">... %s more (all with --json)</p>\n", pg_fmt_count(b1, sizeof(b1), m->ngarbage - HTML_GARBAGE_ROWS));
	fputs("</section>\n", out);
}

static void histogram_section(struct html *h)
{
	FILE *out = h->out;
	const struct pg_model *m = h->m;
	char b1[32], b2[32], b3[32];
	fprintf(out, "<section id=\"histogram\"><h2>Histogram</h2>\n<p>%s%s tracked objects (%s) in generations %s / %s / %s",
		m->walk_limited ? "at least " : "", pg_fmt_count(b1, sizeof(b1), m->tracked), pg_fmt_bytes(b2, sizeof(b2), m->tracked_bytes),
		pg_fmt_count(b3, sizeof(b3), m->gens[0].count), pg_fmt_count(b1, sizeof(b1), m->gens[1].count), pg_fmt_count(b2, sizeof(b2), m->gens[2].count));
	if (m->has_all)
		fprintf(out, "; and %s untracked objects (%s) they hold", pg_fmt_count(b1, sizeof(b1), m->untracked),
			pg_fmt_bytes(b2, sizeof(b2), m->untracked_bytes));
	fputs(". Click a column to sort.</p>\n<table class=\"sortable\" id=\"hist\"><thead><tr><th data-t=\"n\">count</th>"
	      "<th data-t=\"n\">bytes</th><th>type</th><th>tracked</th></tr></thead><tbody>\n", out);
	uint32_t *order = pg_rows_sorted(m);
	size_t shown = 0, total = 0;
	for (size_t i = 0; order && i < m->nrows; i++) {
		const struct pg_row *r = &m->rows[order[i]];
		for (int u = 0; u < 2; u++) {
			uint64_t cnt = u ? r->ucount : r->count, by = u ? r->ubytes : r->bytes;
			if (!cnt)
				continue;
			total++;
			if (shown >= HTML_HIST_ROWS)
				continue;
			shown++;
			fprintf(out, "<tr><td data-v=\"%" PRIu64 "\">%s</td><td data-v=\"%" PRIu64 "\">%s</td><td>", cnt,
				pg_fmt_count(b1, sizeof(b1), cnt), by, pg_fmt_bytes(b2, sizeof(b2), by));
			h_text(out, r->name);
			if (r->oldstyle)
				fputs(" (old-style instance)", out);
			fprintf(out, "</td><td>%s</td></tr>\n", u ? "untracked" : "tracked");
		}
	}
	free(order);
	fputs("</tbody></table>\n", out);
	if (total > shown)
		fprintf(out, "<p class=\"more\">... %zu more rows (--json)</p>\n", total - shown);
	fputs("</section>\n", out);
}

/* nodes the model has: every object with retention, else the graph */
static size_t m_nall(const struct pg_model *m)
{
	return m->has_all ? m->nall : m->n;
}

static void threads_section(struct html *h)
{
	FILE *out = h->out;
	const struct pg_core_info *c = pg_session_core(h->a->s);
	const struct pg_retention *r = pg_session_retention(h->a->s);
	fprintf(out, "<section id=\"threads\"><h2>Threads</h2>\n<p>%d thread%s in the core.", c->threads,
		c->threads == 1 ? "" : "s");
	if (!r) {
		fputs(" (Their frames are named with the retention analysis.)</p></section>\n", out);
		return;
	}
	fputs(" What the threads hold (their frames, innermost first, and their state):</p>\n<table><thead><tr><th>root</th>"
	      "<th>object</th><th>address</th><th data-t=\"n\">retains</th></tr></thead><tbody>\n", out);
	size_t shown = 0, total = 0;
	char b1[32];
	for (uint32_t i = 0; i < r->nroots; i++) {
		if (r->roots[i].kind != PG_ROOT_THREAD)
			continue;
		total++;
		if (shown >= HTML_THREAD_ROOTS)
			continue;
		shown++;
		const char *kind;
		char *name = NULL, *expr = NULL;
		pg_error *err = pg_session_root_text(h->a->s, i, &kind, &name, &expr);
		if (err) {
			pg_error_destroy(err);
			continue;
		}
		uint32_t node = r->roots[i].node;
		fputs("<tr><td>", out);
		h_text(out, name);
		fputs("</td><td>", out);
		h_text(out, node < m_nall(h->m) ? row_name(h->m, h->m->row[node]) : "?");
		fputs("</td><td>", out);
		if (node < m_nall(h->m))
			h_addr(h, h->m->addr[node]);
		uint64_t rc = 0, rb = 0;
		if (node < m_nall(h->m) && pg_retained(r, node, &rc, &rb))
			fprintf(out, "</td><td data-v=\"%" PRIu64 "\">%s", rb, pg_fmt_bytes(b1, sizeof(b1), rb));
		else
			fputs("</td><td data-v=\"0\">", out);
		fputs("</td></tr>\n", out);
		free(name);
		free(expr);
	}
	fputs("</tbody></table>\n", out);
	if (total > shown)
		fprintf(out, "<p class=\"more\">... %zu more</p>\n", total - shown);
	fputs("</section>\n", out);
}

static void warnings_section(struct html *h)
{
	FILE *out = h->out;
	size_t nw = pg_session_nwarnings(h->a->s);
	fputs("<section id=\"warnings\"><h2>Warnings</h2>\n", out);
	if (!nw) {
		fputs("<p>none</p></section>\n", out);
		return;
	}
	fputs("<ul>", out);
	for (size_t i = 0; i < nw; i++) {
		fputs("<li>", out);
		h_text(out, pg_session_warning(h->a->s, i));
		fputs("</li>\n", out);
	}
	if (pg_session_warnings_dropped(h->a->s))
		fprintf(out, "<li>... and %zu more</li>", pg_session_warnings_dropped(h->a->s));
	fputs("</ul></section>\n", out);
}

/* ---- the embedded details --------------------------------------------- */



static json_t *refs_json(const struct pg_object_ref *v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n && i < HTML_REFS; i++) {
		json_t *o = json_object();
		json_object_set_new(o, "a", pg_json_addr(v[i].addr));
		json_object_set_new(o, "t", pg_json_str(v[i].type));
		json_object_set_new(o, "l", pg_json_str(v[i].label));
		json_array_append_new(a, o);
	}
	return a;
}

/* The details of one address, or NULL when it is no object. */
static json_t *details(struct html *h, uint64_t addr)
{
	pg_session *s = h->a->s;
	struct pg_object *o = NULL;
	pg_error *err = pg_session_object(s, addr, &o);
	if (err) {
		pg_error_destroy(err);
		return NULL;
	}
	json_t *j = json_object();
	json_object_set_new(j, "type", pg_json_str(o->type));
	if (o->oldstyle)
		json_object_set_new(j, "oldstyle", json_true());
	json_object_set_new(j, "size", json_integer((json_int_t)o->size));
	if (o->have_refcnt)
		json_object_set_new(j, "refcnt", json_integer((json_int_t)o->refcnt));
	json_object_set_new(j, "gen", json_integer(o->generation));
	if (o->value)
		json_object_set_new(j, "value", pg_json_str(o->value));
	if (o->finalizer)
		json_object_set_new(j, "finalizer", pg_json_str(o->finalizer));
	if (o->type_object)
		json_object_set_new(j, "type_object", pg_json_str(o->type_object));
	const struct pg_collect *c = pg_session_collect(s);
	if (c && o->index != PG_NONE)
		json_object_set_new(j, "state", json_string(pg_state_text(c, o->index)));
	if (o->have_retained) {
		json_object_set_new(j, "ret_count", json_integer((json_int_t)o->retained_count));
		json_object_set_new(j, "ret_bytes", json_integer((json_int_t)o->retained_bytes));
	}
	json_object_set_new(j, "referents", refs_json(o->referents, o->nreferents));
	json_object_set_new(j, "nreferents", json_integer((json_int_t)o->nreferents));
	json_object_set_new(j, "referrers", refs_json(o->referrers, o->nreferrers));
	json_object_set_new(j, "nreferrers", json_integer((json_int_t)o->nreferrers));
	pg_object_free(o);
	if (pg_session_retention(s)) {
		struct pg_why *w = NULL;
		err = pg_session_why(s, addr, &w);
		if (err) {
			pg_error_destroy(err);
		} else {
			json_t *wj = json_object();
			json_object_set_new(wj, "reached", json_boolean(w->reached));
			if (w->reached) {
				json_object_set_new(wj, "expr", pg_json_str(w->expr));
				json_object_set_new(wj, "root", pg_json_str(w->root_name));
				json_object_set_new(wj, "kind", pg_json_str(w->root_kind));
				json_t *st = json_array();
				size_t from = w->nsteps > HTML_WHY_STEPS ? w->nsteps - HTML_WHY_STEPS : 0;
				if (from)
					json_object_set_new(wj, "cut", json_integer((json_int_t)from));
				for (size_t i = from; i < w->nsteps; i++) {
					json_t *e = json_object();
					json_object_set_new(e, "a", pg_json_addr(w->steps[i].addr));
					json_object_set_new(e, "t", pg_json_str(w->steps[i].type));
					json_object_set_new(e, "l", w->steps[i].label ? pg_json_str(w->steps[i].label) : json_null());
					json_array_append_new(st, e);
				}
				json_object_set_new(wj, "steps", st);
			} else {
				json_object_set_new(wj, "referenced", json_boolean(w->in_graph));
				if (w->group)
					json_object_set_new(wj, "group", pg_json_str(w->group->shape));
			}
			json_object_set_new(j, "why", wj);
			pg_why_free(w);
		}
	}
	return j;
}

/* JSON inside <script>: '<', '>' and '&' as \u escapes (they occur only in
 * strings), so no "</script>" or "<!--" can end or confuse it. */
static void put_json(FILE *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '<')
			fputs("\\u003c", out);
		else if (*s == '>')
			fputs("\\u003e", out);
		else if (*s == '&')
			fputs("\\u0026", out);
		else
			fputc(*s, out);
	}
}

static void data_script(struct html *h)
{
	json_t *objs = json_object();
	/* the shown addresses, then their referents and referrers while room is left */
	size_t primary = h->naddrs;
	for (size_t i = 0; i < h->naddrs; i++) {
		json_t *d = details(h, h->addrs[i]);
		if (!d)
			continue;
		char key[24];
		snprintf(key, sizeof(key), "0x%" PRIx64, h->addrs[i]);
		if (i < primary) {
			/* one level more: what the shown objects point to and from */
			const char *lists[2] = { "referents", "referrers" };
			for (int li = 0; li < 2; li++) {
				json_t *arr = json_object_get(d, lists[li]), *e;
				size_t k;
				json_array_foreach (arr, k, e) {
					const char *as = json_string_value(json_object_get(e, "a"));
					uint64_t a = as ? strtoull(as, NULL, 16) : 0;
					bool seen = false;
					for (size_t q = 0; q < h->naddrs && !seen; q++)
						seen = h->addrs[q] == a;
					if (!a || seen || h->naddrs >= HTML_DETAILS)
						continue;
					if (h->naddrs == h->capaddrs) {
						size_t nc = h->capaddrs ? 2 * h->capaddrs : 64;
						uint64_t *na = realloc(h->addrs, nc * sizeof(*na));
						if (!na)
							continue;
						h->addrs = na;
						h->capaddrs = nc;
					}
					h->addrs[h->naddrs++] = a;
				}
			}
		}
		json_object_set_new(objs, key, d);
	}
	json_t *root = json_object();
	json_object_set_new(root, "objects", objs);
	json_object_set_new(root, "max", json_integer(HTML_DETAILS));
	char *s = json_dumps(root, JSON_COMPACT | JSON_ESCAPE_SLASH);
	json_decref(root);
	fputs("<script type=\"application/json\" id=\"pg-data\">", h->out);
	put_json(h->out, s ? s : "{\"objects\":{}}");
	fputs("</script>\n", h->out);
	free(s);
}

/* ---- the page ----------------------------------------------------------- */

int pg_report_html(FILE *out, const struct pg_report *a)
{
	struct html h = { .out = out, .a = a, .m = pg_session_model(a->s) };
	const struct pg_core_info *c = pg_session_core(a->s);
	const struct pg_interp_info *in = pg_session_interp(a->s);
	const char *base = strrchr(c->path, '/');
	base = base ? base + 1 : c->path;
	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<meta name=\"generator\" content=\"pycore-garbage\">\n<title>pycore-garbage: ",
	      out);
	h_text(out, base);
	fputs("</title>\n<style>\n", out);
	fputs(pg_html_css, out);
	fputs("</style>\n</head><body>\n<header><h1>pycore-garbage: ", out);
	h_text(out, base);
	fputs("</h1>\n<p class=\"facts\">", out);
	if (pg_session_partial(a->s))
		fputs("<b class=\"partial\">PARTIAL RESULT: parts of this core could not be read (see the warnings).</b><br>", out);
	fprintf(out, "pid %d &middot; ", c->pid);
	h_text(out, in->modname);
	fputs(" &middot; Python ", out);
	h_text(out, in->version[0] ? in->version : "2.7 (version string unreadable)");
	fprintf(out, " &middot; %s build &middot; %d thread%s, dumped by %s", in->debug_build ? "debug" : "release", c->threads,
		c->threads == 1 ? "" : "s", pg_made_by_name(c->made_by));
	if (c->command && c->command[0]) {
		fputs(" &middot; command: ", out);
		h_text(out, c->command);
	}
	fputs("</p>\n", out);
	verdict(&h);
	fputs("<nav><a href=\"#patterns\">leak patterns</a> <a href=\"#retainers\">retainers</a> <a href=\"#memory\">memory</a> "
	      "<a href=\"#garbage\">gc.garbage</a> <a href=\"#histogram\">histogram</a> <a href=\"#threads\">threads</a> "
	      "<a href=\"#warnings\">warnings</a></nav>\n</header>\n<main>\n",
	      out);
	patterns_section(&h);
	retainers_section(&h);
	memory_section(&h);
	garbage_section(&h);
	histogram_section(&h);
	threads_section(&h);
	warnings_section(&h);
	fputs("</main>\n<aside id=\"details\" hidden><button id=\"close\" title=\"close\">&times;</button><div id=\"dbody\"></div></aside>\n",
	      out);
	data_script(&h);
	fputs("<script>\n", out);
	fputs(pg_html_js, out);
	fputs("</script>\n</body></html>\n", out);
	free(h.addrs);
#ifdef PG_HAVE_GVC
	if (h.gvc)
		gvFreeContext(h.gvc);
#endif
	return ferror(out) ? -1 : 0;
}
