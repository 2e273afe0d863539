"""The direct (shifted-GEMM) convolution at stride 1: the compiled kernels against their
NumPy twins on odd shapes, and the whole layer against im2col and PyTorch (forward and every
gradient), on one thread and two."""
import numpy as np
import pytest
import torch

import minidl as md
import minidl.functional as F
from minidl import kernels
from minidl.kernels.window import Window2d
from tests.kernels import instruction_sets_of

# (N, C, H, W, K, (kh, kw), (ph, pw), (dh, dw)): odd sizes, K not a multiple of 4, 1x1 and
# 5x5 windows, dilation, padding 0 and the most the direct path takes, batch 1, 1x1 images
CASES = [
    (2, 3, 7, 5, 5, (3, 3), (1, 1), (1, 1)),
    (1, 1, 1, 1, 1, (1, 1), (0, 0), (1, 1)),
    (3, 5, 9, 11, 7, (3, 2), (2, 0), (2, 1)),
    (1, 4, 4, 4, 6, (5, 5), (2, 2), (1, 1)),
    (2, 2, 5, 5, 3, (3, 3), (0, 0), (1, 1)),
    (1, 6, 1, 9, 2, (1, 3), (0, 2), (1, 1)),
    (4, 17, 13, 6, 9, (4, 4), (3, 1), (1, 1)),
]


def _case(case, dtype, seed=0):
    n, c, h, w, k, kernel, padding, dilation = case
    rng = np.random.default_rng(seed)
    window = Window2d.over((h, w), kernel, (1, 1), padding, dilation)
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    weight = rng.standard_normal((k, c) + kernel).astype(dtype)
    grad = rng.standard_normal((n, k, window.oh, window.ow)).astype(dtype)
    return x, weight, rng.standard_normal(k).astype(dtype), grad, window


@pytest.mark.parametrize("backend", kernels.available("direct_conv"))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES)
def test_kernels_match_twins_and_pytorch(backend, dtype, case):
    x, weight, bias, grad, window = _case(case, dtype)
    tol = dict(rtol=1e-5, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    got = kernels.implementation("direct_conv", backend)(x, weight, window, bias)
    assert got.dtype == dtype and got.shape == grad.shape
    np.testing.assert_allclose(got, kernels.implementation("direct_conv", "reference")(x, weight, window, bias), **tol)
    expect = torch.nn.functional.conv2d(*(torch.from_numpy(a.astype(np.float64)) for a in (x, weight, bias)),
                                        padding=window[4:6], dilation=window[6:8]).numpy()
    np.testing.assert_allclose(got, expect, **tol)
    sums = np.full(weight.shape[0], 7.0)
    dw = kernels.implementation("direct_conv_weight_grad", backend)(x, grad, window, bias_out=sums)
    dw_twin = kernels.implementation("direct_conv_weight_grad", "reference")(x, grad, window)
    np.testing.assert_allclose(dw, dw_twin, **tol)
    np.testing.assert_allclose(sums, grad.astype(np.float64).sum(axis=(0, 2, 3)), rtol=1e-12, atol=1e-10)


@pytest.mark.parametrize("backend", kernels.available("direct_conv"))
def test_kernels_write_one_batch_range_and_nothing_else(backend):
    x, weight, bias, grad, window = _case(CASES[0], np.float64)
    out = np.full(grad.shape, 7.0)
    kernels.implementation("direct_conv", backend)(x[1:], weight, window, bias, out=out[1:])
    np.testing.assert_allclose(out[1:], kernels.implementation("direct_conv", "reference")(x, weight, window, bias)[1:])
    assert np.all(out[0] == 7)
    dw = np.full(weight.shape, 7.0)  # overwritten, not added to
    kernels.implementation("direct_conv_weight_grad", backend)(x, grad, window, out=dw)
    np.testing.assert_allclose(dw, kernels.implementation("direct_conv_weight_grad", "reference")(x, grad, window))


@pytest.mark.parametrize("backend", kernels.available("direct_conv"))
def test_empty_batch_and_no_channels(backend):
    window = Window2d.over((3, 3), (3, 3), (1, 1), (1, 1))
    conv, wgrad = (kernels.implementation(name, backend) for name in ("direct_conv", "direct_conv_weight_grad"))
    assert conv(np.zeros((0, 2, 3, 3)), np.ones((4, 2, 3, 3)), window).shape == (0, 4, 3, 3)
    np.testing.assert_array_equal(conv(np.zeros((2, 0, 3, 3)), np.ones((4, 0, 3, 3)), window, np.arange(4.0)),
                                  np.broadcast_to(np.arange(4.0).reshape(1, 4, 1, 1), (2, 4, 3, 3)))
    np.testing.assert_array_equal(wgrad(np.zeros((0, 2, 3, 3)), np.zeros((0, 4, 3, 3)), window), np.zeros((4, 2, 3, 3)))


@pytest.mark.parametrize("backend", kernels.available("direct_conv"))
def test_kernels_refuse_what_they_cannot_compute(backend):
    x = np.ones((1, 2, 6, 6))
    strided = Window2d.over((6, 6), (3, 3), (2, 2), (1, 1))
    with pytest.raises(ValueError, match="direct_conv: stride must be 1"):
        kernels.implementation("direct_conv", backend)(x, np.ones((3, 2, 3, 3)), strided)
    window = Window2d.over((6, 6), (3, 3), (1, 1), (1, 1))
    with pytest.raises(ValueError, match="direct_conv: weight .* does not fit 2 channels"):
        kernels.implementation("direct_conv", backend)(x, np.ones((3, 4, 3, 3)), window)
    with pytest.raises(ValueError, match="direct_conv_weight_grad: output gradient"):
        kernels.implementation("direct_conv_weight_grad", backend)(x, np.ones((1, 3, 5, 6)), window)
    with pytest.raises(ValueError, match=r"direct_conv_weight_grad: out \(2, 3, 2, 3, 3\) is not the weight's"):
        kernels.implementation("direct_conv_weight_grad", backend)(x, np.ones((1, 3, 6, 6)), window,
                                                                   out=np.zeros((2, 3, 2, 3, 3)))


@pytest.mark.parametrize("isa", instruction_sets_of("minidl.kernels._direct_conv"))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_instruction_set_matches_the_twins(isa, dtype):
    """The kernel compiled for each SIMD level this CPU has (AVX-512, AVX2, SSE2), not only the
    best: tile widths differ, so each rounds the positions and pads the planes differently."""
    from minidl.kernels import _direct_conv

    previous = _direct_conv.limit_instruction_set(isa)
    try:
        assert _direct_conv.instruction_set() == isa
        for case in CASES + [(2, 16, 32, 32, 32, (3, 3), (1, 1), (1, 1))]:
            x, weight, bias, grad, window = _case(case, dtype, seed=7)
            tol = dict(rtol=1e-5, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(_direct_conv.direct_conv(x, weight, window, bias),
                                       kernels.reference.direct_conv(x, weight, window, bias), **tol)
            np.testing.assert_allclose(_direct_conv.direct_conv_weight_grad(x, grad, window),
                                       kernels.reference.direct_conv_weight_grad(x, grad, window), **tol)
    finally:
        _direct_conv.limit_instruction_set(previous)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("lanes_bytes", [1, 10000])
def test_weight_gradient_in_blocks_of_output_channels(dtype, lanes_bytes, threads, monkeypatch):
    """A layer whose lane vectors pass WGRAD_LANES_BYTES goes over the batch once per block of
    output channels: 10 channels in blocks of 4 (the least) leave a last block of 2; the larger
    limit gives blocks of 8 and 2 at AVX-512. Each block's bias sums are its own channels'. On
    two threads each block is split over the images again."""
    from minidl.kernels import _direct_conv

    monkeypatch.setattr(_direct_conv, "WGRAD_LANES_BYTES", lanes_bytes)
    x, _, _, grad, window = _case((3, 2, 6, 5, 10, (3, 3), (1, 1), (1, 1)), dtype, seed=5)
    sums = np.full(10, 7.0)
    dw = _direct_conv.direct_conv_weight_grad(x, grad, window, bias_out=sums, threads=threads)
    tol = dict(rtol=1e-5, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dw, kernels.reference.direct_conv_weight_grad(x, grad, window), **tol)
    np.testing.assert_allclose(sums, grad.astype(np.float64).sum(axis=(0, 2, 3)), rtol=1e-12, atol=1e-10)


def test_instruction_sets_name_what_runs():
    pytest.importorskip("minidl.kernels._direct_conv")
    from minidl.kernels._direct_conv import instruction_set, instruction_sets, limit_instruction_set

    names = instruction_sets()
    assert names and set(names) <= {"avx512", "avx2", "sse2", "portable"}
    assert instruction_set() == names[-1]  # the best one, unless a test lowered it
    with pytest.raises(ValueError, match="instruction set 'neon' not available"):
        limit_instruction_set("neon")


def _layer(x, w, b, padding, dilation, algorithm, monkeypatch):
    monkeypatch.setenv("MINIDL_CONV_ALGO", algorithm)
    xt, wt, bt = (md.tensor(a, requires_grad=True) for a in (x, w, b))
    out = F.conv2d(xt, wt, bt, padding=padding, dilation=dilation)
    out.backward(md.tensor(np.cos(np.arange(out.numpy().size, dtype=x.dtype)).reshape(out.shape)))
    return [out.numpy(), xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy()]


@pytest.mark.parametrize("threads", ["1", "2"])
@pytest.mark.parametrize("case", CASES)
def test_direct_layer_matches_im2col_and_pytorch_float64(case, threads, monkeypatch):
    monkeypatch.setenv("MINIDL_THREADS", threads)
    x, w, b, _, window = _case(case, np.float64, seed=1)
    padding, dilation = window[4:6], window[6:8]
    got = _layer(x, w, b, padding, dilation, "direct", monkeypatch)
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    out = torch.nn.functional.conv2d(xt, wt, bt, padding=padding, dilation=dilation)
    out.backward(torch.cos(torch.arange(out.numel(), dtype=xt.dtype)).reshape(out.shape))
    theirs = [out.detach().numpy(), xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy()]
    for want in (_layer(x, w, b, padding, dilation, "im2col", monkeypatch), theirs):
        for g, e in zip(got, want):
            np.testing.assert_allclose(g, e, rtol=1e-10, atol=1e-10)


def test_direct_layer_on_a_non_contiguous_input(monkeypatch):
    monkeypatch.setenv("MINIDL_CONV_ALGO", "direct")
    rng = np.random.default_rng(5)
    base = rng.standard_normal((3, 4, 9, 8))
    x = md.tensor(base, requires_grad=True)
    w = md.tensor(rng.standard_normal((5, 4, 3, 3)), requires_grad=True)
    view = x.transpose(2, 3)  # (3, 4, 8, 9), strided
    F.conv2d(view, w, padding=1).sum().backward()
    xt, wt = torch.tensor(base, requires_grad=True), torch.tensor(w.numpy(), requires_grad=True)
    torch.nn.functional.conv2d(xt.transpose(2, 3), wt, padding=1).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(w.grad.numpy(), wt.grad.numpy(), rtol=1e-10, atol=1e-10)
