"""3x3 stride-1 convolution by Winograd's minimal filtering, F(2x2, 3x3) (Lavin and Gray, 2015):
the NumPy twins of the tile transforms, the filter transforms and the fused kernels in
csrc/winograd.pyx (the filter transforms' loops are csrc/winograd_filter.h).

Each 2x2 block of outputs ("tile") reads a 4x4 block of the padded input. In the
transformed domain the 9 multiply-adds per output and input channel of a 3x3 window become
16 per 4 outputs (4 per output), so the GEMMs do 2.25x fewer multiplications than im2col's:

    V = B^T d B     per input tile d (4x4), for every channel      -> V (16, C, P)
    U = G g G^T     per filter g (3x3)                             -> U (16, K, C)
    M = U @ V       16 GEMMs, one per position in the 4x4 tile      -> M (16, K, P)
    y = A^T m A     per output tile (2x2)

with P = N * tiles per image. The backward is the chain rule through the same steps, so its
GEMMs are also 16 small ones instead of a 9x column buffer:

    dM = A dy A^T;  dU = dM @ V^T -> d weight = G^T dU G;  dV = U^T @ dM -> d x = B dV B^T, overlap-added.

The transforms are sums and differences over strided views of whole arrays (one NumPy pass
each), written out below rather than as matrices so that each reads as the formula it is.
The backward recomputes V from the input, so a layer keeps only its input, as PyTorch's does.
"""
import numpy as np

from .threads import check_threads

# G (4x3): the filter transform; kron(G, G) (16x9) applies it to a flattened 3x3 filter.
# B^T and A^T are applied as the explicit sums below.
_G = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]])
_GG = np.kron(_G, _G)


# Gap between the 16 positions' blocks, in elements: a block is often a power of two in
# size, and 16 streams exactly that far apart all map to the same cache sets.
STAGGER = 16


def staggered(shape, dtype):
    """An uninitialised (16, *shape) array whose 16 blocks are STAGGER elements apart;
    each block is contiguous, so it can be a GEMM's operand or output."""
    size = int(np.prod(shape))
    flat = np.empty(16 * (size + STAGGER), dtype=dtype)
    return flat.reshape(16, size + STAGGER)[:, :size].reshape((16,) + tuple(shape))


def tiles(window):
    """Tiles per image along H and W: the output rounded up to even sizes, halved."""
    return (window.oh + 1) // 2, (window.ow + 1) // 2


def _padded(x, window):
    """x zero-padded to exactly the 4x4 tiles' extent: (N, C, 2*th + 2, 2*tw + 2)."""
    th, tw = tiles(window)
    n, c, h, w = x.shape
    out = np.zeros((n, c, 2 * th + 2, 2 * tw + 2), dtype=x.dtype)  # 2*th >= OH = h + 2*ph - 2: x fits
    out[:, :, window.ph : window.ph + h, window.pw : window.pw + w] = x
    return out


def _four(a, axis, span):
    """The 4 views a[..., i::2 (span of them), ...] for i = 0..3 along axis (-2 rows or -1 columns)."""
    index = [slice(None)] * a.ndim
    views = []
    for i in range(4):
        index[axis] = slice(i, i + 2 * span - 1, 2)
        views.append(a[tuple(index)])
    return views


def _bt(d0, d1, d2, d3):
    """B^T applied along one axis of a 4-tile: (d0 - d2, d1 + d2, d2 - d1, d1 - d3)."""
    return d0 - d2, d1 + d2, d2 - d1, d1 - d3


def winograd_input(x, window, out=None):
    """V = B^T d B for every 4x4 input tile. Shape: x (N, C, H, W) -> V (16, C, N*th*tw);
    into `out` (16, C, N, th, tw) when given, e.g. one batch range of a larger V."""
    th, tw = tiles(window)
    n, c = x.shape[:2]
    xp = _padded(x, window)
    v = (staggered((c, n, th, tw), x.dtype) if out is None else out).reshape(4, 4, c, n, th, tw)
    for a, rows in enumerate(_bt(*_four(xp, -2, th))):  # rows: (N, C, th, 2*tw + 2)
        d0, d1, d2, d3 = _four(rows, -1, tw)
        np.subtract(d0, d2, out=v[a, 0].transpose(1, 0, 2, 3))
        np.add(d1, d2, out=v[a, 1].transpose(1, 0, 2, 3))
        np.subtract(d2, d1, out=v[a, 2].transpose(1, 0, 2, 3))
        np.subtract(d1, d3, out=v[a, 3].transpose(1, 0, 2, 3))
    return v.reshape(16, c, n * th * tw)


def winograd_filter(weight, out=None):
    """U = G g G^T, as one GEMM: each filter's 9 taps times kron(G, G)^T; into `out` when given
    (its 16 planes may lie apart, e.g. a staggered array). Shape: weight (K, C, 3, 3) -> U (16, K, C)."""
    k, c = weight.shape[:2]
    u = (_GG.astype(weight.dtype) @ weight.reshape(k * c, 9).T).reshape(16, k, c)  # BLAS reads the transpose in place
    if out is None:
        return u
    out[...] = u
    return out


def winograd_filter_grad(du, out=None):
    """The adjoint of winograd_filter: G^T dU G, into `out` when given. Shape: dU (16, K, C) -> (K, C, 3, 3)."""
    k, c = du.shape[1:]
    grad = (du.reshape(16, k * c).T @ _GG.astype(du.dtype)).reshape(k, c, 3, 3)
    if out is None:
        return grad
    out[...] = grad
    return out


def winograd_output(m, n, window, bias=None, out=None):
    """y = A^T m A per tile, cropped to the output, plus the bias.
    Shape: M (16, K, N*th*tw) -> (N, K, OH, OW), into `out` when given."""
    if out is not None:
        out[...] = winograd_output(m, n, window, bias)
        return out
    th, tw = tiles(window)
    k = m.shape[1]
    m = m.reshape(4, 4, k, n, th, tw)
    out = np.empty((n, k, 2 * th, 2 * tw), dtype=m.dtype)
    s0, s1 = m[0] + m[1] + m[2], m[1] - m[2] - m[3]  # A^T along rows: (4, K, N, th, tw) each
    for a, s in enumerate((s0, s1)):
        np.add(s[0] + s[1], s[2], out=out[:, :, a::2, 0::2].transpose(1, 0, 2, 3))
        np.subtract(s[1] - s[2], s[3], out=out[:, :, a::2, 1::2].transpose(1, 0, 2, 3))
    if (2 * th, 2 * tw) != (window.oh, window.ow):
        out = np.ascontiguousarray(out[:, :, : window.oh, : window.ow])
    if bias is not None:
        out += bias.reshape(1, -1, 1, 1)
    return out


def winograd_output_grad(grad, window, out=None):
    """dM = A dy A^T, the adjoint of winograd_output. Shape: grad (N, K, OH, OW) -> dM (16, K, N*th*tw);
    into `out` (16, K, N, th, tw) when given."""
    th, tw = tiles(window)
    n, k = grad.shape[:2]
    dy = np.zeros((n, k, 2 * th, 2 * tw), dtype=grad.dtype)
    dy[:, :, : window.oh, : window.ow] = grad
    dm = (staggered((k, n, th, tw), grad.dtype) if out is None else out).reshape(4, 4, k, n, th, tw)
    for a, rows in enumerate(_a(dy[:, :, 0::2], dy[:, :, 1::2])):  # A along rows: (N, K, th, 2*tw)
        for b, col in enumerate(_a(rows[..., 0::2], rows[..., 1::2])):
            dm[a, b] = col.transpose(1, 0, 2, 3)
    return dm.reshape(16, k, n * th * tw)


def _a(y0, y1):
    """A applied along one axis of a 2-tile: (y0, y0 + y1, y0 - y1, -y1)."""
    return y0, y0 + y1, y0 - y1, -y1


def winograd_input_grad(dv, input_shape, window, out=None):
    """d x = B dV B^T per tile, overlap-added (neighbouring 4x4 tiles share 2 rows or columns),
    the adjoint of winograd_input. Shape: dV (16, C, N*th*tw) -> (N, C, H, W), into `out` when given."""
    if out is not None:
        out[...] = winograd_input_grad(dv, input_shape, window)
        return out
    th, tw = tiles(window)
    n, c, h, w = input_shape
    dv = dv.reshape(4, 4, c, n, th, tw).transpose(0, 1, 3, 2, 4, 5)  # (4, 4, N, C, th, tw) views
    dxp = np.zeros((n, c, 2 * th + 2, 2 * tw + 2), dtype=dv.dtype)
    for i, rows in enumerate(_b(*dv)):  # B along rows: each (4, N, C, th, tw)
        for j, tile in enumerate(_b(*rows)):
            dxp[:, :, i : i + 2 * th : 2, j : j + 2 * tw : 2] += tile
    return np.ascontiguousarray(dxp[:, :, window.ph : window.ph + h, window.pw : window.pw + w])


def _b(v0, v1, v2, v3):
    """B applied along one axis of a 4-tile (the transpose of _bt): (v0, v1 - v2 + v3, v2 + v1 - v0, -v3)."""
    return v0, v1 - v2 + v3, v1 + v2 - v0, -v3


def winograd_fused(x, weight, window, bias=None, out=None, threads=1):
    """The whole convolution by F(2x2, 3x3): the twin of the compiled kernel that fuses these
    steps block by block (csrc/winograd_fused.h). direct_conv's signature and result; runs on
    this thread whatever `threads` says.
    Shape: x (N, C, H, W), weight (K, C, 3, 3), bias (K,) -> (N, K, OH, OW), into `out` when given."""
    check_threads("winograd_fused", threads)
    m = np.matmul(winograd_filter(weight), winograd_input(x, window))
    return winograd_output(m, x.shape[0], window, bias, out)


def winograd_fused_weight_grad(x, grad, window, out=None, bias_out=None, threads=1):
    """d weight = G^T (dM V^T summed over every image's tiles) G, and with `bias_out` (K,),
    float64, each output channel's gradient sum: the twin of the compiled kernel, with
    direct_conv_weight_grad's signature and result (on this thread whatever `threads` says).
    Shape: x (N, C, H, W), grad (N, K, OH, OW) -> (K, C, 3, 3), into `out` when given (overwritten)."""
    check_threads("winograd_fused_weight_grad", threads)
    du = np.matmul(winograd_output_grad(grad, window), winograd_input(x, window).transpose(0, 2, 1))
    if bias_out is not None:
        bias_out[...] = grad.sum(axis=(0, 2, 3), dtype=np.float64)
    if out is None:
        return winograd_filter_grad(du)
    out[...] = winograd_filter_grad(du)
    return out
