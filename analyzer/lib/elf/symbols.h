/* A module's symbol table, indexed once: by address (to name a function
 * pointer) and by base name (the part before the first '.', so that LTO and
 * GCC clones such as `garbage.lto_priv.0` or `dict_traverse.isra.0` are found
 * under the C name). */
#ifndef PG_SYMBOLS_H
#define PG_SYMBOLS_H

#include <elfutils/libdwfl.h>

#include "../base/error.h"

struct pg_sym {
	uint64_t addr;   /* absolute, in the process */
	uint64_t size;
	const char *name;
	uint32_t baselen;
	uint8_t type;    /* STT_OBJECT, STT_FUNC, ... */
};

struct pg_symtab {
	struct pg_sym *by_addr;  /* sorted by addr */
	size_t n;
	uint32_t *by_name;       /* indices into by_addr, sorted by base name */
};

pg_error *pg_symtab_load(Dwfl_Module *mod, struct pg_symtab *tab);
void pg_symtab_free(struct pg_symtab *tab);

/* The symbol for C name `name` of the given type (STT_NOTYPE: any): the
 * exact name if present, else the unique `name.<suffix>`.  Fails with
 * PG_ERR_NOT_FOUND when absent or ambiguous (the message says which). */
pg_error *pg_symtab_find(const struct pg_symtab *tab, const char *name, int type,
			 const struct pg_sym **ret);
/* All symbols whose base name is `name`: sets *first and *count in by_name. */
void pg_symtab_range(const struct pg_symtab *tab, const char *name, size_t *first, size_t *count);

/* The function or object symbol containing addr (or starting at it), or NULL. */
const struct pg_sym *pg_symtab_at(const struct pg_symtab *tab, uint64_t addr);

#endif
