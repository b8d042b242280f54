/* Tables indexed by file descriptor (the loop's watchers, a backend's
 * requests): grown by doubling, new entries zeroed, never shrunk, since the
 * kernel hands out the lowest free numbers. */
#ifndef CIO_BASE_FDTABLE_H
#define CIO_BASE_FDTABLE_H

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* Grows the table *a of *n entries of `size` bytes until fd indexes it.
 * Returns 0, -EBADF (fd past INT_MAX entries) or -ENOMEM (*a unchanged). */
static inline int cio__fdtable_reach(void **a, int *n, size_t size, int fd)
{
    if (fd < *n)
        return 0;
    size_t want = *n ? (size_t)*n : 64;
    while (want <= (size_t)fd)
        want *= 2;
    if (want > INT_MAX)
        return -EBADF;
    char *grown = realloc(*a, want * size);
    if (!grown)
        return -ENOMEM;
    memset(grown + (size_t)*n * size, 0, (want - (size_t)*n) * size);
    *a = grown;
    *n = (int)want;
    return 0;
}

#endif
