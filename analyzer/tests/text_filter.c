/* A filter for fixtures/test_text.py: each line of stdin is a hex-encoded
 * input; each line of stdout the hex of what the analyzer makes of it.
 *   utf8   bytes -> pg_utf8_clean (what JSON carries for a name)
 *   float  8 bytes of a double (little-endian) -> pg_float_repr
 *   escape bytes -> pg_escape_dup (what the text report shows) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/base/text.h"
#include "../lib/py27/values.h"

static size_t unhex(const char *s, unsigned char *out)
{
	size_t n = 0;
	for (; s[0] && s[1] && s[0] != '\n'; s += 2) {
		unsigned v;
		if (sscanf(s, "%2x", &v) != 1)
			break;
		out[n++] = (unsigned char)v;
	}
	return n;
}

static void puthex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		printf("%02x", (unsigned char)s[i]);
	putchar('\n');
}

int main(int argc, char **argv)
{
	if (argc != 2)
		return 2;
	static char line[1 << 16];
	static unsigned char in[1 << 15];
	static char out[3 * (1 << 15) + 1];
	while (fgets(line, sizeof(line), stdin)) {
		size_t n = unhex(line, in);
		if (strcmp(argv[1], "utf8") == 0) {
			in[n] = 0;
			size_t o = pg_utf8_clean((const char *)in, n, out);
			puthex(out, o);
		} else if (strcmp(argv[1], "float") == 0 && n == 8) {
			double d;
			memcpy(&d, in, 8);
			pg_float_repr(d, out, sizeof(out));
			puthex(out, strlen(out));
		} else if (strcmp(argv[1], "escape") == 0) {
			in[n] = 0;
			char *e = pg_escape_dup((const char *)in);
			if (!e)
				return 1;
			puthex(e, strlen(e));
			free(e);
		} else {
			return 2;
		}
	}
	return 0;
}
