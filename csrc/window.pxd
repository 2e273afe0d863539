# Shared by the Cython kernels: the element type, and the window record that F builds
# (minidl/kernels/window.py) unpacked and checked against the array it is used on.

ctypedef fused real:
    float
    double


cdef inline void check_window(object window, Py_ssize_t h, Py_ssize_t w, str kernel) except *:
    """The window was made for an h x w input, and its last window fits inside the padding:
    with bounds checks off, a window that broke either would read outside the array."""
    kh, kw, sh, sw, ph, pw, dh, dw, wh, ww, oh, ow = window
    if wh != h or ww != w:
        raise ValueError(f"{kernel}: window made for {wh}x{ww} inputs, used on {h}x{w}")
    if oh < 0 or ow < 0 or (oh > 0 and (oh - 1) * sh + (kh - 1) * dh >= h + 2 * ph) or \
            (ow > 0 and (ow - 1) * sw + (kw - 1) * dw >= w + 2 * pw):
        raise ValueError(f"{kernel}: a {oh}x{ow} output does not fit {window}")
