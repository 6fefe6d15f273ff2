/* The built-in layout profiles (lib/py27/profile.h) against DWARF:
 *
 *   profiles check NAME FILES  holds profile NAME ("release-ucs4") against
 *                              the DWARF of FILE (an interpreter or its debug
 *                              file), field by field: every struct size and
 *                              member the analyzer reads, and every emulated
 *                              tp_traverse handler's fields; FILES is
 *                              INTERPRETER[,EXTENSION.so...] (lib-dynload)
 *   profiles dump RELEASE DEBUG  writes lib/py27/profiles.c from the DWARF
 *                              of a release and a Py_TRACE_REFS interpreter
 *                              (scripts/gen_profiles.sh)
 *
 * Exit 0 when every field holds; each difference prints one line. */
#include <elfutils/libdwfl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/py27/profile.h"

static const Dwfl_Callbacks offline = {
	.find_debuginfo = dwfl_standard_find_debuginfo,
	.section_address = dwfl_offline_section_address,
	.find_elf = dwfl_build_id_find_elf,
};

struct dw {
	Dwfl *dwfl;
	struct pg_dwarf *d;
};

static int open_dwarf(const char *path, struct dw *out)
{
	out->dwfl = dwfl_begin(&offline);
	Dwfl_Module *mod = out->dwfl ? dwfl_report_offline(out->dwfl, path, path, -1) : NULL;
	if (!mod || dwfl_report_end(out->dwfl, NULL, NULL) != 0) {
		fprintf(stderr, "profiles: %s: %s\n", path, dwfl_errmsg(-1));
		return -1;
	}
	pg_error *err = pg_dwarf_open(mod, &out->d);
	if (err) {
		fprintf(stderr, "profiles: %s: %s\n", path, err->message);
		pg_error_destroy(err);
		return -1;
	}
	return 0;
}

static void close_dwarf(struct dw *d)
{
	pg_dwarf_close(d->d);
	dwfl_end(d->dwfl);
}

/* files: "INTERPRETER[,EXTENSION...]": the layout from the first, the
 * handlers from all (extension modules of lib-dynload: _ctypes, _json, ...;
 * the first file that resolves a handler gives it). */
static int read_all(const char *files, struct pg_layout *L, bool *debug, struct pg_handler_profile **hp, size_t *nh)
{
	char *list = strdup(files), *save = NULL;
	*hp = NULL;
	*nh = 0;
	int rc = 0;
	for (char *path = strtok_r(list, ",", &save); path && !rc; path = strtok_r(NULL, ",", &save)) {
		struct dw d;
		if (open_dwarf(path, &d)) {
			rc = -1;
			break;
		}
		struct pg_log log = { 0 };
		pg_error *err = path == list ? pg_layout_from_dwarf(d.d, &log, L, debug) : NULL;
		struct pg_handler_profile *one = NULL;
		size_t n = 0;
		if (!err)
			err = pg_traverse_profile_from_dwarf(d.d, &one, &n);
		close_dwarf(&d);
		if (err) {
			fprintf(stderr, "profiles: %s: %s\n", path, err->message);
			pg_error_destroy(err);
			rc = -1;
			break;
		}
		struct pg_handler_profile *all = realloc(*hp, (*nh + n + 1) * sizeof(*all));
		if (!all) {
			free(one);
			rc = -1;
			break;
		}
		*hp = all;
		for (size_t i = 0; i < n; i++) {
			bool have = false;
			for (size_t j = 0; j < *nh && !have; j++)
				have = strcmp(all[j].fn, one[i].fn) == 0;
			if (!have)
				all[(*nh)++] = one[i];
		}
		free(one);
	}
	free(list);
	return rc;
}

static int failures;

static void differ(void *arg, const char *name, int32_t aoff, int32_t asize, int32_t boff, int32_t bsize)
{
	printf("FAIL %s: %s: profile %d (size %d), DWARF %d (size %d)\n", (const char *)arg, name, aoff, asize, boff,
	       bsize);
	failures++;
}

static int check(const char *name, const char *path)
{
	const struct pg_profile *p = pg_profile_named(name);
	if (!p) {
		fprintf(stderr, "profiles: no profile %s\n", name);
		return 2;
	}
	struct pg_layout dl, pl;
	bool ddebug, pdebug;
	struct pg_handler_profile *hp;
	size_t nh;
	if (read_all(path, &dl, &ddebug, &hp, &nh))
		return 1;
	pg_layout_from_entries(p->layout, p->nlayout, p->unicode_char_size, &pl, &pdebug);
	/* a UCS2 profile is the UCS4 one but for sizeof(Py_UNICODE): the
	 * DWARF of a UCS4 build holds everything else of it */
	if (p->unicode_char_size != dl.unicode_char_size) {
		printf("note %s: sizeof(Py_UNICODE) %d is not held (the DWARF's build has %d)\n", name,
		       p->unicode_char_size, dl.unicode_char_size);
		pl.unicode_char_size = dl.unicode_char_size;
	}
	size_t compared = 0;
	pg_layout_compare(&pl, &dl, differ, (void *)name, &compared);
	if (pdebug != ddebug || pdebug != p->debug) {
		printf("FAIL %s: Py_TRACE_REFS: profile %d, its layout %d, DWARF %d\n", name, p->debug, pdebug, ddebug);
		failures++;
	}
	size_t hfields = 0;
	for (size_t i = 0; i < nh; i++) {
		const struct pg_handler_profile *q = pg_profile_handler(p, hp[i].fn);
		if (!q) {
			printf("FAIL %s: handler %s resolves in the DWARF but the profile lacks it\n", name, hp[i].fn);
			failures++;
			continue;
		}
		hfields += hp[i].nf + hp[i].naux;
		bool same = q->nf == hp[i].nf && q->naux == hp[i].naux &&
			    !memcmp(q->off, hp[i].off, sizeof(q->off[0]) * q->nf);
		for (int k = 0; same && k < q->naux; k++)
			same = q->aux[k].off == hp[i].aux[k].off && q->aux[k].size == hp[i].aux[k].size;
		if (!same) {
			printf("FAIL %s: handler %s: the profile's fields differ from the DWARF's\n", name, hp[i].fn);
			failures++;
		}
	}
	for (size_t i = 0; i < p->nhandlers; i++) {
		bool found = false;
		for (size_t j = 0; j < nh && !found; j++)
			found = strcmp(hp[j].fn, p->handlers[i].fn) == 0;
		if (!found) {
			printf("FAIL %s: handler %s is in the profile but not in the DWARF\n", name, p->handlers[i].fn);
			failures++;
		}
	}
	free(hp);
	printf("%s against %s: %zu layout entries and %zu handlers (%zu fields) held, %d differ\n", name, path,
	       compared, nh, hfields, failures);
	return failures ? 1 : 0;
}

static void print_profile(const char *tag, const struct pg_layout *L, const struct pg_handler_profile *hp, size_t nh)
{
	printf("static const struct pg_profile_entry %s_layout[] = {\n", tag);
	pg_layout_print_entries(L, stdout);
	printf("};\n\nstatic const struct pg_handler_profile %s_handlers[] = {\n", tag);
	for (size_t i = 0; i < nh; i++) {
		printf("\t{ \"%s\", %u, %u, {", hp[i].fn, hp[i].nf, hp[i].naux);
		for (int k = 0; k < hp[i].nf; k++)
			printf("%s%d", k ? ", " : " ", hp[i].off[k]);
		printf(" }, {");
		for (int k = 0; k < hp[i].naux; k++)
			printf("%s{ %d, %d }", k ? ", " : " ", hp[i].aux[k].off, hp[i].aux[k].size);
		printf("%s } },\n", hp[i].naux ? "" : " { 0, 0 }");
	}
	printf("};\n\n");
}

static int dump(const char *rel, const char *dbg)
{
	struct pg_layout L[2];
	bool debug[2];
	struct pg_handler_profile *hp[2];
	size_t nh[2];
	if (read_all(rel, &L[0], &debug[0], &hp[0], &nh[0]) || read_all(dbg, &L[1], &debug[1], &hp[1], &nh[1]))
		return 1;
	if (debug[0] || !debug[1] || L[0].unicode_char_size != 4 || L[1].unicode_char_size != 4) {
		fprintf(stderr, "profiles: want a release and a debug UCS4 interpreter\n");
		return 1;
	}
	printf("/* Generated by scripts/gen_profiles.sh (analyzer/tests/profiles dump) from the DWARF of\n"
	       " *   release: %s\n *   debug:   %s\n"
	       " * Do not edit; test profile-* holds it against that DWARF. */\n#include \"profile.h\"\n\n", rel, dbg);
	print_profile("release", &L[0], hp[0], nh[0]);
	print_profile("debug", &L[1], hp[1], nh[1]);
	const char *src = "Debian 12 python2.7 2.7.18 (x86-64)";
	printf("#define N(a) (sizeof(a) / sizeof((a)[0]))\n"
	       "const struct pg_profile pg_py27_profiles[] = {\n"
	       "\t{ \"release-ucs4\", false, 4, \"%s\", release_layout, N(release_layout), release_handlers, N(release_handlers) },\n"
	       "\t{ \"debug-ucs4\", true, 4, \"%s, python2.7-dbg\", debug_layout, N(debug_layout), debug_handlers, N(debug_handlers) },\n"
	       "\t/* UCS2 (--enable-unicode=ucs2): the same structs, a 2-byte Py_UNICODE */\n"
	       "\t{ \"release-ucs2\", false, 2, \"%s, Py_UNICODE of 2 bytes\", release_layout, N(release_layout), release_handlers, N(release_handlers) },\n"
	       "\t{ \"debug-ucs2\", true, 2, \"%s, python2.7-dbg, Py_UNICODE of 2 bytes\", debug_layout, N(debug_layout), debug_handlers, N(debug_handlers) },\n"
	       "};\nconst size_t pg_py27_nprofiles = N(pg_py27_profiles);\n",
	       src, src, src, src);
	free(hp[0]);
	free(hp[1]);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "check") == 0)
		return check(argv[2], argv[3]);
	if (argc == 4 && strcmp(argv[1], "dump") == 0)
		return dump(argv[2], argv[3]);
	fprintf(stderr, "usage: profiles check NAME FILE | profiles dump RELEASE DEBUG\n");
	return 2;
}
