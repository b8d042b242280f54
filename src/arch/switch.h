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
 * [lo, hi). entry must never return. Only the ucontext switch uses lo
 * (CIO__CTX_USES_LO): the others may be passed NULL, and a caller that
 * would read lo from memory it does not otherwise touch need not. */
void cio__ctx_make(cio__ctx *ctx, void *lo, void *hi, void (*entry)(void *), void *arg);
#ifdef CIO_SWITCH_UCONTEXT
#define CIO__CTX_USES_LO 1
#else
#define CIO__CTX_USES_LO 0
#endif

/* The memory that resuming *ctx reads first, to be fetched ahead (a saved
 * context, not one made by cio__ctx_make()): the registers saved on its
 * stack, or with ucontext in *ctx itself. */
static inline const void *cio__ctx_first_read(const cio__ctx *ctx)
{
#ifdef CIO_SWITCH_UCONTEXT
    return ctx;
#else
    return ctx->sp;
#endif
}

#ifndef CIO_SWITCH_UCONTEXT
/* The assembly switches keep the return stack buffer in step. A switch is
 * a call into the switch code, and the `ret` that resumes the other
 * context consumes the return address that the other context's own call
 * pushed when it left: calls and returns stay paired, and where tasks leave
 * from the same call site (a ping-pong), the return is predicted. Two
 * switches would break the pairing and make every return after them
 * mispredict: entering a new context (there is no call of its own to
 * return to), which the switch does with a jump, and leaving an ended one
 * for good (its call would never be returned from), which cio__ctx_leave()
 * does. */
#define CIO__CTX_PAIRED 1

/* Leaves an ended context for good, saving nothing, and resumes *to (or
 * enters it, if it has never run). A jump, not a call: nothing is pushed
 * that would never be returned from. */
__attribute__((noreturn, always_inline)) static inline void cio__ctx_leave(cio__ctx *to)
{
#if defined(__x86_64__)
    __asm__ volatile("jmp cio__ctx_resume" : : "D"(to) : "memory");
#elif defined(__aarch64__)
    register cio__ctx *x0 __asm__("x0") = to;
    __asm__ volatile("b cio__ctx_resume" : : "r"(x0) : "memory");
#endif
    __builtin_unreachable();
}
#endif

#endif
