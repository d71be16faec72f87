/* Port I/O, which the x86_64 board does not have (its devices are MMIO). */
/* Raw: no rrkit runtime, entered at _start (CPL0) by the VMM; linked at 0x100000. */
    .globl _start
    .text
_start:
    mov $0x42, %al
    out %al, $0x80
    hlt
    .data
    .balign 16
    .space 4096                         /* the boot stack */
    .globl __boot_stack_top, __image_end
__boot_stack_top:
__image_end:
