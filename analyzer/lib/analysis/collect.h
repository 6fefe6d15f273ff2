/* CPython 2.7's full collection (gcmodule.c collect(2)), run offline on the
 * graph: what gc.collect() would do if it ran at the moment of the dump. */
#ifndef PG_COLLECT_H
#define PG_COLLECT_H

#include "../model/model.h"
#include "pycore/analysis.h"

pg_error *pg_collect_run(const struct pg_model *m, struct pg_warnings *w, struct pg_collect **ret);
void pg_collect_free(struct pg_collect *c);

#endif
