/* Context switch for x86-64, System V ABI.
 *
 * The callee-saved registers (rbx, rbp, r12-r15) and the FP control words
 * (MXCSR, x87 CW) are pushed on the running stack, the stack pointer is
 * stored in *from, and the same frame is popped from *to's stack.
 *
 * Saving and resuming are separate entry points, so that entering a new
 * context and leaving an ended one keep calls and returns paired (see
 * CIO__CTX_PAIRED in switch.h):
 *   cio__ctx_switch   save, then cio__ctx_resume
 *   cio__ctx_resume   pop *to's frame and return into it
 *   cio__ctx_start    save, then cio__ctx_enter
 *   cio__ctx_enter    jump into the entry of a frame cio__ctx_make() laid out */

    .text

/* Pushes the running context's frame and stores its stack pointer in
 * *%rdi. */
.macro SAVE_CONTEXT
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
.endm

/* void cio__ctx_switch(cio__ctx *from, cio__ctx *to) */
    .globl cio__ctx_switch
    .hidden cio__ctx_switch
    .type cio__ctx_switch, @function
    .p2align 4
cio__ctx_switch:
    .cfi_startproc
    SAVE_CONTEXT
    movq %rsi, %rdi
    /* fall through: resume *to */
    .cfi_endproc
    .size cio__ctx_switch, .-cio__ctx_switch

/* void cio__ctx_resume(cio__ctx *to): resumes *to without saving anything,
 * from a context that has ended. Reached by a jump (see switch.h), so that
 * its `ret` consumes the return address that the call into the context
 * switch pushed when *to was left. */
    .globl cio__ctx_resume
    .hidden cio__ctx_resume
    .type cio__ctx_resume, @function
cio__ctx_resume:
    .cfi_startproc
    movq (%rdi), %rsp
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
    .size cio__ctx_resume, .-cio__ctx_resume

/* void cio__ctx_start(cio__ctx *from, cio__ctx *to): as cio__ctx_switch(),
 * to a context that cio__ctx_make() laid out and that has never run. It is
 * entered with a jump, where cio__ctx_switch() would `ret` into the
 * trampoline: a `ret` would consume the return address that this very call
 * pushed on the return stack buffer, and the return that comes when
 * something switches back here would then mispredict. */
    .globl cio__ctx_start
    .hidden cio__ctx_start
    .type cio__ctx_start, @function
    .p2align 4
cio__ctx_start:
    .cfi_startproc
    SAVE_CONTEXT
    movq %rsi, %rdi
    /* fall through: enter *to */
    .cfi_endproc
    .size cio__ctx_start, .-cio__ctx_start

/* void cio__ctx_enter(cio__ctx *to): enters a context that has never run,
 * without saving anything, from one that has ended; reached by a jump. The
 * frame is cio__ctx_make()'s: control words, then r13 = argument and
 * r12 = entry at 24 and 32, the trampoline's address at 56. */
    .globl cio__ctx_enter
    .hidden cio__ctx_enter
    .type cio__ctx_enter, @function
cio__ctx_enter:
    .cfi_startproc
    .cfi_undefined rip
    movq (%rdi), %rax
    leaq 64(%rax), %rsp
    ldmxcsr (%rax)
    fldcw 4(%rax)
    movq 24(%rax), %rdi
    movq 32(%rax), %rcx
    xorl %ebp, %ebp
    /* The entry runs as if called (the stack 8 mod 16) and never returns:
     * a null return address ends backtraces. */
    pushq $0
    jmpq *%rcx
    .cfi_endproc
    .size cio__ctx_enter, .-cio__ctx_enter

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
