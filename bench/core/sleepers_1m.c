/* core.sleepers_1m: 1,000,000 tasks asleep at once (100,000 with --quick).
 *
 * Records three figures:
 *   core.sleepers_1m.rss_per_task  VmRSS growth per sleeping task, bytes
 *   core.sleepers_1m.spawn         seconds to spawn them all and let each run
 *                                  up to its sleep (one cio_yield after the
 *                                  spawns lets every new task run once)
 *   core.sleepers_1m.cancel        seconds to cancel them all and join each
 *   core.sleepers_1m.faults_per_task  page faults per task while spawning:
 *                                  where faults cost microseconds (a VM),
 *                                  they rule .spawn
 * Tasks use the default stack size (CIO_DEFAULT_STACK_SIZE of address space;
 * only touched pages cost memory). The array of handles is allocated and
 * touched before the baseline RSS is read, as the peer's list is.
 * Also records impls "baseline" and "baseline-strided" for .spawn: the
 * first touch of as many fresh pages, next to each other and as far apart
 * as cio's stacks: the floors on this machine (page faults are slow in a
 * VM).
 * Peer: peer_sleepers_1m.py. */
#include "common/bench.h"

#include <cio.h>

#include <sys/mman.h>
#include <unistd.h>

static int sleeper(void *arg)
{
    (void)arg;
    return cio_sleep(3600.0); /* -ECANCELED when cancelled */
}

static int bench_main(void *arg)
{
    long n = *(long *)arg;
    cio_task *tasks = calloc((size_t)n, sizeof *tasks);
    if (!tasks)
        return -1;
    memset(tasks, 0, (size_t)n * sizeof *tasks);

    int64_t rss0 = bench_rss_bytes(), f0 = bench_minor_faults();
    int64_t t0 = bench_now_ns();
    for (long i = 0; i < n; i++) {
        tasks[i] = cio_spawn(sleeper, NULL);
        BENCH_CHECK(cio_spawn_error(tasks[i]));
    }
    BENCH_CHECK(cio_yield());
    int64_t t1 = bench_now_ns();
    int64_t rss1 = bench_rss_bytes(), f1 = bench_minor_faults();

    for (long i = 0; i < n; i++)
        BENCH_CHECK(cio_cancel(tasks[i]));
    for (long i = 0; i < n; i++) {
        int rc = cio_join(tasks[i]);
        if (rc != -ECANCELED) {
            fprintf(stderr, "sleeper %ld: join returned %d (%s)\n", i, rc, cio_err_name(rc));
            return -1;
        }
    }
    int64_t t2 = bench_now_ns();
    free(tasks);

    bench_emit("core.sleepers_1m.rss_per_task", "cio", (double)(rss1 - rss0) / (double)n, "B",
               "lower");
    bench_emit("core.sleepers_1m.spawn", "cio", (double)(t1 - t0) / 1e9, "s", "lower");
    bench_emit("core.sleepers_1m.cancel", "cio", (double)(t2 - t1) / 1e9, "s", "lower");
    bench_emit("core.sleepers_1m.faults_per_task", "cio", (double)(f1 - f0) / (double)n, "faults",
               "lower");
    return 0;
}

/* The first touch of n pages `stride` bytes apart in one fresh anonymous
 * mapping (one page fault each, no transparent huge pages); seconds. */
static double page_touch_seconds(long n, size_t stride)
{
    size_t len = (size_t)n * stride;
    char *p =
        mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return -1;
    madvise(p, len, MADV_NOHUGEPAGE); /* one fault per 4 KiB page, as stacks */
    int64_t t0 = bench_now_ns();
    for (size_t off = 0; off < len; off += stride)
        p[off] = 1;
    int64_t t1 = bench_now_ns();
    munmap(p, len);
    return (double)(t1 - t0) / 1e9;
}

int main(int argc, char **argv)
{
    long n = bench_quick(argc, argv) ? 100000 : 1000000;
    /* The floors of .spawn on this machine, right now: as many fresh pages
     * touched one after another (what any design with a page per task
     * pays), and touched as far apart as cio's stacks are (the stack, a
     * page for its header and cache colours, a guard page), which also
     * pays a page table per 2 MiB: what the default stack size costs.
     * They run first, after an untimed touch of as many pages, so that all
     * three touch memory the guest has had before: in a VM, the first use
     * of memory also costs the host's work, which had made whichever ran
     * first look up to several times slower. */
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    (void)page_touch_seconds(n, page);
    double floor_dense = page_touch_seconds(n, page);
    double floor_strided = page_touch_seconds(n, CIO_DEFAULT_STACK_SIZE + 2 * page);
    if (cio_run(bench_main, &n) != 0)
        return 1;
    if (floor_dense >= 0)
        bench_emit("core.sleepers_1m.spawn", "baseline", floor_dense, "s", "lower");
    if (floor_strided >= 0)
        bench_emit("core.sleepers_1m.spawn", "baseline-strided", floor_strided, "s", "lower");
    return 0;
}
