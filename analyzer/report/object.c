#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/base/text.h"
#include "report.h"



static void fput_esc(FILE *out, const char *s)
{
	pg_fputs_escaped(s ? s : "", out);
}

static const char *role(bool garbage_list)
{
	return garbage_list ? "gc.garbage" : NULL;
}

static json_t *object_json(const struct pg_report *a, const struct pg_object *o)
{
	const struct pg_collect *c = pg_session_collect(a->s);
	json_t *jo = json_object(), *jrefs = json_array(), *jback = json_array();
	json_object_set_new(jo, "addr", pg_json_addr(o->addr));
	json_object_set_new(jo, "type", pg_json_str(o->type));
	json_object_set_new(jo, "oldstyle", json_boolean(o->oldstyle));
	json_object_set_new(jo, "tp_name", pg_json_str(o->tp_name));
	json_object_set_new(jo, "tracked", json_boolean(o->index != PG_NONE));
	json_object_set_new(jo, "size", json_integer((json_int_t)o->size));
	json_object_set_new(jo, "refcnt", o->have_refcnt ? json_integer(o->refcnt) : json_null());
	json_object_set_new(jo, "generation", o->generation >= 0 ? json_integer(o->generation) : json_null());
	json_object_set_new(jo, "state", json_string(pg_state_text(c, o->index)));
	json_object_set_new(jo, "finalizer", o->finalizer ? pg_json_str(o->finalizer) : json_null());
	json_object_set_new(jo, "value", o->value ? pg_json_str(o->value) : json_null());
	if (o->type_object)
		json_object_set_new(jo, "type_object", pg_json_str(o->type_object));
	if (o->garbage_list)
		json_object_set_new(jo, "role", json_string("gc.garbage"));
	json_object_set_new(jo, "approximate", json_boolean(o->approximate));
	if (pg_session_retention(a->s)) {
		json_t *rt = json_null();
		if (o->have_retained) {
			rt = json_object();
			json_object_set_new(rt, "count", json_integer((json_int_t)o->retained_count));
			json_object_set_new(rt, "bytes", json_integer((json_int_t)o->retained_bytes));
		}
		json_object_set_new(jo, "retained", rt);
	}
	for (size_t k = 0; k < o->nreferents; k++) {
		const struct pg_object_ref *r = &o->referents[k];
		json_t *e = json_object();
		json_object_set_new(e, "label", pg_json_str(r->label));
		json_object_set_new(e, "addr", pg_json_addr(r->addr));
		json_object_set_new(e, "type", pg_json_str(r->type));
		json_object_set_new(e, "tracked", json_boolean(r->tracked));
		if (r->garbage_list)
			json_object_set_new(e, "role", json_string("gc.garbage"));
		json_array_append_new(jrefs, e);
	}
	for (size_t k = 0; k < o->nreferrers; k++) {
		const struct pg_object_ref *r = &o->referrers[k];
		json_t *e = json_object();
		json_object_set_new(e, "addr", pg_json_addr(r->addr));
		json_object_set_new(e, "type", pg_json_str(r->type));
		json_object_set_new(e, "label", pg_json_str(r->label));
		json_object_set_new(e, "tracked", json_boolean(r->tracked));
		if (r->garbage_list)
			json_object_set_new(e, "role", json_string("gc.garbage"));
		json_array_append_new(jback, e);
	}
	json_object_set_new(jo, "referents", jrefs);
	json_object_set_new(jo, "referrers", jback);
	return jo;
}

int pg_report_objects_json(FILE *out, const struct pg_report *a, struct pg_object *const *o, size_t n)
{
	json_t *root = json_object();
	json_object_set_new(root, "schema", json_string("pycore-garbage/1"));
	if (n == 1) {
		json_object_set_new(root, "object", object_json(a, o[0]));
	} else {
		json_t *arr = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(arr, object_json(a, o[i]));
		json_object_set_new(root, "objects", arr);
	}
	int ret = json_dumpf(root, out, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
	fputc('\n', out);
	json_decref(root);
	return ret || ferror(out) ? -1 : 0;
}

int pg_report_object(FILE *out, const struct pg_report *a, const struct pg_object *o, bool as_json)
{
	if (as_json)
		return pg_report_objects_json(out, a, (struct pg_object *const *)&o, 1);
	const struct pg_collect *c = pg_session_collect(a->s);
	const char *ro = role(o->garbage_list);
	fprintf(out, "0x%" PRIx64 "  ", o->addr);
	fput_esc(out, o->type);
	fprintf(out, "%s%s%s  (type ", o->oldstyle ? " (old-style instance)" : "", ro ? ", " : "", ro ? ro : "");
	fput_esc(out, o->tp_name);
	fprintf(out, ")\n");
	if (o->type_object) {
		fprintf(out, "  the type object of '");
		fput_esc(out, o->type_object);
		fprintf(out, "'\n");
	}
	fprintf(out, "  size %" PRIu64 " B, ", o->size);
	if (o->have_refcnt)
		fprintf(out, "refcnt %" PRId64 ", ", o->refcnt);
	if (o->generation >= 0)
		fprintf(out, "generation %d, ", o->generation);
	fprintf(out, "%s\n", pg_state_text(c, o->index));
	if (pg_session_retention(a->s)) {
		if (o->have_retained)
			fprintf(out, "  retains %" PRIu64 " B in %" PRIu64 " object%s (what would be freed with it)\n",
				o->retained_bytes, o->retained_count, o->retained_count == 1 ? "" : "s");
		else
			fprintf(out, "  no root reaches it (--why ADDR says more)\n");
	}
	if (o->value) {
		fprintf(out, "  value: ");
		fput_esc(out, o->value);
		fputc('\n', out);
	}
	if (o->finalizer) {
		fprintf(out, "  finalizer: ");
		fput_esc(out, o->finalizer);
		fputc('\n', out);
	}
	fprintf(out, "  referents%s:\n", o->approximate ? " (conservative scan: approximate)" : "");
	for (size_t k = 0; k < o->nreferents; k++) {
		const struct pg_object_ref *r = &o->referents[k];
		const char *rr = role(r->garbage_list);
		char *el = pg_escape_dup(r->label);
		fprintf(out, "    %-28s -> ", el ? el : "?");
		free(el);
		fput_esc(out, r->type);
		fprintf(out, "%s%s at 0x%" PRIx64 "%s\n", rr ? " " : "", rr ? rr : "", r->addr, r->tracked ? "" : " (untracked)");
	}
	if (o->referents_cut)
		fprintf(out, "    ... (first %d shown)\n", PG_OBJECT_LISTED);
	fprintf(out, "  referrers among the %s objects:\n", pg_session_retention(a->s) ? "heap's" : "tracked");
	for (size_t k = 0; k < o->nreferrers; k++) {
		const struct pg_object_ref *r = &o->referrers[k];
		const char *rr = role(r->garbage_list);
		fprintf(out, "    ");
		fput_esc(out, r->type);
		fprintf(out, "%s%s at 0x%" PRIx64 "%s via ", rr ? " " : "", rr ? rr : "", r->addr,
			r->tracked ? "" : " (untracked)");
		fput_esc(out, r->label);
		fputc('\n', out);
	}
	if (!o->nreferrers)
		fprintf(out, pg_session_retention(a->s) ? "    (none: only C code refers to it)\n"
							: "    (none: only untracked objects or C code refer to it)\n");
	return ferror(out) ? -1 : 0;
}
