#include "scc.h"

#include <stdlib.h>

#include "../base/alloc.h"

#define UNSEEN UINT32_MAX

struct frame {
	uint32_t v;
	uint32_t e;
};

pg_error *pg_scc(size_t n, const uint32_t *estart, const uint32_t *eto, const uint8_t *in, uint32_t *comp,
		size_t *ncomps)
{
	uint32_t *index = pg_reallocarray(NULL, n ? n : 1, sizeof(*index));
	uint32_t *low = pg_reallocarray(NULL, n ? n : 1, sizeof(*low));
	uint32_t *stack = pg_reallocarray(NULL, n ? n : 1, sizeof(*stack));
	struct frame *calls = pg_reallocarray(NULL, n ? n : 1, sizeof(*calls));
	if (!index || !low || !stack || !calls) {
		free(index);
		free(low);
		free(stack);
		free(calls);
		return PG_ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		index[i] = UNSEEN;
	uint32_t counter = 0;
	size_t sp = 0, cp = 0;
	for (size_t root = 0; root < n; root++) {
		if (!in[root] || index[root] != UNSEEN)
			continue;
		index[root] = low[root] = counter++;
		stack[sp++] = (uint32_t)root;
		comp[root] = UNSEEN; /* on stack */
		calls[cp++] = (struct frame){ (uint32_t)root, estart[root] };
		while (cp) {
			struct frame *f = &calls[cp - 1];
			uint32_t v = f->v;
			if (f->e < estart[v + 1]) {
				uint32_t w = eto[f->e++];
				if (!in[w])
					continue;
				if (index[w] == UNSEEN) {
					index[w] = low[w] = counter++;
					stack[sp++] = w;
					comp[w] = UNSEEN;
					calls[cp++] = (struct frame){ w, estart[w] };
				} else if (comp[w] == UNSEEN && index[w] < low[v]) {
					low[v] = index[w];
				}
				continue;
			}
			cp--;
			if (cp) {
				uint32_t u = calls[cp - 1].v;
				if (low[v] < low[u])
					low[u] = low[v];
			}
			if (low[v] == index[v]) {
				uint32_t id = (uint32_t)(*ncomps)++;
				uint32_t w;
				do {
					w = stack[--sp];
					comp[w] = id;
				} while (w != v);
			}
		}
	}
	free(index);
	free(low);
	free(stack);
	free(calls);
	return NULL;
}

