/*
 * start.S — the host shim's process entry (Linux x86_64, static, no libc): align the
 * stack and hand over to host_start (host.c), which never returns.
 */
    .text
    .globl _start
_start:
    xor     %ebp, %ebp
    and     $-16, %rsp
    call    host_start
    ud2

    .section .note.GNU-stack, "", @progbits   /* no executable stack */
