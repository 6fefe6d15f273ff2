#include "roots.h"

#include <gelf.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "values.h"

#define MAX_INTERPS 64
#define MAX_THREADS 4096
#define MAX_FRAMES (1u << 22)   /* frames of all threads together */
#define MAX_DICT_MASK ((1ULL << 26) - 1)   /* 64 M slots: more is not believed */

struct roots {
	struct pg_heap *h;
	const struct pg_layout *L;
	struct pg_model *m;
	pg_root_fn fn;
	void *arg;
	pg_error *err;
	uint64_t module_type;
	uint32_t frames;          /* met so far, all threads */
};

static bool rd(struct pg_heap *h, uint64_t addr, uint64_t *v)
{
	return pg_try_read(&h->rd, addr, v, 8);
}

static bool field(struct pg_heap *h, uint64_t base, const struct pg_field *f, uint64_t *v)
{
	*v = 0;
	return f->off >= 0 && f->size == 8 && rd(h, base + (uint64_t)f->off, v);
}

static void emit(struct roots *x, uint64_t addr, uint8_t kind, uint8_t sub, uint64_t a, uint64_t b, bool weak)
{
	if (x->err || !addr || (addr & 7))
		return;
	struct pg_root r = { .node = PG_NONE, .kind = kind, .sub = sub, .a = a, .b = b };
	x->err = x->fn(x->arg, addr, &r, weak);
}

/* Each (key, value) of a dict with a value; false when its table is
 * unreadable or absurd. */
static bool dict_each(struct roots *x, uint64_t dict, void (*fn)(struct roots *x, uint64_t key, uint64_t val, void *a),
		      void *a)
{
	const struct pg_layout *L = x->L;
	uint64_t mask, table;
	if (!rd(x->h, dict + (uint64_t)L->ma_mask.off, &mask) || !rd(x->h, dict + (uint64_t)L->ma_table.off, &table) ||
	    mask > MAX_DICT_MASK || ((mask + 1) & mask))
		return false;
	size_t esz = (size_t)L->dictentry_size;
	for (uint64_t i = 0; i <= mask && !x->err; i++) {
		uint64_t key, val;
		if (!rd(x->h, table + i * esz + (uint64_t)L->me_key.off, &key) ||
		    !rd(x->h, table + i * esz + (uint64_t)L->me_value.off, &val))
			return false;
		if (key && val)
			fn(x, key, val, a);
	}
	return true;
}

static bool is_module(struct roots *x, uint64_t obj)
{
	uint64_t type;
	if (!x->module_type || !rd(x->h, obj + (uint64_t)x->L->ob_type.off, &type))
		return false;
	/* PyModule_Type or a subclass of it */
	for (int depth = 0; type && depth < 64; depth++) {
		if (type == x->module_type)
			return true;
		if (!rd(x->h, type + (uint64_t)x->L->tp_base.off, &type))
			return false;
	}
	return false;
}

static void module_fn(struct roots *x, uint64_t key, uint64_t mod, void *a)
{
	uint64_t only = *(uint64_t *)a, dict;
	/* pass 0: __main__ only; pass 1: the others (only == 0) */
	bool main = false;
	char name[16];
	if (pg_try_read(&x->h->rd, key + (uint64_t)x->L->ob_sval.off, name, 9))
		main = memcmp(name, "__main__", 9) == 0;
	if ((only == 1) != main || !is_module(x, mod))
		return;
	if (!field(x->h, mod, &x->L->md_dict, &dict) || !dict) {
		emit(x, mod, PG_ROOT_MODULE, PG_R_MODULE, key, 0, false);
		return;
	}
	/* the module's dict is the root of its globals (not each global: a
	 * dict's retained size is what dropping it frees, its values too) */
	emit(x, dict, PG_ROOT_MODULE, PG_R_MODULE_DICT, key, 0, false);
	emit(x, mod, PG_ROOT_MODULE, PG_R_MODULE, key, 0, false);
}

static void thread_roots(struct roots *x, uint64_t ts)
{
	struct pg_heap *h = x->h;
	const struct pg_layout *L = x->L;
	uint64_t tid = 0, frame = 0, v;
	field(h, ts, &L->ts_thread_id, &tid);
	field(h, ts, &L->ts_frame, &frame);
	/* a chain that loops (a damaged f_back) comes back to a frame met:
	 * Brent's method finds it in as many steps as the chain is long */
	uint64_t mark = frame;
	unsigned long power = 1, lam = 0;
	while (frame && !x->err) {
		if (++x->frames > MAX_FRAMES) {
			pg_warn_partial(h->warn, "more than %u frames in all threads: the rest are no roots", MAX_FRAMES);
			break;
		}
		emit(x, frame, PG_ROOT_THREAD, PG_R_FRAME, tid, frame, false);
		if (!field(h, frame, &L->f_back, &frame))
			break;
		if (frame == mark) {
			pg_warn_partial(h->warn, "thread %" PRIu64 ": its frames' f_back chain loops", tid);
			break;
		}
		if (++lam == power) {
			mark = frame;
			power *= 2;
			lam = 0;
		}
	}
	const struct {
		const struct pg_field *f;
		uint8_t sub;
	} fs[] = {
		{ &L->ts_curexc_type, PG_R_CUREXC_TYPE }, { &L->ts_curexc_value, PG_R_CUREXC_VALUE },
		{ &L->ts_curexc_traceback, PG_R_CUREXC_TB }, { &L->ts_exc_type, PG_R_EXC_TYPE },
		{ &L->ts_exc_value, PG_R_EXC_VALUE }, { &L->ts_exc_traceback, PG_R_EXC_TB },
		{ &L->ts_dict, PG_R_TSDICT }, { &L->ts_async_exc, PG_R_ASYNC_EXC },
		{ &L->ts_c_profileobj, PG_R_PROFILEOBJ }, { &L->ts_c_traceobj, PG_R_TRACEOBJ },
		{ &L->ts_trash_delete_later, PG_R_TRASH },
	};
	for (size_t i = 0; i < sizeof(fs) / sizeof(fs[0]); i++)
		if (field(h, ts, fs[i].f, &v) && v)
			emit(x, v, PG_ROOT_THREAD, fs[i].sub, tid, 0, false);
}

static uint64_t symbol(struct pg_heap *h, const char *name)
{
	const struct pg_sym *s;
	pg_error *err = pg_symtab_find(&h->in->syms, name, STT_OBJECT, &s);
	if (err) {
		pg_logf(h->log, "roots: %s: %s", name, err->message);
		pg_error_destroy(err);
		return 0;
	}
	return s->addr;
}

pg_error *pg_py27_roots(struct pg_heap *h, struct pg_model *m, pg_root_fn fn, void *arg)
{
	const struct pg_layout *L = &h->in->L;
	struct roots x = { .h = h, .L = L, .m = m, .fn = fn, .arg = arg };
	x.module_type = symbol(h, "PyModule_Type");
	uint64_t head_var = symbol(h, "interp_head"), interp = 0;
	/* without debug info, the interpreter state the probe found */
	if (!head_var && h->in->interp_state)
		interp = h->in->interp_state;
	bool have_interp = L->interp_size > 0 && L->is_modules.off >= 0 && L->tstate_size > 0 && (head_var || interp);
	if (!have_interp)
		pg_warn(h->warn, "no interpreter state (its symbol or DWARF is missing): module globals and threads "
				 "are not named; what they hold is \"held from outside\"");
	else if (!interp && (!rd(h, head_var, &interp) || !interp))
		pg_warn_partial(h->warn, "the interpreter state (interp_head) is unreadable: module globals and threads "
					 "are not named");
	uint64_t interps[MAX_INTERPS];
	size_t ninterps = 0;
	for (uint64_t is = interp; have_interp && is && ninterps < MAX_INTERPS; ninterps++) {
		bool seen = false;
		for (size_t i = 0; i < ninterps; i++)
			seen |= interps[i] == is;
		if (seen)
			break;
		interps[ninterps] = is;
		if (!field(h, is, &L->is_next, &is))
			break;
	}
	/* module globals first (__main__'s, then the others), then threads,
	 * then the interpreters' own dicts */
	for (size_t i = 0; i < ninterps && !x.err; i++) {
		uint64_t modules;
		if (!field(h, interps[i], &L->is_modules, &modules) || !modules)
			continue;
		for (uint64_t pass = 1; pass <= 2 && !x.err; pass++) {
			uint64_t only = pass == 1 ? 1 : 0;
			if (!dict_each(&x, modules, module_fn, &only)) {
				pg_warn_partial(h->warn, "sys.modules (0x%" PRIx64 ") is unreadable: module globals are not named",
						modules);
				break;
			}
		}
	}
	for (size_t i = 0; i < ninterps && !x.err; i++) {
		uint64_t ts;
		if (!field(h, interps[i], &L->is_tstate_head, &ts))
			continue;
		uint64_t mark = ts;
		unsigned long power = 1, lam = 0;
		for (uint32_t k = 0; ts && !x.err; k++) {
			if (k == MAX_THREADS) {
				pg_warn_partial(h->warn, "more than %u thread states: the rest are no roots", MAX_THREADS);
				break;
			}
			thread_roots(&x, ts);
			if (!field(h, ts, &L->ts_next, &ts))
				break;
			if (ts == mark) {
				pg_warn_partial(h->warn, "the thread states' list loops");
				break;
			}
			if (++lam == power) {
				mark = ts;
				power *= 2;
				lam = 0;
			}
		}
	}
	for (size_t i = 0; i < ninterps && !x.err; i++) {
		const struct {
			const struct pg_field *f;
			uint8_t sub;
		} fs[] = {
			{ &L->is_modules, PG_R_MODULES }, { &L->is_sysdict, PG_R_SYSDICT },
			{ &L->is_builtins, PG_R_BUILTINS }, { &L->is_modules_reloading, PG_R_RELOADING },
			{ &L->is_codec_search_path, PG_R_CODEC_PATH }, { &L->is_codec_search_cache, PG_R_CODEC_CACHE },
			{ &L->is_codec_error_registry, PG_R_CODEC_ERRORS },
		};
		uint64_t v;
		for (size_t k = 0; k < sizeof(fs) / sizeof(fs[0]); k++)
			if (field(h, interps[i], fs[k].f, &v) && v)
				emit(&x, v, PG_ROOT_INTERP, fs[k].sub, 0, 0, false);
	}
	/* the interned strings' dict: its two references to each mortal
	 * string are not counted in the string's refcount, and keep nothing
	 * alive (an immortal one's extra reference shows as held from outside) */
	uint64_t interned_var = symbol(h, "interned"), interned = 0;
	if (interned_var && rd(h, interned_var, &interned) && interned)
		emit(&x, interned, PG_ROOT_INTERP, PG_R_INTERNED, 0, 0, true);
	/* static types: every non-heap type met so far */
	for (size_t i = 0; i < h->ntypes && !x.err; i++) {
		const struct pg_type *t = &h->types[i];
		if (t->valid && !(t->flags & PG_TPFLAGS_HEAPTYPE) && t->addr)
			emit(&x, t->addr, PG_ROOT_TYPE, 0, t->addr, 0, false);
	}
	if (m->garbage_list)
		emit(&x, m->garbage_list, PG_ROOT_GARBAGE, 0, 0, 0, false);
	return x.err;
}

/* ---- names ------------------------------------------------------------ */

/* The bytes of a str object (cut), or a repr of whatever else it is. */
static void str_text(struct pg_heap *h, uint64_t s, char *buf, size_t cap)
{
	uint64_t type;
	bool is_str = rd(h, s + (uint64_t)h->in->L.ob_type.off, &type) && type && type == h->in->types[PG_T_STRING];
	if (is_str) {
		pg_error *err = pg_read_cstr(&h->rd, s + (uint64_t)h->in->L.ob_sval.off, buf, cap, NULL);
		if (!err)
			return;
		pg_error_destroy(err);
	}
	char *r = pg_value_repr(h, s, 60, 1);
	snprintf(buf, cap, "%s", r ? r : "?");
	free(r);
}

static void frame_func(struct pg_heap *h, uint64_t frame, char *buf, size_t cap)
{
	uint64_t code, name;
	const struct pg_layout *L = &h->in->L;
	if (field(h, frame, &L->f_code, &code) && code && field(h, code, &L->co_name, &name) && name)
		str_text(h, name, buf, cap);
	else
		snprintf(buf, cap, "?");
}

void pg_py27_root_text(struct pg_heap *h, const struct pg_root *r, char *name, size_t ncap, char *expr,
		       size_t ecap)
{
	char a[160], b[160];
	static const char *const ts_fields[] = {
		[PG_R_CUREXC_TYPE] = "raised exception type", [PG_R_CUREXC_VALUE] = "raised exception",
		[PG_R_CUREXC_TB] = "raised exception's traceback", [PG_R_EXC_TYPE] = "sys.exc_info()[0]",
		[PG_R_EXC_VALUE] = "sys.exc_info()[1]", [PG_R_EXC_TB] = "sys.exc_info()[2]",
		[PG_R_TSDICT] = "thread state dict", [PG_R_ASYNC_EXC] = "async exception",
		[PG_R_PROFILEOBJ] = "profiler", [PG_R_TRACEOBJ] = "tracer", [PG_R_TRASH] = "trash (deletion deferred)",
	};
	static const char *const is_names[] = {
		[PG_R_MODULES] = "sys.modules", [PG_R_SYSDICT] = "sys.__dict__", [PG_R_BUILTINS] = "__builtin__.__dict__",
		[PG_R_RELOADING] = "modules being reloaded", [PG_R_CODEC_PATH] = "codecs search path",
		[PG_R_CODEC_CACHE] = "codecs search cache", [PG_R_CODEC_ERRORS] = "codecs error registry",
		[PG_R_INTERNED] = "interned strings",
	};
	switch (r->kind) {
	case PG_ROOT_MODULE:
		str_text(h, r->a, a, sizeof(a));
		if (r->sub == PG_R_GLOBAL) {
			str_text(h, r->b, b, sizeof(b));
			snprintf(name, ncap, "module %s global %s", a, b);
			snprintf(expr, ecap, "%s.%s", a, b);
		} else if (r->sub == PG_R_MODULE_DICT) {
			/* a path from it names the global: "module M global K", M.K */
			snprintf(name, ncap, "module %s", a);
			snprintf(expr, ecap, "%s", a);
		} else {
			snprintf(name, ncap, "module %s", a);
			snprintf(expr, ecap, "sys.modules['%s']", a);
		}
		return;
	case PG_ROOT_THREAD:
		if (r->sub == PG_R_FRAME) {
			frame_func(h, r->b, a, sizeof(a));
			snprintf(name, ncap, "thread %" PRIu64 " %s()", r->a, a);
		} else {
			snprintf(name, ncap, "thread %" PRIu64 " %s", r->a,
				 r->sub < sizeof(ts_fields) / sizeof(ts_fields[0]) && ts_fields[r->sub] ? ts_fields[r->sub] : "?");
		}
		snprintf(expr, ecap, "%s", name);
		return;
	case PG_ROOT_INTERP:
		snprintf(name, ncap, "%s",
			 r->sub < sizeof(is_names) / sizeof(is_names[0]) && is_names[r->sub] ? is_names[r->sub] : "?");
		snprintf(expr, ecap, "%s", name);
		return;
	case PG_ROOT_TYPE: {
		uint32_t idx;
		pg_error *err = pg_heap_type(h, r->a, &idx);
		snprintf(name, ncap, "static type %s", err ? "?" : h->types[idx].name);
		snprintf(expr, ecap, "%s", err ? "?" : h->types[idx].name);
		pg_error_destroy(err);
		return;
	}
	case PG_ROOT_GARBAGE:
		snprintf(name, ncap, "gc.garbage");
		snprintf(expr, ecap, "gc.garbage");
		return;
	default:
		snprintf(name, ncap, "?");
		snprintf(expr, ecap, "?");
		return;
	}
}
