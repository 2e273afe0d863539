"""Convolution and pooling through F: clear errors before any kernel runs, and backends agree end to end."""
import numpy as np
import pytest

import minidl as md
import minidl.functional as F
from minidl import kernels


def _t(*shape, dtype=np.float64):
    return md.tensor(np.random.default_rng(0).standard_normal(shape).astype(dtype), requires_grad=True)


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: F.conv2d(_t(3, 5), _t(4, 3, 3, 3)), ValueError, r"conv2d: expected input of shape \(N, C, H, W\).*\(3, 5\)"),
        (lambda: F.conv2d(_t(1, 3, 5, 5), _t(4, 2, 3, 3)), ValueError,
         r"conv2d: input has 3 channels \(shape \(1, 3, 5, 5\)\) but weight expects 2 \(weight shape \(4, 2, 3, 3\), groups 1\)"),
        (lambda: F.conv2d(_t(1, 3, 2, 2), _t(4, 3, 5, 5), padding=1), ValueError,
         r"conv2d: kernel 5x5 \(dilation \(1, 1\)\) spans 5 along H, more than the padded input's 4 \(input shape \(1, 3, 2, 2\)"),
        (lambda: F.conv2d(_t(1, 3, 5, 5), _t(4, 3, 3, 3), stride=0), ValueError, r"conv2d: stride must be positive; got \(0, 0\)"),
        (lambda: F.conv2d(_t(1, 3, 5, 5), _t(4, 3, 3, 3), padding=-1), ValueError, r"padding must be non-negative"),
        (lambda: F.conv2d(_t(1, 4, 5, 5), _t(6, 2, 3, 3), groups=3), ValueError, r"groups=3 must divide"),
        (lambda: F.conv2d(_t(1, 3, 5, 5), _t(4, 3, 3, 3), _t(3)), ValueError, r"bias must have shape \(4,\)"),
        (lambda: F.conv2d(_t(1, 3, 5, 5), _t(4, 3, 3, 3, dtype=np.float32)), TypeError, r"input is float64 \(shape .*\) but the weight is float32"),
        (lambda: F.conv2d(_t(1, 3, 5, 5), _t(4, 3, 3, 3), padding="full"), ValueError, r"padding must be an int, a pair, 'valid' or 'same'"),
        (lambda: F.conv1d(_t(1, 3, 5, 5), _t(4, 3, 3)), ValueError, r"conv1d: expected input \(N, C, L\)"),
        (lambda: F.max_pool2d(_t(1, 1, 4, 4), 2, padding=2), ValueError, r"max_pool2d: padding \(2, 2\) must be at most half"),
        (lambda: F.max_pool2d(_t(1, 1, 2, 2), 3), ValueError, r"max_pool2d: kernel 3x3 .* more than the padded input's 2"),
        (lambda: F.avg_pool2d(_t(1, 1, 4, 4), 2, stride=-1), ValueError, r"avg_pool2d: stride must be positive"),
        (lambda: F.max_pool2d(_t(4, 4), 2), ValueError, r"max_pool2d: expected input of shape"),
        (lambda: F.adaptive_avg_pool2d(_t(1, 1, 4, 4), 0), ValueError, r"output_size must be positive"),
    ],
)
def test_bad_conv_and_pool_arguments_fail_before_any_kernel(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_conv_pool_network_gives_the_same_result_and_gradients_on_every_backend():
    def run():
        x, w1, w2 = _t(2, 3, 9, 8), _t(4, 3, 3, 3), _t(5, 4, 2, 2)
        h = F.max_pool2d(F.relu(F.conv2d(x, w1, padding=1)), 2)
        out = F.avg_pool2d(F.conv2d(h, w2, stride=1, padding=1), 2, count_include_pad=False)
        out.sum().backward()
        return out.numpy(), x.grad.numpy(), w1.grad.numpy(), w2.grad.numpy()

    with kernels.use("reference"):
        expected = run()
    with kernels.use("compiled"):
        got_all = run()
    for got, want in zip(got_all, expected):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_max_pool_gradient_goes_to_the_first_of_tied_maxima(torch_oracle):
    x = np.array([[[[1.0, 3.0, 3.0, 0.0], [3.0, 2.0, 0.0, 0.0], [5, 5, 1, 1], [5, 5, 1, 1]]]])
    t = md.tensor(x, requires_grad=True)
    F.max_pool2d(t, 2).sum().backward()
    tt = torch_oracle.tensor(x, requires_grad=True)
    torch_oracle.nn.functional.max_pool2d(tt, 2).sum().backward()
    np.testing.assert_array_equal(t.grad.numpy(), tt.grad.numpy())
    assert t.grad.numpy()[0, 0, 0, 1] == 1 and t.grad.numpy()[0, 0, 1, 0] == 0


@pytest.mark.parametrize("keep", [True, False], ids=["columns_kept", "columns_unfolded_again"])
@pytest.mark.parametrize("fold", [True, False], ids=["batch_folded_into_one_gemm", "one_gemm_per_image"])
@pytest.mark.parametrize("groups", [1, 2])
@pytest.mark.parametrize("threads", ["1", "2"], ids=["one_thread", "batch_halves"])
@pytest.mark.parametrize("transposed", [True, False], ids=["weight_grad_transposed", "weight_grad_direct"])
@pytest.mark.parametrize("kernel", [(3, 2), (1, 1)], ids=["3x2", "1x1"])
@pytest.mark.parametrize("pixel_rows", [True, False], ids=["columns_by_pixel", "columns_by_channel"])
@pytest.mark.parametrize("own_gemm", [True, False], ids=["own_gemm", "blas"])
def test_conv2d_gemm_layouts_agree_with_pytorch(fold, groups, keep, threads, transposed, kernel, pixel_rows, own_gemm,
                                                monkeypatch, torch_oracle):
    """Small convolutions fold the batch into one GEMM, large ones run a GEMM per image; the
    backward uses the forward's columns or unfolds the input again; unfolding and folding back
    run on one thread or in two halves of the batch (3 images: unequal halves); a folded layer's
    weight gradient is grad @ cols^T or (cols @ grad^T)^T, and its input gradient goes through
    columns by pixel (one group, a window larger than 1x1) or by channel; a folded one-group
    layer with enough channels lays all its columns out by pixel, and runs its small products
    on minidl's own GEMM or on BLAS: all are exact."""
    import minidl.ops.conv as conv_op
    from minidl import kernels

    own_products = []
    small_matmul = kernels.small_matmul
    monkeypatch.setattr(kernels, "small_matmul", lambda *args, **kw: own_products.append(1) or small_matmul(*args, **kw))
    monkeypatch.setattr(conv_op, "OWN_GEMM_UP_TO_MACS", 1 << 40 if own_gemm else -1)

    monkeypatch.setenv("MINIDL_THREADS", threads)
    monkeypatch.setenv("MINIDL_CONV_ALGO", "im2col")
    monkeypatch.setattr(conv_op, "PIXEL_ROWS_MIN_CHANNELS", 1 if pixel_rows else 1 << 40)
    # 6 lies between the output channels per group (6 or 3) and the 3x2 filter's values (24 or 12)
    monkeypatch.setattr(conv_op, "WEIGHT_GRAD_TRANSPOSED_UP_TO", 6 if transposed else 1 << 40)

    monkeypatch.setattr(conv_op, "FOLD_BATCH_BELOW_MACS", 1 << 40 if fold else 0)
    monkeypatch.setattr(conv_op, "FOLD_BATCH_UP_TO_PIXELS", 1 << 40 if fold else 0)
    monkeypatch.setattr(conv_op, "KEEP_COLUMNS_UP_TO_INPUTS", 1 << 40 if keep else 0)
    monkeypatch.setattr(conv_op, "KEEP_COLUMNS_UP_TO_BYTES", 1 << 40 if keep else 0)
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((3, 4, 7, 6)), rng.standard_normal((6, 4 // groups) + kernel), rng.standard_normal(6)
    mine = [md.tensor(a, requires_grad=True) for a in (x, w, b)]
    out = F.conv2d(*mine, stride=(2, 1), padding=1, groups=groups)
    assert mine[0].data.dtype == np.float64 and out._ctx.folded is fold
    assert out._ctx.by_pixel is (pixel_rows and fold and groups == 1 and kernel != (1, 1))
    assert bool(own_products) is (own_gemm and out._ctx.by_pixel)
    theirs = [torch_oracle.tensor(a, requires_grad=True) for a in (x, w, b)]
    expected = torch_oracle.nn.functional.conv2d(*theirs, stride=(2, 1), padding=1, groups=groups)
    g = rng.standard_normal(out.shape)
    out.backward(md.tensor(g))
    expected.backward(torch_oracle.tensor(g))
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-12, atol=1e-12)
    for m, t in zip(mine, theirs):
        np.testing.assert_allclose(m.grad.data, t.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shape", [(64, 16, 4, 4), (3, 2, 9, 7)], ids=["folded", "folded_odd"])
@pytest.mark.parametrize("with_bias", [True, False])
def test_conv_output_is_contiguous(shape, with_bias):
    """The folded GEMM computes (K, N, L); the output handed on is (N, K, H, W) C-contiguous,
    so the next layer's kernels take their fast paths (a strided view sent ReLU to NumPy)."""
    rng = np.random.default_rng(0)
    x = md.tensor(rng.standard_normal(shape).astype(np.float32))
    w = md.tensor(rng.standard_normal((5, shape[1], 3, 3)).astype(np.float32))
    b = md.tensor(rng.standard_normal(5).astype(np.float32)) if with_bias else None
    out = F.conv2d(x, w, b, padding=1)
    assert out.numpy().flags.c_contiguous
    expected = reference_conv2d(x.numpy(), w.numpy(), None if b is None else b.numpy(), padding=1)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-4, atol=1e-4)


def reference_conv2d(x, w, b, padding):
    """Direct cross-correlation, a sum over the kernel taps (stride 1)."""
    n, c, h, width = x.shape
    k, _, kh, kw = w.shape
    padded = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    oh, ow = h + 2 * padding - kh + 1, width + 2 * padding - kw + 1
    out = np.zeros((n, k, oh, ow))
    for i in range(kh):
        for j in range(kw):
            out += np.einsum("nchw,kc->nkhw", padded[:, :, i:i + oh, j:j + ow], w[:, :, i, j])
    return out if b is None else out + b.reshape(1, k, 1, 1)


@pytest.mark.parametrize("with_bias", [True, False])
def test_an_empty_batch_gives_an_empty_output_and_zero_gradients_as_pytorch(with_bias, torch_oracle):
    x, w = _t(0, 2, 5, 5), _t(3, 2, 3, 3)
    b = _t(3) if with_bias else None
    out = F.conv2d(x, w, b, padding=1)
    tx, tw = (torch_oracle.tensor(t.data, requires_grad=True) for t in (x, w))
    tb = torch_oracle.tensor(b.data, requires_grad=True) if with_bias else None
    t_out = torch_oracle.nn.functional.conv2d(tx, tw, tb, padding=1)
    assert out.shape == tuple(t_out.shape) == (0, 3, 5, 5)
    out.sum().backward()
    t_out.sum().backward()
    assert x.grad.shape == (0, 2, 5, 5)
    np.testing.assert_array_equal(w.grad.data, tw.grad.numpy())
    np.testing.assert_array_equal(w.grad.data, 0)
    if with_bias:
        np.testing.assert_array_equal(b.grad.data, tb.grad.numpy())


@pytest.mark.parametrize("keep_up_to, keep_bytes, kernel, stride, kept_columns", [
    (None, 0, 3, 1, False),  # 9x the input: unfolded again
    (None, 0, 1, 2, True),  # a quarter of the input: kept
    (0, 0, 1, 2, False),
    (1 << 30, 0, 3, 1, True),
    (None, None, 3, 1, True),  # 9x the input, but under the byte threshold: kept
])
def test_columns_larger_than_the_input_are_unfolded_again_in_backward(monkeypatch, keep_up_to, keep_bytes, kernel,
                                                                       stride, kept_columns):
    from minidl.ops import conv as conv_op

    if keep_up_to is not None:
        monkeypatch.setattr(conv_op, "KEEP_COLUMNS_UP_TO_INPUTS", keep_up_to)
    if keep_bytes is not None:
        monkeypatch.setattr(conv_op, "KEEP_COLUMNS_UP_TO_BYTES", keep_bytes)
    x = md.randn(2, 4, 9, 9, dtype=np.float64, requires_grad=True)
    w = md.randn(5, 4, kernel, kernel, dtype=np.float64, requires_grad=True)
    out = F.conv2d(x, w, stride=stride, padding=kernel // 2)
    assert out._ctx.algorithm == ("im2col" if kept_columns else "implicit")  # columns not kept: never stored
    assert (out._ctx.cols is not None) == kept_columns
    kept = [v for v in vars(out._ctx).values() if isinstance(v, np.ndarray)]
    assert (sum(a.size for a in kept) > 2 * x.numel()) == (kept_columns and kernel == 3)
    out.backward(md.ones_like(out))
    assert md.gradcheck(lambda a, b: F.conv2d(a, b, stride=stride, padding=kernel // 2), [x, w])


def test_batch_norm_in_training_keeps_one_array_of_the_input_size():
    x = md.randn(4, 3, 6, 6, requires_grad=True)
    out = F.batch_norm(x, None, None, md.ones(3, requires_grad=True), md.zeros(3, requires_grad=True), training=True)
    full = [v for v in vars(out._ctx).values() if isinstance(v, np.ndarray) and v.size == x.numel()]
    assert len(full) == 1


def test_gradcheck_through_columns_by_pixel(monkeypatch):
    import minidl.ops.conv as conv_op

    monkeypatch.setattr(conv_op, "PIXEL_ROWS_MIN_CHANNELS", 1)
    monkeypatch.setenv("MINIDL_CONV_ALGO", "im2col")
    rng = np.random.default_rng(5)
    x = md.tensor(rng.standard_normal((2, 3, 7, 6)), requires_grad=True)
    w = md.tensor(rng.standard_normal((4, 3, 3, 2)), requires_grad=True)
    b = md.tensor(rng.standard_normal(4), requires_grad=True)
    assert F.conv2d(x, w, b, stride=(2, 1), padding=1)._ctx.by_pixel
    assert md.gradcheck(lambda x, w, b: F.conv2d(x, w, b, stride=(2, 1), padding=1, dilation=(1, 2)), (x, w, b))
