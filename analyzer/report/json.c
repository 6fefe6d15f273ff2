#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>

#include "report.h"
#include "../lib/base/text.h"

static json_t *addr_str(uint64_t a)
{
	char buf[24];
	snprintf(buf, sizeof(buf), "0x%" PRIx64, a);
	return json_string(buf);
}

#define SET(obj, key, val) json_object_set_new((obj), (key), (val))

/* A string from the core (or made of such): UTF-8, invalid bytes as U+FFFD. */
static json_t *jstr(const char *s)
{
	if (!s)
		return json_null();
	char *u = pg_utf8_dup(s);
	json_t *j = u ? json_string(u) : NULL;
	free(u);
	return j ? j : json_string("?");
}

static json_t *core_json(const struct pg_report *a)
{
	const struct pg_core_info *c = pg_session_core(a->s);
	const struct pg_interp_info *in = pg_session_interp(a->s);
	json_t *o = json_object();
	SET(o, "path", jstr(c->path));
	SET(o, "pid", json_integer(c->pid));
	SET(o, "executable", in && in->modname ? jstr(in->modname) : json_null());
	SET(o, "command", jstr(c->command));
	SET(o, "made_by", json_string(pg_made_by_name(c->made_by)));
	SET(o, "signal", c->signal ? json_integer(c->signal) : json_null());
	SET(o, "threads", json_integer(c->threads));
	SET(o, "truncated", json_boolean(c->truncated));
	SET(o, "compression", c->compression ? json_string(c->compression) : json_null());
	return o;
}

static json_t *python_json(const struct pg_interp_info *in)
{
	json_t *o = json_object();
	SET(o, "version", jstr(in->version));
	SET(o, "build", json_string(in->debug_build ? "debug" : "release"));
	SET(o, "module", jstr(in->modname));
	SET(o, "build_id", json_string(in->build_id));
	SET(o, "elf_file", in->mainfile ? jstr(in->mainfile) : json_null());
	SET(o, "debuginfo", in->debugfile ? jstr(in->debugfile) : json_null());
	SET(o, "layouts", json_string(in->layouts));
	SET(o, "profile", in->profile ? json_string(in->profile) : json_null());
	SET(o, "profile_why", in->profile_why ? jstr(in->profile_why) : json_null());
	return o;
}

static json_t *obj_list(const struct pg_report *a, bool (*pick)(const struct pg_collect *, uint32_t))
{
	const struct pg_model *g = pg_session_model(a->s);
	const struct pg_collect *c = pg_session_collect(a->s);
	json_t *arr = json_array();
	for (uint32_t i = 0; i < g->n; i++) {
		if (!pick(c, i))
			continue;
		uint32_t row = g->row[i];
		json_t *o = json_object();
		SET(o, "addr", addr_str(g->addr[i]));
		SET(o, "type", jstr(g->rows[row].name));
		if (g->rows[row].oldstyle)
			SET(o, "oldstyle", json_true());
		json_array_append_new(arr, o);
	}
	return arr;
}

static json_t *summary_json(const struct pg_report *a, bool (*pick)(const struct pg_collect *, uint32_t),
			    size_t count, uint64_t bytes)
{
	json_t *o = json_object();
	SET(o, "count", json_integer((json_int_t)count));
	SET(o, "bytes", json_integer((json_int_t)bytes));
	size_t nr = 0;
	const struct pg_model *m = pg_session_model(a->s);
	struct pg_rowsum *rs = pg_summarise(m, pg_session_collect(a->s), pick, &nr);
	json_t *types = json_array();
	for (size_t i = 0; rs && i < nr; i++) {
		json_t *r = json_object();
		SET(r, "type", jstr(m->rows[rs[i].row].name));
		SET(r, "oldstyle", json_boolean(m->rows[rs[i].row].oldstyle));
		SET(r, "count", json_integer((json_int_t)rs[i].count));
		SET(r, "bytes", json_integer((json_int_t)rs[i].bytes));
		json_array_append_new(types, r);
	}
	free(rs);
	SET(o, "types", types);
	return o;
}

static json_t *collection_json(const struct pg_report *a)
{
	const struct pg_collect *c = pg_session_collect(a->s);
	const struct pg_model *g = pg_session_model(a->s);
	const struct pg_cycles *cy = pg_session_cycles(a->s);
	json_t *o = json_object();
	SET(o, "unreachable", obj_list(a, pg_pick_unreachable));
	SET(o, "finalizers", obj_list(a, pg_pick_finalizer));
	SET(o, "uncollectable", obj_list(a, pg_pick_uncollectable));
	SET(o, "deferred", obj_list(a, pg_pick_deferred));
	SET(o, "approximate", json_boolean(g->approximate));
	json_t *s = json_object();
	SET(s, "unreachable", summary_json(a, pg_pick_unreachable, c->n_unreachable, c->b_unreachable));
	SET(s, "freed", summary_json(a, pg_pick_freed, c->n_freed, c->b_freed));
	SET(s, "uncollectable", summary_json(a, pg_pick_uncollectable, c->n_uncollectable, c->b_uncollectable));
	SET(s, "finalizers", summary_json(a, pg_pick_finalizer, c->n_finalizers, c->b_finalizers));
	SET(s, "deferred", summary_json(a, pg_pick_deferred, c->n_deferred, c->b_deferred));
	SET(s, "edges", json_integer((json_int_t)g->nedges));
	SET(s, "approximate_objects", json_integer((json_int_t)g->approx_objects));
	if (cy) {
		/* of each set, what the cycle groups hold: the rest belongs to no pattern */
		static const struct { const char *key; enum pg_cycle_kind kind; } in_patterns[] = {
			{ "freed", PG_CY_COLLECTABLE }, { "uncollectable", PG_CY_UNCOLLECTABLE },
			{ "deferred", PG_CY_DEFERRED },
		};
		for (size_t k = 0; k < sizeof(in_patterns) / sizeof(in_patterns[0]); k++) {
			json_t *ip = json_object();
			SET(ip, "count", json_integer((json_int_t)cy->kind_tracked[in_patterns[k].kind]));
			SET(ip, "bytes", json_integer((json_int_t)cy->kind_tracked_bytes[in_patterns[k].kind]));
			SET(json_object_get(s, in_patterns[k].key), "in_patterns", ip);
		}
		SET(s, "components_unreachable", json_integer((json_int_t)cy->nontrivial[0]));
		SET(s, "components_garbage", json_integer((json_int_t)cy->nontrivial[1]));
	}
	SET(o, "summary", s);
	return o;
}

static json_t *components_json(const struct pg_report *a)
{
	const struct pg_cycles *cy = pg_session_cycles(a->s);
	const struct pg_model *g = pg_session_model(a->s);
	json_t *o = json_object(), *views[2] = { json_array(), json_array() };
	for (size_t k = 0; k < cy->ncomps; k++) {
		uint32_t first = cy->comp_first[k], end = cy->comp_first[k + 1];
		if (!pg_cycles_nontrivial(cy, g, (uint32_t)k))
			continue;
		json_t *m = json_array();
		for (uint32_t i = first; i < end; i++)
			json_array_append_new(m, addr_str(g->addr[cy->comp_members[i]]));
		json_array_append_new(views[cy->comp_view[k]], m);
	}
	SET(o, "unreachable", views[0]);
	SET(o, "garbage", views[1]);
	return o;
}

static json_t *cycles_json(const struct pg_report *a)
{
	const struct pg_cycles *cy = pg_session_cycles(a->s);
	const struct pg_model *g = pg_session_model(a->s);
	json_t *arr = json_array();
	for (size_t i = 0; i < cy->ngroups; i++) {
		const struct pg_cycle_group *gr = &cy->groups[i];
		json_t *o = json_object();
		SET(o, "shape", jstr(gr->shape));
		SET(o, "kind", json_string(pg_cycle_kind_name(gr->kind)));
		SET(o, "components", json_integer((json_int_t)gr->components));
		SET(o, "objects", json_integer((json_int_t)gr->objects));
		SET(o, "bytes", json_integer((json_int_t)gr->bytes));
		json_t *ut = json_object();
		SET(ut, "objects", json_integer((json_int_t)gr->untracked_objects));
		SET(ut, "bytes", json_integer((json_int_t)gr->untracked_bytes));
		SET(o, "untracked", ut);
		SET(o, "finalizer", gr->finalizer ? jstr(gr->finalizer) : json_null());
		json_t *ex = json_object(), *objs = json_array(), *edges = json_array();
		for (size_t k = 0; k < gr->nsteps; k++) {
			uint32_t v = gr->steps[k].from;
			json_t *ob = json_object();
			SET(ob, "addr", addr_str(g->addr[v]));
			SET(ob, "type", jstr(g->rows[g->row[v]].name));
			json_array_append_new(objs, ob);
			const char *lab = gr->steps[k].label;
			json_t *ed = json_object();
			SET(ed, "from", addr_str(g->addr[gr->steps[k].from]));
			SET(ed, "to", addr_str(g->addr[gr->steps[k].to]));
			SET(ed, "label", jstr(lab));
			json_array_append_new(edges, ed);
		}
		SET(ex, "objects", objs);
		SET(ex, "edges", edges);
		/* every member of the example component, for checking against CPython */
		json_t *members = json_array();
		uint32_t cid = gr->example_comp;
		for (uint32_t m = cy->comp_first[cid]; m < cy->comp_first[cid + 1]; m++)
			json_array_append_new(members, addr_str(g->addr[cy->comp_members[m]]));
		SET(ex, "component", members);
		SET(o, "example", ex);
		json_array_append_new(arr, o);
	}
	return arr;
}

int pg_report_json(FILE *out, const struct pg_report *a)
{
	const struct pg_model *h = pg_session_model(a->s);
	json_t *root = json_object();
	SET(root, "schema", json_string("pycore-garbage/1"));
	SET(root, "core", core_json(a));
	SET(root, "python", python_json(pg_session_interp(a->s)));
	json_t *gens = json_array();
	for (int g = 0; g < 3; g++) {
		json_t *o = json_object();
		SET(o, "count", json_integer((json_int_t)h->gens[g].count));
		SET(o, "threshold", json_integer(h->gens[g].threshold));
		SET(o, "counter", json_integer(h->gens[g].counter));
		SET(o, "complete", json_boolean(h->gens[g].complete));
		json_array_append_new(gens, o);
	}
	SET(root, "generations", gens);
	SET(root, "collecting", json_boolean(h->collecting));
	json_t *tr = json_object();
	SET(tr, "count", json_integer((json_int_t)h->tracked));
	SET(tr, "bytes", json_integer((json_int_t)h->tracked_bytes));
	SET(tr, "complete", json_boolean(!h->walk_limited && h->gens[0].complete && h->gens[1].complete && h->gens[2].complete));
	SET(root, "tracked", tr);

	json_t *garb = json_array();
	for (size_t i = 0; i < h->ngarbage; i++) {
		const struct pg_garbage_item *gi = &h->garbage[i];
		json_t *o = json_object();
		SET(o, "addr", addr_str(gi->addr));
		if (gi->row != UINT32_MAX) {
			SET(o, "type", jstr(h->rows[gi->row].name));
			SET(o, "oldstyle", json_boolean(h->rows[gi->row].oldstyle));
		} else {
			SET(o, "type", json_null());
			SET(o, "oldstyle", json_false());
		}
		SET(o, "refcnt", gi->readable ? json_integer(gi->refcnt) : json_null());
		SET(o, "size", gi->readable ? json_integer((json_int_t)gi->size) : json_null());
		json_array_append_new(garb, o);
	}
	SET(root, "garbage", garb);
	SET(root, "garbage_list", h->garbage_exists ? addr_str(h->garbage_list) : json_null());
	/* what the list says it holds, when its header could be read */
	SET(root, "garbage_claimed", h->garbage_claimed_known ? json_integer((json_int_t)h->garbage_claimed) : json_null());
	SET(root, "garbage_complete", json_boolean(!h->garbage_problem));

	json_t *types = json_array();
	uint32_t *order = pg_rows_sorted(h);
	for (size_t i = 0; order && i < h->nrows; i++) {
		const struct pg_row *r = &h->rows[order[i]];
		if (!r->count)
			continue;
		json_t *o = json_object();
		SET(o, "type", jstr(r->name));
		SET(o, "oldstyle", json_boolean(r->oldstyle));
		SET(o, "count", json_integer((json_int_t)r->count));
		SET(o, "bytes", json_integer((json_int_t)r->bytes));
		json_array_append_new(types, o);
	}
	free(order);
	SET(root, "types", types);
	pg_report_retention_json(root, a);
	if (pg_session_collect(a->s))
		SET(root, "collection", collection_json(a));
	if (pg_session_cycles(a->s))
		SET(root, "cycles", cycles_json(a));
	if (pg_session_cycles(a->s) && a->components)
		SET(root, "components", components_json(a));
	if (pg_session_memory(a->s))
		SET(root, "memory", pg_report_memory_json(a));
	SET(root, "partial", json_boolean(pg_session_partial(a->s)));
	json_t *warns = json_array();
	for (size_t i = 0; i < pg_session_nwarnings(a->s); i++)
		json_array_append_new(warns, jstr(pg_session_warning(a->s, i)));
	if (pg_session_warnings_dropped(a->s)) {
		char buf[80];
		snprintf(buf, sizeof(buf), "%zu more warnings not shown", pg_session_warnings_dropped(a->s));
		json_array_append_new(warns, json_string(buf));
	}
	SET(root, "warnings", warns);
	int r = json_dumpf(root, out, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
	json_decref(root);
	if (r == 0 && fputc('\n', out) == EOF)
		r = -1;
	return r;
}
