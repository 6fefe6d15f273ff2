#include "cli.h"

#include <malloc.h>

int main(int argc, char **argv)
{
	/* Big arrays get their own mappings (so that growing one is an
	 * mremap, not a copy, and pg_reallocarray's huge-page hint covers
	 * them); glibc's default threshold drifts up to 32 MiB as blocks are
	 * freed, which would put them back on the brk heap. */
	mallopt(M_MMAP_THRESHOLD, 1 << 20);
	return pg_main(argc, argv);
}
