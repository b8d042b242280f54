/* Context switch for AArch64 (AAPCS64).
 *
 * Saved on the running stack: x19-x28, the frame pointer x29, the link
 * register x30, the low halves d8-d15 of v8-v15, and FPCR. */

    .text

/* void cio__ctx_switch(cio__ctx *from, cio__ctx *to) */
    .globl cio__ctx_switch
    .hidden cio__ctx_switch
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
    mrs x9, fpcr
    str x9, [sp, #160]
    mov x9, sp
    str x9, [x0]
    ldr x9, [x1]
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
    msr fpcr, x9
    add sp, sp, #176
    ret
    .size cio__ctx_switch, .-cio__ctx_switch

/* First code run on a new context: entry in x19, its argument in x20. */
    .globl cio__ctx_trampoline
    .hidden cio__ctx_trampoline
    .type cio__ctx_trampoline, %function
    .p2align 4
cio__ctx_trampoline:
    mov x29, #0
    mov x30, #0
    mov x0, x20
    blr x19
    brk #0
    .size cio__ctx_trampoline, .-cio__ctx_trampoline

    .section .note.GNU-stack,"",%progbits
