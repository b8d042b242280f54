/* Context switch for AArch64 (AAPCS64).
 *
 * Saved on the running stack: x19-x28, the frame pointer x29, the link
 * register x30, the low halves d8-d15 of v8-v15, and FPCR.
 *
 * A context that has never run is not popped but entered with a branch:
 * its saved stack pointer is cio__ctx_make()'s frame, tagged in bit 0. A
 * `ret` into it would consume the return address this switch's own call
 * pushed on the return stack, and the return that resumes the caller later
 * would mispredict (see CIO__CTX_PAIRED in switch.h).
 *
 * FPCR is written only when the resumed context's differs from the one in
 * force, as it nearly never does: a write to it serialises on many cores. */

/* Private to cio. A shared build exports them all the same, for the tests
 * (cmake/exports.map); it links with -Bsymbolic-functions, so the
 * library's own calls stay direct. */
#ifdef CIO_SHARED
#define CIO_PRIVATE(sym)
#else
#define CIO_PRIVATE(sym) .hidden sym
#endif

    .text

/* void cio__ctx_switch(cio__ctx *from, cio__ctx *to) */
    .globl cio__ctx_switch
    CIO_PRIVATE(cio__ctx_switch)
    .type cio__ctx_switch, %function
    .p2align 4
cio__ctx_switch:
    sub sp, sp, #176
    stp x19, x20, [sp, #0]
    stp x21, x22, [sp, #16]
    stp x23, x24, [sp, #32]
    stp x25, x26, [sp, #48]
    stp x27, x28, [sp, #64]
    stp x29, x30, [sp, #80]
    stp d8, d9, [sp, #96]
    stp d10, d11, [sp, #112]
    stp d12, d13, [sp, #128]
    stp d14, d15, [sp, #144]
    mrs x10, fpcr
    str x10, [sp, #160]
    mov x9, sp
    str x9, [x0]
    mov x0, x1
    b 2f
    .size cio__ctx_switch, .-cio__ctx_switch

/* void cio__ctx_resume(cio__ctx *to): resumes or enters *to, saving
 * nothing; reached by a branch from a context that has ended (switch.h). */
    .globl cio__ctx_resume
    CIO_PRIVATE(cio__ctx_resume)
    .type cio__ctx_resume, %function
cio__ctx_resume:
    /* The FPCR in force is unknown: one with every reserved bit set makes
     * the write below happen. */
    mov x10, #-1
2:
    /* x10: the FPCR in force. */
    ldr x9, [x0]
    tbnz x9, #0, 1f
    mov sp, x9
    ldp x19, x20, [sp, #0]
    ldp x21, x22, [sp, #16]
    ldp x23, x24, [sp, #32]
    ldp x25, x26, [sp, #48]
    ldp x27, x28, [sp, #64]
    ldp x29, x30, [sp, #80]
    ldp d8, d9, [sp, #96]
    ldp d10, d11, [sp, #112]
    ldp d12, d13, [sp, #128]
    ldp d14, d15, [sp, #144]
    ldr x9, [sp, #160]
    cmp x9, x10
    b.ne 3f
    add sp, sp, #176
    ret
3:
    msr fpcr, x9
    add sp, sp, #176
    ret
1:
    /* A new context. The frame (at x9 - 1) holds FPCR, the entry's
     * argument at 8 and the entry at 16; its top, at 32, is 16-byte
     * aligned. The entry never returns: a null link register and frame
     * pointer end backtraces. */
    sub x9, x9, #1
    ldr x10, [x9]
    msr fpcr, x10
    ldr x0, [x9, #8]
    ldr x10, [x9, #16]
    add sp, x9, #32
    mov x29, #0
    mov x30, #0
    br x10
    .size cio__ctx_resume, .-cio__ctx_resume

    .section .note.GNU-stack,"",%progbits
