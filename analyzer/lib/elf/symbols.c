#include "symbols.h"

#include <gelf.h>
#include <stdlib.h>
#include <string.h>

#include "../base/alloc.h"

static int addr_cmp(const void *a, const void *b)
{
	const struct pg_sym *x = a, *y = b;
	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	/* prefer sized, global-looking names first: stable enough for naming */
	if (x->size != y->size)
		return x->size > y->size ? -1 : 1;
	return strcmp(x->name, y->name);
}

static int base_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t n = alen < blen ? alen : blen;
	int c = memcmp(a, b, n);
	if (c)
		return c;
	return (alen > blen) - (alen < blen);
}

static int name_cmp(const void *a, const void *b, void *syms)
{
	const struct pg_sym *x = &((const struct pg_sym *)syms)[*(const uint32_t *)a];
	const struct pg_sym *y = &((const struct pg_sym *)syms)[*(const uint32_t *)b];
	int c = base_cmp(x->name, x->baselen, y->name, y->baselen);
	return c ? c : strcmp(x->name, y->name);
}

pg_error *pg_symtab_load(Dwfl_Module *mod, struct pg_symtab *tab)
{
	memset(tab, 0, sizeof(*tab));
	int n = dwfl_module_getsymtab(mod);
	if (n < 0)
		return pg_error_create(PG_ERR_NOT_FOUND, "dwfl_module_getsymtab: %s", dwfl_errmsg(-1));
	tab->by_addr = pg_reallocarray(NULL, (size_t)n + 1, sizeof(*tab->by_addr));
	if (!tab->by_addr)
		return PG_ENOMEM;
	size_t k = 0;
	for (int i = 1; i < n; i++) {
		GElf_Sym sym;
		GElf_Addr addr;
		const char *name = dwfl_module_getsym_info(mod, i, &sym, &addr, NULL, NULL, NULL);
		if (!name || !*name || sym.st_shndx == SHN_UNDEF)
			continue;
		int type = GELF_ST_TYPE(sym.st_info);
		if (type != STT_FUNC && type != STT_OBJECT && type != STT_NOTYPE && type != STT_GNU_IFUNC)
			continue;
		const char *dot = strchr(name, '.');
		tab->by_addr[k++] = (struct pg_sym){
			.addr = addr, .size = sym.st_size, .name = name,
			.baselen = (uint32_t)(dot ? (size_t)(dot - name) : strlen(name)),
			.type = (uint8_t)type,
		};
	}
	tab->n = k;
	qsort(tab->by_addr, k, sizeof(*tab->by_addr), addr_cmp);
	tab->by_name = pg_reallocarray(NULL, k + 1, sizeof(*tab->by_name));
	if (!tab->by_name) {
		pg_symtab_free(tab);
		return PG_ENOMEM;
	}
	for (size_t i = 0; i < k; i++)
		tab->by_name[i] = (uint32_t)i;
	qsort_r(tab->by_name, k, sizeof(*tab->by_name), name_cmp, tab->by_addr);
	return NULL;
}

void pg_symtab_free(struct pg_symtab *tab)
{
	free(tab->by_addr);
	free(tab->by_name);
	memset(tab, 0, sizeof(*tab));
}

void pg_symtab_range(const struct pg_symtab *tab, const char *name, size_t *first, size_t *count)
{
	size_t len = strlen(name), lo = 0, hi = tab->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct pg_sym *s = &tab->by_addr[tab->by_name[mid]];
		if (base_cmp(s->name, s->baselen, name, len) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	size_t end = lo;
	while (end < tab->n) {
		const struct pg_sym *s = &tab->by_addr[tab->by_name[end]];
		if (base_cmp(s->name, s->baselen, name, len) != 0)
			break;
		end++;
	}
	*first = lo;
	*count = end - lo;
}

pg_error *pg_symtab_find(const struct pg_symtab *tab, const char *name, int type,
			 const struct pg_sym **ret)
{
	size_t first, count;
	pg_symtab_range(tab, name, &first, &count);
	const struct pg_sym *exact = NULL, *suffixed = NULL;
	size_t nsuffixed = 0;
	uint64_t suffixed_addr = 0;
	for (size_t i = first; i < first + count; i++) {
		const struct pg_sym *s = &tab->by_addr[tab->by_name[i]];
		if (type != STT_NOTYPE && s->type != type)
			continue;
		if (s->name[s->baselen] == 0) {
			exact = s;
		} else if (!suffixed || s->addr != suffixed_addr) {
			/* aliases at one address count once */
			suffixed = s;
			suffixed_addr = s->addr;
			nsuffixed++;
		}
	}
	if (exact) {
		*ret = exact;
		return NULL;
	}
	if (nsuffixed == 1) {
		*ret = suffixed;
		return NULL;
	}
	if (nsuffixed > 1)
		return pg_error_create(PG_ERR_NOT_FOUND, "symbol %s is ambiguous: %zu suffixed copies (e.g. %s)",
				       name, nsuffixed, suffixed->name);
	return pg_error_create(PG_ERR_NOT_FOUND, "no symbol %s", name);
}

const struct pg_sym *pg_symtab_at(const struct pg_symtab *tab, uint64_t addr)
{
	size_t lo = 0, hi = tab->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (tab->by_addr[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* the closest symbol at or below addr that contains it */
	for (size_t i = lo; i > 0; i--) {
		const struct pg_sym *s = &tab->by_addr[i - 1];
		if (s->addr == addr)
			return s;
		if (addr < s->addr + s->size)
			return s;
		if (lo - i > 8)
			break;
	}
	return NULL;
}
