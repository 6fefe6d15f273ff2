#include "rotation.h"

/* Booth's least rotation of a[0..n): linear time. */
size_t pg_least_rotation(const uint32_t *a, size_t n, long *f)
{
	size_t k = 0;
	for (size_t i = 0; i < 2 * n; i++)
		f[i] = -1;
	for (size_t j = 1; j < 2 * n; j++) {
		uint32_t sj = a[j % n];
		long i = f[j - k - 1];
		while (i != -1 && sj != a[(k + (size_t)i + 1) % n]) {
			if (sj < a[(k + (size_t)i + 1) % n])
				k = j - (size_t)i - 1;
			i = f[i];
		}
		if (sj != a[(k + (size_t)i + 1) % n]) { /* i == -1 */
			if (sj < a[k % n])
				k = j;
			f[j - k] = -1;
		} else {
			f[j - k] = i + 1;
		}
	}
	return k % n;
}

