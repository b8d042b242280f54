/* Shared helpers for cio's C benchmarks (the programs in bench/<area>/).
 *
 * The protocol (see bench/run.py and docs/BENCHMARKS.md): a benchmark prints
 * one JSON record per line on stdout and nothing else,
 *
 *   {"workload": "core.switch", "impl": "cio", "value": 12.3, "unit": "ns",
 *    "better": "lower"}
 *
 * accepts --quick (a much smaller size, for the smoke run) and finishes
 * within about a minute at full size. Diagnostics go to stderr.
 *
 * Header-only: include "common/bench.h" (bench/ is on the include path of
 * every cio_bench() target).
 */
#ifndef CIO_BENCH_COMMON_H
#define CIO_BENCH_COMMON_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

/* Monotonic wall clock, ns. */
static inline int64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* CPU time used by the whole process (user + system), ns. */
static inline int64_t bench_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Page faults the process has taken so far (minor: no disk read). */
static inline int64_t bench_minor_faults(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_minflt;
}

/* Whether --quick is among the arguments. */
static inline bool bench_quick(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--quick") == 0)
            return true;
    return false;
}

/* The workload's size: the value of "--n N" if given (for instruction
 * counts under callgrind, see bench/common/callgrind.py), else quick or
 * full depending on --quick. */
static inline long bench_size(int argc, char **argv, long full, long quick)
{
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], "--n") == 0)
            return strtol(argv[i + 1], NULL, 10);
    return bench_quick(argc, argv) ? quick : full;
}

/* Prints one record. better: "lower" or "higher". */
static inline void bench_emit(const char *workload, const char *impl, double value,
                              const char *unit, const char *better)
{
    printf("{\"workload\": \"%s\", \"impl\": \"%s\", \"value\": %.6g, \"unit\": \"%s\", "
           "\"better\": \"%s\"}\n",
           workload, impl, value, unit, better);
    fflush(stdout);
}

/* Resident set size of this process from /proc/self/status (VmRSS), bytes;
 * -1 if it cannot be read. */
static inline int64_t bench_rss_bytes(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    char line[256];
    int64_t kib = -1;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kib = strtoll(line + 6, NULL, 10);
            break;
        }
    }
    fclose(f);
    return kib < 0 ? -1 : kib * 1024;
}

static inline int bench__cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of n samples (sorts them in place). */
static inline double bench_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, bench__cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Reports a fatal benchmark error on stderr and exits with status 1. */
#define BENCH_CHECK(expr)                                                                          \
    do {                                                                                           \
        long bench_rc_ = (long)(expr);                                                             \
        if (bench_rc_ < 0) {                                                                       \
            fprintf(stderr, "%s:%d: %s failed: %ld\n", __FILE__, __LINE__, #expr, bench_rc_);      \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

#endif
