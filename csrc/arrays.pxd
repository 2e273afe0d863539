# Raw data pointers of the arrays that kernels' Python wrappers made C-contiguous and of
# one float dtype: cheaper to take than typed memoryviews, which small tensors feel.
cimport numpy as cnp


cdef inline bint is_float32(cnp.ndarray a) noexcept:
    return cnp.PyArray_TYPE(a) == cnp.NPY_FLOAT32


cdef inline char* item(cnp.ndarray a, Py_ssize_t i) noexcept:
    """The address of flat element i."""
    return <char*>cnp.PyArray_DATA(a) + i * cnp.PyArray_ITEMSIZE(a)
