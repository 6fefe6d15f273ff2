/* Strongly connected components: iterative Tarjan (no recursion whose
 * depth follows the graph's shape) over a graph in CSR form. */
#ifndef PG_SCC_H
#define PG_SCC_H

#include "../base/error.h"

/* The components of the subgraph of the nodes with in[v] set (edges leaving
 * the set are ignored): comp[v] gets a component id, numbered from *ncomps
 * on (which is advanced); nodes outside the set are left as they are.
 * Components come out in Tarjan's order (sinks first). */
pg_error *pg_scc(size_t n, const uint32_t *estart, const uint32_t *eto, const uint8_t *in, uint32_t *comp,
		size_t *ncomps);

#endif
