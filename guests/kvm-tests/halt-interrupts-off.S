/* HLT with interrupts disabled: nothing can ever wake the vCPU. */
/* Raw: no rrkit runtime, entered at _start (CPL0) by the VMM; linked at 0x100000. */
    .globl _start
    .text
_start:
    hlt
    .data
    .balign 16
    .space 4096                         /* the boot stack */
    .globl __boot_stack_top, __image_end
__boot_stack_top:
__image_end:
