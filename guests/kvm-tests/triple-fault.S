/* A triple fault: at CPL0, an empty IDT and then an undefined instruction (#UD, then #GP
 * and #DF find no gate). KVM reports a shutdown. */
/* Raw: no rrkit runtime, entered at _start (CPL0) by the VMM; linked at 0x100000. */
    .globl _start
    .text
_start:
    lidt idt_none(%rip)
    ud2
    .data
idt_none: .word 0
    .quad 0
    .balign 16
    .space 4096
    .globl __boot_stack_top, __image_end
__boot_stack_top:
__image_end:
