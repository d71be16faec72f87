/*
 * host.c — the guest API as a Linux process on the host (no libc: raw system calls), so
 * that the same workload source runs natively and the bench can compare a kvm guest with
 * the same program on the host (bench/kvm.ts). One hart; no timer interrupts and no disk
 * (timer_start does nothing, disk_sectors is 0): for the compute workloads. At exit it
 * reports on stderr how long the program ran from entry to exit:
 *     rrkit-host: NNN ns
 */
#include "runtime.h"

#define SYS_read 0
#define SYS_write 1
#define SYS_clock_gettime 228
#define SYS_exit_group 231
#define SYS_getrandom 318
#define CLOCK_MONOTONIC 1

static long syscall3(long n, long a, long b, long c)
{
    long ret;
    __asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
    return ret;
}

static char out[4096];
static unsigned long out_len;
static unsigned long started_ns;

static void flush(void)
{
    unsigned long done = 0;
    while (done < out_len) {
        long n = syscall3(SYS_write, 1, (long)(out + done), (long)(out_len - done));
        if (n <= 0)
            break;
        done += (unsigned long)n;
    }
    out_len = 0;
}

int putchar(int c)
{
    out[out_len++] = (char)c;
    if (c == '\n' || out_len == sizeof out)
        flush();
    return (unsigned char)c;
}

int getchar(void)
{
    unsigned char c;
    return syscall3(SYS_read, 0, (long)&c, 1) == 1 ? c : -1;
}

unsigned long clock_ns(void)
{
    struct { long sec, nsec; } ts;
    syscall3(SYS_clock_gettime, CLOCK_MONOTONIC, (long)&ts, 0);
    return (unsigned long)ts.sec * 1000000000ul + (unsigned long)ts.nsec;
}

unsigned long random_u64(void)
{
    unsigned long v = 0;
    syscall3(SYS_getrandom, (long)&v, sizeof v, 0);
    return v;
}

unsigned hart_id(void) { return 0; }
unsigned num_harts(void) { return 1; }

void timer_start(unsigned long period_ns, void (*handler)(void))
{
    (void)period_ns;
    (void)handler;
}

void timer_stop(void) {}

unsigned long disk_sectors(void) { return 0; }

int disk_read(unsigned long sector, unsigned long count, void *buffer)
{
    (void)sector;
    (void)count;
    (void)buffer;
    return -1;
}

/* "rrkit-host: N ns\n" on stderr, without printf (which writes to stdout). */
static void report_elapsed(unsigned long ns)
{
    char text[48] = "rrkit-host: ";
    char digits[24];
    int n = 0, at = 12;
    do
        digits[n++] = (char)('0' + ns % 10);
    while ((ns /= 10) != 0);
    while (n > 0)
        text[at++] = digits[--n];
    const char *unit = " ns\n";
    while (*unit)
        text[at++] = *unit++;
    syscall3(SYS_write, 2, (long)text, at);
}

void exit(int code)
{
    unsigned long elapsed = clock_ns() - started_ns;
    flush();
    report_elapsed(elapsed);
    for (;;)
        syscall3(SYS_exit_group, code, 0, 0);
}

int main(void);

__attribute__((noreturn)) void host_start(void)
{
    started_ns = clock_ns();
    exit(main());
}
