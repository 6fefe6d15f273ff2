#include "dwarf.h"

#include <dwarf.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../base/alloc.h"

struct pg_dwarf {
	Dwfl_Module *mod;
	const char *file;
	/* the fast handle: the type sections inflated into a small ELF image
	 * in memory; NULL when not applicable (libdwfl reads as usual) */
	Dwarf *fast;
	Elf *elf;
	char *image;
};

static const char *const wanted[] = {
	".debug_info", ".debug_abbrev", ".debug_str", ".debug_line_str",
	".debug_str_offsets", ".debug_addr", ".debug_types",
};
#define NWANTED (sizeof(wanted) / sizeof(wanted[0]))

/* Builds the small image from the debug file at path; false if not useful. */
static bool fast_build(const char *path, struct pg_dwarf *f)
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
		f->fast = dwarf_begin_elf(f->elf, DWARF_C_READ, NULL);
	ok = f->fast != NULL;
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
		f->fast = NULL;
	}
	return ok;
}

pg_error *pg_dwarf_open(Dwfl_Module *mod, struct pg_dwarf **ret)
{
	struct pg_dwarf *d = calloc(1, sizeof(*d));
	if (!d)
		return PG_ENOMEM;
	d->mod = mod;
	/* the symbol table makes libdwfl find the separate debug file without
	 * inflating its DWARF; the fast handle then reads only its type part */
	const char *debugfile = NULL;
	dwfl_module_getsymtab(mod);
	dwfl_module_info(mod, NULL, NULL, NULL, NULL, NULL, NULL, &debugfile);
	if (debugfile && fast_build(debugfile, d)) {
		d->file = debugfile;
		*ret = d;
		return NULL;
	}
	Dwarf_Addr bias;
	if (!dwfl_module_getdwarf(mod, &bias)) {
		free(d);
		return pg_error_create(PG_ERR_NOT_FOUND, "no DWARF: %s", dwfl_errmsg(-1));
	}
	dwfl_module_info(mod, NULL, NULL, NULL, NULL, NULL, NULL, &debugfile);
	d->file = debugfile;
	*ret = d;
	return NULL;
}

pg_error *pg_dwarf_open_path(const char *path, struct pg_dwarf **ret)
{
	struct pg_dwarf *d = calloc(1, sizeof(*d));
	if (!d)
		return PG_ENOMEM;
	if (!fast_build(path, d)) {
		free(d);
		return pg_error_create(PG_ERR_NOT_FOUND, "%s: no compressed type sections", path);
	}
	d->file = path;
	*ret = d;
	return NULL;
}

void pg_dwarf_close(struct pg_dwarf *d)
{
	if (!d)
		return;
	if (d->fast)
		dwarf_end(d->fast);
	if (d->elf)
		elf_end(d->elf);
	free(d->image);
	free(d);
}

const char *pg_dwarf_file(const struct pg_dwarf *d)
{
	return d->file;
}

/* Iterating the compile units: through the fast handle, or libdwfl. */
struct cu_iter {
	Dwarf_Off off;
	Dwarf_Die *dwfl_cu;
};

static bool next_cu(struct pg_dwarf *d, struct cu_iter *it, Dwarf_Die *cu)
{
	if (d->fast) {
		Dwarf_Off next;
		size_t hsize;
		if (dwarf_nextcu(d->fast, it->off, &next, &hsize, NULL, NULL, NULL) != 0)
			return false;
		if (!dwarf_offdie(d->fast, it->off + hsize, cu))
			return false;
		it->off = next;
		return true;
	}
	Dwarf_Addr bias;
	it->dwfl_cu = dwfl_module_nextcu(d->mod, it->dwfl_cu, &bias);
	if (!it->dwfl_cu)
		return false;
	*cu = *it->dwfl_cu;
	return true;
}

static bool is_complete(Dwarf_Die *d)
{
	int tag = dwarf_tag(d);
	return (tag == DW_TAG_structure_type || tag == DW_TAG_union_type) &&
	       !dwarf_hasattr(d, DW_AT_declaration) && dwarf_hasattr(d, DW_AT_byte_size);
}

static void add(struct pg_dwarf_struct *s, Dwarf_Die *die, const char *cu)
{
	if (s->n < PG_DWARF_CANDS) {
		s->die[s->n] = *die;
		s->cu[s->n] = cu;
		s->n++;
	}
}

pg_error *pg_dwarf_scan(struct pg_dwarf *d, struct pg_dwarf_struct *s, size_t ns,
			struct pg_dwarf_func *f, size_t nf, bool first_only, size_t *ncu_out)
{
	size_t left = 0, ncu = 0;
	for (size_t i = 0; i < ns; i++)
		left += s[i].n == 0;
	struct cu_iter it = { 0 };
	Dwarf_Die cudie;
	while ((!first_only || left) && next_cu(d, &it, &cudie)) {
		if (++ncu > 1000000)
			break;
		const char *cuname = dwarf_diename(&cudie);
		Dwarf_Die die;
		if (dwarf_child(&cudie, &die) != 0)
			continue;
		do {
			int tag = dwarf_tag(&die);
			if (tag == DW_TAG_subprogram) {
				/* the source file of a function is the compile unit
				 * that defines it: no line table needed */
				const char *fn = first_only ? NULL : dwarf_diename(&die);
				if (fn && !dwarf_hasattr(&die, DW_AT_declaration))
					for (size_t i = 0; i < nf; i++)
						if (!f[i].cu && strcmp(f[i].name, fn) == 0)
							f[i].cu = cuname;
				continue;
			}
			if (tag != DW_TAG_typedef && tag != DW_TAG_structure_type && tag != DW_TAG_union_type)
				continue;
			const char *nm = dwarf_diename(&die);
			if (!nm)
				continue;
			bool named = false;
			for (size_t i = 0; i < ns; i++) {
				if (strcmp(nm, s[i].name) != 0)
					continue;
				named = true;
				if (first_only && s[i].n)
					continue;
				Dwarf_Die t = die;
				if (tag == DW_TAG_typedef && dwarf_peel_type(&die, &t) != 0)
					continue;
				if (is_complete(&t)) {
					left -= s[i].n == 0;
					add(&s[i], &t, cuname);
				} else if (tag == DW_TAG_typedef && !s[i].tag &&
					   (dwarf_tag(&t) == DW_TAG_structure_type || dwarf_tag(&t) == DW_TAG_union_type)) {
					s[i].tag = dwarf_diename(&t);
				}
			}
			if (named || tag == DW_TAG_typedef || !is_complete(&die))
				continue;
			/* a struct tag some typedef named while it was incomplete */
			for (size_t i = 0; i < ns; i++)
				if (s[i].tag && strcmp(s[i].tag, nm) == 0 && !(first_only && s[i].n)) {
					left -= s[i].n == 0;
					add(&s[i], &die, cuname);
				}
		} while (dwarf_siblingof(&die, &die) == 0);
	}
	if (ncu_out)
		*ncu_out = ncu;
	return NULL;
}

static bool same_file(const char *cuname, const char *file)
{
	if (!cuname)
		return false;
	const char *base = strrchr(cuname, '/');
	base = base ? base + 1 : cuname;
	return strcmp(base, file) == 0;
}

pg_error *pg_dwarf_vars(struct pg_dwarf *d, struct pg_dwarf_var *v, size_t nv)
{
	size_t left = nv, ncu = 0;
	struct cu_iter it = { 0 };
	Dwarf_Die cudie;
	while (left && next_cu(d, &it, &cudie)) {
		if (++ncu > 1000000)
			break;
		const char *cuname = dwarf_diename(&cudie);
		Dwarf_Die die;
		if (dwarf_child(&cudie, &die) != 0)
			continue;
		do {
			if (dwarf_tag(&die) != DW_TAG_variable)
				continue;
			Dwarf_Attribute loc;
			if (!dwarf_attr(&die, DW_AT_location, &loc))
				continue;
			const char *nm = dwarf_diename(&die);   /* follows DW_AT_abstract_origin */
			if (!nm)
				continue;
			for (size_t i = 0; i < nv; i++) {
				if (v[i].addr || strcmp(v[i].name, nm) != 0)
					continue;
				/* the defining file: the origin's compile unit, or this one */
				const char *file = cuname;
				Dwarf_Attribute ao;
				Dwarf_Die origin, ocu;
				if (dwarf_attr(&die, DW_AT_abstract_origin, &ao) && dwarf_formref_die(&ao, &origin) &&
				    dwarf_diecu(&origin, &ocu, NULL, NULL))
					file = dwarf_diename(&ocu);
				if (!same_file(file, v[i].file))
					continue;
				Dwarf_Op *ops;
				size_t nops;
				if (dwarf_getlocation(&loc, &ops, &nops) != 0 || nops != 1 || ops[0].atom != DW_OP_addr ||
				    !ops[0].number)
					continue;
				v[i].addr = ops[0].number;
				left--;
			}
		} while (dwarf_siblingof(&die, &die) == 0);
	}
	return NULL;
}

pg_error *pg_dwarf_scan_file(struct pg_dwarf *d, const char *file, struct pg_dwarf_struct *s, size_t ns)
{
	size_t left = 0, ncu = 0;
	for (size_t i = 0; i < ns; i++)
		left += s[i].n == 0;
	struct cu_iter it = { 0 };
	Dwarf_Die cudie;
	while (left && next_cu(d, &it, &cudie)) {
		if (++ncu > 1000000)
			break;
		const char *cuname = dwarf_diename(&cudie);
		if (!same_file(cuname, file))
			continue;
		Dwarf_Die die;
		if (dwarf_child(&cudie, &die) != 0)
			continue;
		do {
			int tag = dwarf_tag(&die);
			if (tag != DW_TAG_typedef && tag != DW_TAG_structure_type && tag != DW_TAG_union_type)
				continue;
			const char *nm = dwarf_diename(&die);
			for (size_t i = 0; nm && i < ns; i++) {
				if (s[i].n || strcmp(nm, s[i].name) != 0)
					continue;
				Dwarf_Die t = die;
				if (tag == DW_TAG_typedef && dwarf_peel_type(&die, &t) != 0)
					continue;
				if (is_complete(&t)) {
					add(&s[i], &t, cuname);
					left--;
				}
			}
		} while (dwarf_siblingof(&die, &die) == 0);
	}
	return NULL;
}

/* Finds member `name` in struct/union die; returns its offset and type. */
static bool find_member(Dwarf_Die *st, const char *name, Dwarf_Word *off, Dwarf_Die *type)
{
	Dwarf_Die child;
	if (dwarf_child(st, &child) != 0)
		return false;
	unsigned guard = 0;
	do {
		if (++guard > 100000)
			return false;
		if (dwarf_tag(&child) != DW_TAG_member)
			continue;
		const char *n = dwarf_diename(&child);
		if (!n || strcmp(n, name) != 0)
			continue;
		Dwarf_Attribute a;
		Dwarf_Word o = 0;
		if (dwarf_attr(&child, DW_AT_data_member_location, &a) && dwarf_formudata(&a, &o) != 0)
			return false;
		*off = o;
		Dwarf_Attribute ta;
		if (!dwarf_attr(&child, DW_AT_type, &ta) || !dwarf_formref_die(&ta, type))
			return false;
		return true;
	} while (dwarf_siblingof(&child, &child) == 0);
	return false;
}

pg_error *pg_dwarf_member(Dwarf_Die *st, const char *sname, const char *path, struct pg_field *f)
{
	char buf[128];
	if (strlen(path) >= sizeof(buf))
		return pg_error_create(PG_ERR_INTERNAL, "field path too long");
	strcpy(buf, path);
	Dwarf_Die cur = *st, type;
	Dwarf_Word total = 0;
	char *save = NULL;
	for (char *part = strtok_r(buf, ".", &save); part; part = strtok_r(NULL, ".", &save)) {
		Dwarf_Word off;
		if (!find_member(&cur, part, &off, &type))
			return pg_error_create(PG_ERR_NOT_FOUND, "the DWARF of %s has no member %s", sname, path);
		total += off;
		Dwarf_Die peeled;
		/* peels typedefs and qualifiers; bounded (DWARF comes from untrusted files) */
		if (dwarf_peel_type(&type, &peeled) != 0)
			return pg_error_create(PG_ERR_INPUT, "%s.%s: bad DWARF type", sname, path);
		cur = peeled;
	}
	Dwarf_Word size = 0;
	if (dwarf_aggregate_size(&cur, &size) != 0)
		size = 0;
	if (total > INT32_MAX || size > INT32_MAX)
		return pg_error_create(PG_ERR_INPUT, "%s.%s: absurd offset or size in DWARF", sname, path);
	f->off = (int32_t)total;
	f->size = (int32_t)size;
	return NULL;
}

int32_t pg_dwarf_pointee_size(Dwarf_Die *st, const char *member)
{
	Dwarf_Word off, size = 0;
	Dwarf_Die type, peeled, target;
	Dwarf_Attribute a;
	if (!find_member(st, member, &off, &type) || dwarf_peel_type(&type, &peeled) != 0 ||
	    dwarf_tag(&peeled) != DW_TAG_pointer_type || !dwarf_attr(&peeled, DW_AT_type, &a) ||
	    !dwarf_formref_die(&a, &target) || dwarf_aggregate_size(&target, &size) != 0 || size > 8)
		return 0;
	return (int32_t)size;
}

int32_t pg_dwarf_struct_size(Dwarf_Die *st)
{
	Dwarf_Word size = 0;
	if (dwarf_aggregate_size(st, &size) != 0 || size == 0 || size > (1 << 20))
		return 0;
	return (int32_t)size;
}
