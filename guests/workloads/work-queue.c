/*
 * work-queue — harts take tasks from a shared queue and write each result into a shared
 * table, written the ordinary way, without rrkit's habits: the queue's lock, its next
 * index and the done count share a struct, results from every hart land side by side in
 * one array, and the waits are bare loops, without cpu_relax(). Tasks differ in size, so
 * the harts take them in an order that depends on timing. Hart 0 works too, then busy-
 * waits until every task is done and checks each result against its own computation.
 */
#include "rrkit.h"

#ifdef RRKIT_SMALL
#define TASKS 512u
#define WORK 40u
#else
#define TASKS 8192u
#define WORK 1200u
#endif

static struct {
    volatile unsigned int lock;
    unsigned int next;          /* the next task to hand out */
    volatile unsigned int done; /* tasks finished */
} queue;
static unsigned long result[TASKS];

/* A task: a few thousand instructions, more for some tasks than for others. */
static unsigned long run_task(unsigned task)
{
    unsigned long h = 0xcbf29ce484222325ul ^ task;
    unsigned rounds = WORK + (task * 37u) % WORK;
    for (unsigned i = 0; i < rounds; i++) {
        h ^= h >> 29;
        h *= 0xbf58476d1ce4e5b9ul;
        h += i;
    }
    return h;
}

static void lock(void)
{
    for (;;) {
        while (__atomic_load_n(&queue.lock, __ATOMIC_RELAXED) != 0)
            ;
        if (__atomic_exchange_n(&queue.lock, 1u, __ATOMIC_ACQUIRE) == 0)
            return;
    }
}

static void unlock(void)
{
    __atomic_store_n(&queue.lock, 0u, __ATOMIC_RELEASE);
}

int main(void)
{
    unsigned me = hart_id();

    for (;;) {
        lock();
        unsigned task = queue.next;
        if (task < TASKS)
            queue.next++;
        unlock();
        if (task >= TASKS)
            break;
        result[task] = run_task(task);
        lock();
        queue.done++;
        unlock();
    }
    if (me != 0)
        return 0;

    while (__atomic_load_n(&queue.done, __ATOMIC_ACQUIRE) != TASKS)
        ;
    unsigned long digest = 0;
    unsigned wrong = 0;
    for (unsigned t = 0; t < TASKS; t++) {
        wrong += result[t] != run_task(t);
        digest = (digest ^ result[t]) * 0x100000001b3ul;
    }
    printf("work-queue: %s tasks=%u digest=%016lx\n", wrong == 0 ? "ok" : "FAIL", TASKS, digest);
    return wrong == 0 ? 0 : 1;
}
