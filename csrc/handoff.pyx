# cython: boundscheck=False, wraparound=False
"""The worker thread that runs the second half of a split call (handoff.h).

Kernels in the other modules hand it C functions through `pair_capsule` (pair.pxi), with
no GIL on either side; run_pair hands it a Python callable, which takes the GIL on the
worker. Either way the worker spins briefly for its next job and the caller for the result,
instead of sleeping and being woken, which costs tens of microseconds on a virtual machine.
"""
from cpython.pycapsule cimport PyCapsule_New
from cpython.ref cimport PyObject, Py_INCREF, Py_DECREF
from libc.stdint cimport int64_t

cdef extern from "handoff.h" nogil:
    ctypedef void (*handoff_job)(void* arg) noexcept nogil
    long handoff_post(handoff_job fn, void* arg)
    void handoff_wait(long job)
    void handoff_pair(handoff_job fn, void* a0, void* a1)
    void handoff_install_fork_handler()
    int64_t handoff_worker_spin_ns, handoff_caller_spin_ns
    int HANDOFF_THREADED

handoff_install_fork_handler()

# handoff_pair for the kernels: void (*)(handoff_job, void*, void*)
pair_capsule = PyCapsule_New(<void*>handoff_pair, "minidl.handoff_pair", NULL)


def threaded():
    """Whether there is a worker thread at all (not on Windows: there the caller runs both halves)."""
    return bool(HANDOFF_THREADED)


def spin_times():
    """(worker, caller): how long, in ns, each side spins before it sleeps."""
    return handoff_worker_spin_ns, handoff_caller_spin_ns


def set_spin_times(int64_t worker, int64_t caller):
    """Set spin_times(); returns the old ones. For measuring and for tests of the sleeping path."""
    global handoff_worker_spin_ns, handoff_caller_spin_ns
    if worker < 0 or caller < 0:
        raise ValueError(f"set_spin_times: spin times must be >= 0 ns, got {worker} and {caller}")
    old = spin_times()
    handoff_worker_spin_ns, handoff_caller_spin_ns = worker, caller
    return old


cdef struct PythonHalf:
    PyObject* part
    PyObject* error  # a reference the worker holds, or NULL


cdef void _python_half(void* arg) noexcept nogil:
    with gil:
        _call(<PythonHalf*>arg)


cdef void _call(PythonHalf* half) noexcept:
    try:
        (<object>half.part)(1)
    except BaseException as exc:  # raised again on the caller's thread
        Py_INCREF(exc)
        half.error = <PyObject*>exc


def run_pair(part):
    """part(0) on this thread and part(1) on the worker, at the same time; both on this thread
    when the worker is taken (a call from another thread, or from a part)."""
    cdef PythonHalf half
    half.part, half.error = <PyObject*>part, NULL
    cdef long job = handoff_post(_python_half, &half)
    if job < 0:
        part(0)
        part(1)
        return
    try:
        part(0)
    finally:
        with nogil:  # waits even when this half failed: the worker must not outlive the call
            handoff_wait(job)
    if half.error != NULL:
        error = <object>half.error
        Py_DECREF(error)
        raise error
