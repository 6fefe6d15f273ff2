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
 *   unit dominators  retention's dominator tree, retained sizes, retainers
 *                  and paths vs deleting each node and searching again, on
 *                  random graphs with roots, refcount surplus and weak
 *                  holders, and a 300,000-node chain
 *
 * Exit 0 when every check holds; each failure prints one line. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/analysis/retention.h"
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

/* ---- dominators ---- */

struct tgraph {
	uint32_t N, n;            /* nodes, of which tracked */
	uint32_t *from, *to;      /* edges */
	uint32_t ne;
};

/* A model over t's edges: tracked -> tracked in eto, the rest in xto. */
static void build_model(struct pg_model *m, const struct tgraph *t)
{
	memset(m, 0, sizeof(*m));
	m->n = t->n;
	m->nall = t->N;
	m->estart = calloc(t->n + 1, sizeof(uint32_t));
	m->xstart = calloc(t->N + 1, sizeof(uint32_t));
	m->eto = malloc((t->ne + 1) * sizeof(uint32_t));
	m->xto = malloc((t->ne + 1) * sizeof(uint32_t));
	for (uint32_t e = 0; e < t->ne; e++) {
		if (t->from[e] < t->n && t->to[e] < t->n)
			m->estart[t->from[e] + 1]++;
		else
			m->xstart[t->from[e] + 1]++;
	}
	for (uint32_t v = 0; v < t->n; v++)
		m->estart[v + 1] += m->estart[v];
	for (uint32_t v = 0; v < t->N; v++)
		m->xstart[v + 1] += m->xstart[v];
	uint32_t *fe = malloc((t->n + 1) * sizeof(uint32_t)), *fx = malloc((t->N + 1) * sizeof(uint32_t));
	memcpy(fe, m->estart, (t->n + 1) * sizeof(uint32_t));
	memcpy(fx, m->xstart, (t->N + 1) * sizeof(uint32_t));
	for (uint32_t e = 0; e < t->ne; e++) {
		if (t->from[e] < t->n && t->to[e] < t->n)
			m->eto[fe[t->from[e]]++] = t->to[e];
		else
			m->xto[fx[t->from[e]]++] = t->to[e];
	}
	m->nedges = m->estart[t->n];
	m->nxedges = m->xstart[t->N];
	free(fe);
	free(fx);
	m->size = malloc((t->N + 1) * sizeof(uint32_t));
	m->row = malloc((t->N + 1) * sizeof(uint32_t));
	m->refcnt = malloc((t->N + 1) * sizeof(int64_t));
	m->addr = malloc((t->N + 1) * sizeof(uint64_t));
	for (uint32_t v = 0; v < t->N; v++) {
		m->size[v] = 1 + (uint32_t)(rnd() % 1000);
		m->row[v] = v % 3;
		m->addr[v] = 0x1000 + 16 * (uint64_t)v;
	}
	m->has_all = true;
}

static void free_model(struct pg_model *m)
{
	free(m->estart);
	free(m->xstart);
	free(m->eto);
	free(m->xto);
	free(m->size);
	free(m->row);
	free(m->refcnt);
	free(m->addr);
	free(m->roots);
	free(m->weak_nodes);
}

/* Reachable from the virtual root (node N) over strong edges, node `cut`
 * deleted (N + 1: none). */
static void reach_from(const struct tgraph *t, const uint8_t *weak, const uint8_t *rooted, uint32_t cut, uint8_t *out,
		       uint32_t *dist, const uint8_t *seed)
{
	uint32_t N = t->N;
	uint32_t *queue = malloc((N + 1) * sizeof(*queue));
	size_t qh = 0, qt = 0;
	memset(out, 0, N);
	for (uint32_t v = 0; v < N; v++) {
		if ((seed ? seed[v] : rooted[v]) && v != cut) {
			out[v] = 1;
			queue[qt++] = v;
			if (dist)
				dist[v] = 0;
		}
	}
	while (qh < qt) {
		uint32_t v = queue[qh++];
		if (weak[v])
			continue;
		for (uint32_t e = 0; e < t->ne; e++)
			if (t->from[e] == v && t->to[e] != cut && !out[t->to[e]]) {
				out[t->to[e]] = 1;
				if (dist)
					dist[t->to[e]] = dist[v] + 1;
				queue[qt++] = t->to[e];
			}
	}
	free(queue);
}

static bool has_edge(const struct tgraph *t, const uint8_t *weak, uint32_t a, uint32_t b)
{
	if (weak[a])
		return false;
	for (uint32_t e = 0; e < t->ne; e++)
		if (t->from[e] == a && t->to[e] == b)
			return true;
	return false;
}

static void test_dominators(void)
{
	for (int round = 0; round < 300; round++) {
		struct tgraph t;
		t.N = 1 + (uint32_t)(rnd() % 36);
		t.n = (uint32_t)(rnd() % (t.N + 1));
		t.ne = (uint32_t)(rnd() % (3 * t.N + 1));
		t.from = malloc((t.ne + 1) * sizeof(uint32_t));
		t.to = malloc((t.ne + 1) * sizeof(uint32_t));
		for (uint32_t e = 0; e < t.ne; e++) {
			t.from[e] = (uint32_t)(rnd() % t.N);
			t.to[e] = (uint32_t)(rnd() % t.N);
		}
		struct pg_model m;
		build_model(&m, &t);
		uint32_t N = t.N;
		uint8_t *weak = calloc(N + 1, 1), *named = calloc(N + 1, 1), *outside = calloc(N + 1, 1);
		uint8_t *rooted = calloc(N + 1, 1);
		/* weak holders, named roots, refcount surplus */
		if (rnd() % 3 == 0) {
			uint32_t w = (uint32_t)(rnd() % N);
			weak[w] = 1;
			m.weak_nodes = malloc(2 * sizeof(uint32_t));
			m.weak_nodes[m.nweak++] = w;
			m.weak_nodes[m.nweak++] = w;   /* listed twice: counted once */
		}
		uint32_t nr = (uint32_t)(rnd() % 4);
		m.roots = calloc(nr + 1, sizeof(*m.roots));
		for (uint32_t k = 0; k < nr; k++) {
			uint32_t v = (uint32_t)(rnd() % N);
			m.roots[m.nroots++] = (struct pg_root){ .node = v, .kind = PG_ROOT_MODULE };
			named[v] = rooted[v] = 1;
		}
		uint32_t *indeg = calloc(N + 1, sizeof(uint32_t));
		for (uint32_t e = 0; e < t.ne; e++)
			if (!weak[t.from[e]])
				indeg[t.to[e]]++;
		for (uint32_t v = 0; v < N; v++) {
			bool extra = rnd() % 6 == 0;
			m.refcnt[v] = (int64_t)indeg[v] + (extra ? 1 : 0) - (rnd() % 7 == 0 ? 1 : 0);
			if (m.refcnt[v] > (int64_t)indeg[v])
				outside[v] = rooted[v] = 1;
		}
		uint64_t total = 0;
		for (uint32_t v = 0; v < N; v++)
			total += m.size[v];
		m.tracked_bytes = total;
		struct pg_retention *r = NULL;
		pg_error *err = pg_retention_run(&m, 3, &r);
		CHECK(!err, "round %d: pg_retention_run: %s", round, err ? err->message : "");
		if (err) {
			pg_error_destroy(err);
			goto next;
		}
		uint8_t *base = malloc(N + 1), *cut = malloc(N + 1);
		reach_from(&t, weak, rooted, N + 1, base, NULL, NULL);
		/* dom[d][v]: d dominates v (v reachable, unreachable without d), d == v included */
		uint8_t *dom = calloc((size_t)N * N + 1, 1);
		for (uint32_t d = 0; d < N; d++) {
			reach_from(&t, weak, rooted, d, cut, NULL, NULL);
			for (uint32_t v = 0; v < N; v++)
				dom[(size_t)d * N + v] = base[v] && !cut[v];
		}
		for (uint32_t v = 0; v < N; v++) {
			CHECK((r->pre[v] != 0) == (base[v] != 0), "round %d: node %u reached %d, brute %d", round, v,
			      r->pre[v] != 0, base[v]);
			if (!base[v] || !r->pre[v])
				continue;
			uint64_t cnt = 0, bytes = 0;
			for (uint32_t w = 0; w < N; w++)
				if (dom[(size_t)v * N + w]) {
					cnt++;
					bytes += m.size[w];
				}
			uint64_t gc, gb;
			CHECK(pg_retained(r, v, &gc, &gb) && gc == cnt && gb == bytes,
			      "round %d: node %u retains %" PRIu64 "/%" PRIu64 ", brute %" PRIu64 "/%" PRIu64, round, v, gc, gb, cnt,
			      bytes);
			/* its immediate dominator: a strict dominator that every
			 * other strict dominator dominates (or the virtual root) */
			uint32_t d = r->node_of[r->idom[r->pre[v]]];
			if (d == N) {
				for (uint32_t x = 0; x < N; x++)
					CHECK(x == v || !dom[(size_t)x * N + v], "round %d: node %u: idom is the root, but %u dominates it",
					      round, v, x);
			} else {
				CHECK(d != v && dom[(size_t)d * N + v], "round %d: node %u: idom %u does not dominate it", round, v, d);
				for (uint32_t x = 0; x < N; x++)
					if (x != v && x != d && dom[(size_t)x * N + v])
						CHECK(dom[(size_t)x * N + d], "round %d: node %u: %u dominates it but not its idom %u", round,
						      v, x, d);
			}
		}
		/* retainers: top-level, the 80% rule, real paths from their root */
		for (size_t q = 0; q < r->nretainers; q++) {
			const struct pg_retainer *rt = &r->retainers[q];
			CHECK(r->idom[r->pre[rt->top]] == 1, "round %d: retainer top %u is not top-level", round, rt->top);
			CHECK(dom[(size_t)rt->top * N + rt->node], "round %d: retainer %u not under its top %u", round, rt->node,
			      rt->top);
			uint64_t c = 0, b = 0;
			pg_retained(r, rt->node, &c, &b);
			CHECK(c == rt->count && b == rt->bytes, "round %d: retainer %u sizes", round, rt->node);
			for (uint32_t w = 0; w < N; w++)
				if (r->pre[w] && r->node_of[r->idom[r->pre[w]]] == rt->node) {
					uint64_t wc = 0, wb = 0;
					pg_retained(r, w, &wc, &wb);
					CHECK(wb * 5 < rt->bytes * 4, "round %d: retainer %u has a child %u keeping >= 80%%", round,
					      rt->node, w);
				}
			for (uint32_t x = rt->node; x != rt->top; x = r->node_of[r->idom[r->pre[x]]]) {
				uint32_t p = r->node_of[r->idom[r->pre[x]]];
				uint64_t xc = 0, xb = 0, pc = 0, pb = 0;
				pg_retained(r, x, &xc, &xb);
				pg_retained(r, p, &pc, &pb);
				CHECK(xb * 5 >= pb * 4, "round %d: retainer %u: step %u -> %u keeps < 80%%", round, rt->node, p, x);
			}
			CHECK(rt->npath >= 1 && rt->root != PG_NONE && rt->root < r->nroots &&
			      r->roots[rt->root].node == rt->path[0] && rt->path[rt->npath - 1] == rt->node,
			      "round %d: retainer %u: path does not run from its root to it", round, rt->node);
			for (size_t i = 1; i < rt->npath; i++)
				CHECK(has_edge(&t, weak, rt->path[i - 1], rt->path[i]), "round %d: retainer %u: no edge %u -> %u",
				      round, rt->node, rt->path[i - 1], rt->path[i]);
		}
		if (r->nretainers > 1)
			for (size_t q = 1; q < r->nretainers; q++)
				CHECK(r->retainers[q - 1].bytes >= r->retainers[q].bytes, "round %d: retainers out of order", round);
		/* paths for --why: shortest from the named roots, else from the
		 * ones held from outside */
		uint32_t *dn = malloc((N + 1) * sizeof(uint32_t)), *dout = malloc((N + 1) * sizeof(uint32_t));
		uint8_t *rn_ = malloc(N + 1), *ro = malloc(N + 1);
		reach_from(&t, weak, rooted, N + 1, rn_, dn, named);
		reach_from(&t, weak, rooted, N + 1, ro, dout, outside);
		for (uint32_t v = 0; v < N; v++) {
			uint32_t *path, root;
			size_t np;
			err = pg_retention_path(&m, r, v, &path, &np, &root);
			CHECK(!err, "round %d: pg_retention_path", round);
			pg_error_destroy(err);
			if (!base[v]) {
				CHECK(np == 0, "round %d: unreachable %u has a path", round, v);
				free(path);
				continue;
			}
			uint32_t want = rn_[v] ? dn[v] + 1 : dout[v] + 1;
			CHECK(np == want, "round %d: node %u: path of %zu nodes, shortest %u", round, v, np, want);
			CHECK(np && root < r->nroots && r->roots[root].node == path[0] && path[np - 1] == v &&
			      (rn_[v] ? named[path[0]] : outside[path[0]]),
			      "round %d: node %u: path's ends", round, v);
			for (size_t i = 1; i < np; i++)
				CHECK(has_edge(&t, weak, path[i - 1], path[i]), "round %d: node %u: no edge %u -> %u", round, v,
				      path[i - 1], path[i]);
			free(path);
		}
		free(dn);
		free(dout);
		free(rn_);
		free(ro);
		free(base);
		free(cut);
		free(dom);
		pg_retention_free(r);
next:
		free(indeg);
		free(weak);
		free(named);
		free(outside);
		free(rooted);
		free_model(&m);
		free(t.from);
		free(t.to);
	}
	/* a 300,000-node chain from one root, with a back edge every 1000
	 * nodes to the start: no recursion, each node dominates the rest; and
	 * 100 leaves each held by both ends of the chain (their dominator,
	 * the chain's start, is 300,000 steps up from the end: more than the
	 * leaves' budget, so the tree is made again with them searched) */
	struct tgraph t;
	const uint32_t CHAIN = 300000, LEAVES = 100;
	t.N = t.n = CHAIN + LEAVES;
	t.ne = 0;
	t.from = malloc((CHAIN + CHAIN / 1000 + 2 * LEAVES + 1) * sizeof(uint32_t));
	t.to = malloc((CHAIN + CHAIN / 1000 + 2 * LEAVES + 1) * sizeof(uint32_t));
	for (uint32_t v = 0; v + 1 < CHAIN; v++) {
		t.from[t.ne] = v;
		t.to[t.ne++] = v + 1;
		if (v % 1000 == 999) {
			t.from[t.ne] = v;
			t.to[t.ne++] = 0;
		}
	}
	for (uint32_t l = 0; l < LEAVES; l++) {
		t.from[t.ne] = 0;
		t.to[t.ne++] = CHAIN + l;
		t.from[t.ne] = CHAIN - 1;
		t.to[t.ne++] = CHAIN + l;
	}
	struct pg_model m;
	build_model(&m, &t);
	for (uint32_t v = 0; v < t.N; v++)
		m.refcnt[v] = v < CHAIN ? 1 : 2;
	m.refcnt[0] = (int64_t)(CHAIN / 1000);
	m.roots = calloc(1, sizeof(*m.roots));
	m.roots[m.nroots++] = (struct pg_root){ .node = 0, .kind = PG_ROOT_MODULE };
	struct pg_retention *r = NULL;
	pg_error *err = pg_retention_run(&m, 3, &r);
	CHECK(!err, "chain: pg_retention_run");
	if (!err) {
		uint64_t c, b;
		bool ok = true;
		for (uint32_t v = 0; v < CHAIN && ok; v++)
			ok = pg_retained(r, v, &c, &b) && c == CHAIN - v + (v == 0 ? LEAVES : 0);
		CHECK(ok, "chain: each node retains the rest");
		for (uint32_t l = 0; l < LEAVES && ok; l++)
			ok = pg_retained(r, CHAIN + l, &c, &b) && c == 1 && r->node_of[r->idom[r->pre[CHAIN + l]]] == 0;
		CHECK(ok, "chain: the leaves are dominated by the chain's start");
		CHECK(r->nretainers == 1 && r->retainers[0].top == 0, "chain: one retainer, under node 0");
		uint32_t *path, root;
		size_t np;
		err = pg_retention_path(&m, r, CHAIN - 1, &path, &np, &root);
		CHECK(!err && np == CHAIN, "chain: path to the end has every node (%zu)", np);
		free(path);
		pg_error_destroy(err);
		pg_retention_free(r);
	}
	pg_error_destroy(err);
	free_model(&m);
	free(t.from);
	free(t.to);
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		void (*fn)(void);
	} suites[] = {
		{ "maps", test_maps }, { "memory", test_memory }, { "index", test_index },
		{ "scc", test_scc }, { "rotation", test_rotation }, { "dominators", test_dominators },
	};
	if (argc != 2) {
		fprintf(stderr, "usage: unit maps|memory|index|scc|rotation|dominators\n");
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
