/* Context switch for x86-64, System V ABI.
 *
 * The callee-saved registers (rbx, rbp, r12-r15) and the FP control words
 * (MXCSR, x87 CW) are pushed on the running stack, the stack pointer is
 * stored in *from, and the same frame is popped from *to's stack.
 *
 * A context that has never run is not popped but entered with a jump: its
 * saved stack pointer is cio__ctx_make()'s frame, tagged in bit 0. A `ret`
 * into it would consume the return address this switch's own call pushed on
 * the return stack buffer, and the return that resumes the caller later
 * would mispredict (see CIO__CTX_PAIRED in switch.h).
 *
 * Loading the control words (ldmxcsr, fldcw: microcoded, ~10 cycles
 * together) is skipped when the resumed context's match the ones in force,
 * as they nearly always do. The ABI makes only MXCSR's control bits
 * callee-saved; its status flags (bits 0-5) are caller-saved, so they are
 * left out of the comparison: they are sticky, and a context that has met
 * an inexact result would otherwise differ from one that has not for the
 * rest of the run. */

/* Private to cio. A shared build exports them all the same, for the tests
 * (cmake/exports.map); it links with -Bsymbolic-functions, so the
 * library's own calls stay direct. */
#ifdef CIO_SHARED
#define CIO_PRIVATE(sym)
#else
#define CIO_PRIVATE(sym) .hidden sym
#endif

    .text

/* void cio__ctx_resume(cio__ctx *to): resumes or enters *to, saving
 * nothing; reached by a jump from a context that has ended (switch.h).
 * It joins cio__ctx_switch() where that one has saved the running context:
 * the jump is on this, the rarer, path. */
    .globl cio__ctx_resume
    CIO_PRIVATE(cio__ctx_resume)
    .type cio__ctx_resume, @function
cio__ctx_resume:
    .cfi_startproc
    /* The words in force are unknown: an impossible MXCSR (its reserved
     * high bits set) makes the loads below happen. */
    movl $-1, %edx
    jmp 2f
    .cfi_endproc
    .size cio__ctx_resume, .-cio__ctx_resume

/* void cio__ctx_switch(cio__ctx *from, cio__ctx *to) */
    .globl cio__ctx_switch
    CIO_PRIVATE(cio__ctx_switch)
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
    /* Read back at their stores' own widths, which forwarding serves. */
    movl (%rsp), %edx
    movzwl 4(%rsp), %ecx
    movq %rsi, %rdi
2:
    /* %edx, %ecx: the MXCSR and x87 CW in force. */
    movq (%rdi), %rax
    testb $1, %al
    jnz 1f
    movq %rax, %rsp
    xorl (%rsp), %edx
    testl $~0x3f, %edx
    jnz 3f
    cmpw 4(%rsp), %cx
    jne 3f
4:
    addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
3:
    ldmxcsr (%rsp)
    fldcw 4(%rsp)
    jmp 4b
1:
    /* A new context. The frame (at %rax - 1) holds the control words, the
     * entry's argument at 8 and the entry at 16; its top, at 32, is 16-byte
     * aligned. */
    ldmxcsr -1(%rax)
    fldcw 3(%rax)
    movq 7(%rax), %rdi
    movq 15(%rax), %rcx
    leaq 31(%rax), %rsp
    xorl %ebp, %ebp
    /* The entry runs as if called (the stack 8 mod 16) and never returns:
     * a null return address ends backtraces. */
    pushq $0
    jmpq *%rcx
    .cfi_endproc
    .size cio__ctx_switch, .-cio__ctx_switch

    .section .note.GNU-stack,"",@progbits
