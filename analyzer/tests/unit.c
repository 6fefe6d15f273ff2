/* Unit tests of libpycore's pure parts, each against a plain reference
 * computed here by brute force (never against the code's own output):
 *
 *   unit maps      u64 -> u32 and string -> u32 maps vs a linear list
 *   unit memory    the overlay: core bytes over file bytes, holes, truncation,
 *                  reads across segments, core-only reads, C strings
 *   unit index     address -> rank in address order vs a sorted array
 *   unit scc       Tarjan's components vs reachability both ways, on random
 *                  graphs with a membership mask, and a 200,000-node chain
 *   unit rotation  Booth's least rotation vs trying every rotation
 *
 * Exit 0 when every check holds; each failure prints one line. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/analysis/rotation.h"
#include "../lib/analysis/scc.h"
#include "../lib/base/maps.h"
#include "../lib/elf/memory.h"
#include "../lib/model/index.h"

static int failures, checks;

#define CHECK(cond, ...)                                                       \
	do {                                                                   \
		checks++;                                                      \
		if (!(cond)) {                                                 \
			failures++;                                            \
			if (failures <= 20) {                                  \
				printf("FAIL %s:%d: ", __FILE__, __LINE__);    \
				printf(__VA_ARGS__);                           \
				putchar('\n');                                 \
			}                                                      \
		}                                                              \
	} while (0)

/* xorshift: reproducible random numbers */
static uint64_t rnd_state = 88172645463325252ULL;
static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

/* ---- maps ---- */

static void test_maps(void)
{
	enum { N = 20000 };
	uint64_t *keys = malloc(N * sizeof(*keys));
	uint32_t *vals = malloc(N * sizeof(*vals));
	struct pg_u64map m = { 0 };
	size_t n = 0;
	for (int round = 0; round < 3 * N; round++) {
		uint64_t k = 1 + rnd() % (2 * N);   /* repeats: overwrites */
		uint32_t v = (uint32_t)rnd();
		size_t i;
		for (i = 0; i < n && keys[i] != k; i++)
			;
		if (i == n) {
			if (n == N)
				continue;
			keys[n++] = k;
		}
		vals[i] = v;
		CHECK(!pg_u64map_put(&m, k, v), "u64map_put failed");
	}
	CHECK(m.n == n, "u64map holds %zu keys, the reference %zu", m.n, n);
	for (size_t i = 0; i < n; i++) {
		uint32_t got = 0;
		CHECK(pg_u64map_get(&m, keys[i], &got) && got == vals[i], "u64map key %" PRIu64 ": %u, want %u", keys[i],
		      got, vals[i]);
	}
	uint32_t dummy;
	CHECK(!pg_u64map_get(&m, 4 * N + 7, &dummy), "u64map finds a key never put");
	pg_u64map_free(&m);

	/* strings with tags: the same name in two tags is two keys */
	struct pg_strmap sm = { 0 };
	char names[500][16];
	for (int i = 0; i < 500; i++) {
		snprintf(names[i], sizeof(names[i]), "n%d", i * 7);
		CHECK(!pg_strmap_put(&sm, names[i], 0, (uint32_t)i), "strmap_put");
		CHECK(!pg_strmap_put(&sm, names[i], 1, (uint32_t)(1000 + i)), "strmap_put tag 1");
	}
	for (int i = 0; i < 500; i++) {
		uint32_t a = 0, b = 0;
		char probe[16];
		strcpy(probe, names[i]); /* another pointer to the same text */
		CHECK(pg_strmap_get(&sm, probe, 0, &a) && a == (uint32_t)i, "strmap %s tag 0: %u", probe, a);
		CHECK(pg_strmap_get(&sm, probe, 1, &b) && b == (uint32_t)(1000 + i), "strmap %s tag 1: %u", probe, b);
	}
	CHECK(!pg_strmap_get(&sm, "n1", 0, &dummy), "strmap finds n1");
	CHECK(sm.n == 1000, "strmap holds %zu keys, want 1000", sm.n);
	pg_strmap_free(&sm);
	free(keys);
	free(vals);
}

/* ---- memory ---- */

static void test_memory(void)
{
	static uint8_t file[0x3000], core[0x2000];
	for (size_t i = 0; i < sizeof(file); i++)
		file[i] = (uint8_t)(0xf0 ^ i);
	for (size_t i = 0; i < sizeof(core); i++)
		core[i] = (uint8_t)(0x0c ^ (i * 3));
	/* the layers as core.c builds them: the core's PT_LOAD bytes (prio 3),
	 * the part a truncated core lacks (prio 3), the p_filesz..p_memsz hole
	 * (prio 1); the files' PT_LOADs (prio 2) in between */
	struct pg_mem_piece cp[] = {
		{ 0x12000, 0x13000, core, PG_SRC_CORE, 3 },            /* over the file's middle */
		{ 0x13000, 0x15000, NULL, PG_SRC_HOLE, 1 },            /* file shows through to 0x14000 */
		{ 0x20000, 0x21000, core + 0x1000, PG_SRC_CORE, 3 },
		{ 0x21000, 0x22000, NULL, PG_SRC_TRUNC, 3 },
	};
	struct pg_mem_piece fp[] = {
		{ 0x11000, 0x14000, file, PG_SRC_FILE, 2 },
	};
	struct pg_mem m = { 0 };
	CHECK(!pg_mem_build(&m, cp, 4, fp, 1), "pg_mem_build");
	struct pg_reader r;
	pg_reader_init(&r, &m);
	/* every address: what a reference overlay says */
	for (uint64_t a = 0x10000; a < 0x23000; a += 0x100) {
		const uint8_t *want = NULL;
		int src = 0;
		if (a >= 0x12000 && a < 0x13000) {
			want = core + (a - 0x12000);
			src = PG_SRC_CORE;
		} else if (a >= 0x11000 && a < 0x14000) {
			want = file + (a - 0x11000);
			src = PG_SRC_FILE;
		} else if (a >= 0x20000 && a < 0x21000) {
			want = core + 0x1000 + (a - 0x20000);
			src = PG_SRC_CORE;
		}
		uint8_t b = 0;
		bool ok = pg_try_read(&r, a, &b, 1);
		CHECK(ok == (want != NULL), "read at 0x%" PRIx64 ": %s", a, ok ? "read" : "failed");
		if (ok && want)
			CHECK(b == *want, "byte at 0x%" PRIx64 ": %02x, want %02x", a, b, *want);
		const struct pg_segment *s = pg_mem_find(&r, a);
		if (want)
			CHECK(s && s->source == src, "source at 0x%" PRIx64 ": %d, want %d", a, s ? s->source : -1, src);
		bool core_ok = pg_try_read_core(&r, a, &b, 1);
		CHECK(core_ok == (src == PG_SRC_CORE), "core-only read at 0x%" PRIx64, a);
	}
	/* across segments: file, then core, then file */
	uint8_t buf[0x1800];
	pg_error *err = pg_read(&r, 0x11c00, buf, sizeof(buf));
	CHECK(!err, "read across segments failed: %s", err ? err->message : "");
	pg_error_destroy(err);
	bool same = true;
	for (size_t i = 0; i < sizeof(buf); i++) {
		uint64_t a = 0x11c00 + i;
		uint8_t want = a >= 0x12000 && a < 0x13000 ? core[a - 0x12000] : file[a - 0x11000];
		same &= buf[i] == want;
	}
	CHECK(same, "bytes read across segments");
	/* what a failed read says */
	err = pg_read(&r, 0x14010, buf, 8);
	CHECK(err && err->kind == PG_ERR_FAULT && strstr(err->message, "neither in the core nor in a mapped file"),
	      "hole: %s", err ? err->message : "no error");
	pg_error_destroy(err);
	err = pg_read(&r, 0x21010, buf, 8);
	CHECK(err && strstr(err->message, "truncated"), "truncated part: %s", err ? err->message : "no error");
	pg_error_destroy(err);
	err = pg_read(&r, 0x30000, buf, 8);
	CHECK(err && strstr(err->message, "not mapped"), "unmapped: %s", err ? err->message : "no error");
	pg_error_destroy(err);
	err = pg_read(&r, UINT64_MAX - 3, buf, 8);
	CHECK(err && strstr(err->message, "wraps"), "wrap: %s", err ? err->message : "no error");
	pg_error_destroy(err);
	/* a read that runs into the hole from readable bytes */
	CHECK(!pg_try_read(&r, 0x13ff0, buf, 0x20), "read running into a hole succeeds");
	/* C strings: across a segment boundary, and cut */
	memcpy(core + 0xffd, "ab", 2);
	core[0xfff] = 'c';
	file[0x13000 - 0x11000] = 'd';
	file[0x13001 - 0x11000] = 0;
	char s[16];
	bool cut = true;
	err = pg_read_cstr(&r, 0x12ffd, s, sizeof(s), &cut);
	CHECK(!err && strcmp(s, "abcd") == 0 && !cut, "cstr across segments: '%s'", err ? err->message : s);
	pg_error_destroy(err);
	err = pg_read_cstr(&r, 0x12ffd, s, 3, &cut);
	CHECK(!err && strcmp(s, "ab") == 0 && cut, "cstr cut: '%s' cut=%d", s, cut);
	pg_error_destroy(err);
	CHECK(pg_mem_readable(&m) == 0x3000 + 0x1000, "readable bytes %" PRIu64, pg_mem_readable(&m));
	pg_mem_free(&m);
}

/* ---- index ---- */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

static void test_index(void)
{
	enum { N = 50000 };
	uint64_t *a = malloc(N * sizeof(*a));
	struct pg_index x = { 0 };
	size_t n = 0, dups = 0;
	for (int i = 0; i < N; i++) {
		/* clustered and scattered addresses, 16-byte aligned, some repeated */
		uint64_t addr = (rnd() & 1) ? 0x7f0000000000ULL + (rnd() % (1u << 22)) * 16
					    : 0x550000000000ULL + (rnd() % (1ULL << 36)) * 16;
		bool dup;
		CHECK(!pg_index_add(&x, addr, &dup), "index_add");
		a[n++] = addr;
		dups += dup;
	}
	qsort(a, n, sizeof(*a), cmp_u64);
	size_t u = 0;
	for (size_t i = 0; i < n; i++)
		if (!u || a[i] != a[u - 1])
			a[u++] = a[i];
	CHECK(dups == n - u, "duplicates: the index saw %zu, the reference %zu", dups, n - u);
	CHECK(!pg_index_finish(&x), "index_finish");
	CHECK(x.n == u, "index holds %zu objects, the reference %zu", x.n, u);
	for (size_t i = 0; i < u; i++) {
		uint32_t got = pg_index_find(&x, a[i]);
		CHECK(got == i, "rank of 0x%" PRIx64 ": %u, want %zu", a[i], got, i);
		if (i + 1 < u && a[i] + 8 < a[i + 1])
			CHECK(pg_index_find(&x, a[i] + 8) == PG_INDEX_NONE, "0x%" PRIx64 " found", a[i] + 8);
	}
	bool dup = false;
	CHECK(!pg_index_add(&x, 0x1003, &dup) && dup, "a misaligned address is not an object");
	CHECK(pg_index_find(&x, 0x1003) == PG_INDEX_NONE, "a misaligned address is found");
	pg_index_free(&x);
	free(a);
}

/* ---- scc ---- */

static void test_scc(void)
{
	for (int round = 0; round < 200; round++) {
		uint32_t n = 1 + (uint32_t)(rnd() % 40), ne = (uint32_t)(rnd() % (3 * n + 1));
		uint32_t *from = malloc((ne + 1) * sizeof(*from)), *to = malloc((ne + 1) * sizeof(*to));
		for (uint32_t e = 0; e < ne; e++) {
			from[e] = (uint32_t)(rnd() % n);
			to[e] = (uint32_t)(rnd() % n);
		}
		/* CSR */
		uint32_t *estart = calloc(n + 1, sizeof(*estart)), *eto = malloc((ne + 1) * sizeof(*eto));
		for (uint32_t e = 0; e < ne; e++)
			estart[from[e] + 1]++;
		for (uint32_t v = 0; v < n; v++)
			estart[v + 1] += estart[v];
		uint32_t *fill = malloc((n + 1) * sizeof(*fill));
		memcpy(fill, estart, (n + 1) * sizeof(*fill));
		for (uint32_t e = 0; e < ne; e++)
			eto[fill[from[e]]++] = to[e];
		uint8_t *in = malloc(n);
		for (uint32_t v = 0; v < n; v++)
			in[v] = rnd() % 4 != 0;
		uint32_t *comp = malloc(n * sizeof(*comp));
		for (uint32_t v = 0; v < n; v++)
			comp[v] = 12345;
		size_t ncomps = 7;
		CHECK(!pg_scc(n, estart, eto, in, comp, &ncomps), "pg_scc");
		/* reference: reachability inside the set (Floyd-Warshall) */
		uint8_t *reach = calloc((size_t)n * n, 1);
		for (uint32_t v = 0; v < n; v++)
			reach[v * n + v] = in[v];
		for (uint32_t e = 0; e < ne; e++)
			if (in[from[e]] && in[to[e]])
				reach[from[e] * n + to[e]] = 1;
		for (uint32_t k = 0; k < n; k++)
			for (uint32_t i = 0; i < n; i++)
				if (reach[i * n + k])
					for (uint32_t j = 0; j < n; j++)
						if (reach[k * n + j])
							reach[i * n + j] = 1;
		for (uint32_t i = 0; i < n; i++) {
			if (!in[i]) {
				CHECK(comp[i] == 12345, "node %u outside the set got a component", i);
				continue;
			}
			CHECK(comp[i] >= 7 && comp[i] < ncomps, "component id %u out of range", comp[i]);
			for (uint32_t j = 0; j < n; j++) {
				if (!in[j])
					continue;
				bool together = reach[i * n + j] && reach[j * n + i];
				CHECK((comp[i] == comp[j]) == together, "round %d: nodes %u and %u: same component %d, mutually reachable %d",
				      round, i, j, comp[i] == comp[j], together);
			}
		}
		free(from);
		free(to);
		free(estart);
		free(eto);
		free(fill);
		free(in);
		free(comp);
		free(reach);
	}
	/* a 200,000-node chain closed into a ring, then a long tail: no
	 * recursion, one component of 200,000 */
	uint32_t n = 300000;
	uint32_t *estart = malloc((n + 1) * sizeof(*estart)), *eto = malloc(n * sizeof(*eto));
	for (uint32_t v = 0; v < n; v++) {
		estart[v] = v;
		eto[v] = v < 199999 ? v + 1 : v == 199999 ? 0 : v + 1 < n ? v + 1 : 5;
	}
	estart[n] = n;
	uint8_t *in = malloc(n);
	memset(in, 1, n);
	uint32_t *comp = malloc(n * sizeof(*comp));
	size_t ncomps = 0;
	CHECK(!pg_scc(n, estart, eto, in, comp, &ncomps), "pg_scc chain");
	size_t ring = 0;
	for (uint32_t v = 0; v < n; v++)
		ring += comp[v] == comp[0];
	CHECK(ring == 200000 && ncomps == 1 + 100000, "the ring: %zu members, %zu components", ring, ncomps);
	free(estart);
	free(eto);
	free(in);
	free(comp);
}

/* ---- rotation ---- */

static void test_rotation(void)
{
	for (int round = 0; round < 3000; round++) {
		size_t n = 1 + (size_t)(rnd() % 24);
		uint32_t a[24];
		long f[48];
		uint32_t alphabet = 1 + (uint32_t)(rnd() % 4);
		for (size_t i = 0; i < n; i++)
			a[i] = (uint32_t)(rnd() % alphabet);
		size_t got = pg_least_rotation(a, n, f);
		/* reference: the least of all rotations */
		size_t best = 0;
		for (size_t r = 1; r < n; r++) {
			for (size_t i = 0; i < n; i++) {
				uint32_t x = a[(r + i) % n], y = a[(best + i) % n];
				if (x != y) {
					if (x < y)
						best = r;
					break;
				}
			}
		}
		bool same = got < n;
		for (size_t i = 0; same && i < n; i++)
			same = a[(got + i) % n] == a[(best + i) % n];
		CHECK(same, "round %d: rotation %zu is not the least (%zu)", round, got, best);
	}
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		void (*fn)(void);
	} suites[] = {
		{ "maps", test_maps }, { "memory", test_memory }, { "index", test_index },
		{ "scc", test_scc }, { "rotation", test_rotation },
	};
	if (argc != 2) {
		fprintf(stderr, "usage: unit maps|memory|index|scc|rotation\n");
		return 2;
	}
	for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++) {
		if (strcmp(argv[1], suites[i].name) != 0)
			continue;
		suites[i].fn();
		printf("%s: %d checks, %d failed\n", argv[1], checks, failures);
		return failures ? 1 : 0;
	}
	fprintf(stderr, "unknown suite %s\n", argv[1]);
	return 2;
}
