/* The guide's safe_gather: gather everything, then report the first error.
 *
 *     results = await asyncio.gather(*tasks, return_exceptions=True)
 *     for result in results:
 *         if isinstance(result, Exception):
 *             raise result
 *     ...
 *     except ValueError as e:
 *         print(f"Task failed: {e}")
 *
 * cio_gather_results() is return_exceptions=True: every task's own result
 * (its error code) lands in results[]. The error's message travels in the
 * task's argument, as protocol detail does in cio. */
#include <errno.h>
#include <stdio.h>

#include <cio.h>

struct job {
    const char *value;
    const char *error;
};

static int task_ok(void *arg)
{
    struct job *j = arg;
    int rc = cio_sleep(0.1);
    if (rc < 0)
        return rc;
    j->value = "OK";
    return 0;
}

static int task_fail(void *arg)
{
    struct job *j = arg;
    int rc = cio_sleep(0.05);
    if (rc < 0)
        return rc;
    j->error = "Something went wrong";
    return -EINVAL; /* ValueError */
}

static int safe_gather(cio_task *tasks, int *results, struct job *jobs, int n)
{
    int rc = cio_gather_results(tasks, (size_t)n, results);
    if (rc < 0)
        return rc;
    for (int i = 0; i < n; i++) /* raise the first exception found */
        if (results[i] < 0) {
            printf("Task failed: %s\n", jobs[i].error ? jobs[i].error : cio_strerror(results[i]));
            return results[i];
        }
    return 0;
}

static int process_with_errors(void *arg)
{
    (void)arg;
    struct job jobs[3] = {0};
    cio_task tasks[3] = {cio_spawn(task_ok, &jobs[0]), cio_spawn(task_fail, &jobs[1]),
                         cio_spawn(task_ok, &jobs[2])};
    int results[3];
    safe_gather(tasks, results, jobs, 3); /* the error was handled: printed */
    return 0;
}

int main(void)
{
    return cio_run(process_with_errors, NULL) < 0;
}
