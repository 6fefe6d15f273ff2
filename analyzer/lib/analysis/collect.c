#include "collect.h"

#include "../base/alloc.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* Iterative marking: everything reachable from the seeds through edges,
 * restricted to objects whose state has `within` set (0: all), gets `mark`. */
static void mark_from(const struct pg_model *g, uint8_t *state, uint32_t *stack, size_t sp,
		      uint8_t within, uint8_t mark, uint32_t blocked)
{
	while (sp) {
		uint32_t i = stack[--sp];
		if (i == blocked)
			continue; /* marked, not gone through */
		for (uint64_t e = g->estart[i]; e < g->estart[i + 1]; e++) {
			uint32_t j = g->eto[e];
			if ((state[j] & mark) || (within && !(state[j] & within)))
				continue;
			state[j] |= mark;
			stack[sp++] = j;
		}
	}
}

/* handle_weakrefs(): every weakref to an object of the collectable part is
 * cleared; one that has a callback and is not itself tentatively unreachable
 * (objects moved to the finalizer set are marked reachable by then) has its
 * callback called and goes back to the old generation: it is neither
 * garbage nor uncollectable. */
static void rescue(void *arg, uint32_t j, bool callback)
{
	struct pg_collect *c = arg;
	if ((c->state[j] & PG_S_KEPT) && callback)
		c->state[j] = PG_S_REACHABLE | PG_S_RESCUED;
}

static void rescue_weakrefs(const struct pg_model *m, struct pg_collect *c)
{
	for (size_t i = 0; i < m->n; i++)
		if ((c->state[i] & (PG_S_UNREACHABLE | PG_S_KEPT)) == PG_S_UNREACHABLE)
			pg_model_weakrefs(m, (uint32_t)i, rescue, c);
}

pg_error *pg_collect_run(const struct pg_model *g, struct pg_warnings *w, struct pg_collect **ret)
{
	size_t n = g->n;
	struct pg_collect *c = pg_calloc(1, sizeof(*c));
	if (!c)
		return PG_ENOMEM;
	c->state = pg_calloc(n ? n : 1, 1);
	int64_t *refs = pg_reallocarray(NULL, n ? n : 1, sizeof(*refs));
	uint32_t *stack = pg_reallocarray(NULL, n ? n : 1, sizeof(*stack));
	if (!c->state || !refs || !stack) {
		free(refs);
		free(stack);
		pg_collect_free(c);
		return PG_ENOMEM;
	}
	/* update_refs + subtract_refs: gc_refs = ob_refcnt, minus one per visit
	 * from a tracked object (never below zero, as visit_decref does) */
	size_t zero_refcnt = 0;
	for (size_t i = 0; i < n; i++) {
		refs[i] = g->refcnt[i];
		if (refs[i] <= 0)
			zero_refcnt++;
	}
	for (size_t e = 0; e < g->nedges; e++) {
		uint32_t j = g->eto[e];
		if (refs[j] > 0)
			refs[j]--;
		else if (g->refcnt[j] > 0 && c->n_overcounted++ < 5)
			pg_warn(w, "inconsistent heap: object 0x%" PRIx64 " (%s) is referenced more often than its refcount %" PRId64 " allows",
				g->addr[j], g->types[g->type[j]].name, g->refcnt[j]);
	}
	if (zero_refcnt)
		pg_warn_partial(w, "inconsistent heap: %zu tracked objects have a refcount <= 0", zero_refcnt);
	/* move_unreachable: roots are gc_refs > 0; all they reach is reachable.
	 * In two stages: first without going through gc.garbage (what stays
	 * alive if gc.garbage were emptied: the cycle finder's view b), then
	 * from gc.garbage's items.  Emptying gc.garbage drops the same
	 * references that subtract_refs has already taken away, so the roots
	 * are the same in both unless a refcount was overcounted (clamped). */
	uint32_t list = g->garbage_exists ? pg_model_index(g, g->garbage_list) : PG_NONE;
	size_t sp = 0;
	for (size_t i = 0; i < n; i++) {
		if (refs[i] > 0) {
			c->state[i] |= PG_S_REACHABLE;
			if (i != list)
				stack[sp++] = (uint32_t)i;
		}
	}
	mark_from(g, c->state, stack, sp, 0, PG_S_REACHABLE, list);
	c->nogarbage_view = c->n_overcounted == 0 && zero_refcnt == 0;
	for (size_t i = 0; i < n; i++)
		if (c->state[i] & PG_S_REACHABLE)
			c->state[i] |= PG_S_REACH_NOGARBAGE;
	if (list != PG_NONE && (c->state[list] & PG_S_REACHABLE)) {
		stack[0] = list;
		mark_from(g, c->state, stack, 1, 0, PG_S_REACHABLE, PG_NONE);
	}
	/* finalizers among the unreachable, and all unreachable they reach */
	sp = 0;
	for (size_t i = 0; i < n; i++) {
		if (c->state[i] & PG_S_REACHABLE)
			continue;
		c->state[i] |= PG_S_UNREACHABLE;
		if (pg_model_has_finalizer(g, (uint32_t)i, &c->uncertain)) {
			c->state[i] |= PG_S_FINALIZER | PG_S_KEPT;
			stack[sp++] = (uint32_t)i;
		}
	}
	if (c->uncertain)
		pg_warn_partial(w, "some objects' finalizers could not be read: the uncollectable set may be incomplete");
	mark_from(g, c->state, stack, sp, PG_S_UNREACHABLE, PG_S_KEPT, PG_NONE);
	rescue_weakrefs(g, c);
	/* delete_garbage clears the collectable part first: every reference it
	 * held is dropped.  A kept object left with no references (a finalizer
	 * object held only by collectable garbage) is freed, its __del__ runs,
	 * and what it alone held follows: it never reaches gc.garbage. */
	for (size_t i = 0; i < n; i++)
		refs[i] = (c->state[i] & PG_S_KEPT) ? g->refcnt[i] : 0;
	for (size_t i = 0; i < n; i++) {
		if ((c->state[i] & (PG_S_UNREACHABLE | PG_S_KEPT)) != PG_S_UNREACHABLE)
			continue;
		for (uint64_t e = g->estart[i]; e < g->estart[i + 1]; e++) {
			uint32_t j = g->eto[e];
			if (c->state[j] & PG_S_KEPT)
				refs[j]--;
		}
	}
	sp = 0;
	for (size_t i = 0; i < n; i++) {
		if ((c->state[i] & PG_S_KEPT) && refs[i] <= 0) {
			c->state[i] |= PG_S_FREED_LATE;
			stack[sp++] = (uint32_t)i;
		}
	}
	while (sp) {
		uint32_t i = stack[--sp];
		for (uint64_t e = g->estart[i]; e < g->estart[i + 1]; e++) {
			uint32_t j = g->eto[e];
			if ((c->state[j] & (PG_S_KEPT | PG_S_FREED_LATE)) != PG_S_KEPT)
				continue;
			if (--refs[j] <= 0) {
				c->state[j] |= PG_S_FREED_LATE;
				stack[sp++] = j;
			}
		}
	}
	/* what survives: the finalizer objects go to gc.garbage (has_finalizer()
	 * again, in handle_finalizers()); they and all the survivors they reach
	 * are leaked.  A rescued weakref is alive and passed through: what its
	 * callback reaches from a finalizer object is leaked too. */
	sp = 0;
	for (size_t i = 0; i < n; i++) {
		if (pg_survives(c, (uint32_t)i) && (c->state[i] & PG_S_FINALIZER)) {
			c->state[i] |= PG_S_LEAKED;
			stack[sp++] = (uint32_t)i;
		}
	}
	uint8_t *through = pg_calloc(n ? n : 1, 1);
	if (!through) {
		free(refs);
		free(stack);
		pg_collect_free(c);
		return PG_ENOMEM;
	}
	while (sp) {
		uint32_t i = stack[--sp];
		for (uint64_t e = g->estart[i]; e < g->estart[i + 1]; e++) {
			uint32_t j = g->eto[e];
			if (pg_survives(c, j)) {
				if (c->state[j] & PG_S_LEAKED)
					continue;
				c->state[j] |= PG_S_LEAKED;
			} else if ((c->state[j] & PG_S_RESCUED) && !through[j]) {
				through[j] = 1;
			} else {
				continue;
			}
			stack[sp++] = j;
		}
	}
	free(through);
	for (size_t i = 0; i < n; i++) {
		uint8_t s = c->state[i];
		if (!(s & PG_S_UNREACHABLE))
			continue;
		uint64_t size = pg_model_size(g, (uint32_t)i);
		c->n_unreachable++;
		c->b_unreachable += size;
		if (pg_is_uncollectable(c, (uint32_t)i)) {
			c->n_uncollectable++;
			c->b_uncollectable += size;
			if (s & PG_S_FINALIZER) {
				c->n_finalizers++;
				c->b_finalizers += size;
			}
		} else if (pg_survives(c, (uint32_t)i)) {
			c->n_deferred++;
			c->b_deferred += size;
		} else {
			c->n_freed++;
			c->b_freed += size;
		}
	}
	free(refs);
	free(stack);
	*ret = c;
	return NULL;
}

void pg_collect_free(struct pg_collect *c)
{
	if (!c)
		return;
	free(c->state);
	free(c);
}
