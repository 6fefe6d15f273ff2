/* The interpreter families, in the order the session tries them. */
#include "family.h"

const struct pg_family_ops *const pg_families[] = {
	&pg_py27_family,
	NULL,
};
