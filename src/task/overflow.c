/* Reporting a stack overflow with the name of the task that overflowed.
 *
 * A guard page turns an overflow into SIGSEGV; the handler below runs on an
 * alternate stack (the faulting one is full), checks whether the fault hit
 * the running task's guard, says so with write(2), and lets the default
 * action take the process down. It is installed only where the program has
 * no SIGSEGV handler of its own (sanitizers have theirs and report
 * overflows themselves). A canary-guarded stack is checked each time its
 * task switches out. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "task/task.h"

static __thread char *altstack;
static __thread stack_t old_altstack;

static void say(int fd, const char *what, const char *name)
{
    char msg[160];
    size_t n = 0;
    const char *parts[] = {"cio: stack overflow in task '", name, "': ", what, "\n"};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        size_t len = strlen(parts[i]);
        if (n + len >= sizeof msg)
            len = sizeof msg - 1 - n;
        memcpy(msg + n, parts[i], len);
        n += len;
    }
    ssize_t w = write(fd, msg, n);
    (void)w;
}

static void on_segv(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    struct cio__loop *loop = cio__tls_loop;
    struct cio__task *t = loop ? loop->current : NULL;
    char label[CIO__TASK_LABEL];
    if (t && cio__stack_guard_hit(t->stack, si->si_addr))
        say(fileno(loop->report), "it ran into its guard page (spawn it with a larger stack_size)",
            cio__task_label(t, label));
    /* Back to the default action; returning re-runs the faulting access. */
    signal(sig, SIG_DFL);
}

/* The handler is process-wide and stays installed (it falls back to the
 * default action when the fault is not ours); each loop thread gets its own
 * alternate stack. */
void cio__overflow_install(struct cio__loop *loop)
{
    (void)loop;
    struct sigaction old;
    if (sigaction(SIGSEGV, NULL, &old) != 0)
        return;
    bool ours = (old.sa_flags & SA_SIGINFO) && old.sa_sigaction == on_segv;
    if (!ours && (old.sa_handler != SIG_DFL || (old.sa_flags & SA_SIGINFO)))
        return;
    size_t size = 64 * 1024;
    altstack = malloc(size);
    if (!altstack)
        return;
    stack_t ss = {.ss_sp = altstack, .ss_size = size, .ss_flags = 0};
    if (sigaltstack(&ss, &old_altstack) != 0) {
        free(altstack);
        altstack = NULL;
        return;
    }
    if (!ours) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = on_segv;
        sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGSEGV, &sa, NULL);
    }
}

void cio__overflow_uninstall(struct cio__loop *loop)
{
    (void)loop;
    if (!altstack)
        return;
    sigaltstack(&old_altstack, NULL);
    free(altstack);
    altstack = NULL;
}

void cio__overflow_canary(struct cio__task *t)
{
    char label[CIO__TASK_LABEL];
    say(fileno(cio__tls_loop->report), "the canary at the bottom of its stack was overwritten",
        cio__task_label(t, label));
    abort();
}
