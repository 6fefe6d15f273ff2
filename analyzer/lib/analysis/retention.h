/* Retention (pycore/analysis.h): dominators over every object from the
 * roots, retained sizes, retainers, shortest paths from a root. */
#ifndef PG_RETENTION_H
#define PG_RETENTION_H

#include "../model/model.h"
#include "pycore/analysis.h"

/* Needs the model with every object (pg_model_build_all).  Pure model:
 * may run while other analyses read the same model. */
/* nrows: the model's rows when it started (others may add rows meanwhile). */
pg_error *pg_retention_run(const struct pg_model *m, size_t nrows, struct pg_retention **ret);
void pg_retention_free(struct pg_retention *r);

/* The shortest path of strong references from a root to node (names
 * prefer the family's roots over "held from outside"): nodes from the
 * root's object to node, and the root's index in r->roots.  *npath = 0
 * when no root reaches node. */
pg_error *pg_retention_path(const struct pg_model *m, const struct pg_retention *r, uint32_t node, uint32_t **path,
			    size_t *npath, uint32_t *root);

#endif
