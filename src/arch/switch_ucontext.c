/* Portable context switch on ucontext (slower: swapcontext also saves and
 * restores the signal mask with a system call). Chosen at build time with
 * -DCIO_SWITCH=ucontext, or where no assembly switch exists. */
#include <fenv.h>
#include <stdint.h>

#include "switch.h"

void cio__ctx_switch(cio__ctx *from, cio__ctx *to)
{
    swapcontext(&from->uc, &to->uc);
}

/* makecontext passes int arguments only: split the pointers in two. */
static void start(unsigned entry_lo, unsigned entry_hi, unsigned arg_lo, unsigned arg_hi)
{
    void (*entry)(void *) =
        (void (*)(void *))(uintptr_t)((uint64_t)entry_hi << 32 | (uint64_t)entry_lo);
    void *arg = (void *)(uintptr_t)((uint64_t)arg_hi << 32 | (uint64_t)arg_lo);
    /* getcontext() captured the FP control state of whichever context made
     * this one; a new context starts with the defaults, as with the
     * assembly switches. */
    fesetenv(FE_DFL_ENV);
    entry(arg);
}

void cio__ctx_make(cio__ctx *ctx, void *lo, void *hi, void (*entry)(void *), void *arg)
{
    getcontext(&ctx->uc);
    ctx->uc.uc_stack.ss_sp = lo;
    ctx->uc.uc_stack.ss_size = (size_t)((char *)hi - (char *)lo);
    ctx->uc.uc_link = NULL;
    uint64_t e = (uint64_t)(uintptr_t)entry, a = (uint64_t)(uintptr_t)arg;
    makecontext(&ctx->uc, (void (*)(void))start, 4, (unsigned)e, (unsigned)(e >> 32), (unsigned)a,
                (unsigned)(a >> 32));
}
