"""Which algorithm a convolution runs: a pure function of the layer's shapes, so the same
input always takes the same path and gives the same output.

    im2col    any stride, dilation, groups and padding (ops/conv.py)
    winograd  F(2x2, 3x3): 3x3 windows at stride 1, no dilation, one group (kernels/winograd.py)

The rule, from the measurements in docs/performance.md: Winograd where it applies and the
layer has at least WINOGRAD_MIN_CHANNELS input channels. With fewer, its tile transforms
cost more than the multiplications it saves. MINIDL_CONV_ALGO=im2col or =winograd forces
one; a layer Winograd cannot compute still runs im2col.
"""
import os

ALGORITHMS = ("im2col", "winograd")
WINOGRAD_MIN_CHANNELS = 32


def winograd_applies(window, groups):
    return (window.kh, window.kw, window.sh, window.sw, window.dh, window.dw, groups) == (3, 3, 1, 1, 1, 1, 1)


def forced():
    """The algorithm MINIDL_CONV_ALGO names, or None."""
    value = os.environ.get("MINIDL_CONV_ALGO", "")
    if value in ("", "auto"):
        return None
    if value not in ALGORITHMS:
        raise ValueError(f"MINIDL_CONV_ALGO must be one of {ALGORITHMS} or auto; got {value!r}")
    return value


def choose(in_channels, window, groups):
    """'winograd' or 'im2col' for a convolution with this many input channels and this geometry."""
    if not winograd_applies(window, groups):
        return "im2col"
    algorithm = forced()
    if algorithm is not None:
        return algorithm
    return "winograd" if in_channels >= WINOGRAD_MIN_CHANNELS else "im2col"
