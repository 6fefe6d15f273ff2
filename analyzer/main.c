/* pycore-garbage: what leaked in a Python 2.7 process, from its core alone. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "heap.h"
#include "interp.h"
#include "report.h"
#include "collect.h"
#include "graph.h"
#include "traverse.h"

#include <time.h>

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

#ifndef PG_VERSION
#define PG_VERSION "0.1"
#endif

enum { EXIT_ANALYSED = 0, EXIT_INTERNAL = 1, EXIT_USAGE = 2, EXIT_BAD_INPUT = 3 };

static const char usage_text[] =
	"usage: pycore-garbage [OPTIONS] CORE\n"
	"\n"
	"Reads the core dump of a Python 2.7 process and reports gc.garbage, the gc\n"
	"generations and what the tracked heap is made of. Nothing runs: no process,\n"
	"no debugger.\n"
	"\n"
	"options:\n"
	"  --json                  one JSON document (schema pycore-garbage/1) on stdout\n"
	"  --exe PATH              the executable, when the core's notes are not enough\n"
	"  --sysroot DIR           look up every file the core mapped under DIR (a core\n"
	"                          from a container or another machine); debug files are\n"
	"                          then searched under DIR/usr/lib/debug\n"
	"  --debuginfo-path PATH   where separate debug files are searched, as libdwfl\n"
	"                          takes it (default ':.debug:/usr/lib/debug')\n"
	"  --max-objects N         stop after N tracked objects (default 100000000)\n"
	"  --no-collect            skip the offline collection (gc.garbage, generations\n"
	"                          and histogram only)\n"
	"  --top N                 rows of the type histogram in the text report (25)\n"
	"  --verbose               log how the interpreter and its state were found\n"
	"  --help, --version\n"
	"\n"
	"exit status:\n"
	"  0  analysed (warnings, and \"partial\": true in JSON, say what was skipped)\n"
	"  1  internal error (out of memory, cannot write the report)\n"
	"  2  usage error\n"
	"  3  cannot analyse this input: not an ELF core, truncated before its\n"
	"     headers, no Python 2.7 interpreter in it, no debug info for it, ...\n";

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "pycore-garbage: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\ntry 'pycore-garbage --help'\n");
	return EXIT_USAGE;
}

static int fail(pg_error *err)
{
	int code = err->kind == PG_ERR_INPUT || err->kind == PG_ERR_FAULT || err->kind == PG_ERR_NOT_FOUND
		? EXIT_BAD_INPUT
		: err->kind == PG_ERR_USAGE ? EXIT_USAGE : EXIT_INTERNAL;
	fprintf(stderr, "pycore-garbage: %s\n", err->message);
	pg_error_destroy(err);
	return code;
}

static bool parse_size(const char *s, size_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v == 0)
		return false;
	*out = (size_t)v;
	return true;
}

int main(int argc, char **argv)
{
	enum { O_JSON = 256, O_EXE, O_SYSROOT, O_DEBUGINFO, O_MAXOBJ, O_TOP, O_NOCOLLECT, O_VERBOSE, O_HELP, O_VERSION };
	static const struct option opts[] = {
		{ "json", no_argument, NULL, O_JSON },
		{ "exe", required_argument, NULL, O_EXE },
		{ "sysroot", required_argument, NULL, O_SYSROOT },
		{ "debuginfo-path", required_argument, NULL, O_DEBUGINFO },
		{ "max-objects", required_argument, NULL, O_MAXOBJ },
		{ "top", required_argument, NULL, O_TOP },
		{ "no-collect", no_argument, NULL, O_NOCOLLECT },
		{ "verbose", no_argument, NULL, O_VERBOSE },
		{ "help", no_argument, NULL, O_HELP },
		{ "version", no_argument, NULL, O_VERSION },
		{ 0 },
	};
	struct pg_core_options co = { 0 };
	bool json = false, collect = true;
	size_t max_objects = 100000000, top = 25;
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case O_JSON: json = true; break;
		case O_EXE: co.exe = optarg; break;
		case O_SYSROOT: co.sysroot = optarg; break;
		case O_DEBUGINFO: co.debuginfo_path = optarg; break;
		case O_MAXOBJ:
			if (!parse_size(optarg, &max_objects))
				return usage_error("--max-objects takes a positive whole number, not '%s'", optarg);
			break;
		case O_TOP:
			if (!parse_size(optarg, &top))
				return usage_error("--top takes a positive whole number, not '%s'", optarg);
			break;
		case O_NOCOLLECT: collect = false; break;
		case O_VERBOSE: pg_verbose = 1; break;
		case O_HELP: fputs(usage_text, stdout); return 0;
		case O_VERSION: printf("pycore-garbage %s\n", PG_VERSION); return 0;
		default:
			return usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind != argc - 1)
		return usage_error("%s", optind >= argc ? "no CORE given" : "more than one CORE given");
	co.path = argv[optind];

	struct pg_warnings warn = { 0 };
	struct pg_core *core = NULL;
	struct pg_interp *in = NULL;
	struct pg_heap *heap = NULL;
	struct pg_traverse *trav = NULL;
	struct pg_graph *graph = NULL;
	struct pg_collect *coll = NULL;
	int code = EXIT_ANALYSED;
	double t0 = now_ms();
	pg_error *err = pg_core_open(&co, &warn, &core);
	double t1 = now_ms();
	if (!err)
		err = pg_interp_find(core, &warn, &in);
	double t2 = now_ms();
	if (!err)
		err = pg_heap_walk(core, in, &warn, max_objects, &heap);
	double t3 = now_ms();
	if (!err && collect)
		err = pg_traverse_new(heap, &trav);
	if (!err && collect)
		err = pg_graph_build(heap, trav, &graph);
	double t4 = now_ms();
	if (!err && collect)
		err = pg_collect_run(heap, trav, graph, &coll);
	double t5 = now_ms();
	pg_log("time: open %.1f ms, interpreter %.1f ms, walk %.1f ms, graph %.1f ms, collect %.1f ms",
	       t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4);
	if (err) {
		code = fail(err);
	} else {
		struct pg_analysis a = { .core = core, .in = in, .heap = heap, .warn = &warn, .top = top,
					   .trav = trav, .graph = graph, .coll = coll };
		int r = json ? pg_report_json(stdout, &a) : pg_report_text(stdout, &a);
		if (r != 0 || fflush(stdout) != 0) {
			fprintf(stderr, "pycore-garbage: cannot write the report: %s\n", strerror(errno));
			code = EXIT_INTERNAL;
		}
	}
	pg_collect_free(coll);
	pg_graph_free(graph);
	pg_traverse_free(trav);
	pg_heap_free(heap);
	pg_interp_free(in);
	pg_core_close(core);
	pg_warnings_free(&warn);
	return code;
}
