/* The session: one core, its interpreter family, its model and the
 * analyses' results.  It composes the stages (elf -> family -> model ->
 * analysis) and holds all of one core's state: nothing is process-wide. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "analysis/collect.h"
#include "analysis/cycles.h"
#include "analysis/memory.h"
#include "base/alloc.h"
#include "family.h"
#include "model/model.h"
#include "pycore/pycore.h"

struct pg_session {
	struct pg_log log;
	struct pg_warnings warn;
	struct pg_core *core;
	struct pg_family *fam;
	struct pg_model *model;
	struct pg_collect *coll;
	struct pg_cycles *cycles;
	struct pg_memory *memory;
	struct pg_malloc_prep *mprep;  /* libc's DWARF, read beside the walk */
	struct pg_core_info core_info;
	bool analyzed;
};

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

pg_error *pg_session_open(const struct pg_session_options *o, pg_session **ret)
{
	pg_session *s = calloc(1, sizeof(*s));
	if (!s)
		return PG_ENOMEM;
	s->log.fn = o->log;
	s->log.arg = o->log_arg;
	pg_warnings_init(&s->warn, &s->log);
	double t0 = now_ms();
	struct pg_core_options co = { .path = o->core, .exe = o->exe, .sysroot = o->sysroot,
				      .debuginfo_path = o->debuginfo_path };
	pg_error *err = pg_core_open(&co, &s->log, &s->warn, &s->core);
	double t1 = now_ms();
	/* the first family that finds its interpreter; when none does, the
	 * first family's word on why */
	pg_error *why = NULL;
	for (size_t i = 0; !err && pg_families[i] && !s->fam; i++) {
		pg_error *e = pg_families[i]->open(s->core, &s->log, &s->warn, &s->fam);
		if (e && e->kind == PG_ERR_NOT_FOUND) {
			if (!why)
				why = e;
			else
				pg_error_destroy(e);
			continue;
		}
		err = e;
	}
	if (!err && !s->fam) {
		err = why ? why : pg_error_create(PG_ERR_INPUT, "%s: no interpreter family knows this core", o->core);
		err->kind = PG_ERR_INPUT;
		why = NULL;
	}
	pg_error_destroy(why);
	pg_logf(&s->log, "time: open %.1f ms, interpreter %.1f ms", t1 - t0, now_ms() - t1);
	if (err) {
		pg_session_close(s);
		return err;
	}
	struct pg_core *c = s->core;
	s->core_info = (struct pg_core_info){ .path = c->path, .pid = c->pid, .threads = c->threads,
					      .signal = c->signal, .command = c->psargs, .made_by = c->made_by,
					      .truncated = c->truncated };
	s->core_info.compression = c->compression;
	*ret = s;
	return NULL;
}

void pg_session_close(pg_session *s)
{
	if (!s)
		return;
	pg_memory_free(s->memory);
	pg_memory_prep_free(s->mprep);
	pg_cycles_free(s->cycles);
	pg_collect_free(s->coll);
	pg_model_free(s->model);
	if (s->fam)
		s->fam->ops->close(s->fam);
	pg_core_close(s->core);
	pg_warnings_free(&s->warn);
	free(s);
}

pg_error *pg_session_analyze(pg_session *s, enum pg_analyses what, size_t max_objects)
{
	if (s->analyzed)
		return pg_error_create(PG_ERR_USAGE, "a session is analysed once");
	s->analyzed = true;
	if (!max_objects)
		max_objects = 100000000;
	double t0 = now_ms();
	pg_error *err = NULL;
	if (what & PG_ANALYZE_MEMORY)
		err = pg_memory_prepare(s->core, &s->log, &s->mprep);
	if (!err)
		err = pg_model_new(s->fam, &s->core->mem, &s->warn, (what & PG_ANALYZE_GRAPH) != 0, &s->model);
	if (!err)
		err = s->fam->ops->walk(s->fam, max_objects, s->model);
	double t1 = now_ms();
	if (!err && (what & PG_ANALYZE_GRAPH))
		err = pg_model_build_graph(s->model);
	double t2 = now_ms();
	if (!err && (what & 2))
		err = pg_collect_run(s->model, &s->warn, &s->coll);
	double t3 = now_ms();
	if (!err && (what & 4))
		err = pg_cycles_find(s->model, s->coll, &s->cycles);
	double t4 = now_ms();
	pg_logf(&s->log, "time: walk %.1f ms, graph %.1f ms, collect %.1f ms, cycles %.1f ms", t1 - t0, t2 - t1,
		t3 - t2, t4 - t3);
	if (!err && (what & PG_ANALYZE_MEMORY)) {
		double t5 = now_ms();
		err = pg_memory_run(s->core, s->fam, s->model, &s->log, &s->warn, s->mprep, &s->memory);
		pg_logf(&s->log, "time: memory %.1f ms", now_ms() - t5);
	}
	return err;
}

const struct pg_core_info *pg_session_core(const pg_session *s)
{
	return &s->core_info;
}

const struct pg_interp_info *pg_session_interp(const pg_session *s)
{
	return s->fam->ops->info(s->fam);
}

const struct pg_model *pg_session_model(const pg_session *s)
{
	return s->model;
}

const struct pg_collect *pg_session_collect(const pg_session *s)
{
	return s->coll;
}

const struct pg_cycles *pg_session_cycles(const pg_session *s)
{
	return s->cycles;
}

const struct pg_memory *pg_session_memory(const pg_session *s)
{
	return s->memory;
}

size_t pg_session_nwarnings(const pg_session *s)
{
	return s->warn.n;
}

const char *pg_session_warning(const pg_session *s, size_t i)
{
	return i < s->warn.n ? s->warn.msgs[i] : NULL;
}

size_t pg_session_warnings_dropped(const pg_session *s)
{
	return s->warn.dropped;
}

bool pg_session_partial(const pg_session *s)
{
	return s->warn.partial;
}

/* ---- one object ------------------------------------------------------- */

#define LABEL_MAX 256

struct refs {
	const struct pg_model *m;
	struct pg_object_ref *v;
	size_t n, cap;
	bool full;
	pg_error *err;
};

static void add_ref(struct refs *r, uint64_t ref, const char *text)
{
	if (r->err)
		return;
	if (r->n >= PG_OBJECT_LISTED) {
		r->full = true;
		return;
	}
	if ((r->err = pg_grow((void **)&r->v, &r->cap, r->n + 1, sizeof(*r->v))))
		return;
	char *l = strdup(text);
	if (!l) {
		r->err = PG_ENOMEM;
		return;
	}
	r->v[r->n++] = (struct pg_object_ref){ .addr = ref, .label = l };
}

static void collect_ref(void *arg, uint64_t ref, const struct pg_label *label)
{
	struct refs *r = arg;
	char lab[LABEL_MAX];
	pg_model_label_text(r->m, label, lab, sizeof(lab));
	add_ref(r, ref, lab);
}

struct finder {
	uint64_t target;
	bool hit;
	struct pg_label label;
};

static void find_target(void *arg, uint64_t ref, const struct pg_label *label)
{
	struct finder *f = arg;
	if (ref == f->target && !f->hit) {
		f->hit = true;
		f->label = *label;
	}
}

/* The row name of any object, "?" when it is none. */
static const char *name_of(pg_session *s, uint64_t addr)
{
	struct pg_object_desc d;
	uint32_t i = pg_model_index(s->model, addr);
	if (i != PG_NONE)
		return s->model->rows[s->model->row[i]].name;
	pg_error *err = s->fam->ops->describe(s->fam, s->model, addr, &d);
	if (err) {
		pg_error_destroy(err);
		return "?";
	}
	free(d.value);
	return s->model->rows[d.row].name;
}

pg_error *pg_session_object(pg_session *s, uint64_t addr, struct pg_object **ret)
{
	struct pg_model *m = s->model;
	if (!m || !m->has_graph)
		return pg_error_create(PG_ERR_USAGE, "--object needs the object graph (drop --no-collect)");
	struct pg_object_desc d;
	pg_error *err = s->fam->ops->describe(s->fam, m, addr, &d);
	if (err)
		return err;
	struct pg_object *o = calloc(1, sizeof(*o));
	if (!o) {
		free(d.value);
		return PG_ENOMEM;
	}
	uint32_t i = pg_model_index(m, addr);
	*o = (struct pg_object){
		.addr = addr, .index = i, .type = m->rows[d.row].name, .oldstyle = m->rows[d.row].oldstyle,
		.tp_name = m->types[d.type].name, .size = d.size, .refcnt = i != PG_NONE ? m->refcnt[i] : d.refcnt,
		.have_refcnt = i != PG_NONE || d.have_refcnt, .generation = i != PG_NONE ? m->gen[i] : -1,
		.value = d.value, .type_object = d.type_object,
		.garbage_list = m->garbage_exists && addr == m->garbage_list,
	};
	if (s->coll && i != PG_NONE && pg_model_has_finalizer(m, i, NULL))
		o->finalizer = pg_model_finalizer_text(m, i);
	/* referents: what its tp_traverse visits, when it is gc'd */
	struct refs r = { .m = m };
	if (d.gc)
		pg_model_referents_of(m, addr, d.type, collect_ref, &r, &o->approximate);
	if ((err = r.err)) {
		o->referents = r.v;
		o->nreferents = r.n;
		pg_object_free(o);
		return err;
	}
	for (size_t k = 0; k < r.n; k++) {
		r.v[k].tracked = pg_model_index(m, r.v[k].addr) != PG_NONE;
		r.v[k].type = name_of(s, r.v[k].addr);
		r.v[k].garbage_list = m->garbage_exists && r.v[k].addr == m->garbage_list;
	}
	o->referents = r.v;
	o->nreferents = r.n;
	o->referents_cut = r.full;
	/* referrers among the graph's objects: a graph object's from the edges;
	 * any other object's by traversing every graph object again */
	struct refs back = { .m = m };
	for (uint32_t src = 0; src < m->n && back.n < PG_OBJECT_LISTED && !back.err; src++) {
		struct pg_label l;
		bool refers = false, labelled = false;
		if (i != PG_NONE) {
			for (uint32_t e = m->estart[src]; e < m->estart[src + 1] && !refers; e++)
				refers = m->eto[e] == i;
			labelled = refers && pg_model_edge_labels(m, src, i, &l, 1);
		} else {
			struct finder f = { .target = addr };
			bool ap = false;
			pg_model_referents(m, src, find_target, &f, &ap);
			refers = labelled = f.hit;
			l = f.label;
		}
		if (!refers)
			continue;
		char lab[LABEL_MAX] = "?";
		if (labelled)
			pg_model_label_text(m, &l, lab, sizeof(lab));
		add_ref(&back, m->addr[src], lab);
		if (!back.err) {
			struct pg_object_ref *b = &back.v[back.n - 1];
			b->tracked = true;
			b->type = m->rows[m->row[src]].name;
			b->garbage_list = m->garbage_exists && m->addr[src] == m->garbage_list;
		}
	}
	o->referrers = back.v;
	o->nreferrers = back.n;
	if (back.err) {
		pg_object_free(o);
		return back.err;
	}
	*ret = o;
	return NULL;
}

void pg_object_free(struct pg_object *o)
{
	if (!o)
		return;
	for (size_t k = 0; k < o->nreferents; k++)
		free(o->referents[k].label);
	for (size_t k = 0; k < o->nreferrers; k++)
		free(o->referrers[k].label);
	free(o->referents);
	free(o->referrers);
	free(o->finalizer);
	free(o->value);
	free(o);
}
