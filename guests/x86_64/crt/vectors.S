/*
 * vectors.S — interrupt and exception entry stubs (CPL0). The CPU switches to
 * TSS.RSP0 when it interrupts CPL3 code, so the workload's stack and red zone are
 * never touched.
 */
    .code64
    .text

/* Exceptions: push a uniform frame (vector, error code) and report. */
.macro EXCEPTION vector, has_error_code
exception_\vector:
    .if !\has_error_code
    pushq   $0
    .endif
    pushq   $\vector
    jmp     exception_common
.endm

    EXCEPTION 0, 0
    EXCEPTION 1, 0
    EXCEPTION 2, 0
    EXCEPTION 3, 0
    EXCEPTION 4, 0
    EXCEPTION 5, 0
    EXCEPTION 6, 0
    EXCEPTION 7, 0
    EXCEPTION 8, 1
    EXCEPTION 9, 0
    EXCEPTION 10, 1
    EXCEPTION 11, 1
    EXCEPTION 12, 1
    EXCEPTION 13, 1
    EXCEPTION 14, 1
    EXCEPTION 15, 0
    EXCEPTION 16, 0
    EXCEPTION 17, 1
    EXCEPTION 18, 0
    EXCEPTION 19, 0
    EXCEPTION 20, 0
    EXCEPTION 21, 1
    EXCEPTION 22, 0
    EXCEPTION 23, 0
    EXCEPTION 24, 0
    EXCEPTION 25, 0
    EXCEPTION 26, 0
    EXCEPTION 27, 0
    EXCEPTION 28, 0
    EXCEPTION 29, 1
    EXCEPTION 30, 1
    EXCEPTION 31, 0

exception_common:                   /* stack: vector, error, rip, cs, rflags, rsp, ss */
    cld
    mov     0(%rsp), %rdi
    mov     8(%rsp), %rsi
    mov     16(%rsp), %rdx
    and     $-16, %rsp
    call    x86_exception           /* does not return */
1:  hlt
    jmp     1b

    .section .rodata
    .balign 8
    .globl x86_exception_stubs
x86_exception_stubs:
    .irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    .quad   exception_\v
    .endr

/*
 * Device interrupts (0x20 timer, 0x21 disk): save the registers a C call may clobber
 * (guests are built with -mgeneral-regs-only, so there is no SSE state to save), call
 * x86_interrupt(vector) on a 16-byte aligned stack, restore, IRETQ.
 */
.macro DEVICE_INTERRUPT name, vector
    .text
    .globl \name
\name:
    pushq   %rbp
    mov     %rsp, %rbp
    pushq   %rax
    pushq   %rcx
    pushq   %rdx
    pushq   %rsi
    pushq   %rdi
    pushq   %r8
    pushq   %r9
    pushq   %r10
    pushq   %r11
    and     $-16, %rsp
    cld
    mov     $\vector, %edi
    call    x86_interrupt
    lea     -72(%rbp), %rsp
    popq    %r11
    popq    %r10
    popq    %r9
    popq    %r8
    popq    %rdi
    popq    %rsi
    popq    %rdx
    popq    %rcx
    popq    %rax
    popq    %rbp
    iretq
.endm

    DEVICE_INTERRUPT x86_timer_stub, 0x20
    DEVICE_INTERRUPT x86_disk_stub, 0x21

    .section .note.GNU-stack, "", @progbits   /* no executable stack */
