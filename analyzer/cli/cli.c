/* The command line: options, the pipeline, the exit codes.  pg_main() is
 * what main() runs, and what the fuzzing harness calls. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "heap.h"
#include "interp.h"
#include "report.h"
#include "collect.h"
#include "cycles.h"
#include "graph.h"
#include "traverse.h"
#include "cli.h"

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
	"  --no-cycles             skip the cycle analysis\n"
	"  --max-groups N          cycle patterns shown in the text report, per\n"
	"                          section, and drawn by --dot (10)\n"
	"  --dot FILE              Graphviz picture of the example cycle of each pattern\n"
	"                          the text report shows (render with dot -Tsvg); with\n"
	"                          FILE '-', the picture is written to stdout instead of\n"
	"                          the report\n"
	"  --object ADDR           one object, tracked or not: type, size, refcount, a\n"
	"                          preview of its value, referents with labels, referrers\n"
	"  --components            also list every non-trivial strongly connected\n"
	"                          component (a text section, or a JSON key)\n"
	"  --top N                 rows of the type histogram in the text report (25)\n"
	"  --verbose               log how the interpreter and its state were found\n"
	"  -h, --help              this text\n"
	"  -V, --version           the version\n"
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

/* Writes the picture to a temporary name beside path, then renames it: a
 * failed run leaves no half-written file, and never an input overwritten. */
static int pg_write_dot(const char *path, const struct pg_analysis *a)
{
	char *tmp = pg_asprintf("%s.tmp.XXXXXX", path);
	if (!tmp)
		return -1;
	int fd = mkstemp(tmp);
	if (fd < 0) {
		free(tmp);
		return -1;
	}
	FILE *f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		unlink(tmp);
		free(tmp);
		return -1;
	}
	int r = pg_report_dot(f, a);
	if (fflush(f) != 0 || fsync(fd) != 0)
		r = -1;
	if (fclose(f) != 0)
		r = -1;
	if (r == 0)
		r = rename(tmp, path);
	if (r != 0) {
		int e = errno;
		unlink(tmp);
		errno = e;
	}
	free(tmp);
	return r;
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

int pg_main(int argc, char **argv)
{
	optind = 0; /* reentrant: the fuzzer calls this many times */
	pg_verbose = 0;
	enum { O_JSON = 256, O_EXE, O_SYSROOT, O_DEBUGINFO, O_MAXOBJ, O_TOP, O_NOCOLLECT, O_NOCYCLES, O_MAXGROUPS, O_DOT, O_OBJECT, O_COMPONENTS, O_VERBOSE };
	static const struct option opts[] = {
		{ "json", no_argument, NULL, O_JSON },
		{ "exe", required_argument, NULL, O_EXE },
		{ "sysroot", required_argument, NULL, O_SYSROOT },
		{ "debuginfo-path", required_argument, NULL, O_DEBUGINFO },
		{ "max-objects", required_argument, NULL, O_MAXOBJ },
		{ "top", required_argument, NULL, O_TOP },
		{ "no-collect", no_argument, NULL, O_NOCOLLECT },
		{ "no-cycles", no_argument, NULL, O_NOCYCLES },
		{ "max-groups", required_argument, NULL, O_MAXGROUPS },
		{ "dot", required_argument, NULL, O_DOT },
		{ "components", no_argument, NULL, O_COMPONENTS },
		{ "object", required_argument, NULL, O_OBJECT },
		{ "verbose", no_argument, NULL, O_VERBOSE },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	struct pg_core_options co = { 0 };
	bool json = false, collect = true, cycles = true, have_object = false, components = false;
	size_t max_groups = 10;
	const char *dot = NULL;
	uint64_t object_addr = 0;
	size_t max_objects = 100000000, top = 25;
	int c;
	/* getopt_long's own messages ("option '--top' requires an argument",
	 * "unrecognized option", ambiguous abbreviations), under our name */
	char *prog = argc > 0 ? argv[0] : NULL;
	if (argc > 0)
		argv[0] = (char *)"pycore-garbage";
	opterr = 1;
	while ((c = getopt_long(argc, argv, "hV", opts, NULL)) != -1) {
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
		case O_NOCOLLECT: collect = false; cycles = false; break;
		case O_NOCYCLES: cycles = false; break;
		case O_MAXGROUPS:
			if (!parse_size(optarg, &max_groups))
				return usage_error("--max-groups takes a positive whole number, not '%s'", optarg);
			break;
		case O_DOT: dot = optarg; break;
		case O_COMPONENTS: components = true; break;
		case O_OBJECT: {
			char *end;
			errno = 0;
			object_addr = strtoull(optarg, &end, 0);
			if (errno || end == optarg || *end || !object_addr)
				return usage_error("--object takes an address such as 0x7f3a2c1e5d10, not '%s'", optarg);
			have_object = true;
			break;
		}
		case O_VERBOSE: pg_verbose = 1; break;
		case 'h': fputs(usage_text, stdout); return fflush(stdout) ? EXIT_INTERNAL : 0;
		case 'V': printf("pycore-garbage %s\n", PG_VERSION); return fflush(stdout) ? EXIT_INTERNAL : 0;
		default:
			/* getopt_long said what is wrong */
			fprintf(stderr, "try 'pycore-garbage --help'\n");
			return EXIT_USAGE;
		}
	}
	if (argc > 0)
		argv[0] = prog;
	bool dot_stdout = dot && strcmp(dot, "-") == 0;
	if (dot_stdout && (json || have_object))
		return usage_error("%s", "--dot - writes the picture to stdout: it does not go with --json or --object");
	if (dot && !collect)
		return usage_error("%s", "--dot draws cycles: it does not go with --no-collect");
	if (optind != argc - 1)
		return usage_error("%s", optind >= argc ? "no CORE given" : "more than one CORE given");
	co.path = argv[optind];
	if (dot && !dot_stdout) {
		struct stat sa, sb;
		if (stat(dot, &sa) == 0 && stat(co.path, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino)
			return usage_error("--dot %s would write over the core", dot);
	}

	struct pg_warnings warn = { 0 };
	struct pg_core *core = NULL;
	struct pg_interp *in = NULL;
	struct pg_heap *heap = NULL;
	struct pg_traverse *trav = NULL;
	struct pg_graph *graph = NULL;
	struct pg_collect *coll = NULL;
	struct pg_cycles *cyc = NULL;
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
	if (!err && (cycles || dot) && coll)
		err = pg_cycles_find(heap, trav, graph, coll, &cyc);
	double t6 = now_ms();
	pg_log("time: open %.1f ms, interpreter %.1f ms, walk %.1f ms, graph %.1f ms, collect %.1f ms, cycles %.1f ms",
	       t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5);
	if (err) {
		code = fail(err);
	} else {
		struct pg_analysis a = { .core = core, .in = in, .heap = heap, .warn = &warn, .top = top,
					   .trav = trav, .graph = graph, .coll = coll };
		a.cycles = cyc;
		a.max_groups = max_groups;
		a.components = components;
		int r;
		if (have_object)
			r = graph ? pg_report_object(stdout, &a, object_addr, json) : -2;
		else if (dot_stdout)
			r = cyc ? pg_report_dot(stdout, &a) : 0;
		else
			r = json ? pg_report_json(stdout, &a) : pg_report_text(stdout, &a);
		if (r == -2) {
			fprintf(stderr, "pycore-garbage: --object needs the object graph (drop --no-collect)\n");
			code = EXIT_USAGE;
			r = 0;
		} else if (r == -3) {
			fprintf(stderr, "pycore-garbage: 0x%" PRIx64 " is not an object in this core\n", object_addr);
			code = EXIT_BAD_INPUT;
			r = 0;
		}
		if (r == 0 && dot && !dot_stdout && cyc && pg_write_dot(dot, &a) != 0) {
			fprintf(stderr, "pycore-garbage: cannot write %s: %s\n", dot, strerror(errno));
			code = EXIT_INTERNAL;
		}
		if (r != 0 || fflush(stdout) != 0) {
			fprintf(stderr, "pycore-garbage: cannot write the report: %s\n", strerror(errno));
			code = EXIT_INTERNAL;
		}
	}
	pg_cycles_free(cyc);
	pg_collect_free(coll);
	pg_graph_free(graph);
	pg_traverse_free(trav);
	pg_heap_free(heap);
	pg_interp_free(in);
	pg_core_close(core);
	pg_warnings_free(&warn);
	return code;
}
