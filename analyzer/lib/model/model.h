/* Building the model (pycore/model.h), and the facts it asks of the family.
 *
 * The family's walk adds types, rows and the tracked objects in list order
 * (with their rows and sizes); pg_model_build_graph() then puts the objects
 * in address order, reads their refcounts and references (two threads), and
 * frees the walk's table.  After that the analyses need nothing but the
 * model: the three facts below are the family's, asked through the model so
 * that no analysis knows a family. */
#ifndef PG_MODEL_H
#define PG_MODEL_H

#include "../base/maps.h"
#include "../family.h"
#include "index.h"

struct pg_model_private {
	struct pg_family *fam;
	const struct pg_mem *mem;
	struct pg_warnings *warn;
	struct pg_strmap row_index;
	char **pool;                   /* strings owned by the model */
	size_t npool, cappool;
	struct pg_u64map big_sizes;    /* address -> index into big[] */
	struct { uint64_t addr, size; } *big;
	size_t nbig, capbig;
	/* the walk's table, in gc-list order (freed by pg_model_build_graph) */
	bool keep_objects;             /* the graph will be built: keep them */
	uint64_t *w_addr;
	uint32_t *w_type, *w_row, *w_size;
	uint8_t *w_gen;
	size_t nwalk, capwalk;
	size_t reserve;                /* most objects the core can hold */
	struct pg_bigarr arr_addr, arr_type, arr_row, arr_size, arr_gen;
	struct pg_index index;
	struct pg_bigarr eto_arr;
	/* every object (lib/model/all.c) */
	bool want_all;
	uint32_t *ustart;              /* n + 1: per tracked object, where its untracked referents start in its part's ubuf */
	size_t nparts;
	struct pg_bigarr ubuf[2];
	size_t nubuf[2], part_lo[2], part_hi[2];
	uint64_t misaligned;           /* referents of tracked objects that cannot be objects */
	struct pg_index uindex;        /* the untracked nodes by address */
	uint32_t *uperm;               /* rank in uindex -> node - n */
	struct pg_bigarr xto_arr;
	bool node_arrs;                /* addr, type, row, size, refcnt are these reservations */
	struct pg_bigarr node_arr[5];
	size_t capweak, caproots;
};

pg_error *pg_model_new(struct pg_family *fam, const struct pg_mem *mem, struct pg_warnings *w, bool keep_objects,
		       struct pg_model **ret);
void pg_model_free(struct pg_model *m);

/* Keeps s (malloc'd) for the model's life; returns it, NULL (s freed) when
 * out of memory. */
char *pg_model_own(struct pg_model *m, char *s);
/* The histogram row for a name (borrowed: kept alive by its owner). */
pg_error *pg_model_row(struct pg_model *m, const char *name, bool oldstyle, uint32_t *row);
/* A new type entry (name owned by the model from now on). */
pg_error *pg_model_add_type(struct pg_model *m, const struct pg_model_type *t, uint32_t *idx);

/* One tracked object met by the walk, in list order: counted in its row;
 * kept for the graph when the model was made with keep_objects.  `most`:
 * the most objects the core can hold (sizes the first reservation). */
pg_error *pg_model_walk_grow(struct pg_model *m);
/* A size of 4 GiB or more, kept apart (the tables hold UINT32_MAX). */
pg_error *pg_model_walk_big(struct pg_model *m, uint64_t addr, uint64_t size);
static inline pg_error *pg_model_walk_add(struct pg_model *m, uint64_t addr, uint32_t type, uint8_t gen,
					  uint32_t row, uint64_t size)
{
	struct pg_model_private *p = m->priv;
	m->rows[row].count++;
	m->rows[row].bytes += size;
	m->tracked++;
	m->tracked_bytes += size;
	if (!p->keep_objects)
		return NULL;
	if (p->nwalk == p->capwalk) {
		pg_error *err = pg_model_walk_grow(m);
		if (err)
			return err;
	}
	p->w_addr[p->nwalk] = addr;
	p->w_type[p->nwalk] = type;
	p->w_gen[p->nwalk] = gen;
	p->w_row[p->nwalk] = row;
	p->w_size[p->nwalk] = size < UINT32_MAX ? (uint32_t)size : UINT32_MAX;
	p->nwalk++;
	return size < UINT32_MAX ? NULL : pg_model_walk_big(m, addr, size);
}

/* The graph: objects in address order, refcounts, edges, weak references.
 * After pg_model_want_all(), it also keeps the referents that are no
 * graph objects, for pg_model_build_all(). */
pg_error *pg_model_build_graph(struct pg_model *m);
void pg_model_want_all(struct pg_model *m);
/* Every object (lib/model/all.c): the untracked objects the graph's
 * objects reach, their edges, and the roots the family names. */
pg_error *pg_model_build_all(struct pg_model *m);
void pg_model_all_free(struct pg_model *m);

/* --- facts asked of the family (the core must be open) --- */
bool pg_model_has_finalizer(const struct pg_model *m, uint32_t i, bool *uncertain);
/* Caller frees; NULL when unknown. */
char *pg_model_finalizer_text(const struct pg_model *m, uint32_t i);
/* The labels of the edges from i to j, in visit order (at most cap); the
 * number found. */
size_t pg_model_edge_labels(const struct pg_model *m, uint32_t i, uint32_t j, struct pg_label *out, size_t cap);
void pg_model_label_text(const struct pg_model *m, const struct pg_label *l, char *buf, size_t cap);
/* Referents of graph object i that are not graph objects (once per visit). */
void pg_model_untracked_referents(const struct pg_model *m, uint32_t i, void (*fn)(void *arg, uint64_t addr),
				  void *arg);
/* Refcount and size of any object in the core; false when unreadable. */
bool pg_model_refcnt_size(struct pg_model *m, uint64_t addr, int64_t *refcnt, uint64_t *size);
/* Every referent of graph object i, tracked or not, with its label. */
void pg_model_referents(const struct pg_model *m, uint32_t i, pg_visit_fn fn, void *arg, bool *approx);
/* The referents of any object (not only graph objects). */
void pg_model_referents_of(const struct pg_model *m, uint64_t addr, uint32_t type, pg_visit_fn fn, void *arg,
			   bool *approx);
int64_t pg_model_length(const struct pg_model *m, uint32_t i);
/* The weak references to graph object i: the weakref's graph index (only
 * those that are graph objects) and whether it has a callback. */
void pg_model_weakrefs(const struct pg_model *m, uint32_t i, void (*fn)(void *arg, uint32_t weakref, bool callback),
		       void *arg);

#endif
