/* The monotonic clock, in nanoseconds, and conversions from the API's
 * double seconds. */
#ifndef CIO_BASE_CLOCK_H
#define CIO_BASE_CLOCK_H

#include <stdint.h>
#include <time.h>

#define CIO__NS_PER_S 1000000000LL
#define CIO__NEVER INT64_MAX

static inline int64_t cio__mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * CIO__NS_PER_S + ts.tv_nsec;
}

/* A duration in seconds as nanoseconds: NaN and negatives are 0, values
 * too large to represent (INFINITY included) saturate at CIO__NEVER. */
static inline int64_t cio__sec_to_ns(double s)
{
    if (!(s > 0))
        return 0;
    if (s >= 9.2e9)
        return CIO__NEVER;
    /* s > 0: adding a half and truncating rounds as llround() does, without
     * a call into libm on every sleep and timer. */
    return (int64_t)(s * 1e9 + 0.5);
}

/* now + delta, saturating at CIO__NEVER. */
static inline int64_t cio__deadline_after(int64_t now, int64_t delta)
{
    return delta >= CIO__NEVER - now ? CIO__NEVER : now + delta;
}

#endif
