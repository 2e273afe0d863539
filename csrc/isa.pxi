# The run-time choice of instruction set (isa.h), for a module whose kernels use it.
# Included, not cimported: each module keeps its own cap.

cdef extern from "isa.h" nogil:
    const char* minidl_isa()
    int minidl_isa_levels()
    const char* minidl_isa_level_name(int level)
    void minidl_isa_set_cap(int level)


def instruction_set():
    """The SIMD instructions this module's kernels run: 'avx512', 'avx2', 'sse2' or 'portable'."""
    return minidl_isa().decode()


def instruction_sets():
    """Every instruction set this CPU can run the kernels on, the best last."""
    return [minidl_isa_level_name(level).decode() for level in range(minidl_isa_levels())]


def limit_instruction_set(name):
    """Use `name` (one of instruction_sets()) or the CPU's best if that is lower, so that tests
    run every version of the kernels; returns the name in use before."""
    names = instruction_sets()
    if name not in names:
        raise ValueError(f"{__name__}: instruction set {name!r} not available here; choose one of {names}")
    previous = instruction_set()
    minidl_isa_set_cap(names.index(name))
    return previous
