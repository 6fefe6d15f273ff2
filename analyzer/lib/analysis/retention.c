/* Retention: the dominator tree over every object, from a virtual root
 * whose edges are the roots.
 *
 * The dominators are the semi-NCA algorithm (Georgiadis, Tarjan and
 * Werneck, "Finding dominators in practice", 2006): a depth-first search
 * numbers the nodes, semidominators come from Lengauer and Tarjan's
 * link-eval with path compression, and each immediate dominator is the
 * nearest common ancestor of the node's parent and semidominator in the
 * tree built so far.  Everything is iterative (an explicit stack for the
 * search and for path compression): no recursion follows the heap's shape.
 *
 * Slots (preorder numbers) start at 1, the virtual root's; 0 means "not
 * reached".  What the arrays cost, per node: the preorder map 4 bytes,
 * parent, semidominator, label and ancestor 4 each while they are needed,
 * the predecessor lists 4 per edge plus 4 per node; what is kept: pre,
 * idom, node_of, retained count (4) and bytes (8). */
#include "retention.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../base/alloc.h"

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* sys.getsizeof of a node: the table's, unless saturated */
static inline uint64_t size_of(const struct pg_model *m, uint32_t v)
{
	uint32_t sz = m->size[v];
	return sz != UINT32_MAX ? sz : pg_model_size(m, v);
}

struct succ {
	const uint32_t *a, *b;
	uint32_t na, nb;
};

/* The strong references of node v (weak holders have none). */
static inline void succ_of(const struct pg_model *m, const uint8_t *weak, uint32_t v, struct succ *s)
{
	s->na = s->nb = 0;
	s->a = s->b = NULL;
	if (weak[v])
		return;
	if (v < m->n) {
		s->a = m->eto + m->estart[v];
		s->na = m->estart[v + 1] - m->estart[v];
	}
	s->b = m->xto + m->xstart[v];
	s->nb = m->xstart[v + 1] - m->xstart[v];
}

static inline uint32_t succ_at(const struct succ *s, uint32_t k)
{
	return k < s->na ? s->a[k] : s->b[k - s->na];
}

void pg_retention_free(struct pg_retention *r)
{
	if (!r)
		return;
	free(r->pre);
	free(r->idom);
	free(r->node_of);
	free(r->ret_bytes);
	free(r->ret_count);
	free(r->roots);
	for (size_t i = 0; i < r->nretainers; i++)
		free(r->retainers[i].path);
	free(r->retainers);
	free(r);
}

/* The roots: the model's, then every node with more references than the
 * objects hold (refcount - references found, the weak holders' not
 * counted). */
static pg_error *find_roots(const struct pg_model *m, const uint8_t *weak, struct pg_retention *r)
{
	size_t nall = m->nall;
	uint32_t *indeg = pg_table(nall + 1, sizeof(*indeg));
	if (!indeg)
		return PG_ENOMEM;
	for (size_t e = 0; e < m->nedges; e++)
		indeg[m->eto[e]]++;
	for (size_t e = 0; e < m->nxedges; e++)
		indeg[m->xto[e]]++;
	(void)weak;
	for (size_t i = 0; i < m->nweak; i++) {
		uint32_t v = m->weak_nodes[i];
		bool again = v >= nall;
		for (size_t j = 0; j < i && !again; j++)
			again = m->weak_nodes[j] == v;
		if (again)
			continue;
		if (v < m->n)
			for (uint32_t e = m->estart[v]; e < m->estart[v + 1]; e++)
				indeg[m->eto[e]]--;
		for (uint32_t e = m->xstart[v]; e < m->xstart[v + 1]; e++)
			indeg[m->xto[e]]--;
	}
	size_t nout = 0;
	for (size_t v = 0; v < nall; v++)
		nout += m->refcnt[v] > (int64_t)indeg[v];
	r->nroots = m->nroots + nout;
	r->noutside = nout;
	r->roots = pg_reallocarray(NULL, r->nroots + 1, sizeof(*r->roots));
	if (!r->roots) {
		pg_table_free(indeg);
		return PG_ENOMEM;
	}
	if (m->nroots)
		memcpy(r->roots, m->roots, m->nroots * sizeof(*r->roots));
	size_t k = m->nroots;
	for (size_t v = 0; v < nall; v++)
		if (m->refcnt[v] > (int64_t)indeg[v])
			r->roots[k++] = (struct pg_root){ .node = (uint32_t)v, .kind = PG_ROOT_OUTSIDE,
							  .a = (uint64_t)m->refcnt[v], .b = indeg[v] };
	pg_table_free(indeg);
	return NULL;
}

struct frame {
	uint32_t v, k;
};

/* Iterative compression of v's ancestor path (anc[v] != 0). */
static pg_error *compress(uint32_t *anc, uint32_t *label, uint32_t v, uint32_t **stack, size_t *cap)
{
	size_t top = 0;
	uint32_t u = v;
	while (anc[anc[u]]) {
		if (top == *cap) {
			pg_error *err = pg_grow((void **)stack, cap, top + 1, sizeof(**stack));
			if (err)
				return err;
		}
		(*stack)[top++] = u;
		u = anc[u];
	}
	while (top) {
		uint32_t x = (*stack)[--top], a = anc[x];
		if (label[a] < label[x])
			label[x] = label[a];
		anc[x] = anc[a];
	}
	return NULL;
}

static int cmp_retainer(const void *pa, const void *pb)
{
	const struct pg_retainer *a = pa, *b = pb;
	if (a->bytes != b->bytes)
		return a->bytes > b->bytes ? -1 : 1;
	return (a->node > b->node) - (a->node < b->node);
}

/* Each slot's top-level dominator (top[1] = 1), and the largest types
 * inside each retainer: the retainers lie under different top-level
 * dominators, so one pass in slot order (a node's immediate dominator has
 * a smaller slot) finds the retainer each slot is under. */
static pg_error *retainer_types(const struct pg_model *m, struct pg_retention *r, size_t K, size_t nrows,
				uint32_t *top, uint32_t *own)
{
	size_t nret = r->nretainers;
	uint64_t *rb = pg_calloc((nrows + 1) * (nret ? nret : 1), sizeof(*rb));
	uint64_t *rc = pg_calloc((nrows + 1) * (nret ? nret : 1), sizeof(*rc));
	pg_error *err = NULL;
	if (!own || !rb || !rc) {
		err = PG_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i <= K; i++)
		own[i] = PG_NONE;
	for (size_t q = 0; q < nret; q++)
		own[r->pre[r->retainers[q].node]] = (uint32_t)q;
	top[0] = 0;
	top[1] = 1;
	for (size_t y = 2; y <= K; y++) {
		uint32_t d = r->idom[y];
		top[y] = d == 1 ? (uint32_t)y : top[d];
		if (own[y] == PG_NONE)
			own[y] = own[d];
	}
	/* in node order: the node's row and size are read in sequence, only
	 * its retainer is looked up */
	for (uint32_t v = 0; v < m->nall; v++) {
		uint32_t y = r->pre[v], q;
		if (!y || (q = own[y]) == PG_NONE)
			continue;
		uint32_t row = m->row[v];
		if (row >= nrows)
			row = (uint32_t)nrows;   /* cannot be: counted apart */
		rc[(size_t)q * (nrows + 1) + row]++;
		rb[(size_t)q * (nrows + 1) + row] += size_of(m, v);
	}
	for (size_t q = 0; q < nret; q++) {
		struct pg_retainer *rt = &r->retainers[q];
		const uint64_t *qb = rb + q * (nrows + 1), *qc = rc + q * (nrows + 1);
		for (uint32_t row = 0; row <= nrows; row++) {
			if (!qc[row])
				continue;
			/* into the top PG_RETAINER_TYPES by bytes (then row) */
			struct pg_retained_type cand = { row, qc[row], qb[row] };
			for (size_t t = 0; t < PG_RETAINER_TYPES; t++) {
				if (t < rt->ntypes && !(cand.bytes > rt->types[t].bytes ||
							 (cand.bytes == rt->types[t].bytes && cand.row < rt->types[t].row)))
					continue;
				if (t >= rt->ntypes) {
					rt->types[rt->ntypes++] = cand;
					break;
				}
				struct pg_retained_type tmp = rt->types[t];
				rt->types[t] = cand;
				cand = tmp;
			}
		}
	}
out:
	free(rb);
	free(rc);
	return err;
}

/* Breadth-first from the roots over strong references, the family's roots
 * first and then those held from outside, until every target is reached:
 * per node, the node it was reached from, or (nall + 1 + root index) for a
 * root's own node. */
static pg_error *bfs(const struct pg_model *m, const struct pg_retention *r, const uint8_t *weak,
		     const uint32_t *targets, size_t nt, uint32_t **parent_out)
{
	size_t nall = m->nall;
	*parent_out = NULL;
	if ((uint64_t)nall + 1 + r->nroots >= UINT32_MAX)
		return pg_error_create(PG_ERR_LIMIT, "too many objects and roots for paths");
	uint32_t *parent = pg_reallocarray(NULL, nall + 1, sizeof(*parent));
	uint32_t *queue = pg_reallocarray(NULL, nall + 1, sizeof(*queue));
	uint8_t *target = pg_calloc(nall + 1, 1);
	if (!parent || !queue || !target) {
		free(parent);
		free(queue);
		free(target);
		return PG_ENOMEM;
	}
	memset(parent, 0xff, (nall + 1) * sizeof(*parent));
	size_t left = 0;
	for (size_t t = 0; t < nt; t++)
		if (targets[t] < nall && r->pre[targets[t]] && !target[targets[t]]) {
			target[targets[t]] = 1;
			left++;
		}
	size_t qh = 0, qt = 0;
	size_t named = r->nroots - r->noutside;
	for (int phase = 0; phase < 2 && left; phase++) {
		size_t lo = phase ? named : 0, hi = phase ? r->nroots : named;
		for (size_t k = lo; k < hi && left; k++) {
			uint32_t v = r->roots[k].node;
			if (parent[v] != PG_NONE)
				continue;
			parent[v] = (uint32_t)(nall + 1 + k);
			queue[qt++] = v;
			left -= target[v];
		}
		while (qh < qt && left) {
			uint32_t v = queue[qh++];
			struct succ s;
			succ_of(m, weak, v, &s);
			for (uint32_t k = 0; k < s.na + s.nb && left; k++) {
				uint32_t w = succ_at(&s, k);
				if (parent[w] != PG_NONE)
					continue;
				parent[w] = v;
				queue[qt++] = w;
				left -= target[w];
			}
		}
	}
	free(queue);
	free(target);
	*parent_out = parent;
	return NULL;
}

static pg_error *path_from(const struct pg_model *m, const uint32_t *parent, uint32_t node, uint32_t **path,
			   size_t *npath, uint32_t *root)
{
	size_t nall = m->nall, len = 0;
	*path = NULL;
	*npath = 0;
	*root = PG_NONE;
	if (parent[node] == PG_NONE)
		return NULL;
	for (uint32_t v = node;; v = parent[v]) {
		len++;
		if (parent[v] > nall || len > nall)
			break;
	}
	uint32_t *p = pg_reallocarray(NULL, len, sizeof(*p));
	if (!p)
		return PG_ENOMEM;
	size_t i = len;
	uint32_t v = node;
	for (;;) {
		p[--i] = v;
		if (parent[v] > nall || !i)
			break;
		v = parent[v];
	}
	*root = parent[v] > nall ? (uint32_t)(parent[v] - nall - 1) : PG_NONE;
	*path = p;
	*npath = len;
	return NULL;
}

static uint8_t *weak_map(const struct pg_model *m)
{
	uint8_t *weak = pg_calloc(m->nall + 1, 1);
	if (weak)
		for (size_t i = 0; i < m->nweak; i++)
			if (m->weak_nodes[i] < m->nall)
				weak[m->weak_nodes[i]] = 1;
	return weak;
}

pg_error *pg_retention_path(const struct pg_model *m, const struct pg_retention *r, uint32_t node, uint32_t **path,
			    size_t *npath, uint32_t *root)
{
	*path = NULL;
	*npath = 0;
	*root = PG_NONE;
	if (node >= m->nall || !r->pre[node])
		return NULL;
	uint8_t *weak = weak_map(m);
	if (!weak)
		return PG_ENOMEM;
	uint32_t *parent;
	pg_error *err = bfs(m, r, weak, &node, 1, &parent);
	if (!err)
		err = path_from(m, parent, node, path, npath, root);
	free(parent);
	free(weak);
	return err;
}

/* A node's strong references, contiguous, next to its slot: what the
 * depth-first search reads (one cache line per node instead of four). */
struct dfs_frame {
	uint32_t slot, node;   /* the node searched, and its slot */
	uint32_t pos, end;     /* its next reference, and how many it has */
};

#define PREFETCH_AHEAD 8
#define LEAF UINT32_MAX   /* r->pre of a deferred leaf during the search */

/* Paths for the retainers: from the top-level dominator t that the
 * retainer x was reached from, every path to x stays among the nodes t
 * dominates (a node off the subtree would give a way around t), so a
 * breadth-first search from t over its dominator subtree (top[] == t)
 * finds the shortest; t's own path is its root's edge when t is a root's node, else
 * its depth-first tree path. */
static pg_error *retainer_chains(const struct pg_model *m, struct pg_retention *r, const uint32_t *dfs_parent)
{
	size_t nall = m->nall;
	pg_error *err = NULL;
	uint32_t *chain = NULL;
	struct pg_u64map tops = { 0 };
	/* the first root (in the order names prefer) of each top that is a root's node */
	for (size_t q = 0; q < r->nretainers && !err; q++)
		err = pg_u64map_put(&tops, (uint64_t)r->retainers[q].top + 1, PG_NONE);
	for (size_t k = 0; k < r->nroots && !err; k++) {
		uint32_t v;
		if (pg_u64map_get(&tops, (uint64_t)r->roots[k].node + 1, &v) && v == PG_NONE)
			err = pg_u64map_put(&tops, (uint64_t)r->roots[k].node + 1, (uint32_t)k);
	}
	for (size_t q = 0; q < r->nretainers && !err; q++) {
		struct pg_retainer *rt = &r->retainers[q];
		uint32_t t = rt->top, troot = PG_NONE;
		pg_u64map_get(&tops, (uint64_t)t + 1, &troot);
		/* t's path from its root */
		size_t nchain = 0;
		free(chain);
		chain = NULL;
		if (troot != PG_NONE) {
			chain = pg_reallocarray(NULL, 1, sizeof(*chain));
			if (!chain) {
				err = PG_ENOMEM;
				break;
			}
			chain[nchain++] = t;
			rt->root = troot;
		} else {
			size_t len = 0;
			for (uint32_t sl = r->pre[t]; sl > 1 && len <= nall; sl = dfs_parent[sl])
				len++;
			chain = pg_reallocarray(NULL, len ? len : 1, sizeof(*chain));
			if (!chain) {
				err = PG_ENOMEM;
				break;
			}
			nchain = len;
			size_t i = len;
			for (uint32_t sl = r->pre[t]; sl > 1 && i > 0; sl = dfs_parent[sl])
				chain[--i] = r->node_of[sl];
			uint32_t first = nchain ? chain[0] : t;
			for (size_t k = 0; k < r->nroots; k++)
				if (r->roots[k].node == first) {
					rt->root = (uint32_t)k;
					break;
				}
		}
		rt->path = chain;
		rt->npath = nchain;
		chain = NULL;
	}
	free(chain);
	pg_u64map_free(&tops);
	return err;
}

/* ... then from t to x (the path so far, in rt->path, ends at t). */
static pg_error *retainer_paths(const struct pg_model *m, struct pg_retention *r, const uint8_t *weak,
				const uint32_t *top)
{
	size_t nall = m->nall;
	pg_error *err = NULL;
	/* each search visits only its top's subtree: a map of what it met
	 * (node -> the node it came from), not arrays over every node */
	struct pg_u64map from = { 0 };
	uint32_t *queue = NULL;
	size_t capq = 0;
	for (size_t q = 0; q < r->nretainers && !err; q++) {
		struct pg_retainer *rt = &r->retainers[q];
		uint32_t t = rt->top, x = rt->node;
		uint32_t *chain = rt->path;
		size_t nchain = rt->npath;
		rt->path = NULL;
		rt->npath = 0;
		/* t -> x inside t's dominator subtree */
		uint32_t tslot = r->pre[t], dummy;
		size_t qh = 0, qt = 0;
		pg_u64map_free(&from);
		if ((err = pg_grow((void **)&queue, &capq, 1, sizeof(*queue))) ||
		    (err = pg_u64map_put(&from, (uint64_t)t + 1, PG_NONE))) {
			free(chain);
			break;
		}
		queue[qt++] = t;
		bool found = t == x;
		while (qh < qt && !found && !err) {
			uint32_t v = queue[qh++];
			struct succ s;
			succ_of(m, weak, v, &s);
			for (uint32_t k = 0; k < s.na + s.nb; k++) {
				uint32_t w = succ_at(&s, k), sl = r->pre[w];
				if (!sl || top[sl] != tslot || pg_u64map_get(&from, (uint64_t)w + 1, &dummy))
					continue;
				if ((err = pg_u64map_put(&from, (uint64_t)w + 1, v)) ||
				    (err = pg_grow((void **)&queue, &capq, qt + 1, sizeof(*queue))))
					break;
				queue[qt++] = w;
				if (w == x) {
					found = true;
					break;
				}
			}
		}
		if (err) {
			free(chain);
			break;
		}
		size_t ntail = 0;
		if (found)
			for (uint32_t v = x; v != t && ntail <= nall && pg_u64map_get(&from, (uint64_t)v + 1, &v);)
				ntail++;
		rt->path = pg_reallocarray(chain, nchain + ntail + 1, sizeof(*rt->path));
		if (!rt->path) {
			rt->path = chain;
			rt->npath = nchain;
			err = PG_ENOMEM;
			break;
		}
		size_t i = nchain + ntail;
		if (found)
			for (uint32_t v = x; v != t && i > nchain;) {
				rt->path[--i] = v;
				if (!pg_u64map_get(&from, (uint64_t)v + 1, &v))
					break;
			}
		rt->npath = found ? nchain + ntail : nchain;
	}
	pg_u64map_free(&from);
	free(queue);
	return err;
}

pg_error *pg_retention_run(const struct pg_model *m, size_t nrows, struct pg_retention **ret)
{
	if (!m->has_all)
		return pg_error_create(PG_ERR_INTERNAL, "retention needs every object");
	size_t nall = m->nall;
	if ((uint64_t)nall + 2 >= UINT32_MAX)
		return pg_error_create(PG_ERR_LIMIT, "%zu objects: too many for the dominator tree", nall);
	struct pg_retention *r = pg_calloc(1, sizeof(*r));
	uint8_t *weak = weak_map(m);
	uint32_t *pairs = NULL;
	uint32_t *parent = NULL, *semi = NULL, *label = NULL, *anc = NULL, *rstart = NULL, *rfrom = NULL;
	uint32_t *cstack = NULL, *top = NULL;
	size_t capc = 0;
	struct dfs_frame *stack = NULL;
	size_t capstack = 0;
	pg_error *err = NULL;
	if (!r || !weak) {
		err = PG_ENOMEM;
		goto out;
	}
	double t0 = now_ms();
	if ((err = find_roots(m, weak, r)))
		goto out;
	pg_trim();   /* the refcounts' table is gone */
	r->ms[0] = now_ms() - t0;
	/* the strong references of every node in one array, the virtual
	 * root's (the roots' nodes, in order) last */
	uint64_t total = (uint64_t)m->nedges + m->nxedges + r->nroots;
	if (total >= UINT32_MAX) {
		err = pg_error_create(PG_ERR_LIMIT, "%" PRIu64 " references: too many for the dominator tree", total);
		goto out;
	}
	/* Leaves (no strong reference out: a str, an int, a weak holder) are
	 * left out of the search: most references of a heap end in one (dict
	 * keys, values), and a leaf changes no other node's dominator.  Each
	 * gets its slot afterwards, its immediate dominator being the nearest
	 * common ancestor of its predecessors in the tree (at most `budget`
	 * steps up the tree in all; past that, the whole tree is made again
	 * with the leaves searched like any node: a deep tree whose leaves
	 * are shared from far apart). */
	bool defer = true;
	uint64_t leaf_edges = 0;
	for (uint32_t v = 0; v < nall; v++) {
		uint32_t deg = (v < m->n ? m->estart[v + 1] - m->estart[v] : 0) + m->xstart[v + 1] - m->xstart[v];
		if (weak[v] || !deg)
			weak[v] |= 2;
	}
retry:
	/* r->pre: the slot of each node, 0 until reached; the virtual root's
	 * is nall */
	r->pre = pg_calloc(nall + 1, sizeof(*r->pre));
	r->node_of = pg_reallocarray(NULL, nall + 2, sizeof(*r->node_of));
	parent = pg_table(nall + 2, sizeof(*parent));
	pairs = pg_table(2 * (total ? total : 1), sizeof(*pairs));
	if (!r->pre || !r->node_of || !parent || !pairs)
		goto oom;
	leaf_edges = 0;
	uint32_t root = (uint32_t)nall;
	/* a deferred leaf's slot is LEAF during the search (one read tells
	 * both) */
	if (defer)
		for (uint32_t v = 0; v < nall; v++)
			if (weak[v] & 2)
				r->pre[v] = LEAF;
	/* depth-first numbering from the virtual root, over the model's own
	 * edge arrays (a node's references: its tracked ones, then the
	 * others; the root's: the roots' nodes, in order), leaves skipped as
	 * they are met; every reference met that is no tree edge is kept as
	 * (target slot, source slot) for the predecessor lists (a tree edge
	 * is parent[]: most nodes of a heap have no other) */
	size_t np = 0;
	uint32_t K = 1;
	r->pre[root] = 1;
	r->node_of[1] = root;
	parent[1] = 0;
	size_t sp = 0;
	if ((err = pg_grow((void **)&stack, &capstack, 64, sizeof(*stack))))
		goto out;
	stack[sp++] = (struct dfs_frame){ 1, root, 0, (uint32_t)r->nroots };
	while (sp) {
		struct dfs_frame *f = &stack[sp - 1];
		if (f->pos == f->end) {
			sp--;
			continue;
		}
		uint32_t v = f->node, k = f->pos++, from = f->slot, w;
		if (v == root) {
			w = r->roots[k].node;
		} else {
			uint32_t na = v < m->n ? m->estart[v + 1] - m->estart[v] : 0;
			const uint32_t *to = k < na ? m->eto + m->estart[v] + k : m->xto + m->xstart[v] + (k - na);
			/* the slots of the next few targets, asked for together:
			 * their cache misses overlap instead of following one
			 * another */
			if (k + PREFETCH_AHEAD < na || (k >= na && k + PREFETCH_AHEAD < f->end)) {
				uint32_t t = to[PREFETCH_AHEAD];
				__builtin_prefetch(&r->pre[t]);
				__builtin_prefetch(&m->xstart[t]);
				if (t < m->n)
					__builtin_prefetch(&m->estart[t]);
			}
			w = *to;
		}
		uint32_t sl = r->pre[w];
		if (sl == LEAF) {
			leaf_edges++;
			continue;
		}
		if (!sl) {
			sl = r->pre[w] = ++K;
			r->node_of[K] = w;
			parent[K] = from;
			uint32_t deg = (weak[w] & 1) ? 0
				: (w < m->n ? m->estart[w + 1] - m->estart[w] : 0) + m->xstart[w + 1] - m->xstart[w];
			if (!deg)
				continue;   /* nothing to search */
			if (sp == capstack && (err = pg_grow((void **)&stack, &capstack, sp + 1, sizeof(*stack))))
				goto out;
			stack[sp++] = (struct dfs_frame){ sl, w, 0, deg };
			if (w < m->n) {
				const uint32_t *to = m->eto + m->estart[w];
				for (uint32_t j = 0; j < deg && j < PREFETCH_AHEAD && j < m->estart[w + 1] - m->estart[w]; j++)
					__builtin_prefetch(&r->pre[to[j]]);
			}
			continue;
		}
		pairs[2 * np] = sl;
		pairs[2 * np + 1] = from;
		np++;
	}
	free(stack);
	stack = NULL;
	capstack = 0;
	if (defer)
		for (uint32_t v = 0; v < nall; v++)
			if (r->pre[v] == LEAF)
				r->pre[v] = 0;
	r->ms[1] = now_ms() - t0 - r->ms[0];
	/* predecessors by slot (counted now: the search's tables are gone) */
	rstart = pg_table((size_t)K + 3, sizeof(*rstart));
	if (!rstart)
		goto oom;
	for (size_t e = 0; e < np; e++)
		rstart[pairs[2 * e] + 1]++;
	for (uint32_t i = 1; i <= K + 1; i++)
		rstart[i] += rstart[i - 1];
	rfrom = pg_table(np ? np : 1, sizeof(*rfrom));
	if (!rfrom)
		goto oom;
	for (size_t e = 0; e < np; e++)
		rfrom[rstart[pairs[2 * e]]++] = pairs[2 * e + 1];
	pg_table_free(pairs);
	pairs = NULL;
	for (uint32_t i = K + 1; i > 0; i--)
		rstart[i] = rstart[i - 1];
	rstart[0] = 0;
	pg_trim();   /* the search's tables are gone */
	r->ms[2] = now_ms() - t0 - r->ms[0] - r->ms[1];
	/* semidominators (slot numbers), link-eval with path compression */
	semi = pg_table((size_t)K + 1, sizeof(*semi));
	label = pg_table((size_t)K + 1, sizeof(*label));
	anc = pg_calloc(nall + 2, sizeof(*anc));   /* then the tree, leaves too */
	if (!semi || !label || !anc)
		goto oom;
	for (uint32_t i = 0; i <= K; i++)
		semi[i] = label[i] = i;
	for (uint32_t w = K; w >= 2; w--) {
		uint32_t s = parent[w];   /* the tree edge: an unlinked ancestor */
		for (uint32_t e = rstart[w]; e < rstart[w + 1]; e++) {
			uint32_t v = rfrom[e], c;
			if (!anc[v]) {
				c = v;
			} else {
				if (anc[anc[v]] && (err = compress(anc, label, v, &cstack, &capc)))
					goto out;
				c = label[v];
			}
			if (c < s)
				s = c;
		}
		semi[w] = s;
		label[w] = s;
		anc[w] = parent[w];
	}
	pg_table_free(rstart);
	pg_table_free(rfrom);
	pg_table_free(label);
	rstart = rfrom = label = NULL;
	/* immediate dominators: the nearest common ancestor of the parent and
	 * the semidominator in the tree built so far */
	uint32_t *idom = anc;
	anc = NULL;
	r->idom = idom;
	idom[1] = 1;
	for (uint32_t w = 2; w <= K; w++) {
		uint32_t d = parent[w];
		while (d > semi[w])
			d = idom[d];
		idom[w] = d;
	}
	pg_table_free(semi);
	semi = NULL;
	pg_trim();   /* the semidominators' tables are gone */
	if (defer) {
		/* the leaves: a slot each, below the nearest common ancestor of
		 * the reached nodes that refer to it (the virtual root for a
		 * root's leaf); the first of them is its tree parent */
		uint64_t budget = 16 * (leaf_edges + r->nroots) + ((uint64_t)1 << 22), steps = 0;
		bool over = false;
		for (size_t k = 0; k < r->nroots; k++) {
			uint32_t w = r->roots[k].node;
			if (!(weak[w] & 2))
				continue;
			uint32_t sl = r->pre[w];
			if (!sl) {
				sl = r->pre[w] = ++K;
				r->node_of[sl] = w;
				parent[sl] = 1;
			}
			idom[sl] = 1;
		}
		/* a source's ancestors, read once for all its leaves: their
		 * nearest common ancestor is then found climbing from the leaf's
		 * side only (the source's side is this short list) */
		enum { CHAIN = 16 };
		uint32_t chain[CHAIN];
		for (uint32_t v = 0; v < nall && !over; v++) {
			uint32_t pv = r->pre[v];
			if (!pv || (weak[v] & 2))
				continue;
			size_t clen = 0;
			for (int part = 0; part < 2 && !over; part++) {
				const uint32_t *to = part ? m->xto : m->eto;
				uint32_t lo = part ? m->xstart[v] : v < m->n ? m->estart[v] : 0;
				uint32_t hi = part ? m->xstart[v + 1] : v < m->n ? m->estart[v + 1] : 0;
				for (uint32_t e = lo; e < hi; e++) {
					uint32_t w = to[e];
					if (!(weak[w] & 2))
						continue;
					uint32_t sl = r->pre[w];
					if (!sl) {
						sl = r->pre[w] = ++K;
						r->node_of[sl] = w;
						parent[sl] = pv;
						idom[sl] = pv;
						continue;
					}
					uint32_t a = idom[sl];
					if (a == 1)
						continue;
					if (!clen) {
						chain[clen++] = pv;
						while (clen < CHAIN && chain[clen - 1] > 1) {
							chain[clen] = idom[chain[clen - 1]];
							clen++;
						}
					}
					size_t i = 0;
					uint32_t b = chain[0];
					while (a != b) {
						if (a > b)
							a = idom[a];
						else
							b = ++i < clen ? chain[i] : idom[b];
						if (++steps > budget) {
							over = true;
							break;
						}
					}
					idom[sl] = a;
				}
			}
		}
		if (over) {
			/* search them like any node */
			pg_table_free(pairs);
			pairs = NULL;
			free(r->pre);
			r->pre = NULL;
			free(r->node_of);
			r->node_of = NULL;
			pg_table_free(parent);
			parent = NULL;
			free(idom);
			r->idom = NULL;
			free(cstack);
			cstack = NULL;
			capc = 0;
			capstack = 0;
			K = 1;
			defer = false;
			goto retry;
		}
	}
	r->ms[3] = now_ms() - t0 - r->ms[0] - r->ms[1] - r->ms[2];
	/* retained sizes, leaves first */
	r->ret_bytes = pg_reallocarray(NULL, (size_t)K + 1, sizeof(*r->ret_bytes));
	r->ret_count = pg_reallocarray(NULL, (size_t)K + 1, sizeof(*r->ret_count));
	if (!r->ret_bytes || !r->ret_count)
		goto oom;
	r->ret_bytes[0] = r->ret_bytes[1] = 0;
	r->ret_count[0] = r->ret_count[1] = 0;
	/* each node's own size, in node order (the sizes read in sequence) */
	for (uint32_t v = 0; v < nall; v++) {
		uint32_t w = r->pre[v];
		if (w > 1) {
			r->ret_bytes[w] = size_of(m, v);
			r->ret_count[w] = 1;
		}
	}
	/* leaves first: a slot's dominator-tree descendants have larger
	 * slots, so its sums are final when it is added to its dominator;
	 * that is also when its dominator's largest child is known */
	uint32_t *best = pg_table((size_t)K + 1, sizeof(*best));
	if (!best)
		goto oom;
	for (uint32_t w = K; w >= 2; w--) {
		uint32_t p = idom[w];
		r->ret_bytes[p] += r->ret_bytes[w];
		r->ret_count[p] += r->ret_count[w];
		if (!best[p] || r->ret_bytes[w] >= r->ret_bytes[best[p]])
			best[p] = w;   /* ties: the smallest slot, as in slot order */
		r->toplevel += p == 1;
	}
	r->nreached = K - 1;
	r->reached_bytes = r->ret_bytes[1];
	uint64_t all_bytes = m->tracked_bytes + m->untracked_bytes;
	r->unreached = nall - r->nreached;
	r->unreached_bytes = all_bytes > r->reached_bytes ? all_bytes - r->reached_bytes : 0;
	/* retainers: from each top-level dominator down the child that keeps
	 * >= 80% of its parent's bytes */
	size_t cap = 0;
	for (uint32_t w = 2; w <= K && !err; w++) {
		if (idom[w] != 1)
			continue;
		uint32_t x = w;
		while (best[x] && r->ret_bytes[best[x]] * 5 >= r->ret_bytes[x] * 4)
			x = best[x];
		struct pg_retainer rt = { .node = r->node_of[x], .top = r->node_of[w], .count = r->ret_count[x],
					  .bytes = r->ret_bytes[x], .root = PG_NONE };
		if ((err = pg_grow((void **)&r->retainers, &cap, r->nretainers + 1, sizeof(*r->retainers))))
			break;
		r->retainers[r->nretainers++] = rt;
		if (r->nretainers == PG_RETAINERS_MAX * 4) {
			qsort(r->retainers, r->nretainers, sizeof(*r->retainers), cmp_retainer);
			r->nretainers = PG_RETAINERS_MAX;
		}
	}
	if (err) {
		pg_table_free(best);
		goto out;
	}
	if (r->nretainers > 1)
		qsort(r->retainers, r->nretainers, sizeof(*r->retainers), cmp_retainer);
	if (r->nretainers > PG_RETAINERS_MAX)
		r->nretainers = PG_RETAINERS_MAX;
	/* the dominator tree's preorder intervals, what each retainer holds,
	 * and its path */
	/* the retainers' tops' paths from their roots need the search's tree:
	 * then it goes (each table of a node costs much on a big heap) */
	if ((err = retainer_chains(m, r, parent))) {
		pg_table_free(best);
		goto out;
	}
	pg_table_free(parent);
	parent = NULL;
	top = pg_table((size_t)K + 1, sizeof(*top));
	if (!top) {
		pg_table_free(best);
		goto oom;
	}
	err = retainer_types(m, r, K, nrows, top, best);
	pg_table_free(best);
	if (err)
		goto out;
	double t4 = now_ms();
	r->ms[4] = t4 - t0 - r->ms[0] - r->ms[1] - r->ms[2] - r->ms[3];
	err = retainer_paths(m, r, weak, top);
	r->ms[5] = now_ms() - t4;
	goto out;
oom:
	if (!err)
		err = PG_ENOMEM;
out:
	free(weak);
	pg_table_free(pairs);
	pg_table_free(parent);
	pg_table_free(semi);
	pg_table_free(label);
	free(anc);
	pg_table_free(rstart);
	pg_table_free(rfrom);
	free(cstack);
	free(stack);
	pg_table_free(top);
	if (err) {
		pg_retention_free(r);
		return err;
	}
	*ret = r;
	return NULL;
}
