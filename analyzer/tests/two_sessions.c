/* An example of libpycore with two cores in one process: both sessions are
 * opened first, the first is analysed while the second is open, the second
 * after; each prints its gc.garbage count and the shapes of its cycle
 * groups, then both are closed.  fixtures/test_two_sessions.py holds the
 * output against CPython's answers for each core.
 *
 *   two_sessions CORE_A CORE_B
 *
 * Output, per core:
 *   core PATH
 *   garbage N
 *   group KIND COMPONENTS SHAPE        (one line per cycle group)
 */
#include <stdio.h>

#include "pycore/pycore.h"

static void print_session(const char *path, pg_session *s)
{
	const struct pg_model *m = pg_session_model(s);
	const struct pg_cycles *cy = pg_session_cycles(s);
	printf("core %s\ngarbage %zu\n", path, m->ngarbage);
	for (size_t i = 0; cy && i < cy->ngroups; i++)
		printf("group %s %llu %s\n", pg_cycle_kind_name(cy->groups[i].kind),
		       (unsigned long long)cy->groups[i].components, cy->groups[i].shape);
}

static int fail(pg_error *err)
{
	fprintf(stderr, "two_sessions: %s\n", err->message);
	pg_error_destroy(err);
	return 1;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: two_sessions CORE_A CORE_B\n");
		return 2;
	}
	pg_session *a = NULL, *b = NULL;
	struct pg_session_options oa = { .core = argv[1] }, ob = { .core = argv[2] };
	pg_error *err = pg_session_open(&oa, &a);
	if (!err)
		err = pg_session_open(&ob, &b);
	if (!err)
		err = pg_session_analyze(a, PG_ANALYZE_CYCLES, 0);   /* while b is open */
	if (!err)
		err = pg_session_analyze(b, PG_ANALYZE_CYCLES, 0);
	if (err) {
		pg_session_close(a);
		pg_session_close(b);
		return fail(err);
	}
	print_session(argv[1], a);
	pg_session_close(a);                                      /* b lives on */
	print_session(argv[2], b);
	pg_session_close(b);
	return 0;
}
