/*
 * start.S — x86_64 entry. The VMM has set up long mode, paging, the GDT and the TSS
 * (docs/platform.md) and enters _start at CPL0 with interrupts disabled,
 * rdi = hart id, rsp = __boot_stack_top.
 *
 * CPL0 code is emulated and slow on the nested PVM backend, so CPL0 does only what
 * needs it: load the IDT, then IRETQ to user_start at CPL3, where everything else
 * (reading the hart count, main) runs at native speed. RAM starts zeroed (the VMM
 * guarantees it), so .bss needs no clearing.
 */
#include "rrkit.h"

#define USER_CODE_SELECTOR 0x1b
#define USER_DATA_SELECTOR 0x23
#define RFLAGS_IF_RESERVED 0x202   /* IF set, bit 1 always set */

    .code64
    .section .text.start, "ax", @progbits
    .globl _start
_start:
    lea     __boot_stack_top(%rip), %rsp
    mov     %rdi, x86_boot_hart_id(%rip)
    call    x86_idt_init

    mov     $USER_DATA_SELECTOR, %ax
    mov     %ax, %ds
    mov     %ax, %es
    pushq   $USER_DATA_SELECTOR            /* ss */
    lea     __user_stack_top(%rip), %rax
    pushq   %rax                           /* rsp */
    pushq   $RFLAGS_IF_RESERVED            /* rflags */
    pushq   $USER_CODE_SELECTOR            /* cs */
    lea     user_start(%rip), %rax
    pushq   %rax                           /* rip */
    iretq

    .text
user_start:                                /* CPL3 from here on */
    call    x86_user_init
    call    main
    mov     %eax, %edi                     /* hart 0's return value is the exit code */
    call    exit

    /*
     * Stacks, outside .bss. The boot stack is also the CPL0 interrupt stack: the
     * VMM points TSS.RSP0 at __boot_stack_top, which is free once the CPU has left CPL0 for good.
     */
    .section .stacks, "aw", @nobits
    .balign 16
    .space  0x4000
    .globl  __boot_stack_top
__boot_stack_top:
    .space  0x40000
    .globl  __user_stack_top
__user_stack_top:

    .section .note.GNU-stack, "", @progbits   /* no executable stack */
