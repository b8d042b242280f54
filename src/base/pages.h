/* Memory straight from the kernel: large arenas for the loop's bulk records
 * (task records, callback handles, timer references) once a program keeps
 * many of them alive, and advice on many pages in one system call (the
 * stack pool's guard pages and first stack pages).
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

/* Gives madvise() advice to n ranges of len bytes, the i-th at
 * first + i * stride, with one process_madvise() per batch of ranges rather
 * than one madvise() per range (a system call costs ~1 us in a VM).
 * Returns how many leading ranges were advised: fewer than n where the
 * kernel cannot advise the calling process in batches (before Linux 6.15,
 * or under a seccomp filter), does not know this advice, or failed part
 * way; the caller then advises the rest one by one or goes without. */
size_t cio__pages_advise_strided(char *first, size_t stride, size_t n, size_t len, int advice);

#endif
