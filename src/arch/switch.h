/* The context switch contract, implemented once per architecture
 * (switch_<arch>.S) and once portably (switch_ucontext.c); the build picks
 * one file. A context saves only what the C ABI says a call preserves:
 * callee-saved registers, the stack pointer and the FP control words. */
#ifndef CIO_ARCH_SWITCH_H
#define CIO_ARCH_SWITCH_H

#include <stddef.h>

#ifdef CIO_SWITCH_UCONTEXT
#include <ucontext.h>
typedef struct cio__ctx {
    ucontext_t uc;
} cio__ctx;
#else
typedef struct cio__ctx {
    void *sp; /* everything else is saved on the context's own stack */
} cio__ctx;
#endif

/* Saves the running context into *from and resumes *to. Returns when
 * something switches back to *from. */
void cio__ctx_switch(cio__ctx *from, cio__ctx *to);

/* Prepares *ctx so that switching to it runs entry(arg) on the stack
 * [lo, hi). entry must never return. */
void cio__ctx_make(cio__ctx *ctx, void *lo, void *hi, void (*entry)(void *), void *arg);

#endif
