/* cio — async generators and iterators (`async for`).
 *
 * A generator is a function run as its own task that hands values to its
 * consumer one at a time with cio_gen_yield(); the consumer iterates with a
 * plain C loop:
 *
 *     static int async_range(cio_gen *g, void *arg)
 *     {
 *         struct range *r = arg;
 *         for (int i = r->start; i < r->stop; i++) {
 *             int rc = cio_sleep(0.1);
 *             if (rc == 0)
 *                 rc = cio_gen_yield(g, &i);
 *             if (rc < 0)
 *                 return rc;          // closed early: -ECANCELED
 *         }
 *         return 0;                   // StopAsyncIteration
 *     }
 *
 *     CIO_GENERATOR(it, async_range, &r, sizeof(int));
 *     int num;
 *     while (cio_gen_next(&it, &num) > 0)
 *         printf("Got: %d\n", num);
 *
 * As in Python, the generator's body runs only when a value is asked for:
 * it starts on the first cio_gen_next() and, after each yield, waits until
 * the next one. Values have a fixed size and are copied from the
 * generator's storage straight into the consumer's. A negative return from
 * the generator reaches the consumer as cio_gen_next()'s result.
 *
 * Closing early (cio_gen_close(), or the end of the CIO_GENERATOR block,
 * also when the consumer leaves by break or return) cancels the generator:
 * its pending cio_gen_yield() and every later suspending call return
 * -ECANCELED, so its cleanup runs, in a CIO_SHIELD scope if it must wait
 * (Python's aclose() and GeneratorExit). Close waits for it to finish.
 *
 * A value the generator yielded while its consumer was being cancelled is
 * kept and returned by the next cio_gen_next(), never lost.
 */
#ifndef CIO_GENERATOR_H
#define CIO_GENERATOR_H

#include <stddef.h>

#include "task.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cio_gen cio_gen;

/* A generator body: yields with cio_gen_yield(g, ...) and returns 0 when it
 * is exhausted, or a negative error that the consumer receives. */
typedef int (*cio_gen_fn)(cio_gen *g, void *arg);

struct cio_gen {
    /* Private. */
    cio_gen_fn fn_;
    void *arg_;
    size_t item_size_;
    cio_task task_;
    struct cio__task *consumer_;
    struct cio__task *producer_;
    const void *pending_;
    int result_;
    unsigned char state_;
    bool resume_;
    bool yielding_; /* the generator is parked in cio_gen_yield() */
};

/* Prepares *g to run fn(g, arg) yielding items of item_size bytes. Nothing
 * runs until the first cio_gen_next(). Returns 0 or -EINVAL (g or fn NULL,
 * item_size 0). */
int cio_gen_init(cio_gen *g, cio_gen_fn fn, void *arg, size_t item_size);

/* __anext__: resumes the generator and waits for its next value, copied
 * into *item. Returns 1 (a value), 0 (the generator returned 0, or g is
 * closed: StopAsyncIteration; again on every later call), the generator's
 * negative return (again on every later call), -ECANCELED / -ETIMEDOUT
 * (the caller was interrupted; the generator goes on to its next yield and
 * that value waits for the next call), the spawn error (-ENOMEM...),
 * -EBUSY (another task is already waiting in cio_gen_next() on g),
 * CIO_ENOTTASK, -EINVAL (g not initialised, item NULL). */
int cio_gen_next(cio_gen *g, void *item);

/* From inside the generator's body: hands *item (item_size bytes) to the
 * consumer and waits until the next value is asked for. Returns 0, or
 * -ECANCELED once the generator is being closed (the value is dropped),
 * -ETIMEDOUT (a timeout scope of the generator's own expired), -EPERM (not
 * called from g's own task), -EINVAL. */
int cio_gen_yield(cio_gen *g, const void *item);

/* aclose(): if the generator is suspended or running, cancels it and waits
 * until it has returned (uninterruptibly: its cleanup is short). Returns 0,
 * or the generator's error if it failed with something other than
 * cancellation. Later cio_gen_next() calls return 0. NULL is ignored. */
int cio_gen_close(cio_gen *g);

void cio__gen_cleanup(cio_gen *g);

/* Declares `name` as a generator running fn(&name, arg), closed at block
 * end. */
#define CIO_GENERATOR(name, fn, arg, item_size)                                                    \
    cio_gen name __attribute__((cleanup(cio__gen_cleanup))) = {0};                                 \
    (void)cio_gen_init(&name, (fn), (arg), (item_size))

#ifdef __cplusplus
}
#endif
#endif
