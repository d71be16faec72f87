/*
 * start.S — x86_64 entry, every hart. The VMM has set up long mode, paging, the GDT and
 * each hart's TSS (docs/platform.md) and enters _start at CPL0 with interrupts disabled,
 * rdi = hart id, rsi = the hart's area (hart_area.h), FS.base = the same area and rsp =
 * the area's boot stack top.
 *
 * CPL0 code is emulated and slow on the nested PVM backend, so CPL0 does only what
 * needs it: fill and load this hart's IDT, then IRETQ to user_start at CPL3, where
 * everything else (reading the hart count, main) runs at native speed. RAM starts zeroed
 * (the VMM guarantees it), so .bss needs no clearing and no hart waits for another.
 */
#include "rrkit.h"
#include "hart_area.h"

#define USER_CODE_SELECTOR 0x1b
#define USER_DATA_SELECTOR 0x23
#define RFLAGS_IF_RESERVED 0x202   /* IF set, bit 1 always set */

    .code64
    .section .text.start, "ax", @progbits
    .globl _start
_start:
    mov     %rsi, %fs:0                    /* hart_local.self */
    mov     %rdi, %fs:8                    /* hart_local.id */
    mov     %rsi, %r12                     /* callee-saved: the area */
    lea     HART_IDT_OFFSET(%rsi), %rdi
    call    x86_idt_init

    mov     $USER_DATA_SELECTOR, %ax
    mov     %ax, %ds
    mov     %ax, %es
    pushq   $USER_DATA_SELECTOR            /* ss */
    lea     HART_USER_STACK_TOP(%r12), %rax
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
    cmpq    $0, %fs:8
    jne     1f
    call    exit
1:  call    x86_hart_park                  /* other harts stop for good */

    /*
     * The harts' areas, outside .bss: stacks, IDTs and hart-local data (hart_area.h). The
     * boot stack is also the CPL0 interrupt stack: the VMM points the hart's TSS.RSP0 at
     * its top, which is free once the hart has left CPL0 for good.
     */
    .section .stacks, "aw", @nobits
    .balign 4096
    .globl  __hart_areas
__hart_areas:
    .space  RRKIT_MAX_HARTS * HART_AREA_BYTES
    .globl  __boot_stack_top               /* hart 0's, for single-vCPU tools */
    .set    __boot_stack_top, __hart_areas + HART_BOOT_STACK_TOP

    .section .note.GNU-stack, "", @progbits   /* no executable stack */
