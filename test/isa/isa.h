/* Self-checking instruction tests: a failed CHECK exits through the test finisher with
 * the check's number as the exit code; PASS prints "PASS <name>" and exits 0. */
#define FINISHER 0x100000
#define UART 0x10000000

/* Compare register `reg` with the 64-bit constant `expected`; on mismatch exit(id). */
#define CHECK(id, reg, expected) \
    li t6, expected;             \
    li a7, id;                   \
    bne reg, t6, fail

/* Shared tail: fail exits with a7; pass prints and exits 0. */
#define TEST_TAIL(name)                  \
fail:                                    \
    li t0, FINISHER;                     \
    slli a7, a7, 16;                     \
    ori a7, a7, 0x333;                   \
    li t1, 0x3000;                       \
    or a7, a7, t1;                       \
    sw a7, 0(t0);                        \
1:  j 1b;                                \
pass:                                    \
    la t1, pass_msg;                     \
    li t0, UART;                         \
2:  lbu t2, 0(t1);                       \
    beqz t2, 3f;                         \
    sb t2, 0(t0);                        \
    addi t1, t1, 1;                      \
    j 2b;                                \
3:  li t0, FINISHER;                     \
    li t1, 0x5555;                       \
    sw t1, 0(t0);                        \
4:  j 4b;                                \
    .section .rodata;                    \
pass_msg: .asciz "PASS " name "\n";      \
    .text
