#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "text.h"
#include "values.h"

struct ref {
	uint64_t addr;
	struct pg_label label;
};

struct refs {
	struct ref *v;
	size_t n, cap;
	bool full;
	uint64_t target;   /* referrer search: the object looked for */
	bool hit;
	struct pg_label hit_label;
};

#define MAX_LISTED 10000
#define PREVIEW_MAX 80

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

static void find_target(void *arg, uint64_t ref, uint8_t kind, uint64_t payload)
{
	struct refs *r = arg;
	if (ref == r->target && !r->hit) {
		r->hit = true;
		r->hit_label = (struct pg_label){ kind, payload };
	}
}

/* An object anywhere in the core: its type entry, when its type pointer
 * leads to a valid type object. */
static bool object_type(const struct pg_analysis *a, uint64_t addr, uint32_t *idx)
{
	struct pg_heap *h = a->heap;
	uint64_t type;
	if (addr & 7)
		return false;
	pg_error *err = pg_read_u64(&h->core->mem, addr + (uint64_t)h->in->L.ob_type.off, &type);
	if (!err)
		err = pg_heap_type(h, type, idx);
	if (err) {
		pg_error_destroy(err);
		return false;
	}
	return h->types[*idx].valid;
}

static const char *name_of(const struct pg_analysis *a, uint64_t addr)
{
	uint32_t idx;
	if (!object_type(a, addr, &idx))
		return "?";
	return a->heap->rows[pg_heap_row_of(a->heap, addr, idx)].name;
}

static const char *role_of(const struct pg_analysis *a, uint64_t addr)
{
	return a->heap->garbage_exists && addr == a->heap->garbage_list ? "gc.garbage" : NULL;
}

static const char *state_text(const struct pg_collect *c, uint32_t i)
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

/* Does the collection run tp_traverse on it: PyObject_IS_GC. */
static bool is_gc(const struct pg_analysis *a, uint64_t addr, const struct pg_type *t)
{
	if (!(t->flags & PG_TPFLAGS_HAVE_GC))
		return false;
	if (t->kind != PG_K_TYPE)
		return true;
	uint64_t flags;
	pg_error *err = pg_read_u64(&a->heap->core->mem, addr + (uint64_t)a->heap->in->L.tp_flags.off, &flags);
	pg_error_destroy(err);
	return !err && (flags & PG_TPFLAGS_HEAPTYPE);
}

static json_t *jstr(const char *s)
{
	char *u = s ? pg_utf8_dup(s) : NULL;
	json_t *j = u ? json_string(u) : NULL;
	free(u);
	return j ? j : json_null();
}

static json_t *jaddr(uint64_t addr)
{
	char buf[24];
	snprintf(buf, sizeof(buf), "0x%" PRIx64, addr);
	return json_string(buf);
}

static void fput_esc(FILE *out, const char *s)
{
	pg_fputs_escaped(s ? s : "", out);
}

int pg_report_object(FILE *out, const struct pg_analysis *a, uint64_t addr, bool as_json)
{
	struct pg_heap *h = a->heap;
	const struct pg_graph *g = a->graph;
	uint32_t i = pg_graph_index(g, addr), tidx;
	if (i != PG_NONE)
		tidx = g->type[i];
	else if (!object_type(a, addr, &tidx))
		return -3;
	const struct pg_type *t = &h->types[tidx];
	uint32_t row = pg_heap_row_of(h, addr, tidx);
	t = &h->types[tidx]; /* the row lookup may have added types */
	uint64_t size = pg_heap_size_of(h, addr, t);
	int64_t refcnt = 0;
	bool have_refcnt = true;
	if (i != PG_NONE) {
		refcnt = g->refcnt[i];
	} else {
		uint64_t rc;
		pg_error *err = pg_read_u64(&h->core->mem, addr + (uint64_t)h->in->L.ob_refcnt.off, &rc);
		have_refcnt = !err;
		pg_error_destroy(err);
		refcnt = (int64_t)rc;
	}
	char *value = pg_value_repr(h, addr, PREVIEW_MAX, 0);
	/* a type object: which type */
	const char *type_object = NULL;
	uint32_t self_idx;
	if (t->kind == PG_K_TYPE) {
		pg_error *err = pg_heap_type(h, addr, &self_idx);
		if (!err && h->types[self_idx].valid)
			type_object = h->types[self_idx].name;
		pg_error_destroy(err);
		t = &h->types[tidx]; /* types may have moved */
	}
	const char *role = role_of(a, addr);
	struct refs r = { 0 };
	bool approx = false;
	if (is_gc(a, addr, t)) {
		pg_error *err = pg_traverse_object(a->trav, addr, tidx, collect_ref, &r, &approx);
		pg_error_destroy(err);
	}
	char *fin = (a->coll && i != PG_NONE && pg_has_finalizer(a->trav, addr, tidx, NULL))
		? pg_finalizer_source(a->trav, addr, tidx) : NULL;
	char lab[256];
	json_t *root = NULL, *jo = NULL, *jrefs = NULL, *jback = NULL;
	const struct pg_row *rw = &h->rows[row];
	if (as_json) {
		root = json_object();
		jo = json_object();
		jrefs = json_array();
		jback = json_array();
		json_object_set_new(root, "schema", json_string("pycore-garbage/1"));
		json_object_set_new(jo, "addr", jaddr(addr));
		json_object_set_new(jo, "type", jstr(rw->name));
		json_object_set_new(jo, "oldstyle", json_boolean(rw->oldstyle));
		json_object_set_new(jo, "tp_name", jstr(t->name));
		json_object_set_new(jo, "tracked", json_boolean(i != PG_NONE));
		json_object_set_new(jo, "size", json_integer((json_int_t)size));
		json_object_set_new(jo, "refcnt", have_refcnt ? json_integer(refcnt) : json_null());
		json_object_set_new(jo, "generation", i != PG_NONE ? json_integer(g->gen[i]) : json_null());
		json_object_set_new(jo, "state", json_string(state_text(a->coll, i)));
		json_object_set_new(jo, "finalizer", fin ? jstr(fin) : json_null());
		json_object_set_new(jo, "value", value ? jstr(value) : json_null());
		if (type_object)
			json_object_set_new(jo, "type_object", jstr(type_object));
		if (role)
			json_object_set_new(jo, "role", json_string(role));
		json_object_set_new(jo, "approximate", json_boolean(approx));
	} else {
		fprintf(out, "0x%" PRIx64 "  ", addr);
		fput_esc(out, rw->name);
		fprintf(out, "%s%s%s  (type ", rw->oldstyle ? " (old-style instance)" : "", role ? ", " : "", role ? role : "");
		fput_esc(out, t->name);
		fprintf(out, ")\n");
		if (type_object) {
			fprintf(out, "  the type object of '");
			fput_esc(out, type_object);
			fprintf(out, "'\n");
		}
		fprintf(out, "  size %" PRIu64 " B, ", size);
		if (have_refcnt)
			fprintf(out, "refcnt %" PRId64 ", ", refcnt);
		if (i != PG_NONE)
			fprintf(out, "generation %u, ", g->gen[i]);
		fprintf(out, "%s\n", state_text(a->coll, i));
		if (value) {
			fprintf(out, "  value: ");
			fput_esc(out, value);
			fputc('\n', out);
		}
		if (fin) {
			fprintf(out, "  finalizer: ");
			fput_esc(out, fin);
			fputc('\n', out);
		}
		fprintf(out, "  referents%s:\n", approx ? " (conservative scan: approximate)" : "");
	}
	for (size_t k = 0; k < r.n; k++) {
		pg_label_format(h, &r.v[k].label, lab, sizeof(lab));
		bool tracked = pg_graph_index(g, r.v[k].addr) != PG_NONE;
		const char *tn = name_of(a, r.v[k].addr);
		const char *rrole = role_of(a, r.v[k].addr);
		if (as_json) {
			json_t *o = json_object();
			json_object_set_new(o, "label", jstr(lab));
			json_object_set_new(o, "addr", jaddr(r.v[k].addr));
			json_object_set_new(o, "type", jstr(tn));
			json_object_set_new(o, "tracked", json_boolean(tracked));
			if (rrole)
				json_object_set_new(o, "role", json_string(rrole));
			json_array_append_new(jrefs, o);
		} else {
			char *el = pg_escape_dup(lab);
			fprintf(out, "    %-28s -> ", el ? el : "?");
			free(el);
			fput_esc(out, tn);
			fprintf(out, "%s%s at 0x%" PRIx64 "%s\n", rrole ? " " : "", rrole ? rrole : "", r.v[k].addr,
				tracked ? "" : " (untracked)");
		}
	}
	if (r.full && !as_json)
		fprintf(out, "    ... (first %d shown)\n", MAX_LISTED);
	if (!as_json)
		fprintf(out, "  referrers among the tracked objects:\n");
	/* referrers: a tracked object's from the graph's edges; any other
	 * object's by traversing every tracked object again */
	size_t nback = 0;
	for (uint32_t s = 0; s < g->n && nback < MAX_LISTED; s++) {
		struct pg_label l = { PG_L_NAME, (uint64_t)(uintptr_t)"?" };
		bool refers = false;
		if (i != PG_NONE) {
			for (uint64_t e = g->estart[s]; e < g->estart[s + 1] && !refers; e++)
				refers = g->eto[e] == i;
			if (refers)
				pg_graph_labels(h, a->trav, g, s, i, &l, 1);
		} else {
			struct refs f = { .target = addr };
			bool ap = false;
			pg_error *err = pg_traverse_object(a->trav, g->addr[s], g->type[s], find_target, &f, &ap);
			pg_error_destroy(err);
			refers = f.hit;
			l = f.hit_label;
		}
		if (!refers)
			continue;
		pg_label_format(h, &l, lab, sizeof(lab));
		uint32_t srow = pg_heap_row_of(h, g->addr[s], g->type[s]);
		const char *srole = role_of(a, g->addr[s]);
		if (as_json) {
			json_t *o = json_object();
			json_object_set_new(o, "addr", jaddr(g->addr[s]));
			json_object_set_new(o, "type", jstr(h->rows[srow].name));
			json_object_set_new(o, "label", jstr(lab));
			if (srole)
				json_object_set_new(o, "role", json_string(srole));
			json_array_append_new(jback, o);
		} else {
			fprintf(out, "    ");
			fput_esc(out, h->rows[srow].name);
			fprintf(out, "%s%s at 0x%" PRIx64 " via ", srole ? " " : "", srole ? srole : "", g->addr[s]);
			fput_esc(out, lab);
			fputc('\n', out);
		}
		nback++;
	}
	if (!nback && !as_json)
		fprintf(out, "    (none: only untracked objects or C code refer to it)\n");
	int ret = 0;
	if (as_json) {
		json_object_set_new(jo, "referents", jrefs);
		json_object_set_new(jo, "referrers", jback);
		json_object_set_new(root, "object", jo);
		ret = json_dumpf(root, out, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
		fputc('\n', out);
		json_decref(root);
	}
	free(fin);
	free(value);
	free(r.v);
	return ret || ferror(out) ? -1 : 0;
}
