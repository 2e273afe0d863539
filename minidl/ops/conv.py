"""Convolution as im2col + GEMM (NumPy's matmul, i.e. BLAS); for 3x3 stride-1 layers as
Winograd's F(2x2, 3x3) (kernels/winograd.py), with BLAS over whole chunks of transformed
tiles or with the transforms fused to the products in cache (kernels.winograd_fused); or at
stride 1 as a direct convolution that reads the padded input in place (kernels.direct_conv).
ops/conv_algorithm.py chooses.

Shapes, with G groups, Cg = C/G input and Kg = K/G output channels per group, L = OH*OW:
    weight (K, Cg, kh, kw) viewed as (G, Kg, Cg*kh*kw)
    per image: x --im2col--> cols (N, G, Cg*kh*kw, L);  out = weight @ cols -> (N, G, Kg, L)
    folded:    x --im2col--> cols (G, Cg*kh*kw, N*L);  out = weight @ cols -> (G, Kg, N*L)
    by pixel:  x --im2col_pixels--> rows (N*L, kh*kw*C);  out^T = rows @ weight^T -> (N*L, K)
               (a folded one-group layer with a window larger than 1x1 and at least
               PIXEL_ROWS_MIN_CHANNELS input channels; weight with its taps outermost)
Backward: d weight = grad @ cols^T (summed over the batch), d cols = weight^T @ grad, then
col2im, the adjoint of im2col, gives d x. By pixel, with grad as (N*L, K) rows g: d rows =
g @ weight, d weight = g^T @ rows, and col2im_pixels folds d rows back. Any other folded
one-group layer with a window larger than 1x1 also takes d cols by pixel, and col2im_pixels.
Large columns are not kept from the forward: they are kh*kw times the input, and a
network's worth of them held until its backward was most of a training step's memory; the
backward unfolds the input again (one im2col pass), and the forward of such a one-group
layer never stores them either (the implicit GEMM, kernels.implicit_conv). Its backward
makes the columns' gradient a tile at a time and adds it straight onto the pixels
(kernels.implicit_conv_input_grad); when its images have enough output pixels, the weight
gradient is the implicit GEMM's too (kernels.implicit_conv_weight_grad), and nothing is
unfolded. Small columns are kept, where that pass would cost a noticeable share of the
layer's time.
"""
import numpy as np

from .. import kernels
from ..autograd.function import Function
from ..kernels.blas_threads import stacked_matmul
from ..kernels.threads import run_halves, ways
from ..kernels.window import Window2d
from ..kernels.winograd import staggered, tiles
from . import conv_algorithm

# Below this many multiply-adds per image and group, one GEMM per image is mostly BLAS call
# overhead or a poor shape, so the batch is folded into the GEMM's columns instead: im2col
# lays it out that way, and only the smaller output and its gradient change layout.
FOLD_BATCH_BELOW_MACS = 1 << 24
# Nor when each image has this many output pixels or fewer: a GEMM that narrow is a poor
# shape whatever its size (ResNet-18's stride-2 layers, 4x4 to 16x16 outputs).
FOLD_BATCH_UP_TO_PIXELS = 256
# Columns up to this many times the input's size are kept for the backward (a 1x1 window at
# stride 2 gathers a quarter of it); larger ones are unfolded again there, so that a layer
# keeps no more than its input, as PyTorch's do: ResNet-18's stride-2 3x3 columns were 35 MB.
KEEP_COLUMNS_UP_TO_INPUTS = 1
# Columns this small are kept whatever their ratio to the input: for tiny images the second
# unfolding is mostly per-row overhead, and a layer holds at most this much more.
KEEP_COLUMNS_UP_TO_BYTES = 1 << 20
# A folded layer with at most this many output channels per group, and filters of at least
# as many values, takes its weight gradient as (cols @ grad^T)^T: OpenBLAS runs a GEMM with
# that few rows against a transposed operand poorly (B8's second layer: 107 against 71 us).
WEIGHT_GRAD_TRANSPOSED_UP_TO = 64
# Winograd transforms this many bytes of tiles at a time (see Conv2d._winograd_chunks).
WINOGRAD_CHUNK_BYTES = 8 << 20
# A folded one-group layer with a window larger than 1x1 and at least this many input channels
# lays its columns out pixel by pixel, (N*L, kh*kw*C): BLAS runs all three of its GEMMs faster
# in that orientation. With fewer channels the unfolding costs more than the GEMMs save.
PIXEL_ROWS_MIN_CHANNELS = 8
# The fused Winograd weight gradient packs input channels in panels of 16 or 32 float32 values
# (small_gemm.h); with fewer than 16 channels much of each panel is zeros, and the direct kernel
# computes it faster (docs/performance.md).
FUSED_WEIGHT_GRAD_MIN_CHANNELS = 16
# A by-pixel layer's products of at most OWN_GEMM_UP_TO_MACS multiply-adds run on minidl's own
# GEMM (kernels.small_matmul), not BLAS, when the operand it packs is small (at most
# OWN_GEMM_MAX_DEPTH rows) or already one panel: BLAS's hand-off to its threads costs about
# what such a product does. Larger ones gained nothing in a training step (docs/performance.md).
OWN_GEMM_UP_TO_MACS = 1 << 24
OWN_GEMM_MAX_DEPTH = 1024
SMALL_GEMM_PANEL_BYTES = 128  # csrc/small_gemm.h's panel: 32 float32 or 16 float64 columns
# The implicit weight gradient's depth is the output pixels of a thread's images; with fewer
# than this many, BLAS on the unfolded columns ran faster (docs/performance.md).
IMPLICIT_WEIGHT_GRAD_MIN_PIXELS = 512


def _matmul(a, b):
    """a @ b for two matrices: kernels.small_matmul where the OWN_GEMM_ limits allow, else BLAS."""
    (m, depth), columns = a.shape, b.shape[1]
    macs = m * depth * columns
    one_panel = b.flags.c_contiguous and columns * b.itemsize == SMALL_GEMM_PANEL_BYTES
    if macs > OWN_GEMM_UP_TO_MACS or not (depth <= OWN_GEMM_MAX_DEPTH or one_panel) or \
            a.dtype not in (np.float32, np.float64) or b.dtype != a.dtype:
        return np.matmul(a, b)
    return kernels.small_matmul(a, b, threads=ways(m, macs))


def _channel_sums(grad):
    """grad (N, K, L) summed over N and L: each (image, channel) row as a GEMV with ones
    (faster than NumPy's strided sum), then over the images."""
    n, k, length = grad.shape
    rows = grad.reshape(n * k, length)
    return (rows @ np.ones(length, dtype=rows.dtype)).reshape(n, k).sum(axis=0)


class Conv2d(Function):
    """Shape: x (N, C, H, W), weight (K, C/groups, kh, kw), bias (K,) -> (N, K, OH, OW);
    `window` (a kernels.window.Window2d) carries the geometry and the output size."""

    def forward(self, x, weight, *bias, window, groups):
        n, c = x.shape[:2]
        k, cg = weight.shape[:2]
        self.window, self.groups, self.input_shape = window, groups, x.shape
        self.weight_shape, self.has_bias = weight.shape, bool(bias)
        if n == 0:  # as PyTorch: an empty output, and zero gradients for weight and bias
            return np.zeros((0, k, window.oh, window.ow), dtype=x.dtype)
        pixels = window.oh * window.ow
        keep = n * c * window.taps * pixels * x.itemsize <= max(KEEP_COLUMNS_UP_TO_INPUTS * x.nbytes,
                                                                  KEEP_COLUMNS_UP_TO_BYTES)
        self.algorithm = conv_algorithm.choose(c, k, window, groups, x.itemsize, keeps_columns=keep)
        if self.algorithm == "winograd":
            return self._winograd_forward(x, weight, bias[0] if bias else None)
        if self.algorithm in ("direct", "winograd_fused"):
            return self._stride_1_forward(x, weight, bias[0] if bias else None)
        self.weight = weight.reshape(groups, k // groups, cg * window.taps)
        self.folded = (k // groups) * cg * window.taps * pixels < FOLD_BATCH_BELOW_MACS or pixels <= FOLD_BATCH_UP_TO_PIXELS
        self.by_pixel = self.folded and groups == 1 and window.taps > 1 and c >= PIXEL_ROWS_MIN_CHANNELS
        self.x = np.ascontiguousarray(x)  # for the backward's columns (usually an array the graph keeps anyway)
        b = np.ascontiguousarray(bias[0]) if bias else None
        self.cols = None
        if self.algorithm == "implicit":
            return self._implicit_forward(weight, b)
        if self.by_pixel:
            rows = self._pixel_rows()
            self.cols = rows if keep else None
            return self._forward_by_pixel(rows, b)
        cols = self._columns()
        self.cols = cols if keep else None
        return self._forward_folded(cols, b) if self.folded else self._forward_per_image(cols, b)

    def _implicit_forward(self, weight, bias):
        """The columns this layer would not keep are never stored: kernels.implicit_conv reads
        them from the padded images as its register tiles need them (csrc/implicit_gemm.h).
        Halves of the batch on two threads."""
        n, w = self.input_shape[0], self.window
        weight = np.ascontiguousarray(weight)
        out = np.empty((n, weight.shape[0], w.oh, w.ow), dtype=self.x.dtype)
        self._image_halves(0, n, out.size * weight[0].size, lambda a, b: kernels.implicit_conv(
            self.x[a:b], weight, w, bias, out=out[a:b]))
        return out

    def _winograd_forward(self, x, weight, bias):
        """M = U @ V over the 16 tile positions. The layer keeps only its input and weight: U and
        V (16/9 of the weight, 4x the input) are transformed again in the backward."""
        self.x, self.weight = np.ascontiguousarray(x), np.ascontiguousarray(weight)
        u = self._filter_transform()
        out = np.empty((x.shape[0], self.weight_shape[0], self.window.oh, self.window.ow), dtype=x.dtype)
        for lo, hi in self._winograd_chunks():
            v = self._tiles_of(self.x, lo, hi)
            m = stacked_matmul(u, v, out=staggered((u.shape[1], v.shape[2]), v.dtype))
            m = m.reshape(m.shape[:2] + (hi - lo, -1))  # (16, K, images, tiles per image)
            self._image_halves(lo, hi, self._transform_work(hi - lo), lambda a, b: kernels.winograd_output(
                m[:, :, a - lo : b - lo].reshape(16, m.shape[1], -1), b - a, self.window, bias, out=out[a:b]))
        return out

    def _stride_1_kernels(self):
        """The forward and weight-gradient kernels of a stride-1 algorithm: the direct convolution,
        or the fused Winograd one, which takes the same arguments and gives the same results."""
        if self.algorithm != "winograd_fused":
            return kernels.direct_conv, kernels.direct_conv_weight_grad
        if self.input_shape[1] < FUSED_WEIGHT_GRAD_MIN_CHANNELS:
            return kernels.winograd_fused, kernels.direct_conv_weight_grad
        return kernels.winograd_fused, kernels.winograd_fused_weight_grad

    def _stride_1_forward(self, x, weight, bias):
        """Two threads each convolve half the images. The layer keeps only its input and weight."""
        self.x, self.weight = np.ascontiguousarray(x), np.ascontiguousarray(weight)
        weight, bias = self.weight, None if bias is None else np.ascontiguousarray(bias)
        conv = self._stride_1_kernels()[0]
        out = np.empty((x.shape[0], self.weight_shape[0], self.window.oh, self.window.ow), dtype=x.dtype)
        conv(self.x, weight, self.window, bias, out=out, threads=ways(x.shape[0], out.size * weight[0].size))
        return out

    def _stride_1_input_gradient(self, grad):
        """d x is the output gradient convolved, again at stride 1, with the filters flipped and
        their channel axes swapped; its padding is what the forward's window reached beyond its own."""
        g = self.window
        flipped = np.ascontiguousarray(self.weight[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))
        back = Window2d.over((g.oh, g.ow), (g.kh, g.kw), (1, 1),
                             ((g.kh - 1) * g.dh - g.ph, (g.kw - 1) * g.dw - g.pw), (g.dh, g.dw))
        conv = self._stride_1_kernels()[0]
        grad_x = np.empty(self.input_shape, dtype=grad.dtype)
        conv(grad, flipped, back, out=grad_x, threads=ways(grad.shape[0], grad_x.size * flipped[0].size))
        return grad_x

    def _stride_1_backward(self, grad, want_bias):
        grad = np.ascontiguousarray(grad)
        grad_x = self._stride_1_input_gradient(grad) if self.needs_input_grad[0] else None
        grad_w = grad_b = None
        if self.needs_input_grad[1] or want_bias:
            grad_w, sums = np.empty(self.weight_shape, dtype=grad.dtype), np.empty(self.weight_shape[0])
            self._stride_1_kernels()[1](self.x, grad, self.window, out=grad_w, bias_out=sums,
                                        threads=ways(grad.shape[0], grad.size * self.weight[0].size))
            grad_w = grad_w if self.needs_input_grad[1] else None
            grad_b = sums.astype(grad.dtype) if want_bias else None
        return grad_x, grad_w, grad_b

    def _winograd_backward(self, grad, want_bias):
        grad = np.ascontiguousarray(grad)
        grad_x = np.empty(self.input_shape, dtype=grad.dtype) if self.needs_input_grad[0] else None
        du = None
        # U^T as a view: BLAS reads it transposed in place
        u_t = self._filter_transform().transpose(0, 2, 1) if grad_x is not None else None
        chunks = self._winograd_chunks()
        for index, (lo, hi) in enumerate(chunks):
            dm = self._tiles_of(grad, lo, hi, gradient=True)
            if grad_x is not None:
                dv = stacked_matmul(u_t, dm, out=staggered((u_t.shape[1], dm.shape[2]), dm.dtype))
                dv = dv.reshape(dv.shape[:2] + (hi - lo, -1))
                self._image_halves(lo, hi, self._transform_work(hi - lo), lambda a, b: kernels.winograd_input_grad(
                    dv[:, :, a - lo : b - lo].reshape(16, dv.shape[1], -1), (b - a,) + self.input_shape[1:],
                    self.window, out=grad_x[a:b]))
                del dv
                if index == len(chunks) - 1:
                    u_t = None  # U (16/9 of the weight) goes before the last dU part: 16 MiB each at 512 channels
            if self.needs_input_grad[1]:
                v_t = self._tiles_of(self.x, lo, hi).transpose(0, 2, 1)
                part = stacked_matmul(dm, v_t, out=staggered((dm.shape[1], v_t.shape[2]), dm.dtype))
                du = part if du is None else np.add(du, part, out=du)
        grad_w = self._filter_transform_adjoint(du) if self.needs_input_grad[1] else None
        grad_b = grad.sum(axis=(0, 2, 3)) if want_bias else None
        return grad_x, grad_w, grad_b

    def _filter_transform(self):
        """U = G g G^T of the layer's filters, (16, K, C) in staggered planes; two threads each
        transform half the output channels' filters (the work counted as the twin's GEMM's
        16 x 9 multiply-adds a filter)."""
        k, c = self.weight_shape[:2]
        u = staggered((k, c), self.weight.dtype)
        run_halves(k, lambda a, b: kernels.winograd_filter(self.weight[a:b], out=u[:, a:b]), macs=144 * k * c)
        return u

    def _filter_transform_adjoint(self, du):
        """d weight = G^T dU G, half the output channels on each of two threads."""
        grad_w = np.empty(self.weight_shape, dtype=du.dtype)
        k, c = self.weight_shape[:2]
        run_halves(k, lambda a, b: kernels.winograd_filter_grad(du[:, a:b], out=grad_w[a:b]), macs=144 * k * c)
        return grad_w

    def _tiles_of(self, images, lo, hi, gradient=False):
        """The transformed tiles of images[lo:hi], (16, channels, tiles): V of the input, or dM of
        the output gradient. Two threads each fill the tiles of half the images."""
        th, tw = tiles(self.window)
        v = staggered((images.shape[1], hi - lo, th, tw), images.dtype)
        transform = kernels.winograd_output_grad if gradient else kernels.winograd_input
        self._image_halves(lo, hi, self._transform_work(hi - lo),
                           lambda a, b: transform(images[a:b], self.window, out=v[:, :, a - lo : b - lo]))
        return v.reshape(16, images.shape[1], -1)

    def _transform_work(self, images):
        """About a Winograd tile transform's adds over `images` images, for the two-thread rule."""
        c, h, w = self.input_shape[1:]
        return 16 * max(c, self.weight_shape[0]) * h * w * images

    def _winograd_chunks(self):
        """Image ranges whose transformed tiles (4x the images, per buffer) stay near
        WINOGRAD_CHUNK_BYTES, so a layer's temporary buffers do not grow with the batch and
        image size; the GEMMs over a chunk's tiles are still long."""
        n, c = self.input_shape[:2]
        th, tw = tiles(self.window)
        per_image = 16 * max(c, self.weight_shape[0]) * th * tw * self.x.itemsize
        step = max(1, WINOGRAD_CHUNK_BYTES // per_image)
        return [(lo, min(lo + step, n)) for lo in range(0, n, step)]

    def _columns(self):
        """The input unfolded, laid out for this call's GEMMs: (G, Cg*kh*kw, N*L) folded, else (N, G, Cg*kh*kw, L).
        Two threads each unfold half the images (see _image_halves)."""
        (n, c), g, w = self.input_shape[:2], self.groups, self.window
        rows, length = c * w.taps, w.oh * w.ow
        cols = np.empty((rows, n, length) if self.folded else (n, rows, length), dtype=self.x.dtype)
        self._image_halves(0, n, cols.size, lambda a, b: kernels.im2col(
            self.x[a:b], w, batch_in_columns=self.folded, out=cols[:, a:b] if self.folded else cols[a:b]))
        return cols.reshape(g, -1, n * length) if self.folded else cols.reshape(n, g, -1, length)

    def _pixel_rows(self):
        """The input unfolded pixel by pixel (kernels.im2col_pixels), (N*L, kh*kw*C); two threads
        each unfold half the images."""
        n, w = self.input_shape[0], self.window
        length = w.oh * w.ow
        rows = np.empty((n * length, self.input_shape[1] * w.taps), dtype=self.x.dtype)
        self._image_halves(0, n, rows.size, lambda a, b: kernels.im2col_pixels(
            self.x[a:b], w, out=rows[a * length:b * length]))
        return rows

    def _taps_first_weight(self):
        """The weight as (K, kh*kw*C), its taps outermost: the column order of pixel rows."""
        k, c = self.weight_shape[:2]
        return np.ascontiguousarray(self.weight.reshape(k, c, self.window.taps).transpose(0, 2, 1)).reshape(k, -1)

    def _forward_by_pixel(self, rows, bias):
        """out^T = rows @ W^T, (N*L, K), to (N, K, L) images with the bias in the same pass."""
        n, k, w = self.input_shape[0], self.weight_shape[0], self.window
        out = _matmul(rows, self._taps_first_weight().T)
        return kernels.pixel_rows_to_batch(out, n, bias).reshape(n, k, w.oh, w.ow)

    def _backward_by_pixel(self, grad, want_bias):
        """With the output gradient as pixel rows g (N*L, K): d cols = g @ W (taps outermost),
        then col2im_pixels (an implicit-forward layer's d x is the implicit GEMM's instead);
        d W = g^T @ rows, or (rows^T @ g)^T for few output channels. For g^T @ rows, g is the
        transposed view of GEMM rows (K, N*L): a cheaper pass than pixel rows, and BLAS runs
        d cols from it as fast."""
        n, (k, c) = self.input_shape[0], self.weight_shape[:2]
        w = self.window
        length = w.oh * w.ow
        grad = np.ascontiguousarray(grad).reshape(n, k, length)
        few_filters = k <= WEIGHT_GRAD_TRANSPOSED_UP_TO <= c * w.taps  # as _weight_gradient's rule
        if few_filters:
            g, grad_b = kernels.batch_to_pixel_rows(grad, want_bias)
        else:
            g_rows, grad_b = kernels.batch_to_gemm_rows(grad, want_bias)
            g = g_rows.T
        grad_x = None
        if self.needs_input_grad[0]:
            grad_x = (self._implicit_input_gradient(grad.reshape(n, k, w.oh, w.ow)) if self.algorithm == "implicit"
                      else self._input_gradient_by_pixel(g))
        grad_w = None
        if self.needs_input_grad[1]:
            rows = self.cols if self.cols is not None else self._pixel_rows()
            if few_filters:
                grad_w = _matmul(rows.T, g).reshape(w.taps, c, k).transpose(2, 1, 0)
            else:  # each filter's (taps, C) block to (C, taps): a transposed view of rows.T @ g took 4 ms here
                grad_w = _matmul(g.T, rows).reshape(k, w.taps, c).transpose(0, 2, 1)
            grad_w = np.ascontiguousarray(grad_w).reshape(self.weight_shape)
        return grad_x, grad_w, grad_b

    def _weight_gradient_implicitly(self):
        """Whether d W runs as the implicit GEMM's transpose: for an implicit-forward layer whose
        images have at least IMPLICIT_WEIGHT_GRAD_MIN_PIXELS output pixels for each thread
        (the product's depth; shorter ones run BLAS faster)."""
        w = self.window
        return self.algorithm == "implicit" and self.input_shape[0] * w.oh * w.ow >= 2 * IMPLICIT_WEIGHT_GRAD_MIN_PIXELS

    def _implicit_input_gradient(self, grad):
        """d x of an implicit-forward layer: the columns' gradient d out^T @ W made a register
        tile at a time and added straight back onto the pixels (kernels.implicit_conv_input_grad),
        never stored. Halves of the batch on two threads."""
        n = self.input_shape[0]
        weight = self.weight.reshape(self.weight_shape)
        grad_x = np.empty(self.input_shape, dtype=grad.dtype)
        self._image_halves(0, n, grad.size * weight[0].size, lambda a, b: kernels.implicit_conv_input_grad(
            grad[a:b], weight, self.window, out=grad_x[a:b]))
        return grad_x

    def _implicit_weight_gradient(self, grad):
        """d W = d out @ cols^T with the columns read from the padded images as the tiles need
        them (kernels.implicit_conv_weight_grad): no im2col. Two threads each sum over half the
        images, and the halves' sums are added."""
        n = self.input_shape[0]
        grad_w = np.empty(self.weight_shape, dtype=grad.dtype)
        spare = []

        def part(a, b):
            out = grad_w
            if a > 0:  # the second half's sum
                out = np.empty_like(grad_w)
                spare.append(out)
            kernels.implicit_conv_weight_grad(self.x[a:b], grad[a:b], self.window, out=out)

        self._image_halves(0, n, grad.size * grad_w[0].size, part)
        if spare:
            grad_w += spare[0]
        return grad_w

    def _image_halves(self, lo, hi, work, part):
        """part(a, b) over images [lo, hi), in two halves on two threads when `work` is large
        (minidl.kernels.threads): the layout passes (im2col, col2im, Winograd's transforms) are
        single-threaded passes over memory, and each half writes its own images' part."""
        run_halves(hi - lo, lambda a, b: part(lo + a, lo + b), macs=work)

    def _forward_folded(self, cols, bias):
        """One GEMM per group over the whole batch; the (K, N*L) result goes to (N, K, L)
        images with the bias added in the same pass, so the next layer gets a contiguous array."""
        n, w = self.input_shape[0], self.window
        out = np.matmul(self.weight, cols)  # (G, Kg, N*L)
        k = self.weight_shape[0]
        return kernels.gemm_rows_to_batch(out.reshape(k, -1), n, bias).reshape(n, k, w.oh, w.ow)

    def _forward_per_image(self, cols, bias):
        n, w = self.input_shape[0], self.window
        out = np.matmul(self.weight, cols).reshape(n, -1, w.oh, w.ow)  # (N, G, Kg, L), contiguous
        if bias is not None:
            out += bias.reshape(1, -1, 1, 1)
        return out

    def backward(self, grad):
        if self.input_shape[0] == 0:
            zeros = [np.zeros(self.input_shape, grad.dtype), np.zeros(self.weight_shape, grad.dtype)]
            return tuple(zeros + ([np.zeros(self.weight_shape[0], grad.dtype)] if self.has_bias else []))
        want_bias = self.has_bias and self.needs_input_grad[2]
        if self.algorithm == "winograd":
            return self._winograd_backward(grad, want_bias)
        if self.algorithm in ("direct", "winograd_fused"):
            return self._stride_1_backward(grad, want_bias)
        if self._weight_gradient_implicitly():
            return self._implicit_backward(np.ascontiguousarray(grad), want_bias)
        if self.by_pixel:
            return self._backward_by_pixel(grad, want_bias)
        backward = self._backward_folded if self.folded else self._backward_per_image
        grad_groups, grad_b = backward(grad, want_bias)
        grad_x = grad_w = None
        if self.needs_input_grad[0]:
            grad_x = (self._implicit_input_gradient(np.ascontiguousarray(grad)) if self.algorithm == "implicit"
                      else self._input_gradient(grad_groups))
        if self.needs_input_grad[1]:
            grad_w = self._weight_gradient(grad_groups).reshape(self.weight_shape)
        return grad_x, grad_w, grad_b

    def _implicit_backward(self, grad, want_bias):
        """Both gradients of an implicit-forward layer as implicit GEMMs, nothing unfolded:
        kernels.implicit_conv_input_grad adds each tile of the columns' gradient back onto the
        pixels as it is made, and kernels.implicit_conv_weight_grad reads the columns from the
        padded images. Only the bias gradient reads the output gradient on its own."""
        grad_x = self._implicit_input_gradient(grad) if self.needs_input_grad[0] else None
        grad_w = self._implicit_weight_gradient(grad) if self.needs_input_grad[1] else None
        n, k, w = self.input_shape[0], self.weight_shape[0], self.window
        return grad_x, grad_w, _channel_sums(grad.reshape(n, k, w.oh * w.ow)) if want_bias else None

    def _weight_gradient(self, grad_groups):
        """d weight = grad @ cols^T summed over the batch, as one GEMM per group over all images'
        columns (BLAS reads cols transposed in place; with few output channels, (cols @ grad^T)^T).
        Per-image products summed afterwards held a weight-sized array per image: 151 MB for one
        of ResNet-18's 512-channel layers."""
        if self.folded:
            cols = self.cols if self.cols is not None else self._columns()
            kg, filter_values = grad_groups.shape[1], cols.shape[1]
            if kg <= WEIGHT_GRAD_TRANSPOSED_UP_TO <= filter_values:
                return np.matmul(cols, grad_groups.swapaxes(-1, -2)).swapaxes(-1, -2)
            return np.matmul(grad_groups, cols.swapaxes(-1, -2))
        n, g = self.input_shape[0], self.groups
        length = self.window.oh * self.window.ow
        if self.cols is not None:  # (N, G, CKK, L) -> (G, CKK, N*L)
            cols = np.ascontiguousarray(self.cols.transpose(1, 2, 0, 3)).reshape(g, -1, n * length)
        else:
            cols = kernels.im2col(self.x, self.window, batch_in_columns=True).reshape(g, -1, n * length)
        rows = np.ascontiguousarray(grad_groups.transpose(1, 2, 0, 3)).reshape(g, -1, n * length)
        return np.matmul(rows, cols.swapaxes(-1, -2))

    def _backward_folded(self, grad, want_bias):
        """grad as GEMM rows (G, Kg, N*L), each channel summed for the bias gradient in the same pass."""
        n = self.input_shape[0]
        length = self.window.oh * self.window.ow
        rows, grad_b = kernels.batch_to_gemm_rows(np.ascontiguousarray(grad).reshape(n, -1, length), want_bias)
        return rows.reshape(self.groups, -1, n * length), grad_b

    def _backward_per_image(self, grad, want_bias):
        n = self.input_shape[0]
        length = self.window.oh * self.window.ow
        # one copy here, not one in each GEMM, when grad is strided (e.g. a broadcast from sum())
        grad_groups = np.ascontiguousarray(grad).reshape(n, self.groups, -1, length)  # (N, G, Kg, L)
        return grad_groups, _channel_sums(grad_groups.reshape(n, -1, length)) if want_bias else None

    def _input_gradient(self, grad_groups):
        n, c = self.input_shape[:2]
        length = self.window.oh * self.window.ow
        if self.folded and self.groups == 1 and self.window.taps > 1:
            return self._input_gradient_by_pixel(grad_groups[0].T)
        grad_cols = np.matmul(self.weight.transpose(0, 2, 1), grad_groups)  # (G, CKK, N*L) or (N, G, CKK, L)
        grad_cols = grad_cols.reshape(-1, n, length) if self.folded else grad_cols.reshape(n, -1, length)
        grad_x = np.empty(self.input_shape, dtype=grad_cols.dtype)
        self._image_halves(0, n, grad_cols.size, lambda a, b: kernels.col2im(
            grad_cols[:, a:b] if self.folded else grad_cols[a:b], c, self.window,
            batch_in_columns=self.folded, out=grad_x[a:b]))
        return grad_x

    def _input_gradient_by_pixel(self, g):
        """d x of a folded one-group layer from the output gradient as pixel rows g (N*L, K), or
        a transposed view of its GEMM rows: the columns' gradient as g @ W, one row per output
        pixel with the filter's taps outermost, then col2im from that layout. BLAS runs this
        product faster than W^T @ d out (docs/performance.md)."""
        n, c = self.input_shape[:2]
        w = self.window
        grad_cols = _matmul(g, self._taps_first_weight())  # (N*L, kh*kw*C)
        grad_x = np.empty(self.input_shape, dtype=grad_cols.dtype)
        length = w.oh * w.ow
        self._image_halves(0, n, grad_cols.size, lambda a, b: kernels.col2im_pixels(
            grad_cols[a * length:b * length], c, w, out=grad_x[a:b]))
        return grad_x

    def macs(self, out, x, weight, *bias):
        return out.size * weight[0].size  # F*F*D1 per output element: the homework's count

    def flops(self, out, x, weight, *bias):
        return 2 * self.macs(out, x, weight) + (out.size if bias else 0)
