"""Which algorithm a convolution runs: a pure function of the layer's shapes, so the same
input always takes the same path and gives the same output.

    im2col    any stride, dilation, groups and padding (ops/conv.py)
    winograd  F(2x2, 3x3): 3x3 windows at stride 1, no dilation, one group (kernels/winograd.py),
              BLAS over whole chunks of transformed tiles
    winograd_fused  the same, its transforms fused to the products a block of tiles at a time in
              cache (csrc/winograd_fused.h), padding up to 2
    direct    stride 1, one group, padding up to the window's reach: no column buffer in the
              forward or the input gradient (csrc/direct_conv.h)
    implicit  im2col's forward as one GEMM whose column entries are read from the padded image
              as its register tiles need them, never stored (csrc/implicit_gemm.h); one
              group; the input gradient is the implicit GEMM's too, and so is the weight
              gradient where the batch has enough output pixels (else im2col's)

The rule, from the measurements in docs/performance.md:
  - winograd_fused where it applies, the layer has at least FUSED_MIN_CHANNELS input channels
    (with fewer, its tile transforms cost about what its products save), each image has at
    least FUSED_MIN_PIXELS output pixels (its transforms are vectorised along a row of tiles:
    a 4x4 image's rows are 2 tiles long), and either its weights fit FUSED_MAX_WEIGHT_BYTES or
    each image has at least FUSED_LARGE_WEIGHTS_MIN_PIXELS (every block of tiles reads all the
    transformed weights: large weights need many tiles per image to pay for that);
  - else direct where it applies, the window has at least 9 taps, each image has at least
    DIRECT_MIN_PIXELS output pixels and the weights fit DIRECT_MAX_WEIGHT_BYTES (about a
    core's L2 cache: each tile of outputs reads all of them);
  - else Winograd where it applies and the layer has at least WINOGRAD_MIN_CHANNELS input
    channels (with fewer, its tile transforms cost more than the multiplications it saves);
  - else im2col, whose one GEMM over the whole batch wins on small images and 1x1 windows;
    its forward runs as the implicit GEMM (one group) when the columns would not be kept for
    the backward anyway (ops/conv.py's KEEP_COLUMNS limits, which need the batch, decide
    keeps_columns): ResNet's stride-2 3x3 layers.
MINIDL_CONV_ALGO=im2col, =implicit, =winograd, =winograd_fused or =direct forces one; a layer it
cannot compute still runs im2col.
"""
from ..kernels.threads import environment

ALGORITHMS = ("im2col", "implicit", "winograd", "winograd_fused", "direct")
WINOGRAD_MIN_CHANNELS = 32
DIRECT_MIN_TAPS = 9
DIRECT_MIN_PIXELS = 256
DIRECT_MAX_WEIGHT_BYTES = 512 << 10
FUSED_MIN_CHANNELS = 16
FUSED_MIN_PIXELS = 64
FUSED_MAX_WEIGHT_BYTES = 1 << 20
FUSED_LARGE_WEIGHTS_MIN_PIXELS = 256


def winograd_applies(window, groups):
    return (window.kh, window.kw, window.sh, window.sw, window.dh, window.dw, groups) == (3, 3, 1, 1, 1, 1, 1)


def direct_applies(window, groups):
    """Stride 1 and one group; the padding at most (k - 1)*dilation, so that the input
    gradient is again a direct convolution (of the output gradient, with that much less padding)."""
    g = window
    return (g.sh, g.sw, groups) == (1, 1, 1) and g.ph <= (g.kh - 1) * g.dh and g.pw <= (g.kw - 1) * g.dw


def fused_applies(window, groups):
    """A 3x3 window at stride 1 whose input gradient is again one (padding at most 2), as direct's."""
    return winograd_applies(window, groups) and direct_applies(window, groups)


def applies(algorithm, window, groups):
    """Whether `algorithm` can compute a convolution of this geometry."""
    if algorithm == "winograd":
        return winograd_applies(window, groups)
    if algorithm == "winograd_fused":
        return fused_applies(window, groups)
    if algorithm == "direct":
        return direct_applies(window, groups)
    if algorithm == "implicit":
        return groups == 1
    return True


def forced():
    """The algorithm MINIDL_CONV_ALGO names, or None."""
    value = environment("MINIDL_CONV_ALGO", b"MINIDL_CONV_ALGO") or ""
    if value in ("", "auto"):
        return None
    if value not in ALGORITHMS:
        raise ValueError(f"MINIDL_CONV_ALGO must be one of {ALGORITHMS} or auto; got {value!r}")
    return value


def choose(in_channels, out_channels, window, groups, itemsize=4, keeps_columns=True):
    """'direct', 'winograd_fused', 'winograd', 'implicit' or 'im2col' for a convolution of this
    many channels, geometry and element size (bytes); keeps_columns: whether im2col would keep
    its columns for the backward (ops/conv.py decides that from the batch)."""
    algorithm = forced()
    if algorithm is not None:
        return algorithm if applies(algorithm, window, groups) else "im2col"
    weight_bytes = out_channels * in_channels * window.taps * itemsize
    pixels = window.oh * window.ow
    if fused_applies(window, groups) and in_channels >= FUSED_MIN_CHANNELS and pixels >= FUSED_MIN_PIXELS and \
            (weight_bytes <= FUSED_MAX_WEIGHT_BYTES or pixels >= FUSED_LARGE_WEIGHTS_MIN_PIXELS):
        return "winograd_fused"
    if direct_applies(window, groups) and window.taps >= DIRECT_MIN_TAPS and \
            pixels >= DIRECT_MIN_PIXELS and weight_bytes <= DIRECT_MAX_WEIGHT_BYTES:
        return "direct"
    if winograd_applies(window, groups) and in_channels >= WINOGRAD_MIN_CHANNELS:
        return "winograd"
    return "implicit" if groups == 1 and not keeps_columns else "im2col"
