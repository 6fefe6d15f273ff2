/* Progress on stderr (--quiet silences it): only when stderr is a terminal
 * and the core is big (PG_PROGRESS_MIN bytes or more, or read from a pipe);
 * one line, rewritten in place, erased when the analysis is done. */
#ifndef PG_PROGRESS_H
#define PG_PROGRESS_H

#include <stdbool.h>
#include <stdio.h>

#define PG_PROGRESS_MIN (64ull << 20)

struct pg_progress {
	FILE *out;
	const char *stage;
	int percent;
	bool shown;
};

/* stderr is a terminal and the core (a path, or '-') is big */
bool pg_progress_wanted(const char *core);
void pg_progress_init(struct pg_progress *p, FILE *out);
/* the session's callback (pg_session_options.progress) */
void pg_progress_cb(void *arg, const char *stage, int percent);
/* erases the line */
void pg_progress_done(struct pg_progress *p);

#endif
