/* --fail-on's parser and growth:NAME>N's evaluation (cli/failon.c), which
 * the diff subcommand calls with per-type deltas. */
#include <stdio.h>
#include <string.h>

#include "../cli/failon.h"

static int fails;

static void check(int cond, const char *what)
{
	printf("%s: %s\n", cond ? "ok" : "FAIL", what);
	fails += !cond;
}

int main(void)
{
	char why[256];
	struct pg_conds c = { 0 };
	check(pg_conds_parse(&c, "growth:dict>5,growth:Foo>0,retained:a['x,y']>1.5M", why, sizeof(why)) && c.n == 3,
	      "three conditions; a comma inside brackets and quotes belongs to the path");
	check(c.n == 3 && c.v[0].kind == PG_COND_GROWTH && !strcmp(c.v[0].name, "dict") && c.v[0].limit == 5,
	      "growth:dict>5");
	check(c.n == 3 && c.v[2].kind == PG_COND_RETAINED && !strcmp(c.v[2].name, "a['x,y']") &&
		      c.v[2].limit == 1572864, "retained:a['x,y']>1.5M is 1,572,864 bytes");
	struct pg_type_delta d[] = { { "dict", 6 }, { "Foo", 0 }, { "list", 100 } };
	FILE *devnull = fopen("/dev/null", "w");
	check(pg_conds_eval_growth(&c, d, 3, devnull) == 1, "dict grew by 6 (> 5) holds, Foo by 0 (> 0) does not");
	d[0].delta = 5;
	check(pg_conds_eval_growth(&c, d, 3, devnull) == 0, "dict grew by 5: growth:dict>5 does not hold");
	d[1].delta = -3;
	check(pg_conds_eval_growth(&c, d, 3, devnull) == 0, "a shrinking type never holds");
	check(pg_conds_eval_growth(&c, NULL, 0, devnull) == 0, "a name absent from the deltas grew by 0");
	fclose(devnull);
	pg_conds_free(&c);
	const char *bad[] = { "growth:>1", "growth:dict", "growth:dict>-1", "growth:dict>1.5", "growth:dict>1K" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct pg_conds b = { 0 };
		check(!pg_conds_parse(&b, bad[i], why, sizeof(why)) && why[0], bad[i]);
		pg_conds_free(&b);
	}
	uint64_t v;
	check(pg_parse_size_suffix("2G", &v) && v == 2ull << 30, "2G");
	check(pg_parse_size_suffix("512KiB", &v) && v == 512 << 10, "512KiB");
	check(!pg_parse_size_suffix("1.5", &v), "1.5 without a suffix is no number of bytes");
	return fails ? 1 : 0;
}
