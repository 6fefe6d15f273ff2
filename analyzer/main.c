/* pycore-garbage: what leaked in a Python 2.7 process, from its core alone. */
#include "cli.h"

int main(int argc, char **argv)
{
	return pg_main(argc, argv);
}
