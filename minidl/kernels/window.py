"""The geometry of a 2-D sliding window (convolution, pooling), as one record.

F builds it once per call, after checking the arguments, and hands it down: ops read the
output size from it, and kernels take it in place of eight loose ints.
"""
from typing import NamedTuple


def output_size(size, kernel, stride, padding, dilation):
    """W2 = (W1 + 2P - D*(F-1) - 1) // S + 1; with D = 1, the textbook's (W1 - F + 2P)/S + 1."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


class Window2d(NamedTuple):
    """A kh x kw window at stride (sh, sw), padding (ph, pw) and dilation (dh, dw), over an h x w input.

    Shape: input (..., h, w) -> output (..., oh, ow).
    """

    kh: int
    kw: int
    sh: int
    sw: int
    ph: int
    pw: int
    dh: int
    dw: int
    h: int
    w: int
    oh: int
    ow: int

    @classmethod
    def over(cls, input_hw, kernel, stride, padding, dilation=(1, 1)):
        """The window of these (height, width) pairs over an input of size input_hw."""
        (h, w), (kh, kw), (sh, sw), (ph, pw), (dh, dw) = input_hw, kernel, stride, padding, dilation
        return cls(kh, kw, sh, sw, ph, pw, dh, dw, h, w,
                   output_size(h, kh, sh, ph, dh), output_size(w, kw, sw, pw, dw))

    @property
    def taps(self):
        """kh * kw: how many input pixels one output reads per channel."""
        return self.kh * self.kw
