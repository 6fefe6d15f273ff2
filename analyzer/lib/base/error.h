/* One error type for the whole library, warnings, and the log.
 *
 * Every fallible function returns `pg_error *`: NULL on success, else an error
 * that the caller either handles (pg_error_destroy, or pg_error_catch for the
 * "this kind is not fatal here, go on" sites) or passes up.  Results are
 * handed out through trailing pointer arguments.  Out-of-memory is a static,
 * read-only sentinel (PG_ENOMEM) that needs no allocation; destroying it is a
 * no-op.
 *
 * Separately, a warnings list records what was skipped or guessed on the way
 * (the analysis goes on), and a log (a callback of the session's user)
 * receives the --verbose lines.  Nothing here is process-wide: each session
 * has its own warnings and log.
 */
#ifndef PG_ERROR_H
#define PG_ERROR_H

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pycore/error.h"

#define PG_PRINTF(a, b) __attribute__((format(printf, a, b)))

extern const pg_error pg_enomem;
#define PG_ENOMEM ((pg_error *)&pg_enomem)

pg_error *pg_error_create(enum pg_error_kind kind, const char *fmt, ...) PG_PRINTF(2, 3);
pg_error *pg_error_fault(uint64_t addr, const char *fmt, ...) PG_PRINTF(2, 3);
/* Prefix an existing error's message ("prefix: old message"); returns err. */
pg_error *pg_error_prefix(pg_error *err, const char *fmt, ...) PG_PRINTF(2, 3);
/* When err is of `kind`, destroys it and returns NULL (go on); else returns
 * it unchanged (pass it up). */
pg_error *pg_error_catch(pg_error *err, enum pg_error_kind kind);

/* The log: where --verbose lines go (a session's callback; fn NULL: nowhere). */
struct pg_log {
	void (*fn)(void *arg, const char *line);
	void *arg;
};
void pg_logf(const struct pg_log *log, const char *fmt, ...) PG_PRINTF(2, 3);
static inline bool pg_log_on(const struct pg_log *log)
{
	return log && log->fn;
}

/* Warnings: what the analysis skipped or guessed.  Bounded: after
 * PG_WARNINGS_MAX distinct messages, further ones are only counted.  Safe
 * to add to from several threads (the graph is built by two). */
#define PG_WARNINGS_MAX 200
struct pg_warnings {
	char **msgs;
	size_t n, cap;
	size_t dropped;
	bool partial;   /* some result is incomplete because input was unreadable */
	const struct pg_log *log;   /* each new warning is logged too */
	pthread_mutex_t lock;
};
void pg_warnings_init(struct pg_warnings *w, const struct pg_log *log);
void pg_warn(struct pg_warnings *w, const char *fmt, ...) PG_PRINTF(2, 3);
/* Like pg_warn, and marks the result partial. */
void pg_warn_partial(struct pg_warnings *w, const char *fmt, ...) PG_PRINTF(2, 3);
void pg_warnings_free(struct pg_warnings *w);

#endif
