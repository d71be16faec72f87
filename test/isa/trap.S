/* Traps and interrupts: ecall, ebreak, illegal instructions (unknown CSR, write to a
 * read-only CSR), misaligned and faulting loads handled by the guest, mepc/mcause/mtval,
 * mstatus.MIE/MPIE through trap and mret, vectored mtvec with software (msip) and timer
 * (mtimecmp) interrupts, wfi, mscratch, minstret/mcycle, mhartid. */
#include "isa.h"
#define CLINT 0x2000000
#define MTIMECMP (CLINT + 0x4000)
#define MTIME (CLINT + 0xbff8)
    .section .text.start, "ax"
    .globl _start
_start:
    la t0, exception_handler
    csrw mtvec, t0
    csrr a0, mhartid;     CHECK(1, a0, 0)
    li t0, 0x1234
    csrw mscratch, t0
    csrrw a0, mscratch, zero; CHECK(2, a0, 0x1234)
    csrr a0, mscratch;    CHECK(3, a0, 0)
    /* ecall: mcause 11, mepc = the ecall, mtval 0; the handler skips it */
    la s1, 1f
1:  ecall
    CHECK(10, s2, 11)
    CHECK(11, s3, 0)
    bne s4, s1, fail_t
    /* ebreak: mcause 3 */
    ebreak
    CHECK(12, s2, 3)
    /* illegal: unknown CSR, mtval = the instruction */
    la s1, 1f
1:  csrr a0, 0x7c0
    CHECK(13, s2, 2)
    bne s4, s1, fail_t
    lw t0, 0(s1)
    bne s3, t0, fail_t
    /* write to a read-only CSR */
    csrw mhartid, zero
    CHECK(14, s2, 2)
    /* all-zero word: illegal */
    .word 0
    CHECK(15, s2, 2)
    /* misaligned load, load from an unmapped address, store to one */
    la t0, data
    addi t0, t0, 1
    lw a0, 0(t0)
    CHECK(16, s2, 4)
    bne s3, t0, fail_t
    li t0, 0x40000000
    ld a0, 0(t0)
    CHECK(17, s2, 5)
    CHECK(18, s3, 0x40000000)
    li t0, 0x1000
    sd a0, 0(t0)
    CHECK(19, s2, 7)
    /* MPIE/MIE: a trap with MIE set clears MIE and sets MPIE; mret restores */
    csrsi mstatus, 8
    ecall
    andi a0, s5, 0x88;    CHECK(20, a0, 0x80)   /* in the handler: MIE 0, MPIE 1 */
    csrr a0, mstatus
    andi a0, a0, 0x8;     CHECK(21, a0, 0x8)    /* after mret: MIE 1 again */
    csrci mstatus, 8
    /* minstret counts: two reads three instructions apart */
    csrr t0, minstret
    nop
    nop
    csrr t1, minstret
    sub a0, t1, t0;       CHECK(22, a0, 3)
    csrr t0, mcycle
    /* vectored mtvec: software interrupt lands at base + 4*3 */
    la t0, vectors
    ori t0, t0, 1
    csrw mtvec, t0
    li s6, 0
    li t0, 8                /* MSIE */
    csrw mie, t0
    li t1, CLINT
    li t0, 1
    sw t0, 0(t1)            /* msip[0] = 1: pending, but mstatus.MIE is 0 */
    csrr a0, mip
    andi a0, a0, 8;       CHECK(30, a0, 8)
    CHECK(31, s6, 0)
    csrsi mstatus, 8        /* now it is taken */
    nop
    nop
    CHECK(32, s6, 1)
    li t0, 0x8000000000000003
    bne s2, t0, fail_t
    /* timer: mtimecmp = mtime + 1 ms, wfi until it fires, vector 7 */
    li t0, 0x80              /* MTIE */
    csrw mie, t0
    li t1, MTIME
    ld t2, 0(t1)
    li t3, 10000
    add t2, t2, t3
    li t1, MTIMECMP
    sd t2, 0(t1)
1:  wfi
    beqz s7, 1b
    CHECK(33, s7, 1)
    li t0, 0x8000000000000007
    bne s2, t0, fail_t
    csrci mstatus, 8
    csrw mie, zero
    j pass
fail_t:
    li a7, 90
    j fail

/* Records mcause/mtval/mepc/mstatus in s2/s3/s4/s5 and resumes after the instruction. */
    .balign 4
exception_handler:
    csrr s2, mcause
    csrr s3, mtval
    csrr s4, mepc
    csrr s5, mstatus
    addi t5, s4, 4
    csrw mepc, t5
    mret

    .balign 64
vectors:
    j exception_handler     /* 0: exceptions */
    j fail_t                /* 1 */
    j fail_t                /* 2 */
    j software_interrupt    /* 3: MSI */
    j fail_t
    j fail_t
    j fail_t
    j timer_interrupt       /* 7: MTI */
    j fail_t

software_interrupt:
    csrr s2, mcause
    li t5, CLINT
    sw zero, 0(t5)          /* clear msip */
    addi s6, s6, 1
    mret

timer_interrupt:
    csrr s2, mcause
    li t5, MTIMECMP
    li t4, -1
    sd t4, 0(t5)            /* no further timer interrupts */
    addi s7, s7, 1
    mret

    TEST_TAIL("trap")
    .data
    .balign 8
data: .dword 0x1122334455667788
