/* libpycore: reads the ELF core dump of a Python process offline and tells
 * what its heap holds.
 *
 *   pg_session *s;
 *   struct pg_session_options o = { .core = "core.1234" };
 *   pg_error *err = pg_session_open(&o, &s);           the core, the interpreter
 *   if (!err) err = pg_session_analyze(s, PG_ANALYZE_CYCLES, 0);
 *   ... pg_session_model(s), pg_session_collect(s), pg_session_cycles(s) ...
 *   pg_session_close(s);
 *
 * Every fallible call returns a pg_error (NULL on success; free it with
 * pg_error_destroy).  A session holds everything of one core; the library
 * has no process-wide state, so sessions live side by side (one per core,
 * in any number of threads, one thread per session).  Log lines (--verbose)
 * go to a callback given at open. */
#ifndef PYCORE_H
#define PYCORE_H

#include <stddef.h>

#include "pycore/analysis.h"
#include "pycore/error.h"
#include "pycore/memory.h"
#include "pycore/model.h"

typedef struct pg_session pg_session;

struct pg_session_options {
	const char *core;             /* the core file */
	const char *exe;              /* the executable, when the core's notes are not enough */
	const char *sysroot;          /* every file the core mapped is looked up under it */
	const char *debuginfo_path;   /* libdwfl's; default ":.debug:/usr/lib/debug" */
	/* where log lines go (what --verbose prints), or NULL */
	void (*log)(void *arg, const char *line);
	void *log_arg;
	/* progress, or NULL: called from the session's thread as each stage
	 * begins ("walk", "graph", ...) with the share of the whole work done
	 * so far, 0..100, and with 100 at the end of pg_session_analyze */
	void (*progress)(void *arg, const char *stage, int percent);
	void *progress_arg;
};

pg_error *pg_session_open(const struct pg_session_options *o, pg_session **ret);
void pg_session_close(pg_session *s);

/* What to analyse; each includes the ones before it.  The walk of the gc
 * state (histogram, generations, gc.garbage) always runs. */
enum pg_analyses {
	PG_ANALYZE_WALK = 0,
	PG_ANALYZE_GRAPH = 1,        /* every tracked object and its references */
	PG_ANALYZE_COLLECT = 3,      /* the offline gc.collect() */
	PG_ANALYZE_CYCLES = 7,       /* reference cycles grouped by shape */
	PG_ANALYZE_MEMORY = 8,       /* the memory tree (a bit of its own: add it to any of the above) */
	PG_ANALYZE_RETENTION = 17,   /* every object, the roots, dominators, retainers (with the graph) */
};
/* Runs the analyses once per session; max_objects: stop the walk after so
 * many tracked objects (0: 10^8). */
pg_error *pg_session_analyze(pg_session *s, enum pg_analyses what, size_t max_objects);

enum pg_made_by { PG_MADE_UNKNOWN, PG_MADE_KERNEL, PG_MADE_GCORE };

/* The core file and the process, from its notes. */
struct pg_core_info {
	const char *path;
	int pid, threads, signal;
	const char *command;          /* the argument string, cut at 80 bytes by the kernel */
	enum pg_made_by made_by;
	bool truncated;
	const char *compression;      /* "zstd", "lz4", "xz", "gzip", "bzip2" (decoded to a temporary file), or NULL */
};

const struct pg_core_info *pg_session_core(const pg_session *s);
const struct pg_interp_info *pg_session_interp(const pg_session *s);
/* After pg_session_analyze: the model always; the collection and the
 * cycles when asked for (else NULL). */
const struct pg_model *pg_session_model(const pg_session *s);
const struct pg_collect *pg_session_collect(const pg_session *s);
const struct pg_cycles *pg_session_cycles(const pg_session *s);
/* After pg_session_analyze with PG_ANALYZE_MEMORY: every byte of the core
 * classified (pycore/memory.h), else NULL. */
const struct pg_memory *pg_session_memory(const pg_session *s);
/* After pg_session_analyze with PG_ANALYZE_RETENTION: what holds what
 * (pycore/analysis.h), else NULL. */
const struct pg_retention *pg_session_retention(const pg_session *s);
/* A root as a user reads it: its kind ("module", "thread", ...), name
 * ("module myservice.cache global _RENDER_CACHE") and the expression a
 * path from it starts with.  Caller frees name and expr. */
pg_error *pg_session_root_text(pg_session *s, uint32_t root, const char **kind, char **name, char **expr);
/* A retainer's path as a Python expression ("myservice.cache._RENDER_CACHE",
 * "thread 140159375869632 worker_loop() local batch"); caller frees. */
char *pg_session_retainer_expr(pg_session *s, const struct pg_retainer *rt);
/* The name of a retainer's root as its path uses it ("module M global K"
 * for a module's global); caller frees; NULL when it has none. */
char *pg_session_retainer_root(pg_session *s, const struct pg_retainer *rt, const char **kind);

/* What was skipped or guessed (the analysis went on), and whether some
 * result is incomplete because input was unreadable. */
size_t pg_session_nwarnings(const pg_session *s);
const char *pg_session_warning(const pg_session *s, size_t i);
size_t pg_session_warnings_dropped(const pg_session *s);
bool pg_session_partial(const pg_session *s);

/* One object anywhere in the core (tracked or not), with its referents and
 * its referrers among the graph's objects (needs PG_ANALYZE_GRAPH). */
struct pg_object_ref {
	uint64_t addr;
	char *label;                  /* the edge's label as text */
	const char *type;             /* the referent's (or referrer's) row name, "?" if unreadable */
	bool tracked;                 /* a graph object */
	bool garbage_list;            /* it is the gc.garbage list */
};
struct pg_object {
	uint64_t addr;
	uint32_t index;               /* graph index, or PG_NONE when untracked */
	const char *type;             /* row name (old-style instances: their class) */
	bool oldstyle;
	const char *tp_name;
	uint64_t size;
	int64_t refcnt;
	bool have_refcnt;
	int generation;               /* -1 when untracked */
	char *finalizer;              /* "ApiClient.__del__", or NULL */
	char *value;                  /* a repr preview, or NULL */
	const char *type_object;      /* for a type object: the type it is */
	bool garbage_list;
	bool approximate;             /* its referents come from a conservative scan */
	bool have_retained;           /* with retention, when a root reaches it */
	uint64_t retained_count, retained_bytes;
	struct pg_object_ref *referents;
	size_t nreferents;
	bool referents_cut;           /* more than PG_OBJECT_LISTED */
	struct pg_object_ref *referrers;
	size_t nreferrers;
};
#define PG_OBJECT_LISTED 10000
/* PG_ERR_NOT_FOUND when addr is no object; PG_ERR_USAGE without the graph. */
pg_error *pg_session_object(pg_session *s, uint64_t addr, struct pg_object **ret);
void pg_object_free(struct pg_object *o);

/* Why an object is alive: the shortest path of strong references from a
 * root to it (needs PG_ANALYZE_RETENTION). */
struct pg_why_step {
	uint64_t addr;
	const char *type;             /* row name */
	char *label;                  /* the edge from the step before (NULL for the first) */
};
struct pg_why {
	uint64_t addr;
	const char *type;
	bool in_graph;                /* a node of the model (else: nothing refers to it) */
	bool reached;                 /* a root reaches it; else unreachable: */
	bool tracked;                 /* it is a graph object */
	/* reached: */
	const char *root_kind;
	char *root_name;
	char *expr;                   /* the path as a Python expression */
	struct pg_why_step *steps;    /* the root's object first, the object last */
	size_t nsteps;
	uint64_t retained_count, retained_bytes;
	/* unreachable (cyclic garbage, or held only by it): */
	const struct pg_cycle_group *group;   /* its cycle group, when it has one */
	uint32_t holder;              /* the group's member it hangs from (a node), or PG_NONE */
};
/* PG_ERR_NOT_FOUND when addr is no object; PG_ERR_USAGE without retention. */
pg_error *pg_session_why(pg_session *s, uint64_t addr, struct pg_why **ret);
void pg_why_free(struct pg_why *w);

#endif
