/* The command line: options, the pipeline, the exit codes.  pg_main() is
 * what main() runs, and what the fuzzing harness calls. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../report/report.h"
#include "cli.h"
#include "failon.h"
#include "progress.h"
#include "pycore/pycore.h"

#ifndef PG_VERSION
#define PG_VERSION "0.1"
#endif

#define MAX_OBJECTS 100000
#define PG_STR_(x) #x
#define PG_STR(x) PG_STR_(x)

/* The exit status, as --help, the man page and the README document it. */
enum { EXIT_ANALYSED = 0, EXIT_INTERNAL = 1, EXIT_USAGE = 2, EXIT_BAD_INPUT = 3, EXIT_FAIL_ON = 4 };

static const char usage_text[] =
	"usage: pycore-garbage [OPTIONS] CORE\n"
	"\n"
	"Reads the core dump of a Python 2.7 process and reports gc.garbage, the gc\n"
	"generations and what the tracked heap is made of. Nothing runs: no process,\n"
	"no debugger.\n"
	"\n"
	"CORE may be compressed with zstd, lz4, xz, gzip or bzip2 (told by its first\n"
	"bytes, not its name): it is decoded into an unlinked temporary file under\n"
	"$TMPDIR (default /tmp). CORE '-' reads the core from standard input\n"
	"(coredumpctl dump PID | pycore-garbage -).\n"
	"\n"
	"options:\n"
	"  --json                  one JSON document (schema pycore-garbage/1) on stdout\n"
	"  --exe PATH              the executable, when the core's notes are not enough\n"
	"  --sysroot DIR           look up every file the core mapped under DIR (a core\n"
	"                          from a container or another machine); debug files are\n"
	"                          then searched under DIR/usr/lib/debug\n"
	"  --debuginfo-path PATH   where separate debug files are searched, as libdwfl\n"
	"                          takes it (default ':.debug:/usr/lib/debug'); without\n"
	"                          the interpreter's DWARF, a built-in layout profile\n"
	"                          that fits the core is used (the report says which)\n"
	"  --max-objects N         stop after N tracked objects (default 100000000)\n"
	"  --no-collect            skip the offline collection (gc.garbage, generations\n"
	"                          and histogram only)\n"
	"  --no-cycles             skip the cycle analysis\n"
	"  --no-memory             skip the memory tree (every byte of the core, classified)\n"
	"  --no-retention          skip what holds the memory: every object (untracked\n"
	"                          ones too), the roots, dominators, retainers\n"
	"  --max-groups N          cycle patterns shown in the text report, per\n"
	"                          section, and drawn by --dot (10)\n"
	"  --dot FILE              Graphviz picture of the example cycle of each pattern\n"
	"                          the text report shows (render with dot -Tsvg); with\n"
	"                          FILE '-', the picture is written to stdout instead of\n"
	"                          the report\n"
	"  --object ADDR           one object, tracked or not: type, size, refcount, a\n"
	"                          preview of its value, referents with labels, referrers\n"
	"  --why ADDR              the shortest path of strong references from a root\n"
	"                          (module global, thread frame, ...) to the object, with\n"
	"                          edge labels; for an object no root reaches, its cycle\n"
	"                          group\n"
	"  --components            also list every non-trivial strongly connected\n"
	"                          component (a text section, or a JSON key)\n"
	"  --html FILE             one self-contained HTML page (nothing fetched): the\n"
	"                          leak patterns with their cycles drawn, the largest\n"
	"                          retainers, the memory as a picture, the histogram,\n"
	"                          threads, warnings; every address opens its details;\n"
	"                          FILE '-' writes it to stdout instead of the report\n"
	"  --fail-on COND[,COND]   exit 4 when a condition holds (each that holds is said\n"
	"                          on stderr); quote it for the shell's '>':\n"
	"                            garbage>N          gc.garbage holds more than N objects\n"
	"                            uncollectable>N    a collection would leave more than N\n"
	"                                               tracked objects uncollectable\n"
	"                            type:NAME>N        more than N objects of type NAME\n"
	"                            retained:PATH>SIZE the retainer with path PATH (as the\n"
	"                                               report prints it) retains more than\n"
	"                                               SIZE bytes (K, M, G: 1024s)\n"
	"                            growth:NAME>N      (diff only) NAME's count grew by more\n"
	"                                               than N\n"
	"  --allow FILE            cycle shapes, one a line as the report prints them:\n"
	"                          their objects count for neither garbage>N nor\n"
	"                          uncollectable>N\n"
	"  --quiet                 no progress on stderr (shown only when stderr is a\n"
	"                          terminal and the core is 64 MiB or more)\n"
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
	"     headers, no Python 2.7 interpreter in it, no debug info for it, ...\n"
	"  4  analysed, and a --fail-on condition holds\n";

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
static int write_atomic(const char *path, const struct pg_report *a, int (*fn)(FILE *, const struct pg_report *))
{
	char *tmp = NULL;
	if (asprintf(&tmp, "%s.tmp.XXXXXX", path) < 0)
		return -1;
	int fd = mkstemp(tmp);
	if (fd < 0) {
		free(tmp);
		return -1;
	}
	/* mkstemp makes it 0600: a report is made to be shared, as umask allows */
	mode_t um = umask(0);
	umask(um);
	if (fchmod(fd, 0666 & ~um) != 0) {
		close(fd);
		unlink(tmp);
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
	int r = fn(f, a);
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

/* --verbose: the library's log lines, on stderr under our name */
static void log_stderr(void *arg, const char *line)
{
	(void)arg;
	fprintf(stderr, "pycore-garbage: %s\n", line);
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
	bool verbose = false;
	enum { O_JSON = 256, O_EXE, O_SYSROOT, O_DEBUGINFO, O_MAXOBJ, O_TOP, O_NOCOLLECT, O_NOCYCLES, O_MAXGROUPS, O_DOT, O_OBJECT, O_COMPONENTS, O_VERBOSE,
	       O_NOMEMORY, O_NORETENTION, O_WHY, O_HTML, O_FAILON, O_ALLOW, O_QUIET };
	static const struct option opts[] = {
		{ "json", no_argument, NULL, O_JSON },
		{ "exe", required_argument, NULL, O_EXE },
		{ "sysroot", required_argument, NULL, O_SYSROOT },
		{ "debuginfo-path", required_argument, NULL, O_DEBUGINFO },
		{ "max-objects", required_argument, NULL, O_MAXOBJ },
		{ "top", required_argument, NULL, O_TOP },
		{ "no-collect", no_argument, NULL, O_NOCOLLECT },
		{ "no-cycles", no_argument, NULL, O_NOCYCLES },
		{ "no-memory", no_argument, NULL, O_NOMEMORY },
		{ "no-retention", no_argument, NULL, O_NORETENTION },
		{ "why", required_argument, NULL, O_WHY },
		{ "max-groups", required_argument, NULL, O_MAXGROUPS },
		{ "dot", required_argument, NULL, O_DOT },
		{ "components", no_argument, NULL, O_COMPONENTS },
		{ "object", required_argument, NULL, O_OBJECT },
		{ "verbose", no_argument, NULL, O_VERBOSE },
		{ "html", required_argument, NULL, O_HTML },
		{ "fail-on", required_argument, NULL, O_FAILON },
		{ "allow", required_argument, NULL, O_ALLOW },
		{ "quiet", no_argument, NULL, O_QUIET },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	struct pg_session_options so = { 0 };
	bool json = false, collect = true, cycles = true, have_object = false, components = false;
	bool memory = true, retention = true, have_why = false;
	uint64_t why_addr = 0;
	size_t max_groups = 10;
	const char *dot = NULL, *html = NULL, *allow = NULL;
	bool quiet = false;
	struct pg_conds conds = { 0 };
	char why[512];
	uint64_t *object_addrs = NULL;
	size_t nobjects = 0;
#define RETURN(x) do { int rc_ = (x); free(object_addrs); pg_conds_free(&conds); return rc_; } while (0)
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
		case O_EXE: so.exe = optarg; break;
		case O_SYSROOT: so.sysroot = optarg; break;
		case O_DEBUGINFO: so.debuginfo_path = optarg; break;
		case O_MAXOBJ:
			if (!parse_size(optarg, &max_objects))
				RETURN(usage_error("--max-objects takes a positive whole number, not '%s'", optarg));
			break;
		case O_TOP:
			if (!parse_size(optarg, &top))
				RETURN(usage_error("--top takes a positive whole number, not '%s'", optarg));
			break;
		case O_NOCOLLECT: collect = false; cycles = false; break;
		case O_NOCYCLES: cycles = false; break;
		case O_NOMEMORY: memory = false; break;
		case O_NORETENTION: retention = false; break;
		case O_MAXGROUPS:
			if (!parse_size(optarg, &max_groups))
				RETURN(usage_error("--max-groups takes a positive whole number, not '%s'", optarg));
			break;
		case O_DOT: dot = optarg; break;
		case O_COMPONENTS: components = true; break;
		case O_OBJECT:
		case O_WHY: {
			char *end;
			errno = 0;
			uint64_t v = strtoull(optarg, &end, 0);
			if (errno || end == optarg || *end || !v)
				RETURN(usage_error(c == O_WHY ? "--why takes an address such as 0x7f3a2c1e5d10, not '%s'"
							      : "--object takes an address such as 0x7f3a2c1e5d10, not '%s'",
						   optarg));
			if (c == O_WHY) {
				why_addr = v;
				have_why = true;
			} else {
				if (nobjects >= MAX_OBJECTS)
					RETURN(usage_error("--object: at most " PG_STR(MAX_OBJECTS) " objects in one run%s", ""));
				uint64_t *na = realloc(object_addrs, (nobjects + 1) * sizeof(*na));
				if (!na)
					RETURN(EXIT_INTERNAL);
				object_addrs = na;
				object_addrs[nobjects++] = v;
				have_object = true;
			}
			break;
		}
		case O_VERBOSE: verbose = true; break;
		case O_HTML: html = optarg; break;
		case O_ALLOW: allow = optarg; break;
		case O_QUIET: quiet = true; break;
		case O_FAILON:
			if (!pg_conds_parse(&conds, optarg, why, sizeof(why)))
				RETURN(usage_error("%s", why));
			break;
		case 'h': fputs(usage_text, stdout); RETURN(fflush(stdout) ? EXIT_INTERNAL : 0);
		case 'V': printf("pycore-garbage %s\n", PG_VERSION); RETURN(fflush(stdout) ? EXIT_INTERNAL : 0);
		default:
			/* getopt_long said what is wrong */
			fprintf(stderr, "try 'pycore-garbage --help'\n");
			RETURN(EXIT_USAGE);
		}
	}
	if (argc > 0)
		argv[0] = prog;
	bool dot_stdout = dot && strcmp(dot, "-") == 0;
	if (dot_stdout && (json || have_object || have_why))
		RETURN(usage_error("%s", "--dot - writes the picture to stdout: it does not go with --json, --object or --why"));
	if (have_object && have_why)
		RETURN(usage_error("%s", "--object and --why: one question at a time"));
	if (have_why && (!collect || !retention))
		RETURN(usage_error("%s", !collect ? "--why needs the object graph: it does not go with --no-collect"
						  : "--why needs the retention analysis: it does not go with --no-retention"));
	if (dot && !collect)
		RETURN(usage_error("%s", "--dot draws cycles: it does not go with --no-collect"));
	bool html_stdout = html && strcmp(html, "-") == 0;
	if (html && (have_object || have_why || dot_stdout || (html_stdout && json)))
		RETURN(usage_error("%s", "--html is a whole report: it does not go with --object, --why, --dot -, or (--html -) --json"));
	if (conds.n && (have_object || have_why || dot_stdout))
		RETURN(usage_error("%s", "--fail-on judges a whole analysis: it does not go with --object, --why or --dot -"));
	if (pg_conds_has(&conds, PG_COND_GROWTH))
		RETURN(usage_error("%s", "--fail-on growth:NAME>N compares two cores: it goes with the diff subcommand"));
	if (!collect && pg_conds_has(&conds, PG_COND_UNCOLLECTABLE))
		RETURN(usage_error("%s", "--fail-on uncollectable>N needs the collection: it does not go with --no-collect"));
	if ((!collect || !retention) && pg_conds_has(&conds, PG_COND_RETAINED))
		RETURN(usage_error("%s", "--fail-on retained:PATH>SIZE needs the retention analysis: it does not go with "
					 "--no-collect or --no-retention"));
	if (allow && !conds.n)
		RETURN(usage_error("%s", "--allow says which cycles --fail-on does not count: it needs --fail-on"));
	if (allow && !collect)
		RETURN(usage_error("%s", "--allow names cycle shapes: it does not go with --no-collect"));
	if (allow && !pg_conds_allow_load(&conds, allow, why, sizeof(why)))
		RETURN(usage_error("%s", why));
	if (optind != argc - 1)
		RETURN(usage_error("%s", optind >= argc ? "no CORE given" : "more than one CORE given"));
	so.core = argv[optind];
	if (dot && !dot_stdout) {
		struct stat sa, sb;
		if (stat(dot, &sa) == 0 && stat(so.core, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino)
			RETURN(usage_error("--dot %s would write over the core", dot));
	}
	if (html && !html_stdout) {
		struct stat sa, sb;
		if (stat(html, &sa) == 0 && stat(so.core, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino)
			RETURN(usage_error("--html %s would write over the core", html));
	}
	/* progress on a terminal only, for a big core */
	struct pg_progress prog_state;
	if (!quiet && pg_progress_wanted(so.core)) {
		pg_progress_init(&prog_state, stderr);
		so.progress = pg_progress_cb;
		so.progress_arg = &prog_state;
	}

	if (verbose)
		so.log = log_stderr;
	/* a compressed or piped core is written to a temporary file: past
	 * `ulimit -f`, write() then fails with EFBIG (and the library says so)
	 * instead of SIGXFSZ killing the process */
	signal(SIGXFSZ, SIG_IGN);
	pg_session *s = NULL;
	int code = EXIT_ANALYSED;
	enum pg_analyses what = !collect ? PG_ANALYZE_WALK : cycles || dot || html || allow ? PG_ANALYZE_CYCLES : PG_ANALYZE_COLLECT;
	/* the memory tree is part of the reports (not of --object or --dot -) */
	if (memory && !have_object && !have_why && !dot_stdout)
		what = (enum pg_analyses)(what | PG_ANALYZE_MEMORY);
	/* what holds what: the reports, --object (retained sizes) and --why
	 * (which names an unreachable object's cycle group) */
	if (have_why)
		what = (enum pg_analyses)(what | PG_ANALYZE_CYCLES);
	if (collect && retention && !dot_stdout)
		what = (enum pg_analyses)(what | PG_ANALYZE_RETENTION);
	pg_error *err = pg_session_open(&so, &s);
	if (!err)
		err = pg_session_analyze(s, what, max_objects);
	if (so.progress)
		pg_progress_done(&prog_state);
	if (err) {
		code = fail(err);
		pg_session_close(s);
		RETURN(code);
	}
	struct pg_report a = { .s = s, .top = top, .max_groups = max_groups, .components = components };
	int r = 0;
	if (have_object) {
		/* each object's answer; one JSON document for them all */
		struct pg_object **objs = calloc(nobjects, sizeof(*objs));
		size_t got = 0;
		if (!objs) {
			pg_session_close(s);
			RETURN(EXIT_INTERNAL);
		}
		for (size_t k = 0; k < nobjects && code == EXIT_ANALYSED; k++) {
			err = pg_session_object(s, object_addrs[k], &objs[got]);
			if (err && (err->kind == PG_ERR_USAGE || err->kind == PG_ERR_NOT_FOUND)) {
				fprintf(stderr, "pycore-garbage: %s\n", err->message);
				code = err->kind == PG_ERR_USAGE ? EXIT_USAGE : EXIT_BAD_INPUT;
				pg_error_destroy(err);
			} else if (err) {
				for (size_t i = 0; i < got; i++)
					pg_object_free(objs[i]);
				free(objs);
				pg_session_close(s);
				RETURN(fail(err));
			} else {
				got++;
			}
		}
		if (code == EXIT_ANALYSED) {
			if (json) {
				r = pg_report_objects_json(stdout, &a, objs, got);
			} else {
				for (size_t i = 0; i < got && r == 0; i++) {
					if (i)
						fputc('\n', stdout);
					r = pg_report_object(stdout, &a, objs[i], false);
				}
			}
		}
		for (size_t i = 0; i < got; i++)
			pg_object_free(objs[i]);
		free(objs);
	} else if (have_why) {
		struct pg_why *w = NULL;
		err = pg_session_why(s, why_addr, &w);
		if (err && (err->kind == PG_ERR_NOT_FOUND || err->kind == PG_ERR_USAGE)) {
			fprintf(stderr, "pycore-garbage: %s\n", err->message);
			code = err->kind == PG_ERR_USAGE ? EXIT_USAGE : EXIT_BAD_INPUT;
			pg_error_destroy(err);
		} else if (err) {
			pg_session_close(s);
			RETURN(fail(err));
		} else {
			r = pg_report_why(stdout, &a, w, json);
			pg_why_free(w);
		}
	} else if (dot_stdout) {
		r = pg_session_cycles(s) ? pg_report_dot(stdout, &a) : 0;
	} else if (html_stdout) {
		r = pg_report_html(stdout, &a);
	} else {
		r = json ? pg_report_json(stdout, &a) : pg_report_text(stdout, &a);
	}
	if (r == 0 && code == EXIT_ANALYSED && dot && !dot_stdout && pg_session_cycles(s) &&
	    write_atomic(dot, &a, pg_report_dot) != 0) {
		fprintf(stderr, "pycore-garbage: cannot write %s: %s\n", dot, strerror(errno));
		code = EXIT_INTERNAL;
	}
	if (r == 0 && code == EXIT_ANALYSED && html && !html_stdout && write_atomic(html, &a, pg_report_html) != 0) {
		fprintf(stderr, "pycore-garbage: cannot write %s: %s\n", html, strerror(errno));
		code = EXIT_INTERNAL;
	}
	if (r != 0 || fflush(stdout) != 0) {
		fprintf(stderr, "pycore-garbage: cannot write the report: %s\n", strerror(errno));
		code = EXIT_INTERNAL;
	}
	/* the verdict, after the report is out */
	if (code == EXIT_ANALYSED && conds.n && pg_conds_eval(&conds, s, stderr) > 0)
		code = EXIT_FAIL_ON;
	pg_session_close(s);
	RETURN(code);
}
#undef RETURN
