/* Choosing a built-in profile by probing the core (no DWARF), and the
 * interpreter state and gc.garbage without the statics' symbols.  Every
 * byte read here comes from the core, which may be damaged or hostile:
 * each read is checked, each loop bounded, and a profile is taken only when
 * every probe agrees with it. */
#include <gelf.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "heap.h"
#include "profile.h"

#define TPFLAGS_LIST_SUBCLASS (1UL << 25)
#define TPFLAGS_TUPLE_SUBCLASS (1UL << 26)
#define TPFLAGS_STRING_SUBCLASS (1UL << 27)
#define TPFLAGS_DICT_SUBCLASS (1UL << 29)
#define TPFLAGS_TYPE_SUBCLASS (1UL << 31)
#define MAX_DICT_SLOTS (1u << 20)   /* dicts claiming more are not believed */

const struct pg_profile *pg_profile_named(const char *name)
{
	for (size_t i = 0; i < pg_py27_nprofiles; i++)
		if (strcmp(pg_py27_profiles[i].name, name) == 0)
			return &pg_py27_profiles[i];
	return NULL;
}

const struct pg_handler_profile *pg_profile_handler(const struct pg_profile *p, const char *fn)
{
	for (size_t i = 0; p && i < p->nhandlers; i++)
		if (strcmp(p->handlers[i].fn, fn) == 0)
			return &p->handlers[i];
	return NULL;
}

static uint64_t sym(struct pg_interp *in, const char *name)
{
	const struct pg_sym *s;
	pg_error *err = pg_symtab_find(&in->syms, name, STT_OBJECT, &s);
	if (err) {
		pg_error_destroy(err);
		return 0;
	}
	return s->addr;
}

static bool has_func(struct pg_interp *in, const char *name)
{
	const struct pg_sym *s;
	pg_error *err = pg_symtab_find(&in->syms, name, STT_FUNC, &s);
	pg_error_destroy(err);
	return !err;
}

static bool rd64(struct pg_reader *r, uint64_t addr, uint64_t *v)
{
	return pg_try_read(r, addr, v, 8);
}

static bool fld(struct pg_reader *r, uint64_t base, const struct pg_field *f, uint64_t *v)
{
	*v = 0;
	if (f->off < 0 || (f->size != 8 && f->size != 4))
		return false;
	return pg_try_read(r, base + (uint64_t)f->off, v, (size_t)f->size);
}

enum { T_TYPE, T_DICT, T_LIST, T_TUPLE, T_STR, T_N };
static const char *const probe_types[T_N] = { "PyType_Type", "PyDict_Type", "PyList_Type", "PyTuple_Type",
					      "PyString_Type" };
static const char *const probe_names[T_N] = { "type", "dict", "list", "tuple", "str" };

/* Does profile L fit the core?  NULL when it does, else why not (in buf). */
static const char *try_profile(struct pg_reader *r, const struct pg_layout *L, const uint64_t *types, uint64_t gen0,
			       char *buf, size_t cap)
{
	int64_t want_basic[T_N] = { L->heaptype_size, L->dict_size, L->list_size, L->tuple_size - 8,
				    L->ob_sval.off + 1 };
	int64_t want_item[T_N] = { L->memberdef_size, 0, 0, 8, 1 };
	uint64_t want_flags[T_N] = { TPFLAGS_TYPE_SUBCLASS, TPFLAGS_DICT_SUBCLASS | PG_TPFLAGS_HAVE_GC,
				     TPFLAGS_LIST_SUBCLASS | PG_TPFLAGS_HAVE_GC,
				     TPFLAGS_TUPLE_SUBCLASS | PG_TPFLAGS_HAVE_GC, TPFLAGS_STRING_SUBCLASS };
	for (int i = 0; i < T_N; i++) {
		uint64_t ob_type, basic, item, flags, name;
		char tname[16] = "";
		if (!fld(r, types[i], &L->ob_type, &ob_type) || !fld(r, types[i], &L->tp_basicsize, &basic) ||
		    !fld(r, types[i], &L->tp_itemsize, &item) || !fld(r, types[i], &L->tp_flags, &flags) ||
		    !fld(r, types[i], &L->tp_name, &name)) {
			snprintf(buf, cap, "%s is unreadable", probe_types[i]);
			return buf;
		}
		if (ob_type != types[T_TYPE]) {
			snprintf(buf, cap, "%s's ob_type (+%d) is 0x%" PRIx64 ", not PyType_Type", probe_types[i],
				 L->ob_type.off, ob_type);
			return buf;
		}
		if ((int64_t)basic != want_basic[i] || (int64_t)item != want_item[i]) {
			snprintf(buf, cap, "%s's tp_basicsize/tp_itemsize are %" PRId64 "/%" PRId64 ", the profile's %" PRId64
				 "/%" PRId64, probe_types[i], (int64_t)basic, (int64_t)item, want_basic[i], want_item[i]);
			return buf;
		}
		if ((flags & want_flags[i]) != want_flags[i]) {
			snprintf(buf, cap, "%s's tp_flags 0x%" PRIx64 " lack 0x%" PRIx64, probe_types[i], flags, want_flags[i]);
			return buf;
		}
		pg_error *err = pg_read_cstr(r, name, tname, sizeof(tname), NULL);
		bool named = !err && strcmp(tname, probe_names[i]) == 0;
		pg_error_destroy(err);
		if (named)
			continue;
		snprintf(buf, cap, "%s's tp_name is not \"%s\"", probe_types[i], probe_names[i]);
		return buf;
	}
	/* the three generations: each list circular through its head, its
	 * first object's back link the head; a sane threshold */
	uint64_t gens = gen0 - (uint64_t)L->gen_head.off;
	for (int g = 0; g < 3; g++) {
		uint64_t head = gens + (uint64_t)g * (uint64_t)L->gen_size + (uint64_t)L->gen_head.off;
		uint64_t next, prev, back, thr;
		if (!fld(r, head, &L->gc_next, &next) || !fld(r, head, &L->gc_prev, &prev) || !next || !prev ||
		    ((next | prev) & 7) || !fld(r, next, &L->gc_prev, &back) ||
		    !fld(r, gens + (uint64_t)g * (uint64_t)L->gen_size, &L->gen_threshold, &thr)) {
			snprintf(buf, cap, "generation %d's list head (0x%" PRIx64 ") is unreadable", g, head);
			return buf;
		}
		if (back != head || (int32_t)thr < 0) {
			snprintf(buf, cap, "generation %d's list does not hold with PyGC_Head of %d bytes (its first object's "
				 "gc_prev is 0x%" PRIx64 ", threshold %d)", g, L->gc_head_size, back, (int32_t)thr);
			return buf;
		}
	}
	return NULL;
}

pg_error *pg_probe_profile(struct pg_core *core, struct pg_interp *in, const struct pg_log *log)
{
	uint64_t types[T_N];
	for (int i = 0; i < T_N; i++)
		if (!(types[i] = sym(in, probe_types[i])))
			return pg_error_create(PG_ERR_NOT_FOUND, "the module exports no %s", probe_types[i]);
	uint64_t g0var = sym(in, "_PyGC_generation0"), gen0 = 0;
	struct pg_reader rd;
	pg_reader_init(&rd, &core->mem);
	if (!g0var || !rd64(&rd, g0var, &gen0) || !gen0 || (gen0 & 7))
		return pg_error_create(PG_ERR_NOT_FOUND, "_PyGC_generation0 is missing or unreadable");
	/* Python 2 names its unicode API by the build's width */
	bool ucs4 = has_func(in, "PyUnicodeUCS4_FromString"), ucs2 = has_func(in, "PyUnicodeUCS2_FromString");
	if (ucs4 == ucs2)
		return pg_error_create(PG_ERR_NOT_FOUND, "%s", ucs4 ? "both PyUnicodeUCS2_* and PyUnicodeUCS4_* are exported"
								  : "no PyUnicodeUCS2_* or PyUnicodeUCS4_* API is exported "
								    "(not a Python 2 build)");
	if (!sym(in, "PyInstance_Type") || !sym(in, "PyClass_Type"))
		return pg_error_create(PG_ERR_NOT_FOUND, "no old-style classes exported (not CPython 2.7)");
	char why[1024] = "";
	size_t used = 0;
	const struct pg_profile *hit = NULL;
	struct pg_layout L, hitL;
	bool debug = false, hitdebug = false;
	for (size_t i = 0; i < pg_py27_nprofiles; i++) {
		const struct pg_profile *p = &pg_py27_profiles[i];
		if (p->unicode_char_size != (ucs4 ? 4 : 2))
			continue;
		pg_layout_from_entries(p->layout, p->nlayout, p->unicode_char_size, &L, &debug);
		char buf[256];
		const char *no = try_profile(&rd, &L, types, gen0, buf, sizeof(buf));
		pg_logf(log, "profile %s: %s", p->name, no ? no : "fits");
		if (no) {
			int k = snprintf(why + used, sizeof(why) - used, "%s%s: %s", used ? "; " : "", p->name, no);
			if (k > 0 && (size_t)k < sizeof(why) - used)
				used += (size_t)k;
			continue;
		}
		if (hit)
			return pg_error_create(PG_ERR_NOT_FOUND, "both profiles %s and %s fit", hit->name, p->name);
		hit = p;
		hitL = L;
		hitdebug = debug;
	}
	if (!hit)
		return pg_error_create(PG_ERR_NOT_FOUND, "%s", used ? why : "no profile of that unicode width");
	in->L = hitL;
	in->debug_build = hitdebug;
	in->profile = hit;
	in->gen0 = gen0;
	snprintf(in->profile_why, sizeof(in->profile_why),
		 "no DWARF; PyType_Type's ob_type at +%d is PyType_Type, tp_basicsize/tp_itemsize/tp_flags/tp_name of "
		 "type, dict, list, tuple, str as the profile says, PyUnicode%s_* exported, the gc generations' lists "
		 "hold with a %d-byte PyGC_Head",
		 hitL.ob_type.off, ucs4 ? "UCS4" : "UCS2", hitL.gc_head_size);
	pg_logf(log, "built-in profile %s: %s", hit->name, in->profile_why);
	return NULL;
}

/* ---- the interpreter state, gc.garbage and sys.version ----------------- */

static bool is_str(struct pg_reader *r, struct pg_interp *in, uint64_t o)
{
	uint64_t t;
	return o && !(o & 7) && fld(r, o, &in->L.ob_type, &t) && t == in->types[PG_T_STRING];
}

/* The address of the me_value slot of key `key` (a str) in dict d, or 0;
 * *bad (when not NULL) is set when the dict could not be read whole, so
 * that 0 does not mean the key is absent. */
static uint64_t dict_slot(struct pg_reader *r, struct pg_interp *in, uint64_t d, const char *key, bool *bad)
{
	const struct pg_layout *L = &in->L;
	uint64_t type, mask, table;
	bool dummy;
	if (!bad)
		bad = &dummy;
	*bad = true;
	if (!d || (d & 7) || !fld(r, d, &L->ob_type, &type) || type != in->types[PG_T_DICT] ||
	    !fld(r, d, &L->ma_mask, &mask) || !fld(r, d, &L->ma_table, &table) || mask >= MAX_DICT_SLOTS || !table ||
	    ((mask + 1) & mask))
		return 0;
	size_t klen = strlen(key);
	for (uint64_t i = 0; i <= mask; i++) {
		uint64_t e = table + i * (uint64_t)L->dictentry_size, k, v, n;
		if (!fld(r, e, &L->me_key, &k) || !fld(r, e, &L->me_value, &v))
			return 0;
		if (!v || !is_str(r, in, k) || !fld(r, k, &L->ob_size, &n) || n != klen)
			continue;
		char buf[64];
		if (klen < sizeof(buf) && pg_try_read(r, k + (uint64_t)L->ob_sval.off, buf, klen) &&
		    memcmp(buf, key, klen) == 0) {
			*bad = false;
			return e + (uint64_t)L->me_value.off;
		}
	}
	*bad = false;
	return 0;
}

static uint64_t dict_get(struct pg_reader *r, struct pg_interp *in, uint64_t d, const char *key)
{
	uint64_t slot = dict_slot(r, in, d, key, NULL), v = 0;
	if (slot && !rd64(r, slot, &v))
		v = 0;
	return v;
}

/* Is module object o named `name` (its __dict__['__name__'])?  *dict: its
 * __dict__. */
static bool module_named(struct pg_reader *r, struct pg_interp *in, uint64_t o, const char *name, uint64_t *dict)
{
	const struct pg_layout *L = &in->L;
	uint64_t d, n, len;
	char buf[8];
	size_t nl = strlen(name);
	if (!fld(r, o, &L->md_dict, &d) || !(n = dict_get(r, in, d, "__name__")) || !is_str(r, in, n) ||
	    !fld(r, n, &L->ob_size, &len) || len != nl || nl > sizeof(buf) ||
	    !pg_try_read(r, n + (uint64_t)L->ob_sval.off, buf, nl) || memcmp(buf, name, nl) != 0)
		return false;
	*dict = d;
	return true;
}

#define MAX_SCAN ((uint64_t)1 << 28)   /* objects a damaged list can make the scan visit */

/* No thread held the GIL: the gc and sys modules among the tracked objects
 * (module objects are gc-tracked), one pass over the generation lists. */
static bool scan_modules(struct pg_reader *r, struct pg_interp *in, const struct pg_log *log, uint64_t *gcdict,
			 uint64_t *sysdict)
{
	bool whole = true;
	const struct pg_layout *L = &in->L;
	uint64_t modtype = sym(in, "PyModule_Type"), seen = 0;
	uint64_t gens = in->gen0 - (uint64_t)L->gen_head.off;
	for (int g = 0; g < 3 && modtype && !(*gcdict && *sysdict); g++) {
		uint64_t head = gens + (uint64_t)g * (uint64_t)L->gen_size + (uint64_t)L->gen_head.off, p;
		if (!fld(r, head, &L->gc_next, &p)) {
			whole = false;
			continue;
		}
		while (p != head && !(*gcdict && *sysdict)) {
			if (!p || (p & 7) || seen++ >= MAX_SCAN) {
				whole = false;
				break;
			}
			uint64_t o = p + (uint64_t)L->gc_head_size, t, d;
			if (fld(r, o, &L->ob_type, &t) && t == modtype) {
				if (!*gcdict && module_named(r, in, o, "gc", &d))
					*gcdict = d;
				else if (!*sysdict && module_named(r, in, o, "sys", &d))
					*sysdict = d;
			}
			if (!fld(r, p, &L->gc_next, &p)) {
				whole = false;
				break;
			}
		}
	}
	pg_logf(log, "no interpreter state: %" PRIu64 " tracked objects scanned for the gc and sys modules: gc %s, sys %s",
		seen, *gcdict ? "found" : "not found", *sysdict ? "found" : "not found");
	return whole;
}

static void read_version(struct pg_reader *r, struct pg_interp *in, const struct pg_log *log, uint64_t sysdict)
{
	const struct pg_layout *L = &in->L;
	uint64_t v = 0, n = 0;
	if (!in->version[0] && sysdict && (v = dict_get(r, in, sysdict, "version")) && is_str(r, in, v) &&
	    fld(r, v, &L->ob_size, &n) && n < sizeof(in->version) &&
	    pg_try_read(r, v + (uint64_t)L->ob_sval.off, in->version, (size_t)n)) {
		in->version[n] = 0;
		for (char *p = in->version; *p; p++)
			if (*p == '\n' || (unsigned char)*p < 0x20)
				*p = ' ';
		pg_logf(log, "version from sys.version: %s", in->version);
	}
}

void pg_probe_state(struct pg_core *core, struct pg_interp *in, const struct pg_log *log, struct pg_warnings *w)
{
	const struct pg_layout *L = &in->L;
	struct pg_reader rd;
	pg_reader_init(&rd, &core->mem);
	/* the thread holding the GIL, then its interpreter */
	uint64_t cur = sym(in, "_PyThreadState_Current"), ts = 0, interp = 0, modules = 0, sysdict = 0, t;
	if (!cur || !rd64(&rd, cur, &ts) || !ts || (ts & 7)) {
		uint64_t gcdict = 0;
		bool whole = scan_modules(&rd, in, log, &gcdict, &sysdict);
		read_version(&rd, in, log, sysdict);
		if (gcdict && (in->garbage_var = dict_slot(&rd, in, gcdict, "garbage", NULL)))
			pg_logf(log, "gc.garbage: the gc module's __dict__['garbage'] is held at 0x%" PRIx64, in->garbage_var);
		else if (!gcdict && whole)
			in->garbage_absent = true; /* no gc module object: never imported */
		else
			pg_warn_partial(w, "cannot find gc.garbage: %s", gcdict ? "the gc module's __dict__ has no readable 'garbage'"
								   : "the generation lists could not be read whole");
		pg_warn(w, "no interpreter state: _PyThreadState_Current is %s (no thread held the GIL when the core was "
			   "taken), and interp_head has no symbol without debug info: module globals and threads are not "
			   "named (gc.garbage %s through the gc module among the tracked objects)",
			cur ? "NULL or unreadable" : "not exported", in->garbage_var ? "found" : "not found");
		return;
	}
	if (!fld(&rd, ts, &L->ts_interp, &interp) || !interp || (interp & 7) ||
	    !fld(&rd, interp, &L->is_modules, &modules) || !fld(&rd, modules, &L->ob_type, &t) ||
	    t != in->types[PG_T_DICT]) {
		pg_warn(w, "no interpreter state: thread state 0x%" PRIx64 " leads to no interpreter whose modules are a dict; "
			   "gc.garbage, module globals and threads are not found", ts);
		return;
	}
	in->interp_state = interp;
	pg_logf(log, "interpreter state 0x%" PRIx64 " (from _PyThreadState_Current 0x%" PRIx64 "), sys.modules 0x%" PRIx64,
		interp, ts, modules);
	/* gc.garbage: the gc module's dict holds the same list as the static */
	bool bad = false;
	uint64_t gcslot = dict_slot(&rd, in, modules, "gc", &bad), gc = 0, md = 0;
	if (gcslot && (!rd64(&rd, gcslot, &gc) || !gc))
		bad = true;
	if (bad) {
		pg_warn_partial(w, "cannot find gc.garbage: sys.modules (0x%" PRIx64 ") is unreadable: its contents are "
				   "not reported", modules);
	} else if (!gc) {
		in->garbage_absent = true;
		pg_logf(log, "gc.garbage: sys.modules has no gc: the module was never imported, its list does not exist");
	} else if (!fld(&rd, gc, &L->ob_type, &t) || t != sym(in, "PyModule_Type") || !fld(&rd, gc, &L->md_dict, &md) ||
		   !(in->garbage_var = dict_slot(&rd, in, md, "garbage", NULL))) {
		pg_warn_partial(w, "cannot find gc.garbage: sys.modules['gc'] (0x%" PRIx64 ") is no module whose __dict__ has "
			   "'garbage': its contents are not reported", gc);
	} else {
		pg_logf(log, "gc.garbage: sys.modules['gc'].__dict__['garbage'] is held at 0x%" PRIx64, in->garbage_var);
	}
	/* the version: sys.version */
	if (fld(&rd, interp, &L->is_sysdict, &sysdict))
		read_version(&rd, in, log, sysdict);
}
