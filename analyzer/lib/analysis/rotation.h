/* The canonical rotation of a cycle: the shape key of a cycle group must
 * not depend on where the cycle was entered. */
#ifndef PG_ROTATION_H
#define PG_ROTATION_H

#include <stddef.h>
#include <stdint.h>

/* Booth's least rotation of a[0..n) (n > 0): the start index of the
 * lexicographically least rotation, in linear time; f is scratch of 2n
 * longs. */
size_t pg_least_rotation(const uint32_t *a, size_t n, long *f);

#endif
