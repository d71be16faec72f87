/* A taken conditional branch to a target that is not 4-byte aligned (no C extension):
 * instruction-address-misaligned, mcause 0, mepc = the branch, mtval = the target, and
 * nothing at the target runs (riscv-tests rv64mi-p-ma_fetch, test 6). The same branch not
 * taken raises nothing. Each of the six conditional branches. */
#include "isa.h"

/* Branch `insn` (taken when `taken` is 1) to 2 bytes past a 4-byte boundary. The handler
 * records mcause/mtval/mepc in s2/s3/s4, sets s5 and resumes at the branch + 4. */
#define MISALIGNED_BRANCH(id, insn, a, b, taken)   \
    li s2, -1; li s3, -1; li s4, -1; li s5, 0;     \
    li t0, a; li t1, b;                            \
    la s1, 91f;                                    \
91: insn t0, t1, 92f + 2;                          \
    j 93f;                                         \
92: .word 0x00100f13 /* li t5, 1: must not run */; \
    .word 0x00100f13;                              \
93: CHECK(id, s5, taken)

#define EXPECT_TRAP(id)                            \
    CHECK(id + 1, s2, 0);                          \
    bne s4, s1, fail_b;                            \
    la t2, 92b;                                    \
    addi t2, t2, 2;                                \
    bne s3, t2, fail_b

    .section .text.start, "ax"
    .globl _start
_start:
    la t0, handler
    csrw mtvec, t0
    li t5, 0
    MISALIGNED_BRANCH(10, beq, 5, 5, 1)
    EXPECT_TRAP(10)
    MISALIGNED_BRANCH(20, bne, 5, 6, 1)
    EXPECT_TRAP(20)
    MISALIGNED_BRANCH(30, blt, -1, 1, 1)
    EXPECT_TRAP(30)
    MISALIGNED_BRANCH(40, bge, 1, -1, 1)
    EXPECT_TRAP(40)
    MISALIGNED_BRANCH(50, bltu, 1, -1, 1)
    EXPECT_TRAP(50)
    MISALIGNED_BRANCH(60, bgeu, -1, 1, 1)
    EXPECT_TRAP(60)
    /* not taken: no trap, execution falls through */
    MISALIGNED_BRANCH(70, beq, 5, 6, 0)
    MISALIGNED_BRANCH(71, bne, 5, 5, 0)
    MISALIGNED_BRANCH(72, blt, 1, -1, 0)
    MISALIGNED_BRANCH(73, bge, -1, 1, 0)
    MISALIGNED_BRANCH(74, bltu, -1, 1, 0)
    MISALIGNED_BRANCH(75, bgeu, 1, -1, 0)
    /* nothing at a misaligned target ever ran */
    CHECK(80, t5, 0)
    j pass
fail_b:
    li a7, 99
    j fail

    .balign 4
handler:
    csrr s2, mcause
    csrr s3, mtval
    csrr s4, mepc
    li s5, 1
    addi t0, s4, 4
    csrw mepc, t0
    mret

TEST_TAIL("branch-misaligned")
