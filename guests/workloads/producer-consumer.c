/*
 * producer-consumer — harts pair up (0→1, 2→3, ...) over single-producer single-
 * consumer ring buffers; a hart left without a partner (odd count, or one hart) fills
 * and drains its own ring in turns. The items are split among the rings; each
 * consumer checks that items arrive complete and in order. The sum over all items
 * does not depend on the hart count.
 *
 * The ring's indices are published with the compiler's __atomic release/acquire
 * operations, so the item is visible before the index that announces it. Each ring
 * has a page of its own, so that pairs share nothing with each other (rrkit.h).
 */
#include "rrkit.h"

#ifdef RRKIT_SMALL
#define ITEMS 20000ul
#else
#define ITEMS 2000000ul
#endif
#define RING_SLOTS 64 /* a power of two */

struct item {
    unsigned long sequence, value;
};

struct RRKIT_PAGE_ALIGNED ring {
    unsigned long head; /* written by the producer: items published */
    unsigned long tail; /* written by the consumer: items taken */
    struct item slot[RING_SLOTS];
};

static struct ring rings[RRKIT_MAX_HARTS / 2 + 1];
static volatile unsigned long total_sum, failures;
static barrier_t barrier;

static unsigned long value_of(unsigned long sequence)
{
    return sequence * 0x9e3779b97f4a7c15ul >> 13;
}

static int try_put(struct ring *r, unsigned long sequence)
{
    unsigned long head = r->head;
    if (head - __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE) == RING_SLOTS)
        return 0; /* full */
    r->slot[head % RING_SLOTS] = (struct item){ sequence, value_of(sequence) };
    __atomic_store_n(&r->head, head + 1, __ATOMIC_RELEASE);
    return 1;
}

/* Takes the next item, which must be `expected`; adds its value to *sum. */
static int try_take(struct ring *r, unsigned long expected, unsigned long *sum)
{
    unsigned long tail = r->tail;
    if (__atomic_load_n(&r->head, __ATOMIC_ACQUIRE) == tail)
        return 0; /* empty */
    struct item it = r->slot[tail % RING_SLOTS];
    __atomic_store_n(&r->tail, tail + 1, __ATOMIC_RELEASE);
    if (it.sequence != expected || it.value != value_of(expected))
        atomic_add(&failures, 1);
    *sum += it.value;
    return 1;
}

int main(void)
{
    unsigned me = hart_id(), harts = num_harts();
    unsigned rings_used = (harts + 1) / 2;
    unsigned r = me / 2;
    int paired = (me | 1) < harts;
    unsigned long first = ITEMS * r / rings_used, last = ITEMS * (r + 1) / rings_used;
    struct ring *ring = &rings[r];
    unsigned long sum = 0;

    if (!paired) { /* alone: produce until full, then drain */
        for (unsigned long produced = first, consumed = first; consumed < last;) {
            while (produced < last && try_put(ring, produced))
                produced++;
            while (try_take(ring, consumed, &sum))
                consumed++;
        }
    } else if (me % 2 == 0) {
        for (unsigned long s = first; s < last; s++)
            while (!try_put(ring, s))
                cpu_relax();
    } else {
        for (unsigned long s = first; s < last; s++)
            while (!try_take(ring, s, &sum))
                cpu_relax();
    }
    atomic_add(&total_sum, sum);
    barrier_wait(&barrier);
    if (me != 0)
        return 0;

    unsigned long expected = 0;
    for (unsigned long s = 0; s < ITEMS; s++)
        expected += value_of(s);
    int ok = failures == 0 && total_sum == expected;
    printf("producer-consumer: %s items=%lu sum=%016lx\n", ok ? "ok" : "FAIL", ITEMS,
           total_sum);
    return ok ? 0 : 1;
}
