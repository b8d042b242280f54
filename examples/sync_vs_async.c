/* The guide's "Synchronous vs Asynchronous": an async fetch that sleeps 2 s
 * without blocking the loop.
 *
 *     async def async_fetch_data():
 *         print("Fetching data...")
 *         await asyncio.sleep(2)  # Yields control to event loop
 *         return "Data received"
 *
 *     async def main():
 *         result = await async_fetch_data()
 *         print(result)
 *
 *     asyncio.run(main())
 *
 * In cio the coroutine is a plain function called from a task: cio_sleep()
 * suspends only this task, like `await asyncio.sleep(2)`. (The blocking
 * version would call sleep(2) and freeze every other task.)
 * CIO_VIRTUAL_CLOCK=1 runs it on the virtual clock: no real waiting. */
#include <stdio.h>
#include <stdlib.h>

#include <cio.h>

static int async_fetch_data(const char **result)
{
    printf("Fetching data...\n");
    int rc = cio_sleep(2); /* yields control to the event loop */
    if (rc < 0)
        return rc;
    *result = "Data received";
    return 0;
}

static int main_task(void *arg)
{
    (void)arg;
    const char *result;
    int rc = async_fetch_data(&result);
    if (rc < 0)
        return rc;
    printf("%s\n", result);
    return 0;
}

int main(void)
{
    cio_run_options opts = {.virtual_clock = getenv("CIO_VIRTUAL_CLOCK") != NULL};
    return cio_run_with(&opts, main_task, NULL) < 0;
}
