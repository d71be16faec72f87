/*
 * devices.h — the x86_64 board's devices page (docs/platform.md) and its accessors.
 *
 * Every device access is a single 64-bit MOV between a general register and memory
 * addressed by a register, so the VMM's MMIO decoder needs to handle only that form.
 */
#ifndef RRKIT_X86_64_DEVICES_H
#define RRKIT_X86_64_DEVICES_H

#include "runtime.h"

#define DEVICES_BASE          0xd0000000ul

#define DEVICE_CONSOLE_TX     0x00 /* write: low byte */
#define DEVICE_CONSOLE_RX     0x08 /* read: next byte, or all ones */
#define DEVICE_EXIT           0x10 /* write: exit code */
#define DEVICE_CLOCK_NS       0x18 /* read */
#define DEVICE_ENTROPY        0x20 /* read */
#define DEVICE_TIMER_PERIOD   0x28 /* write: ns; 0 stops */
#define DEVICE_HARTS          0x30 /* read */
#define DEVICE_EOI            0x38 /* write: the vector whose handler finished */
#define DEVICE_DISK_SECTORS   0x40 /* read: disk size in sectors, 0 without a disk */
#define DEVICE_DISK_SECTOR    0x48 /* write: first sector of the next request */
#define DEVICE_DISK_ADDRESS   0x50 /* write: buffer (guest-physical = virtual) */
#define DEVICE_DISK_COUNT     0x58 /* write: sectors to read; starts the request */
#define DEVICE_DISK_STATUS    0x60 /* read: 0 idle, 1 busy, 2 error */
#define DEVICE_CONSOLE_WRITE  0x68 /* write: (length << 48) | address: transmit a buffer */
#define DEVICE_RELAX          0x70 /* write: the spin-wait hint (cpu_relax) */
#define DEVICE_PARK           0x78 /* write: this hart is done (a hart other than 0 returned from main) */

#define CONSOLE_WRITE_LENGTH_SHIFT 48

#define DISK_STATUS_IDLE      0
#define DISK_MAX_REQUEST      256  /* sectors per request */

#define TIMER_VECTOR          0x20
#define DISK_VECTOR           0x21

void x86_console_flush(void); /* console.c: out with the line collected so far */
void x86_hart_park(void) __attribute__((noreturn)); /* harts.c */

static inline unsigned long device_read(unsigned long offset)
{
    unsigned long v;
    __asm__ volatile("movq (%1), %0" : "=r"(v) : "r"(DEVICES_BASE + offset) : "memory");
    return v;
}

static inline void device_write(unsigned long offset, unsigned long v)
{
    __asm__ volatile("movq %0, (%1)" ::"r"(v), "r"(DEVICES_BASE + offset) : "memory");
}

#endif /* RRKIT_X86_64_DEVICES_H */
