/*
 * start.S — every hart's first instructions (rv64, M-mode).
 *
 * Each hart enters at _start with a0 = mhartid and a1 = device tree (QEMU) or 0
 * (rrkit). Hart 0 runs rv64_boot_primary (reads the hart count, clears .bss off rrkit) while
 * the others wait on `boot_released`, which lives in .data so that clearing .bss
 * cannot race with it. Then every hart runs main on its own stack.
 */
#include "rrkit.h"

#define HART_STACK_SIZE 0x10000 /* 64 KiB; big arrays belong in .bss, not on the stack */

    .section .text.start, "ax", @progbits
    .globl _start
_start:
    csrw    mie, zero               /* no interrupts until a hart starts a timer */
    .option push
    .option norelax                 /* gp must be set before anything is relaxed against it */
    la      gp, __global_pointer$
    .option pop

    li      t0, RRKIT_MAX_HARTS
    bgeu    a0, t0, park            /* harts beyond what the runtime supports */

    /* sp = top of this hart's stack: stacks_top - hartid * HART_STACK_SIZE */
    la      sp, stacks_top
    li      t0, HART_STACK_SIZE
    mul     t0, t0, a0
    sub     sp, sp, t0

    la      t0, trap_entry
    csrw    mtvec, t0

    bnez    a0, wait_for_release
    mv      a0, a1                  /* hart 0: rv64_boot_primary(fdt) */
    call    rv64_boot_primary
    fence   rw, rw                  /* .bss and board facts before the release */
    li      t0, 1
    la      t1, boot_released
    sw      t0, 0(t1)
    j       run_main

wait_for_release:
    la      t1, boot_released
    j       3f
1:  .insn   i 0x0f, 0, x0, x0, 0x010  /* pause: the spin-wait hint (runtime.h, rt_cpu_relax) */
3:  lw      t0, 0(t1)
    beqz    t0, 1b
    fence   r, rw                   /* see hart 0's writes that came before the release */

run_main:
    call    main
    csrr    t0, mhartid
    bnez    t0, park                /* only hart 0's return stops the machine */
    call    exit                    /* a0 = main's return value */

park:
    csrw    mie, zero
2:  wfi
    j       2b

    .section .data
    .balign 4
boot_released:
    .word   0

    /* Per-hart stacks, outside .bss: hart 0 is using its stack while it clears .bss. */
    .section .stacks, "aw", @nobits
    .balign 16
    .space  RRKIT_MAX_HARTS * HART_STACK_SIZE
stacks_top:

    .section .note.GNU-stack, "", @progbits   /* no executable stack */
