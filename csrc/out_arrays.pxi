# A kernel's result array: a new one, or the caller's `out` when it fits (e.g. one batch
# range of a larger array). Included by the modules whose kernels take out= (they import
# numpy as np); a .pxd cannot hold code that calls into NumPy's Python API.

cdef _out_or_new(shape, dtype, out, str kernel, str source):
    if out is None:
        return np.empty(shape, dtype=dtype)
    if tuple(out.shape) != shape or out.dtype != dtype or not out.flags.c_contiguous:
        raise ValueError(f"{kernel}: out must be a contiguous {shape} array of {source} dtype")
    return out
