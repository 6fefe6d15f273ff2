/* The memory tree in the reports: a headline and the tree to three levels
 * (text), the whole tree (JSON "memory").  Results only. */
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "../lib/base/text.h"

#define TEXT_CHILDREN 8   /* children shown per node; the rest summed */
#define TEXT_LEVELS 3


static const struct {
	const char *kind, *label;
} labels[] = {
	{ "file", "file-backed mappings" },
	{ "stack", "thread stacks" },
	{ "mmapped", "mmapped chunks" },
	{ "pymalloc", "pymalloc arenas" },
	{ "used_blocks", "used blocks" },
	{ "free_blocks", "free blocks" },
	{ "never_used", "blocks never used" },
	{ "pool_overhead", "pool headers and tails" },
	{ "empty_pools", "empty pools" },
	{ "arena_unused", "arena space not carved into pools" },
	{ "python", "Python objects outside pymalloc" },
	{ "dict_table", "dict tables" },
	{ "list_array", "list item arrays" },
	{ "set_table", "set tables" },
	{ "unicode_buffer", "unicode buffers" },
	{ "bytearray_buffer", "bytearray buffers" },
	{ "int_blocks", "int blocks" },
	{ "int_live", "live ints" },
	{ "int_free", "free int slots" },
	{ "float_blocks", "float blocks" },
	{ "float_live", "live floats" },
	{ "float_free", "free float slots" },
	{ "c_alloc", "C allocations (chunks no Python object claims)" },
	{ "free", "free chunks" },
	{ "top", "top chunk and untouched heap" },
	{ "overhead", "overhead" },
	{ "reserved", "reserved (PROT_NONE)" },
	{ "bss", "static data (bss)" },
	{ "not_dumped", "not in the core" },
	{ "unexplained", "unexplained" },
};

static void label(const struct pg_memory_node *x, char *buf, size_t cap)
{
	const char *l = x->kind;
	for (size_t i = 0; i < sizeof(labels) / sizeof(labels[0]); i++)
		if (strcmp(labels[i].kind, x->kind) == 0)
			l = labels[i].label;
	char *name = x->name ? pg_escape_dup(x->name) : NULL;
	const char *nm = name ? name : x->name ? "?" : NULL;
	if (!nm)
		snprintf(buf, cap, "%s", l);
	else if (!strcmp(x->kind, "object"))
		snprintf(buf, cap, "%s objects", nm);
	else if (!strcmp(x->kind, "size_class"))
		snprintf(buf, cap, "%s blocks", nm);
	else if (!strcmp(x->kind, "file") || !strcmp(x->kind, "stack") || !strcmp(x->kind, "heap") ||
		 !strcmp(x->kind, "malloc") || !strcmp(x->kind, "bss"))
		snprintf(buf, cap, "%s", nm);
	else
		snprintf(buf, cap, "%s (%s)", l, nm);
	free(name);
}

static void share(char *buf, size_t cap, uint64_t part, uint64_t whole)
{
	double p = whole ? 100.0 * (double)part / (double)whole : 0;
	snprintf(buf, cap, p >= 10 || p == 0 ? "%.0f%%" : "%.1f%%", p);
}

int pg_report_memory_text(FILE *out, const struct pg_report *a)
{
	const struct pg_memory *mem = pg_session_memory(a->s);
	if (!mem || !mem->nnodes)
		return 0;
	const struct pg_memory_node *v = mem->nodes;
	uint64_t total = v[0].bytes;
	char b1[32], b2[32], lab[512];
	fprintf(out, "%s in the core:", pg_fmt_bytes(b1, sizeof(b1), total));
	size_t shown = 0;
	for (size_t i = 0; i < mem->nshares && shown < 6; i++) {
		if (!mem->shares[i].bytes)
			continue;
		share(b2, sizeof(b2), mem->shares[i].bytes, total);
		fprintf(out, "%s %s %s", shown ? "," : "", b2, mem->shares[i].what);
		shown++;
	}
	if (shown < mem->nshares)
		fprintf(out, ", ...");
	fputc('\n', out);
	if (!mem->malloc_source)
		fprintf(out, "  no libc in the core: no malloc heaps\n");
	else if (!strcmp(mem->malloc_source, "dwarf"))
		fprintf(out, "  glibc malloc's state from libc's DWARF (%s)%s\n",
			mem->libc_debugfile ? mem->libc_debugfile : "?",
			mem->malloc_cached_known ? "" : "; fastbin and tcache chunks count as in use");
	else
		fprintf(out, "  glibc malloc's heaps found by walking chunk headers (%s); fastbin and tcache chunks count as in use\n",
			mem->malloc_why ? mem->malloc_why : "no DWARF for libc");
	uint64_t nonfile = total - mem->file_bytes;
	share(b2, sizeof(b2), mem->unexplained_bytes, nonfile);
	fprintf(out, "  unexplained: %s (%s of the memory that is not file-backed)\n",
		pg_fmt_bytes(b1, sizeof(b1), mem->unexplained_bytes), b2);
	/* the tree, depth first without recursion: a stack of (node, depth) */
	struct {
		uint32_t node, depth, next;   /* next: the index of the child to show next */
	} st[TEXT_LEVELS + 1];
	int top = 0;
	st[0].node = 0;
	st[0].depth = 0;
	st[0].next = 0;
	while (top >= 0) {
		const struct pg_memory_node *x = &v[st[top].node];
		if (st[top].depth >= TEXT_LEVELS || st[top].next >= x->n || st[top].next >= TEXT_CHILDREN) {
			if (st[top].depth < TEXT_LEVELS && x->n > TEXT_CHILDREN && st[top].next == TEXT_CHILDREN) {
				uint64_t rest = 0;
				for (uint32_t k = TEXT_CHILDREN; k < x->n; k++)
					rest += v[x->first + k].bytes;
				share(b2, sizeof(b2), rest, total);
				fprintf(out, "  %*s%10s %6s  ... %u more\n", 3 * (int)st[top].depth, "", pg_fmt_bytes(b1, sizeof(b1), rest),
					b2, x->n - TEXT_CHILDREN);
			}
			top--;
			continue;
		}
		uint32_t c = x->first + st[top].next++;
		const struct pg_memory_node *y = &v[c];
		label(y, lab, sizeof(lab));
		share(b2, sizeof(b2), y->bytes, total);
		fprintf(out, "  %*s%10s %6s  %s\n", 3 * (int)st[top].depth, "", pg_fmt_bytes(b1, sizeof(b1), y->bytes), b2, lab);
		if (y->n && st[top].depth + 1 < TEXT_LEVELS) {
			top++;
			st[top].node = c;
			st[top].depth = st[top - 1].depth + 1;
			st[top].next = 0;
		}
	}
	fputc('\n', out);
	return ferror(out) ? -1 : 0;
}

static json_t *jname(const char *s)
{
	char *u = pg_utf8_dup(s);
	json_t *j = u ? json_string(u) : NULL;
	free(u);
	return j ? j : json_string("?");
}

json_t *pg_report_memory_json(const struct pg_report *a)
{
	const struct pg_memory *mem = pg_session_memory(a->s);
	if (!mem || !mem->nnodes)
		return json_null();
	json_t **o = calloc(mem->nnodes, sizeof(*o));
	if (!o)
		return json_null();
	char buf[24];
	for (size_t i = 0; i < mem->nnodes; i++) {
		const struct pg_memory_node *x = &mem->nodes[i];
		o[i] = json_object();
		json_object_set_new(o[i], "kind", json_string(x->kind));
		if (x->name)
			json_object_set_new(o[i], "name", jname(x->name));
		json_object_set_new(o[i], "bytes", json_integer((json_int_t)x->bytes));
		if (x->end > x->start) {
			snprintf(buf, sizeof(buf), "0x%" PRIx64, x->start);
			json_object_set_new(o[i], "start", json_string(buf));
			snprintf(buf, sizeof(buf), "0x%" PRIx64, x->end);
			json_object_set_new(o[i], "end", json_string(buf));
		}
		if (x->n)
			json_object_set_new(o[i], "parts", json_array());
	}
	/* children in order: each is appended once, to its parent */
	for (size_t i = 0; i < mem->nnodes; i++) {
		const struct pg_memory_node *x = &mem->nodes[i];
		json_t *parts = json_object_get(o[i], "parts");
		for (uint32_t k = 0; k < x->n && x->first + k < mem->nnodes; k++)
			json_array_append_new(parts, o[x->first + k]);
	}
	json_t *root = o[0];
	free(o);
	json_t *ml = json_object();
	json_object_set_new(ml, "source", mem->malloc_source ? json_string(mem->malloc_source) : json_null());
	json_object_set_new(ml, "libc_debuginfo", mem->libc_debugfile ? jname(mem->libc_debugfile) : json_null());
	json_object_set_new(ml, "why", mem->malloc_why ? jname(mem->malloc_why) : json_null());
	json_object_set_new(ml, "cached_chunks_free", json_boolean(mem->malloc_cached_known));
	json_object_set_new(root, "malloc", ml);
	json_t *sh = json_array();
	for (size_t i = 0; i < mem->nshares; i++) {
		json_t *s = json_object();
		json_object_set_new(s, "what", json_string(mem->shares[i].what));
		json_object_set_new(s, "bytes", json_integer((json_int_t)mem->shares[i].bytes));
		json_array_append_new(sh, s);
	}
	json_object_set_new(root, "shares", sh);
	json_object_set_new(root, "file_bytes", json_integer((json_int_t)mem->file_bytes));
	json_object_set_new(root, "unexplained_bytes", json_integer((json_int_t)mem->unexplained_bytes));
	return root;
}
