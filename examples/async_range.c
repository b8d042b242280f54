/* The guide's async_range: an async generator.
 *
 *     async def async_range(start: int, stop: int, delay: float = 0.1):
 *         for i in range(start, stop):
 *             await asyncio.sleep(delay)
 *             yield i
 *
 *     async for num in async_range(0, 5):
 *         print(f"Got: {num}")
 */
#include <stdio.h>
#include <stdlib.h>

#include <cio.h>

struct range {
    int start, stop;
    double delay;
};

static int async_range(cio_gen *g, void *arg)
{
    struct range *r = arg;
    for (int i = r->start; i < r->stop; i++) {
        int rc = cio_sleep(r->delay);
        if (rc == 0)
            rc = cio_gen_yield(g, &i);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int main_task(void *arg)
{
    (void)arg;
    struct range r = {0, 5, 0.1};
    CIO_GENERATOR(it, async_range, &r, sizeof(int));
    int num, rc;
    while ((rc = cio_gen_next(&it, &num)) > 0)
        printf("Got: %d\n", num);
    return rc;
}

int main(void)
{
    cio_run_options opts = {.virtual_clock = getenv("CIO_VIRTUAL_CLOCK") != NULL};
    return cio_run_with(&opts, main_task, NULL) < 0;
}
