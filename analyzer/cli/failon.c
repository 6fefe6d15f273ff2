/* --fail-on and --allow (failon.h): parse the conditions, evaluate them on
 * the session's results. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/base/text.h"
#include "failon.h"

static bool parse_count(const char *s, uint64_t *out)
{
	char *end;
	if (!isdigit((unsigned char)*s))
		return false;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end)
		return false;
	*out = v;
	return true;
}

bool pg_parse_size_suffix(const char *s, uint64_t *out)
{
	char *end;
	if (!isdigit((unsigned char)*s))
		return false;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || !isfinite(v) || v < 0)
		return false;
	double mul = 1;
	switch (*end) {
	case 'k': case 'K': mul = 1024.0; end++; break;
	case 'm': case 'M': mul = 1024.0 * 1024; end++; break;
	case 'g': case 'G': mul = 1024.0 * 1024 * 1024; end++; break;
	default: break;
	}
	if (*end == 'i' && mul > 1)
		end++;
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end)
		return false;
	/* "1.5" without a suffix is no number of bytes */
	if (mul == 1 && strpbrk(s, ".eE"))
		return false;
	v *= mul;
	if (v >= 18446744073709551615.0)
		return false;
	*out = (uint64_t)v;
	return true;
}

static bool add(struct pg_conds *c, enum pg_cond_kind k, const char *name, size_t nlen, uint64_t limit,
		const char *text, size_t tlen)
{
	struct pg_cond *v = realloc(c->v, (c->n + 1) * sizeof(*v));
	if (!v)
		return false;
	c->v = v;
	struct pg_cond *x = &c->v[c->n];
	*x = (struct pg_cond){ .kind = k, .limit = limit };
	x->text = strndup(text, tlen);
	x->name = name ? strndup(name, nlen) : NULL;
	if (!x->text || (name && !x->name)) {
		free(x->text);
		free(x->name);
		return false;
	}
	c->n++;
	return true;
}

__attribute__((format(printf, 3, 4))) static bool why_f(char *why, size_t cap, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, cap, fmt, ap);
	va_end(ap);
	return false;
}
#define WHY(...) why_f(why, cap, __VA_ARGS__)

/* One condition, text[0..len) */
static bool parse_one(struct pg_conds *c, const char *text, size_t len, char *why, size_t cap)
{
	char *t = strndup(text, len);
	if (!t)
		return WHY("out of memory");
	bool ok = false;
	char *gt = strrchr(t, '>');
	if (!*t) {
		WHY("--fail-on: an empty condition (two commas, or one at an end?)");
		goto out;
	}
	if (!gt) {
		WHY("--fail-on: '%s' has no '>' (conditions are garbage>N, uncollectable>N, type:NAME>N, "
		    "retained:PATH>SIZE, growth:NAME>N)", t);
		goto out;
	}
	*gt = 0;
	const char *lhs = t, *rhs = gt + 1;
	static const struct { const char *prefix; enum pg_cond_kind k; bool named; } kinds[] = {
		{ "garbage", PG_COND_GARBAGE, false },
		{ "uncollectable", PG_COND_UNCOLLECTABLE, false },
		{ "type:", PG_COND_TYPE, true },
		{ "retained:", PG_COND_RETAINED, true },
		{ "growth:", PG_COND_GROWTH, true },
	};
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		size_t pl = strlen(kinds[i].prefix);
		if (kinds[i].named ? strncmp(lhs, kinds[i].prefix, pl) != 0 : strcmp(lhs, kinds[i].prefix) != 0)
			continue;
		const char *name = kinds[i].named ? lhs + pl : NULL;
		if (name && !*name) {
			WHY("--fail-on: '%.*s' names nothing after '%s'", (int)len, text, kinds[i].prefix);
			goto out;
		}
		uint64_t limit;
		bool num = kinds[i].k == PG_COND_RETAINED ? pg_parse_size_suffix(rhs, &limit) : parse_count(rhs, &limit);
		if (!num) {
			WHY(kinds[i].k == PG_COND_RETAINED
				    ? "--fail-on: '%.*s': the size after '>' is bytes, with K, M or G (1024s): not '%s'"
				    : "--fail-on: '%.*s': the limit after '>' is a whole number: not '%s'",
			    (int)len, text, rhs);
			goto out;
		}
		ok = add(c, kinds[i].k, name, name ? strlen(name) : 0, limit, text, len);
		if (!ok)
			WHY("out of memory");
		goto out;
	}
	WHY("--fail-on: unknown condition '%s' (garbage>N, uncollectable>N, type:NAME>N, retained:PATH>SIZE, "
	    "growth:NAME>N)", lhs);
out:
	free(t);
	return ok;
}

bool pg_conds_parse(struct pg_conds *c, const char *spec, char *why, size_t cap)
{
	int depth = 0;
	char quote = 0;
	const char *start = spec;
	for (const char *p = spec;; p++) {
		if (*p && quote) {
			if (*p == '\\' && p[1])
				p++;
			else if (*p == quote)
				quote = 0;
			continue;
		}
		if (*p == '\'' || *p == '"')
			quote = *p;
		else if (*p == '[' || *p == '(')
			depth++;
		else if ((*p == ']' || *p == ')') && depth > 0)
			depth--;
		else if (!*p || (*p == ',' && depth == 0)) {
			if (!parse_one(c, start, (size_t)(p - start), why, cap))
				return false;
			if (!*p)
				return true;
			start = p + 1;
		}
	}
}

bool pg_conds_allow_load(struct pg_conds *c, const char *path, char *why, size_t cap)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return WHY("--allow %s: %s", path, strerror(errno));
	char *line = NULL;
	size_t lcap = 0;
	ssize_t n;
	bool ok = true;
	while (ok && (n = getline(&line, &lcap, f)) >= 0) {
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' ' || line[n - 1] == '\t'))
			line[--n] = 0;
		char *s = line;
		while (*s == ' ' || *s == '\t')
			s++;
		if (!*s || *s == '#')
			continue;
		char **v = realloc(c->allow, (c->nallow + 1) * sizeof(*v));
		if (!v || !(v[c->nallow] = strdup(s))) {
			if (v)
				c->allow = v;
			ok = WHY("out of memory");
			break;
		}
		c->allow = v;
		c->nallow++;
	}
	if (ok && ferror(f))
		ok = WHY("--allow %s: %s", path, strerror(errno));
	free(line);
	fclose(f);
	return ok;
}

void pg_conds_free(struct pg_conds *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->v[i].name);
		free(c->v[i].text);
	}
	free(c->v);
	for (size_t i = 0; i < c->nallow; i++)
		free(c->allow[i]);
	free(c->allow);
	*c = (struct pg_conds){ 0 };
}

bool pg_conds_has(const struct pg_conds *c, enum pg_cond_kind k)
{
	for (size_t i = 0; i < c->n; i++)
		if (c->v[i].kind == k)
			return true;
	return false;
}

/* A group's shape is allowed: as the report prints it (escaped), or raw. */
static bool allowed(const struct pg_conds *c, const char *shape)
{
	if (!c->nallow || !shape)
		return false;
	char *e = pg_escape_dup(shape);
	bool hit = false;
	for (size_t i = 0; i < c->nallow && !hit; i++)
		hit = strcmp(c->allow[i], shape) == 0 || (e && strcmp(c->allow[i], e) == 0);
	free(e);
	return hit;
}


/* gc.garbage's objects that are in no allowed pattern; *nallowed: the others */
static uint64_t garbage_count(const struct pg_conds *c, pg_session *s, uint64_t *nallowed)
{
	const struct pg_model *m = pg_session_model(s);
	const struct pg_cycles *cy = pg_session_cycles(s);
	uint64_t n = m->ngarbage;
	*nallowed = 0;
	if (!c->nallow || !cy || !m->has_graph || !m->ngarbage)
		return n;
	bool *ok = calloc(cy->ngroups ? cy->ngroups : 1, sizeof(*ok));
	uint8_t *in = calloc(m->n ? m->n : 1, 1);
	if (!ok || !in) {
		free(ok);
		free(in);
		return n;
	}
	for (size_t g = 0; g < cy->ngroups; g++)
		ok[g] = allowed(c, cy->groups[g].shape);
	for (size_t k = 0; k < cy->ncomps; k++) {
		uint32_t g = cy->comp_group[k];
		if (g == PG_NONE || !ok[g])
			continue;
		for (uint32_t j = cy->comp_first[k]; j < cy->comp_first[k + 1]; j++)
			in[cy->comp_members[j]] = 1;
	}
	for (size_t i = 0; i < m->ngarbage; i++) {
		uint32_t v = pg_model_index(m, m->garbage[i].addr);
		if (v != PG_NONE && in[v])
			(*nallowed)++;
	}
	free(ok);
	free(in);
	return n - *nallowed;
}

size_t pg_conds_eval(const struct pg_conds *c, pg_session *s, FILE *err)
{
	const struct pg_model *m = pg_session_model(s);
	const struct pg_collect *co = pg_session_collect(s);
	const struct pg_cycles *cy = pg_session_cycles(s);
	const struct pg_retention *r = pg_session_retention(s);
	char b1[32], b2[32];
	size_t held = 0;
	for (size_t i = 0; i < c->n; i++) {
		const struct pg_cond *x = &c->v[i];
		uint64_t value = 0, nallowed = 0;
		bool known = true;
		char *etext = pg_escape_dup(x->text);
		const char *t = etext ? etext : "?";
		switch (x->kind) {
		case PG_COND_GARBAGE:
			value = garbage_count(c, s, &nallowed);
			if (value > x->limit)
				fprintf(err, "pycore-garbage: --fail-on %s holds: gc.garbage holds %s object%s", t,
					pg_fmt_count(b1, sizeof(b1), value), value == 1 ? "" : "s");
			break;
		case PG_COND_UNCOLLECTABLE:
			if (!co) {
				known = false;
				break;
			}
			value = co->n_uncollectable;
			for (size_t g = 0; cy && c->nallow && g < cy->ngroups; g++) {
				const struct pg_cycle_group *gr = &cy->groups[g];
				if (gr->kind == PG_CY_UNCOLLECTABLE && allowed(c, gr->shape))
					nallowed += gr->objects - gr->untracked_objects;
			}
			value = value > nallowed ? value - nallowed : 0;
			if (value > x->limit)
				fprintf(err, "pycore-garbage: --fail-on %s holds: a full collection now would leave %s tracked"
					" object%s uncollectable", t, pg_fmt_count(b1, sizeof(b1), value), value == 1 ? "" : "s");
			break;
		case PG_COND_TYPE:
			for (size_t k = 0; k < m->nrows; k++)
				if (strcmp(m->rows[k].name, x->name) == 0)
					value += m->rows[k].count + m->rows[k].ucount;
			if (value > x->limit) {
				char *en = pg_escape_dup(x->name);
				fprintf(err, "pycore-garbage: --fail-on %s holds: %s objects of type %s", t,
					pg_fmt_count(b1, sizeof(b1), value), en ? en : "?");
				free(en);
			}
			break;
		case PG_COND_RETAINED: {
			bool found = false;
			for (size_t q = 0; r && q < r->nretainers && !found; q++) {
				char *expr = pg_session_retainer_expr(s, &r->retainers[q]);
				if (expr && strcmp(expr, x->name) == 0) {
					found = true;
					value = r->retainers[q].bytes;
				}
				free(expr);
			}
			if (!found) {
				fprintf(err, "pycore-garbage: --fail-on %s: no retainer has this path (the report lists them)\n", t);
				known = false;
			} else if (value > x->limit) {
				fprintf(err, "pycore-garbage: --fail-on %s holds: it retains %s bytes", t, pg_fmt_count(b1, sizeof(b1), value));
			}
			break;
		}
		case PG_COND_GROWTH:
			known = false;   /* pg_conds_eval_growth */
			break;
		}
		if (known && value > x->limit) {
			if (nallowed)
				fprintf(err, " (and %s in allowed patterns)", pg_fmt_count(b2, sizeof(b2), nallowed));
			fputc('\n', err);
			held++;
		}
		free(etext);
	}
	return held;
}

size_t pg_conds_eval_growth(const struct pg_conds *c, const struct pg_type_delta *d, size_t nd, FILE *err)
{
	char b1[32];
	size_t held = 0;
	for (size_t i = 0; i < c->n; i++) {
		const struct pg_cond *x = &c->v[i];
		if (x->kind != PG_COND_GROWTH)
			continue;
		int64_t delta = 0;
		for (size_t k = 0; k < nd; k++)
			if (d[k].name && strcmp(d[k].name, x->name) == 0)
				delta += d[k].delta;
		if (delta > 0 && (uint64_t)delta > x->limit) {
			char *e = pg_escape_dup(x->text), *en = pg_escape_dup(x->name);
			fprintf(err, "pycore-garbage: --fail-on %s holds: %s grew by %s\n", e ? e : "?", en ? en : "?",
				pg_fmt_count(b1, sizeof(b1), (uint64_t)delta));
			free(e);
			free(en);
			held++;
		}
	}
	return held;
}
