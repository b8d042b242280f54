/* The guide's process_in_batches: gather at most batch_size tasks at a
 * time so as not to overwhelm a resource.
 *
 *     for i in range(0, len(items), batch_size):
 *         batch = items[i:i + batch_size]
 *         batch_results = await asyncio.gather(*[process_item(item) for item in batch])
 *         results.extend(batch_results)
 *
 * The guide prints nothing; this main does what a Python one would:
 *
 *     results = await process_in_batches(list(range(250)), batch_size=100)
 *     print(f"Processed {len(results)} items")
 *     print(f"First results: {results[:5]}")
 *     print(f"Last result: {results[-1]}")
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <cio.h>

struct item {
    int value;
    int result;
};

static int process_item(void *arg)
{
    struct item *it = arg;
    int rc = cio_sleep(0.01); /* simulate I/O */
    if (rc < 0)
        return rc;
    it->result = it->value * 2;
    return 0;
}

static int process_in_batches(struct item *items, int n, int batch_size)
{
    cio_task *batch = malloc((size_t)batch_size * sizeof *batch);
    if (!batch)
        return -ENOMEM;
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i += batch_size) {
        int size = n - i < batch_size ? n - i : batch_size;
        for (int j = 0; j < size; j++)
            batch[j] = cio_spawn(process_item, &items[i + j]);
        rc = cio_gather(batch, (size_t)size);
        printf("Batch %d: %d items\n", i / batch_size + 1, size);
    }
    free(batch);
    return rc;
}

static int main_task(void *arg)
{
    (void)arg;
    enum { N = 250 };
    static struct item items[N];
    for (int i = 0; i < N; i++)
        items[i].value = i;
    int rc = process_in_batches(items, N, 100);
    if (rc < 0)
        return rc;
    printf("Processed %d items\n", N);
    printf("First results: [%d, %d, %d, %d, %d]\n", items[0].result, items[1].result,
           items[2].result, items[3].result, items[4].result);
    printf("Last result: %d\n", items[N - 1].result);
    return 0;
}

int main(void)
{
    return cio_run(main_task, NULL) < 0;
}
