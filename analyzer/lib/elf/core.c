#include "core.h"

#include "../base/alloc.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <elfutils/libdwelf.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- libdwfl ---------------------------------------------------------- */

static pg_error *dwfl_err(const char *call)
{
	return pg_error_create(PG_ERR_INPUT, "%s: %s", call, dwfl_errmsg(-1));
}

/* find_elf for --sysroot: every file the core names is looked up under the
 * sysroot, and taken only if its build-id is the one the core recorded.
 * The session reaches the callback through the module's userdata, which
 * open sets on every module after reporting (libdwfl asks for a module's
 * ELF file lazily, at dwfl_module_getelf). */
static int sysroot_find_elf(Dwfl_Module *mod, void **userdata, const char *modname,
			    Dwarf_Addr base, char **file_name, Elf **elfp)
{
	const struct pg_core *c = userdata ? *userdata : NULL;
	const unsigned char *want = NULL;
	GElf_Addr vaddr;
	int wantlen = dwfl_module_build_id(mod, &want, &vaddr);
	if (c && c->sysroot && modname && modname[0] == '/') {
		char *path = pg_asprintf("%s%s", c->sysroot, modname);
		int fd = path ? open(path, O_RDONLY | O_CLOEXEC) : -1;
		if (fd >= 0) {
			Elf *e = elf_begin(fd, ELF_C_READ_MMAP, NULL);
			const void *have = NULL;
			ssize_t havelen = e ? dwelf_elf_gnu_build_id(e, &have) : -1;
			if (e && (wantlen <= 0 ||
				  (havelen == wantlen && memcmp(have, want, (size_t)wantlen) == 0))) {
				pg_logf(c->log, "module %s: using %s (build-id matches)", modname, path);
				*file_name = path;
				*elfp = e;
				return fd;
			}
			pg_logf(c->log, "module %s: %s has another build-id, not used", modname, path);
			if (e)
				elf_end(e);
			close(fd);
		} else if (path) {
			pg_logf(c->log, "module %s: no %s", modname, path);
		}
		free(path);
	}
	/* by build-id in the debug path (under the sysroot's when --sysroot) */
	return dwfl_build_id_find_elf(mod, userdata, modname, base, file_name, elfp);
}

static int set_userdata(Dwfl_Module *mod, void **userdata, const char *name, Dwarf_Addr start, void *arg)
{
	(void)mod;
	(void)name;
	(void)start;
	*userdata = arg;
	return DWARF_CB_OK;
}

/* ---- notes ------------------------------------------------------------ */

#include <sys/procfs.h>

/* NT_FILE: count, page size, count x (start, end, file page), then the
 * count names.  Bounded by the note's size. */
static void read_nt_file(struct pg_core *c, const uint8_t *desc, size_t size)
{
	uint64_t count, page;
	if (size < 16)
		return;
	memcpy(&count, desc, 8);
	memcpy(&page, desc + 8, 8);
	if (count == 0 || count > (size - 16) / 24 || page == 0 || page > (1u << 30))
		return;
	const char *names = (const char *)desc + 16 + 24 * count;
	size_t nlen = size - 16 - 24 * count;
	c->maps = calloc(count, sizeof(*c->maps));
	c->map_names = malloc(nlen + 1);
	if (!c->maps || !c->map_names) {
		free(c->maps);
		free(c->map_names);
		c->maps = NULL;
		c->map_names = NULL;
		return;
	}
	memcpy(c->map_names, names, nlen);
	c->map_names[nlen] = 0;
	size_t off = 0;
	for (uint64_t i = 0; i < count && off < nlen; i++) {
		uint64_t e[3];
		memcpy(e, desc + 16 + 24 * i, 24);
		if (e[1] < e[0] || e[2] > UINT64_MAX / page)
			continue;
		c->maps[c->nmaps++] = (struct pg_mapping){ e[0], e[1], e[2] * page, c->map_names + off };
		off += strlen(c->map_names + off) + 1;
	}
}

static void read_notes(struct pg_core *c, struct pg_warnings *w)
{
	size_t phnum;
	if (elf_getphdrnum(c->elf, &phnum) != 0)
		return;
	bool have_siginfo = false;
	for (size_t i = 0; i < phnum; i++) {
		GElf_Phdr ph;
		if (!gelf_getphdr(c->elf, (int)i, &ph) || ph.p_type != PT_NOTE)
			continue;
		if (ph.p_offset > c->size || ph.p_filesz > c->size - ph.p_offset) {
			pg_warn_partial(w, "the core's notes are cut off (core truncated): process facts may be missing");
			if (ph.p_offset >= c->size)
				continue;
			ph.p_filesz = c->size - ph.p_offset;
		}
		Elf_Data *d = elf_getdata_rawchunk(c->elf, (int64_t)ph.p_offset, ph.p_filesz, ELF_T_NHDR);
		if (!d)
			continue;
		size_t off = 0, noff, doff;
		GElf_Nhdr nh;
		while (off < d->d_size && (off = gelf_getnote(d, off, &nh, &noff, &doff)) > 0) {
			const uint8_t *desc = (const uint8_t *)d->d_buf + doff;
			const char *name = (const char *)d->d_buf + noff;
			if (nh.n_namesz < 5 || memcmp(name, "CORE", 4) != 0)
				continue;
			switch (nh.n_type) {
			case NT_PRSTATUS:
				if (nh.n_descsz >= sizeof(struct elf_prstatus)) {
					struct elf_prstatus st;
					memcpy(&st, desc, sizeof(st));
					if (c->threads == 0) {
						if (!have_siginfo)
							c->signal = st.pr_cursig;
						if (!c->pid)
							c->pid = st.pr_pid;
					}
					c->threads++;
					/* each thread's stack pointer (pr_reg is user_regs_struct) */
					if (!(c->nthread_sp & (c->nthread_sp + 1))) {
						size_t cap = 2 * c->nthread_sp + 1;
						uint64_t *sp = pg_reallocarray(c->thread_sp, cap, sizeof(*sp));
						int *tid = sp ? pg_reallocarray(c->thread_tid, cap, sizeof(*tid)) : NULL;
						if (sp)
							c->thread_sp = sp;
						if (tid)
							c->thread_tid = tid;
						if (!sp || !tid)
							break;
					}
					c->thread_sp[c->nthread_sp] = st.pr_reg[19];  /* rsp */
					c->thread_tid[c->nthread_sp++] = st.pr_pid;
				}
				break;
			case NT_PRPSINFO:
				if (nh.n_descsz >= sizeof(struct elf_prpsinfo)) {
					struct elf_prpsinfo ps;
					memcpy(&ps, desc, sizeof(ps));
					c->pid = ps.pr_pid;
					memcpy(c->fname, ps.pr_fname, sizeof(ps.pr_fname));
					c->fname[sizeof(c->fname) - 1] = 0;
					memcpy(c->psargs, ps.pr_psargs, sizeof(ps.pr_psargs));
					c->psargs[sizeof(c->psargs) - 1] = 0;
					/* one printable line: the command may hold anything */
					for (char *q = c->psargs; *q; q++)
						if ((unsigned char)*q < 0x20 || (unsigned char)*q >= 0x7f)
							*q = ' ';
					for (char *q = c->fname; *q; q++)
						if ((unsigned char)*q < 0x20 || (unsigned char)*q >= 0x7f)
							*q = '?';
				}
				break;
			case NT_SIGINFO:
				if (nh.n_descsz >= 4) {
					int32_t signo;
					memcpy(&signo, desc, 4);
					c->signal = signo;
					have_siginfo = true;
				}
				break;
			case NT_FILE:
				if (!c->maps)
					read_nt_file(c, desc, nh.n_descsz);
				break;
			case NT_AUXV:
				for (size_t k = 0; k + 16 <= nh.n_descsz; k += 16) {
					uint64_t type, val;
					memcpy(&type, desc + k, 8);
					memcpy(&val, desc + k + 8, 8);
					if (type == AT_ENTRY)
						c->at_entry = val;
				}
				break;
			}
		}
	}
}

static enum pg_made_by made_by(Elf *elf)
{
	/* gdb's gcore writes section headers named note0/load/.reg...; the
	 * kernel writes none (or only the extended-numbering entry 0). */
	size_t shnum = 0, shstrndx = 0;
	if (elf_getshdrnum(elf, &shnum) != 0 || shnum <= 1)
		return PG_MADE_KERNEL;
	if (elf_getshdrstrndx(elf, &shstrndx) != 0)
		return PG_MADE_UNKNOWN;
	Elf_Scn *scn = NULL;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh))
			continue;
		const char *n = elf_strptr(elf, shstrndx, sh.sh_name);
		if (n && (strcmp(n, "note0") == 0 || strcmp(n, "load") == 0))
			return PG_MADE_GCORE;
	}
	return PG_MADE_UNKNOWN;
}

/* ---- segments --------------------------------------------------------- */

struct file_ivals {
	struct pg_mem_piece *v;
	size_t n, cap;
	struct pg_warnings *w;
	const struct pg_log *log;
};

static int add_module_file(Dwfl_Module *mod, void **ud, const char *name, Dwarf_Addr start, void *arg)
{
	(void)ud;
	(void)start;
	struct file_ivals *fi = arg;
	GElf_Addr bias = 0;
	Elf *e = dwfl_module_getelf(mod, &bias);
	if (!e) {
		pg_logf(fi->log, "module %s: no ELF file found (%s): its read-only data is unavailable",
			name, dwfl_errmsg(-1));
		return DWARF_CB_OK;
	}
	size_t rawsize = 0;
	const uint8_t *raw = (const uint8_t *)elf_rawfile(e, &rawsize);
	size_t phnum;
	if (!raw || elf_getphdrnum(e, &phnum) != 0)
		return DWARF_CB_OK;
	for (size_t i = 0; i < phnum; i++) {
		GElf_Phdr ph;
		if (!gelf_getphdr(e, (int)i, &ph) || ph.p_type != PT_LOAD || !ph.p_filesz)
			continue;
		if (ph.p_offset > rawsize || ph.p_filesz > rawsize - ph.p_offset) {
			pg_warn(fi->w, "module %s: its file is shorter than its program headers say", name);
			continue;
		}
		if (pg_grow((void **)&fi->v, &fi->cap, fi->n + 1, sizeof(*fi->v)))
			return DWARF_CB_ABORT;
		fi->v[fi->n++] = (struct pg_mem_piece){
			.start = ph.p_vaddr + bias, .end = ph.p_vaddr + bias + ph.p_filesz,
			.data = raw + ph.p_offset, .source = PG_SRC_FILE, .prio = 2,
		};
	}
	return DWARF_CB_OK;
}

static pg_error *build_memory(struct pg_core *c, struct pg_warnings *w)
{
	size_t phnum;
	if (elf_getphdrnum(c->elf, &phnum) != 0)
		return pg_error_create(PG_ERR_INPUT, "%s: cannot read program headers: %s", c->path, elf_errmsg(-1));
	struct pg_mem_piece *cv = pg_reallocarray(NULL, 2 * phnum + 1, sizeof(*cv));
	if (!cv)
		return PG_ENOMEM;
	size_t nc = 0;
	for (size_t i = 0; i < phnum; i++) {
		GElf_Phdr ph;
		if (!gelf_getphdr(c->elf, (int)i, &ph) || ph.p_type != PT_LOAD)
			continue;
		uint64_t va = ph.p_vaddr, filesz = ph.p_filesz, memsz = ph.p_memsz;
		if (va + memsz < va || filesz > memsz)
			continue;
		uint64_t have = 0;
		if (ph.p_offset < c->size)
			have = c->size - ph.p_offset < filesz ? c->size - ph.p_offset : filesz;
		if (have)
			cv[nc++] = (struct pg_mem_piece){ va, va + have, c->map + ph.p_offset, PG_SRC_CORE, 3 };
		if (have < filesz) {
			c->truncated = true;
			c->missing_bytes += filesz - have;
			cv[nc++] = (struct pg_mem_piece){ va + have, va + filesz, NULL, PG_SRC_TRUNC, 3 };
		}
		if (memsz > filesz)
			cv[nc++] = (struct pg_mem_piece){ va + filesz, va + memsz, NULL, PG_SRC_HOLE, 1 };
	}
	struct file_ivals fi = { .w = w, .log = c->log };
	if (dwfl_getmodules(c->dwfl, add_module_file, &fi, 0) != 0) {
		free(cv);
		free(fi.v);
		return PG_ENOMEM;
	}
	pg_error *err = pg_mem_build(&c->mem, cv, nc, fi.v, fi.n);
	free(cv);
	free(fi.v);
	if (err)
		return err;
	if (c->truncated)
		pg_warn_partial(w, "the core is truncated: %" PRIu64 " bytes of process memory it should hold are missing",
				c->missing_bytes);
	return NULL;
}

/* ---- build-ids -------------------------------------------------------- */

bool pg_core_recorded_build_id(struct pg_core *c, const char *name, char *out, size_t cap)
{
	struct pg_reader rd, *m = &rd;
	pg_reader_init(&rd, &c->mem);
	for (size_t i = 0; i < c->nmaps; i++) {
		const struct pg_mapping *mp = &c->maps[i];
		if (mp->offset != 0 || strcmp(mp->name, name) != 0)
			continue;
		Elf64_Ehdr eh;
		if (!pg_try_read_core(m, mp->start, &eh, sizeof(eh)) || memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
		    eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum > 256)
			continue;
		Elf64_Phdr ph[256];
		if (!pg_try_read_core(m, mp->start + eh.e_phoff, ph, eh.e_phnum * sizeof(Elf64_Phdr)))
			continue;
		uint64_t bias = 0;
		bool have_bias = false;
		for (int k = 0; k < eh.e_phnum && !have_bias; k++)
			if (ph[k].p_type == PT_LOAD && ph[k].p_offset == 0) {
				bias = mp->start - ph[k].p_vaddr;
				have_bias = true;
			}
		for (int k = 0; k < eh.e_phnum && have_bias; k++) {
			if (ph[k].p_type != PT_NOTE || ph[k].p_filesz > 65536)
				continue;
			uint8_t notes[65536];
			if (!pg_try_read_core(m, ph[k].p_vaddr + bias, notes, ph[k].p_filesz))
				continue;
			for (size_t o = 0; o + 12 <= ph[k].p_filesz;) {
				uint32_t nsz, dsz, type;
				memcpy(&nsz, notes + o, 4);
				memcpy(&dsz, notes + o + 4, 4);
				memcpy(&type, notes + o + 8, 4);
				size_t name_end = o + 12 + ((nsz + 3u) & ~3u), desc_end = name_end + ((dsz + 3u) & ~3u);
				if (nsz > 64 || dsz > 1024 || desc_end > ph[k].p_filesz)
					break;
				if (type == NT_GNU_BUILD_ID && nsz == 4 && memcmp(notes + o + 12, "GNU", 4) == 0 &&
				    dsz && 2 * (size_t)dsz < cap) {
					for (uint32_t b = 0; b < dsz; b++)
						snprintf(out + 2 * b, 3, "%02x", notes[name_end + b]);
					return true;
				}
				o = desc_end;
			}
		}
	}
	return false;
}

/* --exe must be the file the process ran: the build-id the core recorded
 * for the executable's mapping (the module holding AT_ENTRY) is the judge.
 * libdwfl may give the file to that module regardless, and then takes the
 * module's build-id from the file, or quietly leave it unused. */
static pg_error *check_exe(struct pg_core *c)
{
	int fd = open(c->exe, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return pg_error_create(PG_ERR_INPUT, "--exe %s: %s", c->exe, strerror(errno));
	Elf *e = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	const void *have = NULL;
	ssize_t havelen = e ? dwelf_elf_gnu_build_id(e, &have) : -1;
	char got[81] = "";
	for (ssize_t i = 0; i < havelen && i < 40; i++)
		snprintf(got + 2 * i, 3, "%02x", ((const uint8_t *)have)[i]);
	if (e)
		elf_end(e);
	close(fd);
	Dwfl_Module *mod = c->at_entry ? dwfl_addrmodule(c->dwfl, c->at_entry) : NULL;
	const char *name = mod ? dwfl_module_info(mod, NULL, NULL, NULL, NULL, NULL, NULL, NULL) : NULL;
	char want[81];
	if (!name || !pg_core_recorded_build_id(c, name, want, sizeof(want))) {
		pg_logf(c->log, "--exe %s: the core holds no build-id for its executable: not checked", c->exe);
		return NULL;
	}
	if (strcmp(want, got) != 0)
		return pg_error_create(PG_ERR_INPUT,
				       "--exe %s is not the executable of this process: its build-id is %s, the core recorded %s for %s",
				       c->exe, got[0] ? got : "none", want, name);
	pg_logf(c->log, "--exe %s: build-id %s, as the core recorded for %s", c->exe, got, name);
	return NULL;
}

/* ---- open / close ----------------------------------------------------- */

/* An error about what came out of a compressed core says so. */
static pg_error *decoded_error(const struct pg_core *c, pg_error *err)
{
	pg_error *e = c->decoded_cut
		? pg_error_create(err->kind, "%s (the %s-compressed core stops after %" PRIu64 " compressed bytes: %s)",
				  err->message, c->compression, c->compressed_bytes, c->decoded_why)
		: pg_error_create(err->kind, "%s (after %s decompression)", err->message, c->compression);
	if (e->is_static)
		return err;
	pg_error_destroy(err);
	return e;
}

pg_error *pg_core_open(const struct pg_core_options *o, const struct pg_log *log, struct pg_warnings *w,
		       struct pg_core **ret)
{
	pg_error *err = NULL;
	struct pg_core *c = calloc(1, sizeof(*c));
	if (!c)
		return PG_ENOMEM;
	c->fd = -1;
	c->log = log;
	c->path = pg_strdup(strcmp(o->path, "-") == 0 ? "<stdin>" : o->path);
	if (!c->path) {
		err = PG_ENOMEM;
		goto fail;
	}
	/* "-": standard input (a pipe from coredumpctl dump, say); our own
	 * descriptor of it, so that closing the core leaves fd 0 alone */
	bool from_stdin = strcmp(o->path, "-") == 0;
	if (from_stdin && isatty(0)) {
		err = pg_error_create(PG_ERR_INPUT, "CORE '-' reads the core from standard input, which is a terminal: "
				      "pipe a core into it (coredumpctl dump PID | pycore-garbage -)");
		goto fail;
	}
	int fd = from_stdin ? fcntl(0, F_DUPFD_CLOEXEC, 3) : open(o->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = pg_error_create(PG_ERR_INPUT, "%s: cannot open: %s", from_stdin ? "standard input" : o->path,
				      strerror(errno));
		goto fail;
	}
	/* a compressed core, or one from a pipe: decoded (copied) into a
	 * temporary file, which is then read as a core on disk */
	struct pg_input input;
	if ((err = pg_input_open(fd, c->path, log, w, &input)))
		goto fail;
	c->fd = input.fd;
	c->compression = input.compression;
	c->decoded = input.temporary;
	c->decoded_cut = input.cut;
	c->compressed_bytes = input.in_bytes;
	memcpy(c->decoded_why, input.why, sizeof(c->decoded_why));
	struct stat st;
	if (fstat(c->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		err = pg_error_create(PG_ERR_INPUT, "%s: not a regular file", c->path);
		goto fail;
	}
	c->size = (size_t)st.st_size;
	if (c->size < sizeof(Elf64_Ehdr)) {
		err = pg_error_create(PG_ERR_INPUT, "%s: not an ELF core file (only %zu bytes)", c->path, c->size);
		goto fail;
	}
	void *map = mmap(NULL, c->size, PROT_READ, MAP_PRIVATE, c->fd, 0);
	if (map == MAP_FAILED) {
		err = pg_error_create(PG_ERR_INPUT, "%s: cannot map: %s", c->path, strerror(errno));
		goto fail;
	}
	c->map = map;
	if (memcmp(c->map, ELFMAG, SELFMAG) != 0) {
		err = pg_error_create(PG_ERR_INPUT, "%s: not an ELF file, so not a core dump", c->path);
		goto fail;
	}
	elf_version(EV_CURRENT);
	c->elf = elf_begin(c->fd, ELF_C_READ_MMAP, NULL);
	if (!c->elf) {
		err = pg_error_create(PG_ERR_INPUT, "%s: elf_begin: %s", c->path, elf_errmsg(-1));
		goto fail;
	}
	GElf_Ehdr eh;
	if (!gelf_getehdr(c->elf, &eh)) {
		err = pg_error_create(PG_ERR_INPUT, "%s: bad ELF header: %s", c->path, elf_errmsg(-1));
		goto fail;
	}
	if (eh.e_type != ET_CORE) {
		err = pg_error_create(PG_ERR_INPUT, "%s: an ELF %s, not a core dump",
				      c->path, eh.e_type == ET_EXEC ? "executable" :
				      eh.e_type == ET_DYN ? "shared object or PIE executable" :
				      eh.e_type == ET_REL ? "object file" : "file");
		goto fail;
	}
	if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_machine != EM_X86_64 ||
	    eh.e_ident[EI_DATA] != ELFDATA2LSB) {
		err = pg_error_create(PG_ERR_INPUT, "%s: a core of another architecture (only x86-64 is supported)", c->path);
		goto fail;
	}
	size_t phnum;
	/* libelf quietly clamps the count to what fits in the file */
	if (elf_getphdrnum(c->elf, &phnum) != 0 || phnum == 0 ||
	    (eh.e_phnum != PN_XNUM && phnum != eh.e_phnum) ||
	    eh.e_phoff > c->size || phnum * (size_t)eh.e_phentsize > c->size - eh.e_phoff) {
		err = pg_error_create(PG_ERR_INPUT, "%s: the core is truncated before the end of its program headers", c->path);
		goto fail;
	}
	c->made_by = made_by(c->elf);
	for (size_t i = 0; i < phnum; i++) {
		GElf_Phdr ph;
		if (gelf_getphdr(c->elf, (int)i, &ph) && (ph.p_type == PT_LOAD || ph.p_type == PT_NOTE) &&
		    ph.p_offset + ph.p_filesz >= ph.p_offset && ph.p_offset + ph.p_filesz > c->expected_size)
			c->expected_size = ph.p_offset + ph.p_filesz;
	}
	if (c->expected_size > c->size)
		c->truncated = true;
	read_notes(c, w);

	if (o->sysroot) {
		/* libdwfl reads relative debug path entries as relative to each
		 * module's directory: make the sysroot absolute */
		c->sysroot = realpath(o->sysroot, NULL);
		if (!c->sysroot) {
			err = pg_error_create(PG_ERR_INPUT, "--sysroot %s: %s", o->sysroot, strerror(errno));
			goto fail;
		}
	}
	if (o->debuginfo_path)
		c->debuginfo_path = pg_asprintf("%s", o->debuginfo_path);
	else if (c->sysroot)
		c->debuginfo_path = pg_asprintf(":.debug:%s/usr/lib/debug", c->sysroot);
	else
		c->debuginfo_path = pg_asprintf(":.debug:/usr/lib/debug");
	if (!c->debuginfo_path) {
		err = PG_ENOMEM;
		goto fail;
	}
	c->callbacks.find_elf = sysroot_find_elf;
	c->callbacks.find_debuginfo = dwfl_standard_find_debuginfo;
	c->callbacks.debuginfo_path = &c->debuginfo_path;
	c->dwfl = dwfl_begin(&c->callbacks);
	if (!c->dwfl) {
		err = dwfl_err("dwfl_begin");
		goto fail;
	}
	if (o->exe) {
		c->exe = pg_strdup(o->exe);
		if (access(o->exe, R_OK) != 0) {
			err = pg_error_create(PG_ERR_INPUT, "--exe %s: %s", o->exe, strerror(errno));
			goto fail;
		}
	}
	dwfl_report_begin(c->dwfl);
	int nmod = dwfl_core_file_report(c->dwfl, c->elf, c->exe);
	if (nmod < 0) {
		err = dwfl_err("dwfl_core_file_report");
		if (c->truncated)
			err = pg_error_prefix(err, "%s: the core is truncated (%zu of %" PRIu64 " bytes)",
					      c->path, c->size, c->expected_size);
		goto fail;
	}
	if (dwfl_report_end(c->dwfl, NULL, NULL) != 0) {
		err = dwfl_err("dwfl_report_end");
		goto fail;
	}
	dwfl_getmodules(c->dwfl, set_userdata, c, 0);
	pg_logf(c->log, "%s: %d modules reported, made by %s, %d threads", c->path, nmod,
	       c->made_by == PG_MADE_GCORE ? "gcore" : c->made_by == PG_MADE_KERNEL ? "the kernel" : "?",
	       c->threads);
	err = build_memory(c, w);
	if (err)
		goto fail;
	if (c->exe && (err = check_exe(c)))
		goto fail;
	*ret = c;
	return NULL;
fail:
	if (err && !err->is_static && c->compression)
		err = decoded_error(c, err);
	pg_core_close(c);
	return err;
}

void pg_core_close(struct pg_core *c)
{
	if (!c)
		return;
	if (c->dwfl)
		dwfl_end(c->dwfl);
	if (c->elf)
		elf_end(c->elf);
	if (c->map)
		munmap((void *)c->map, c->size);
	if (c->fd >= 0)
		close(c->fd);
	pg_mem_free(&c->mem);
	free(c->maps);
	free(c->map_names);
	free(c->thread_sp);
	free(c->thread_tid);
	free(c->debuginfo_path);
	free(c->sysroot);
	free(c->exe);
	free(c->path);
	free(c);
}
