# Splitting a kernel call in two: pair(fn, a0, a1) runs fn(a0) on this thread and fn(a1) on
# minidl's worker thread (csrc/handoff.pyx), without the GIL on either. Where that worker is
# not built or has no thread (Windows), the two go to minidl.kernels.threads' Python pool.
# Included, not cimported: each module fetches the worker's entry point when it loads (and
# imports numpy as np, which half_buffer uses).
from cpython.pycapsule cimport PyCapsule_GetPointer

from minidl.kernels.threads import check_threads  # the twins' check: one message for both

ctypedef void (*pair_job)(void* arg) noexcept nogil
ctypedef void (*pair_fn)(pair_job fn, void* a0, void* a1) noexcept nogil

cdef pair_fn _compiled_pair = NULL
cdef pair_fn _found_pair = NULL
try:
    from minidl.kernels._handoff import pair_capsule as _pair_capsule, threaded as _worker_threaded
    if _worker_threaded():
        _found_pair = _compiled_pair = <pair_fn>PyCapsule_GetPointer(_pair_capsule, "minidl.handoff_pair")
except ImportError:
    pass


cdef class _PairJob:
    cdef pair_job fn
    cdef void* arg

    def __call__(self):
        with nogil:
            self.fn(self.arg)


cdef _PairJob _pair_job(pair_job fn, void* arg):
    job = _PairJob()
    job.fn, job.arg = fn, arg
    return job


cdef void _pair_in_pool(pair_job fn, void* a0, void* a1) noexcept with gil:
    from minidl.kernels.threads import run_pair_in_pool

    jobs = (_pair_job(fn, a0), _pair_job(fn, a1))
    run_pair_in_pool(lambda i: jobs[i]())


cdef inline void pair(pair_job fn, void* a0, void* a1) noexcept nogil:
    if _compiled_pair != NULL:
        _compiled_pair(fn, a0, a1)
    else:
        _pair_in_pool(fn, a0, a1)


cdef half_buffer(list buffers, Py_ssize_t size, dtype, bint zero=False):
    """A buffer of one thread's, kept alive in `buffers`. Each is its own allocation, not a
    slice of one array shared with the other thread's: side by side, the two slowed each
    other (docs/performance.md)."""
    a = np.zeros(size, dtype=dtype) if zero else np.empty(size, dtype=dtype)
    buffers.append(a)
    return a


def _pairs_in_pool(bint in_pool):
    """For tests: hand the second halves to the Python pool (as where the worker is not
    built) or back to the compiled worker; returns whether they went to the pool before."""
    global _compiled_pair
    before = _compiled_pair == NULL
    _compiled_pair = NULL if in_pool else _found_pair
    return before
