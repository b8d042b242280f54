/* cio__ctx_make() for the assembly switches: lays out, at the top of a new
 * stack, what the switch needs to start the entry function there. The
 * switch enters it with a jump (switch_<arch>.S), told by the tag in bit 0
 * of the saved stack pointer that this context has never run. */
#include <stdint.h>
#include <string.h>

#include "switch.h"

void cio__ctx_make(cio__ctx *ctx, void *lo, void *hi, void (*entry)(void *), void *arg)
{
    (void)lo;
    uintptr_t top = (uintptr_t)hi & ~(uintptr_t)15;
    /* The FP control state, the argument, the entry; 16 bytes to spare. */
    uint64_t *frame = (uint64_t *)(top - 32);
    memset(frame, 0, 32);
#if defined(__x86_64__)
    uint32_t mxcsr = 0x1F80; /* all exceptions masked, round to nearest */
    uint16_t fpucw = 0x037F; /* the x87 default */
    memcpy((char *)frame, &mxcsr, 4);
    memcpy((char *)frame + 4, &fpucw, 2);
#elif defined(__aarch64__)
    /* FPCR 0: round to nearest, no traps. */
#else
#error "no native context switch for this architecture; build with CIO_SWITCH=ucontext"
#endif
    frame[1] = (uint64_t)(uintptr_t)arg;
    frame[2] = (uint64_t)(uintptr_t)entry;
    ctx->sp = (char *)frame + 1;
}
