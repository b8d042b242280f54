#include "pages.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#ifdef CIO_HAVE_VALGRIND
#include <valgrind/valgrind.h>
#else
#define RUNNING_ON_VALGRIND 0
#endif

/* process_madvise() on the caller itself, without opening a pidfd. */
#ifndef PIDFD_SELF_THREAD_GROUP
#define PIDFD_SELF_THREAD_GROUP (-10001)
#endif

/* Ranges per process_madvise() call: its limit is IOV_MAX (1024); this
 * many iovecs keep the caller's frame small (it may run on a task stack). */
#define ADVISE_BATCH 128

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

size_t cio__pages_advise_strided(char *first, size_t stride, size_t n, size_t len, int advice)
{
#ifdef SYS_process_madvise
    /* Once the kernel has said it cannot do it at all, ask no more.
     * Valgrind does not know the call (and would warn about it). */
    static atomic_bool unsupported;
    if (RUNNING_ON_VALGRIND)
        return 0;
    size_t done = 0;
    while (done < n && !atomic_load_explicit(&unsupported, memory_order_relaxed)) {
        struct iovec iov[ADVISE_BATCH];
        size_t k = n - done < ADVISE_BATCH ? n - done : ADVISE_BATCH;
        for (size_t i = 0; i < k; i++)
            iov[i] = (struct iovec){first + (done + i) * stride, len};
        long rc = syscall(SYS_process_madvise, PIDFD_SELF_THREAD_GROUP, iov, k, advice, 0);
        if (rc < 0) {
            if (errno == ENOSYS || errno == EBADF || errno == EPERM || errno == ESRCH)
                atomic_store_explicit(&unsupported, true, memory_order_relaxed);
            break;
        }
        done += (size_t)rc / len;
        if ((size_t)rc < k * len)
            break; /* failed part way: the range after the last whole one */
    }
    return done;
#else
    (void)first, (void)stride, (void)n, (void)len, (void)advice;
    return 0;
#endif
}
