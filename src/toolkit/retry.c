/* Retry with backoff, and a token-bucket limiter done as GCRA (generic
 * cell rate algorithm): one timestamp instead of a token count, each
 * caller reserving its slot and sleeping until it, so FIFO order needs no
 * queue. */
#include "cio/retry.h"

#include <errno.h>
#include <math.h>

#include "task/task.h"

/* splitmix64: small, good enough for jitter, seedable for tests. */
static uint64_t next_random(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double uniform01(uint64_t *s)
{
    return (double)(next_random(s) >> 11) / 9007199254740992.0;
}

static bool bad(double x)
{
    return isnan(x) || x < 0;
}

int cio_retry(const cio_retry_policy *policy, cio_task_fn op, void *op_arg)
{
    cio_retry_policy p = policy ? *policy : (cio_retry_policy){0};
    if (!op || p.max_attempts < 0 || bad(p.base_delay) || bad(p.factor) || bad(p.max_delay) ||
        isnan(p.jitter) || p.jitter > 1)
        return -EINVAL;
    if (p.max_attempts == 0)
        p.max_attempts = 3;
    if (p.base_delay == 0)
        p.base_delay = 1.0;
    if (p.factor == 0)
        p.factor = 2.0;
    if (p.jitter == 0)
        p.jitter = 0.5;
    uint64_t rng = p.seed ? p.seed : (uint64_t)cio__mono_ns() ^ (uint64_t)(uintptr_t)&p;
    double delay = p.base_delay;
    int rc = 0;
    for (int attempt = 1;; attempt++) {
        rc = op(op_arg);
        if (rc >= 0 || rc == -ECANCELED)
            return rc;
        int intr = cio_check();
        if (intr == -ECANCELED || intr == -ETIMEDOUT)
            return intr; /* never retry past a cancellation or a deadline */
        if (attempt >= p.max_attempts)
            return rc;
        if (p.retryable ? !p.retryable(rc, p.arg) : false)
            return rc;
        double d = p.max_delay > 0 && delay > p.max_delay ? p.max_delay : delay;
        if (p.jitter > 0)
            d *= 1 - p.jitter + 2 * p.jitter * uniform01(&rng);
        if (p.on_retry)
            p.on_retry(attempt, rc, d, p.arg);
        int s = cio_sleep(d);
        if (s < 0)
            return s;
        delay *= p.factor;
    }
}

/* ---- limiter -------------------------------------------------------------- */

int cio_limiter_init(cio_limiter *l, double rate, double burst)
{
    if (!l || !(rate > 0) || !(burst >= 1) || isinf(rate) || isinf(burst))
        return -EINVAL;
    int64_t interval = (int64_t)llround(1e9 / rate);
    if (interval < 1)
        interval = 1;
    *l = (cio_limiter){.interval_ns = interval,
                       .burst_ns = (int64_t)llround((burst - 1) * (double)interval),
                       .tat_ = INT64_MIN};
    return 0;
}

/* Reserves the next token: returns the time it is due. */
static int64_t reserve(cio_limiter *l, int64_t now)
{
    int64_t tat = l->tat_ > now ? l->tat_ : now;
    l->tat_ = tat + l->interval_ns;
    return tat - l->burst_ns;
}

int cio_limiter_try_acquire(cio_limiter *l)
{
    if (!l || l->interval_ns <= 0)
        return -EINVAL;
    struct cio__loop *loop = cio__tls_loop;
    if (!loop)
        return CIO_ENOLOOP;
    int64_t tat = l->tat_ > loop->now ? l->tat_ : loop->now;
    if (tat - l->burst_ns > loop->now)
        return -EAGAIN;
    reserve(l, loop->now);
    return 0;
}

int cio_limiter_acquire(cio_limiter *l)
{
    if (!l || l->interval_ns <= 0)
        return -EINVAL;
    if (cio_limiter_try_acquire(l) == 0)
        return 0; /* a token is there: no wait, so no cancellation check */
    struct cio__task *t;
    int rc = cio__enter(&t);
    if (rc)
        return rc;
    int64_t now = cio__tls_loop->now;
    int64_t due = reserve(l, now);
    if (due <= now)
        return 0;
    int64_t mine = l->tat_;
    rc = cio_sleep((double)(due - now) / 1e9);
    if (rc < 0 && l->tat_ == mine)
        l->tat_ -= l->interval_ns; /* nobody reserved after us: give it back */
    return rc;
}
