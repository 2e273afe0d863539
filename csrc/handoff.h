/* The worker thread that runs the second half of a kernel call, and the hand-over to it.
 *
 * handoff_post(fn, arg) has the worker call fn(arg) while the caller does its own half; the
 * caller then waits in handoff_wait. The worker is a plain thread that runs C functions, so a
 * kernel can split its work without the GIL on either side (minidl/kernels/threads.py runs
 * Python halves through it too, with a job that takes the GIL).
 *
 * A sleeping thread takes tens of microseconds to wake on a virtual machine (its core halts,
 * and waking it is a trip through the hypervisor), several times per convolution step. So
 * each side spins for a short, bounded time before it sleeps, as OpenMP's threads do, and
 * yields the core while it spins, so that BLAS's threads are not kept from it.
 *
 * One job at a time: `posted` counts the jobs handed over, `done` the ones finished, and
 * `busy` is held from handoff_post to handoff_wait. A second caller meanwhile (another thread,
 * or a job that splits its own work) is told to run its halves itself.
 */
#ifndef MINIDL_HANDOFF_H
#define MINIDL_HANDOFF_H

#include <stdint.h>

typedef void (*handoff_job)(void *arg);

#ifdef _WIN32
/* no POSIX threads: every caller runs both halves itself */
static int64_t handoff_worker_spin_ns, handoff_caller_spin_ns;
static inline long handoff_post(handoff_job fn, void *arg) { (void)fn; (void)arg; return -1; }
static inline void handoff_wait(long job) { (void)job; }
static inline void handoff_pair(handoff_job fn, void *a0, void *a1) { fn(a0); fn(a1); }
static inline void handoff_install_fork_handler(void) {}
#define HANDOFF_THREADED 0
#else
#define HANDOFF_THREADED 1

#include <time.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define HANDOFF_RELAX() _mm_pause()
#elif defined(__aarch64__)
#define HANDOFF_RELAX() __asm__ __volatile__("yield")
#else
#define HANDOFF_RELAX() ((void)0)
#endif

/* how long the worker spins for the next job, and the caller for the worker to finish,
 * before each sleeps: the worker's covers the Python between a training step's kernels, in
 * a small model's step too, whose split kernels come up to a millisecond apart */
static int64_t handoff_worker_spin_ns = 1000000;
static int64_t handoff_caller_spin_ns = 1000000;

static long handoff_posted, handoff_done;
static int handoff_busy, handoff_started, handoff_sleeping;
static handoff_job handoff_fn;
static void *handoff_arg;
static pthread_mutex_t handoff_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t handoff_wake = PTHREAD_COND_INITIALIZER;

static inline int64_t handoff_now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* Spin until *counter differs from `seen`, for at most spin_ns; whether it did. */
static inline int handoff_spin(const long *counter, long seen, int64_t spin_ns)
{
    int64_t deadline = handoff_now_ns() + spin_ns;
    for (;;) {
        for (int i = 0; i < 64; i++) {
            if (__atomic_load_n(counter, __ATOMIC_ACQUIRE) != seen) return 1;
            HANDOFF_RELAX();
        }
        if (handoff_now_ns() >= deadline) return 0;
        sched_yield();
    }
}

/* The worker waits for the job after `seen`. Its store to `sleeping` and load of `posted` pair
 * with handoff_post's store to `posted` and load of `sleeping`, in the opposite order, so one
 * of the two always sees the other and no wake is lost. */
static inline void handoff_wait_job(long seen)
{
    if (handoff_spin(&handoff_posted, seen, __atomic_load_n(&handoff_worker_spin_ns, __ATOMIC_RELAXED))) return;
    pthread_mutex_lock(&handoff_lock);
    __atomic_store_n(&handoff_sleeping, 1, __ATOMIC_SEQ_CST);
    while (__atomic_load_n(&handoff_posted, __ATOMIC_SEQ_CST) == seen)
        pthread_cond_wait(&handoff_wake, &handoff_lock);
    __atomic_store_n(&handoff_sleeping, 0, __ATOMIC_SEQ_CST);
    pthread_mutex_unlock(&handoff_lock);
}

static void *handoff_worker(void *unused)
{
    (void)unused;
    long job = __atomic_load_n(&handoff_done, __ATOMIC_ACQUIRE);  /* == posted before the first post */
    for (;;) {
        handoff_wait_job(job);
        job++;
        handoff_fn(handoff_arg);  /* written before `posted`, read after it: the acquire orders them */
        __atomic_store_n(&handoff_done, job, __ATOMIC_RELEASE);
    }
    return NULL;
}

/* Hand fn(arg) to the worker: the job's number, or -1 when the worker is taken or cannot be
 * started, and then the caller runs fn(arg) itself. */
static inline long handoff_post(handoff_job fn, void *arg)
{
    if (__atomic_exchange_n(&handoff_busy, 1, __ATOMIC_ACQUIRE)) return -1;
    if (!handoff_started) {
        pthread_t thread;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        sigset_t all, old;  /* the worker takes no signals: Python's threads handle them */
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, &old);
        int failed = pthread_create(&thread, &attr, handoff_worker, NULL);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        pthread_attr_destroy(&attr);
        if (failed) {
            __atomic_store_n(&handoff_busy, 0, __ATOMIC_RELEASE);
            return -1;
        }
        handoff_started = 1;
    }
    handoff_fn = fn;
    handoff_arg = arg;
    long job = __atomic_add_fetch(&handoff_posted, 1, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&handoff_sleeping, __ATOMIC_SEQ_CST)) {
        pthread_mutex_lock(&handoff_lock);
        pthread_cond_signal(&handoff_wake);
        pthread_mutex_unlock(&handoff_lock);
    }
    return job;
}

/* Wait until the worker has finished job `job` (from handoff_post, not -1). Spins, then gives
 * the core away between looks: the worker may be descheduled, or its half may be long. */
static inline void handoff_wait(long job)
{
    while (!handoff_spin(&handoff_done, job - 1, __atomic_load_n(&handoff_caller_spin_ns, __ATOMIC_RELAXED))) {
        struct timespec pause = {0, 20000};
        nanosleep(&pause, NULL);
    }
    __atomic_store_n(&handoff_busy, 0, __ATOMIC_RELEASE);
}

/* fn(a0) here and fn(a1) on the worker, or both here when the worker is taken. */
static inline void handoff_pair(handoff_job fn, void *a0, void *a1)
{
    long job = handoff_post(fn, a1);
    fn(a0);
    if (job < 0)
        fn(a1);
    else
        handoff_wait(job);
}

/* A forked child has only the thread that forked: no worker, and a lock that another thread
 * may have held. (A job in flight belonged to a thread the child does not have.) */
static void handoff_after_fork_in_child(void)
{
    pthread_mutex_init(&handoff_lock, NULL);
    pthread_cond_init(&handoff_wake, NULL);
    handoff_started = handoff_sleeping = handoff_busy = 0;
    handoff_done = handoff_posted;
}

static inline void handoff_install_fork_handler(void)
{
    pthread_atfork(NULL, NULL, handoff_after_fork_in_child);
}

#endif /* _WIN32 */
#endif
