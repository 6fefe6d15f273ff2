#include "interp.h"
#include "profile.h"

#include <ctype.h>
#include <gelf.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct find_ctx {
	Dwfl_Module *by_symbol;   /* a module exporting _PyGC_generation0 */
	Dwfl_Module *by_name;     /* a module whose file name says python */
	const char *name_hit;
};

static bool has_symbol(Dwfl_Module *mod, const char *want)
{
	int n = dwfl_module_getsymtab(mod);
	for (int i = 1; i < n; i++) {
		GElf_Sym sym;
		GElf_Addr addr;
		const char *name = dwfl_module_getsym_info(mod, i, &sym, &addr, NULL, NULL, NULL);
		if (name && sym.st_shndx != SHN_UNDEF && strcmp(name, want) == 0)
			return true;
	}
	return false;
}

static int find_python_cb(Dwfl_Module *mod, void **ud, const char *name, Dwarf_Addr start, void *arg)
{
	(void)ud;
	(void)start;
	struct find_ctx *fc = arg;
	const char *base = strrchr(name, '/');
	base = base ? base + 1 : name;
	bool pyname = strstr(base, "python") != NULL;
	if (pyname && !fc->by_name) {
		fc->by_name = mod;
		fc->name_hit = name;
	}
	/* only the executable and libpython can hold the interpreter core;
	 * checking every module's symbols is cheap enough with dynsym */
	if (!fc->by_symbol && has_symbol(mod, "_PyGC_generation0"))
		fc->by_symbol = mod;
	return DWARF_CB_OK;
}

static void hex_build_id(Dwfl_Module *mod, char *out, size_t cap)
{
	const unsigned char *id = NULL;
	GElf_Addr vaddr;
	int len = dwfl_module_build_id(mod, &id, &vaddr);
	out[0] = 0;
	for (int i = 0; i < len && (size_t)(2 * i + 2) < cap; i++)
		snprintf(out + 2 * i, 3, "%02x", id[i]);
}

static pg_error *no_debuginfo(struct pg_core *core, struct pg_interp *in, const char *noprofile)
{
	const char *base = strrchr(in->modname, '/');
	base = base ? base + 1 : in->modname;
	const char *fix = strncmp(base, "python2.7", 9) == 0 || strncmp(base, "libpython2.7", 12) == 0
		? (strstr(base, "-dbg") || strstr(base, "_d")
		   ? "the debug interpreter carries its own DWARF: pass the right file with --exe"
		   : "install the matching debug symbols (on Debian: apt-get install python2.7-dbg; "
		     "for a core from another machine, its /usr/lib/debug under --sysroot or --debuginfo-path)")
		: "install the debug symbols of that build, or point --debuginfo-path at them";
	char idpath[200] = "";
	if (in->build_id[0] && strlen(in->build_id) > 2)
		snprintf(idpath, sizeof(idpath), " (.build-id/%.2s/%s.debug)", in->build_id, in->build_id + 2);
	/* libdwfl asks the debuginfod servers of DEBUGINFOD_URLS (through
	 * libdebuginfod) when the debug path has no file */
	const char *urls = getenv("DEBUGINFOD_URLS");
	bool asked = urls && urls[0];
	return pg_error_create(PG_ERR_INPUT,
			       "no debug info for the Python interpreter %s (build-id %s): looked in '%s'%s%s%s%s; %s; %s%s%s%s",
			       in->modname, in->build_id[0] ? in->build_id : "unknown",
			       core->debuginfo_path, idpath, asked ? " and at DEBUGINFOD_URLS='" : "",
			       asked ? urls : "", asked ? "'" : "", fix,
			       asked ? "or point DEBUGINFOD_URLS at a debuginfod server that has it"
				     : "or set DEBUGINFOD_URLS to a debuginfod server that has it",
			       noprofile ? " (no built-in layout profile fits either: " : "", noprofile ? noprofile : "",
			       noprofile ? ")" : "");
}

/* The version string Py_GetVersion() built at start-up: a static buffer
 * (`version`, `version.0` under LTO) inside Py_GetVersion. */
static void read_version(struct pg_core *core, struct pg_interp *in, const struct pg_log *log, struct pg_warnings *w)
{
	size_t first, count;
	pg_symtab_range(&in->syms, "version", &first, &count);
	for (size_t i = first; i < first + count; i++) {
		const struct pg_sym *s = &in->syms.by_addr[in->syms.by_name[i]];
		if (s->type != STT_OBJECT || s->size < 8)
			continue;
		char buf[256];
		struct pg_reader rd;
		pg_reader_init(&rd, &core->mem);
		pg_error *err = pg_read_cstr(&rd, s->addr, buf, sizeof(buf), NULL);
		if (err) {
			pg_error_destroy(err);
			continue;
		}
		if (isdigit((unsigned char)buf[0]) && buf[1] == '.') {
			for (char *p = buf; *p; p++)
				if (*p == '\n')
					*p = ' ';
			memcpy(in->version, buf, sizeof(buf));
			pg_logf(log, "version from %s: %s", s->name, buf);
			return;
		}
	}
	if (w)
		pg_warn(w, "could not read the interpreter's version string");
}

static pg_error *find_var(struct pg_interp *in, const struct pg_log *log, const char *name, uint64_t *addr)
{
	const struct pg_sym *s;
	pg_error *err = pg_symtab_find(&in->syms, name, STT_OBJECT, &s);
	if (err) {
		pg_logf(log, "finder %s: symbol: %s", name, err->message);
		return err;
	}
	pg_logf(log, "finder %s: symbol %s at 0x%" PRIx64, name, s->name, s->addr);
	*addr = s->addr;
	return NULL;
}

static pg_error *find_gc_state(struct pg_core *core, struct pg_interp *in, const struct pg_log *log, struct pg_warnings *w)
{
	/* generations[0]: the static array (DWARF calls it optimized out under
	 * LTO, the symtab has generations or generations.lto_priv.N), or
	 * derived from the exported _PyGC_generation0 pointer. */
	uint64_t gens = 0, derived = 0;
	pg_error *err = find_var(in, log, "generations", &gens);
	pg_error_destroy(err);
	uint64_t g0var;
	err = find_var(in, log, "_PyGC_generation0", &g0var);
	if (!err) {
		struct pg_reader rd;
		pg_reader_init(&rd, &core->mem);
		pg_error *rerr = pg_read_u64(&rd, g0var, &derived);
		if (rerr) {
			pg_logf(log, "finder generations: reading _PyGC_generation0: %s", rerr->message);
			pg_error_destroy(rerr);
			derived = 0;
		}
	}
	pg_error_destroy(err);
	if (gens && derived && gens + (uint64_t)in->L.gen_head.off != derived)
		pg_warn(w, "_PyGC_generation0 (0x%" PRIx64 ") does not point at generations[0] (0x%" PRIx64
			"): using the symbol", derived, gens);
	if (gens)
		in->gen0 = gens + (uint64_t)in->L.gen_head.off;
	else if (derived)
		in->gen0 = derived;
	else
		return pg_error_create(PG_ERR_INPUT,
				       "cannot find the gc generations in %s: no generations symbol and no readable _PyGC_generation0",
				       in->modname);
	err = find_var(in, log, "garbage", &in->garbage_var);
	if (err && in->profile) {
		/* pg_probe_state finds it through the gc module */
		pg_error_destroy(err);
		in->garbage_var = 0;
	} else if (err) {
		pg_warn(w, "cannot find gc.garbage (%s): its contents are not reported", err->message);
		pg_error_destroy(err);
		in->garbage_var = 0;
	}
	err = find_var(in, log, "collecting", &in->collecting_var);
	if (err) {
		pg_warn(w, "cannot find gcmodule's `collecting` flag (%s)", err->message);
		pg_error_destroy(err);
		in->collecting_var = 0;
	}
	return NULL;
}

static const char *const static_type_syms[PG_T_COUNT] = {
	[PG_T_TYPE] = "PyType_Type", [PG_T_OBJECT] = "PyBaseObject_Type",
	[PG_T_DICT] = "PyDict_Type", [PG_T_LIST] = "PyList_Type", [PG_T_TUPLE] = "PyTuple_Type",
	[PG_T_SET] = "PySet_Type", [PG_T_FROZENSET] = "PyFrozenSet_Type",
	[PG_T_INSTANCE] = "PyInstance_Type", [PG_T_CLASS] = "PyClass_Type",
	[PG_T_STRING] = "PyString_Type", [PG_T_UNICODE] = "PyUnicode_Type",
	[PG_T_INT] = "PyInt_Type", [PG_T_LONG] = "PyLong_Type", [PG_T_FLOAT] = "PyFloat_Type",
	[PG_T_BOOL] = "PyBool_Type", [PG_T_BYTEARRAY] = "PyByteArray_Type",
};

pg_error *pg_interp_find(struct pg_core *core, const struct pg_log *log, struct pg_warnings *w,
			 struct pg_interp **ret)
{
	struct find_ctx fc = { 0 };
	if (dwfl_getmodules(core->dwfl, find_python_cb, &fc, 0) != 0)
		return pg_error_create(PG_ERR_INPUT, "dwfl_getmodules: %s", dwfl_errmsg(-1));
	Dwfl_Module *mod = fc.by_symbol ? fc.by_symbol : fc.by_name;
	if (!mod && core->truncated)
		return pg_error_create(PG_ERR_NOT_FOUND,
				       "%s: the core is truncated (%zu of %" PRIu64 " bytes) and what is left does not show a Python interpreter%s",
				       core->path, core->size, core->expected_size,
				       core->threads ? "; pass --exe PATH to name the executable"
						     : " (its notes, which list the mapped files, are lost; pass --exe PATH to name the executable)");
	if (!mod)
		return pg_error_create(PG_ERR_NOT_FOUND,
				       "%s: no Python interpreter found in this process (%s%s%s): no module exports _PyGC_generation0 (if the executable was not found, pass --exe PATH)",
				       core->path, core->fname[0] ? "command " : "", core->fname,
				       core->fname[0] ? "" : "unknown command");
	struct pg_interp *in = calloc(1, sizeof(*in));
	if (!in)
		return PG_ENOMEM;
	in->mod = mod;
	in->modname = dwfl_module_info(mod, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
	hex_build_id(mod, in->build_id, sizeof(in->build_id));
	pg_error *err;
	GElf_Addr bias;
	Elf *elf = dwfl_module_getelf(mod, &bias);
	/* the symbol table finds the separate debug file without inflating its
	 * DWARF; the fast handle then reads only the type sections of it */
	dwfl_module_getsymtab(mod);
	dwfl_module_info(mod, NULL, NULL, NULL, NULL, NULL, &in->mainfile, &in->debugfile);
	pg_error *derr = pg_dwarf_open(mod, &in->dwarf);
	bool dw = !derr;
	if (derr)
		pg_logf(log, "interpreter %s: %s", in->modname, derr->message);
	pg_error_destroy(derr);
	dwfl_module_info(mod, NULL, NULL, NULL, NULL, NULL, &in->mainfile, &in->debugfile);
	/* libdwfl leaves the names unset when it opened the file itself from
	 * the core's file note: that is the module's own path */
	if (!in->mainfile && elf)
		in->mainfile = in->modname;
	if (!in->debugfile && dw)
		in->debugfile = in->mainfile;
	if (!elf && !fc.by_symbol) {
		err = pg_error_create(PG_ERR_INPUT,
				      "%s: module %s looks like Python but its ELF file was not found (build-id %s); pass --exe or --sysroot",
				      core->path, in->modname, in->build_id[0] ? in->build_id : "unknown");
		goto fail;
	}
	err = pg_symtab_load(mod, &in->syms);
	if (err)
		goto fail;
	if (!dw) {
		/* DWARF always wins; without it, a built-in profile that every
		 * probe of the core agrees with */
		pg_error *perr = pg_probe_profile(core, in, log);
		if (perr) {
			err = no_debuginfo(core, in, perr->message);
			pg_error_destroy(perr);
			goto fail;
		}
	} else {
		err = pg_layout_from_dwarf(in->dwarf, log, &in->L, &in->debug_build);
		if (err) {
			err = pg_error_prefix(err, "%s", in->modname);
			if (err->kind == PG_ERR_NOT_FOUND)
				err->kind = PG_ERR_INPUT;
			goto fail;
		}
	}
	read_version(core, in, log, in->profile ? NULL : w);
	if (in->version[0] && strncmp(in->version, "2.7", 3) != 0) {
		err = pg_error_create(PG_ERR_NOT_FOUND, "%s: the interpreter is Python %.20s, not 2.7",
				      core->path, in->version);
		goto fail;
	}
	err = find_gc_state(core, in, log, w);
	if (err)
		goto fail;
	for (int t = 0; t < PG_T_COUNT; t++) {
		const struct pg_sym *s;
		pg_error *e = pg_symtab_find(&in->syms, static_type_syms[t], STT_OBJECT, &s);
		if (e) {
			pg_warn(w, "cannot find %s: %s", static_type_syms[t], e->message);
			pg_error_destroy(e);
			continue;
		}
		in->types[t] = s->addr;
	}
	const struct pg_sym *ns;
	pg_error *nerr = pg_symtab_find(&in->syms, "_Py_NoneStruct", STT_OBJECT, &ns);
	if (!nerr)
		in->none = ns->addr;
	pg_error_destroy(nerr);
	if (in->profile) {
		pg_probe_state(core, in, log, w);
		if (!in->version[0])
			pg_warn(w, "could not read the interpreter's version string");
		else if (strncmp(in->version, "2.7", 3) != 0) {
			err = pg_error_create(PG_ERR_NOT_FOUND, "%s: the interpreter is Python %.20s, not 2.7",
					      core->path, in->version);
			goto fail;
		}
	}
	pg_logf(log, "interpreter: %s (build-id %s), ELF %s, DWARF %s, %zu symbols, generations at 0x%" PRIx64,
	       in->modname, in->build_id, in->mainfile ? in->mainfile : "?",
	       in->debugfile ? in->debugfile : "?", in->syms.n, in->gen0);
	*ret = in;
	return NULL;
fail:
	pg_interp_free(in);
	return err;
}

void pg_interp_free(struct pg_interp *in)
{
	if (!in)
		return;
	pg_symtab_free(&in->syms);
	pg_dwarf_close(in->dwarf);
	free(in);
}
