/* The guide's producer-consumer pattern: one producer, three consumers, a
 * queue bounded at 10, and None as the end marker.
 *
 *     async def producer(queue, items):
 *         for item in items:
 *             await asyncio.sleep(0.1)  # Simulate work
 *             await queue.put(item)
 *             print(f"Produced: {item}")
 *         await queue.put(None)
 *
 *     async def consumer(queue, name):
 *         while True:
 *             item = await queue.get()
 *             if item is None:
 *                 queue.put_nowait(None)  # Pass signal to other consumers
 *                 break
 *             await asyncio.sleep(0.2)  # Simulate processing
 *             print(f"Consumer {name} processed: {item}")
 *             queue.task_done()
 *
 *     queue = Queue(maxsize=10)
 *     await asyncio.gather(producer(queue, list(range(20))),
 *                          consumer(queue, "A"), consumer(queue, "B"),
 *                          consumer(queue, "C"))
 *
 * Items are ints copied into the queue's own buffer; -1 plays None.
 *
 * Stopped by SIGINT or SIGTERM (cio_run cancels the main task, and the
 * gather cancels the producer and consumers), it loses no item silently:
 * it says which items were produced but never processed, the ones a
 * consumer held when it was cancelled and the ones still queued. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <cio.h>

#define NONE (-1)

static cio_queue queue;

/* Items taken but not processed (a consumer was cancelled mid-work). */
static int dropped[64], ndropped;

static int producer(void *arg)
{
    int count = *(int *)arg;
    for (int item = 0; item < count; item++) {
        int rc = cio_sleep(0.1); /* simulate work */
        if (rc == 0)
            rc = cio_queue_put(&queue, &item);
        if (rc < 0)
            return rc;
        printf("Produced: %d\n", item);
    }
    return cio_queue_put(&queue, &(int){NONE}); /* signal end of production */
}

static int consumer(void *arg)
{
    const char *name = arg;
    for (;;) {
        int item;
        int rc = cio_queue_get(&queue, &item);
        if (rc < 0)
            return rc;
        if (item == NONE) {
            cio_queue_try_put(&queue, &item); /* pass signal to other consumers */
            return 0;
        }
        rc = cio_sleep(0.2); /* simulate processing */
        if (rc < 0) {
            if (ndropped < 64)
                dropped[ndropped++] = item;
            return rc;
        }
        printf("Consumer %s processed: %d\n", name, item);
        cio_queue_task_done(&queue);
    }
}

static int main_task(void *arg)
{
    (void)arg;
    int rc = cio_queue_init(&queue, sizeof(int), 10);
    if (rc < 0)
        return rc;
    int items = 20;
    cio_task tasks[] = {cio_spawn(producer, &items), cio_spawn(consumer, "A"),
                        cio_spawn(consumer, "B"), cio_spawn(consumer, "C")};
    rc = cio_gather(tasks, 4);
    if (rc == -ECANCELED) {
        /* Stopped: what was produced and not processed, said exactly. */
        int item;
        while (cio_queue_try_get(&queue, &item) == 0)
            if (item != NONE && ndropped < 64)
                dropped[ndropped++] = item;
        printf("Stopped: %d item(s) not processed:", ndropped);
        for (int i = 0; i < ndropped; i++)
            printf(" %d", dropped[i]);
        printf("\n");
        fflush(stdout);
    }
    cio_queue_destroy(&queue);
    return rc;
}

int main(void)
{
    cio_run_options opts = {.virtual_clock = getenv("CIO_VIRTUAL_CLOCK") != NULL};
    return cio_exit_status(cio_run_with(&opts, main_task, NULL));
}
