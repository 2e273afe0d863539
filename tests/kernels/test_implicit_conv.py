"""The implicit-GEMM convolution forward and both gradients: the compiled kernels against
their NumPy twins and PyTorch on odd shapes at every instruction set, out=, and the layer
(forced and by the rule) against im2col and PyTorch, forward and every gradient."""
import numpy as np
import pytest
import torch

import minidl as md
import minidl.functional as F
from minidl import kernels
from minidl.kernels.window import Window2d
from tests.kernels import instruction_sets_of

# (N, C, H, W, K, (kh, kw), (sh, sw), (ph, pw), (dh, dw)): K not a multiple of the channel
# blocks (2 vectors: 4 to 32 channels by instruction set), tiles of pixels across output rows
# and images, chunks of pixels with a short last tile, two blocks of rows (R over 1152),
# stride 2 and 3, dilation, 1x1 and full-image windows, one channel, batch 1
CASES = [
    (2, 3, 7, 5, 5, (3, 3), (2, 2), (1, 1), (1, 1)),
    (1, 1, 1, 1, 1, (1, 1), (1, 1), (0, 0), (1, 1)),
    (3, 5, 9, 11, 7, (3, 2), (2, 3), (2, 0), (2, 1)),
    (1, 4, 4, 4, 6, (4, 4), (1, 1), (0, 0), (1, 1)),
    (5, 2, 6, 6, 13, (1, 1), (2, 2), (0, 0), (1, 1)),
    (2, 7, 16, 16, 12, (3, 3), (2, 2), (1, 1), (1, 1)),
    (3, 6, 13, 40, 9, (5, 3), (1, 2), (2, 1), (1, 2)),
    (4, 17, 8, 8, 32, (3, 3), (1, 1), (1, 1), (1, 1)),
    (3, 4, 13, 13, 37, (3, 3), (2, 2), (1, 1), (1, 1)),
    (2, 130, 5, 6, 35, (3, 3), (2, 2), (1, 1), (1, 1)),
]


def _case(case, dtype, seed=0):
    n, c, h, w, k, kernel, stride, padding, dilation = case
    rng = np.random.default_rng(seed)
    window = Window2d.over((h, w), kernel, stride, padding, dilation)
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    weight = rng.standard_normal((k, c) + kernel).astype(dtype)
    return x, weight, rng.standard_normal(k).astype(dtype), window


def _torch_conv(x, weight, bias, window):
    args = (torch.from_numpy(a.astype(np.float64)) for a in (x, weight, bias))
    return torch.nn.functional.conv2d(*args, stride=window[2:4], padding=window[4:6], dilation=window[6:8]).numpy()


@pytest.mark.parametrize("isa", instruction_sets_of("minidl.kernels._implicit_conv"))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES)
def test_every_instruction_set_matches_the_twin_and_pytorch(isa, dtype, case):
    """Each SIMD level has its own tile (8 pixels by 32 floats at AVX-512, 6 pixels by 4
    doubles at SSE2), so each splits the channels into blocks, and the pixels into tiles
    across rows and images, differently."""
    from minidl.kernels import _implicit_conv

    previous = _implicit_conv.limit_instruction_set(isa)
    try:
        x, weight, bias, window = _case(case, dtype)
        tol = dict(rtol=1e-5, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
        got = _implicit_conv.implicit_conv(x, weight, window, bias)
        assert got.dtype == dtype and got.shape == (x.shape[0], weight.shape[0], window.oh, window.ow)
        np.testing.assert_allclose(got, kernels.reference.implicit_conv(x, weight, window, bias), **tol)
        np.testing.assert_allclose(got, _torch_conv(x, weight, bias, window), **tol)
        np.testing.assert_allclose(_implicit_conv.implicit_conv(x, weight, window),
                                   kernels.reference.implicit_conv(x, weight, window), **tol)
    finally:
        _implicit_conv.limit_instruction_set(previous)


def _torch_gradients(x, weight, grad, window):
    """PyTorch's input and weight gradients of the convolution, given its output gradient."""
    xt, wt = (torch.tensor(a.astype(np.float64), requires_grad=True) for a in (x, weight))
    out = torch.nn.functional.conv2d(xt, wt, stride=window[2:4], padding=window[4:6], dilation=window[6:8])
    out.backward(torch.from_numpy(grad.astype(np.float64)))
    return xt.grad.numpy(), wt.grad.numpy()


@pytest.mark.parametrize("isa", instruction_sets_of("minidl.kernels._implicit_conv"))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES)
def test_both_gradients_at_every_instruction_set_match_the_twins_and_pytorch(isa, dtype, case):
    """Each level's tiles split pixels, rows of the columns and channels differently. The input
    gradient's tiles are 2 vectors of the columns: at 17 and 130 channels some straddle two
    taps (added value by value), the others are one tap's run; images go a few at a time where
    they have few pixels; stride 2 and 3 leave pixels unreached. The weight gradient's tiles
    are rows of the columns by blocks of output channels."""
    from minidl.kernels import _implicit_conv

    previous = _implicit_conv.limit_instruction_set(isa)
    try:
        x, weight, _, window = _case(case, dtype)
        grad = np.random.default_rng(7).standard_normal((x.shape[0], weight.shape[0], window.oh, window.ow)).astype(dtype)
        tol = dict(rtol=1e-5, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
        want_x, want_w = _torch_gradients(x, weight, grad, window)
        got_x = _implicit_conv.implicit_conv_input_grad(grad, weight, window)
        got_w = _implicit_conv.implicit_conv_weight_grad(x, grad, window)
        assert (got_x.dtype, got_x.shape, got_w.dtype, got_w.shape) == (dtype, x.shape, dtype, weight.shape)
        np.testing.assert_allclose(got_x, kernels.reference.implicit_conv_input_grad(grad, weight, window), **tol)
        np.testing.assert_allclose(got_x, want_x, **tol)
        np.testing.assert_allclose(got_w, kernels.reference.implicit_conv_weight_grad(x, grad, window), **tol)
        np.testing.assert_allclose(got_w, want_w, **tol)
    finally:
        _implicit_conv.limit_instruction_set(previous)


@pytest.mark.parametrize("backend", kernels.available("implicit_conv_input_grad"))
def test_the_input_gradient_into_out_empty_batches_and_bad_weights(backend):
    input_grad = kernels.implementation("implicit_conv_input_grad", backend)
    x, weight, _, window = _case(CASES[2], np.float64)
    grad = np.random.default_rng(8).standard_normal((x.shape[0], weight.shape[0], window.oh, window.ow))
    out = np.full((4,) + x.shape[1:], 7.0)
    input_grad(grad, weight, window, out=out[1:])
    np.testing.assert_allclose(out[1:], _torch_gradients(x, weight, grad, window)[0], rtol=1e-12, atol=1e-12)
    assert np.all(out[0] == 7)
    empty_window = Window2d.over((5, 5), (3, 3), (2, 2), (1, 1))
    assert input_grad(np.zeros((0, 4, 3, 3)), np.ones((4, 2, 3, 3)), empty_window).shape == (0, 2, 5, 5)
    np.testing.assert_array_equal(input_grad(np.zeros((2, 0, 3, 3)), np.ones((0, 2, 3, 3)), empty_window),
                                  np.zeros((2, 2, 5, 5)))
    with pytest.raises(ValueError, match="implicit_conv_input_grad: output gradient .* do not fit"):
        input_grad(grad, weight[:, :, :-1], window)


@pytest.mark.parametrize("backend", kernels.available("implicit_conv_weight_grad"))
def test_the_weight_gradient_into_out_empty_batches_and_bad_gradients(backend):
    weight_grad = kernels.implementation("implicit_conv_weight_grad", backend)
    x, weight, _, window = _case(CASES[2], np.float64)
    grad = np.random.default_rng(6).standard_normal((x.shape[0], weight.shape[0], window.oh, window.ow))
    out = np.full(weight.shape, 7.0)
    assert weight_grad(x, grad, window, out=out) is out
    np.testing.assert_allclose(out, _torch_gradients(x, weight, grad, window)[1], rtol=1e-12, atol=1e-12)
    empty_window = Window2d.over((5, 5), (3, 3), (2, 2), (1, 1))
    np.testing.assert_array_equal(weight_grad(np.zeros((0, 2, 5, 5)), np.zeros((0, 4, 3, 3)), empty_window),
                                  np.zeros((4, 2, 3, 3)))
    assert weight_grad(np.zeros((2, 0, 5, 5)), np.zeros((2, 4, 3, 3)), empty_window).shape == (4, 0, 3, 3)
    with pytest.raises(ValueError, match="implicit_conv_weight_grad: output gradient .* does not fit"):
        weight_grad(x, np.ascontiguousarray(grad[:, :, :-1]), window)


@pytest.mark.parametrize("backend", kernels.available("implicit_conv"))
def test_the_twin_matches_pytorch_and_one_batch_range_is_written_alone(backend):
    x, weight, bias, window = _case(CASES[2], np.float64)
    conv = kernels.implementation("implicit_conv", backend)
    np.testing.assert_allclose(conv(x, weight, window, bias), _torch_conv(x, weight, bias, window), rtol=1e-12, atol=1e-12)
    out = np.full((3, 7, window.oh, window.ow), 7.0)
    conv(x[1:], weight, window, bias, out=out[1:])
    np.testing.assert_allclose(out[1:], _torch_conv(x, weight, bias, window)[1:], rtol=1e-12, atol=1e-12)
    assert np.all(out[0] == 7)


@pytest.mark.parametrize("backend", kernels.available("implicit_conv"))
def test_empty_batch_no_channels_and_bad_weights(backend):
    conv = kernels.implementation("implicit_conv", backend)
    window = Window2d.over((5, 5), (3, 3), (2, 2), (1, 1))
    assert conv(np.zeros((0, 2, 5, 5)), np.ones((4, 2, 3, 3)), window).shape == (0, 4, 3, 3)
    np.testing.assert_array_equal(conv(np.zeros((2, 0, 5, 5)), np.ones((4, 0, 3, 3)), window, np.arange(4.0)),
                                  np.broadcast_to(np.arange(4.0).reshape(1, 4, 1, 1), (2, 4, 3, 3)))
    with pytest.raises(ValueError, match="implicit_conv: weight .* does not fit 2 channels"):
        conv(np.ones((1, 2, 5, 5)), np.ones((3, 4, 3, 3)), window)


def _layer(x, w, b, window, algorithm, monkeypatch):
    monkeypatch.setenv("MINIDL_CONV_ALGO", algorithm)
    xt, wt, bt = (md.tensor(a, requires_grad=True) for a in (x, w, b))
    out = F.conv2d(xt, wt, bt, stride=window[2:4], padding=window[4:6], dilation=window[6:8])
    path = (out._ctx.algorithm, out._ctx.cols is None)  # before the backward frees what the node saved
    out.backward(md.tensor(np.cos(np.arange(out.numpy().size, dtype=x.dtype)).reshape(out.shape)))
    return [out.numpy(), xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy()], path


@pytest.mark.parametrize("weight_grad", ["blas", "implicit"])
@pytest.mark.parametrize("threads", ["1", "2"])
@pytest.mark.parametrize("case", CASES)
def test_implicit_layer_matches_im2col_and_pytorch_float64(case, threads, weight_grad, monkeypatch):
    """Both weight gradients, BLAS on the unfolded columns and the implicit GEMM's (forced by a
    zero depth threshold: these layers are below it), on one thread and on two."""
    from minidl.ops import conv

    monkeypatch.setenv("MINIDL_THREADS", threads)
    monkeypatch.setattr(conv, "IMPLICIT_WEIGHT_GRAD_MIN_PIXELS", 0 if weight_grad == "implicit" else 1 << 40)
    calls = []
    # the function itself: the name's first call would rebind it over the spy
    implicit_weight_grad = kernels.implementation("implicit_conv_weight_grad", kernels.available("implicit_conv_weight_grad")[0])
    monkeypatch.setattr(kernels, "implicit_conv_weight_grad", lambda *a, **k: calls.append(1) or implicit_weight_grad(*a, **k))
    x, w, b, window = _case(case, np.float64, seed=1)
    got, path = _layer(x, w, b, window, "implicit", monkeypatch)
    assert path == ("implicit", True)
    assert len(calls) == (0 if weight_grad == "blas" else 1 if threads == "1" or x.shape[0] < 2 else 2)
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    out = torch.nn.functional.conv2d(xt, wt, bt, stride=window[2:4], padding=window[4:6], dilation=window[6:8])
    out.backward(torch.cos(torch.arange(out.numel(), dtype=xt.dtype)).reshape(out.shape))
    theirs = [out.detach().numpy(), xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy()]
    for want in (_layer(x, w, b, window, "im2col", monkeypatch)[0], theirs):
        for g, e in zip(got, want):
            np.testing.assert_allclose(g, e, rtol=1e-10, atol=1e-10)


def test_the_rule_runs_it_where_the_columns_would_not_be_kept(monkeypatch, torch_oracle):
    """A stride-2 layer whose columns pass both KEEP_COLUMNS limits (2.25 times the input here,
    and over 1 MiB) goes through the implicit GEMM; a small one keeps its columns as before."""
    monkeypatch.delenv("MINIDL_CONV_ALGO", raising=False)
    rng = np.random.default_rng(3)
    for n, expect_implicit in ((8, True), (1, False)):
        x, w = rng.standard_normal((n, 64, 16, 16)).astype(np.float32), rng.standard_normal((16, 64, 3, 3)).astype(np.float32)
        xt, wt = md.tensor(x, requires_grad=True), md.tensor(w, requires_grad=True)
        out = F.conv2d(xt, wt, stride=2, padding=1)
        assert (out._ctx.cols is None) is expect_implicit
        out.sum().backward()
        tx, tw = torch_oracle.tensor(x, requires_grad=True), torch_oracle.tensor(w, requires_grad=True)
        expected = torch_oracle.nn.functional.conv2d(tx, tw, stride=2, padding=1)
        expected.sum().backward()
        np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(xt.grad.numpy(), tx.grad.numpy(), rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(wt.grad.numpy(), tw.grad.numpy(), rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("min_pixels", [0, 1 << 40])
def test_gradcheck_through_the_implicit_forward(min_pixels, monkeypatch):
    """With the implicit weight gradient (no depth threshold) and with BLAS's."""
    from minidl.ops import conv

    monkeypatch.setattr(conv, "IMPLICIT_WEIGHT_GRAD_MIN_PIXELS", min_pixels)
    monkeypatch.setenv("MINIDL_CONV_ALGO", "implicit")
    rng = np.random.default_rng(4)
    x = md.tensor(rng.standard_normal((2, 3, 7, 6)), requires_grad=True)
    w = md.tensor(rng.standard_normal((5, 3, 3, 2)), requires_grad=True)
    b = md.tensor(rng.standard_normal(5), requires_grad=True)
    assert md.gradcheck(lambda x, w, b: F.conv2d(x, w, b, stride=(2, 1), padding=1, dilation=(1, 2)), (x, w, b))
