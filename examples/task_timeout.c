/* The guide's task_with_timeout: wait for a task at most 5 s.
 *
 *     task = asyncio.create_task(slow_operation())
 *     try:
 *         result = await asyncio.wait_for(task, timeout=5.0)
 *         return result
 *     except asyncio.TimeoutError:
 *         task.cancel()  # Cancel the task
 *         print("Operation timed out")
 *         return None
 *
 * cio_wait_for() cancels the task itself on timeout and waits for it to
 * unwind, so there is no task.cancel() to forget. slow_operation takes
 * 10 s; CIO_VIRTUAL_CLOCK=1 skips the waiting. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <cio.h>

static int slow_operation(void *arg)
{
    (void)arg;
    int rc = cio_sleep(10);
    return rc < 0 ? rc : 42;
}

static int task_with_timeout(void *arg)
{
    (void)arg;
    cio_task task = cio_spawn(slow_operation, NULL);
    int result = cio_wait_for(task, 5.0);
    if (result == -ETIMEDOUT) {
        printf("Operation timed out\n");
        return 0;
    }
    if (result >= 0)
        printf("Result: %d\n", result);
    return result;
}

int main(void)
{
    cio_run_options opts = {.virtual_clock = getenv("CIO_VIRTUAL_CLOCK") != NULL};
    return cio_run_with(&opts, task_with_timeout, NULL) < 0;
}
