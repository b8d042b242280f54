/* cio — context variables: values that follow a task, asyncio's
 * contextvars for C (a request id for the logs, the current tracing span,
 * a per-request deadline), where a thread-local variable would be shared by
 * every task of the thread.
 *
 *     static cio_context_var request_id = CIO_CONTEXT_VAR("request_id", NULL);
 *
 *     static int handle(void *arg) {
 *         cio_context_set(&request_id, arg);
 *         ...                          every call below, in this task, sees it:
 *         log_line("start");           cio_context_get(&request_id)
 *         cio_detach(cio_spawn(audit, NULL));  and so does a task spawned here
 *         return 0;
 *     }
 *
 * As in asyncio, a task starts with a copy of the context of the task that
 * spawned it, as it is at that moment: it sees the values its spawner had
 * set, and what either sets afterwards is its own. A function run on the
 * executor (cio_to_thread, cio_run_in_executor) reads the context of the
 * task that submitted it, as it was then (it cannot set values: it is not
 * a task). A callback (call_soon, call_later, call_at, a future's done
 * callback, add_reader, add_writer) runs in the context of the code that
 * scheduled or added it, as asyncio's do, and a task it spawns starts with
 * that context; a callback reads it but cannot set values.
 *
 * Values are pointers the program owns: a context only holds them, and
 * frees nothing they point to. A task's context lives until the task ends.
 */
#ifndef CIO_CONTEXT_H
#define CIO_CONTEXT_H

#ifdef __cplusplus
extern "C" {
#endif

/* A context variable: its identity is its address, so give it static
 * storage (or make sure it outlives every task that sets it). `name` is for
 * the reader; `default_value` is what a task that never set it sees. */
typedef struct cio_context_var {
    const char *name;
    void *default_value;
} cio_context_var;

#define CIO_CONTEXT_VAR(name, default_value)                                                       \
    {                                                                                              \
        (name), (default_value)                                                                    \
    }

/* The running task's value of var: what it (or its spawner before the
 * spawn) last set, else var's default. In an executor job, the submitting
 * task's value; in a callback, the value of the code that scheduled it;
 * elsewhere outside a task, and for a NULL var, the default (NULL for a
 * NULL var). Never fails, never suspends; callable from any
 * thread. */
void *cio_context_get(const cio_context_var *var);

/* Sets the running task's value of var (tasks it spawns from now on start
 * with it; nothing already spawned sees it). Returns 0, -EINVAL (var NULL),
 * CIO_ENOTTASK or CIO_ENOLOOP (not in a task), -ENOMEM (the task's value is
 * then unchanged). */
int cio_context_set(const cio_context_var *var, void *value);

#ifdef __cplusplus
}
#endif

#endif
