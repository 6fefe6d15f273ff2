#include "text.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cont(unsigned char c)
{
	return (c & 0xc0) == 0x80;
}

/* The sequence at s[0..n) (n > 0): returns its length in bytes and sets
 * *ok when it is one valid character; else the number of bytes one
 * U+FFFD stands for, as PyUnicode_DecodeUTF8Stateful counts them. */
static size_t step(const unsigned char *s, size_t n, int *ok)
{
	unsigned char c = s[0];
	*ok = 1;
	if (c < 0x80)
		return 1;
	size_t len = c < 0xc2 ? 0 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : c < 0xf5 ? 4 : 0;
	*ok = 0;
	if (len == 0)
		return 1;
	if (len > n) {
		/* "unexpected end of data": the byte and the continuation bytes after it */
		size_t k = 1;
		while (k < n && cont(s[k]))
			k++;
		return k;
	}
	switch (len) {
	case 2:
		if (!cont(s[1]))
			return 1;
		break;
	case 3:
		if (!cont(s[1]) || !cont(s[2]) || (c == 0xe0 && s[1] < 0xa0))
			return cont(s[1]) ? 2 : 1;
		if (c == 0xed && s[1] > 0x9f)
			return 3; /* a surrogate: see text.h */
		break;
	case 4:
		if (!cont(s[1]) || !cont(s[2]) || !cont(s[3]) || (c == 0xf0 && s[1] < 0x90) ||
		    (c == 0xf4 && s[1] > 0x8f))
			return !cont(s[1]) ? 1 : !cont(s[2]) ? 2 : 3;
		break;
	}
	*ok = 1;
	return len;
}

size_t pg_utf8_clean(const char *src, size_t n, char *out)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t i = 0, o = 0;
	while (i < n) {
		int ok;
		size_t len = step(s + i, n - i, &ok);
		if (ok) {
			memcpy(out + o, s + i, len);
			o += len;
		} else {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
		}
		i += len;
	}
	out[o] = 0;
	return o;
}

char *pg_utf8_dup(const char *s)
{
	size_t n = strlen(s);
	if (n > (SIZE_MAX - 1) / 3)
		return NULL;
	char *out = malloc(3 * n + 1);
	if (out)
		pg_utf8_clean(s, n, out);
	return out;
}

int pg_utf8_valid(const char *src)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t n = strlen(src), i = 0;
	while (i < n) {
		int ok;
		i += step(s + i, n - i, &ok);
		if (!ok)
			return 0;
	}
	return 1;
}

/* Escapes into out (NULL: only counts); returns the length. */
static size_t escape(const char *src, char *out)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)src;
	size_t n = strlen(src), i = 0, o = 0;
	while (i < n) {
		unsigned char c = s[i];
		const char *e = NULL;
		switch (c) {
		case '\n': e = "\\n"; break;
		case '\t': e = "\\t"; break;
		case '\r': e = "\\r"; break;
		}
		if (e) {
			if (out)
				memcpy(out + o, e, 2);
			o += 2;
			i++;
			continue;
		}
		int ok = 0;
		size_t len = c < 0x20 || c == 0x7f ? 1 : step(s + i, n - i, &ok);
		if (c >= 0x20 && c != 0x7f && ok) {
			if (out)
				memcpy(out + o, s + i, len);
			o += len;
		} else {
			for (size_t k = 0; k < len; k++) {
				if (out) {
					out[o] = '\\';
					out[o + 1] = 'x';
					out[o + 2] = hex[s[i + k] >> 4];
					out[o + 3] = hex[s[i + k] & 15];
				}
				o += 4;
			}
		}
		i += len;
	}
	if (out)
		out[o] = 0;
	return o;
}

char *pg_escape_dup(const char *s)
{
	char *out = malloc(escape(s, NULL) + 1);
	if (out)
		escape(s, out);
	return out;
}

int pg_fputs_escaped(const char *s, FILE *out)
{
	char *e = pg_escape_dup(s);
	int r = e ? fputs(e, out) : EOF;
	free(e);
	return r;
}

/* 1234567 -> "1,234,567" */
const char *pg_fmt_count(char *buf, size_t cap, uint64_t v)
{
	char tmp[32];
	int n = snprintf(tmp, sizeof(tmp), "%" PRIu64, v);
	size_t o = 0;
	for (int i = 0; i < n && o + 2 < cap; i++) {
		if (i && (n - i) % 3 == 0)
			buf[o++] = ',';
		buf[o++] = tmp[i];
	}
	buf[o] = 0;
	return buf;
}

/* 1536 -> "1.5 KiB", 123 -> "123 B" */
const char *pg_fmt_bytes(char *buf, size_t cap, uint64_t v)
{
	static const char *const unit[] = { "KiB", "MiB", "GiB", "TiB" };
	if (v < 1024) {
		snprintf(buf, cap, "%" PRIu64 " B", v);
		return buf;
	}
	double d = (double)v / 1024;
	int u = 0;
	while (d >= 1024 && u < 3) {
		d /= 1024;
		u++;
	}
	snprintf(buf, cap, d < 10 ? "%.1f %s" : "%.0f %s", d, unit[u]);
	return buf;
}
