/* An x87 load from the devices page: KVM must emulate an MMIO access, and its emulator has
 * no x87 loads, so it reports an emulation failure. */
/* Raw: no rrkit runtime, entered at _start (CPL0) by the VMM; linked at 0x100000. */
    .globl _start
    .text
_start:
    mov $0xd0000018, %rax
    fildq (%rax)
    hlt
    .data
    .balign 16
    .space 4096                         /* the boot stack */
    .globl __boot_stack_top, __image_end
__boot_stack_top:
__image_end:
