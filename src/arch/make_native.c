/* cio__ctx_make() for the assembly switches: lays out, at the top of a new
 * stack, what the switch needs to start the entry function there. */
#include <stdint.h>
#include <string.h>

#include "switch.h"

#if defined(__aarch64__)
void cio__ctx_trampoline(void);
#endif

void cio__ctx_make(cio__ctx *ctx, void *lo, void *hi, void (*entry)(void *), void *arg)
{
    (void)lo;
    uintptr_t top = (uintptr_t)hi & ~(uintptr_t)15;
#if defined(__x86_64__)
    /* MXCSR and x87 CW, the argument, the entry; the switch enters it with
     * a jump (switch_x86_64.S), told by the tag in bit 0 of the saved stack
     * pointer that this context has never run. */
    uint64_t *frame = (uint64_t *)(top - 32);
    memset(frame, 0, 32);
    uint32_t mxcsr = 0x1F80; /* all exceptions masked, round to nearest */
    uint16_t fpucw = 0x037F; /* the x87 default */
    memcpy((char *)frame, &mxcsr, 4);
    memcpy((char *)frame + 4, &fpucw, 2);
    frame[1] = (uint64_t)(uintptr_t)arg;
    frame[2] = (uint64_t)(uintptr_t)entry;
    ctx->sp = (char *)frame + 1;
#elif defined(__aarch64__)
    /* The frame cio__ctx_switch() pops, so that its `ret` lands in
     * cio__ctx_trampoline with the entry function in a callee-saved
     * register. */
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
