#include "pages.h"

#include <stdint.h>
#include <sys/mman.h>

void *cio__pages_alloc(size_t size)
{
    if (size < CIO__HUGE_SIZE) {
        void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        return p == MAP_FAILED ? NULL : p;
    }
    /* Over-map by the alignment, then give back the ends. */
    size_t len = size + CIO__HUGE_SIZE;
    char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return NULL;
    uintptr_t a = ((uintptr_t)m + CIO__HUGE_SIZE - 1) & ~(uintptr_t)(CIO__HUGE_SIZE - 1);
    char *p = (char *)a;
    if (p > m)
        munmap(m, (size_t)(p - m));
    if (m + len > p + size)
        munmap(p + size, (size_t)(m + len - (p + size)));
#ifdef MADV_HUGEPAGE
    /* Only advice: without THP the arena is made of ordinary pages. */
    madvise(p, size, MADV_HUGEPAGE);
#endif
    return p;
}

void cio__pages_free(void *p, size_t size)
{
    if (p)
        munmap(p, size);
}
