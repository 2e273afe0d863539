"""Winograd F(2x2, 3x3): the compiled tile transforms against their NumPy twins, the whole
convolution against im2col and PyTorch (forward and both gradients), its float32 error
against im2col's, and the rule that chooses between them."""
import numpy as np
import pytest
import torch

import minidl as md
import minidl.functional as F
from minidl import kernels
from minidl.kernels import reference
from minidl.kernels.window import Window2d
from minidl.ops import conv_algorithm
from tests.kernels import instruction_sets_of

# (N, C, H, W, K, padding): odd and even sizes, a 3x3 input without padding, batch 1
SHAPES = [(2, 3, 5, 7, 4, 1), (1, 2, 4, 4, 3, 0), (3, 5, 8, 9, 2, 2), (2, 1, 3, 3, 1, 0), (1, 4, 1, 6, 2, 1)]


def _window(shape):
    n, c, h, w, k, p = shape
    return Window2d.over((h, w), (3, 3), (1, 1), (p, p))


@pytest.mark.parametrize("backend", kernels.available("winograd_input"))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES)
def test_tile_transforms_match_twins(backend, dtype, shape):
    n, c, h, w, k, p = shape
    window = _window(shape)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    v = kernels.implementation("winograd_input", backend)(x, window)
    np.testing.assert_array_equal(v, reference.winograd_input(x, window))
    m = rng.standard_normal((16, k, v.shape[2])).astype(dtype)
    bias = rng.standard_normal(k).astype(dtype)
    out = kernels.implementation("winograd_output", backend)(m, n, window, bias)
    np.testing.assert_allclose(out, reference.winograd_output(m, n, window, bias), rtol=1e-6, atol=1e-6)
    grad = rng.standard_normal(out.shape).astype(dtype)
    dm = kernels.implementation("winograd_output_grad", backend)(grad, window)
    np.testing.assert_array_equal(dm, reference.winograd_output_grad(grad, window))
    dx = kernels.implementation("winograd_input_grad", backend)(v, x.shape, window)
    np.testing.assert_allclose(dx, reference.winograd_input_grad(v, x.shape, window), rtol=1e-6, atol=1e-5)


@pytest.mark.parametrize("backend", kernels.available("winograd_input"))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_tile_transforms_write_one_batch_range_of_a_larger_buffer(backend, dtype):
    """With out=, each transform fills images [a, b) of a whole batch's buffer and touches
    nothing else: how Conv2d runs two halves of a batch on two threads."""
    n, c, h, w, k, p = 5, 3, 7, 6, 4, 1
    window = _window((n, c, h, w, k, p))
    th, tw = (window.oh + 1) // 2, (window.ow + 1) // 2
    rng = np.random.default_rng(2)
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    grad = rng.standard_normal((n, k, window.oh, window.ow)).astype(dtype)
    m = rng.standard_normal((16, k, n, th, tw)).astype(dtype)
    dv = rng.standard_normal((16, c, n, th, tw)).astype(dtype)
    a, b = 2, 4
    impl = lambda name: kernels.implementation(name, backend)  # noqa: E731
    cases = [  # (buffer, call that fills images [a, b), the whole batch's result)
        (np.full((16, c, n, th, tw), 7, dtype), lambda out: impl("winograd_input")(x[a:b], window, out=out[:, :, a:b]),
         reference.winograd_input(x, window).reshape(16, c, n, th, tw)),
        (np.full((16, k, n, th, tw), 7, dtype), lambda out: impl("winograd_output_grad")(grad[a:b], window, out=out[:, :, a:b]),
         reference.winograd_output_grad(grad, window).reshape(16, k, n, th, tw)),
        (np.full(grad.shape, 7, dtype), lambda out: impl("winograd_output")(
            m[:, :, a:b].reshape(16, k, -1), b - a, window, None, out=out[a:b]), reference.winograd_output(m.reshape(16, k, -1), n, window)),
        (np.full(x.shape, 7, dtype), lambda out: impl("winograd_input_grad")(
            dv[:, :, a:b].reshape(16, c, -1), (b - a, c, h, w), window, out=out[a:b]),
         reference.winograd_input_grad(dv.reshape(16, c, -1), x.shape, window)),
    ]
    for buffer, fill, whole in cases:
        fill(buffer)
        batch_axis = 2 if buffer.ndim == 5 else 0
        inside = [slice(None)] * buffer.ndim
        inside[batch_axis] = slice(a, b)
        np.testing.assert_allclose(buffer[tuple(inside)], whole[tuple(inside)], rtol=1e-6, atol=1e-5)
        outside = np.delete(buffer, np.arange(a, b), axis=batch_axis)
        assert np.all(outside == 7)


# (N, C, H, W, K, padding) for the fused kernel: besides SHAPES, output channels that are not a
# multiple of the micro-kernel's 4, rows of tiles longer than its transforms' span of 64, and
# a batch whose blocks of tile rows span two images; and output planes a multiple of 1 KiB, whose
# rows the forward stages (in one group of channels, or several; with an odd last row)
# the weight gradient packs channels in narrow panels up to 16 float32 or 8 float64 values, wide ones above:
# 20 and 33 channels take wide panels in both dtypes, one of them and a part of the next
FUSED_SHAPES = SHAPES + [(3, 4, 6, 11, 7, 2), (2, 3, 5, 150, 5, 1), (5, 6, 9, 9, 9, 1), (2, 3, 3, 256, 5, 1),
                         (1, 2, 64, 64, 37, 1), (2, 20, 6, 7, 5, 1), (1, 33, 5, 5, 3, 1)]


def _fused_case(shape, dtype, seed):
    """x, weight, bias, an output gradient and the window."""
    n, c, h, w, k, p = shape
    window = _window(shape)
    rng = np.random.default_rng(seed)
    x, weight = rng.standard_normal((n, c, h, w)).astype(dtype), rng.standard_normal((k, c, 3, 3)).astype(dtype)
    grad = rng.standard_normal((n, k, window.oh, window.ow)).astype(dtype)
    return x, weight, rng.standard_normal(k).astype(dtype), grad, window


def _fused_tolerance(dtype, scale=1.0):
    """float32's to a result's scale: the weight gradient sums hundreds of tiles."""
    return dict(rtol=1e-5, atol=1e-5 * scale) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12 * scale)


def _check_fused_kernels(forward, weight_grad, shape, dtype, seed, threads=1):
    """Both kernels against their twins and against the direct convolution's twins."""
    x, weight, bias, grad, window = _fused_case(shape, dtype, seed)
    for b in (bias, None):
        got = forward(x, weight, window, b, threads=threads)
        np.testing.assert_allclose(got, reference.winograd_fused(x, weight, window, b), **_fused_tolerance(dtype))
        np.testing.assert_allclose(got, reference.direct_conv(x, weight, window, b), **_fused_tolerance(dtype))
    sums = np.full(weight.shape[0], 7.0)
    dw = weight_grad(x, grad, window, bias_out=sums, threads=threads)
    want = reference.winograd_fused_weight_grad(x, grad, window)
    np.testing.assert_allclose(dw, want, **_fused_tolerance(dtype, np.abs(want).max()))
    np.testing.assert_allclose(dw, reference.direct_conv_weight_grad(x, grad, window),
                               **_fused_tolerance(dtype, np.abs(want).max()))
    np.testing.assert_allclose(sums, grad.astype(np.float64).sum(axis=(0, 2, 3)), rtol=1e-12, atol=1e-10)


@pytest.mark.parametrize("backend", kernels.available("winograd_fused"))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", FUSED_SHAPES)
@pytest.mark.parametrize("block_tiles", [1, 48])
@pytest.mark.parametrize("threads", [1, 2])
def test_fused_kernels_match_twins(backend, dtype, shape, block_tiles, threads, monkeypatch):
    """Blocks of one tile row, and of the default size (which spans images on small ones); on
    one thread and split over two."""
    if backend == "compiled":
        from minidl.kernels import _winograd

        monkeypatch.setattr(_winograd, "FUSED_BLOCK_TILES", block_tiles)
    _check_fused_kernels(kernels.implementation("winograd_fused", backend),
                         kernels.implementation("winograd_fused_weight_grad", backend), shape, dtype, seed=5,
                         threads=threads)


@pytest.mark.parametrize("backend", kernels.available("winograd_fused"))
def test_fused_kernels_write_one_batch_range_and_refuse_what_they_cannot_compute(backend):
    x, weight, bias, grad, window = _fused_case((5, 3, 7, 6, 4, 1), np.float32, seed=6)
    fused = kernels.implementation("winograd_fused", backend)
    weight_grad = kernels.implementation("winograd_fused_weight_grad", backend)
    out = np.full((5, 4, window.oh, window.ow), 7, np.float32)
    fused(x[2:4], weight, window, bias, out=out[2:4])
    np.testing.assert_allclose(out[2:4], reference.winograd_fused(x, weight, window, bias)[2:4], rtol=1e-5, atol=1e-5)
    assert np.all(out[[0, 1, 4]] == 7)
    dw = np.full((2, 4, 3, 3, 3), 7, np.float32)  # the weight gradient overwrites its out=
    weight_grad(x[2:4], grad[2:4], window, out=dw[1])
    np.testing.assert_allclose(dw[1], reference.direct_conv_weight_grad(x[2:4], grad[2:4], window), rtol=1e-5, atol=1e-4)
    assert np.all(dw[0] == 7)
    if backend == "compiled":  # the twins compute whatever NumPy broadcasting lets them
        with pytest.raises(ValueError, match=r"winograd_fused: weight \(4, 3, 3, 3\) does not fit 2 channels"):
            fused(np.ascontiguousarray(x[:, :2]), weight, window)
        with pytest.raises(ValueError, match="winograd_fused: only 3x3 windows at stride 1"):
            fused(x, weight, Window2d.over((7, 6), (3, 3), (2, 2), (1, 1)))
        with pytest.raises(ValueError, match=r"winograd_fused_weight_grad: output gradient \(5, 4, 6, 5\) does not fit"):
            weight_grad(x, grad[:, :, :6, :5].copy(), window)


@pytest.mark.parametrize("backend", kernels.available("winograd_fused"))
def test_fused_kernels_on_an_empty_batch_and_no_channels(backend):
    fused = kernels.implementation("winograd_fused", backend)
    weight_grad = kernels.implementation("winograd_fused_weight_grad", backend)
    window = Window2d.over((5, 5), (3, 3), (1, 1), (1, 1))
    bias = np.array([1.0, -2.0], np.float32)
    assert fused(np.zeros((0, 3, 5, 5), np.float32), np.ones((2, 3, 3, 3), np.float32), window, bias).shape == (0, 2, 5, 5)
    out = fused(np.zeros((1, 0, 5, 5), np.float32), np.ones((2, 0, 3, 3), np.float32), window, bias)
    np.testing.assert_array_equal(out, np.broadcast_to(bias.reshape(1, 2, 1, 1), (1, 2, 5, 5)))
    sums = np.zeros(2)
    dw = weight_grad(np.zeros((1, 0, 5, 5), np.float32), np.ones((1, 2, 5, 5), np.float32), window, bias_out=sums)
    assert dw.shape == (2, 0, 3, 3)
    np.testing.assert_array_equal(sums, [25.0, 25.0])


@pytest.mark.parametrize("isa", instruction_sets_of("minidl.kernels._winograd"))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_kernels_at_every_instruction_set_match_twins(isa, dtype):
    """Each SIMD level has its own tile width, so each pads a block's columns differently."""
    from minidl.kernels import _winograd

    previous = _winograd.limit_instruction_set(isa)
    try:
        assert _winograd.instruction_set() == isa
        for shape in FUSED_SHAPES + [(2, 16, 32, 32, 32, 1)]:
            _check_fused_kernels(_winograd.winograd_fused, _winograd.winograd_fused_weight_grad, shape, dtype, seed=7)
    finally:
        _winograd.limit_instruction_set(previous)


def _conv_and_grads(x, w, b, padding, algorithm, monkeypatch):
    monkeypatch.setenv("MINIDL_CONV_ALGO", algorithm)
    xt, wt, bt = (md.tensor(a, requires_grad=True) for a in (x, w, b))
    out = F.conv2d(xt, wt, bt, padding=padding)
    out.backward(md.tensor(np.cos(np.arange(out.numpy().size, dtype=x.dtype)).reshape(out.shape)))
    return [out.numpy(), xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy()]


def _torch_conv_and_grads(x, w, b, padding):
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    out = torch.nn.functional.conv2d(xt, wt, bt, padding=padding)
    out.backward(torch.cos(torch.arange(out.numel(), dtype=xt.dtype)).reshape(out.shape))
    return [out.detach().numpy(), xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy()]


@pytest.mark.parametrize("algorithm", ["winograd", "winograd_fused"])
@pytest.mark.parametrize("shape", SHAPES)
def test_winograd_convolution_matches_im2col_and_pytorch_float64(algorithm, shape, monkeypatch):
    n, c, h, w, k, p = shape
    rng = np.random.default_rng(1)
    x, wt, b = rng.standard_normal((n, c, h, w)), rng.standard_normal((k, c, 3, 3)), rng.standard_normal(k)
    got = _conv_and_grads(x, wt, b, p, algorithm, monkeypatch)
    for want in (_conv_and_grads(x, wt, b, p, "im2col", monkeypatch), _torch_conv_and_grads(x, wt, b, p)):
        for g, e in zip(got, want):
            np.testing.assert_allclose(g, e, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("threads", ["1", "2"])
def test_winograd_in_chunks_and_halves_matches_pytorch(threads, monkeypatch):
    """Several chunks, each split over two threads (an odd batch, so the halves differ), the
    16 GEMMs of each pass too (the BLAS on one thread in each half; see kernels.blas_threads)."""
    from minidl.kernels import blas_threads
    from minidl.ops import conv

    monkeypatch.setenv("MINIDL_THREADS", threads)
    monkeypatch.setattr(blas_threads, "blas_spin_is_short", lambda: True)  # whatever imported NumPy first
    monkeypatch.setattr(blas_threads, "_blas", blas_threads._UNSET)
    monkeypatch.setattr(conv, "WINOGRAD_CHUNK_BYTES", 16 * 6 * 4 * 4 * 8 * 3)  # three images a chunk
    rng = np.random.default_rng(4)
    x, wt, b = rng.standard_normal((7, 5, 8, 7)), rng.standard_normal((6, 5, 3, 3)), rng.standard_normal(6)
    got = _conv_and_grads(x, wt, b, 1, "winograd", monkeypatch)
    assert (blas_threads._blas not in (None, blas_threads._UNSET)) == (threads == "2")
    for g, e in zip(got, _torch_conv_and_grads(x, wt, b, 1)):
        np.testing.assert_allclose(g, e, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("threads", ["1", "2"])
def test_fused_layer_in_halves_matches_pytorch(threads, monkeypatch):
    """Each pass splits an odd batch over two threads; with 5 input channels the weight gradient
    is the direct kernel's, with 16 the fused one's on narrow channel panels (float64: one wide
    panel), with 33 on wide ones, part empty."""
    from minidl.ops import conv

    monkeypatch.setenv("MINIDL_THREADS", threads)
    rng = np.random.default_rng(8)
    for channels in (5, 16, 33):
        assert (channels >= conv.FUSED_WEIGHT_GRAD_MIN_CHANNELS) == (channels != 5)
        x, wt, b = rng.standard_normal((7, channels, 8, 7)), rng.standard_normal((6, channels, 3, 3)), rng.standard_normal(6)
        for padding in (0, 1, 2):
            got = _conv_and_grads(x, wt, b, padding, "winograd_fused", monkeypatch)
            for g, e in zip(got, _torch_conv_and_grads(x, wt, b, padding)):
                np.testing.assert_allclose(g, e, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("algorithm", conv_algorithm.ALGORITHMS)
def test_gradcheck_passes_for_every_algorithm(algorithm, monkeypatch):
    monkeypatch.setenv("MINIDL_CONV_ALGO", algorithm)
    rng = np.random.default_rng(2)
    x, w, b = (md.tensor(rng.standard_normal(s), requires_grad=True) for s in ((2, 3, 5, 4), (2, 3, 3, 3), (2,)))
    assert md.gradcheck(lambda x, w, b: F.conv2d(x, w, b, padding=1), (x, w, b))


@pytest.mark.parametrize("shape", [(8, 64, 16, 16, 64), (4, 128, 8, 8, 128), (4, 32, 9, 7, 16), (4, 16, 32, 32, 32)])
def test_float32_error_within_4x_of_im2col(shape, monkeypatch):
    """Each algorithm's float32 result against the float64 one; Winograd's largest relative
    error (to the output's scale) stays within 4x of im2col's, as the issue asks of a default;
    so does the direct convolution's."""
    n, c, h, w, k = shape
    rng = np.random.default_rng(3)
    x, wt, b = rng.standard_normal((n, c, h, w)), rng.standard_normal((k, c, 3, 3)) / np.sqrt(9 * c), rng.standard_normal(k)
    exact = _conv_and_grads(x, wt, b, 1, "im2col", monkeypatch)
    errors = {}
    for algorithm in conv_algorithm.ALGORITHMS:
        got = _conv_and_grads(*(a.astype(np.float32) for a in (x, wt, b)), 1, algorithm, monkeypatch)
        errors[algorithm] = max(np.abs(g - e).max() / np.abs(e).max() for g, e in zip(got, exact))
    for algorithm in ("winograd", "winograd_fused", "direct"):
        assert errors[algorithm] <= 4 * errors["im2col"], errors


def test_rule_chooses_by_geometry_channels_and_size(monkeypatch):
    monkeypatch.delenv("MINIDL_CONV_ALGO", raising=False)
    choose = conv_algorithm.choose
    w3 = Window2d.over((16, 16), (3, 3), (1, 1), (1, 1))
    w3_small = Window2d.over((8, 8), (3, 3), (1, 1), (1, 1))  # 64 output pixels an image
    w3_tiny = Window2d.over((4, 4), (3, 3), (1, 1), (1, 1))  # rows of 2 tiles
    assert choose(64, 64, w3, 1) == "winograd_fused"
    assert choose(16, 32, Window2d.over((32, 32), (3, 3), (1, 1), (1, 1)), 1) == "winograd_fused"  # B1
    assert choose(conv_algorithm.FUSED_MIN_CHANNELS - 1, 64, w3, 1) == "direct"  # too few channels for Winograd
    assert choose(3, 64, Window2d.over((32, 32), (3, 3), (1, 1), (1, 1)), 1) == "direct"  # a stem
    assert choose(16, 32, w3_tiny, 1) == "im2col"  # B8's second layer
    assert choose(512, 512, w3_tiny, 1) == "winograd"  # C4
    assert choose(128, 128, w3, 1) == "winograd_fused"  # 590 KB of weights
    assert choose(256, 256, w3, 1) == "winograd_fused"  # 2.4 MB, but 256 output pixels an image
    assert choose(256, 256, w3_small, 1) == "winograd"  # 2.4 MB over 64 pixels: BLAS's GEMMs win
    assert choose(128, 128, w3_small, 1) == "winograd_fused"
    assert choose(64, 64, w3, 1, itemsize=8) == "winograd_fused"
    assert choose(conv_algorithm.FUSED_MIN_CHANNELS - 1, 16, w3_small, 1) == "im2col"  # neither Winograd, nor direct at 64 pixels
    assert choose(conv_algorithm.WINOGRAD_MIN_CHANNELS - 1, 16, w3_small, 1) == "winograd_fused"
    assert choose(64, 64, w3, 2) == "im2col"  # groups
    assert choose(64, 64, Window2d.over((16, 16), (3, 3), (2, 2), (1, 1)), 1) == "im2col"  # stride
    assert choose(64, 64, Window2d.over((16, 16), (3, 3), (1, 1), (2, 2), (2, 2)), 1) == "direct"  # dilation
    assert choose(16, 16, Window2d.over((16, 16), (5, 5), (1, 1), (2, 2)), 1) == "direct"
    assert choose(64, 64, Window2d.over((16, 16), (1, 1), (1, 1), (0, 0)), 1) == "im2col"  # 1x1: one GEMM
    assert choose(4, 4, Window2d.over((16, 16), (3, 3), (1, 1), (3, 3)), 1) == "im2col"  # padding past the window
    monkeypatch.setenv("MINIDL_CONV_ALGO", "winograd")
    assert choose(3, 3, w3, 1) == "winograd"
    assert choose(64, 64, Window2d.over((16, 16), (1, 1), (1, 1), (0, 0)), 1) == "im2col"  # cannot
    monkeypatch.setenv("MINIDL_CONV_ALGO", "winograd_fused")
    assert choose(512, 512, w3_small, 1) == "winograd_fused"
    assert choose(64, 64, Window2d.over((16, 16), (3, 3), (1, 1), (3, 3)), 1) == "im2col"  # cannot: padding 3
    assert choose(64, 64, Window2d.over((16, 16), (3, 3), (1, 1), (2, 2), (2, 2)), 1) == "im2col"  # nor dilation
    monkeypatch.setenv("MINIDL_CONV_ALGO", "direct")
    assert choose(512, 512, w3_small, 1) == "direct"
    assert choose(64, 64, Window2d.over((16, 16), (3, 3), (2, 2), (1, 1)), 1) == "im2col"  # cannot
    monkeypatch.setenv("MINIDL_CONV_ALGO", "im2col")
    assert choose(512, 512, w3, 1) == "im2col"


def test_unknown_algorithm_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("MINIDL_CONV_ALGO", "fft")
    x, w = md.randn(1, 2, 5, 5), md.randn(3, 2, 3, 3)
    with pytest.raises(ValueError, match="MINIDL_CONV_ALGO.*'fft'"):
        F.conv2d(x, w, padding=1)


def test_bad_input_is_refused_before_any_kernel(monkeypatch):
    monkeypatch.setenv("MINIDL_CONV_ALGO", "winograd")
    with pytest.raises(ValueError, match="conv2d: input has 3 channels"):
        F.conv2d(md.randn(1, 3, 5, 5), md.randn(4, 2, 3, 3), padding=1)


@pytest.mark.parametrize("algorithm", conv_algorithm.ALGORITHMS)
def test_unsupported_dtype_is_a_clear_error(algorithm, monkeypatch):
    monkeypatch.setenv("MINIDL_CONV_ALGO", algorithm)
    x, w = md.tensor(np.ones((1, 2, 5, 5), np.float16)), md.tensor(np.ones((3, 2, 3, 3), np.float16))
    with pytest.raises(TypeError, match=r"conv2d: input is float16 \(shape \(1, 2, 5, 5\)\); conv2d supports float32 and float64"):
        F.conv2d(x, w, padding=1)
