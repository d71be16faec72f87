/*
 * rrkit.h — the whole guest API, the same on every architecture (rv64, x86_64).
 *
 * Guests are freestanding: there is no libc, only what is declared here. Standard C
 * names are used where libc has the function; the platform gets descriptive names.
 * Guests are integer-only (rv64ima has no FPU), so results are bit-identical across
 * architectures and engines.
 *
 * Every hart runs `int main(void)`. The machine stops when any hart calls exit(code) or
 * when hart 0 returns from main (its return value is the exit code); other harts that
 * return from main park for good.
 */
#ifndef RRKIT_H
#define RRKIT_H

/* The most harts a runtime supports; extra harts park at boot and are not counted. */
#define RRKIT_MAX_HARTS 64

/*
 * Data one hart writes alone belongs on its own page. Under CREW (SMP recording) write
 * ownership moves per page, 4 KiB by default, so two harts writing one page take turns
 * owning it: false sharing as with cache lines on hardware, but each turn costs
 * microseconds. Align per-hart arrays whose rows are whole pages, or pad each row:
 *     static struct { unsigned v[256]; } RRKIT_PAGE_ALIGNED counts[RRKIT_MAX_HARTS];
 */
#define RRKIT_PAGE_SIZE 4096
#define RRKIT_PAGE_ALIGNED __attribute__((aligned(RRKIT_PAGE_SIZE)))

#ifndef __ASSEMBLER__ /* the runtimes' start-up code includes this for the constant */

#include <stddef.h>

/* --- console and exit ------------------------------------------------------------- */

int putchar(int c);
int puts(const char *s);            /* writes s and a newline */
/* Formats: %d %u %ld %lu %x %lx %s %c %%, with an optional '0' flag and width (%08lx).
 * A whole printf call reaches the console without interleaving with other harts. */
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int getchar(void);                  /* the next input byte, or -1 when none is waiting */
void exit(int code) __attribute__((noreturn));

/* --- memory and strings ----------------------------------------------------------- */

void *memcpy(void *restrict dst, const void *restrict src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);

/* --- harts ------------------------------------------------------------------------ */

unsigned hart_id(void);             /* 0 .. num_harts() - 1 */
unsigned num_harts(void);           /* 1 .. RRKIT_MAX_HARTS */
/* Spin-wait hint: call it in every busy-wait loop. Under SMP recording the engine then
 * lets the hart sleep until what it waits on can have changed, instead of spinning. */
void cpu_relax(void);

/* --- inputs from the world (each read is logged by a recording engine) ------------ */

unsigned long clock_ns(void);       /* host clock, nanoseconds */
unsigned long random_u64(void);     /* host entropy */

/* A periodic interrupt on the calling hart, driven by host time. The handler runs in
 * interrupt context: keep it short, and do not take a lock its hart may already hold. */
void timer_start(unsigned long period_ns, void (*handler)(void));
void timer_stop(void);

/* --- the disk (boards with a block device: x86_64 on kvm with --disk FILE) ---------- */

#define RRKIT_SECTOR_SIZE 512

/* The attached disk's size in 512-byte sectors; 0 when the board has no disk. */
unsigned long disk_sectors(void);
/* Reads `count` sectors from `sector` on into `buffer` (by DMA; hart 0 only). Returns 0,
 * or -1 when the request lies outside the disk or there is no disk. */
int disk_read(unsigned long sector, unsigned long count, void *buffer);

/* --- synchronisation (each call is a full memory barrier) ------------------------- */

/* A zero-initialised lock is unlocked. */
typedef struct {
    volatile unsigned int locked;
} spinlock_t;

void spin_lock(spinlock_t *lock);
void spin_unlock(spinlock_t *lock);

/* Waits until all num_harts() harts have arrived. A zero-initialised barrier is ready
 * and can be reused for any number of rounds. Each barrier fills a page of its own: every
 * hart writes it at every round, and data that one hart writes meanwhile must not share
 * its page (RRKIT_PAGE_ALIGNED). A lock, by contrast, is best on the page of the data it
 * guards: taking it then brings the data along. */
typedef struct RRKIT_PAGE_ALIGNED {
    volatile unsigned long arrived;
    volatile unsigned long generation;
} barrier_t;

void barrier_wait(barrier_t *barrier);

/* Adds v to *p atomically and returns the value *p held before. */
unsigned long atomic_add(volatile unsigned long *p, unsigned long v);

#endif /* __ASSEMBLER__ */
#endif /* RRKIT_H */
