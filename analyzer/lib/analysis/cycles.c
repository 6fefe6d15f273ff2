#include "cycles.h"

#include "../base/alloc.h"
#include "rotation.h"
#include "scc.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *pg_cycle_kind_name(enum pg_cycle_kind k)
{
	switch (k) {
	case PG_CY_COLLECTABLE: return "collectable";
	case PG_CY_UNCOLLECTABLE: return "uncollectable";
	case PG_CY_GARBAGE: return "garbage";
	case PG_CY_DEFERRED: return "deferred";
	}
	return "?";
}

#define LABEL_MAX 256

static void free_steps(struct pg_cycle_step *st, size_t n)
{
	for (size_t i = 0; st && i < n; i++)
		free(st[i].label);
	free(st);
}

/* Unreachable set when gc.garbage is emptied: its items lose the list's
 * references (refcount and edges), then collect's reachability runs again. */
static pg_error *garbage_view(const struct pg_model *g, const struct pg_collect *c,
			      uint8_t *inb)
{
	size_t n = g->n;
	uint32_t list = g->garbage_exists ? pg_model_index(g, g->garbage_list) : PG_NONE;
	if (list == PG_NONE)
		return NULL;
	if (c->nogarbage_view) {
		/* the collection's first marking stage is this view's */
		for (size_t i = 0; i < n; i++)
			inb[i] = !(c->state[i] & (PG_S_REACH_NOGARBAGE | PG_S_UNREACHABLE));
		return NULL;
	}
	int64_t *refs = pg_reallocarray(NULL, n ? n : 1, sizeof(*refs));
	uint32_t *stack = pg_reallocarray(NULL, n ? n : 1, sizeof(*stack));
	uint8_t *reach = pg_calloc(n ? n : 1, 1);
	if (!refs || !stack || !reach) {
		free(refs);
		free(stack);
		free(reach);
		return PG_ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		refs[i] = g->refcnt[i];
	for (uint64_t e = g->estart[list]; e < g->estart[list + 1]; e++)
		refs[g->eto[e]]--;
	for (size_t i = 0; i < n; i++) {
		if (i == list)
			continue;
		for (uint64_t e = g->estart[i]; e < g->estart[i + 1]; e++)
			if (refs[g->eto[e]] > 0)
				refs[g->eto[e]]--;
	}
	size_t sp = 0;
	for (size_t i = 0; i < n; i++)
		if (refs[i] > 0) {
			reach[i] = 1;
			stack[sp++] = (uint32_t)i;
		}
	while (sp) {
		uint32_t v = stack[--sp];
		if (v == list)
			continue;
		for (uint64_t e = g->estart[v]; e < g->estart[v + 1]; e++) {
			uint32_t w = g->eto[e];
			if (!reach[w]) {
				reach[w] = 1;
				stack[sp++] = w;
			}
		}
	}
	for (size_t i = 0; i < n; i++)
		inb[i] = !reach[i] && !(c->state[i] & PG_S_UNREACHABLE);
	free(refs);
	free(stack);
	free(reach);
	return NULL;
}

/* The cycle finder works on the subset S of graph objects that lie in
 * either view (the unreachable set, what gc.garbage keeps alive): arrays of
 * |S| entries, indexed by an object's rank in S (its local index, in graph
 * order, so that every traversal order is the graph's).  Only loc[] is as
 * long as the graph. */
struct ctx {
	const struct pg_model *g;
	const struct pg_collect *c;
	struct pg_cycles *cy;
	uint32_t *loc;                /* graph index -> local index, or PG_NONE */
	uint32_t *sub;                /* local index -> graph index */
	size_t m;
	uint32_t *comp;               /* per local index: component id */
	uint8_t *lina, *linb;         /* per local index: in view (a), in view (b) */
	uint32_t *parent, *stamp, *queue;   /* per local index (queue: graph indices) */
};

static inline uint32_t comp_of(const struct ctx *x, uint32_t v)
{
	uint32_t l = x->loc[v];
	return l == PG_NONE ? PG_NONE : x->comp[l];
}

static bool is_user_instance(const struct ctx *x, uint32_t v)
{
	const struct pg_model_type *ty = &x->g->types[x->g->type[v]];
	return ty->kind == PG_K_INSTANCE || (ty->heaptype && ty->kind != PG_K_TYPE);
}

static bool has_fin(const struct ctx *x, uint32_t v)
{
	if (x->c->state[v] & PG_S_FINALIZER)
		return true;
	return pg_model_has_finalizer(x->g, v, NULL);
}

/* The most telling member: a finalizer object, else a user class instance,
 * else the largest object (lowest address on ties). */
static uint32_t telling(struct ctx *x, uint32_t cid)
{
	const struct pg_cycles *cy = x->cy;
	uint32_t best = PG_NONE, best_rank = 0;
	uint64_t best_size = 0;
	for (uint32_t k = cy->comp_first[cid]; k < cy->comp_first[cid + 1]; k++) {
		uint32_t v = cy->comp_members[k];
		uint32_t rank = has_fin(x, v) ? 3 : is_user_instance(x, v) ? 2 : 1;
		uint64_t size = pg_model_size(x->g, v);
		if (best == PG_NONE || rank > best_rank || (rank == best_rank && size > best_size)) {
			best = v;
			best_rank = rank;
			best_size = size;
		}
	}
	return best;
}

/* Shortest cycle through s inside its component (BFS); fills steps. */
static pg_error *shortest_cycle(struct ctx *x, uint32_t s, struct pg_cycle_step **steps, size_t *nsteps)
{
	const struct pg_model *g = x->g;
	uint32_t cid = comp_of(x, s), stampv = cid + 1;
	size_t head = 0, tail = 0;
	x->queue[tail++] = s;
	x->stamp[x->loc[s]] = stampv;
	x->parent[x->loc[s]] = PG_NONE;
	uint32_t last = PG_NONE;
	while (head < tail && last == PG_NONE) {
		uint32_t u = x->queue[head++];
		for (uint32_t e = g->estart[u]; e < g->estart[u + 1]; e++) {
			uint32_t w = g->eto[e];
			if (w == s) {
				last = u;
				break;
			}
			if (comp_of(x, w) != cid || x->stamp[x->loc[w]] == stampv)
				continue;
			x->stamp[x->loc[w]] = stampv;
			x->parent[x->loc[w]] = u;
			x->queue[tail++] = w;
		}
	}
	if (last == PG_NONE)
		return pg_error_create(PG_ERR_INTERNAL, "no cycle through a member of a strongly connected component");
	size_t len = 1;
	for (uint32_t v = last; v != s; v = x->parent[x->loc[v]])
		len++;
	struct pg_cycle_step *st = pg_calloc(len, sizeof(*st));
	if (!st)
		return PG_ENOMEM;
	/* path s -> ... -> last, then last -> s */
	st[len - 1].from = last;
	st[len - 1].to = s;
	size_t k = len - 1;
	for (uint32_t v = last; v != s; v = x->parent[x->loc[v]]) {
		k--;
		st[k].from = x->parent[x->loc[v]];
		st[k].to = v;
	}
	/* each step's label as text, once; and what a picture of the cycle
	 * shows of its objects */
	for (size_t i = 0; i < len; i++) {
		struct pg_label l;
		char lab[LABEL_MAX];
		if (pg_model_edge_labels(g, st[i].from, st[i].to, &l, 1))
			pg_model_label_text(g, &l, lab, sizeof(lab));
		else
			snprintf(lab, sizeof(lab), "?");
		st[i].label = strdup(lab);
		st[i].from_len = pg_model_length(g, st[i].from);
		st[i].from_finalizer = has_fin(x, st[i].from);
		if (!st[i].label) {
			free_steps(st, len);
			return PG_ENOMEM;
		}
	}
	*steps = st;
	*nsteps = len;
	return NULL;
}

static const char *row_name(struct ctx *x, uint32_t v)
{
	return x->g->rows[x->g->row[v]].name;
}

/* One step as text: "Type.attr" (a __dict__ hop collapsed), "Type[3]", ... */
static char *step_text(struct ctx *x, const struct pg_cycle_step *st, size_t n, size_t i, size_t *used)
{
	char lab2[LABEL_MAX];
	*used = 1;
	const char *lab = st[i].label;
	const char *name = row_name(x, st[i].from);
	if (strcmp(lab, "__dict__") == 0 && i + 1 < n && x->g->types[x->g->type[st[i].to]].kind == PG_K_DICT) {
		snprintf(lab2, sizeof(lab2), "%s", st[i + 1].label);
		size_t l = strlen(lab2);
		if (l > 4 && lab2[0] == '[' && lab2[1] == '\'' && lab2[l - 2] == '\'' && lab2[l - 1] == ']') {
			lab2[l - 2] = 0;
			*used = 2;
			return pg_asprintf("%s.%s", name, lab2 + 2);
		}
	}
	if (lab[0] == '[' || lab[0] == '.' || lab[0] == '<')
		return pg_asprintf("%s%s", name, lab);
	return pg_asprintf("%s.%s", name, lab);
}

/* parts[rot], parts[rot+1], ... joined by " -> ", then end; with more than
 * SHAPE_MAX parts, the middle is elided. */
#define SHAPE_MAX 40
static char *join_steps(char **parts, size_t n, size_t rot, const char *end, bool elide)
{
	size_t len = 64 + strlen(end);
	for (size_t i = 0; i < n; i++)
		len += strlen(parts[i]) + 4;
	char *s = malloc(len);
	if (!s)
		return NULL;
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (elide && n > SHAPE_MAX && i == SHAPE_MAX / 2) {
			o += (size_t)snprintf(s + o, len - o, "... %zu more steps ... -> ", n - SHAPE_MAX + 5);
			i = n - 5;
		}
		const char *p = parts[(i + rot) % n];
		size_t l = strlen(p);
		memcpy(s + o, p, l);
		memcpy(s + o + l, " -> ", 4);
		o += l + 4;
	}
	strcpy(s + o, end);
	return s;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

/* shape (from the telling object) and key (canonical rotation + multiset) */
static pg_error *shape_of(struct ctx *x, uint32_t cid, const struct pg_cycle_step *st, size_t n,
			  char **shape, char **key)
{
	pg_error *err = NULL;
	char **parts = pg_calloc(n, sizeof(*parts)), **sorted = pg_calloc(n, sizeof(*sorted));
	uint32_t *rank = pg_calloc(n, sizeof(*rank));
	long *f = pg_calloc(2 * n, sizeof(*f));
	struct pg_strmap ranks = { 0 };
	char *canon = NULL, *ms = NULL;
	uint32_t *rows = NULL;
	*shape = *key = NULL;
	if (!parts || !sorted || !rank || !f) {
		err = PG_ENOMEM;
		goto out;
	}
	size_t np = 0;
	for (size_t i = 0; i < n;) {
		size_t used;
		parts[np] = step_text(x, st, n, i, &used);
		if (!parts[np]) {
			err = PG_ENOMEM;
			goto out;
		}
		np++;
		i += used;
	}
	*shape = join_steps(parts, np, 0, row_name(x, st[0].from), true);
	/* rotation-independent ranks: the steps' texts in sorted order */
	memcpy(sorted, parts, np * sizeof(*parts));
	qsort(sorted, np, sizeof(*sorted), cmp_str);
	uint32_t r = 0;
	for (size_t i = 0; i < np; i++) {
		if (i && strcmp(sorted[i], sorted[i - 1]) != 0)
			r++;
		if ((err = pg_strmap_put(&ranks, sorted[i], 0, r)))
			goto out;
	}
	for (size_t i = 0; i < np; i++)
		pg_strmap_get(&ranks, parts[i], 0, &rank[i]);
	size_t best = pg_least_rotation(rank, np, f);
	if (np <= SHAPE_MAX) {
		canon = join_steps(parts, np, best, "", false);
	} else {
		uint64_t h = 1469598103934665603ULL;
		for (size_t i = 0; i < np; i++)
			for (const char *p = parts[(i + best) % np]; *p; p++)
				h = (h ^ (unsigned char)*p) * 1099511628211ULL;
		canon = pg_asprintf("%zu steps, hash %016" PRIx64, np, h);
	}
	/* the component's type multiset, as name*count runs */
	const struct pg_cycles *cy = x->cy;
	size_t m = cy->comp_first[cid + 1] - cy->comp_first[cid];
	rows = pg_reallocarray(NULL, m ? m : 1, sizeof(*rows));
	if (!rows || !canon) {
		err = PG_ENOMEM;
		goto out;
	}
	for (size_t k = 0; k < m; k++) {
		uint32_t v = cy->comp_members[cy->comp_first[cid] + k];
		rows[k] = x->g->row[v];
	}
	qsort(rows, m, sizeof(*rows), cmp_u32);
	size_t len = 1;
	for (size_t k = 0; k < m; k++)
		if (!k || rows[k] != rows[k - 1])
			len += strlen(x->g->rows[rows[k]].name) + 24;
	ms = malloc(len);
	if (!ms) {
		err = PG_ENOMEM;
		goto out;
	}
	size_t o = 0;
	for (size_t k = 0; k < m;) {
		size_t e = k;
		while (e < m && rows[e] == rows[k])
			e++;
		o += (size_t)snprintf(ms + o, len - o, "%s*%zu,", x->g->rows[rows[k]].name, e - k);
		k = e;
	}
	*key = pg_asprintf("%s|%s", canon, ms);
	if (!*shape || !*key)
		err = PG_ENOMEM;
out:
	pg_strmap_free(&ranks);
	free(canon);
	free(ms);
	free(rows);
	if (parts)
		for (size_t i = 0; i < n; i++)
			free(parts[i]);
	free(parts);
	free(sorted);
	free(rank);
	free(f);
	return err;
}

/* Non-gc objects (strings, ints, untracked tuples) whose every reference
 * comes from one component's objects go with that component. */
struct held {
	struct pg_u64map index;  /* address -> slot */
	uint64_t *addr;
	uint32_t *count, *owner;
	size_t n, cap;
	const uint32_t *owners;
	uint32_t cur_owner;
	pg_error *err;
};

static void held_visit(void *arg, uint64_t ref)
{
	struct held *hd = arg;
	if (hd->err)
		return;
	uint32_t slot;
	if (pg_u64map_get(&hd->index, ref, &slot)) {
		hd->count[slot]++;
		if (hd->owner[slot] != hd->cur_owner)
			hd->owner[slot] = PG_NONE;
		return;
	}
	if (hd->n == hd->cap) {
		size_t ncap = hd->cap ? hd->cap * 2 : 1024;
		uint64_t *a = pg_reallocarray(hd->addr, ncap, sizeof(*a));
		uint32_t *c = a ? pg_reallocarray(hd->count, ncap, sizeof(*c)) : NULL;
		if (a)
			hd->addr = a;
		if (c)
			hd->count = c;
		uint32_t *o = c ? pg_reallocarray(hd->owner, ncap, sizeof(*o)) : NULL;
		if (o)
			hd->owner = o;
		if (!a || !c || !o) {
			hd->err = PG_ENOMEM;
			return;
		}
		hd->cap = ncap;
	}
	hd->addr[hd->n] = ref;
	hd->count[hd->n] = 1;
	hd->owner[hd->n] = hd->cur_owner;
	hd->err = pg_u64map_put(&hd->index, ref, (uint32_t)hd->n);
	hd->n++;
}

static pg_error *untracked_held(struct ctx *x, const uint32_t *owner, uint64_t *cobj, uint64_t *cbytes,
			       uint64_t *uobj, uint64_t *ubytes)
{
	const struct pg_model *g = x->g;
	struct held hd = { .owners = owner };
	for (size_t l = 0; l < x->m && !hd.err; l++) {
		if (owner[l] == PG_NONE)
			continue;
		hd.cur_owner = owner[l];
		pg_model_untracked_referents(g, x->sub[l], held_visit, &hd);
	}
	for (size_t k = 0; k < hd.n && !hd.err; k++) {
		if (hd.owner[k] == PG_NONE)
			continue;
		int64_t rc;
		uint64_t size;
		if (!pg_model_refcnt_size((struct pg_model *)g, hd.addr[k], &rc, &size) || rc != (int64_t)hd.count[k])
			continue;
		cobj[hd.owner[k]]++;
		cbytes[hd.owner[k]] += size;
		uobj[hd.owner[k]]++;
		ubytes[hd.owner[k]] += size;
	}
	pg_error *err = hd.err;
	pg_u64map_free(&hd.index);
	free(hd.addr);
	free(hd.count);
	free(hd.owner);
	return err;
}

/* What the collection does with an unreachable object: 0 freed, 1 leaked
 * (uncollectable), 2 deferred to the next collection. */
static int fate_of(const struct pg_collect *c, uint32_t i)
{
	return pg_is_uncollectable(c, i) ? 1 : pg_is_deferred(c, i) ? 2 : 0;
}

/* Bytes, then components, largest first; then in the order found (each
 * group's example component id is unique, and ids follow the order). */
static int group_cmp(const void *a, const void *b)
{
	const struct pg_cycle_group *x = a, *y = b;
	if (x->bytes != y->bytes)
		return x->bytes > y->bytes ? -1 : 1;
	if (x->components != y->components)
		return x->components > y->components ? -1 : 1;
	return (x->example_comp > y->example_comp) - (x->example_comp < y->example_comp);
}

static bool self_loop(const struct pg_model *g, uint32_t v)
{
	for (uint32_t e = g->estart[v]; e < g->estart[v + 1]; e++)
		if (g->eto[e] == v)
			return true;
	return false;
}

bool pg_cycles_nontrivial(const struct pg_cycles *cy, const struct pg_model *g, uint32_t k)
{
	return cy->comp_first[k + 1] - cy->comp_first[k] > 1 || self_loop(g, cy->comp_members[cy->comp_first[k]]);
}

pg_error *pg_cycles_find(const struct pg_model *g, const struct pg_collect *c, struct pg_cycles **ret)
{
	size_t n = g->n;
	pg_error *err = NULL;
	struct pg_cycles *cy = pg_calloc(1, sizeof(*cy));
	uint8_t *ina = pg_calloc(n ? n : 1, 1), *inb = pg_calloc(n ? n : 1, 1);
	struct ctx x = { .g = g, .c = c, .cy = cy };
	uint32_t *owner = NULL, *lestart = NULL, *leto = NULL;
	uint64_t *cobj = NULL, *cbytes = NULL, *uobj = NULL, *ubytes = NULL;
	struct pg_strmap gindex = { 0 };
	struct pg_u64map thru = { 0 };   /* rescued weakrefs passed through: graph index + 1 -> owner */
	if (!cy || !ina || !inb) {
		err = PG_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		ina[i] = (c->state[i] & PG_S_UNREACHABLE) != 0;
	if ((err = garbage_view(g, c, inb)))
		goto out;
	/* the subset S: both views (they are disjoint), in graph order */
	x.loc = pg_reallocarray(NULL, n ? n : 1, sizeof(*x.loc));
	if (!x.loc) {
		err = PG_ENOMEM;
		goto out;
	}
	size_t m = 0;
	for (size_t i = 0; i < n; i++)
		x.loc[i] = ina[i] || inb[i] ? (uint32_t)m++ : PG_NONE;
	x.m = m;
	x.sub = pg_reallocarray(NULL, m ? m : 1, sizeof(*x.sub));
	x.lina = pg_calloc(m ? m : 1, 1);
	x.linb = pg_calloc(m ? m : 1, 1);
	x.comp = pg_reallocarray(NULL, m ? m : 1, sizeof(*x.comp));
	lestart = pg_calloc(m + 1, sizeof(*lestart));
	if (!x.sub || !x.lina || !x.linb || !x.comp || !lestart) {
		err = PG_ENOMEM;
		goto out;
	}
	size_t nle = 0;
	for (size_t i = 0; i < n; i++) {
		uint32_t l = x.loc[i];
		if (l == PG_NONE)
			continue;
		x.sub[l] = (uint32_t)i;
		x.lina[l] = ina[i];
		x.linb[l] = inb[i];
		x.comp[l] = PG_NONE;
		for (uint32_t e = g->estart[i]; e < g->estart[i + 1]; e++)
			nle += x.loc[g->eto[e]] != PG_NONE;
	}
	free(ina);
	free(inb);
	ina = inb = NULL;
	/* the subgraph S induces, in CSR: each node's edges in the graph's order */
	leto = pg_reallocarray(NULL, nle ? nle : 1, sizeof(*leto));
	if (!leto) {
		err = PG_ENOMEM;
		goto out;
	}
	nle = 0;
	for (size_t l = 0; l < m; l++) {
		lestart[l] = (uint32_t)nle;
		uint32_t i = x.sub[l];
		for (uint32_t e = g->estart[i]; e < g->estart[i + 1]; e++)
			if (x.loc[g->eto[e]] != PG_NONE)
				leto[nle++] = x.loc[g->eto[e]];
	}
	lestart[m] = (uint32_t)nle;
	size_t na = 0;
	if ((err = pg_scc(m, lestart, leto, x.lina, x.comp, &na)))
		goto out;
	size_t nall = na;
	if ((err = pg_scc(m, lestart, leto, x.linb, x.comp, &nall)))
		goto out;
	free(lestart);
	free(leto);
	lestart = leto = NULL;
	cy->ncomps = nall;
	/* members per component (CSR, graph indices) */
	cy->comp_first = pg_calloc(nall + 2, sizeof(*cy->comp_first));
	cy->comp_view = pg_calloc(nall + 1, 1);
	size_t nin = 0;
	for (size_t l = 0; l < m; l++)
		nin += x.comp[l] != PG_NONE;
	cy->comp_members = pg_reallocarray(NULL, nin ? nin : 1, sizeof(*cy->comp_members));
	if (!cy->comp_first || !cy->comp_view || !cy->comp_members) {
		err = PG_ENOMEM;
		goto out;
	}
	for (size_t l = 0; l < m; l++)
		if (x.comp[l] != PG_NONE)
			cy->comp_first[x.comp[l] + 1]++;
	for (size_t k = 0; k < nall; k++)
		cy->comp_first[k + 1] += cy->comp_first[k];
	{
		uint32_t *fill = pg_reallocarray(NULL, nall + 1, sizeof(*fill));
		if (!fill) {
			err = PG_ENOMEM;
			goto out;
		}
		memcpy(fill, cy->comp_first, (nall + 1) * sizeof(*fill));
		for (size_t l = 0; l < m; l++)
			if (x.comp[l] != PG_NONE)
				cy->comp_members[fill[x.comp[l]]++] = x.sub[l];
		free(fill);
	}
	for (size_t k = na; k < nall; k++)
		cy->comp_view[k] = 1;
	/* the BFSs' arrays, now that Tarjan's are gone; the ownership BFS also
	 * queues the rescued weakrefs it passes through (outside S) */
	size_t nrescued = 0;
	for (size_t i = 0; i < n; i++)
		nrescued += (c->state[i] & PG_S_RESCUED) != 0;
	x.parent = pg_reallocarray(NULL, m ? m : 1, sizeof(*x.parent));
	x.stamp = pg_calloc(m ? m : 1, sizeof(*x.stamp));
	x.queue = pg_reallocarray(NULL, m + nrescued + 1, sizeof(*x.queue));
	if (!x.parent || !x.stamp || !x.queue) {
		err = PG_ENOMEM;
		goto out;
	}
	/* which components are non-trivial, and what each one frees or keeps:
	 * its members plus the trivial set members only it reaches first */
	owner = pg_reallocarray(NULL, m ? m : 1, sizeof(*owner));
	cobj = pg_calloc(nall + 1, sizeof(*cobj));
	cbytes = pg_calloc(nall + 1, sizeof(*cbytes));
	uobj = pg_calloc(nall + 1, sizeof(*uobj));
	ubytes = pg_calloc(nall + 1, sizeof(*ubytes));
	if (!owner || !cobj || !cbytes || !uobj || !ubytes) {
		err = PG_ENOMEM;
		goto out;
	}
	size_t qh = 0, qt = 0;
	for (size_t l = 0; l < m; l++)
		owner[l] = PG_NONE;
	for (size_t k = 0; k < nall; k++) {
		size_t size = cy->comp_first[k + 1] - cy->comp_first[k];
		uint32_t v0 = cy->comp_members[cy->comp_first[k]];
		if (size < 2 && !self_loop(g, v0))
			continue;
		cy->nontrivial[cy->comp_view[k]]++;
		for (uint32_t mm = cy->comp_first[k]; mm < cy->comp_first[k + 1]; mm++) {
			owner[x.loc[cy->comp_members[mm]]] = (uint32_t)k;
			x.queue[qt++] = cy->comp_members[mm];
		}
	}
	/* Ownership follows the collection's fate classes in view (a): a
	 * component owns only objects that share its fate (freed, leaked,
	 * deferred), so that each kind's groups add up to the collection's
	 * count of that kind; and it passes through the weakrefs the collection
	 * rescues (they are alive, what their callbacks reach is not). */
	while (qh < qt) {
		uint32_t v = x.queue[qh++], own = PG_NONE;
		if (x.loc[v] != PG_NONE)
			own = owner[x.loc[v]];
		if (own == PG_NONE && !pg_u64map_get(&thru, (uint64_t)v + 1, &own))
			continue;
		bool viewb = cy->comp_view[own];
		const uint8_t *in = viewb ? x.linb : x.lina;
		int fate = viewb ? 0 : fate_of(c, cy->comp_members[cy->comp_first[own]]);
		for (uint64_t e = g->estart[v]; e < g->estart[v + 1]; e++) {
			uint32_t w = g->eto[e], lw = x.loc[w], dummy;
			if (!viewb && (lw == PG_NONE || !in[lw]) && (c->state[w] & PG_S_RESCUED) &&
			    !pg_u64map_get(&thru, (uint64_t)w + 1, &dummy)) {
				if ((err = pg_u64map_put(&thru, (uint64_t)w + 1, own)))
					goto out;
				x.queue[qt++] = w;   /* the owner passed on through it */
				continue;
			}
			if (lw == PG_NONE || !in[lw] || owner[lw] != PG_NONE || (!viewb && fate_of(c, w) != fate))
				continue;
			owner[lw] = own;
			x.queue[qt++] = w;
		}
	}
	for (size_t l = 0; l < m; l++) {
		if (owner[l] == PG_NONE)
			continue;
		cobj[owner[l]]++;
		cbytes[owner[l]] += pg_model_size(g, x.sub[l]);
	}
	if ((err = untracked_held(&x, owner, cobj, cbytes, uobj, ubytes)))
		goto out;
	/* groups */
	size_t capgroups = 0;
	cy->comp_group = pg_reallocarray(NULL, nall + 1, sizeof(*cy->comp_group));
	if (!cy->comp_group) {
		err = PG_ENOMEM;
		goto out;
	}
	for (size_t k = 0; k <= nall; k++)
		cy->comp_group[k] = PG_NONE;
	for (size_t k = 0; k < nall; k++) {
		size_t size = cy->comp_first[k + 1] - cy->comp_first[k];
		uint32_t v0 = cy->comp_members[cy->comp_first[k]];
		if (size < 2 && !self_loop(g, v0))
			continue;
		uint32_t s = telling(&x, (uint32_t)k);
		struct pg_cycle_step *steps = NULL;
		size_t nsteps = 0;
		if ((err = shortest_cycle(&x, s, &steps, &nsteps)))
			goto out;
		char *shape = NULL, *key = NULL;
		if ((err = shape_of(&x, (uint32_t)k, steps, nsteps, &shape, &key))) {
			free_steps(steps, nsteps);
			free(shape);
			free(key);
			goto out;
		}
		enum pg_cycle_kind kind = cy->comp_view[k] ? PG_CY_GARBAGE
			: pg_is_uncollectable(c, s) ? PG_CY_UNCOLLECTABLE
			: pg_is_deferred(c, s) ? PG_CY_DEFERRED : PG_CY_COLLECTABLE;
		uint32_t gi;
		if (pg_strmap_get(&gindex, key, kind, &gi)) {
			free_steps(steps, nsteps);
			free(shape);
			free(key);
		} else {
			if ((err = pg_grow((void **)&cy->groups, &capgroups, cy->ngroups + 1, sizeof(*cy->groups)))) {
				free_steps(steps, nsteps);
				free(shape);
				free(key);
				goto out;
			}
			gi = (uint32_t)cy->ngroups++;
			struct pg_cycle_group *gr = &cy->groups[gi];
			memset(gr, 0, sizeof(*gr));
			gr->kind = kind;
			gr->shape = shape;
			gr->key = key;
			gr->steps = steps;
			gr->nsteps = nsteps;
			gr->example_comp = (uint32_t)k;
			if (kind == PG_CY_UNCOLLECTABLE || kind == PG_CY_GARBAGE) {
				/* a finalizer in the component, else the telling object's */
				for (uint32_t m = cy->comp_first[k]; m < cy->comp_first[k + 1] && !gr->finalizer; m++) {
					uint32_t v = cy->comp_members[m];
					if (has_fin(&x, v))
						gr->finalizer = pg_model_finalizer_text(g, v);
				}
				if (!gr->finalizer)
					gr->finalizer = pg_asprintf("a finalizer outside the cycle that reaches it");
			}
			if ((err = pg_strmap_put(&gindex, gr->key, kind, gi)))
				goto out;
		}
		cy->comp_group[k] = gi;
		struct pg_cycle_group *gr = &cy->groups[gi];
		gr->components++;
		gr->objects += cobj[k];
		gr->bytes += cbytes[k];
		gr->untracked_objects += uobj[k];
		gr->untracked_bytes += ubytes[k];
		cy->kind_tracked[kind] += cobj[k] - uobj[k];
		cy->kind_tracked_bytes[kind] += cbytes[k] - ubytes[k];
	}
	/* the one order of the groups, for every report: largest first */
	if (cy->ngroups > 1) {
		qsort(cy->groups, cy->ngroups, sizeof(*cy->groups), group_cmp);
		uint32_t *moved = pg_reallocarray(NULL, cy->ngroups, sizeof(*moved));
		if (!moved) {
			err = PG_ENOMEM;
			goto out;
		}
		for (size_t q = 0; q < cy->ngroups; q++)
			moved[cy->comp_group[cy->groups[q].example_comp]] = (uint32_t)q;
		for (size_t k = 0; k < nall; k++)
			if (cy->comp_group[k] != PG_NONE)
				cy->comp_group[k] = moved[cy->comp_group[k]];
		free(moved);
	}
out:
	pg_strmap_free(&gindex);
	free(ina);
	free(inb);
	free(owner);
	free(cobj);
	free(cbytes);
	free(uobj);
	free(ubytes);
	free(x.parent);
	free(x.stamp);
	free(x.queue);
	free(x.loc);
	free(x.sub);
	free(x.comp);
	free(x.lina);
	free(x.linb);
	free(lestart);
	free(leto);
	pg_u64map_free(&thru);
	if (err) {
		pg_cycles_free(cy);
		return err;
	}
	*ret = cy;
	return NULL;
}

void pg_cycles_free(struct pg_cycles *cy)
{
	if (!cy)
		return;
	for (size_t i = 0; i < cy->ngroups; i++) {
		free(cy->groups[i].shape);
		free(cy->groups[i].key);
		free(cy->groups[i].finalizer);
		free_steps(cy->groups[i].steps, cy->groups[i].nsteps);
	}
	free(cy->groups);
	free(cy->comp_first);
	free(cy->comp_members);
	free(cy->comp_view);
	free(cy->comp_group);
	free(cy);
}
