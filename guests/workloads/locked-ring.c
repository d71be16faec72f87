/*
 * locked-ring — a lock-protected ring of items, written the ordinary way, without
 * rrkit's habits: the lock, the ring's indices, its counters and its slots sit side by
 * side in one struct (one page), the lock is a test-and-test-and-set spin lock, and every
 * busy-wait is a bare loop, without cpu_relax(): a producer waits for room and a consumer
 * for an item by watching the indices, then takes the lock. Even harts produce, odd harts
 * consume; hart 0, when it has produced its share, busy-waits on the count of finished
 * consumers. On one hart, hart 0 fills and drains the ring itself. Checks that every item
 * arrived once, complete: the count and the sum of their values.
 */
#include "rrkit.h"

#ifdef RRKIT_SMALL
#define ITEMS 20000ul
#else
#define ITEMS 1000000ul
#endif
#define SLOTS 16

struct item {
    unsigned long sequence, value;
};

static struct {
    volatile unsigned int lock;
    volatile unsigned long head, tail; /* items put, items taken */
    volatile unsigned long taken_total; /* consumers stop at ITEMS */
    volatile unsigned long sum;
    volatile unsigned int finished;     /* consumers done */
    struct item slot[SLOTS];
} ring;

static unsigned long value_of(unsigned long sequence)
{
    return sequence * 0x9e3779b97f4a7c15ul >> 17;
}

static void lock(void)
{
    for (;;) {
        while (__atomic_load_n(&ring.lock, __ATOMIC_RELAXED) != 0)
            ;
        if (__atomic_exchange_n(&ring.lock, 1u, __ATOMIC_ACQUIRE) == 0)
            return;
    }
}

static void unlock(void)
{
    __atomic_store_n(&ring.lock, 0u, __ATOMIC_RELEASE);
}

static int try_put(unsigned long sequence)
{
    int put = 0;
    lock();
    if (ring.head - ring.tail < SLOTS) {
        ring.slot[ring.head % SLOTS] = (struct item){ sequence, value_of(sequence) };
        ring.head++;
        put = 1;
    }
    unlock();
    return put;
}

/* 1: took one; 0: empty for now; -1: every item has been taken. */
static int try_take(unsigned long *sum)
{
    int took = 0;
    lock();
    if (ring.taken_total == ITEMS) {
        took = -1;
    } else if (ring.tail != ring.head) {
        struct item it = ring.slot[ring.tail % SLOTS];
        ring.tail++;
        ring.taken_total++;
        if (it.value == value_of(it.sequence))
            *sum += it.value;
        took = 1;
    }
    unlock();
    return took;
}

int main(void)
{
    unsigned me = hart_id(), harts = num_harts();
    unsigned producers = (harts + 1) / 2, consumers = harts / 2;
    unsigned long sum = 0;

    if (harts == 1) {
        for (unsigned long s = 0; s < ITEMS;) {
            while (s < ITEMS && try_put(s))
                s++;
            while (try_take(&sum) == 1)
                ;
        }
        ring.sum = sum;
    } else if (me % 2 == 0) {
        unsigned p = me / 2;
        for (unsigned long s = ITEMS * p / producers; s < ITEMS * (p + 1) / producers; s++) {
            do {
                while (ring.head - ring.tail >= SLOTS) /* full: wait for room */
                    ;
            } while (!try_put(s));
        }
    } else {
        int took;
        do {
            while (ring.tail == ring.head && ring.taken_total != ITEMS) /* empty: wait for an item */
                ;
        } while ((took = try_take(&sum)) >= 0);
        lock();
        ring.sum += sum;
        ring.finished++;
        unlock();
    }
    if (me != 0)
        return 0;

    while (__atomic_load_n(&ring.finished, __ATOMIC_ACQUIRE) != consumers)
        ;
    unsigned long expected = 0;
    for (unsigned long s = 0; s < ITEMS; s++)
        expected += value_of(s);
    int ok = ring.taken_total == ITEMS && ring.head == ITEMS && ring.sum == expected;
    printf("locked-ring: %s items=%lu sum=%016lx\n", ok ? "ok" : "FAIL", ring.taken_total, ring.sum);
    return ok ? 0 : 1;
}
