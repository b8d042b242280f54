/* Context switch for x86-64, System V ABI.
 *
 * The callee-saved registers (rbx, rbp, r12-r15) and the FP control words
 * (MXCSR, x87 CW) are pushed on the running stack, the stack pointer is
 * stored in *from, and the same frame is popped from *to's stack. */

    .text

/* void cio__ctx_switch(cio__ctx *from, cio__ctx *to) */
    .globl cio__ctx_switch
    .hidden cio__ctx_switch
    .type cio__ctx_switch, @function
    .p2align 4
cio__ctx_switch:
    .cfi_startproc
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $8, %rsp
    stmxcsr (%rsp)
    fnstcw 4(%rsp)
    movq %rsp, (%rdi)
    movq (%rsi), %rsp
    ldmxcsr (%rsp)
    fldcw 4(%rsp)
    addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .cfi_endproc
    .size cio__ctx_switch, .-cio__ctx_switch

/* First code run on a new context: cio__ctx_make() left the entry function
 * in r12 and its argument in r13. The stack is 16-byte aligned here. */
    .globl cio__ctx_trampoline
    .hidden cio__ctx_trampoline
    .type cio__ctx_trampoline, @function
    .p2align 4
cio__ctx_trampoline:
    .cfi_startproc
    .cfi_undefined rip
    movq %r13, %rdi
    callq *%r12
    ud2
    .cfi_endproc
    .size cio__ctx_trampoline, .-cio__ctx_trampoline

    .section .note.GNU-stack,"",@progbits
