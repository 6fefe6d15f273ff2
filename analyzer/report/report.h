/* Reports: text for people, JSON (schema pycore-garbage/1) for machines. */
#ifndef PG_REPORT_H
#define PG_REPORT_H

#include <stdio.h>

#include "cycles.h"

struct pg_analysis {
	struct pg_core *core;
	struct pg_interp *in;
	struct pg_heap *heap;
	struct pg_warnings *warn;
	struct pg_traverse *trav;     /* NULL with --no-collect */
	struct pg_graph *graph;
	struct pg_collect *coll;
	struct pg_cycles *cycles;     /* NULL with --no-cycles */
	size_t top;                   /* rows of the histogram in the text report */
	size_t max_groups;            /* cycle groups shown in the text report */
	bool components;              /* list every non-trivial component */
};

/* Both return 0, or -1 when writing failed. */
int pg_report_text(FILE *out, const struct pg_analysis *a);
int pg_report_json(FILE *out, const struct pg_analysis *a);

/* Graphviz picture of the example cycle of the first max_groups groups. */
int pg_report_dot(FILE *out, const struct pg_analysis *a);
/* One object: type, size, refcount, referents with labels, referrers. */
int pg_report_object(FILE *out, const struct pg_analysis *a, uint64_t addr, bool json);

/* Shared helpers */
/* Per-row count and bytes of the graph objects whose state has `mask` bits
 * equal to `want`; rows sorted by bytes. *nrows_out rows; caller frees. */
struct pg_rowsum { uint32_t row; uint64_t count, bytes; };
struct pg_rowsum *pg_summarise(const struct pg_analysis *a, bool (*pick)(const struct pg_collect *, uint32_t),
			       size_t *nrows_out);
bool pg_pick_unreachable(const struct pg_collect *c, uint32_t i);
bool pg_pick_uncollectable(const struct pg_collect *c, uint32_t i);
bool pg_pick_finalizer(const struct pg_collect *c, uint32_t i);
bool pg_pick_freed(const struct pg_collect *c, uint32_t i);
bool pg_pick_deferred(const struct pg_collect *c, uint32_t i);
const char *pg_made_by_name(enum pg_made_by m);
/* Rows sorted by bytes (then count, then name), largest first; caller frees. */
uint32_t *pg_rows_sorted(const struct pg_heap *h);

#endif
