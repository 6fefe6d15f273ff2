/* Reports: text for people, JSON (schema pycore-garbage/1) for machines,
 * Graphviz for pictures, one object.  They read the session's results only
 * (pycore/pycore.h): never the core. */
#ifndef PG_REPORT_H
#define PG_REPORT_H

#include <jansson.h>
#include <stdio.h>

#include "pycore/pycore.h"

struct pg_report {
	pg_session *s;
	size_t top;                   /* rows of the histogram in the text report */
	size_t max_groups;            /* cycle groups shown per section of the text report (and --dot) */
	bool components;              /* list every non-trivial component */
};

/* Each returns 0, or -1 when writing failed. */
int pg_report_text(FILE *out, const struct pg_report *a);
int pg_report_json(FILE *out, const struct pg_report *a);
/* Graphviz picture of the example cycle of the groups the text shows. */
int pg_report_dot(FILE *out, const struct pg_report *a);
/* One object: type, size, refcount, value, referents, referrers. */
int pg_report_object(FILE *out, const struct pg_report *a, const struct pg_object *o, bool json);
/* Several --object: one JSON document ({"object": ...} for one, else
 * {"objects": [...]}). */
int pg_report_objects_json(FILE *out, const struct pg_report *a, struct pg_object *const *o, size_t n);
/* --html: one self-contained page (report/html.c). */
int pg_report_html(FILE *out, const struct pg_report *a);
/* --why: the path from a root, or why there is none. */
int pg_report_why(FILE *out, const struct pg_report *a, const struct pg_why *w, bool json);

/* What holds the memory (PG_ANALYZE_RETENTION; nothing when it was not
 * run): the text section, and the JSON keys "retainers", "untracked",
 * "untracked_types", "roots" added to obj. */
int pg_report_retention_text(FILE *out, const struct pg_report *a);
struct json_t;
int pg_report_retention_json(struct json_t *obj, const struct pg_report *a);

/* The memory tree (PG_ANALYZE_MEMORY; nothing when it was not run): the
 * headline and the tree to three levels (text, 0 or -1), the "memory"
 * key's value (JSON null when absent). */
int pg_report_memory_text(FILE *out, const struct pg_report *a);
struct json_t;
struct json_t *pg_report_memory_json(const struct pg_report *a);

/* Shared helpers */
/* Per-row count and bytes of the graph objects `pick` chooses; rows sorted
 * by bytes. *nrows_out rows; caller frees. */
struct pg_rowsum { uint32_t row; uint64_t count, bytes; };
struct pg_rowsum *pg_summarise(const struct pg_model *m, const struct pg_collect *c,
			       bool (*pick)(const struct pg_collect *, uint32_t), size_t *nrows_out);
bool pg_pick_unreachable(const struct pg_collect *c, uint32_t i);
bool pg_pick_uncollectable(const struct pg_collect *c, uint32_t i);
bool pg_pick_finalizer(const struct pg_collect *c, uint32_t i);
bool pg_pick_freed(const struct pg_collect *c, uint32_t i);
bool pg_pick_deferred(const struct pg_collect *c, uint32_t i);
const char *pg_made_by_name(enum pg_made_by m);
/* Rows sorted by bytes (then count, then name), largest first; caller frees. */
uint32_t *pg_rows_sorted(const struct pg_model *m);
/* The state of graph object i in the offline collection, as text. */
const char *pg_state_text(const struct pg_collect *c, uint32_t i);

/* JSON of a string from the core (UTF-8, U+FFFD; null for none), of an address */
json_t *pg_json_str(const char *s);
json_t *pg_json_addr(uint64_t addr);
/* s as a quoted Graphviz string */
void pg_dot_str(FILE *out, const char *s);

#endif
