#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

struct ref {
	uint64_t addr;
	struct pg_label label;
};

struct refs {
	struct ref *v;
	size_t n, cap;
	bool full;
};

#define MAX_LISTED 10000

static void collect_ref(void *arg, uint64_t ref, uint8_t kind, uint64_t payload)
{
	struct refs *r = arg;
	if (r->n >= MAX_LISTED) {
		r->full = true;
		return;
	}
	if (pg_grow((void **)&r->v, &r->cap, r->n + 1, sizeof(*r->v))) {
		r->full = true;
		return;
	}
	r->v[r->n++] = (struct ref){ ref, { kind, payload } };
}

/* The type name of any object (tracked or not), "?" when unreadable. */
static const char *name_of(const struct pg_analysis *a, uint64_t addr)
{
	struct pg_heap *h = a->heap;
	uint64_t type;
	pg_error *err = pg_read_u64(&h->core->mem, addr + (uint64_t)h->in->L.ob_type.off, &type);
	if (err) {
		pg_error_destroy(err);
		return "?";
	}
	uint32_t idx;
	err = pg_heap_type(h, type, &idx);
	if (err) {
		pg_error_destroy(err);
		return "?";
	}
	return h->rows[pg_heap_row_of(h, addr, idx)].name;
}

static const char *state_text(const struct pg_collect *c, uint32_t i)
{
	if (!c)
		return "not computed";
	if (c->state[i] & PG_S_REACHABLE)
		return "reachable";
	if (pg_is_new_garbage(c, i))
		return "unreachable, uncollectable: has a finalizer, gc.garbage would gain it";
	if (pg_is_uncollectable(c, i))
		return "unreachable, uncollectable: reached from a finalizer";
	return "unreachable, freed by a full collection";
}

int pg_report_object(FILE *out, const struct pg_analysis *a, uint64_t addr, bool as_json)
{
	struct pg_heap *h = a->heap;
	const struct pg_graph *g = a->graph;
	uint32_t i = pg_graph_index(g, addr);
	if (i == PG_NONE)
		return -3;
	const struct pg_type *t = &h->types[g->type[i]];
	uint32_t row = pg_heap_row_of(h, addr, g->type[i]);
	uint64_t size = pg_heap_size_of(h, addr, t);
	struct refs r = { 0 };
	bool approx = false;
	pg_error *err = pg_traverse_object(a->trav, addr, g->type[i], collect_ref, &r, &approx);
	pg_error_destroy(err);
	char *fin = (a->coll && pg_has_finalizer(a->trav, addr, g->type[i], NULL))
		? pg_finalizer_source(a->trav, addr, g->type[i]) : NULL;
	char lab[256];
	json_t *root = as_json ? json_object() : NULL;
	json_t *jrefs = as_json ? json_array() : NULL, *jback = as_json ? json_array() : NULL;
	if (as_json) {
		char buf[24];
		snprintf(buf, sizeof(buf), "0x%" PRIx64, addr);
		json_object_set_new(root, "addr", json_string(buf));
		json_object_set_new(root, "type", json_string(h->rows[row].name));
		json_object_set_new(root, "oldstyle", json_boolean(h->rows[row].oldstyle));
		json_object_set_new(root, "tp_name", json_string(t->name));
		json_object_set_new(root, "size", json_integer((json_int_t)size));
		json_object_set_new(root, "refcnt", json_integer(g->refcnt[i]));
		json_object_set_new(root, "generation", json_integer(g->gen[i]));
		json_object_set_new(root, "state", json_string(state_text(a->coll, i)));
		json_object_set_new(root, "finalizer", fin ? json_string(fin) : json_null());
		json_object_set_new(root, "approximate", json_boolean(approx));
	} else {
		fprintf(out, "0x%" PRIx64 "  %s%s  (type %s)\n", addr, h->rows[row].name,
			h->rows[row].oldstyle ? " (old-style instance)" : "", t->name);
		fprintf(out, "  size %" PRIu64 " B, refcnt %" PRId64 ", generation %u, %s\n", size, g->refcnt[i],
			g->gen[i], state_text(a->coll, i));
		if (fin)
			fprintf(out, "  finalizer: %s\n", fin);
		fprintf(out, "  referents%s:\n", approx ? " (conservative scan: approximate)" : "");
	}
	for (size_t k = 0; k < r.n; k++) {
		pg_label_format(h, &r.v[k].label, lab, sizeof(lab));
		bool tracked = pg_graph_index(g, r.v[k].addr) != PG_NONE;
		const char *tn = name_of(a, r.v[k].addr);
		if (as_json) {
			char buf[24];
			snprintf(buf, sizeof(buf), "0x%" PRIx64, r.v[k].addr);
			json_t *o = json_object();
			json_object_set_new(o, "label", json_string(lab));
			json_object_set_new(o, "addr", json_string(buf));
			json_object_set_new(o, "type", json_string(tn));
			json_object_set_new(o, "tracked", json_boolean(tracked));
			json_array_append_new(jrefs, o);
		} else {
			fprintf(out, "    %-28s -> %s at 0x%" PRIx64 "%s\n", lab, tn, r.v[k].addr, tracked ? "" : " (untracked)");
		}
	}
	if (r.full && !as_json)
		fprintf(out, "    ... (first %d shown)\n", MAX_LISTED);
	if (!as_json)
		fprintf(out, "  referrers among the tracked objects:\n");
	size_t nback = 0;
	for (uint32_t s = 0; s < g->n && nback < MAX_LISTED; s++) {
		for (uint64_t e = g->estart[s]; e < g->estart[s + 1]; e++) {
			if (g->eto[e] != i)
				continue;
			struct pg_label l = { PG_L_NAME, (uint64_t)(uintptr_t)"?" };
			pg_graph_labels(h, a->trav, g, s, i, &l, 1);
			pg_label_format(h, &l, lab, sizeof(lab));
			uint32_t srow = pg_heap_row_of(h, g->addr[s], g->type[s]);
			if (as_json) {
				char buf[24];
				snprintf(buf, sizeof(buf), "0x%" PRIx64, g->addr[s]);
				json_t *o = json_object();
				json_object_set_new(o, "addr", json_string(buf));
				json_object_set_new(o, "type", json_string(h->rows[srow].name));
				json_object_set_new(o, "label", json_string(lab));
				json_array_append_new(jback, o);
			} else {
				fprintf(out, "    %s at 0x%" PRIx64 " via %s\n", h->rows[srow].name, g->addr[s], lab);
			}
			nback++;
			break;
		}
	}
	if (!nback && !as_json)
		fprintf(out, "    (none: only untracked objects or C code refer to it)\n");
	int ret = 0;
	if (as_json) {
		json_object_set_new(root, "referents", jrefs);
		json_object_set_new(root, "referrers", jback);
		ret = json_dumpf(root, out, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
		fputc('\n', out);
		json_decref(root);
	}
	free(fin);
	free(r.v);
	return ret || ferror(out) ? -1 : 0;
}
