/* The barrier between the threads of a recurrent layer's time loop.
 *
 * Each thread computes its own hidden units of a step, and the next step needs all of
 * them, so the threads meet once per step. A step is a few tens of microseconds, far
 * shorter than a sleep and a wake-up, so they spin; after 256 spins (a few microseconds)
 * a waiting thread yields its core at every turn, in case the other thread is not running
 * because another process has the core. Each thread publishes the
 * number of the last step it finished in its own cache line of `done`; nothing is ever
 * reset, so a fast thread cannot run into the next step's wait. The line's second slot
 * counts the steps at which the thread waited long, so the caller can tell that the
 * threads kept waiting for a core (another process busy on the machine).
 */
#ifndef MINIDL_STEP_BARRIER_H
#define MINIDL_STEP_BARRIER_H

#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define STEP_BARRIER_STRIDE 8 /* int64 slots per thread: 64 bytes, one cache line each */
#define STEP_BARRIER_SPINS 256
/* A wait counted as long: 50 us, most of a step. A shorter wait is the two halves of a
 * step taking a little more or less time; a thread that has lost its core waits milliseconds. */
#define STEP_BARRIER_LONG_WAIT_NS 50000

static int64_t step_barrier_now_ns(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
}

/* Thread `me` of `parties` has finished step `step` (counted from 0 in this loop): publish
 * it, and return once every thread has. done[p * STEP_BARRIER_STRIDE] starts below 0 and
 * done[p * STEP_BARRIER_STRIDE + 1], the steps at which thread p waited long, at 0. */
static void step_barrier(int64_t *done, ptrdiff_t parties, ptrdiff_t me, int64_t step) {
    unsigned spins = 0;
    int64_t yielding_since = 0;
    __atomic_store_n(&done[me * STEP_BARRIER_STRIDE], step, __ATOMIC_RELEASE);
    for (ptrdiff_t p = 0; p < parties; p++) {
        while (__atomic_load_n(&done[p * STEP_BARRIER_STRIDE], __ATOMIC_ACQUIRE) < step) {
            if (++spins < STEP_BARRIER_SPINS) {
#if defined(__x86_64__) || defined(__i386__)
                __builtin_ia32_pause();
#endif
            } else {
                if (!yielding_since) yielding_since = step_barrier_now_ns();
                sched_yield();
            }
        }
    }
    if (yielding_since && step_barrier_now_ns() - yielding_since >= STEP_BARRIER_LONG_WAIT_NS)
        done[me * STEP_BARRIER_STRIDE + 1]++; /* read after the threads are joined */
}

#endif
