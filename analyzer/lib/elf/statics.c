#include "statics.h"

#include <gelf.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

struct holder {
	struct pg_core *core;
	uint64_t target;
	size_t budget;
	char *buf;
	size_t cap;
	bool found;
};

static bool search(struct holder *h, Dwfl_Module *mod, uint64_t start, uint64_t len)
{
	struct pg_reader rd;
	pg_reader_init(&rd, &h->core->mem);
	start = (start + 7) & ~(uint64_t)7;
	for (uint64_t a = start; a + 8 <= start + len && h->budget >= 8;) {
		/* a page at a time where the core holds it */
		uint64_t chunk = 4096 - (a & 4095);
		if (a + chunk > start + len)
			chunk = start + len - a;
		chunk &= ~(uint64_t)7;
		if (!chunk)
			break;
		const uint8_t *p = pg_ptr(&rd, a, (size_t)chunk);
		h->budget = h->budget > chunk ? h->budget - chunk : 0;
		for (uint64_t off = 0; p && off < chunk; off += 8) {
			uint64_t v;
			memcpy(&v, p + off, 8);
			if (v != h->target)
				continue;
			GElf_Off soff = 0;
			GElf_Sym sym;
			const char *name = dwfl_module_addrinfo(mod, a + off, &soff, &sym, NULL, NULL, NULL);
			/* a free list's slots keep the addresses of objects freed
			 * long ago: a live object there was only built where a dead
			 * one lay, it is not held */
			if (name && (strstr(name, "free_list") || strstr(name, "freelist")))
				continue;
			/* a word no symbol names (a module without .symtab: only
			 * its exported symbols are known) may be a free list's
			 * slot as well: not claimed */
			if (!name)
				continue;
			const char *file = NULL;
			dwfl_module_info(mod, NULL, NULL, NULL, NULL, NULL, &file, NULL);
			const char *mname = dwfl_module_info(mod, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
			const char *base = mname ? strrchr(mname, '/') : NULL;
			base = base ? base + 1 : mname ? mname : "?";
			/* the C name: LTO and clone suffixes (extensions.lto_priv.0) cut */
			int clen = name ? (int)strcspn(name, ".") : 0;
			if (name && soff)
				snprintf(h->buf, h->cap, "%.*s+%" PRIu64 " in %s", clen, name, (uint64_t)soff, base);
			else if (name)
				snprintf(h->buf, h->cap, "%.*s in %s", clen, name, base);
			else
				snprintf(h->buf, h->cap, "0x%" PRIx64 " in %s", a + off, base);
			(void)file;
			h->found = true;
			return true;
		}
		a += chunk;
	}
	return false;
}

static int each_module(Dwfl_Module *mod, void **ud, const char *name, Dwarf_Addr start, void *arg)
{
	(void)ud;
	(void)name;
	(void)start;
	struct holder *h = arg;
	GElf_Addr bias;
	Elf *elf = dwfl_module_getelf(mod, &bias);
	size_t n;
	if (!elf || elf_getphdrnum(elf, &n) != 0)
		return DWARF_CB_OK;
	for (size_t i = 0; i < n && i < 256; i++) {
		GElf_Phdr ph;
		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD || !(ph.p_flags & PF_W))
			continue;
		if (ph.p_memsz > ((uint64_t)1 << 32))
			continue;
		if (search(h, mod, bias + ph.p_vaddr, ph.p_memsz))
			return DWARF_CB_ABORT;
	}
	return h->budget ? DWARF_CB_OK : DWARF_CB_ABORT;
}

bool pg_static_holder(struct pg_core *core, uint64_t target, size_t budget, char *buf, size_t cap)
{
	struct holder h = { core, target, budget, buf, cap, false };
	if (!target || (target & 7))
		return false;
	dwfl_getmodules(core->dwfl, each_module, &h, 0);
	return h.found;
}
