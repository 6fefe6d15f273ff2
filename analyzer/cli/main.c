#include "cli.h"

#include <malloc.h>

int main(int argc, char **argv)
{
	/* The phases after the walk (graph, collection, cycles) each allocate
	 * and free arrays of a few bytes per object.  Kept on the brk heap and
	 * never trimmed, the memory one phase frees is reused by the next
	 * without new page faults (a fault costs ~10 us on the VMs we measure
	 * on, and the TLB with it).  Arrays that grow (the object table, the
	 * edges) live in their own reservations (pg_bigarr), not here. */
	mallopt(M_MMAP_THRESHOLD, 1 << 30);
	mallopt(M_TRIM_THRESHOLD, 1 << 30);
	mallopt(M_TOP_PAD, 64 << 20);
	return pg_main(argc, argv);
}
