/* A standalone check of a context switch on another architecture, run under
 * qemu-user by scripts/check-aarch64.sh (cmocka is not there for the
 * target): ping-pong, deep join chains, sleeps, and that each task keeps its
 * own FP rounding mode (FPCR / MXCSR is part of a context) and starts with
 * the default one. */
#include <fenv.h>
#include <stdio.h>

#include <cio.h>

static int yielder(void *arg)
{
    long *n = arg;
    for (int i = 0; i < 1000; i++) {
        double x = 1.5 * i; /* live in a callee-saved FP register across the switch */
        if (cio_yield() < 0)
            return -1;
        *n += (long)(x / 1.5) == i;
    }
    return 7;
}

static int chain(void *arg)
{
    long depth = (long)arg;
    if (!depth)
        return 0;
    return cio_join(cio_spawn(chain, (void *)(depth - 1))) + 1;
}

static int rounding(void *arg)
{
    (void)arg;
    fesetround(FE_UPWARD);
    if (cio_yield() < 0)
        return -1;
    int kept = fegetround() == FE_UPWARD;
    fesetround(FE_TONEAREST);
    return kept;
}

static int default_rounding(void *arg)
{
    (void)arg;
    return fegetround() == FE_TONEAREST;
}

static int check(void *arg)
{
    (void)arg;
    long n1 = 0, n2 = 0;
    cio_task a = cio_spawn(yielder, &n1), b = cio_spawn(yielder, &n2);
    int ok = cio_join(a) == 7 && cio_join(b) == 7 && n1 == 1000 && n2 == 1000;
    ok &= cio_join(cio_spawn(chain, (void *)500)) == 500;
    ok &= cio_sleep(0.01) == 0;
    int before = fegetround();
    ok &= cio_join(cio_spawn(rounding, NULL)) == 1 && fegetround() == before;
    /* A new task starts with the default mode, not its spawner's. */
    fesetround(FE_UPWARD);
    int fresh = cio_join(cio_spawn(default_rounding, NULL));
    ok &= fegetround() == FE_UPWARD;
    fesetround(before);
    ok &= fresh == 1;
    printf("%s\n", ok ? "switch ok" : "switch BROKEN");
    return ok ? 0 : 1;
}

int main(void)
{
    return cio_run(check, NULL) != 0;
}
