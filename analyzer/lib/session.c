/* The session: one core, its interpreter family, its model and the
 * analyses' results.  It composes the stages (elf -> family -> model ->
 * analysis) and holds all of one core's state: nothing is process-wide. */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "analysis/collect.h"
#include "analysis/cycles.h"
#include "analysis/memory.h"
#include "analysis/retention.h"
#include "base/alloc.h"
#include "elf/statics.h"
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
	struct pg_retention *ret;
	uint32_t *rev_start, *rev_from;  /* referrers of every node (built for --object) */
	struct { uint32_t root; char *holder; } *holders;  /* C statics found for roots held from outside */
	size_t nholders, capholders;
	struct pg_core_info core_info;
	bool analyzed;
	void (*progress)(void *arg, const char *stage, int percent);
	void *progress_arg;
};

/* Where the progress line stands as each stage begins: the stages' shares
 * of the whole, from --verbose's times on big_heap's core (300,000 tracked
 * objects): open 7%, walk 7%, graph 19%, every object 40%, collection 3%,
 * cycles 5%, memory 6%, waiting for retention 13%. */
static void progress(pg_session *s, const char *stage, int percent)
{
	if (s->progress)
		s->progress(s->progress_arg, stage, percent);
}

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
	s->progress = o->progress;
	s->progress_arg = o->progress_arg;
	progress(s, "open", 0);
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
	pg_retention_free(s->ret);
	free(s->rev_start);
	free(s->rev_from);
	for (size_t i = 0; i < s->nholders; i++)
		free(s->holders[i].holder);
	free(s->holders);
	pg_cycles_free(s->cycles);
	pg_collect_free(s->coll);
	pg_model_free(s->model);
	if (s->fam)
		s->fam->ops->close(s->fam);
	pg_core_close(s->core);
	pg_warnings_free(&s->warn);
	free(s);
}

struct ret_job {
	const struct pg_model *m;
	size_t nrows;
	pthread_t tid;
	struct pg_retention *ret;
	pg_error *err;
	double ms;
};

static void *run_retention(void *arg)
{
	struct ret_job *j = arg;
	double t = now_ms();
	j->err = pg_retention_run(j->m, j->nrows, &j->ret);
	j->ms = now_ms() - t;
	return NULL;
}

pg_error *pg_session_analyze(pg_session *s, enum pg_analyses what, size_t max_objects)
{
	if (s->analyzed)
		return pg_error_create(PG_ERR_USAGE, "a session is analysed once");
	s->analyzed = true;
	if (!max_objects)
		max_objects = 100000000;
	double t0 = now_ms();
	bool retention = (what & PG_ANALYZE_RETENTION) == PG_ANALYZE_RETENTION;
	pg_error *err = NULL;
	progress(s, "walk", 7);
	if (what & PG_ANALYZE_MEMORY)
		err = pg_memory_prepare(s->core, &s->log, &s->mprep);
	if (!err)
		err = pg_model_new(s->fam, &s->core->mem, &s->warn, (what & PG_ANALYZE_GRAPH) != 0, &s->model);
	if (!err)
		err = s->fam->ops->walk(s->fam, max_objects, s->model);
	double t1 = now_ms();
	if (!err && (what & PG_ANALYZE_GRAPH)) {
		progress(s, "graph", 14);
		if (retention)
			pg_model_want_all(s->model);
		err = pg_model_build_graph(s->model);
	}
	double t2 = now_ms();
	if (!err && retention) {
		progress(s, "every object", 33);
		err = pg_model_build_all(s->model);
	}
	double t2b = now_ms();
	/* the dominators read only the model: they run beside the collection
	 * and the cycles (which ask the family, and may add types and rows) */
	struct ret_job job = { .m = s->model, .nrows = s->model ? s->model->nrows : 0 };
	bool threaded = false;
	if (!err && retention)
		threaded = pthread_create(&job.tid, NULL, run_retention, &job) == 0;
	if (!err && retention && !threaded)
		run_retention(&job);
	if (!err && (what & 2)) {
		progress(s, "collection", 73);
		err = pg_collect_run(s->model, &s->warn, &s->coll);
	}
	double t3 = now_ms();
	if (!err && (what & 4)) {
		progress(s, "cycles", 76);
		err = pg_cycles_find(s->model, s->coll, &s->cycles);
	}
	double t4 = now_ms();
	/* the memory tree reads the model too (and the family, which may add
	 * types: the dominators never read those) */
	double t5 = t4, t6 = t4;
	if (!err && (what & PG_ANALYZE_MEMORY)) {
		progress(s, "memory", 81);
		err = pg_memory_run(s->core, s->fam, s->model, &s->log, &s->warn, s->mprep, &s->memory);
		t6 = now_ms();
	}
	if (threaded) {
		progress(s, "retention", 87);
		pthread_join(job.tid, NULL);
	}
	if (retention) {
		if (!err)
			err = job.err;
		else
			pg_error_destroy(job.err);
		if (!err)
			s->ret = job.ret;
		else
			pg_retention_free(job.ret);
	}
	pg_logf(&s->log, "time: walk %.1f ms, graph %.1f ms, every object %.1f ms, collect %.1f ms, cycles %.1f ms, "
		"memory %.1f ms, retention %.1f ms (beside them), wait %.1f ms", t1 - t0, t2 - t1, t2b - t2, t3 - t2b,
		t4 - t3, t6 - t5, job.ms, now_ms() - t6);
	if (s->model && s->model->has_all)
		pg_logf(&s->log, "every object: %zu nodes (%" PRIu64 " untracked), %zu + %zu edges, %zu roots",
			s->model->nall, s->model->untracked, s->model->nedges, s->model->nxedges, s->model->nroots);
	if (s->ret)
		pg_logf(&s->log, "time: retention: roots %.1f ms, search %.1f ms, predecessors %.1f ms, dominators %.1f ms, "
			"retainers %.1f ms, paths %.1f ms", s->ret->ms[0], s->ret->ms[1], s->ret->ms[2], s->ret->ms[3],
			s->ret->ms[4], s->ret->ms[5]);
	if (!err)
		progress(s, "done", 100);
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

const struct pg_retention *pg_session_retention(const pg_session *s)
{
	return s->ret;
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

/* Every node's referrers (both edge arrays, reversed), in node order. */
static pg_error *referrers_index(pg_session *s)
{
	const struct pg_model *m = s->model;
	if (s->rev_start)
		return NULL;
	size_t nall = m->nall, ne = m->nedges + m->nxedges;
	uint32_t *rs = pg_calloc(nall + 2, sizeof(*rs)), *rf = pg_reallocarray(NULL, ne + 1, sizeof(*rf));
	if (!rs || !rf) {
		free(rs);
		free(rf);
		return PG_ENOMEM;
	}
	for (size_t e = 0; e < m->nedges; e++)
		rs[m->eto[e] + 1]++;
	for (size_t e = 0; e < m->nxedges; e++)
		rs[m->xto[e] + 1]++;
	for (size_t v = 1; v <= nall + 1; v++)
		rs[v] += rs[v - 1];
	for (uint32_t u = 0; u < nall; u++) {
		if (u < m->n)
			for (uint32_t e = m->estart[u]; e < m->estart[u + 1]; e++)
				rf[rs[m->eto[e]]++] = u;
		for (uint32_t e = m->xstart[u]; e < m->xstart[u + 1]; e++)
			rf[rs[m->xto[e]]++] = u;
	}
	for (size_t v = nall + 1; v > 0; v--)
		rs[v] = rs[v - 1];
	rs[0] = 0;
	s->rev_start = rs;
	s->rev_from = rf;
	return NULL;
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
	if (s->ret) {
		uint32_t node = pg_model_node(m, addr);
		o->have_retained = node != PG_NONE && pg_retained(s->ret, node, &o->retained_count, &o->retained_bytes);
	}
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
	/* referrers: with every object, from the reverse edges of every node;
	 * else among the graph's objects, a graph object's from the edges, any
	 * other object's by traversing every graph object again */
	struct refs back = { .m = m };
	if (m->has_all) {
		if ((err = referrers_index(s))) {
			pg_object_free(o);
			return err;
		}
		uint32_t node = pg_model_node(m, addr);
		uint32_t last = PG_NONE;
		for (uint32_t e = node == PG_NONE ? 0 : s->rev_start[node];
		     node != PG_NONE && e < s->rev_start[node + 1] && back.n < PG_OBJECT_LISTED && !back.err; e++) {
			uint32_t src = s->rev_from[e];
			if (src == last)
				continue;   /* one line per referrer, with its first label */
			last = src;
			char lab[LABEL_MAX] = "?";
			struct pg_label l;
			if (pg_model_edge_labels(m, src, node, &l, 1))
				pg_model_label_text(m, &l, lab, sizeof(lab));
			add_ref(&back, m->addr[src], lab);
			if (!back.err) {
				struct pg_object_ref *b = &back.v[back.n - 1];
				b->tracked = src < m->n;
				b->type = m->rows[m->row[src]].name;
				b->garbage_list = m->garbage_exists && m->addr[src] == m->garbage_list;
			}
		}
	}
	for (uint32_t src = 0; !m->has_all && src < m->n && back.n < PG_OBJECT_LISTED && !back.err; src++) {
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

/* ---- retention: names and paths ---------------------------------------- */

#define NAME_MAX_ 512
#define STATICS_BUDGET ((size_t)64 << 20)   /* bytes of C statics searched per name */

/* The C static that points at a root held from outside, or NULL (each
 * searched once: the writable data of every module). */
static const char *static_holder(pg_session *s, uint32_t root)
{
	for (size_t i = 0; i < s->nholders; i++)
		if (s->holders[i].root == root)
			return s->holders[i].holder;
	char cs[256];
	char *found = NULL;
	if (pg_static_holder(s->core, s->model->addr[s->ret->roots[root].node], STATICS_BUDGET, cs, sizeof(cs)))
		found = strdup(cs);
	if (pg_grow((void **)&s->holders, &s->capholders, s->nholders + 1, sizeof(*s->holders))) {
		free(found);
		return NULL;
	}
	s->holders[s->nholders].root = root;
	s->holders[s->nholders++].holder = found;
	return found;
}

pg_error *pg_session_root_text(pg_session *s, uint32_t root, const char **kind, char **name, char **expr)
{
	const struct pg_retention *r = s->ret;
	*name = *expr = NULL;
	if (!r || root >= r->nroots)
		return pg_error_create(PG_ERR_USAGE, "no such root");
	const struct pg_root *rt = &r->roots[root];
	char nb[NAME_MAX_], eb[NAME_MAX_];
	const char *cs = rt->kind == PG_ROOT_OUTSIDE ? static_holder(s, root) : NULL;
	if (cs) {
		/* a C static that holds it names it */
		snprintf(nb, sizeof(nb), "held from outside (refcount %" PRIu64 ", %" PRIu64
			 " references found; C static %s points to it)", rt->a, rt->b, cs);
		snprintf(eb, sizeof(eb), "<C static %s>", cs);
	} else if (rt->kind == PG_ROOT_OUTSIDE) {
		snprintf(nb, sizeof(nb), "held from outside (refcount %" PRIu64 ", %" PRIu64 " references found)", rt->a,
			 rt->b);
		snprintf(eb, sizeof(eb), "<held from outside>");
	} else {
		s->fam->ops->root_text(s->fam, rt, nb, sizeof(nb), eb, sizeof(eb));
	}
	*kind = pg_root_kind_name((enum pg_root_kind)rt->kind);
	*name = strdup(nb);
	*expr = strdup(eb);
	if (!*name || !*expr) {
		free(*name);
		free(*expr);
		*name = *expr = NULL;
		return PG_ENOMEM;
	}
	return NULL;
}

/* The label of the edge u -> v as text ("?" when none is found). */
static void edge_label(pg_session *s, uint32_t u, uint32_t v, char *buf, size_t cap)
{
	struct pg_label l;
	if (pg_model_edge_labels(s->model, u, v, &l, 1))
		pg_model_label_text(s->model, &l, buf, cap);
	else
		snprintf(buf, cap, "?");
}

/* Appends to a growing string; false when out of memory. */
struct sbuf {
	char *p;
	size_t n, cap;
	bool oom;
};

static void sb_add(struct sbuf *b, const char *s, size_t len)
{
	if (b->oom)
		return;
	if (b->n + len + 1 > b->cap) {
		size_t ncap = b->cap ? b->cap * 2 : 256;
		while (ncap < b->n + len + 1)
			ncap *= 2;
		char *q = realloc(b->p, ncap);
		if (!q) {
			b->oom = true;
			return;
		}
		b->p = q;
		b->cap = ncap;
	}
	memcpy(b->p + b->n, s, len);
	b->n += len;
	b->p[b->n] = 0;
}

static void sb_puts(struct sbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

/* ['name'] with a plain name: its length, else 0 */
static size_t plain_key(const char *lab)
{
	size_t l = strlen(lab);
	if (l < 5 || lab[0] != '[' || lab[1] != '\'' || lab[l - 2] != '\'' || lab[l - 1] != ']')
		return 0;
	for (size_t i = 2; i < l - 2; i++) {
		char c = lab[i];
		if (!(c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (i > 2 && c >= '0' && c <= '9')))
			return 0;
	}
	return l - 4;
}

/* A path as a Python expression: the root's, then each hop ("x.attr" for
 * a __dict__ hop and its key, "x[3]", "x['k']", "frame local name"). */
static char *path_expr(pg_session *s, const uint32_t *path, size_t n, uint32_t root)
{
	struct sbuf b = { 0 };
	const char *kind;
	char *name = NULL, *expr = NULL;
	pg_error *err = pg_session_root_text(s, root, &kind, &name, &expr);
	if (err) {
		pg_error_destroy(err);
		sb_puts(&b, "?");
	} else {
		sb_puts(&b, expr);
	}
	bool root_frame = !err && s->ret->roots[root].kind == PG_ROOT_THREAD && s->ret->roots[root].sub == 0;
	free(name);
	free(expr);
	const struct pg_model *m = s->model;
	char lab[LABEL_MAX], next[LABEL_MAX];
	bool root_module = !err && s->ret->roots[root].kind == PG_ROOT_MODULE;
	for (size_t i = 1; i < n; i++) {
		edge_label(s, path[i - 1], path[i], lab, sizeof(lab));
		size_t kl;
		if (i == 1 && root_module && m->types[m->type[path[0]]].kind == PG_K_DICT && (kl = plain_key(lab))) {
			/* a module's global: M.K */
			sb_puts(&b, ".");
			sb_add(&b, lab + 2, kl);
			continue;
		}
		if (strcmp(lab, "__dict__") == 0 && i + 1 < n && m->types[m->type[path[i]]].kind == PG_K_DICT) {
			edge_label(s, path[i], path[i + 1], next, sizeof(next));
			if ((kl = plain_key(next))) {
				sb_puts(&b, ".");
				sb_add(&b, next + 2, kl);
				i++;
				continue;
			}
		}
		if (i == 1 && root_frame && strncmp(lab, "f_locals['", 10) == 0 && strlen(lab) > 12) {
			sb_puts(&b, " local ");
			sb_add(&b, lab + 10, strlen(lab) - 12);
			continue;
		}
		if (lab[0] == '[' || lab[0] == '.' || lab[0] == '<') {
			sb_puts(&b, lab);
		} else {
			sb_puts(&b, ".");
			sb_puts(&b, lab);
		}
	}
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	return b.p;
}

/* The root's name for a path from it: a module's dict's first hop names
 * the global ("module M global K"). */
static char *path_root_name(pg_session *s, const uint32_t *path, size_t n, uint32_t root, const char **kind)
{
	char *name, *expr;
	pg_error *err = pg_session_root_text(s, root, kind, &name, &expr);
	if (err) {
		pg_error_destroy(err);
		return NULL;
	}
	free(expr);
	const struct pg_model *m = s->model;
	char lab[LABEL_MAX];
	size_t kl;
	if (s->ret->roots[root].kind == PG_ROOT_MODULE && n >= 2 && m->types[m->type[path[0]]].kind == PG_K_DICT) {
		edge_label(s, path[0], path[1], lab, sizeof(lab));
		if ((kl = plain_key(lab))) {
			char *full = pg_asprintf("%s global %.*s", name, (int)kl, lab + 2);
			free(name);
			name = full;
		}
	}
	return name;
}

char *pg_session_retainer_root(pg_session *s, const struct pg_retainer *rt, const char **kind)
{
	if (!s->ret || rt->root == PG_NONE || !rt->npath)
		return NULL;
	return path_root_name(s, rt->path, rt->npath, rt->root, kind);
}

char *pg_session_retainer_expr(pg_session *s, const struct pg_retainer *rt)
{
	if (!s->ret || rt->root == PG_NONE || !rt->npath)
		return NULL;
	return path_expr(s, rt->path, rt->npath, rt->root);
}

void pg_why_free(struct pg_why *w)
{
	if (!w)
		return;
	for (size_t i = 0; i < w->nsteps; i++)
		free(w->steps[i].label);
	free(w->steps);
	free(w->root_name);
	free(w->expr);
	free(w);
}

/* For an object no root reaches: the cycle group of its component, or of
 * the nearest component with a group that holds it (backwards through
 * its unreachable referrers). */
static void why_group(pg_session *s, uint32_t node, struct pg_why *w)
{
	const struct pg_cycles *cy = s->cycles;
	const struct pg_model *m = s->model;
	w->holder = PG_NONE;
	if (!cy || !cy->comp_group)
		return;
	/* component of each graph member */
	uint32_t *comp_of = pg_reallocarray(NULL, m->n + 1, sizeof(*comp_of));
	uint32_t *queue = pg_reallocarray(NULL, m->nall + 1, sizeof(*queue));
	uint8_t *seen = pg_calloc(m->nall + 1, 1);
	uint32_t *rs = pg_calloc(m->nall + 2, sizeof(*rs)), *rf = NULL;
	if (!comp_of || !queue || !seen || !rs)
		goto out;
	memset(comp_of, 0xff, (m->n + 1) * sizeof(*comp_of));
	for (size_t k = 0; k < cy->ncomps; k++)
		for (uint32_t x = cy->comp_first[k]; x < cy->comp_first[k + 1]; x++)
			comp_of[cy->comp_members[x]] = (uint32_t)k;
	/* referrers of unreached nodes (CSR, built once for this question) */
	const struct pg_retention *r = s->ret;
	size_t ne = 0;
	for (uint32_t u = 0; u < m->nall; u++) {
		if (r->pre[u])
			continue;
		if (u < m->n)
			for (uint32_t e = m->estart[u]; e < m->estart[u + 1]; e++, ne++)
				rs[m->eto[e] + 1]++;
		for (uint32_t e = m->xstart[u]; e < m->xstart[u + 1]; e++, ne++)
			rs[m->xto[e] + 1]++;
	}
	for (size_t v = 1; v <= m->nall + 1; v++)
		rs[v] += rs[v - 1];
	rf = pg_reallocarray(NULL, ne + 1, sizeof(*rf));
	if (!rf)
		goto out;
	for (uint32_t u = 0; u < m->nall; u++) {
		if (r->pre[u])
			continue;
		if (u < m->n)
			for (uint32_t e = m->estart[u]; e < m->estart[u + 1]; e++)
				rf[rs[m->eto[e]]++] = u;
		for (uint32_t e = m->xstart[u]; e < m->xstart[u + 1]; e++)
			rf[rs[m->xto[e]]++] = u;
	}
	for (size_t v = m->nall + 1; v > 0; v--)
		rs[v] = rs[v - 1];
	rs[0] = 0;
	size_t qh = 0, qt = 0;
	queue[qt++] = node;
	seen[node] = 1;
	while (qh < qt) {
		uint32_t v = queue[qh++];
		if (v < m->n && comp_of[v] != PG_NONE && cy->comp_group[comp_of[v]] != PG_NONE) {
			w->group = &cy->groups[cy->comp_group[comp_of[v]]];
			w->holder = v;
			break;
		}
		for (uint32_t e = rs[v]; e < rs[v + 1]; e++)
			if (!seen[rf[e]]) {
				seen[rf[e]] = 1;
				queue[qt++] = rf[e];
			}
	}
out:
	free(comp_of);
	free(queue);
	free(seen);
	free(rs);
	free(rf);
}

pg_error *pg_session_why(pg_session *s, uint64_t addr, struct pg_why **ret)
{
	const struct pg_model *m = s->model;
	if (!s->ret || !m || !m->has_all)
		return pg_error_create(PG_ERR_USAGE, "--why needs the retention analysis (drop --no-retention and --no-collect)");
	uint32_t node = pg_model_node(m, addr);
	const char *orphan_type = NULL;
	if (node == PG_NONE) {
		/* an object no object of the heap refers to, and no root holds */
		struct pg_object_desc d;
		pg_error *err = s->fam->ops->describe(s->fam, s->model, addr, &d);
		if (err)
			return err;
		free(d.value);
		orphan_type = m->rows[d.row].name;
	}
	struct pg_why *w = calloc(1, sizeof(*w));
	if (!w)
		return PG_ENOMEM;
	if (orphan_type) {
		w->addr = addr;
		w->type = orphan_type;
		w->holder = PG_NONE;
		*ret = w;
		return NULL;
	}
	w->in_graph = true;
	w->addr = addr;
	w->type = m->rows[m->row[node]].name;
	w->tracked = node < m->n;
	w->holder = PG_NONE;
	w->reached = pg_retained(s->ret, node, &w->retained_count, &w->retained_bytes);
	if (!w->reached) {
		why_group(s, node, w);
		*ret = w;
		return NULL;
	}
	uint32_t *path, root;
	size_t n;
	pg_error *err = pg_retention_path(m, s->ret, node, &path, &n, &root);
	if (!err && (!n || root == PG_NONE))
		err = pg_error_create(PG_ERR_INTERNAL, "0x%" PRIx64 ": reached, but no path found", addr);
	if (!err && !(w->steps = pg_calloc(n, sizeof(*w->steps))))
		err = PG_ENOMEM;
	if (!err) {
		w->nsteps = n;
		for (size_t i = 0; i < n && !err; i++) {
			w->steps[i].addr = m->addr[path[i]];
			w->steps[i].type = m->rows[m->row[path[i]]].name;
			if (i) {
				char lab[LABEL_MAX];
				edge_label(s, path[i - 1], path[i], lab, sizeof(lab));
				if (!(w->steps[i].label = strdup(lab)))
					err = PG_ENOMEM;
			}
		}
	}
	if (!err && !(w->root_name = path_root_name(s, path, n, root, &w->root_kind)))
		err = PG_ENOMEM;
	if (!err && !(w->expr = path_expr(s, path, n, root)))
		err = PG_ENOMEM;
	free(path);
	if (err) {
		pg_why_free(w);
		return err;
	}
	*ret = w;
	return NULL;
}
