/* The interpreter's DWARF without libdw's eager decompression of every
 * debug section: Debian's debug files compress .debug_info, .debug_loc,
 * .debug_line, ... (about 10 MB when inflated); layouts need only the
 * type information.  We inflate .debug_info, .debug_abbrev and the string
 * sections into a small ELF image in memory and open that with libdw. */
#include "layout.h"

#include <fcntl.h>
#include <gelf.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"

/* One fast handle per module whose debug file has compressed sections. */
struct fast {
	Dwfl_Module *mod;
	Dwarf *dwarf;     /* NULL: not applicable, use libdwfl */
	Elf *elf;
	char *image;
};
static struct fast *g_fast;
static size_t g_nfast, g_capfast;

static const char *const wanted[] = {
	".debug_info", ".debug_abbrev", ".debug_str", ".debug_line_str",
	".debug_str_offsets", ".debug_addr", ".debug_types",
};
#define NWANTED (sizeof(wanted) / sizeof(wanted[0]))

void pg_dwarf_fast_close(void)
{
	for (size_t i = 0; i < g_nfast; i++) {
		if (g_fast[i].dwarf)
			dwarf_end(g_fast[i].dwarf);
		if (g_fast[i].elf)
			elf_end(g_fast[i].elf);
		free(g_fast[i].image);
	}
	free(g_fast);
	g_fast = NULL;
	g_nfast = g_capfast = 0;
}

/* Builds the small image from the debug file at path; false if not useful. */
static bool fast_build(const char *path, struct fast *f)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	Elf *src = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	GElf_Ehdr eh;
	size_t shstrndx;
	bool ok = false;
	if (!src || elf_kind(src) != ELF_K_ELF || !gelf_getehdr(src, &eh) ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 || elf_getshdrstrndx(src, &shstrndx) != 0)
		goto out;
	Elf_Data *data[NWANTED] = { 0 };
	bool any_compressed = false;
	Elf_Scn *scn = NULL;
	while ((scn = elf_nextscn(src, scn))) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh))
			goto out;
		const char *name = elf_strptr(src, shstrndx, sh.sh_name);
		if (!name || sh.sh_type == SHT_NOBITS)
			continue;
		for (size_t i = 0; i < NWANTED; i++) {
			if (strcmp(name, wanted[i]) != 0 || data[i])
				continue;
			if (sh.sh_flags & SHF_COMPRESSED) {
				any_compressed = true;
				if (elf_compress(scn, 0, 0) < 0)
					goto out;
			}
			data[i] = elf_getdata(scn, NULL);
			if (!data[i] || (data[i]->d_size && !data[i]->d_buf))
				goto out;
		}
	}
	if (!data[0] || !data[1] || !any_compressed)
		goto out; /* nothing to gain: libdw reads it as it is */
	/* image: ehdr | section data ... | shstrtab | section headers */
	size_t nsec = 1, size = sizeof(Elf64_Ehdr), strsz = 1;
	for (size_t i = 0; i < NWANTED; i++) {
		if (!data[i])
			continue;
		nsec++;
		size += data[i]->d_size;
		strsz += strlen(wanted[i]) + 1;
	}
	strsz += strlen(".shstrtab") + 1;
	size_t shoff = (size + strsz + 7) & ~(size_t)7;
	size_t total = shoff + (nsec + 1) * sizeof(Elf64_Shdr);
	f->image = calloc(1, total);
	if (!f->image)
		goto out;
	Elf64_Ehdr *out = (Elf64_Ehdr *)f->image;
	memcpy(out->e_ident, eh.e_ident, EI_NIDENT);
	out->e_type = ET_DYN;
	out->e_machine = eh.e_machine;
	out->e_version = EV_CURRENT;
	out->e_ehsize = sizeof(Elf64_Ehdr);
	out->e_shentsize = sizeof(Elf64_Shdr);
	out->e_shoff = shoff;
	out->e_shnum = (Elf64_Half)(nsec + 1);
	out->e_shstrndx = (Elf64_Half)nsec;
	Elf64_Shdr *sh = (Elf64_Shdr *)(f->image + shoff);
	char *strtab = f->image + size;
	size_t off = sizeof(Elf64_Ehdr), stroff = 1, k = 1;
	for (size_t i = 0; i < NWANTED; i++) {
		if (!data[i])
			continue;
		memcpy(f->image + off, data[i]->d_buf, data[i]->d_size);
		strcpy(strtab + stroff, wanted[i]);
		sh[k] = (Elf64_Shdr){ .sh_name = (Elf64_Word)stroff, .sh_type = SHT_PROGBITS,
				      .sh_offset = off, .sh_size = data[i]->d_size, .sh_addralign = 1 };
		off += data[i]->d_size;
		stroff += strlen(wanted[i]) + 1;
		k++;
	}
	strcpy(strtab + stroff, ".shstrtab");
	sh[k] = (Elf64_Shdr){ .sh_name = (Elf64_Word)stroff, .sh_type = SHT_STRTAB,
			      .sh_offset = (Elf64_Off)size, .sh_size = strsz, .sh_addralign = 1 };
	f->elf = elf_memory(f->image, total);
	if (f->elf)
		f->dwarf = dwarf_begin_elf(f->elf, DWARF_C_READ, NULL);
	ok = f->dwarf != NULL;
out:
	if (src)
		elf_end(src);
	close(fd);
	if (!ok) {
		if (f->elf)
			elf_end(f->elf);
		free(f->image);
		f->elf = NULL;
		f->image = NULL;
		f->dwarf = NULL;
	}
	return ok;
}

/* The fast handle of a module (made on first use), or NULL. */
static Dwarf *fast_for(Dwfl_Module *mod)
{
	for (size_t i = 0; i < g_nfast; i++)
		if (g_fast[i].mod == mod)
			return g_fast[i].dwarf;
	if (pg_grow((void **)&g_fast, &g_capfast, g_nfast + 1, sizeof(*g_fast)))
		return NULL;
	struct fast *f = &g_fast[g_nfast++];
	memset(f, 0, sizeof(*f));
	f->mod = mod;
	/* the symbol table makes libdwfl find the separate debug file without
	 * inflating its DWARF */
	const char *debugfile = NULL;
	dwfl_module_getsymtab(mod);
	dwfl_module_info(mod, NULL, NULL, NULL, NULL, NULL, NULL, &debugfile);
	if (debugfile)
		fast_build(debugfile, f);
	return f->dwarf;
}

bool pg_dwarf_fast_open(Dwfl_Module *mod, const char *path)
{
	(void)path;
	return fast_for(mod) != NULL;
}

bool pg_next_cu(Dwfl_Module *mod, struct pg_cu_iter *it, Dwarf_Die *cu)
{
	Dwarf *fd = fast_for(mod);
	if (fd) {
		Dwarf_Off next;
		size_t hsize;
		if (it->done || dwarf_nextcu(fd, it->off, &next, &hsize, NULL, NULL, NULL) != 0)
			return false;
		if (!dwarf_offdie(fd, it->off + hsize, cu))
			return false;
		it->off = next;
		return true;
	}
	Dwarf_Addr bias;
	it->dwfl_cu = dwfl_module_nextcu(mod, it->dwfl_cu, &bias);
	if (!it->dwfl_cu)
		return false;
	*cu = *it->dwfl_cu;
	return true;
}

bool pg_module_has_dwarf(Dwfl_Module *mod)
{
	if (fast_for(mod))
		return true;
	Dwarf_Addr bias;
	return dwfl_module_getdwarf(mod, &bias) != NULL;
}
