#include "values.h"

#include "../base/alloc.h"
#include "traverse.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A growing string; on allocation failure it stays NULL and the result is
 * NULL. */
struct sb {
	char *p;
	size_t n, cap;
	bool failed;
};

static void sb_add(struct sb *b, const char *s, size_t len)
{
	if (b->failed)
		return;
	if (b->n + len + 1 > b->cap) {
		size_t ncap = b->cap ? b->cap : 64;
		while (ncap < b->n + len + 1)
			ncap *= 2;
		char *q = realloc(b->p, ncap);
		if (!q) {
			b->failed = true;
			return;
		}
		b->p = q;
		b->cap = ncap;
	}
	memcpy(b->p + b->n, s, len);
	b->n += len;
	b->p[b->n] = 0;
}

static void sb_puts(struct sb *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

static char *sb_done(struct sb *b)
{
	if (b->failed) {
		free(b->p);
		return NULL;
	}
	if (!b->p)
		sb_add(b, "", 0);
	return b->failed ? NULL : b->p;
}

static const char hexdigits[] = "0123456789abcdef";

/* PyString_Repr(s, smartquotes=1) */
static void str_repr(struct sb *b, const uint8_t *s, size_t n)
{
	char quote = '\'';
	if (memchr(s, '\'', n) && !memchr(s, '"', n))
		quote = '"';
	sb_add(b, &quote, 1);
	for (size_t i = 0; i < n; i++) {
		uint8_t c = s[i];
		char e[4];
		if (c == (uint8_t)quote || c == '\\') {
			e[0] = '\\';
			e[1] = (char)c;
			sb_add(b, e, 2);
		} else if (c == '\t') {
			sb_puts(b, "\\t");
		} else if (c == '\n') {
			sb_puts(b, "\\n");
		} else if (c == '\r') {
			sb_puts(b, "\\r");
		} else if (c < ' ' || c >= 0x7f) {
			e[0] = '\\';
			e[1] = 'x';
			e[2] = hexdigits[c >> 4];
			e[3] = hexdigits[c & 15];
			sb_add(b, e, 4);
		} else {
			sb_add(b, (const char *)&c, 1);
		}
	}
	sb_add(b, &quote, 1);
}

/* unicodeescape_string(s, n, quotes=1) of a wide (UCS4) or narrow build */
static void unicode_repr(struct sb *b, const uint32_t *s, size_t n, bool wide)
{
	bool has_sq = false, has_dq = false;
	for (size_t i = 0; i < n; i++) {
		has_sq |= s[i] == '\'';
		has_dq |= s[i] == '"';
	}
	char quote = has_sq && !has_dq ? '"' : '\'';
	sb_puts(b, "u");
	sb_add(b, &quote, 1);
	for (size_t i = 0; i < n; i++) {
		uint32_t ch = s[i];
		char e[16];
		if (ch == (uint32_t)quote || ch == '\\') {
			e[0] = '\\';
			e[1] = (char)ch;
			sb_add(b, e, 2);
			continue;
		}
		if (!wide && ch >= 0xd800 && ch < 0xdc00 && i + 1 < n && s[i + 1] >= 0xdc00 && s[i + 1] <= 0xdfff) {
			ch = (((ch & 0x03ff) << 10) | (s[i + 1] & 0x03ff)) + 0x00010000;
			i++;
			snprintf(e, sizeof(e), "\\U%08" PRIx32, ch);
			sb_puts(b, e);
			continue;
		}
		if (wide && ch >= 0x10000) {
			snprintf(e, sizeof(e), "\\U%08" PRIx32, ch);
			sb_puts(b, e);
		} else if (ch >= 256) {
			snprintf(e, sizeof(e), "\\u%04" PRIx32, ch);
			sb_puts(b, e);
		} else if (ch == '\t') {
			sb_puts(b, "\\t");
		} else if (ch == '\n') {
			sb_puts(b, "\\n");
		} else if (ch == '\r') {
			sb_puts(b, "\\r");
		} else if (ch < ' ' || ch >= 0x7f) {
			snprintf(e, sizeof(e), "\\x%02" PRIx32, ch);
			sb_puts(b, e);
		} else {
			e[0] = (char)ch;
			sb_add(b, e, 1);
		}
	}
	sb_add(b, &quote, 1);
}

void pg_float_repr(double d, char *buf, size_t cap)
{
	if (isnan(d)) {
		snprintf(buf, cap, "nan");
		return;
	}
	if (isinf(d)) {
		snprintf(buf, cap, d < 0 ? "-inf" : "inf");
		return;
	}
	/* the shortest digits that read back to d: correctly rounded
	 * %.*e, tried with more digits until it round-trips */
	char e[40];
	int prec;
	for (prec = 1; prec <= 17; prec++) {
		snprintf(e, sizeof(e), "%.*e", prec - 1, d);
		if (strtod(e, NULL) == d)
			break;
	}
	/* e = [-]D[.DDD]e[+-]XX */
	bool neg = e[0] == '-';
	const char *p = e + neg;
	char digits[24];
	size_t nd = 0;
	for (; *p && *p != 'e'; p++)
		if (*p >= '0' && *p <= '9' && nd < sizeof(digits) - 1)
			digits[nd++] = *p;
	digits[nd] = 0;
	int exp10 = *p == 'e' ? atoi(p + 1) : 0;
	while (nd > 1 && digits[nd - 1] == '0')
		digits[--nd] = 0;
	long decpt = exp10 + 1;
	if (d == 0) {
		nd = 1;
		decpt = 1;
	}
	char out[64];
	size_t o = 0;
	if (neg)
		out[o++] = '-';
	if (decpt <= -4 || decpt > 16) {
		/* d[.ddd]e+XX */
		out[o++] = digits[0];
		if (nd > 1) {
			out[o++] = '.';
			memcpy(out + o, digits + 1, nd - 1);
			o += nd - 1;
		}
		snprintf(out + o, sizeof(out) - o, "e%+.02ld", decpt - 1);
	} else if (decpt <= 0) {
		/* 0.000ddd */
		out[o++] = '0';
		out[o++] = '.';
		for (long z = 0; z < -decpt; z++)
			out[o++] = '0';
		memcpy(out + o, digits, nd);
		o += nd;
		out[o] = 0;
	} else if ((size_t)decpt < nd) {
		memcpy(out + o, digits, (size_t)decpt);
		o += (size_t)decpt;
		out[o++] = '.';
		memcpy(out + o, digits + decpt, nd - (size_t)decpt);
		o += nd - (size_t)decpt;
		out[o] = 0;
	} else {
		/* an integer: digits, zeros, and ".0" */
		memcpy(out + o, digits, nd);
		o += nd;
		for (size_t z = nd; z < (size_t)decpt; z++)
			out[o++] = '0';
		out[o++] = '.';
		out[o++] = '0';
		out[o] = 0;
	}
	snprintf(buf, cap, "%s", out);
}

/* Decimal of a long's magnitude: digits of `shift` bits, least significant
 * first.  Bounded by the caller. */
static char *long_decimal(const uint32_t *dig, size_t n, int shift, bool neg)
{
	/* base 10^9 limbs, least significant first */
	size_t cap = n * (size_t)shift / 29 + 2;
	uint32_t *limbs = calloc(cap, sizeof(*limbs));
	if (!limbs)
		return NULL;
	size_t nl = 0;
	for (size_t i = n; i-- > 0;) {
		/* limbs = limbs << shift + dig[i] */
		uint64_t carry = dig[i];
		for (size_t k = 0; k < nl; k++) {
			uint64_t v = ((uint64_t)limbs[k] << shift) + carry;
			limbs[k] = (uint32_t)(v % 1000000000u);
			carry = v / 1000000000u;
		}
		while (carry && nl < cap) {
			limbs[nl++] = (uint32_t)(carry % 1000000000u);
			carry /= 1000000000u;
		}
	}
	char *s = malloc(nl * 9 + 4);
	if (!s) {
		free(limbs);
		return NULL;
	}
	size_t o = 0;
	if (neg && nl)
		s[o++] = '-';
	if (!nl) {
		s[o++] = '0';
	} else {
		o += (size_t)sprintf(s + o, "%" PRIu32, limbs[nl - 1]);
		for (size_t k = nl - 1; k-- > 0;)
			o += (size_t)sprintf(s + o, "%09" PRIu32, limbs[k]);
	}
	s[o++] = 'L';
	s[o] = 0;
	free(limbs);
	return s;
}

#define MAX_LONG_DIGITS 4096 /* ~37,000 decimal digits */

char *pg_value_repr(struct pg_heap *h, uint64_t obj, size_t max, int depth)
{
	const struct pg_layout *L = &h->in->L;
	const uint64_t *T = h->in->types;
	struct pg_reader *m = &h->rd;
	struct sb b = { 0 };
	uint64_t type, n;
	if (h->in->none && obj == h->in->none)
		return strdup("None");
	pg_error *err = pg_read_u64(m, obj + (uint64_t)L->ob_type.off, &type);
	if (err) {
		pg_error_destroy(err);
		return NULL;
	}
	char num[64];
	if (type == T[PG_T_STRING]) {
		if (!pg_try_read(m, obj + (uint64_t)L->ob_size.off, &n, 8) || n > (1ULL << 40))
			return NULL;
		size_t take = n > max ? max : (size_t)n;
		uint8_t *s = malloc(take ? take : 1);
		if (!s || !pg_try_read(m, obj + (uint64_t)L->ob_sval.off, s, take)) {
			free(s);
			return NULL;
		}
		str_repr(&b, s, take);
		free(s);
		if (n > max)
			sb_puts(&b, "...");
		return sb_done(&b);
	}
	if (type == T[PG_T_UNICODE]) {
		uint64_t len, str;
		int cs = L->unicode_char_size;
		if ((cs != 2 && cs != 4) || L->unicode_length.off < 0 ||
		    !pg_try_read(m, obj + (uint64_t)L->unicode_length.off, &len, 8) ||
		    !pg_try_read(m, obj + (uint64_t)L->unicode_str.off, &str, 8) || len > (1ULL << 40))
			return NULL;
		size_t take = len > max ? max : (size_t)len;
		uint8_t *raw = malloc(take * (size_t)cs + 1);
		uint32_t *u = malloc((take + 1) * sizeof(*u));
		if (!raw || !u || (take && !pg_try_read(m, str, raw, take * (size_t)cs))) {
			free(raw);
			free(u);
			return NULL;
		}
		for (size_t i = 0; i < take; i++) {
			if (cs == 4) {
				memcpy(&u[i], raw + 4 * i, 4);
			} else {
				uint16_t v;
				memcpy(&v, raw + 2 * i, 2);
				u[i] = v;
			}
		}
		unicode_repr(&b, u, take, cs == 4);
		free(raw);
		free(u);
		if (len > max)
			sb_puts(&b, "...");
		return sb_done(&b);
	}
	char *whole = NULL;
	if ((type == T[PG_T_INT] || type == T[PG_T_BOOL]) && L->int_ival.off >= 0) {
		int64_t v;
		if (!pg_try_read(m, obj + (uint64_t)L->int_ival.off, &v, 8))
			return NULL;
		if (type == T[PG_T_BOOL])
			snprintf(num, sizeof(num), "%s", v ? "True" : "False");
		else
			snprintf(num, sizeof(num), "%" PRId64, v);
		whole = strdup(num);
	} else if (type == T[PG_T_FLOAT] && L->float_fval.off >= 0) {
		double d;
		if (!pg_try_read(m, obj + (uint64_t)L->float_fval.off, &d, 8))
			return NULL;
		pg_float_repr(d, num, sizeof(num));
		whole = strdup(num);
	} else if (type == T[PG_T_LONG] && L->long_digit.off >= 0 && (L->long_digit.size == 4 || L->long_digit.size == 2)) {
		if (!pg_try_read(m, obj + (uint64_t)L->ob_size.off, &n, 8))
			return NULL;
		int64_t sn = (int64_t)n;
		uint64_t nd = sn < 0 ? (uint64_t)0 - n : n;
		if (nd > MAX_LONG_DIGITS)
			return NULL;
		int ds = L->long_digit.size;
		uint8_t *raw = malloc(nd * (size_t)ds + 1);
		uint32_t *dig = malloc((nd + 1) * sizeof(*dig));
		if (!raw || !dig || (nd && !pg_try_read(m, obj + (uint64_t)L->long_digit.off, raw, nd * (size_t)ds))) {
			free(raw);
			free(dig);
			return NULL;
		}
		for (size_t i = 0; i < nd; i++) {
			if (ds == 4) {
				memcpy(&dig[i], raw + 4 * i, 4);
			} else {
				uint16_t v;
				memcpy(&v, raw + 2 * i, 2);
				dig[i] = v;
			}
		}
		whole = long_decimal(dig, nd, ds == 4 ? 30 : 15, sn < 0);
		free(raw);
		free(dig);
	} else if (type == T[PG_T_TUPLE] && depth > 0) {
		if (!pg_try_read(m, obj + (uint64_t)L->ob_size.off, &n, 8) || n > (1u << 24))
			return NULL;
		sb_puts(&b, "(");
		for (uint64_t i = 0; i < n && i < 4; i++) {
			uint64_t item;
			char *r = NULL;
			if (pg_try_read(m, obj + (uint64_t)L->tuple_item.off + 8 * i, &item, 8))
				r = pg_value_repr(h, item, max, depth - 1);
			if (!r) {
				uint32_t idx;
				uint64_t it;
				pg_error *e2 = NULL;
				if (pg_try_read(m, item + (uint64_t)L->ob_type.off, &it, 8) && !(e2 = pg_heap_type(h, it, &idx)))
					r = pg_asprintf("<%s 0x%" PRIx64 ">", h->types[idx].name, item);
				pg_error_destroy(e2);
			}
			sb_puts(&b, r ? r : "?");
			free(r);
			if (i + 1 < n)
				sb_puts(&b, ", ");
		}
		if (n > 4)
			sb_puts(&b, "...");
		sb_puts(&b, n == 1 ? ",)" : ")");
		return sb_done(&b);
	} else {
		return NULL;
	}
	if (whole && strlen(whole) > max) {
		whole[max] = 0;
		char *cut = pg_asprintf("%s...", whole);
		free(whole);
		whole = cut;
	}
	return whole;
}

/* Short repr of a dict key: str, unicode, int, long, float, bool, None,
 * tuples of those (values.h); else its type name and address. */
#define KEY_MAX 40
static void key_repr(struct pg_heap *h, uint64_t key, char *buf, size_t cap)
{
	char *r = pg_value_repr(h, key, KEY_MAX, 2);
	if (r) {
		snprintf(buf, cap, "%s", r);
		free(r);
		return;
	}
	uint64_t type;
	uint32_t idx;
	pg_error *err = pg_read_u64(&h->rd, key + (uint64_t)h->in->L.ob_type.off, &type);
	if (!err)
		err = pg_heap_type(h, type, &idx);
	if (err) {
		pg_error_destroy(err);
		snprintf(buf, cap, "?");
		return;
	}
	snprintf(buf, cap, "<%s 0x%" PRIx64 ">", h->types[idx].name, key);
}

void pg_label_text(struct pg_heap *h, const struct pg_label *l, char *buf, size_t cap)
{
	char tmp[160];
	const struct pg_layout *L = &h->in->L;
	pg_error *err;
	switch (l->kind) {
	case PG_L_NAME:
		snprintf(buf, cap, "%s", (const char *)(uintptr_t)l->payload);
		return;
	case PG_L_INDEX:
		snprintf(buf, cap, "[%" PRIu64 "]", l->payload);
		return;
	case PG_L_KEY:
		key_repr(h, l->payload, tmp, sizeof(tmp));
		snprintf(buf, cap, "[%s]", tmp);
		return;
	case PG_L_DICTKEY:
		key_repr(h, l->payload, tmp, sizeof(tmp));
		snprintf(buf, cap, "<key %s>", tmp);
		return;
	case PG_L_SLOT:
		err = pg_read_cstr(&h->rd, l->payload, tmp, 64, NULL);
		if (err) {
			pg_error_destroy(err);
			snprintf(buf, cap, ".<slot>");
			return;
		}
		snprintf(buf, cap, ".%s", tmp);
		return;
	case PG_L_LOCAL:
	case PG_L_CELL:
		err = pg_read_cstr(&h->rd, l->payload + (uint64_t)L->ob_sval.off, tmp, 64, NULL);
		if (err) {
			pg_error_destroy(err);
			snprintf(buf, cap, "f_localsplus");
			return;
		}
		snprintf(buf, cap, "f_locals['%s']", tmp);
		return;
	case PG_L_OFFSET:
		snprintf(buf, cap, "+%" PRIu64 "?", l->payload);
		return;
	}
	snprintf(buf, cap, "?");
}
