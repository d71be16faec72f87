/*
 * sync.c — spin locks, the all-harts barrier and atomic_add, on the compiler's
 * __atomic builtins (AMOs on rv64, LOCK-prefixed instructions on x86_64). Every
 * operation is sequentially consistent, so each call is also a full memory barrier.
 */
#include "runtime.h"

void cpu_relax(void)
{
    rt_cpu_relax();
}

unsigned long atomic_add(volatile unsigned long *p, unsigned long v)
{
    return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST);
}

void spin_lock(spinlock_t *lock)
{
    while (__atomic_exchange_n(&lock->locked, 1u, __ATOMIC_SEQ_CST) != 0) {
        /* Wait with plain loads, so waiters do not keep writing the lock's line. */
        while (__atomic_load_n(&lock->locked, __ATOMIC_RELAXED) != 0)
            rt_cpu_relax();
    }
}

void spin_unlock(spinlock_t *lock)
{
    __atomic_store_n(&lock->locked, 0u, __ATOMIC_SEQ_CST);
}

/*
 * Generation-counting barrier. A hart reads the generation before it arrives, so it
 * knows which round it waits for; the last hart to arrive resets the count *before*
 * publishing the next generation, so a hart that races ahead into the next round
 * always finds the count reset. All-zero is a valid initial state.
 */
void barrier_wait(barrier_t *barrier)
{
    unsigned long generation = __atomic_load_n(&barrier->generation, __ATOMIC_SEQ_CST);
    unsigned long harts = num_harts();

    if (__atomic_fetch_add(&barrier->arrived, 1, __ATOMIC_SEQ_CST) == harts - 1) {
        __atomic_store_n(&barrier->arrived, 0, __ATOMIC_SEQ_CST);
        __atomic_store_n(&barrier->generation, generation + 1, __ATOMIC_SEQ_CST);
        rt_release_hint();
        return;
    }
    while (__atomic_load_n(&barrier->generation, __ATOMIC_SEQ_CST) == generation)
        rt_cpu_relax();
}
