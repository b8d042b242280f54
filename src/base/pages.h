/* Large arenas straight from the kernel, for the loop's bulk records (task
 * records, callback handles, timer references) once a program keeps many of
 * them alive.
 *
 * An arena of at least CIO__HUGE_SIZE is aligned on that size and marked
 * MADV_HUGEPAGE, so that where transparent huge pages are enabled (the
 * default "madvise" mode included) it is backed by 2 MiB pages: one page
 * fault instead of 512 while it fills, and one TLB entry while it is read.
 * A million timers fill ~100 MiB of handles; in a VM, where a 4 KiB fault
 * costs 1-25 µs, the faults alone would take longer than the timers'
 * work. Smaller arenas are ordinary anonymous mappings. */
#ifndef CIO_BASE_PAGES_H
#define CIO_BASE_PAGES_H

#include <stddef.h>

#define CIO__HUGE_SIZE ((size_t)2 << 20)

/* A zero-filled mapping of `size` bytes (a multiple of the page size),
 * aligned on CIO__HUGE_SIZE when it is at least that large; NULL when out
 * of memory. */
void *cio__pages_alloc(size_t size);

/* Unmaps what cio__pages_alloc(size) returned. */
void cio__pages_free(void *p, size_t size);

#endif
