/* Reference cycles: strongly connected components over (a) the unreachable
 * set of the simulated collection and (b) what gc.garbage keeps alive, one
 * representative cycle per component with labelled edges, and components
 * grouped by shape. */
#ifndef PG_CYCLES_H
#define PG_CYCLES_H

#include "collect.h"

pg_error *pg_cycles_find(const struct pg_model *m, const struct pg_collect *c, struct pg_cycles **ret);
void pg_cycles_free(struct pg_cycles *cy);



#endif
