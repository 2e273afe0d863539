"""F.scaled_dot_product_attention beyond the registry: dropout, weights, bad input."""
import numpy as np
import pytest

import minidl as md
import minidl.functional as F


def _qkv(shape=(2, 3, 4, 5), seed=0):
    rng = np.random.default_rng(seed)
    return [md.tensor(rng.standard_normal(shape), requires_grad=True) for _ in range(3)]


def test_weights_rows_sum_to_one_and_respect_the_causal_mask():
    q, k, v = _qkv()
    out, weights = F.scaled_dot_product_attention(q, k, v, is_causal=True, return_weights=True)
    w = weights.numpy()
    np.testing.assert_allclose(w.sum(-1), 1.0, rtol=1e-12)
    assert np.all(np.triu(np.ones((4, 4)), 1)[None, None] * w == 0)
    np.testing.assert_allclose(out.numpy(), w @ v.numpy(), rtol=1e-12)


def test_dropout_is_seeded_rescaled_and_off_in_eval():
    q, k, v = _qkv()
    md.manual_seed(0)
    a = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5)
    md.manual_seed(0)
    b = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    plain = F.scaled_dot_product_attention(q, k, v)
    assert not np.allclose(a.numpy(), plain.numpy())
    np.testing.assert_array_equal(F.scaled_dot_product_attention(q, k, v, dropout_p=0.5, training=False).numpy(), plain.numpy())
    # dropout keeps the expectation: averaged over many draws the output approaches the plain one
    md.manual_seed(1)
    mean = np.mean([F.scaled_dot_product_attention(q, k, v, dropout_p=0.3).numpy() for _ in range(400)], axis=0)
    np.testing.assert_allclose(mean, plain.numpy(), atol=0.1)


def test_dropout_gradient_passes_gradcheck_with_a_fixed_mask():
    q, k, v = _qkv((1, 3, 2))

    def fn(a, b, c):
        md.manual_seed(5)  # the same dropout mask on every call
        return F.scaled_dot_product_attention(a, b, c, dropout_p=0.4)

    assert md.gradcheck(fn, [q, k, v])


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda q, k, v: F.scaled_dot_product_attention(q, k[..., :3], v), r"q and k need the same width"),
        (lambda q, k, v: F.scaled_dot_product_attention(q, k, v[..., :2, :]), r"k and v need the same length"),
        (lambda q, k, v: F.scaled_dot_product_attention(q, k[:, :2], v[:, :2]), r"do not broadcast"),
        (lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=np.ones((3, 3), bool)), r"attn_mask of shape \(3, 3\)"),
        (lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=np.ones((4, 4), bool), is_causal=True), r"not both"),
        (lambda q, k, v: F.scaled_dot_product_attention(q, k, v, dropout_p=1.0), r"dropout_p must be in"),
    ],
)
def test_bad_input_is_rejected_with_the_shapes(call, message):
    with pytest.raises(ValueError, match=message):
        call(*_qkv())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "kwargs",
    [dict(is_causal=True), dict(attn_mask="bool"), dict(attn_mask="float_per_item"), dict(dropout_p=0.3),
     dict(return_weights=True)],
    ids=["causal", "bool_mask", "float_mask_per_item", "dropout", "weights"],
)
def test_one_thread_and_two_give_the_same_numbers(monkeypatch, dtype, kwargs):
    """The two halves of the batch (minidl.kernels.threads) compute exactly what one thread does,
    forward and every gradient; odd batch (5 = 2 + 3) so the halves differ in size."""
    rng = np.random.default_rng(3)
    shape = (5, 2, 6, 4)
    arrays = [rng.standard_normal(shape).astype(dtype) for _ in range(3)]
    kwargs = dict(kwargs)
    if kwargs.get("attn_mask") == "bool":
        kwargs["attn_mask"] = rng.random((6, 6)) > 0.3
    elif kwargs.get("attn_mask") == "float_per_item":
        kwargs["attn_mask"] = rng.standard_normal((5, 2, 6, 6)).astype(dtype)
    results = []
    for ways in ("1", "2"):
        monkeypatch.setenv("MINIDL_THREADS", ways)
        md.manual_seed(0)  # the same dropout mask both times
        q, k, v = (md.tensor(a.copy(), requires_grad=True) for a in arrays)
        out = F.scaled_dot_product_attention(q, k, v, **kwargs)
        if kwargs.get("return_weights"):
            out, weights = out
            loss = (out * out).sum() + (weights * weights).sum()  # gradient flows into the weights too
        else:
            loss = (out * out).sum()
        loss.backward()
        results.append([out.numpy(), q.grad.numpy(), k.grad.numpy(), v.grad.numpy()])
    for one, two in zip(*results):
        np.testing.assert_array_equal(one, two)


@pytest.mark.skipif(__import__("importlib").util.find_spec("torch") is None, reason="needs the PyTorch oracle")
def test_split_benchmark_shape_matches_pytorch(monkeypatch):
    """B5's shape on two threads against PyTorch, forward and gradients (float32)."""
    import torch

    monkeypatch.setenv("MINIDL_THREADS", "2")
    rng = np.random.default_rng(4)
    arrays = [rng.standard_normal((16, 4, 64, 16)).astype(np.float32) for _ in range(3)]
    mine = [md.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    grad = rng.standard_normal((16, 4, 64, 16)).astype(np.float32)
    out = F.scaled_dot_product_attention(*mine, is_causal=True)
    (out * md.tensor(grad)).sum().backward()
    ref = torch.nn.functional.scaled_dot_product_attention(*theirs, is_causal=True)
    (ref * torch.tensor(grad)).sum().backward()
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=1e-4, atol=1e-5)
    for m, t in zip(mine, theirs):
        np.testing.assert_allclose(m.grad.numpy(), t.grad.numpy(), rtol=1e-4, atol=1e-4)
