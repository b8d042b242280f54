/* cio__ctx_make() for the assembly switches: lays out, at the top of a new
 * stack, the frame that cio__ctx_switch() pops, so that its `ret` lands in
 * cio__ctx_trampoline with the entry function in a callee-saved register. */
#include <stdint.h>
#include <string.h>

#include "switch.h"

void cio__ctx_trampoline(void);

void cio__ctx_make(cio__ctx *ctx, void *lo, void *hi, void (*entry)(void *), void *arg)
{
    (void)lo;
    uintptr_t top = (uintptr_t)hi & ~(uintptr_t)15;
#if defined(__x86_64__)
    /* From the saved stack pointer up: MXCSR and x87 CW (8 bytes), r15, r14,
     * r13, r12, rbx, rbp, then the return address. The return address sits
     * at 8 mod 16 so the trampoline starts with the alignment a call has. */
    uint64_t *frame = (uint64_t *)(top - 24 - 56);
    memset(frame, 0, 80);
    uint32_t mxcsr = 0x1F80; /* all exceptions masked, round to nearest */
    uint16_t fpucw = 0x037F; /* the x87 default */
    memcpy((char *)frame, &mxcsr, 4);
    memcpy((char *)frame + 4, &fpucw, 2);
    frame[3] = (uint64_t)(uintptr_t)arg;   /* r13 */
    frame[4] = (uint64_t)(uintptr_t)entry; /* r12 */
    frame[7] = (uint64_t)(uintptr_t)cio__ctx_trampoline;
    ctx->sp = frame;
#elif defined(__aarch64__)
    uint64_t *frame = (uint64_t *)(top - 176);
    memset(frame, 0, 176);
    frame[0] = (uint64_t)(uintptr_t)entry;                /* x19 */
    frame[1] = (uint64_t)(uintptr_t)arg;                  /* x20 */
    frame[11] = (uint64_t)(uintptr_t)cio__ctx_trampoline; /* x30 */
    ctx->sp = frame;
#else
#error "no native context switch for this architecture; build with CIO_SWITCH=ucontext"
#endif
}
