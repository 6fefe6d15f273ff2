/* libFuzzer harnesses over the whole pipeline, core bytes to JSON report.
 *
 * Built twice from this file (meson -Dfuzz=true, clang only):
 *
 *   fuzz_core   the input is a core file.  It is written to a memfd and the
 *               library opens it as /proc/self/fd/N, exactly as it would a
 *               core on disk: a session (libpycore's API) with every
 *               analysis, the JSON and text reports, --object on the
 *               first gc.garbage entry and cycle example, and --why on
 *               them and on the largest retainer.
 *
 *   fuzz_nodwarf (PG_FUZZ_NODWARF) the same as fuzz_core with the debug
 *               files hidden (an empty --debuginfo-path): the interpreter's
 *               layouts come from a built-in profile chosen by probing the
 *               mutated core (lib/py27/probe.c), gc.garbage and the
 *               interpreter state are found through its memory.
 *
 *   fuzz_debug  (PG_FUZZ_DEBUGFILE) the input is the separate debug file of
 *               /usr/bin/python2.7.  At start-up a sysroot is made in a temp
 *               directory (on /dev/shm when there is one) holding a copy of
 *               the executable; each input is written at
 *               usr/lib/debug/.build-id/XX/YYYY.debug under it, and the
 *               analyzer runs on a fixed core (environment variable
 *               PG_FUZZ_CORE) with --sysroot: the DWARF, symbol and ELF
 *               readers see untrusted bytes.
 *
 * The reports go to /dev/null; nothing is logged.  An error from the library
 * is not a failure: only crashes, sanitizer reports, leaks, timeouts and
 * out-of-memory are.
 *
 * Environment for fuzz_debug:
 *   PG_FUZZ_CORE       the core to analyse (required)
 *   PG_FUZZ_EXE        the executable to copy into the sysroot
 *                      (default /usr/bin/python2.7)
 *   PG_FUZZ_BUILD_ID   its build-id, hex (default the bullseye python2.7's)
 *   PG_FUZZ_TMPDIR     where the sysroot is made (default /dev/shm, else /tmp)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../report/report.h"
#include "pycore/pycore.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int input_fd = -1;        /* where each input is written */
static char input_path[4096];    /* the name the analyzer opens */
static FILE *sink;               /* the reports go here (/dev/null) */

/* One session over the whole library: what `pycore-garbage --json` and the
 * text report do, and two --object queries. */
static char nodwarf_dir[4096];  /* fuzz_nodwarf: an empty debug path */

static void analyse(const char *core, const char *sysroot)
{
	struct pg_session_options o = { .core = core, .sysroot = sysroot,
					.debuginfo_path = nodwarf_dir[0] ? nodwarf_dir : NULL };
	pg_session *s = NULL;
	pg_error *err = pg_session_open(&o, &s);
	if (!err)
		err = pg_session_analyze(s, (enum pg_analyses)(PG_ANALYZE_CYCLES | PG_ANALYZE_MEMORY | PG_ANALYZE_RETENTION),
					 0);
	if (!err) {
		struct pg_report r = { .s = s, .top = 25, .max_groups = 10, .components = true };
		pg_report_json(sink, &r);
		pg_report_text(sink, &r);
		pg_report_dot(sink, &r);
		const struct pg_model *m = pg_session_model(s);
		const struct pg_cycles *cy = pg_session_cycles(s);
		uint64_t addrs[2] = { m->ngarbage ? m->garbage[0].addr : 0,
				      cy && cy->ngroups ? m->addr[cy->groups[0].steps[0].from] : 0 };
		for (int k = 0; k < 2; k++) {
			struct pg_object *obj = NULL;
			pg_error *oe = addrs[k] ? pg_session_object(s, addrs[k], &obj) : NULL;
			if (obj)
				pg_report_object(sink, &r, obj, k == 1);
			pg_object_free(obj);
			pg_error_destroy(oe);
		}
		const struct pg_retention *rt = pg_session_retention(s);
		uint64_t why[3] = { addrs[0], addrs[1], rt && rt->nretainers ? m->addr[rt->retainers[0].node] : 0 };
		for (int k = 0; k < 3; k++) {
			struct pg_why *w = NULL;
			pg_error *we = why[k] ? pg_session_why(s, why[k], &w) : NULL;
			if (w)
				pg_report_why(sink, &r, w, k == 1);
			pg_why_free(w);
			pg_error_destroy(we);
		}
	}
	pg_error_destroy(err);
	pg_session_close(s);
}

static void die(const char *what)
{
	fprintf(stderr, "fuzz harness: %s: %s\n", what, strerror(errno));
	abort();
}

static void quiet_stdout(void)
{
	sink = fopen("/dev/null", "w");
	if (!sink)
		die("opening /dev/null");
}

static void write_all(int fd, const uint8_t *data, size_t size)
{
	if (ftruncate(fd, 0) != 0)
		die("ftruncate");
	size_t done = 0;
	while (done < size) {
		ssize_t w = pwrite(fd, data + done, size - done, (off_t)done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			die("pwrite");
		done += (size_t)w;
	}
}

#ifndef PG_FUZZ_DEBUGFILE

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	quiet_stdout();
	input_fd = memfd_create("pg-fuzz-core", MFD_CLOEXEC);
	if (input_fd < 0)
		die("memfd_create");
	snprintf(input_path, sizeof input_path, "/proc/self/fd/%d", input_fd);
#ifdef PG_FUZZ_NODWARF
	const char *tmp = getenv("TMPDIR");
	snprintf(nodwarf_dir, sizeof nodwarf_dir, "%s/pg-fuzz-nodwarf-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(nodwarf_dir))
		die("mkdtemp");
#endif
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	write_all(input_fd, data, size);
	analyse(input_path, NULL);
	return 0;
}

#else /* PG_FUZZ_DEBUGFILE */

static char sysroot[4096];
static char debug_dir[4096];
static char exe_copy[4096];
static const char *core_path;

static void mkdirs(const char *path)
{
	char buf[4096];
	snprintf(buf, sizeof buf, "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, 0700) != 0 && errno != EEXIST)
			die(buf);
		*p = '/';
	}
	if (mkdir(buf, 0700) != 0 && errno != EEXIST)
		die(buf);
}

static void copy_file(const char *from, const char *to)
{
	int in = open(from, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		die(from);
	int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0700);
	if (out < 0)
		die(to);
	char buf[1 << 16];
	ssize_t n;
	while ((n = read(in, buf, sizeof buf)) > 0)
		if (write(out, buf, (size_t)n) != n)
			die(to);
	if (n < 0)
		die(from);
	close(in);
	close(out);
}

static void cleanup(void)
{
	if (input_fd >= 0)
		close(input_fd);
	if (input_path[0])
		unlink(input_path);
	if (exe_copy[0])
		unlink(exe_copy);
	/* Remove the directories we made, deepest first. */
	char buf[4096];
	snprintf(buf, sizeof buf, "%s", debug_dir);
	while (strlen(buf) > strlen(sysroot)) {
		rmdir(buf);
		char *slash = strrchr(buf, '/');
		if (!slash)
			break;
		*slash = 0;
	}
	char bin[4096];
	snprintf(bin, sizeof bin, "%s/usr/bin", sysroot);
	rmdir(bin);
	snprintf(bin, sizeof bin, "%s/usr", sysroot);
	rmdir(bin);
	rmdir(sysroot);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	core_path = getenv("PG_FUZZ_CORE");
	if (!core_path || !*core_path) {
		fprintf(stderr, "fuzz_debug: set PG_FUZZ_CORE to the core to analyse\n");
		exit(2);
	}
	const char *exe = getenv("PG_FUZZ_EXE");
	if (!exe || !*exe)
		exe = "/usr/bin/python2.7";
	const char *build_id = getenv("PG_FUZZ_BUILD_ID");
	if (!build_id || !*build_id)
		build_id = "754738eb8d1224641f03c1d7765c4571d3919389";
	if (strlen(build_id) < 3) {
		fprintf(stderr, "fuzz_debug: PG_FUZZ_BUILD_ID is too short\n");
		exit(2);
	}
	const char *tmp = getenv("PG_FUZZ_TMPDIR");
	struct stat st;
	if (!tmp || !*tmp)
		tmp = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ? "/dev/shm" : "/tmp";
	snprintf(sysroot, sizeof sysroot, "%s/pg-fuzz-sysroot-XXXXXX", tmp);
	if (!mkdtemp(sysroot))
		die("mkdtemp");
	atexit(cleanup);

	char bindir[4096];
	snprintf(bindir, sizeof bindir, "%s%s", sysroot, exe);
	*strrchr(bindir, '/') = 0;
	mkdirs(bindir);
	snprintf(exe_copy, sizeof exe_copy, "%s%s", sysroot, exe);
	copy_file(exe, exe_copy);

	snprintf(debug_dir, sizeof debug_dir, "%s/usr/lib/debug/.build-id/%.2s", sysroot, build_id);
	mkdirs(debug_dir);
	snprintf(input_path, sizeof input_path, "%s/%s.debug", debug_dir, build_id + 2);
	input_fd = open(input_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (input_fd < 0)
		die(input_path);
	quiet_stdout();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	write_all(input_fd, data, size);
	analyse(core_path, sysroot);
	return 0;
}

#endif
