/* Reports: text for people, JSON (schema pycore-garbage/1) for machines. */
#ifndef PG_REPORT_H
#define PG_REPORT_H

#include <stdio.h>

#include "heap.h"

struct pg_analysis {
	struct pg_core *core;
	struct pg_interp *in;
	struct pg_heap *heap;
	struct pg_warnings *warn;
	size_t top;            /* rows of the histogram in the text report */
};

/* Both return 0, or -1 when writing failed. */
int pg_report_text(FILE *out, const struct pg_analysis *a);
int pg_report_json(FILE *out, const struct pg_analysis *a);

/* Shared helpers */
const char *pg_made_by_name(enum pg_made_by m);
/* Rows sorted by bytes (then count, then name), largest first; caller frees. */
uint32_t *pg_rows_sorted(const struct pg_heap *h);

#endif
